/* Natural log of the mel sums, Helium (same integers as the portable ts_fe_log_q24), four bands per
 * vector: the 64-bit sums as (low, high) planes (VLD2), plus the floor shifted by 2k (the carry of the
 * low words by an unsigned compare), the leading one from VCLZ of the high words (32 + that of the low
 * words where the high word is 0), the top 32 bits by two per-lane shifts (a shift by 32 or more gives
 * 0, a negative one shifts right), the table entries by gathers, the interpolation by VMUL. The last
 * n_mels % 4 bands take the portable path. */
#include <arm_mve.h>

#include "ts/fe.h"
#include "../ts_fe_internal.h"

#if !defined(__ARM_FEATURE_MVE)
#error "firmware/src/fe/mve needs Helium (MVE, -mcpu=cortex-m55): build the armv7em or portable stages instead"
#endif

#define LN2_Q24 11629080 /* round(ln(2) 2^24) */

static void log_scalar(const uint64_t *mel, int32_t n_mels, const uint32_t *mel_floor, const int32_t *mel_offset,
                       int32_t k, const int32_t *log_lut, int32_t *logmel)
{
    const int32_t sh = 2 * k;
    for (int32_t m = 0; m < n_mels; m++) {
        const uint64_t y = mel[m] + ((uint64_t)mel_floor[m] << sh);
        const int32_t lz = __builtin_clzll(y);
        const uint32_t f = (uint32_t)((y << lz) >> 32) - 0x80000000u;
        const int32_t idx = (int32_t)(f >> 24), frac = (int32_t)((f >> 10) & 0x3fff);
        const int32_t a = log_lut[idx], d = log_lut[idx + 1] - a;
        logmel[m] = (63 - lz - sh) * LN2_Q24 + a + ((d * frac) >> 14) + mel_offset[m];
    }
}

void ts_fe_log_q24(const uint64_t *mel, int32_t n_mels, const uint32_t *mel_floor, const int32_t *mel_offset,
                   int32_t k, const int32_t *log_lut, int32_t *logmel)
{
    const int32_t sh = 2 * k;
    const int32_t base = (63 - sh) * LN2_Q24;
    const int32_t n4 = n_mels & ~3;
    const uint32_t *mw = (const uint32_t *)(const void *)mel;
    for (int32_t m = 0; m < n4; m += 4) {
        const uint32x4x2_t y = vld2q_u32(mw + 2 * m); /* val[0] low words, val[1] high words */
        const uint32x4_t fl = vldrwq_u32(mel_floor + m);
        const uint32x4_t flo = vshlq_r_u32(fl, sh), fhi = vshlq_r_u32(fl, sh - 32); /* floor 2^(2k) */
        const uint32x4_t lo = vaddq_u32(y.val[0], flo);
        uint32x4_t hi = vaddq_u32(y.val[1], fhi);
        hi = vaddq_m_n_u32(hi, hi, 1, vcmphiq_u32(y.val[0], lo)); /* carry of the low words */
        /* leading zeros of the 64-bit sum */
        const mve_pred16_t zero_hi = vcmpeqq_n_u32(hi, 0);
        const uint32x4_t lz = vpselq_u32(vaddq_n_u32(vclzq_u32(lo), 32), vclzq_u32(hi), zero_hi);
        /* top 32 bits: hi << lz | lo >> (32 - lz) (lo << (lz - 32) where hi = 0) */
        const int32x4_t lzs = vreinterpretq_s32_u32(lz);
        const uint32x4_t top = vorrq_u32(vshlq_u32(hi, lzs), vshlq_u32(lo, vsubq_s32(lzs, vdupq_n_s32(32))));
        const uint32x4_t idx = vandq_u32(vshrq_n_u32(top, 24), vdupq_n_u32(0x7f));
        const int32x4_t frac = vreinterpretq_s32_u32(vandq_u32(vshrq_n_u32(top, 10), vdupq_n_u32(0x3fff)));
        const int32x4_t a = vldrwq_gather_shifted_offset_s32(log_lut, idx);
        const int32x4_t d = vsubq_s32(vldrwq_gather_shifted_offset_s32(log_lut + 1, idx), a);
        int32x4_t r = vaddq_s32(a, vshrq_n_s32(vmulq_s32(d, frac), 14));
        r = vaddq_s32(r, vldrwq_s32(mel_offset + m));
        r = vsubq_s32(vaddq_n_s32(r, base), vmulq_n_s32(lzs, LN2_Q24));
        vstrwq_s32(logmel + m, r);
    }
    if (n4 < n_mels)
        log_scalar(mel + n4, n_mels - n4, mel_floor + n4, mel_offset + n4, k, log_lut, logmel + n4);
}
