/* Front-end internals: fixed-point helpers shared by the stage files (static inline only).
 * Each helper has one exact integer meaning. Where an Armv7E-M DSP instruction computes exactly
 * that, the instruction is used on the device; elsewhere (the host library, cores without the DSP
 * extension) the same value is computed in C. */
#ifndef TS_FE_INTERNAL_H
#define TS_FE_INTERNAL_H

#include <stdint.h>

#include "ts/fe.h"

#if defined(__ARM_FEATURE_DSP) && defined(__GNUC__)
#define TS_FE_DSP 1
#else
#define TS_FE_DSP 0
#endif

/* The pointer p, unchanged, but only once `after` is computed: keeps the compiler from loading
 * through p early and running out of registers (a scheduling hint; no code). */
#if defined(__GNUC__)
#define TS_FE_AFTER(p, after)                              \
    __extension__({                                        \
        __typeof__(p) p_ = (p);                            \
        __asm("" : "+r"(p_) : "r"(after));                 \
        p_;                                                \
    })
#else
#define TS_FE_AFTER(p, after) (p)
#endif

/* a..d unchanged, but only available once `after` is computed (a scheduling hint; no code). */
#if defined(__GNUC__)
#define TS_FE_HOLD4(a, b, c, d, after) __asm("" : "+r"(a), "+r"(b), "+r"(c), "+r"(d) : "r"(after))
#else
#define TS_FE_HOLD4(a, b, c, d, after) ((void)0)
#endif

/* round(a b / 2^32), half up: SMMULR. */
static inline int32_t ts_fe_smmulr(int32_t a, int32_t b)
{
#if TS_FE_DSP
    int32_t r;
    __asm("smmulr %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));
    return r;
#else
    return (int32_t)(((int64_t)a * b + 0x80000000LL) >> 32);
#endif
}

/* floor(a b / 2^32): SMMUL. */
static inline int32_t ts_fe_smmul(int32_t a, int32_t b)
{
#if TS_FE_DSP
    int32_t r;
    __asm("smmul %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));
    return r;
#else
    return (int32_t)(((int64_t)a * b) >> 32);
#endif
}

/* floor((acc 2^32 + a b + 2^31) / 2^32) = acc + round(a b / 2^32): SMMLAR. */
static inline int32_t ts_fe_smmlar(int32_t a, int32_t b, int32_t acc)
{
#if TS_FE_DSP
    int32_t r;
    __asm("smmlar %0, %1, %2, %3" : "=r"(r) : "r"(a), "r"(b), "r"(acc));
    return r;
#else
    return (int32_t)((acc * 4294967296LL + (int64_t)a * b + 0x80000000LL) >> 32);
#endif
}

/* floor((acc 2^32 - a b + 2^31) / 2^32): SMMLSR. */
static inline int32_t ts_fe_smmlsr(int32_t a, int32_t b, int32_t acc)
{
#if TS_FE_DSP
    int32_t r;
    __asm("smmlsr %0, %1, %2, %3" : "=r"(r) : "r"(a), "r"(b), "r"(acc));
    return r;
#else
    return (int32_t)((acc * 4294967296LL - (int64_t)a * b + 0x80000000LL) >> 32);
#endif
}

/* floor(a b / 2^16) with b the signed bottom halfword: SMULWB. */
static inline int32_t ts_fe_smulwb(int32_t a, int32_t b)
{
#if TS_FE_DSP
    int32_t r;
    __asm("smulwb %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));
    return r;
#else
    return (int32_t)(((int64_t)a * (int16_t)(b & 0xffff)) >> 16);
#endif
}

/* floor(a b / 2^16) with b the signed top halfword: SMULWT. */
static inline int32_t ts_fe_smulwt(int32_t a, int32_t b)
{
#if TS_FE_DSP
    int32_t r;
    __asm("smulwt %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));
    return r;
#else
    return (int32_t)(((int64_t)a * (int16_t)((uint32_t)b >> 16)) >> 16);
#endif
}

/* acc + a b (unsigned 32 x 32 -> 64, wrapping as uint64): UMLAL. */
static inline uint64_t ts_fe_umlal(uint64_t acc, uint32_t a, uint32_t b)
{
#if TS_FE_DSP
    __asm("umlal %Q0, %R0, %1, %2" : "+r"(acc) : "r"(a), "r"(b));
    return acc;
#else
    return acc + (uint64_t)a * b;
#endif
}

/* acc + a b (signed 32 x 32 -> 64): SMLAL. */
static inline int64_t ts_fe_smlal(int64_t acc, int32_t a, int32_t b)
{
#if TS_FE_DSP
    __asm("smlal %Q0, %R0, %1, %2" : "+r"(acc) : "r"(a), "r"(b));
    return acc;
#else
    return acc + (int64_t)a * b;
#endif
}

/* The 32 bits of x in reverse order: RBIT. */
static inline uint32_t ts_fe_rbit(uint32_t x)
{
#if defined(__ARM_ARCH_7M__) || defined(__ARM_ARCH_7EM__) || defined(__ARM_ARCH_8M_MAIN__) || \
    defined(__ARM_ARCH_8_1M_MAIN__)
    uint32_t r;
    __asm("rbit %0, %1" : "=r"(r) : "r"(x));
    return r;
#else
    x = ((x >> 1) & 0x55555555u) | ((x & 0x55555555u) << 1);
    x = ((x >> 2) & 0x33333333u) | ((x & 0x33333333u) << 2);
    x = ((x >> 4) & 0x0f0f0f0fu) | ((x & 0x0f0f0f0fu) << 4);
    x = ((x >> 8) & 0x00ff00ffu) | ((x & 0x00ff00ffu) << 8);
    return (x >> 16) | (x << 16);
#endif
}

/* Per signed halfword: max(a, b) and min(a, b) (SSUB16 sets GE per lane, SEL picks). */
static inline uint32_t ts_fe_max16x2(uint32_t a, uint32_t b)
{
#if TS_FE_DSP
    uint32_t r;
    __asm("ssub16 %0, %1, %2\n\tsel %0, %1, %2" : "=&r"(r) : "r"(a), "r"(b) : "cc");
    return r;
#else
    int16_t al = (int16_t)(a & 0xffff), ah = (int16_t)(a >> 16), bl = (int16_t)(b & 0xffff), bh = (int16_t)(b >> 16);
    return (uint16_t)(al >= bl ? al : bl) | ((uint32_t)(uint16_t)(ah >= bh ? ah : bh) << 16);
#endif
}

static inline uint32_t ts_fe_min16x2(uint32_t a, uint32_t b)
{
#if TS_FE_DSP
    uint32_t r;
    __asm("ssub16 %0, %1, %2\n\tsel %0, %2, %1" : "=&r"(r) : "r"(a), "r"(b) : "cc");
    return r;
#else
    int16_t al = (int16_t)(a & 0xffff), ah = (int16_t)(a >> 16), bl = (int16_t)(b & 0xffff), bh = (int16_t)(b >> 16);
    return (uint16_t)(al >= bl ? bl : al) | ((uint32_t)(uint16_t)(ah >= bh ? bh : ah) << 16);
#endif
}

/* clamp(x, -128, 127): SSAT #8. */
static inline int32_t ts_fe_ssat8(int32_t x)
{
#if TS_FE_DSP
    int32_t r;
    __asm("ssat %0, #8, %1" : "=r"(r) : "r"(x));
    return r;
#else
    return x < -128 ? -128 : x > 127 ? 127 : x;
#endif
}

/* One int8 model input value (ts_fe_quantize_s8): clamp(floor((floor(l mul / 2^32) + add) / 2^sh)). */
static inline int8_t ts_fe_q8(int32_t l, int32_t mul, int32_t add, int32_t sh)
{
    return (int8_t)ts_fe_ssat8((ts_fe_smmul(l, mul) + add) >> sh);
}

/* Bit length of a 64-bit value (0 for 0). */
static inline int32_t ts_fe_bitlen64(uint64_t e)
{
    return e ? 64 - __builtin_clzll(e) : 0;
}

/* k = clamp(16 - ceil(b / 2), 0, TS_FE_MAX_SHIFT), b = bit length of the energy (ts_fe_frame_shift). */
static inline int32_t ts_fe_shift_of_energy(uint64_t e)
{
    int32_t k = 16 - ((ts_fe_bitlen64(e) + 1) >> 1);
    return k < 0 ? 0 : k > TS_FE_MAX_SHIFT ? TS_FE_MAX_SHIFT : k;
}

/* floor(log2(n)) for n > 0. */
static inline int32_t ts_fe_log2(uint32_t n)
{
    return 31 - __builtin_clz(n);
}

#endif /* TS_FE_INTERNAL_H */
