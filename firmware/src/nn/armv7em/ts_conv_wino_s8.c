/* CONV_2D with a 3x3 filter, stride 1, no dilation, one group, int8, Armv7E-M DSP, by Winograd F(2x2, 3x3) in
 * exact integer arithmetic (bit-exact with the reference ts_conv_s8).
 *
 * A 2x2 block of outputs ("tile") needs 4x4 input values per channel. With G' = 2 G (integer), the weights are
 * transformed into U = G' g G'^T (16 int16 per input/output channel pair, |U| <= 9 x 128): at run time into the
 * scratch from the int8 taps in flash (ts_armv7em_wino_weights; all output channel pairs, or TS_CONV_CHUNK of
 * them per pass, as the room free in the arena allows), or stored so by the compiler (TS_CONV_STORED_TRANSFORM,
 * `--prefer speed`: 3.6x the flash of the int8 weights); at run time
 * the 4x4 input patch into V = B^T d B (int16, |V| <= 512; SXTB16 then SADD16/SSUB16 on two channels at a
 * time); the 16 products of the Winograd domain are summed over the input channels, M = sum U . V, by the
 * 2x2 SMLAD blocks (ts_armv7em_wino_gemm: 2 output channels x 2 tiles, 16 positions); and A^T M A is exactly 4x the
 * convolution's sums. So 16 multiplies per tile and input/output channel instead of 36, all in integers,
 * wrap-around included (the compiler checks that 4 x the largest sum and the rest of the requantisation fit
 * int32). The results, halved, are the accumulators x 2 that the fast requantisation records expect.
 * Padding taps read the input zero point (cancelled by the folded bias); tiles may stick out of the output
 * (odd sizes): those outputs are not stored.
 *
 * Weights: compiler layout "wino s8 + rq": per output channel (padded to even) 9 k4 int8 words, the taps
 * [ky][kx][group of 4 input channels] (cin zero-padded); or, stored transformed, "wino s16 2ch x 16pos x k4 +
 * rq": for each output channel pair, for each of the 16 positions, k4 = ceil(cin / 4) groups of [c0(i0,i2)
 * c0(i1,i3) c1(i0,i2) c1(i1,i3)] int16 pairs. Then per output channel (padded to even) bias x 2, multiplier,
 * round, shift (ts_armv7em_rq_t).
 * Scratch: 16 columns of 2 tiles (16 x 16 k4 bytes), the 16 x 4 products (256 bytes), a border patch (16
 * pixels x 4 k4 bytes), and unless stored, the transformed weights of the pairs made per pass. */
#include "ts/nn.h"
#include "ts_armv7em.h"

static inline int32_t pairs_of(const ts_conv_params_t *p) { return (p->output.c + 1) >> 1; }

/* Output channel pairs transformed per pass. */
static inline int32_t chunk_of(const ts_conv_params_t *p)
{
    const int32_t n = TS_CONV_CHUNK_OF(p->flags);
    return n > 0 && n < pairs_of(p) ? n : pairs_of(p);
}

static inline int32_t stored(const ts_conv_params_t *p) { return p->flags & TS_CONV_STORED_TRANSFORM; }

int32_t ts_conv_wino_s8_get_buffer_size(const ts_conv_params_t *p)
{
    const int32_t k4 = (p->input.c + 3) >> 2;
    /* columns, products, a border patch; the transformed weights of a pass */
    return 16 * 16 * k4 + 256 + 16 * 4 * k4 + (stored(p) ? 0 : chunk_of(p) * 16 * k4 * 16);
}

/* The tile whose outputs start at (oy, ox) of image b -> lane (0 or 2) of the 16 columns. */
static void transform_tile(const ts_conv_params_t *p, const int8_t *input, int32_t b, int32_t oy, int32_t ox,
                           int32_t *cols, int32_t lane, int32_t k4, int8_t *edge)
{
    const int32_t in_h = p->input.h, in_w = p->input.w, in_c = p->input.c;
    const int32_t iy0 = oy - p->pad_top, ix0 = ox - p->pad_left;
    const int32_t stride = 4 * k4; /* words between two positions' columns */
    const int8_t *img = input + (size_t)b * in_h * in_w * in_c;
    if (iy0 >= 0 && iy0 + 4 <= in_h && ix0 >= 0 && ix0 + 4 <= in_w && (in_c & 3) == 0) {
        const ts_armv7em_wino_in_t a = {img + ((size_t)iy0 * in_w + ix0) * in_c, in_c, in_w * in_c, cols + lane, 4 * stride,
                                   k4};
        ts_armv7em_wino_in(&a);
        return;
    }
    /* at the border: the patch (4 x 4 pixels of 4 k4 channels, zero points outside, zeros past in_c) copied into
     * `edge` first, then transformed from there */
    const int32_t cp = 4 * k4;
    const uint32_t zp4 = 0x01010101u * (uint8_t)p->input_zero_point;
    for (int32_t r = 0; r < 4; r++) {
        for (int32_t c = 0; c < 4; c++) {
            int8_t *d = edge + (size_t)(4 * r + c) * cp;
            const int32_t iy = iy0 + r, ix = ix0 + c;
            if (iy < 0 || iy >= in_h || ix < 0 || ix >= in_w) {
                for (int32_t q = 0; q < cp; q += 4) ts_armv7em_write32(d + q, zp4);
                continue;
            }
            const int8_t *src = img + ((size_t)iy * in_w + ix) * in_c;
            int32_t q = 0;
            for (; q + 4 <= in_c; q += 4) ts_armv7em_write32(d + q, ts_armv7em_read32(src + q));
            for (; q < cp; q++) d[q] = q < in_c ? src[q] : 0;
        }
    }
    const ts_armv7em_wino_in_t a = {edge, cp, 4 * cp, cols + lane, 4 * stride, k4};
    ts_armv7em_wino_in(&a);
}

/* A^T m A of one channel and tile (m: the 16 products, stride 4) plus 4 bias2 (added to m[5], which enters
 * each of the four results once), halved: 2 x the convolution's sums + the folded bias x 2. */
TS_ARMV7EM_ALWAYS_INLINE void inverse(const int32_t *m, int32_t bias4, int32_t *y0, int32_t *y1, int32_t *y2, int32_t *y3)
{
    const uint32_t m0 = m[0], m1 = m[4], m2 = m[8], m3 = m[12], m4 = m[16], m5 = m[20] + (uint32_t)bias4;
    const uint32_t m6 = m[24], m7 = m[28], m8 = m[32], m9 = m[36], m10 = m[40], m11 = m[44];
    const uint32_t m12 = m[48], m13 = m[52], m14 = m[56], m15 = m[60];
    const uint32_t a0 = m0 + m4 + m8, a1 = m1 + m5 + m9, a2 = m2 + m6 + m10, a3 = m3 + m7 + m11;
    const uint32_t b0 = m4 - m8 - m12, b1 = m5 - m9 - m13, b2 = m6 - m10 - m14, b3 = m7 - m11 - m15;
    *y0 = (int32_t)(a0 + a1 + a2) >> 1;
    *y1 = (int32_t)(a1 - a2 - a3) >> 1;
    *y2 = (int32_t)(b0 + b1 + b2) >> 1;
    *y3 = (int32_t)(b1 - b2 - b3) >> 1;
}

TS_ARMV7EM_ALWAYS_INLINE void wino(const ts_conv_params_t *p, const int8_t *input, int8_t *output, void *scratch,
                              int clamp)
{
    const int32_t out_h = p->output.h, out_w = p->output.w, out_c = p->output.c;
    const int32_t k4 = (p->input.c + 3) >> 2, pairs = pairs_of(p), chunk = chunk_of(p);
    const int32_t th = (out_h + 1) >> 1, tw = (out_w + 1) >> 1, ntiles = p->input.n * th * tw;
    const int32_t pair_bytes = 16 * k4 * 16;                          /* a pair's 16 transformed weight blocks */
    const int32_t tap_words = 9 * k4;                                 /* a channel's int8 taps */
    const int32_t weight_bytes = stored(p) ? pairs * pair_bytes : 2 * pairs * tap_words * 4;
    const int32_t *rq = (const int32_t *)(const void *)(p->weights + weight_bytes); /* bias2 M R E */
    const int32_t lo = p->act_min, hi = p->act_max;
    const size_t row = (size_t)out_w * out_c;
    int32_t *cols = (int32_t *)scratch;
    int32_t *prod = cols + 16 * 4 * k4;
    int32_t *made = prod + 64 + 16 * k4; /* after the border patch: the pass's transformed weights */
    for (int32_t p0 = 0; p0 < pairs; p0 += chunk) {
    const int32_t p1 = p0 + chunk < pairs ? p0 + chunk : pairs;
    /* the pass's transformed weights: in flash from pair p0 on, or made here */
    const int8_t *u = p->weights + (size_t)p0 * pair_bytes;
    if (!stored(p)) {
        const int32_t *taps = (const int32_t *)(const void *)p->weights;
        for (int32_t pr = p0; pr < p1; pr++)
            ts_armv7em_wino_weights(taps + (size_t)(2 * pr) * tap_words, taps + (size_t)(2 * pr + 1) * tap_words,
                                    k4, made + (size_t)(pr - p0) * (pair_bytes >> 2));
        u = (const int8_t *)made;
    }
    for (int32_t t = 0; t < ntiles; t += 2) {
        const int32_t tb = t + 1 < ntiles ? t + 1 : t; /* an odd last tile fills both lanes */
        const int32_t tile[2] = {t, tb};
        int32_t b[2], oy[2], ox[2], full[2];
        int8_t *o[2];
        for (int32_t j = 0; j < 2; j++) {
            b[j] = tile[j] / (th * tw);
            oy[j] = 2 * ((tile[j] / tw) % th);
            ox[j] = 2 * (tile[j] % tw);
            full[j] = oy[j] + 2 <= out_h && ox[j] + 2 <= out_w;
            o[j] = output + ((size_t)(b[j] * out_h + oy[j]) * out_w + ox[j]) * out_c;
            transform_tile(p, input, b[j], oy[j], ox[j], cols, 2 * j, k4, (int8_t *)(prod + 64));
        }
        const int32_t ntile = tb == t ? 1 : 2;
        for (int32_t pr = p0; pr < p1; pr++) {
            const ts_armv7em_wino_t a = {cols, (const int32_t *)(const void *)(u + (pr - p0) * pair_bytes), k4, 0, prod};
            ts_armv7em_wino_gemm(&a);
            if (!clamp && ntile == 2 && full[0] && full[1] && 2 * pr + 1 < out_c) {
                const ts_armv7em_wino_out_t w = {prod, rq + 8 * pr, o[0] + 2 * pr, o[1] + 2 * pr, out_c, (int32_t)row};
                ts_armv7em_wino_out(&w);
                continue;
            }
            for (int32_t ch = 0; ch < 2; ch++) {
                const int32_t c = 2 * pr + ch;
                if (c >= out_c) break;
                const int32_t bias4 = 2 * rq[4 * c], m = rq[4 * c + 1], r = rq[4 * c + 2], e = rq[4 * c + 3];
                for (int32_t ti = 0; ti < ntile; ti++) {
                    int32_t y0, y1, y2, y3;
                    inverse(prod + 2 * ch + ti, bias4, &y0, &y1, &y2, &y3);
                    int32_t v[4] = {ts_armv7em_rq(y0, m, r, e), ts_armv7em_rq(y1, m, r, e), ts_armv7em_rq(y2, m, r, e),
                                    ts_armv7em_rq(y3, m, r, e)};
                    if (clamp) {
                        for (int32_t q = 0; q < 4; q++) v[q] = ts_clamp_i32(v[q], lo, hi);
                    }
                    int8_t *out = o[ti] + c;
                    if (full[ti]) {
                        out[0] = (int8_t)v[0], out[out_c] = (int8_t)v[1];
                        out[row] = (int8_t)v[2], out[row + out_c] = (int8_t)v[3];
                    } else {
                        for (int32_t q = 0; q < 4; q++) {
                            if (oy[ti] + (q >> 1) < out_h && ox[ti] + (q & 1) < out_w)
                                out[(q >> 1) * row + (q & 1) * out_c] = (int8_t)v[q];
                        }
                    }
                }
            }
        }
    }
    }
}

void ts_conv_wino_s8(const ts_conv_params_t *p, const int8_t *input, int8_t *output, void *scratch)
{
    if (p->act_min > INT8_MIN || p->act_max < INT8_MAX) {
        wino(p, input, output, scratch, 1);
    } else {
        wino(p, input, output, scratch, 0);
    }
}
