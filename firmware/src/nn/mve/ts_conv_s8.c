/* CONV_2D, int8, Helium (same numerics as the reference ts_conv_s8, bit-exact).
 *
 * Output pixels two at a time: their receptive fields (int8, zero-padded to whole 16-byte chunks) are
 * gathered into two rows of the scratch, unless the filter is 1x1, where the input pixels are read in place
 * (the last chunk through a predicated load); then each block of 4 output channels is one 4x2 VMLADAVA dot product
 * (ts_mve_dot_4x2: 128 multiply-accumulates per 16 instructions) and the vector requantisation of both
 * pixels' 4 results (ts_mve_requant), stored as 4 bytes (fewer for the last block of an odd channel count).
 * Padded taps hold the input zero point, which the folded bias cancels.
 *
 * Weights: layout "s8 4ch x k16 + rq" (mve/ts_mve.h), per group of channels. Scratch: two rows of 16 ceil(k/16)
 * bytes. */
#include "ts/nn.h"
#include "ts_mve.h"

int32_t ts_conv_s8_get_buffer_size(const ts_conv_params_t *p)
{
    return 2 * 16 * ((p->filter.h * p->filter.w * p->filter.c + 15) >> 4);
}

typedef struct {
    int32_t b, oy, ox;
} pixel_t;

/* The receptive field of pixel q (channels [c0, c0 + kc)) into row (kp bytes, zero-padded). */
static void gather(const ts_conv_params_t *p, const int8_t *input, const pixel_t *q, int32_t c0, int8_t *row,
                   int32_t kp)
{
    const int32_t in_h = p->input.h, in_w = p->input.w, in_c = p->input.c;
    const int32_t kh = p->filter.h, kw = p->filter.w, kc = p->filter.c, dw = p->dilation_w;
    const int32_t iy0 = q->oy * p->stride_h - p->pad_top, ix0 = q->ox * p->stride_w - p->pad_left;
    const int8_t zp = (int8_t)p->input_zero_point;
    if (dw == 1 && kc == in_c && ix0 >= 0 && ix0 + kw <= in_w && iy0 >= 0 && iy0 + (kh - 1) * p->dilation_h < in_h) {
        const int32_t seg = kw * kc; /* inside: kh rows of seg contiguous bytes */
        const int8_t *src = input + ((size_t)(q->b * in_h + iy0) * in_w + ix0) * in_c;
        const size_t step = (size_t)p->dilation_h * in_w * in_c;
        int8_t *d = row;
        for (int32_t ky = 0; ky < kh; ky++, src += step, d += seg) ts_mve_copy(d, src, seg);
        ts_mve_fill(d, 0, kp - kh * seg);
        return;
    }
    int32_t kx0 = 0, kx1 = kw;
    while (kx0 < kx1 && ix0 + kx0 * dw < 0) kx0++;
    while (kx1 > kx0 && ix0 + (kx1 - 1) * dw >= in_w) kx1--;
    int8_t *d = row;
    for (int32_t ky = 0; ky < kh; ky++) {
        const int32_t iy = iy0 + ky * p->dilation_h;
        if (iy < 0 || iy >= in_h) {
            ts_mve_fill(d, zp, kw * kc);
            d += kw * kc;
            continue;
        }
        const int8_t *src = input + ((size_t)(q->b * in_h + iy) * in_w) * in_c + c0;
        ts_mve_fill(d, zp, kx0 * kc);
        d += kx0 * kc;
        if (dw == 1 && kc == in_c) {
            ts_mve_copy(d, src + (size_t)(ix0 + kx0) * in_c, (kx1 - kx0) * kc);
            d += (kx1 - kx0) * kc;
        } else {
            for (int32_t kx = kx0; kx < kx1; kx++, d += kc) ts_mve_copy(d, src + (size_t)(ix0 + kx * dw) * in_c, kc);
        }
        ts_mve_fill(d, zp, (kw - kx1) * kc);
        d += (kw - kx1) * kc;
    }
    ts_mve_fill(d, 0, kp - (int32_t)(d - row)); /* k padding: zero weights there */
}

void ts_conv_s8(const ts_conv_params_t *p, const int8_t *input, int8_t *output, void *scratch)
{
    const int32_t in_h = p->input.h, in_w = p->input.w, in_c = p->input.c;
    const int32_t kc = p->filter.c, out_c = p->output.c, out_h = p->output.h, out_w = p->output.w;
    const int32_t groups = in_c / kc, per_group = out_c / groups, pg4 = (per_group + 3) & ~3;
    const int32_t k = p->filter.h * p->filter.w * kc, n16 = (k + 15) >> 4, kp = 16 * n16;
    const int32_t npix = p->input.n * out_h * out_w;
    const int direct = ts_conv_is_unpadded_1x1(p);
    const int32_t zp = p->output_zero_point;
    const int32x4_t lo = vdupq_n_s32(p->act_min), hi = vdupq_n_s32(p->act_max);
    int8_t *ra = (int8_t *)scratch, *rb = ra + kp;
    for (int32_t g = 0; g < groups; g++) {
        const int8_t *wg = p->weights + (size_t)g * (pg4 >> 2) * TS_MVE_BLOCK_BYTES(n16);
        pixel_t qa = {0, 0, 0};
        for (int32_t pix = 0; pix < npix; pix += 2) {
            pixel_t qb = qa;
            if (pix + 1 < npix && ++qb.ox == out_w) {
                qb.ox = 0;
                if (++qb.oy == out_h) qb.oy = 0, qb.b++;
            }
            const int8_t *xa, *xb;
            if (direct) {
                xa = input + ((size_t)(qa.b * in_h + qa.oy * p->stride_h) * in_w + qa.ox * p->stride_w) * in_c;
                xb = input + ((size_t)(qb.b * in_h + qb.oy * p->stride_h) * in_w + qb.ox * p->stride_w) * in_c;
            } else {
                gather(p, input, &qa, g * kc, ra, kp);
                if (pix + 1 < npix) gather(p, input, &qb, g * kc, rb, kp);
                xa = ra;
                xb = pix + 1 < npix ? rb : ra;
            }
            int8_t *out_a = output + (size_t)pix * out_c + g * per_group;
            int8_t *out_b = pix + 1 < npix ? out_a + out_c : out_a;
            const int8_t *w = wg;
            for (int32_t c = 0; c < per_group; c += 4, w += TS_MVE_BLOCK_BYTES(n16)) {
                int32x4_t va, vb;
                if (direct) { /* rows of in_c bytes read in place, the last chunk predicated */
                    ts_mve_dot_4x2_tail(xa, xb, w, k >> 4, k & 15, &va, &vb);
                } else {
                    ts_mve_dot_4x2(xa, xb, w, n16, &va, &vb);
                }
                const ts_mve_rq_t r = ts_mve_rq_load(w + 64 * n16);
                va = ts_mve_requant(va, &r, zp, lo, hi);
                vb = ts_mve_requant(vb, &r, zp, lo, hi);
                const mve_pred16_t m = vctp32q((uint32_t)(per_group - c));
                vstrbq_p_s32(out_b + c, vb, m);
                vstrbq_p_s32(out_a + c, va, m);
            }
            qa = qb;
            if (++qa.ox == out_w) {
                qa.ox = 0;
                if (++qa.oy == out_h) qa.oy = 0, qa.b++;
            }
        }
    }
}
