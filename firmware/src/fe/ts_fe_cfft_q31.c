/* Complex FFT, forward, in place: radix-4 decimation in frequency (each radix-4 butterfly is two
 * radix-2 DIF stages with one twiddle product per output, so the output is in bit-reversed order),
 * a radix-2 stage when log2(n) is odd, then the bit-reversal permutation.
 *
 * Block floating point from bounds: every value of a stage is a partial DFT of the input, so its
 * magnitude is at most min(4^stage * max|z|, sum|z|). Before each stage the shift (0..2 bits) that
 * keeps the stage's outputs below 2^29 is chosen from these bounds, and applied inside the butterfly
 * (Q30 twiddles: a 2-bit stage rounds each product term to the new scale, SMMULR + SMMLAR; other
 * shifts use exact 64-bit sums rounded once). Early stages, where the values
 * are still small, keep every bit: the rounding noise sits at the final scale only. The bounds
 * depend on the data only through mag_bound and sum_bound, so host and device agree bit for bit. */
#include "ts/fe.h"
#include "ts_fe_internal.h"

#define LIMIT ((1u << 29) - (1u << 16)) /* stage inputs below 2^29: sums of four fit in int32 */

static void bit_reverse(int32_t *restrict z, int32_t n)
{
    const int bits = 32 - __builtin_ctz((uint32_t)n); /* 32 - log2(n) */
    for (uint32_t i = 1; i < (uint32_t)n - 1; i++) {
        uint32_t j = ts_fe_rbit(i) >> bits;
        if (i < j) {
            int32_t ar = z[2 * i], ai = z[2 * i + 1], br = z[2 * j], bi = z[2 * j + 1];
            z[2 * i] = br;
            z[2 * i + 1] = bi;
            z[2 * j] = ar;
            z[2 * j + 1] = ai;
        }
    }
}

/* (a + jb)(c - js) / 2^(30 + sh), exactly rounded: the forward twiddle e^{-j theta}, c = cos,
 * s = sin in Q30 (64-bit products; the general path for stages that shift by 0, 1 or 3 bits). */
#define CMUL_SHIFT(a, b, c, s, sh, re, im)                                  \
    do {                                                                    \
        int64_t r_ = ((int64_t)1 << (29 + (sh))) + (int64_t)(a) * (c);      \
        int64_t i_ = ((int64_t)1 << (29 + (sh))) + (int64_t)(b) * (c);      \
        r_ += (int64_t)(b) * (s);                                           \
        i_ -= (int64_t)(a) * (s);                                           \
        (re) = (int32_t)(r_ >> (30 + (sh)));                                \
        (im) = (int32_t)(i_ >> (30 + (sh)));                                \
    } while (0)

/* The same product for sh = 2 with two roundings: round(a c / 2^32) + round(b s / 2^32) (one
 * SMMULR + one SMMLAR / SMMLSR per component on Armv7E-M). */
#define CMUL_Q2(a, b, c, s, re, im)                     \
    do {                                                \
        (re) = ts_fe_smmlar((b), (s), ts_fe_smmulr((a), (c))); \
        (im) = ts_fe_smmlsr((a), (s), ts_fe_smmulr((b), (c))); \
    } while (0)

/* x / 2^sh rounded (sh = 0: x) */
#define RSH(x, sh) ((sh) ? (((x) + (1 << ((sh) - 1))) >> (sh)) : (x))

/* Radix-4 DIF butterflies on (p0, p1, p2, p3) = p[0], p[q], p[2q], p[3q] (complex), written so
 * that few values are live at once (Cortex-M4 has 13 free registers): the outputs leave one after
 * the other. Outputs scaled by 2^-sh, rounded: Q(input) - sh. */

/* i = 0: every twiddle is 1. */
static inline __attribute__((always_inline)) void butterfly_0(int32_t *restrict p0, int32_t *restrict p1,
                                                              int32_t *restrict p2, int32_t *restrict p3,
                                                              const int sh)
{
    int32_t x0r = p0[0], x0i = p0[1], x2r = p2[0], x2i = p2[1];
    /* partial DFTs of the input: |.| <= 4 max|input| < 2^31 (same Q as the input) */
    int32_t t0r = x0r + x2r, t0i = x0i + x2i, t1r = x0r - x2r, t1i = x0i - x2i;
    int32_t x1r = p1[0], x1i = p1[1], x3r = p3[0], x3i = p3[1];
    int32_t t2r = x1r + x3r, t2i = x1i + x3i, t3r = x1r - x3r, t3i = x1i - x3i;
    p0[0] = RSH(t0r + t2r, sh);
    p0[1] = RSH(t0i + t2i, sh);
    p1[0] = RSH(t0r - t2r, sh);
    p1[1] = RSH(t0i - t2i, sh);
    p2[0] = RSH(t1r + t3i, sh); /* t1 - j t3 */
    p2[1] = RSH(t1i - t3r, sh);
    p3[0] = RSH(t1r - t3i, sh); /* t1 + j t3 */
    p3[1] = RSH(t1i + t3r, sh);
}

/* i > 0: w = W^i, W^2i, W^3i as (cos, sin) Q30. */
static inline __attribute__((always_inline)) void butterfly_w(int32_t *restrict p0, int32_t *restrict p1,
                                                              int32_t *restrict p2, int32_t *restrict p3,
                                                              const int32_t *restrict w, const int sh)
{
    int32_t x0r = p0[0], x0i = p0[1], x2r = p2[0], x2i = p2[1];
    int32_t t0r = x0r + x2r, t0i = x0i + x2i, t1r = x0r - x2r, t1i = x0i - x2i;
    int32_t x1r = p1[0], x1i = p1[1], x3r = p3[0], x3i = p3[1];
    int32_t t2r = x1r + x3r, t2i = x1i + x3i, t3r = x1r - x3r, t3i = x1i - x3i;
    p0[0] = RSH(t0r + t2r, sh);
    p0[1] = RSH(t0i + t2i, sh);
    int32_t ar = t0r - t2r, ai = t0i - t2i; /* -> times W^2i */
    /* each twiddle pair is loaded only when its product is next (keeps the registers free) */
    w = TS_FE_AFTER(w, ar);
    int32_t y1r, y1i;
    if (sh == 2) {
        CMUL_Q2(ar, ai, w[2], w[3], y1r, y1i);
    } else {
        CMUL_SHIFT(ar, ai, w[2], w[3], sh, y1r, y1i);
    }
    p1[0] = y1r;
    p1[1] = y1i;
    /* t1, t3 are combined only now (scheduling hint, no code) */
    TS_FE_HOLD4(t1r, t1i, t3r, t3i, y1i);
    int32_t br = t1r + t3i, bi = t1i - t3r; /* t1 - j t3 -> times W^i */
    w = TS_FE_AFTER(w, br);
    if (sh == 2) {
        CMUL_Q2(br, bi, w[0], w[1], p2[0], p2[1]);
    } else {
        CMUL_SHIFT(br, bi, w[0], w[1], sh, p2[0], p2[1]);
    }
    int32_t cr = t1r - t3i, ci = t1i + t3r; /* t1 + j t3 -> times W^3i */
    w = TS_FE_AFTER(w, cr);
    if (sh == 2) {
        CMUL_Q2(cr, ci, w[4], w[5], p3[0], p3[1]);
    } else {
        CMUL_SHIFT(cr, ci, w[4], w[5], sh, p3[0], p3[1]);
    }
}

/* One radix-4 DIF stage of length len with output shift sh (a constant after inlining): blocks of
 * len values; in each, butterflies i = 0..len/4-1, the twiddles of i >= 1 packed in `tw` as
 * W^i, W^2i, W^3i (cos, sin) one after another. */
static inline __attribute__((always_inline)) void radix4_stage(int32_t *restrict z, int32_t n, int32_t len,
                                                               const int32_t *restrict tw, const int sh)
{
    const int32_t q2 = len >> 1; /* a quarter of len, in int32 units */
    if (len == 4) {
        for (int32_t *p = z, *end = z + 2 * n; p < end; p += 8) butterfly_0(p, p + 2, p + 4, p + 6, sh);
        return;
    }
    for (int32_t blk = 0; blk < n; blk += len) {
        int32_t *p0 = z + 2 * blk, *p1 = p0 + q2, *p2 = p1 + q2, *p3 = p2 + q2;
        int32_t *const end = p1;
        butterfly_0(p0, p1, p2, p3, sh);
        const int32_t *w = tw;
        for (p0 += 2, p1 += 2, p2 += 2, p3 += 2; p0 < end; p0 += 2, p1 += 2, p2 += 2, p3 += 2, w += 6)
            butterfly_w(p0, p1, p2, p3, w, sh);
    }
}

static inline uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

/* Shift that brings bound g to at most LIMIT (0..3 bits for g <= 4 (LIMIT + 1)). */
static int stage_shift(uint64_t g)
{
    int sh = 0;
    while ((g >> sh) + 1 > LIMIT) sh++;
    return sh;
}

int32_t ts_fe_cfft_q31(int32_t *z, int32_t n, const int32_t *twiddle, uint32_t mag_bound, uint64_t sum_bound)
{
    /* b: bound on |value| (inputs: mag_bound <= LIMIT), sum: bound on sum |value| */
    uint64_t b = mag_bound, sum = sum_bound;
    int32_t total = 0;
    int32_t len = n;
    const int32_t *tw = twiddle;
    for (; len >= 4; len >>= 2) {
        uint64_t g = min_u64(4 * b, sum);
        int sh = stage_shift(g);
        /* a 1-bit stage with twiddles shifts 2 bits instead (the fast SMMULR path; safe, and the
         * last, twiddle-free stage then shifts one bit less: the same total) */
        if (sh == 1 && len > 4) sh = 2;
        if (sh == 0)
            radix4_stage(z, n, len, tw, 0);
        else if (sh == 1)
            radix4_stage(z, n, len, tw, 1);
        else if (sh == 2)
            radix4_stage(z, n, len, tw, 2);
        else
            radix4_stage(z, n, len, tw, 3); /* only at the edge of the range */
        tw += 6 * ((len >> 2) - 1);
        /* rounding moves each value by < 1 (twiddle product and shift) */
        b = (g >> sh) + 1;
        sum = (sum >> sh) + 2 * (uint64_t)n;
        total += sh;
    }
    if (len == 2) {
        uint64_t g = min_u64(2 * b, sum);
        int sh = stage_shift(g);
        for (int32_t j = 0; j < n; j += 2) {
            int32_t *p0 = z + 2 * j, *p1 = p0 + 2;
            int32_t dr = p0[0] - p1[0], di = p0[1] - p1[1];
            int32_t sr = p0[0] + p1[0], si = p0[1] + p1[1];
            p0[0] = RSH(sr, sh);
            p0[1] = RSH(si, sh);
            p1[0] = RSH(dr, sh);
            p1[1] = RSH(di, sh);
        }
        total += sh;
    }
    bit_reverse(z, n);
    /* out = DFT(in) / 2^total, every |out| < 2^29 */
    return total;
}
