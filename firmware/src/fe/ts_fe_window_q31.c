/* Framing stage: periodic Hann window (Q31) on the frame normalised by its peak, so that the
 * windowed values keep 28 bits whatever the level (quiet passages lose nothing). Two samples at a
 * time (n_fft is even): one 32-bit word holds a pair of int16. */
#include <string.h>

#include "ts/fe.h"
#include "ts_fe_internal.h"

int32_t ts_fe_window_q31(const int16_t *x, const int32_t *window, int32_t n, int32_t *v, int32_t *peak)
{
    /* Peak magnitude of the frame, 0..32768 (Q15), from the largest and the smallest sample
     * (per halfword lane, then across the two lanes). */
    uint32_t hi2 = 0, lo2 = 0;
    for (int32_t i = 0; i < n; i += 2) {
        uint32_t pair;
        memcpy(&pair, x + i, sizeof pair);
        hi2 = ts_fe_max16x2(hi2, pair);
        lo2 = ts_fe_min16x2(lo2, pair);
    }
    int32_t hi = (int16_t)(hi2 & 0xffff), hi_b = (int16_t)(hi2 >> 16);
    int32_t lo = (int16_t)(lo2 & 0xffff), lo_b = (int16_t)(lo2 >> 16);
    hi = hi > hi_b ? hi : hi_b;
    lo = lo < lo_b ? lo : lo_b;
    int32_t p = hi > -lo ? hi : -lo;
    /* k = 29 - bit length of p, so that p 2^k < 2^29: 13 (p = 32768) .. 28 (p = 1); 28 for silence. */
    int32_t k = 28;
    if (p > 0) k = __builtin_clz((uint32_t)p) - 3;
    *peak = p << k; /* < 2^29 */
    /* x w / 2^16 (SMULWB/T: Q31 window times an int16 sample, floor) = x w 2^30, |.| < 2^30 */
    if (k >= 16) {
        /* quiet frame: v = (x w / 2^16) 2^(k - 16) = x w 2^(14 + k), |v| <= 2^28 */
        const int32_t up = 1 << (k - 16);
        for (int32_t i = 0; i < n; i += 2) {
            uint32_t pair;
            memcpy(&pair, x + i, sizeof pair);
            v[i] = ts_fe_smulwb(window[i], (int32_t)pair) * up;
            v[i + 1] = ts_fe_smulwt(window[i + 1], (int32_t)pair) * up;
        }
    } else {
        /* loud frame (k = 13..15): v = round((x w / 2^16) / 2^(16 - k)) = x w 2^(14 + k) */
        const int32_t down = 16 - k, half = 1 << (down - 1);
        for (int32_t i = 0; i < n; i += 2) {
            uint32_t pair;
            memcpy(&pair, x + i, sizeof pair);
            v[i] = (ts_fe_smulwb(window[i], (int32_t)pair) + half) >> down;
            v[i + 1] = (ts_fe_smulwt(window[i + 1], (int32_t)pair) + half) >> down;
        }
    }
    return k;
}
