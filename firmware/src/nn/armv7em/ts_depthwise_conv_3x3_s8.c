/* DEPTHWISE_CONV_2D with a 3x3 filter (depth multiplier 1, no dilation, horizontal stride 1 or 2, left padding
 * <= 1), int8, Armv7E-M DSP; same numerics as the reference ts_depthwise_conv_s8 (bit-exact).
 *
 * SMLAD needs two taps of one channel in one word, while NHWC holds the channels of a pixel side by side. So
 * each input row is transposed once, when the window first reaches it, into int16 channel planes (SXTB16
 * and PKHBT/PKHTB on two pixels at a time), with the left and right padding columns holding the input zero
 * point; rows above or below the input read a plane of zero points. The transposed rows form a ring deep
 * enough for a block of R output rows (R from a scratch budget of TS_A7_DW_SCRATCH bytes), so that a channel's
 * weights and record are read once per block. Per channel and output row, two outputs per step:  out[x] += (in[x-1], in[x]) . (w0, w1)  [SMLAD]  + in[x+1] w2  [SMLABB]  and
 * out[x+1] += (in[x], in[x+1]) . (w0, w1) + in[x+2] w2  [SMLATB], over the three rows: 18 multiply-accumulates
 * in 21 instructions (stride 1). Requantisation fused, fast records as the convolutions'.
 *
 * Weights (compiler layout "dw3x3 s16 + rq"): a flags word (bit 0: the sweep is transposed, see geometry()),
 * then per channel 10 words: bias, for each filter row (column, transposed) the int16 pair (w0, w1) and
 * (w2, 0), then the requantisation record (ts/nn_armv7em.h). Scratch: the ring of transposed
 * rows and one row of zero points, each C planes x (input width + 2, rounded up to even) int16. */
#include "ts/nn.h"
#include "ts/nn_armv7em.h"

#define DW_WORDS 10

#define TS_A7_DW_SCRATCH 8192 /* bytes the ring may take beyond its minimum (one output row) */

static inline int32_t plane_len(int32_t w) { return w + 2 + (w & 1); }

/* The geometry the kernel sweeps: the image as it is, or transposed (the stream's first word says so, the
 * compiler having packed the filter transposed too): then "rows" are the input's columns, which suits tall
 * narrow inputs (fewer, longer sweeps). Strides in bytes. */
typedef struct {
    int32_t rows, px, out_rows, out_px; /* input rows / pixels per row, output likewise */
    int32_t row_step, px_step, out_row_step, out_px_step;
    int32_t sr, sp, pr, pp; /* stride and padding across rows and along them */
} dw_geo_t;

static dw_geo_t geometry(const ts_depthwise_conv_params_t *p)
{
    const int32_t C = p->input.c;
    const int tr = ((const int32_t *)(const void *)p->weights)[0] & 1;
    dw_geo_t g;
    if (tr) {
        g = (dw_geo_t){p->input.w, p->input.h, p->output.w, p->output.h, C, p->input.w * C, C, p->output.w * C,
                       p->stride_w, p->stride_h, p->pad_left, p->pad_top};
    } else {
        g = (dw_geo_t){p->input.h, p->input.w, p->output.h, p->output.w, p->input.w * C, C, p->output.w * C, C,
                       p->stride_h, p->stride_w, p->pad_top, p->pad_left};
    }
    return g;
}

/* Output rows per block: as many as the budget allows (at least 1, at most the output rows). */
static int32_t block_rows(const ts_depthwise_conv_params_t *p, const dw_geo_t *g)
{
    const int32_t row_bytes = p->input.c * plane_len(g->px) * 2;
    int32_t r = (TS_A7_DW_SCRATCH / row_bytes - 3) / g->sr + 1;
    const int32_t cap = 186 / g->sr + 1; /* ring_rows() <= 189: the kernel's table of row pointers */
    if (r > cap) r = cap;
    if (r > 32) r = 32;
    if (r < 1) r = 1;
    if (r > g->out_rows) r = g->out_rows;
    return r;
}

/* Ring slots for a block of r output rows: the input rows they read. */
static inline int32_t ring_rows(const dw_geo_t *g, int32_t r) { return (r - 1) * g->sr + 3; }

int32_t ts_depthwise_conv_3x3_s8_get_buffer_size(const ts_depthwise_conv_params_t *p)
{
    const dw_geo_t g = geometry(p);
    return (ring_rows(&g, block_rows(p, &g)) + 1) * p->input.c * plane_len(g.px) * 2;
}

TS_A7_ALWAYS_INLINE uint32_t pack_lo(uint32_t a, uint32_t b) { return (a & 0xFFFFu) | (b << 16); }
TS_A7_ALWAYS_INLINE uint32_t pack_hi(uint32_t a, uint32_t b) { return (b & 0xFFFF0000u) | (a >> 16); }

/* One input row (W pixels of C channels, px bytes apart) -> C planes of wp int16: plane[c][1 + x] = in[x][c]. */
static void transpose_row(const int8_t *row, int32_t W, int32_t C, int32_t px, int32_t wp, int16_t *dst)
{
    int32_t c = 0;
    for (; c + 4 <= C; c += 4) {
        int16_t *p0 = dst + (size_t)c * wp + 1, *p1 = p0 + wp, *p2 = p1 + wp, *p3 = p2 + wp;
        const int8_t *s = row + c;
        int32_t x = 0;
        for (; x + 2 <= W; x += 2, s += 2 * px) {
            const uint32_t v0 = ts_a7_read32(s), v1 = ts_a7_read32(s + px);
            uint32_t a = __sxtb16(v0), b = __sxtb16(v1); /* (x:c0, x:c2), (x+1:c0, x+1:c2) */
            ts_a7_write32(p0 + x, pack_lo(a, b));
            ts_a7_write32(p2 + x, pack_hi(a, b));
            a = ts_a7_sxtb16_ror8(v0), b = ts_a7_sxtb16_ror8(v1); /* channels c1, c3 */
            ts_a7_write32(p1 + x, pack_lo(a, b));
            ts_a7_write32(p3 + x, pack_hi(a, b));
        }
        if (x < W) p0[x] = s[0], p1[x] = s[1], p2[x] = s[2], p3[x] = s[3];
    }
    for (; c < C; c++) {
        int16_t *pl = dst + (size_t)c * wp + 1;
        for (int32_t x = 0; x < W; x++) pl[x] = row[(size_t)x * px + c];
    }
}

/* One row of taps: acc0 += (p[0], p[1]) . (w0, w1) + p[2] w2; acc1 += (p[1], p[2]) . (w0, w1) + p[3] w2. */
#define TS_DW_ROW2(pl, wr)                                                  \
    do {                                                                    \
        const uint32_t w01_ = (uint32_t)(wr)[0], w2_ = (uint32_t)(wr)[1];   \
        a0 = __smlad(ts_a7_read32(pl), w01_, a0);                           \
        a1 = __smlad(ts_a7_read32((pl) + 1), w01_, a1);                     \
        const uint32_t u2_ = ts_a7_read32((pl) + 2);                        \
        a0 = __smlabb(u2_, w2_, a0);                                        \
        a1 = __smlatb(u2_, w2_, a1);                                        \
    } while (0)

#define TS_DW_ROW1(pl, wr) \
    (a0 = __smlabb(ts_a7_read32((pl) + 2), (uint32_t)(wr)[1], __smlad(ts_a7_read32(pl), (uint32_t)(wr)[0], a0)))

/* One channel of one output row. p0..p2: the channel's planes of the window's rows, at the first output's
 * leftmost tap; ws: the channel's stream words. */
TS_A7_ALWAYS_INLINE void channel_row(int mode, int stride2, const int16_t *p0, const int16_t *p1, const int16_t *p2,
                                     const int32_t *ws, int8_t *out, int32_t C, int32_t ow, int32_t zp,
                                     int32_t lo, int32_t hi)
{
    const int32_t bias = ws[0];
    const int32_t m = ws[7], r = ws[8], e = ws[9];
    int32_t x = 0;
    if (!stride2) {
        for (; x + 2 <= ow; x += 2, p0 += 2, p1 += 2, p2 += 2) {
            int32_t a0 = bias, a1 = bias;
            TS_DW_ROW2(p0, ws + 1);
            TS_DW_ROW2(p1, ws + 3);
            TS_DW_ROW2(p2, ws + 5);
            int32_t y0, y1;
            if (mode == TS_A7_RQ_EXACT) {
                y0 = ts_a7_rq_record(mode, a0, ws + 7, zp, lo, hi), y1 = ts_a7_rq_record(mode, a1, ws + 7, zp, lo, hi);
            } else {
                y0 = ts_a7_rq(a0, m, r, e), y1 = ts_a7_rq(a1, m, r, e);
                if (mode == TS_A7_RQ_FAST_CLAMP) y0 = ts_clamp_i32(y0, lo, hi), y1 = ts_clamp_i32(y1, lo, hi);
            }
            out[0] = (int8_t)y0;
            out[C] = (int8_t)y1;
            out += 2 * C;
        }
    }
    for (; x < ow; x++, p0 += 1 + stride2, p1 += 1 + stride2, p2 += 1 + stride2, out += C) {
        int32_t a0 = bias;
        TS_DW_ROW1(p0, ws + 1);
        TS_DW_ROW1(p1, ws + 3);
        TS_DW_ROW1(p2, ws + 5);
        out[0] = ts_a7_rq_record(mode, a0, ws + 7, zp, lo, hi);
    }
}

TS_A7_ALWAYS_INLINE void dw(const ts_depthwise_conv_params_t *p, const int8_t *input, int8_t *output, void *scratch,
                            const int mode)
{
    const dw_geo_t g = geometry(p);
    const int32_t C = p->input.c, W = g.px, sh = g.sr;
    const int32_t wp = plane_len(W), rowsz = C * wp;
    const int16_t zp = (int16_t)p->input_zero_point;
    const int32_t off = 1 - g.pp; /* plane index of the first output's leftmost tap */
    const int stride2 = g.sp == 2;
    const int32_t *stream = (const int32_t *)(const void *)p->weights + 1;
    const int32_t out_zp = p->output_zero_point, lo = p->act_min, hi = p->act_max;
    const int32_t R = block_rows(p, &g), nslots = ring_rows(&g, R);
    int16_t *ring = (int16_t *)scratch; /* slots 0..nslots-1: input rows; slot nslots: zero points */
    int16_t *zrow = ring + nslots * rowsz;
    for (int32_t i = 0; i < rowsz; i++) zrow[i] = zp;
    for (int32_t sl = 0; sl < nslots; sl++) { /* padding columns, never overwritten */
        for (int32_t c = 0; c < C; c++) {
            int16_t *pl = ring + sl * rowsz + c * wp;
            pl[0] = zp;
            for (int32_t x = W + 1; x < wp; x++) pl[x] = zp;
        }
    }
    const int16_t *rows[189];
    int32_t held[189]; /* the input row each slot holds (slot = row mod nslots: blocks share their overlap) */
    for (int32_t b = 0; b < p->input.n; b++) {
        const int8_t *img = input + (size_t)b * p->input.h * p->input.w * C;
        int8_t *oimg = output + (size_t)b * p->output.h * p->output.w * C;
        for (int32_t i = 0; i < nslots; i++) held[i] = -1;
        for (int32_t oy0 = 0; oy0 < g.out_rows; oy0 += R) {
            const int32_t nr = g.out_rows - oy0 < R ? g.out_rows - oy0 : R;
            const int32_t iy0 = oy0 * sh - g.pr;
            for (int32_t i = 0; i < (nr - 1) * sh + 3; i++) { /* the block's input rows into the ring */
                const int32_t iy = iy0 + i;
                const int16_t *r = zrow;
                if (iy >= 0 && iy < g.rows) {
                    const int32_t sl = iy % nslots;
                    int16_t *slot = ring + sl * rowsz;
                    if (held[sl] != iy) {
                        transpose_row(img + (size_t)iy * g.row_step, W, C, g.px_step, wp, slot);
                        held[sl] = iy;
                    }
                    r = slot;
                }
                rows[i] = r;
            }
            int8_t *oblk = oimg + (size_t)oy0 * g.out_row_step;
            if (mode == TS_A7_RQ_FAST && !stride2) {
                ts_a7_dw_t a = {rows, 2 * off, stream, oblk, g.out_px_step, g.out_row_step, nr, g.out_px, sh};
                for (int32_t c = 0; c < C; c++, a.plane_offset += 2 * wp, a.stream += DW_WORDS, a.out++)
                    ts_a7_dw3x3_rows(&a);
                continue;
            }
            for (int32_t c = 0; c < C; c++) {
                const int32_t *ws = stream + c * DW_WORDS;
                const size_t o = (size_t)c * wp + off;
                int8_t *orow = oblk + c;
                for (int32_t r = 0; r < nr; r++, orow += g.out_row_step) {
                    const int16_t *const *w3 = rows + r * sh;
                    channel_row(mode, stride2, w3[0] + o, w3[1] + o, w3[2] + o, ws, orow, g.out_px_step, g.out_px,
                                out_zp, lo, hi);
                }
            }
        }
    }
}

void ts_depthwise_conv_3x3_s8(const ts_depthwise_conv_params_t *p, const int8_t *input, int8_t *output,
                              void *scratch)
{
    switch (ts_a7_rq_mode(&p->requant, p->act_min, p->act_max)) {
    case TS_A7_RQ_FAST: dw(p, input, output, scratch, TS_A7_RQ_FAST); break;
    case TS_A7_RQ_FAST_CLAMP: dw(p, input, output, scratch, TS_A7_RQ_FAST_CLAMP); break;
    default: dw(p, input, output, scratch, TS_A7_RQ_EXACT); break;
    }
}
