/* Real FFT of n_fft values through a complex FFT of M = n_fft/2 points: z[n] = v[2n] + j v[2n+1],
 * Z = FFT(z), then for k = 0..M (W = e^{-2 pi j k / n_fft} = c - j s):
 *   X[k] = (A - j W B) / 2,  A = Z[k] + conj(Z[M-k]),  B = Z[k] - conj(Z[M-k]),
 *   X[M-k] = conj(A + j W B) / 2 (the same products).
 * Bins 0..M as (re, im) pairs in buf[0 .. n_fft + 2), X = DFT(v) / 2^shift, |X| < 2^30. */
#include "ts/fe.h"
#include "ts_fe_internal.h"

int32_t ts_fe_rfft_q31(int32_t *buf, int32_t n_fft, const int32_t *fft_twiddle, const int32_t *rfft_twiddle,
                       uint32_t mag_bound, uint64_t sum_bound)
{
    int32_t m = n_fft >> 1;
    /* Half-length complex FFT: Z = FFT(z) / 2^shift, |Z| < 2^29 - 2^16 */
    int32_t shift = ts_fe_cfft_q31(buf, m, fft_twiddle, mag_bound, sum_bound);
    /* DC and Nyquist: X[0] = Re Z0 + Im Z0, X[M] = Re Z0 - Im Z0 (< 2^30) */
    int32_t z0r = buf[0], z0i = buf[1];
    buf[0] = z0r + z0i;
    buf[1] = 0;
    buf[2 * m] = z0r - z0i;
    buf[2 * m + 1] = 0;
    const int32_t *w = rfft_twiddle;
    int32_t *pk = buf + 2, *pm = buf + 2 * (m - 1);
    for (int32_t k = 1; k <= m / 2; k++, pk += 2, pm -= 2, w += 2) {
        int32_t zkr = pk[0], zki = pk[1], zmr = pm[0], zmi = pm[1];
        const int32_t c = w[0], s = w[1];
        /* A, B: sums of two values < 2^29: |.| < 2^30, so 2B fits */
        int32_t ar = zkr + zmr, ai = zki - zmi;
        int32_t br2 = 2 * (zkr - zmr), bi2 = 2 * (zki + zmi);
        /* W B = u + j w with Q31 twiddles: round(2B c / 2^32) -/+ round(2B s / 2^32): |.| < 2^30 */
        int32_t u = ts_fe_smmlar(bi2, s, ts_fe_smmulr(br2, c));
        int32_t v = ts_fe_smmlsr(br2, s, ts_fe_smmulr(bi2, c));
        /* X[k] = (A + (v - j u)) / 2, X[M-k] = conj(A - (v - j u)) / 2, rounded; |A| + |B| < 2^31 */
        int32_t ar1 = ar + 1;
        pk[0] = (ar1 + v) >> 1;
        pk[1] = (ai + 1 - u) >> 1;
        if (pm != pk) {
            pm[0] = (ar1 - v) >> 1;
            pm[1] = (1 - ai - u) >> 1;
        }
    }
    return shift;
}
