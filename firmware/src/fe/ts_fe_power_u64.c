/* Power spectrum, exact: re^2 + im^2 (uint64) in place of each (re, im) pair, stored as its
 * (low, high) 32-bit words so that the buffer stays an int32 array. */
#include "ts/fe.h"
#include "ts_fe_internal.h"

void ts_fe_power_u64(int32_t *buf, int32_t n_bins)
{
    for (int32_t *b = buf, *end = buf + 2 * n_bins; b < end; b += 2) {
        int32_t re = b[0], im = b[1];
        /* re^2 + im^2 with |re|, |im| < 2^30: < 2^61; P = |X|^2 in the spectrum's Q doubled */
        int64_t p = ts_fe_smlal((int64_t)re * re, im, im);
        b[0] = (int32_t)(uint32_t)p;
        b[1] = (int32_t)(uint32_t)((uint64_t)p >> 32);
    }
}
