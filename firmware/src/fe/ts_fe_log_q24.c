/* Natural log of the mel sums with a floor, Q24 (portable C; armv7em/ and mve/ give the same integers):
 * y = M + floor_m 2^(2k) (>= 1), its leading one (CLZ) gives the integer part of log2, the next 7 bits
 * index a table of ln(1 + i/128) (Q24) and the 24 below interpolate linearly (error < 8e-6); the band's offset
 * (ln of its slaney norm and the units of M) and the frame's shift (-2k ln 2) are added. */
#include "ts/fe.h"
#include "ts_fe_internal.h"

#define LN2_Q24 11629080 /* round(ln(2) 2^24) */

void ts_fe_log_q24(const uint64_t *mel, int32_t n_mels, const uint32_t *mel_floor, const int32_t *mel_offset,
                   int32_t k, const int32_t *log_lut, int32_t *logmel)
{
    const int32_t sh = 2 * k;
    for (int32_t m = 0; m < n_mels; m++) {
        const uint64_t y = mel[m] + ((uint64_t)mel_floor[m] << sh); /* >= 1; < 2^60 + 2^62 */
        const int32_t lz = __builtin_clzll(y);
        const uint32_t mant = (uint32_t)((y << lz) >> 32); /* [2^31, 2^32): 1.f in Q31 */
        const uint32_t f = mant - 0x80000000u;
        const int32_t idx = (int32_t)(f >> 24);
        const int32_t a = log_lut[idx], d = log_lut[idx + 1] - a; /* 0 < d < 2^17 */
        /* floor(d frac / 2^24) with the 24-bit fraction: the high word of (f << 8) d (UMULL) */
        const int32_t interp = (int32_t)(((uint64_t)(f << 8) * (uint32_t)d) >> 32);
        /* ln(y) - 2k ln 2 + offset, Q24 */
        logmel[m] = (63 - lz - sh) * LN2_Q24 + a + interp + mel_offset[m];
    }
}
