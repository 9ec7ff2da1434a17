/* CONV_2D, int8, Helium (same numerics as the reference ts_conv_s8, bit-exact).
 *
 * Output pixels two at a time: their receptive fields (int8) are gathered into two rows of the scratch (the
 * bytes past k up to whole 16-byte chunks are left as they are: their weights are zero), unless the filter
 * is 1x1 and the input pixels hold at least one chunk, where they are read in place (the last partial chunk
 * through a predicated load); then every block of 4 output channels is one 4x2 VMLADAVA dot product (128
 * multiply-accumulates per 16 instructions) and the vector requantisation of both pixels' 4 results, in
 * assembly (ts_mve_conv_pair). Padded taps hold the input zero point, which the folded bias cancels.
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
    (void)kp; /* the k padding: zero weights there, whatever the row holds */
}

void ts_conv_s8(const ts_conv_params_t *p, const int8_t *input, int8_t *output, void *scratch)
{
    const int32_t in_h = p->input.h, in_w = p->input.w, in_c = p->input.c;
    const int32_t kc = p->filter.c, out_c = p->output.c, out_h = p->output.h, out_w = p->output.w;
    const int32_t groups = in_c / kc, per_group = out_c / groups, pg4 = (per_group + 3) & ~3;
    const int32_t k = p->filter.h * p->filter.w * kc, n16 = (k + 15) >> 4, kp = 16 * n16;
    const int32_t npix = p->input.n * out_h * out_w;
    const int direct = ts_conv_is_unpadded_1x1(p) && k >= 16;
    /* fields read in place a filter row at a time: rows of whole chunks, one group, no horizontal dilation */
    const int32_t seg = p->filter.w * kc, line = in_w * in_c;
    const int by_rows = !direct && (seg & 15) == 0 && kc == in_c && p->dilation_w == 1;
    const int32_t span_h = (p->filter.h - 1) * p->dilation_h + 1, span_w = p->filter.w;
    int8_t *ra = (int8_t *)scratch, *rb = ra + kp;
    ts_mve_pair_t a;
    a.channels = per_group;
    a.zp = p->output_zero_point;
    a.act_min = p->act_min;
    a.act_max = p->act_max;
    for (int32_t g = 0; g < groups; g++) {
        a.w = p->weights + (size_t)g * (pg4 >> 2) * TS_MVE_BLOCK_BYTES(n16);
        pixel_t qa = {0, 0, 0};
        for (int32_t pix = 0; pix < npix; pix += 2) {
            pixel_t qb = qa;
            if (pix + 1 < npix && ++qb.ox == out_w) {
                qb.ox = 0;
                if (++qb.oy == out_h) qb.oy = 0, qb.b++;
            }
            const int32_t iya = qa.oy * p->stride_h - p->pad_top, ixa = qa.ox * p->stride_w - p->pad_left;
            const int32_t iyb = qb.oy * p->stride_h - p->pad_top, ixb = qb.ox * p->stride_w - p->pad_left;
            a.rows = 1, a.step = 0, a.chunks = n16, a.tail = 0;
            if (direct) {
                a.xa = input + ((size_t)(qa.b * in_h + qa.oy * p->stride_h) * in_w + qa.ox * p->stride_w) * in_c;
                a.xb = input + ((size_t)(qb.b * in_h + qb.oy * p->stride_h) * in_w + qb.ox * p->stride_w) * in_c;
                a.chunks = k >> 4, a.tail = k & 15;
            } else if (by_rows && iya >= 0 && iya + span_h <= in_h && ixa >= 0 && ixa + span_w <= in_w && iyb >= 0
                       && iyb + span_h <= in_h && ixb >= 0 && ixb + span_w <= in_w) {
                a.xa = input + ((size_t)(qa.b * in_h + iya) * in_w + ixa) * in_c;
                a.xb = input + ((size_t)(qb.b * in_h + iyb) * in_w + ixb) * in_c;
                a.rows = p->filter.h, a.chunks = seg >> 4, a.step = p->dilation_h * line - seg;
            } else {
                gather(p, input, &qa, g * kc, ra, kp);
                if (pix + 1 < npix) gather(p, input, &qb, g * kc, rb, kp);
                a.xa = ra;
                a.xb = pix + 1 < npix ? rb : ra;
            }
            a.out_a = output + (size_t)pix * out_c + g * per_group;
            a.out_b = pix + 1 < npix ? a.out_a + out_c : a.out_a;
            ts_mve_conv_pair(&a);
            qa = qb;
            if (++qa.ox == out_w) {
                qa.ox = 0;
                if (++qa.oy == out_h) qa.oy = 0, qa.b++;
            }
        }
    }
}
