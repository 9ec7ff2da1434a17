/* Natural log of the mel sums, Armv7E-M (same integers as the portable ts_fe_log_q24): the 64-bit sum
 * plus the floor, CLZ of its high word (or of the low one), the normalised top 32 bits by two shifts
 * (a register shift by 32 gives 0 on Arm), the table index by UBFX, UMULL of the fraction (shifted to the
 * top) by the table step for the interpolation. */
#include "ts/fe.h"
#include "../ts_fe_internal.h"

#if !defined(__ARM_FEATURE_DSP)
#error "firmware/src/fe/armv7em needs the DSP extension (Armv7E-M): build the portable stages instead"
#endif

#define LN2_Q24 11629080 /* round(ln(2) 2^24) */

static inline uint32_t lsl_reg(uint32_t x, uint32_t n) /* x << n, 0 for n >= 32 (Arm semantics) */
{
    uint32_t r;
    __asm("lsl %0, %1, %2" : "=r"(r) : "r"(x), "r"(n));
    return r;
}

static inline uint32_t lsr_reg(uint32_t x, uint32_t n) /* x >> n, 0 for n >= 32 (Arm semantics) */
{
    uint32_t r;
    __asm("lsr %0, %1, %2" : "=r"(r) : "r"(x), "r"(n));
    return r;
}

void ts_fe_log_q24(const uint64_t *mel, int32_t n_mels, const uint32_t *mel_floor, const int32_t *mel_offset,
                   int32_t k, const int32_t *log_lut, int32_t *logmel)
{
    const uint32_t sh = 2u * (uint32_t)k;
    /* (63 - lz - 2k) ln 2 = (63 - 2k) ln 2 - lz ln 2 */
    const int32_t base = (63 - 2 * k) * LN2_Q24;
    const uint32_t *mw = (const uint32_t *)(const void *)mel;
    for (int32_t m = 0; m < n_mels; m++) {
        const uint32_t fl = mel_floor[m];
        /* y = mel + floor 2^(2k), 64-bit: the floor's high word is fl >> (32 - 2k) (0 for k = 0) */
        uint32_t lo = mw[2 * m], hi = mw[2 * m + 1];
        uint64_t y = ((uint64_t)hi << 32 | lo) + ((uint64_t)lsr_reg(fl, 32u - sh) << 32 | lsl_reg(fl, sh));
        lo = (uint32_t)y;
        hi = (uint32_t)(y >> 32);
        uint32_t lz = (uint32_t)__builtin_clz(hi | 1u);
        uint32_t top;
        if (hi) {
            top = lsl_reg(hi, lz) | lsr_reg(lo, 32u - lz); /* lz = 0: lo >> 32 = 0 */
        } else {
            lz = 32u + (uint32_t)__builtin_clz(lo);
            top = lo << (lz - 32u);
        }
        const uint32_t idx = (top >> 24) & 0x7fu;
        const int32_t a = log_lut[idx], d = log_lut[idx + 1] - a;
        const int32_t interp = (int32_t)(((uint64_t)(top << 8) * (uint32_t)d) >> 32);
        logmel[m] = base - (int32_t)lz * LN2_Q24 + a + interp + mel_offset[m];
    }
}
