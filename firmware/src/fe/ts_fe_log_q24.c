/* Natural log of the mel power with a floor, Q24: ln(mel + floor) where the frame's mel values are
 * M = mel * 2^exponent. log2 of the 64-bit sum M + floor * 2^exponent (the floor rounded to the units
 * of M, at least 1: where a frame is so loud that M's unit exceeds the floor, the FFT's own
 * resolution is coarser than the floor anyway): the position of its leading
 * one (CLZ) plus log2 of the normalised mantissa from a 129-entry table with linear interpolation
 * (error < 1.2e-5 in log2), then times ln 2. */
#include "ts/fe.h"

#define LN2_Q31 1488522236 /* round(ln(2) * 2^31) */

void ts_fe_log_q24(const uint64_t *mel, int32_t n_mels, int32_t exponent, int32_t floor_mant, int32_t floor_exp,
                   const int32_t *log_lut, int32_t *logmel)
{
    /* floor * 2^exponent = floor_mant * 2^(floor_exp + exponent), in the units of M, at least 1 */
    int32_t e = floor_exp + exponent;
    uint64_t fl;
    if (e >= 0) {
        fl = (uint64_t)(uint32_t)floor_mant << (e > 31 ? 31 : e);
    } else if (e > -32) {
        fl = ((uint64_t)(uint32_t)floor_mant + ((uint64_t)1 << (-e - 1))) >> -e;
    } else {
        fl = 0;
    }
    if (fl == 0) fl = 1;
    const int32_t lut_shift = 31 - TS_FE_LOG_LUT_BITS;
    for (int32_t m = 0; m < n_mels; m++) {
        uint64_t y = mel[m] + fl; /* >= 1, < 2^63 */
        int32_t lz = __builtin_clzll(y);
        /* mantissa in [2^31, 2^32): Q31 of [1, 2) */
        uint32_t top = (uint32_t)((y << lz) >> 32);
        uint32_t f = top - 0x80000000u;            /* fraction, Q31 */
        uint32_t idx = f >> lut_shift;             /* table index */
        int32_t frac = (int32_t)(f & ((1u << lut_shift) - 1u)); /* Q24 position in the segment */
        int32_t a = log_lut[idx], d = log_lut[idx + 1] - a;
        /* log2(mantissa), Q30 */
        int32_t l2m = a + (int32_t)(((int64_t)d * frac + (1 << (lut_shift - 1))) >> lut_shift);
        /* log2(M + floor) - exponent, Q24 (integer part 63 - lz) */
        int32_t l2 = (63 - lz - exponent) * (1 << TS_FE_LOG_FRAC_BITS) + ((l2m + 32) >> 6);
        /* times ln 2 (Q31): natural log, Q24 */
        logmel[m] = (int32_t)(((int64_t)l2 * LN2_Q31 + (1LL << 30)) >> 31);
    }
}
