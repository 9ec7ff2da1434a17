/* Private helpers of the Armv7E-M int8 kernels (firmware/src/nn/armv7em/, Cortex-M4/M7/M33 with the DSP
 * extension; also used by the Helium family, Cortex-M55 having the DSP extension too). Included only by
 * those kernels (private: the build's object cache hashes every header under firmware/src, so a change to it
 * rebuilds them).
 *
 * DSP SIMD comes through ACLE intrinsics (arm_acle.h: __smlad, __sxtb16, __ssat, __ssub8, __sel, ...).
 * Inline assembly is used only where it was measured to pay (`tinyscene bench-kernels`):
 *  - SMMLAR and SXTB16 with rotation, which ACLE does not offer;
 *  - the two SMLAD blocks (2 output channels x 2 pixels, 4 channels x 1 row), which GCC compiles to about
 *    twice the instructions (no LDM, spilled accumulators); written as Duff's devices over LDM-fed bodies.
 *
 * Layouts the compiler (python/tinyscene/aot/fastkernels.py) packs for these kernels
 *  - k (the dot-product axis) is cut into groups of 4 int8 values [k0 k1 k2 k3]; a group is held as two
 *    int16 pairs (k0, k2) and (k1, k3), which is what SXTB16 and SXTB16 ROR #8 make of one int8 word, so
 *    inputs are widened without any reordering. Weights stay int8 in flash, each stored once in TFLite's k
 *    order, and are widened the same way as the SMLAD blocks read them (two SXTB16 per word).
 *  - "fast" requantisation (every channel checked at compile time, see ts_armv7em_rq_t) folds the output zero
 *    point and TFLite's rounding into one record per channel, the accumulator being doubled before SMMLAR;
 *    otherwise ("exact") the kernel calls ts_mbqm() with TFLite's multiplier and shift.
 */
#ifndef TS_ARMV7EM_H
#define TS_ARMV7EM_H

#include <arm_acle.h>
#include <stdint.h>
#include <string.h>

#include "ts/nn.h"
#include "ts/nn_math.h"
#include "ts_asm_layout.h"
#include "ts_armv7em_kernels.h"

#if !defined(__ARM_FEATURE_DSP)
#error "the armv7em kernels need a core with the DSP extension (-mcpu=cortex-m4/m7/m33/m55)"
#endif

#define TS_ARMV7EM_ALWAYS_INLINE static inline __attribute__((always_inline))

/* ---- single instructions ------------------------------------------------------------------------ */

/* (a * b + 2^31) >> 32 + acc, the 64-bit product rounded once: SMMLAR. */
TS_ARMV7EM_ALWAYS_INLINE int32_t ts_armv7em_smmlar(int32_t a, int32_t b, int32_t acc)
{
    int32_t r;
    __asm__("smmlar %0, %1, %2, %3" : "=r"(r) : "r"(a), "r"(b), "r"(acc));
    return r;
}

/* bytes 1 and 3 of v sign-extended into two int16 halves: SXTB16 Rd, Rm, ROR #8. */
TS_ARMV7EM_ALWAYS_INLINE uint32_t ts_armv7em_sxtb16_ror8(uint32_t v)
{
    uint32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(v));
    return r;
}

/* acc + bytes 1 and 3 of v sign-extended, per int16 half: SXTAB16 Rd, Rn, Rm, ROR #8. */
TS_ARMV7EM_ALWAYS_INLINE uint32_t ts_armv7em_sxtab16_ror8(uint32_t acc, uint32_t v)
{
    uint32_t r;
    __asm__("sxtab16 %0, %1, %2, ror #8" : "=r"(r) : "r"(acc), "r"(v));
    return r;
}

/* Bytewise signed maximum of a and b (SSUB8 sets the GE flags, SEL picks). */
TS_ARMV7EM_ALWAYS_INLINE uint32_t ts_armv7em_max8(uint32_t a, uint32_t b)
{
    (void)__ssub8(a, b);
    return __sel(a, b);
}

/* Bytewise signed minimum. */
TS_ARMV7EM_ALWAYS_INLINE uint32_t ts_armv7em_min8(uint32_t a, uint32_t b)
{
    (void)__ssub8(a, b);
    return __sel(b, a);
}

TS_ARMV7EM_ALWAYS_INLINE uint32_t ts_armv7em_read32(const void *p)
{
    uint32_t v;
    memcpy(&v, p, 4); /* LDR: unaligned access is allowed on Armv7-M */
    return v;
}

TS_ARMV7EM_ALWAYS_INLINE void ts_armv7em_write32(void *p, uint32_t v) { memcpy(p, &v, 4); }

/* ---- requantisation ----------------------------------------------------------------------------- */

/* One channel of "fast" requantisation. With acc' = 2 acc (the kernels with int8 weights double the
 * accumulator, ts_armv7em_rq2; Winograd and the ADD tables fold the 2 into their int16 values):
 *   out = ssat8((SMMLAR(acc', multiplier, round) - (acc < 0)) >> shift)
 * SMMLAR gives round + SaturatingRoundingDoublingHighMul(acc * 2^left, multiplier) (TFLite's first
 * rounding; the saturating case needs multiplier = INT32_MIN, which never occurs); round = 2^(shift-1) +
 * output_zero_point * 2^shift, and subtracting 1 for a negative accumulator turns the floor of the shift
 * into TFLite's RoundingDivideByPOT (half away from zero; the sign of acc equals the sign of the first
 * result except when that result is 0, where the two agree anyway). shift >= 1. The compiler checks, per
 * channel, that acc' and every sum stay inside int32 for any int8 input. */
typedef struct {
    int32_t multiplier;
    int32_t round;
    int32_t shift;
} ts_armv7em_rq_t;

TS_ARMV7EM_ALWAYS_INLINE int32_t ts_armv7em_rq(int32_t acc, int32_t multiplier, int32_t round, int32_t shift)
{
    int32_t s = ts_armv7em_smmlar(acc, multiplier, round); /* Q31.0 at 2^shift x output scale, + zp */
    s = (s + (acc >> 31)) >> shift;                    /* output scale, zero point included */
    return __ssat(s, 8);
}

/* The same on an accumulator that still needs the doubling (int8 weights). */
TS_ARMV7EM_ALWAYS_INLINE int32_t ts_armv7em_rq2(int32_t acc, int32_t multiplier, int32_t round, int32_t shift)
{
    return ts_armv7em_rq(acc + acc, multiplier, round, shift);
}

/* Requantisation modes a kernel is instantiated for (a compile-time constant after inlining). */
enum { TS_ARMV7EM_RQ_FAST = 0, TS_ARMV7EM_RQ_FAST_CLAMP = 1, TS_ARMV7EM_RQ_EXACT = 2 };

/* The mode of a layer: p->requant.shift == NULL marks fast records (see above). */
TS_ARMV7EM_ALWAYS_INLINE int ts_armv7em_rq_mode(const ts_requant_t *rq, int32_t act_min, int32_t act_max)
{
    if (rq->shift != NULL) return TS_ARMV7EM_RQ_EXACT;
    return (act_min > INT8_MIN || act_max < INT8_MAX) ? TS_ARMV7EM_RQ_FAST_CLAMP : TS_ARMV7EM_RQ_FAST;
}

/* acc of channel c -> int8 in any mode; mult / shift: the layer's requant.multiplier / requant.shift. */
TS_ARMV7EM_ALWAYS_INLINE int8_t ts_armv7em_requant(int mode, int32_t acc, const int32_t *mult, const int32_t *shift, int32_t c,
                                          int32_t out_zp, int32_t act_min, int32_t act_max)
{
    if (mode == TS_ARMV7EM_RQ_EXACT) {
        int32_t v = ts_mbqm(acc, mult[c], shift[c]) + out_zp;
        return (int8_t)ts_clamp_i32(v, act_min, act_max);
    }
    const ts_armv7em_rq_t *r = (const ts_armv7em_rq_t *)(const void *)mult + c;
    int32_t v = ts_armv7em_rq2(acc, r->multiplier, r->round, r->shift);
    if (mode == TS_ARMV7EM_RQ_FAST_CLAMP) v = ts_clamp_i32(v, act_min, act_max);
    return (int8_t)v;
}

/* ---- Duff's devices ------------------------------------------------------------------------------- */

/* Enter an unrolled loop (label 1) at byte offset %[entry] (a "m" operand) so that the first pass runs only the
 * last bodies; r4, r5 clobbered. */
#define TS_ARMV7EM_DUFF_ENTER                   \
    "ldr r4, %[entry]\n\t"                      \
    "adr r5, 1f\n\t"                            \
    "add r4, r5\n\t"                            \
    "mov pc, r4\n\t"                            \
    ".p2align 2\n"                              \
    "1:\n\t"

/* Loop back to label 1 until the pointer operand PTR reaches %[end] (a "m" operand); r4 clobbered. */
#define TS_ARMV7EM_DUFF_LOOP(PTR)               \
    "ldr r4, %[end]\n\t"                        \
    "cmp %[" PTR "], r4\n\t"                    \
    "bne 1b\n\t"

/* ---- sums of int8 ----------------------------------------------------------------------------------- */

/* sum[0..3] += the four int8 at r, r + step, ... (n words), in int16 halves (SXTAB16: channels 0, 2 and 1, 3)
 * moved into int32 every 255 words so that the halves cannot overflow. */
TS_ARMV7EM_ALWAYS_INLINE void ts_armv7em_sum4(const int8_t *r, int32_t n, int32_t step, int32_t sum[4])
{
    while (n > 0) {
        const int32_t k = n < 255 ? n : 255;
        uint32_t h02 = 0, h13 = 0;
        for (int32_t i = 0; i < k; i++, r += step) {
            const uint32_t v = ts_armv7em_read32(r);
            h02 = __sxtab16(h02, v);
            h13 = ts_armv7em_sxtab16_ror8(h13, v);
        }
        sum[0] += (int16_t)h02, sum[1] += (int16_t)h13, sum[2] += (int16_t)(h02 >> 16), sum[3] += (int16_t)(h13 >> 16);
        n -= k;
    }
}

/* ---- widening int8 -> int16 pairs ----------------------------------------------------------------- */

/* One lane of a 2-pixel column: n groups of src -> lane[0], lane[1], lane += 4 words (4 per group). */
TS_ARMV7EM_ALWAYS_INLINE void ts_armv7em_widen_lane(const int8_t *src, int32_t n, int32_t *lane)
{
    if (n <= 0) return;
    const int8_t *const end = src + 4 * n;
    const uint32_t entry = ((uint32_t)(-n) & 3u) * 16u;
    __asm__ volatile(
        TS_ARMV7EM_DUFF_ENTER
        "ldr.w r4, [%[s]], #4\n\t" "sxtb16 r5, r4, ror #8\n\t" "sxtb16 r4, r4\n\t" "strd r4, r5, [%[d]], #16\n\t"
        "ldr.w r4, [%[s]], #4\n\t" "sxtb16 r5, r4, ror #8\n\t" "sxtb16 r4, r4\n\t" "strd r4, r5, [%[d]], #16\n\t"
        "ldr.w r4, [%[s]], #4\n\t" "sxtb16 r5, r4, ror #8\n\t" "sxtb16 r4, r4\n\t" "strd r4, r5, [%[d]], #16\n\t"
        "ldr.w r4, [%[s]], #4\n\t" "sxtb16 r5, r4, ror #8\n\t" "sxtb16 r4, r4\n\t" "strd r4, r5, [%[d]], #16\n\t"
        TS_ARMV7EM_DUFF_LOOP("s")
        : [s] "+r"(src), [d] "+r"(lane)
        : [end] "m"(end), [entry] "m"(entry)
        : "r4", "r5", "cc", "memory");
}

/* Both lanes of a 2-pixel column at once: n groups of a and of b -> col (4 words per group). */
TS_ARMV7EM_ALWAYS_INLINE void ts_armv7em_widen_pair(const int8_t *a, const int8_t *b, int32_t n, int32_t *col)
{
    if (n <= 0) return;
    const int8_t *const end = a + 4 * n;
    const uint32_t entry = ((uint32_t)(-n) & 3u) * 28u;
    __asm__ volatile(
        TS_ARMV7EM_DUFF_ENTER
        "ldr.w r4, [%[a]], #4\n\t" "ldr.w r6, [%[b]], #4\n\t" "sxtb16 r5, r4, ror #8\n\t" "sxtb16 r4, r4\n\t"
        "sxtb16 r7, r6, ror #8\n\t" "sxtb16 r6, r6\n\t" "stmia.w %[d]!, {r4, r5, r6, r7}\n\t"
        "ldr.w r4, [%[a]], #4\n\t" "ldr.w r6, [%[b]], #4\n\t" "sxtb16 r5, r4, ror #8\n\t" "sxtb16 r4, r4\n\t"
        "sxtb16 r7, r6, ror #8\n\t" "sxtb16 r6, r6\n\t" "stmia.w %[d]!, {r4, r5, r6, r7}\n\t"
        "ldr.w r4, [%[a]], #4\n\t" "ldr.w r6, [%[b]], #4\n\t" "sxtb16 r5, r4, ror #8\n\t" "sxtb16 r4, r4\n\t"
        "sxtb16 r7, r6, ror #8\n\t" "sxtb16 r6, r6\n\t" "stmia.w %[d]!, {r4, r5, r6, r7}\n\t"
        "ldr.w r4, [%[a]], #4\n\t" "ldr.w r6, [%[b]], #4\n\t" "sxtb16 r5, r4, ror #8\n\t" "sxtb16 r4, r4\n\t"
        "sxtb16 r7, r6, ror #8\n\t" "sxtb16 r6, r6\n\t" "stmia.w %[d]!, {r4, r5, r6, r7}\n\t"
        TS_ARMV7EM_DUFF_LOOP("a")
        : [a] "+r"(a), [b] "+r"(b), [d] "+r"(col)
        : [end] "m"(end), [entry] "m"(entry)
        : "r4", "r5", "r6", "r7", "cc", "memory");
}

/* n words of v at d (word-aligned), 4 per pass. */
TS_ARMV7EM_ALWAYS_INLINE void ts_armv7em_fill_words(uint32_t *d, uint32_t v, int32_t n)
{
    for (; n >= 4; n -= 4, d += 4) d[0] = v, d[1] = v, d[2] = v, d[3] = v;
    for (; n > 0; n--) *d++ = v;
}

/* n words (a multiple of 4) from src to dst, by LDM/STM of 4 and 8 words. */
TS_ARMV7EM_ALWAYS_INLINE void ts_armv7em_copy_words(int32_t *dst, const int32_t *src, int32_t n)
{
    if (n <= 0) return;
    __asm__ volatile(
        "tst %[n], #4\n\t"
        "beq 2f\n\t"
        "ldm %[s]!, {r4, r5, r6, r7}\n\t"
        "stm %[d]!, {r4, r5, r6, r7}\n\t"
        "subs %[n], %[n], #4\n\t"
        "beq 3f\n"
        "2:\n\t"
        "tst %[n], #8\n\t"
        "beq 4f\n\t"
        "ldm %[s]!, {r4, r5, r6, r7, r8, r9, r10, r11}\n\t"
        "stm %[d]!, {r4, r5, r6, r7, r8, r9, r10, r11}\n\t"
        "subs %[n], %[n], #8\n\t"
        "beq 3f\n"
        "4:\n\t"
        "ldm %[s]!, {r4, r5, r6, r7, r8, r9, r10, r11}\n\t"
        "stm %[d]!, {r4, r5, r6, r7, r8, r9, r10, r11}\n\t"
        "ldm %[s]!, {r4, r5, r6, r7, r8, r9, r10, r11}\n\t"
        "stm %[d]!, {r4, r5, r6, r7, r8, r9, r10, r11}\n\t"
        "subs %[n], %[n], #16\n\t"
        "bne 4b\n"
        "3:\n\t"
        : [s] "+r"(src), [d] "+r"(dst), [n] "+r"(n)
        :
        : "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11", "cc", "memory");
}

/* The last, partial group of a row of len bytes (len % 4 != 0): zero-padded, never reads past the row. */
TS_ARMV7EM_ALWAYS_INLINE void ts_armv7em_widen_tail(const int8_t *src, int32_t len, int32_t *dst)
{
    uint32_t v = 0;
    for (int32_t i = 0; i < (len & 3); i++) v |= (uint32_t)(uint8_t)src[(len & ~3) + i] << (8 * i);
    dst[0] = (int32_t)__sxtb16(v);
    dst[1] = (int32_t)ts_armv7em_sxtb16_ror8(v);
}

/* Two rows of len int8 (pixels A and B) -> the interleaved 2-pixel column of the 2x2 block:
 * per group [A(k0,k2), A(k1,k3), B(k0,k2), B(k1,k3)]. */
TS_ARMV7EM_ALWAYS_INLINE void ts_armv7em_widen2(const int8_t *a, const int8_t *b, int32_t len, int32_t *col)
{
    const int32_t n = len >> 2;
    ts_armv7em_widen_pair(a, b, n, col);
    col += 4 * n;
    if (len & 3) {
        ts_armv7em_widen_tail(a, len, col);
        ts_armv7em_widen_tail(b, len, col + 2);
    }
}

/* ---- SMLAD blocks ------------------------------------------------------------------------------- */

/* One group of the 2x2 block: x = [A02 A13 B02 B13] (r4-r7), w = channel 0's and channel 1's int8 word
 * [k0 k1 k2 k3] (r8, r10), widened in place to c0(02) c0(13) c1(02) c1(13) (r8-r11). 14 instructions, 16
 * multiply-accumulates. Forced 32-bit encodings keep every body 56 bytes long. X, W: the pointer registers,
 * A00..A11: the accumulators (operand names or registers, as strings). */
#define TS_ARMV7EM_BODY_2X2_ON(X, W, A00, A01, A10, A11)                                                    \
    "ldm.w " X "!, {r4, r5, r6, r7}\n\t"                                                                     \
    "ldm.w " W "!, {r8, r10}\n\t"                                                                            \
    "sxtb16 r9, r8, ror #8\n\t"                                                                              \
    "sxtb16 r8, r8\n\t"                                                                                      \
    "sxtb16 r11, r10, ror #8\n\t"                                                                            \
    "sxtb16 r10, r10\n\t" TS_ARMV7EM_SMLAD_2X2(A00, A01, A10, A11)

/* The 8 SMLAD of a 2x2 group, x in r4-r7, w in r8-r11. */
#define TS_ARMV7EM_SMLAD_2X2(A00, A01, A10, A11)                                                            \
    "smlad " A00 ", r8, r4, " A00 "\n\t"                                                                     \
    "smlad " A01 ", r8, r6, " A01 "\n\t"                                                                     \
    "smlad " A10 ", r10, r4, " A10 "\n\t"                                                                    \
    "smlad " A11 ", r10, r6, " A11 "\n\t"                                                                    \
    "smlad " A00 ", r9, r5, " A00 "\n\t"                                                                     \
    "smlad " A01 ", r9, r7, " A01 "\n\t"                                                                     \
    "smlad " A10 ", r11, r5, " A10 "\n\t"                                                                    \
    "smlad " A11 ", r11, r7, " A11 "\n\t"

/* The same block on int16 weights (a stream widened into RAM by ts_armv7em_widen_stream: pre-widened weights
 * skip the four SXTB16): w = [c0(02) c0(13) c1(02) c1(13)] (r8-r11). 10 instructions, 16 multiply-accumulates,
 * 40 bytes. */
#define TS_ARMV7EM_BODY_2X2_S16_ON(X, W, A00, A01, A10, A11)                                                \
    "ldm.w " X "!, {r4, r5, r6, r7}\n\t"                                                                     \
    "ldm.w " W "!, {r8, r9, r10, r11}\n\t" TS_ARMV7EM_SMLAD_2X2(A00, A01, A10, A11)

#define TS_ARMV7EM_BODY_2X2 TS_ARMV7EM_BODY_2X2_ON("%[x]", "%[w]", "%[a00]", "%[a01]", "%[a10]", "%[a11]")
#define TS_ARMV7EM_BODY_2X2_BYTES 56u
/* On fixed registers: x in r12, w in lr, accumulators a00 a01 a10 a11 in r0-r3. */
#define TS_ARMV7EM_BODY_2X2_REGS TS_ARMV7EM_BODY_2X2_ON("r12", "lr", "r0", "r1", "r2", "r3")
#define TS_ARMV7EM_BODY_2X2_S16 TS_ARMV7EM_BODY_2X2_S16_ON("%[x]", "%[w]", "%[a00]", "%[a01]", "%[a10]", "%[a11]")
#define TS_ARMV7EM_BODY_2X2_S16_BYTES 40u
#define TS_ARMV7EM_BODY_2X2_S16_REGS TS_ARMV7EM_BODY_2X2_S16_ON("r12", "lr", "r0", "r1", "r2", "r3")

/* a[c][p] += sum over n groups of channel c's weights x pixel p's column; advances *w by n groups.
 * Duff's device: enters the 8-body loop so that the first pass runs n % 8 (or 8) bodies. (It clobbers
 * "memory": callers keep what they need after it in locals, not behind pointers.) One function per weight
 * format: int8 words (BODY_2X2) or pre-widened int16 pairs (BODY_2X2_S16). */
#define TS_ARMV7EM_MAC_2X2(NAME, BODY, BODY_BYTES)                                                              \
    TS_ARMV7EM_ALWAYS_INLINE void NAME(const int32_t *x, const int32_t **wp, int32_t n, int32_t *a00,              \
                                       int32_t *a01, int32_t *a10, int32_t *a11)                                  \
    {                                                                                                            \
        /* every register is taken (8 for the bodies, 6 here): fixed ones spare GCC's allocator a dead end */    \
        register const int32_t *w __asm__("lr") = *wp;                                                           \
        register const int32_t *xr __asm__("r12") = x;                                                           \
        register int32_t c00 __asm__("r0") = *a00;                                                               \
        register int32_t c01 __asm__("r1") = *a01;                                                               \
        register int32_t c10 __asm__("r2") = *a10;                                                               \
        register int32_t c11 __asm__("r3") = *a11;                                                               \
        const int32_t *const end = x + 4 * n;                                                                    \
        const uint32_t entry = ((uint32_t)(-n) & 7u) * (BODY_BYTES);                                             \
        __asm__ volatile(TS_ARMV7EM_DUFF_ENTER BODY BODY BODY BODY BODY BODY BODY BODY TS_ARMV7EM_DUFF_LOOP("x") \
                         : [a00] "+r"(c00), [a01] "+r"(c01), [a10] "+r"(c10), [a11] "+r"(c11), [x] "+r"(xr),    \
                           [w] "+r"(w)                                                                           \
                         : [end] "m"(end), [entry] "m"(entry)                                                    \
                         : "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11", "cc", "memory");                    \
        *wp = w;                                                                                                 \
        *a00 = c00;                                                                                              \
        *a01 = c01;                                                                                              \
        *a10 = c10;                                                                                              \
        *a11 = c11;                                                                                              \
    }

TS_ARMV7EM_MAC_2X2(ts_armv7em_mac_2x2, TS_ARMV7EM_BODY_2X2, TS_ARMV7EM_BODY_2X2_BYTES)
TS_ARMV7EM_MAC_2X2(ts_armv7em_mac_2x2_s16, TS_ARMV7EM_BODY_2X2_S16, TS_ARMV7EM_BODY_2X2_S16_BYTES)

/* One group of the 4x1 block (fully connected): x = one int8 word widened on the fly (r4, r5); w = channels
 * 0..3's int8 words, widened in place two at a time (r8-r11). 20 instructions, 16 multiply-accumulates. */
#define TS_ARMV7EM_BODY_4X1                     \
    "ldr.w r4, [%[x]], #4\n\t"                  \
    "ldm.w %[w]!, {r8, r10}\n\t"                \
    "sxtb16 r5, r4, ror #8\n\t"                 \
    "sxtb16 r4, r4\n\t"                         \
    "sxtb16 r9, r8, ror #8\n\t"                 \
    "sxtb16 r8, r8\n\t"                         \
    "sxtb16 r11, r10, ror #8\n\t"               \
    "sxtb16 r10, r10\n\t"                       \
    "smlad %[a0], r8, r4, %[a0]\n\t"            \
    "smlad %[a1], r10, r4, %[a1]\n\t"           \
    "smlad %[a0], r9, r5, %[a0]\n\t"            \
    "smlad %[a1], r11, r5, %[a1]\n\t"           \
    "ldm.w %[w]!, {r8, r10}\n\t"                \
    "sxtb16 r9, r8, ror #8\n\t"                 \
    "sxtb16 r8, r8\n\t"                         \
    "sxtb16 r11, r10, ror #8\n\t"               \
    "sxtb16 r10, r10\n\t"                       \
    "smlad %[a2], r8, r4, %[a2]\n\t"            \
    "smlad %[a3], r10, r4, %[a3]\n\t"           \
    "smlad %[a2], r9, r5, %[a2]\n\t"            \
    "smlad %[a3], r11, r5, %[a3]\n\t"

#define TS_ARMV7EM_BODY_4X1_BYTES 84u

/* a[c] += sum over n groups (of 4 int8 at x, any alignment) of channel c's weights; advances *w. */
TS_ARMV7EM_ALWAYS_INLINE void ts_armv7em_mac_4x1(const int8_t *x, const int32_t **wp, int32_t n, int32_t *a0,
                                       int32_t *a1, int32_t *a2, int32_t *a3)
{
    register const int32_t *w __asm__("lr") = *wp;
    register const int8_t *xr __asm__("r12") = x;
    register int32_t c0 __asm__("r0") = *a0;
    register int32_t c1 __asm__("r1") = *a1;
    register int32_t c2 __asm__("r2") = *a2;
    register int32_t c3 __asm__("r3") = *a3;
    const int8_t *const end = x + 4 * n;
    const uint32_t entry = ((uint32_t)(-n) & 3u) * TS_ARMV7EM_BODY_4X1_BYTES;
    __asm__ volatile(
        TS_ARMV7EM_DUFF_ENTER
        TS_ARMV7EM_BODY_4X1 TS_ARMV7EM_BODY_4X1 TS_ARMV7EM_BODY_4X1 TS_ARMV7EM_BODY_4X1
        TS_ARMV7EM_DUFF_LOOP("x")
        : [a0] "+r"(c0), [a1] "+r"(c1), [a2] "+r"(c2), [a3] "+r"(c3), [x] "+r"(xr), [w] "+r"(w)
        : [end] "m"(end), [entry] "m"(entry)
        : "r4", "r5", "r8", "r9", "r10", "r11", "cc", "memory");
    *wp = w;
    *a0 = c0;
    *a1 = c1;
    *a2 = c2;
    *a3 = c3;
}

/* ---- the 2 channels x 2 pixels convolution block ----------------------------------------------- */

/* The convolutions' packed stream (layout "s8 2ch x k4 + rq"): per group of output channels, channels
 * padded to an even count, per channel pair, TS_ARMV7EM_PAIR_WORDS(n4) words:
 *   bias0 bias1 | n4 x [c0 k0..k3 (int8)] [c1 k0..k3] | record0 record1
 * a record being ts_armv7em_rq_t (fast) or {multiplier, shift, 0} (exact, requant.shift != NULL). */
#define TS_ARMV7EM_PAIR_WORDS(n4) (8 + 2 * (n4))

/* The same stream widened into RAM (layout "s16 2ch x k4 + rq", ts_armv7em_widen_stream): the weights as
 * n4 x [c0(k0,k2) c0(k1,k3) c1(k0,k2) c1(k1,k3)] int16 pairs; with fast records the weights and the bias are
 * doubled (the 2 of SaturatingRoundingDoublingHighMul folded in), so no doubling at the requantisation. */
#define TS_ARMV7EM_PAIR_WORDS_S16(n4) (8 + 4 * (n4))

/* The int8 stream of `pairs` channel pairs -> the int16 one; fold: 2 (fast records) or 1 (exact path). */
void ts_armv7em_widen_stream(const int32_t *src, int32_t pairs, int32_t n4, int32_t fold, int32_t *dst);

/* Arguments of ts_armv7em_mat_mult_2x2 (armv7em/ts_armv7em_mat_mult_2x2.c): `pairs` channel pairs of the stream at w
 * against one 2-pixel column, fast records only; writes 2 bytes per pair at out_a and at out_b. */
typedef struct {
    const int32_t *col; /* the 2-pixel column, 4 words per group */
    const int32_t *w;   /* the first pair's stream */
    int8_t *out_a;
    int8_t *out_b;
    int32_t pairs; /* >= 1 */
    int32_t n4;    /* >= 1 */
} ts_armv7em_mm_t;
TS_ASM_AT(ts_armv7em_mm_t, col, 0); TS_ASM_AT(ts_armv7em_mm_t, w, 4); TS_ASM_AT(ts_armv7em_mm_t, out_a, 8);
TS_ASM_AT(ts_armv7em_mm_t, out_b, 12); TS_ASM_AT(ts_armv7em_mm_t, pairs, 16); TS_ASM_AT(ts_armv7em_mm_t, n4, 20);

void ts_armv7em_mat_mult_2x2(const ts_armv7em_mm_t *a);
void ts_armv7em_mat_mult_2x2_s16(const ts_armv7em_mm_t *a); /* on the widened stream */

/* acc -> int8 through a record of the stream (fast or exact); `folded`: the weights carry the doubling. */
TS_ARMV7EM_ALWAYS_INLINE int8_t ts_armv7em_rq_record(int mode, int folded, int32_t acc, const int32_t *rec,
                                                    int32_t out_zp, int32_t act_min, int32_t act_max)
{
    if (mode == TS_ARMV7EM_RQ_EXACT) {
        const int32_t v = ts_mbqm(acc, rec[0], rec[1]) + out_zp;
        return (int8_t)ts_clamp_i32(v, act_min, act_max);
    }
    int32_t v = folded ? ts_armv7em_rq(acc, rec[0], rec[1], rec[2]) : ts_armv7em_rq2(acc, rec[0], rec[1], rec[2]);
    if (mode == TS_ARMV7EM_RQ_FAST_CLAMP) v = ts_clamp_i32(v, act_min, act_max);
    return (int8_t)v;
}

/* The output channels of one 2-pixel column, for the convolutions (armv7em/ts_armv7em_channels.c):
 * out_a[c] / out_b[c] for c < nch (out_b == out_a when the two lanes hold the same pixel); w: the stream of the
 * first channel pair, int8 ("s8 2ch x k4 + rq") or widened ("s16 2ch x k4 + rq"); mode: the layer's
 * (ts_armv7em_rq_mode). */
typedef void (*ts_armv7em_channels_t)(int mode, const int32_t *col, int32_t n4, const int32_t *w, int32_t nch,
                                      int8_t *out_a, int8_t *out_b, int32_t out_zp, int32_t act_min,
                                      int32_t act_max);

/* A stream format: its channel function, and whether it is the widened one. A kernel links only the format
 * it names (the int16 one, with its own assembly, only where a widened variant is used). */
typedef struct {
    ts_armv7em_channels_t channels;
    int32_t wide;
} ts_armv7em_format_t;

extern const ts_armv7em_format_t ts_armv7em_format_s8, ts_armv7em_format_s16;

/* The body of both channel functions (wide and the two functions constant in each): the fast mode by the
 * assembly of mat_mult, the clamped and exact ones pair by pair through mac (out of line: its asm takes every
 * register, which GCC cannot always arrange inside a bigger function). */
TS_ARMV7EM_ALWAYS_INLINE void ts_armv7em_conv_channels(int wide, void (*mat_mult)(const ts_armv7em_mm_t *),
                                                      void (*mac)(const int32_t *, const int32_t **, int32_t,
                                                                  int32_t *),
                                                      int mode, const int32_t *col, int32_t n4, const int32_t *w,
                                                      int32_t nch, int8_t *out_a, int8_t *out_b, int32_t out_zp,
                                                      int32_t act_min, int32_t act_max)
{
    const int32_t pw = wide ? TS_ARMV7EM_PAIR_WORDS_S16(n4) : TS_ARMV7EM_PAIR_WORDS(n4);
    int32_t c = 0;
    if (mode == TS_ARMV7EM_RQ_FAST && nch >= 2) {
        const ts_armv7em_mm_t a = {col, w, out_a, out_b, nch >> 1, n4};
        mat_mult(&a);
        c = nch & ~1;
        w += (nch >> 1) * pw;
    }
    for (; c < nch; c += 2, w += pw) {
        int32_t acc[4] = {w[0], w[0], w[1], w[1]};
        const int32_t *wk = w + 2;
        mac(col, &wk, n4, acc);
        const int8_t y00 = ts_armv7em_rq_record(mode, wide, acc[0], wk, out_zp, act_min, act_max);
        const int8_t y01 = ts_armv7em_rq_record(mode, wide, acc[1], wk, out_zp, act_min, act_max);
        if (c + 1 < nch) { /* an odd count's padding channel: zero weights, result unused */
            const int8_t y10 = ts_armv7em_rq_record(mode, wide, acc[2], wk + 3, out_zp, act_min, act_max);
            const int8_t y11 = ts_armv7em_rq_record(mode, wide, acc[3], wk + 3, out_zp, act_min, act_max);
            out_a[c + 1] = y10; /* stores after the loads: an int8 store may alias anything */
            out_b[c + 1] = y11;
        }
        out_a[c] = y00;
        out_b[c] = y01;
    }
}

/* ---- the convolutions' shared implementations -------------------------------------------------- */

/* The general convolution (armv7em/ts_armv7em_conv.c) and the 1x1 one (ts_armv7em_conv_1x1.c) on a stream of
 * either format for output channels [c0, c0 + nch) (c0 even; stream: their first pair;
 * a grouped convolution takes every channel); their scratch before any widened stream. */
void ts_armv7em_conv(const ts_conv_params_t *p, const int8_t *input, int8_t *output, void *scratch,
                     const int32_t *stream, const ts_armv7em_format_t *format, int32_t c0, int32_t nch);
int32_t ts_armv7em_conv_scratch(const ts_conv_params_t *p);
void ts_armv7em_conv_1x1(const ts_conv_params_t *p, const int8_t *input, int8_t *output, void *scratch,
                         const int32_t *stream, const ts_armv7em_format_t *format, int32_t c0, int32_t nch);
int32_t ts_armv7em_conv_1x1_scratch(const ts_conv_params_t *p);

/* Channel pairs of a convolution's stream: groups x ceil(channels per group / 2). */
TS_ARMV7EM_ALWAYS_INLINE int32_t ts_armv7em_conv_stream_pairs(const ts_conv_params_t *p)
{
    const int32_t groups = p->input.c / p->filter.c, per_group = p->output.c / groups;
    return groups * ((per_group + 1) >> 1);
}

/* Channel pairs a widened variant makes per pass: TS_CONV_CHUNK of the flags (one group only), else all. */
TS_ARMV7EM_ALWAYS_INLINE int32_t ts_armv7em_conv_chunk_pairs(const ts_conv_params_t *p)
{
    const int32_t all = ts_armv7em_conv_stream_pairs(p), n = TS_CONV_CHUNK_OF(p->flags);
    return (n > 0 && n < all && p->filter.c == p->input.c) ? n : all;
}

/* The widened variants: per pass, chunk channel pairs of the int8 stream widened into `wide`, then the
 * convolution on them (run: ts_armv7em_conv or ts_armv7em_conv_1x1). */
TS_ARMV7EM_ALWAYS_INLINE void ts_armv7em_conv_widened(const ts_conv_params_t *p, const int8_t *input, int8_t *output,
                                                     void *scratch, int32_t *wide, int32_t n4,
                                                     void (*run)(const ts_conv_params_t *, const int8_t *, int8_t *,
                                                                 void *, const int32_t *, const ts_armv7em_format_t *,
                                                                 int32_t, int32_t))
{
    const int32_t pairs = ts_armv7em_conv_stream_pairs(p), chunk = ts_armv7em_conv_chunk_pairs(p);
    const int fold = p->requant.shift == NULL ? 2 : 1;
    const int32_t *src = (const int32_t *)(const void *)p->weights;
    for (int32_t pr = 0; pr < pairs; pr += chunk) {
        const int32_t n = pairs - pr < chunk ? pairs - pr : chunk;
        ts_armv7em_widen_stream(src + (size_t)pr * TS_ARMV7EM_PAIR_WORDS(n4), n, n4, fold, wide);
        const int32_t c0 = 2 * pr, nch = (2 * (pr + n) < p->output.c ? 2 * (pr + n) : p->output.c) - c0;
        run(p, input, output, scratch, wide, &ts_armv7em_format_s16, chunk == pairs ? 0 : c0,
            chunk == pairs ? p->output.c : nch);
    }
}

/* ---- Winograd F(2x2, 3x3) ---------------------------------------------------------------------- */

/* Arguments of ts_armv7em_wino_gemm (armv7em/ts_armv7em_wino_gemm.c): for one output channel pair and one pair of
 * tiles, out[pos][c0A c0B c1A c1B] = the 2x2 SMLAD block of position pos's column (16 consecutive columns of
 * k4 groups, 4 words per group) and the pair's weights (16 consecutive blocks of k4 groups). */
typedef struct {
    const int32_t *col; /* 0 */
    const int32_t *w;   /* 4 */
    int32_t k4;         /* 8: groups of 4 input channels, 1..16 */
    int32_t unused;     /* 12 */
    int32_t *out;       /* 16: 16 x 4 int32 */
} ts_armv7em_wino_t;
TS_ASM_AT(ts_armv7em_wino_t, col, 0); TS_ASM_AT(ts_armv7em_wino_t, w, 4); TS_ASM_AT(ts_armv7em_wino_t, k4, 8);
TS_ASM_AT(ts_armv7em_wino_t, out, 16);

void ts_armv7em_wino_gemm(const ts_armv7em_wino_t *a);

/* Winograd's transformed weights of one output channel pair from its channels' int8 taps (9 k4 words each,
 * [ky][kx][group]) into u, the layout ts_armv7em_wino_gemm reads (armv7em/ts_armv7em_wino_weights.c). */
void ts_armv7em_wino_weights(const int32_t *taps0, const int32_t *taps1, int32_t k4, int32_t *u);

/* Arguments of ts_armv7em_wino_in (armv7em/ts_armv7em_wino_in.c): B^T d B of a 4x4 patch inside the input, every group
 * of 4 channels, into one lane of the 16 columns. Offsets are read by the assembly (checked below). */
typedef struct {
    const int8_t *pixel; /* 0: the patch's top-left pixel, channel 0 */
    int32_t px;          /* 4: bytes per pixel (in_c) */
    int32_t line;        /* 8: bytes per input row */
    int32_t *col;        /* 12: the lane's word of position 0, group 0 */
    int32_t stride;      /* 16: bytes between two positions' columns (16 k4) */
    int32_t k4;          /* 20: groups, >= 1 */
} ts_armv7em_wino_in_t;
TS_ASM_AT(ts_armv7em_wino_in_t, pixel, 0); TS_ASM_AT(ts_armv7em_wino_in_t, px, 4);
TS_ASM_AT(ts_armv7em_wino_in_t, line, 8); TS_ASM_AT(ts_armv7em_wino_in_t, col, 12);
TS_ASM_AT(ts_armv7em_wino_in_t, stride, 16); TS_ASM_AT(ts_armv7em_wino_in_t, k4, 20);

void ts_armv7em_wino_in(const ts_armv7em_wino_in_t *a);

/* Arguments of ts_armv7em_wino_out (armv7em/ts_armv7em_wino_out.c): output transform, requantisation and stores of one
 * output channel pair and two full tiles. Offsets are read by the assembly (checked below). */
typedef struct {
    const int32_t *prod; /* 0: 16 x [c0 A, c0 B, c1 A, c1 B] */
    const int32_t *rq;   /* 4: channel c0's bias x 2, multiplier, round, shift; channel c0 + 1's */
    int8_t *out_a;       /* 8: tile A's top-left output, channel c0 */
    int8_t *out_b;       /* 12: tile B's */
    int32_t out_c;       /* 16: bytes per output pixel */
    int32_t row;         /* 20: bytes per output row */
} ts_armv7em_wino_out_t;
TS_ASM_AT(ts_armv7em_wino_out_t, prod, 0); TS_ASM_AT(ts_armv7em_wino_out_t, rq, 4);
TS_ASM_AT(ts_armv7em_wino_out_t, out_a, 8); TS_ASM_AT(ts_armv7em_wino_out_t, out_b, 12);
TS_ASM_AT(ts_armv7em_wino_out_t, out_c, 16); TS_ASM_AT(ts_armv7em_wino_out_t, row, 20);

void ts_armv7em_wino_out(const ts_armv7em_wino_out_t *a);

/* ---- depthwise 3x3 ------------------------------------------------------------------------------ */

/* Arguments of ts_armv7em_dw3x3_rows (armv7em/ts_armv7em_dw3x3_rows.c): one channel of a block of output rows of
 * ts_depthwise_conv_3x3_s8, stride 1, fast record. Offsets are read by the assembly (checked below). */
typedef struct {
    const int16_t *const *rows; /* 0: transposed input rows, rows[r sh + ky] for output row r of the block */
    int32_t plane_offset;       /* 4: bytes from a transposed row to the channel's first tap */
    const int32_t *stream;      /* 8: the channel's 10 words: bias, 3 x (w0 | w1 << 16, w2), record */
    int8_t *out;                /* 12: the channel's output in the block's first row */
    int32_t channels;           /* 16: C, the output pixel stride */
    int32_t out_row;            /* 20: output row stride (ow C) */
    int32_t nr;                 /* 24: output rows, >= 1 */
    int32_t ow;                 /* 28: outputs per row, >= 1 */
    int32_t sh;                 /* 32: vertical stride */
} ts_armv7em_dw_t;
TS_ASM_AT(ts_armv7em_dw_t, rows, 0); TS_ASM_AT(ts_armv7em_dw_t, plane_offset, 4);
TS_ASM_AT(ts_armv7em_dw_t, stream, 8); TS_ASM_AT(ts_armv7em_dw_t, out, 12); TS_ASM_AT(ts_armv7em_dw_t, channels, 16);
TS_ASM_AT(ts_armv7em_dw_t, out_row, 20); TS_ASM_AT(ts_armv7em_dw_t, nr, 24); TS_ASM_AT(ts_armv7em_dw_t, ow, 28);
TS_ASM_AT(ts_armv7em_dw_t, sh, 32);

void ts_armv7em_dw3x3_rows(const ts_armv7em_dw_t *a);

/* Arguments of ts_armv7em_dw3x3_chans4 (armv7em/ts_armv7em_dw3x3_rows.c): one output row of nch channels. */
typedef struct {
    const int16_t *row0;    /* 0: channel 0's plane of the window's first row, at the first output's tap */
    int32_t d1, d2;         /* 4, 8: bytes from the first row to the second and third (same channel) */
    const int32_t *stream;  /* 12: channel 0's stream words (10 per channel) */
    int8_t *out;            /* 16: channel 0's first output */
    int32_t out_px_step;    /* 20: bytes between outputs along the row */
    int32_t ow;             /* 24: outputs, >= 4 */
    int32_t plane_bytes;    /* 28: bytes from one channel's plane to the next */
    int32_t nch;            /* 32: channels, >= 1 */
} ts_armv7em_dw_row_t;
TS_ASM_AT(ts_armv7em_dw_row_t, row0, 0); TS_ASM_AT(ts_armv7em_dw_row_t, d1, 4); TS_ASM_AT(ts_armv7em_dw_row_t, d2, 8);
TS_ASM_AT(ts_armv7em_dw_row_t, stream, 12); TS_ASM_AT(ts_armv7em_dw_row_t, out, 16);
TS_ASM_AT(ts_armv7em_dw_row_t, out_px_step, 20); TS_ASM_AT(ts_armv7em_dw_row_t, ow, 24);
TS_ASM_AT(ts_armv7em_dw_row_t, plane_bytes, 28); TS_ASM_AT(ts_armv7em_dw_row_t, nch, 32);

void ts_armv7em_dw3x3_chans4(const ts_armv7em_dw_row_t *a); /* 4 outputs per step, rows word-aligned */

#endif /* TS_ARMV7EM_H */
