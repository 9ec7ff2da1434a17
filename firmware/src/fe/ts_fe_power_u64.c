/* Real-FFT split and power spectrum, in place (portable C; armv7em/ and mve/ give the same integers).
 * With z[m] = v[2m] + j v[2m+1], A = Z[k] + conj Z[M-k] is twice the DFT of the even samples v[2m] and
 * B = Z[k] - conj Z[M-k] is 2j W^-k times that of the odd ones, so |A|, |B| <= 2^30 (each a sum of |v|
 * over half the samples, scaled) and X[k] = (A - j W B) / 2 = DFT(v)[k] / 2^s, |X| <= 2^30.
 * P = re^2 + im^2 < 2^60, exact, stored as uint64 over the (re, im) words of bin k. */
#include "ts/fe.h"
#include "ts_fe_internal.h"

static inline void put_power(int32_t *slot, int32_t re, int32_t im)
{
    uint64_t p = (uint64_t)((int64_t)re * re) + (uint64_t)((int64_t)im * im);
    slot[0] = (int32_t)(uint32_t)p; /* little endian: low word first */
    slot[1] = (int32_t)(uint32_t)(p >> 32);
}

void ts_fe_power_u64(int32_t *buf, int32_t n_fft, const int32_t *rfft_twiddle)
{
    const int32_t m = n_fft >> 1;
    /* X[0] = Re Z0 + Im Z0, X[M] = Re Z0 - Im Z0 (real) */
    const int32_t z0r = buf[0], z0i = buf[1];
    put_power(buf + 2 * m, z0r - z0i, 0);
    put_power(buf, z0r + z0i, 0);
    /* X[M/2] = conj Z[M/2] */
    put_power(buf + m, buf[m], buf[m + 1]);
    const int32_t *w = rfft_twiddle;
    for (int32_t k = 1; k < m / 2; k++, w += 2) {
        int32_t *pk = buf + 2 * k, *pm = buf + 2 * (m - k);
        const int32_t zkr = pk[0], zki = pk[1], zmr = pm[0], zmi = pm[1];
        const int32_t ar = zkr + zmr, ai = zki - zmi, br = zkr - zmr, bi = zki + zmi;
        /* u + j v = W B / 2 (Q31: each product rounded, SMMULR) */
        const int32_t u = ts_fe_smmulr(br, w[0]) + ts_fe_smmulr(bi, w[1]);
        const int32_t v = ts_fe_smmulr(bi, w[0]) - ts_fe_smmulr(br, w[1]);
        const int32_t har = ar >> 1, hai = ai >> 1; /* A / 2, floor */
        put_power(pk, har + v, hai - u);
        put_power(pm, har - v, -hai - u);
    }
}
