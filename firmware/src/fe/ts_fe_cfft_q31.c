/* Window and complex FFT (portable C, the reference of the armv7em/ and mve/ versions): decimation in
 * time, bit reversal folded into the first stage's reads, 32-bit values, a fixed shift per stage.
 *
 * Bounds (no value reaches 2^30): with k = 0, |v| <= 2^15 2^12 = 2^27, so |z| <= 2^27.5 and a first-stage
 * output has components <= 4 2^27 = 2^29 and magnitude <= 2^29.5; with k > 0 the energy bound of
 * ts_fe_frame_shift gives magnitude <= 2^29. A later radix-4 stage divides its inputs by 4 before adding
 * four of them (x0 / 4, twiddle products with Q30 twiddles), so its outputs are no larger than its inputs
 * (plus the roundings, a few units); the radix-2 stage likewise (x0 / 2, Q31 twiddles). At the end
 * |Z| <= sum |z| 2^(12 + k - s) <= 2^29 (k = 0: the Hann window sums to n_fft / 2) or the energy bound.
 * Below 2^30 no product with a radix-4 twiddle (twice an odd number) is a rounding tie. */
#include "ts/fe.h"
#include "ts_fe_internal.h"

/* (xr + j xi)(c - j s): (rnd(xr c) + rnd(xi s), rnd(xi c) - rnd(xr s)), rnd = SMMULR's rounding */
#define CMUL(xr, xi, c, s, yr, yi)                               \
    do {                                                         \
        (yr) = ts_fe_smmulr((xr), (c)) + ts_fe_smmulr((xi), (s)); \
        (yi) = ts_fe_smmulr((xi), (c)) - ts_fe_smmulr((xr), (s)); \
    } while (0)

/* Radix-4 butterfly on u0..u3 (already scaled) into y at stride h (complex units). */
static void butterfly(int32_t *y, int32_t h, int32_t u0r, int32_t u0i, int32_t u1r, int32_t u1i, int32_t u2r,
                      int32_t u2i, int32_t u3r, int32_t u3i)
{
    int32_t ar = u0r + u1r, ai = u0i + u1i, br = u0r - u1r, bi = u0i - u1i;
    int32_t cr = u2r + u3r, ci = u2i + u3i, dr = u2r - u3r, di = u2i - u3i;
    y[0] = ar + cr; /* y0 = a + c */
    y[1] = ai + ci;
    y[2 * h] = br + di; /* y1 = b - j d */
    y[2 * h + 1] = bi - dr;
    y[4 * h] = ar - cr; /* y2 = a - c */
    y[4 * h + 1] = ai - ci;
    y[6 * h] = br - di; /* y3 = b + j d */
    y[6 * h + 1] = bi + dr;
}

void ts_fe_cfft_q31(const int16_t *x, const int32_t *window, const int32_t *twiddle, int32_t n_fft, int32_t k,
                    int32_t *buf)
{
    const int32_t m = n_fft >> 1, lg = ts_fe_log2((uint32_t)m);
    const int32_t offs[4] = {0, m >> 1, m >> 2, 3 * (m >> 2)}; /* inputs of a first-stage butterfly */
    /* first stage: butterfly q reads complex r + offs[p], r = bit reversal of 4q; window values:
     * [q][input][even, odd sample] */
    for (int32_t q = 0; q < (m >> 2); q++) {
        const int32_t r = (int32_t)(ts_fe_rbit((uint32_t)(4 * q)) >> (32 - lg));
        const int32_t *w = window + 8 * q;
        int32_t u[8];
        for (int32_t p = 0; p < 4; p++) {
            const int32_t *wp = w + 2 * p;
            const int16_t *xp = x + 2 * (r + offs[p]);
            /* v = floor(x w / 2^16) 2^k = x w 2^(12 + k) (SMULWB, w Q28) */
            u[2 * p] = ts_fe_smulwb(wp[0], xp[0]) * (1 << k);
            u[2 * p + 1] = ts_fe_smulwb(wp[1], xp[1]) * (1 << k);
        }
        butterfly(buf + 8 * q, 1, u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7]);
    }
    /* radix-4 stages of length len: twiddles [i][W^2i, W^i, W^3i (cos, sin)] */
    const int32_t *tw = twiddle;
    int32_t len = 16;
    for (; len <= m; len <<= 2) {
        const int32_t h = len >> 2;
        for (int32_t blk = 0; blk < m; blk += len) {
            for (int32_t i = 0; i < h; i++) {
                const int32_t *t12 = tw + 6 * i, *t3 = t12 + 4;
                int32_t *p = buf + 2 * (blk + i);
                int32_t u1r, u1i, u2r, u2i, u3r, u3i;
                /* Q30 twiddles: each product is x W / 4, rounded; x0 / 4 floored */
                CMUL(p[2 * h], p[2 * h + 1], t12[0], t12[1], u1r, u1i);
                CMUL(p[4 * h], p[4 * h + 1], t12[2], t12[3], u2r, u2i);
                CMUL(p[6 * h], p[6 * h + 1], t3[0], t3[1], u3r, u3i);
                butterfly(p, h, p[0] >> 2, p[1] >> 2, u1r, u1i, u2r, u2i, u3r, u3i);
            }
        }
        tw += 6 * h;
    }
    if (lg & 1) ts_fe_radix2_stage(buf, m, tw); /* length m: x0 / 2 +- x1 W^i, Q31 twiddles */
    /* buf = DFT(z) 2^(12 + k - s), natural order */
}
