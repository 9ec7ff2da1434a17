/* Real-FFT split and power spectrum, in place (portable C; armv7em/ and mve/ give the same integers).
 * With z[m] = v[2m] + j v[2m+1], A = Z[k] + conj Z[M-k] is twice the DFT of the even samples v[2m] and
 * B = Z[k] - conj Z[M-k] is 2j W^-k times that of the odd ones, so |A|, |B| <= 2^30 (each a sum of |v|
 * over half the samples, scaled) and X[k] = (A - j W B) / 2 = DFT(v)[k] / 2^s, |X| <= 2^30.
 * P = re^2 + im^2 < 2^60, exact, stored as uint64 over the (re, im) words of bin k. */
#include "ts/fe.h"
#include "ts_fe_internal.h"

void ts_fe_power_u64(int32_t *buf, int32_t n_fft, const int32_t *rfft_twiddle)
{
    const int32_t m = n_fft >> 1;
    ts_fe_power_ends(buf, m);
    ts_fe_power_pairs(buf, m, 1, m / 2, rfft_twiddle);
}
