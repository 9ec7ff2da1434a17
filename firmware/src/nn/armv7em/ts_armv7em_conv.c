/* The Armv7E-M convolution (support of ts_conv_s8 and ts_conv_widened_s8: same numerics as the reference
 * ts_conv_s8, bit-exact).
 *
 * Output pixels are taken two at a time: their receptive fields are gathered (im2col) and widened to int16
 * into one interleaved 2-pixel column of the scratch; then every pair of output channels is one 2x2 SMLAD
 * block (16 multiply-accumulates per 10 instructions) followed by the requantisation of its four results
 * (ts_armv7em_mat_mult_2x2, or ts_armv7em_conv_channels for the clamped and exact modes). When the filter's channels
 * are whole groups of 4 (kc % 4 == 0) the fields are widened straight from the input, taps in the padding
 * getting the input zero point (cancelled by the folded bias); otherwise each field is first gathered as
 * int8 and widened as a whole.
 *
 * Weights (compiler layout "s8 2ch x k4 + rq", armv7em/ts_armv7em.h): per group of output channels, channels
 * padded to an even count, each pair of channels as its bias pair, n4 = ceil(k / 4) groups of the two
 * channels' int8 words (k in OHWI order, zero-padded to 4 n4) and the two requantisation records; with `wide`
 * the same stream widened into RAM ("s16 2ch x k4 + rq", ts_armv7em_widen_stream).
 * Scratch (ts_armv7em_conv_scratch): the 2-pixel column (16 n4 bytes), two int8 gather rows (8 n4 bytes), the
 * pair rows or the field rows (see below). */
#include <string.h>

#include "ts/nn.h"
#include "ts_armv7em.h"

/* Short copies and fills inline: GCC would turn these loops into memcpy/memset calls, which cost more than
 * the few words a receptive-field row has. */
#define NO_LIBCALL __attribute__((optimize("no-tree-loop-distribute-patterns")))

#define TS_ARMV7EM_CONV_RING_MAX 16384 /* bytes the pair rows may take */

/* Pair rows: when the filter reads whole groups of the input's channels without dilation, each input row is
 * widened once into its "pair row": for every column u of the padded row, [A(k0,k2) A(k1,k3) B(k0,k2)
 * B(k1,k3)] per group of 4 channels, A being input column u - pad_left and B column u - pad_left + stride_w
 * (the zero point outside the input). The column of an output pixel pair (x, x + 1) on a filter row is then
 * the pair row's u in [x stride_w, x stride_w + kw): a plain copy. A ring of kh pair rows (slot = input row
 * mod kh) follows the output rows down. */
static inline int32_t ring_width(const ts_conv_params_t *p) { return (p->output.w - 1) * p->stride_w + p->filter.w; }

static inline int32_t ring_bytes(const ts_conv_params_t *p) { return p->filter.h * ring_width(p) * 4 * p->input.c; }

static inline int use_ring(const ts_conv_params_t *p)
{
    return !(p->flags & TS_CONV_COMPACT) && p->filter.c == p->input.c && (p->input.c & 3) == 0 && p->dilation_h == 1 && p->dilation_w == 1
           && p->filter.h <= 16 && ring_bytes(p) <= TS_ARMV7EM_CONV_RING_MAX;
}

/* Field rows: otherwise, when the filter reads all the input's channels without dilation and a filter row is
 * whole groups of 4 (kw in_c % 4 == 0, e.g. one channel and 4 taps), the image is widened once, before the
 * pixels, into a table of out_w columns per padded input row: the ng = kw in_c / 4 groups of the filter row
 * that output column ox reads, (k0, k2) (k1, k3) per group, the zero point outside the input. The lane of
 * a pixel on filter row ky is then one entry of the table (row oy stride_h + ky): a copy of 2 ng words. */
#define TS_ARMV7EM_CONV_FIELD_MAX 16384 /* bytes the field rows may take */

static inline int32_t field_rows(const ts_conv_params_t *p) { return (p->output.h - 1) * p->stride_h + p->filter.h; }

static inline int32_t field_table_bytes(const ts_conv_params_t *p)
{
    return field_rows(p) * p->output.w * 2 * p->filter.w * p->input.c;
}

/* the table, then one padded input row (the columns the table reads), whole words */
static inline int32_t field_bytes(const ts_conv_params_t *p)
{
    return field_table_bytes(p) + ((((p->output.w - 1) * p->stride_w + p->filter.w) * p->input.c + 3) & ~3);
}

static inline int use_field(const ts_conv_params_t *p)
{
    return !(p->flags & TS_CONV_COMPACT) && !use_ring(p) && p->filter.c == p->input.c && ((p->filter.w * p->input.c) & 3) == 0
           && p->dilation_h == 1 && p->dilation_w == 1 && field_table_bytes(p) <= TS_ARMV7EM_CONV_FIELD_MAX;
}

int32_t ts_armv7em_conv_scratch(const ts_conv_params_t *p)
{
    const int32_t n4 = (p->filter.h * p->filter.w * p->filter.c + 3) >> 2;
    /* column, two int8 rows, pair rows or field rows */
    return 24 * n4 + (use_ring(p) ? ring_bytes(p) : use_field(p) ? field_bytes(p) : 0);
}

typedef struct {
    int32_t b, oy, ox;
} pixel_t;

/* The geometry of one call, read once from the parameter block. */
typedef struct {
    const int8_t *input;
    int32_t in_h, in_w, in_c, kh, kw, kc, sh, sw, dh, dw, pt, pl, out_h, out_w;
    int32_t row; /* kw * kc: bytes of a filter row */
    int32_t n4;  /* groups of 4 in k */
    int32_t zp2; /* the input zero point as an int16 pair */
    int8_t zp;
    int32_t line;  /* bytes of an input row */
    int32_t plane; /* bytes of an input image */
    int32_t ring_w; /* pair rows: columns u */
} geo_t;

static inline void next_pixel(pixel_t *q, const geo_t *g)
{
    if (++q->ox == g->out_w) {
        q->ox = 0;
        if (++q->oy == g->out_h) {
            q->oy = 0;
            q->b++;
        }
    }
}

TS_ARMV7EM_ALWAYS_INLINE NO_LIBCALL void fill_words(int32_t *dst, int32_t v, int32_t n)
{
    for (int32_t i = 0; i < n; i++) dst[i] = v;
}

/* n words of the zero-point pair into one lane (2 words every 4). */
TS_ARMV7EM_ALWAYS_INLINE NO_LIBCALL void fill_lane(int32_t *lane, int32_t v, int32_t groups)
{
    for (int32_t i = 0; i < groups; i++, lane += 4) lane[0] = lane[1] = v;
}

TS_ARMV7EM_ALWAYS_INLINE NO_LIBCALL void copy_bytes(int8_t *dst, const int8_t *src, int32_t n)
{
    if (n >= 4) { /* whole words, the last one overlapping */
        int32_t i = 0;
        for (; i + 4 <= n; i += 4) ts_armv7em_write32(dst + i, ts_armv7em_read32(src + i));
        if (i < n) ts_armv7em_write32(dst + n - 4, ts_armv7em_read32(src + n - 4));
        return;
    }
    for (int32_t i = 0; i < n; i++) dst[i] = src[i];
}

TS_ARMV7EM_ALWAYS_INLINE NO_LIBCALL void fill_bytes(int8_t *dst, int8_t v, int32_t n)
{
    const uint32_t v4 = 0x01010101u * (uint8_t)v;
    for (; n >= 4; n -= 4, dst += 4) ts_armv7em_write32(dst, v4);
    for (; n > 0; n--) *dst++ = v;
}

/* Taps [kx0, kx1) of a filter row that fall inside the input row, for the field starting at ix0. */
static inline void inside_taps(const geo_t *g, int32_t ix0, int32_t *kx0, int32_t *kx1)
{
    int32_t a = 0, b = g->kw;
    while (a < b && ix0 + a * g->dw < 0) a++;
    while (b > a && ix0 + (b - 1) * g->dw >= g->in_w) b--;
    *kx0 = a;
    *kx1 = b;
}

/* kc % 4 == 0, any position: the field of pixel q (channels [c0, c0 + kc)) widened straight from the input
 * into one lane of the column; taps in the padding get the input zero point. */
static NO_LIBCALL void lane_direct(const geo_t *g, const pixel_t *q, int32_t c0, int32_t *lane)
{
    const int32_t iy0 = q->oy * g->sh - g->pt, ix0 = q->ox * g->sw - g->pl;
    const int32_t tap = g->kc >> 2;
    int32_t kx0, kx1;
    inside_taps(g, ix0, &kx0, &kx1);
    for (int32_t ky = 0; ky < g->kh; ky++) {
        const int32_t iy = iy0 + ky * g->dh;
        if (iy < 0 || iy >= g->in_h) {
            fill_lane(lane, g->zp2, g->kw * tap);
            lane += 4 * g->kw * tap;
            continue;
        }
        const int8_t *row = g->input + (size_t)q->b * g->plane + (size_t)iy * g->line + c0;
        fill_lane(lane, g->zp2, kx0 * tap);
        lane += 4 * kx0 * tap;
        if (g->dw == 1 && g->kc == g->in_c) {
            ts_armv7em_widen_lane(row + (ix0 + kx0) * g->in_c, (kx1 - kx0) * tap, lane);
            lane += 4 * (kx1 - kx0) * tap;
        } else {
            for (int32_t kx = kx0; kx < kx1; kx++, lane += 4 * tap)
                ts_armv7em_widen_lane(row + (ix0 + kx * g->dw) * g->in_c, tap, lane);
        }
        fill_lane(lane, g->zp2, (g->kw - kx1) * tap);
        lane += 4 * (g->kw - kx1) * tap;
    }
}

/* Any shape and position: the field of pixel q as int8 into col8 (k bytes, zero-padded to 4 n4). */
static NO_LIBCALL void gather(const geo_t *g, const pixel_t *q, int32_t c0, int8_t *col8)
{
    const int32_t iy0 = q->oy * g->sh - g->pt, ix0 = q->ox * g->sw - g->pl;
    const int32_t kw = g->kw, kc = g->kc;
    int32_t kx0, kx1;
    inside_taps(g, ix0, &kx0, &kx1);
    int8_t *dst = col8;
    for (int32_t ky = 0; ky < g->kh; ky++) {
        const int32_t iy = iy0 + ky * g->dh;
        if (iy < 0 || iy >= g->in_h) {
            fill_bytes(dst, g->zp, g->row);
            dst += g->row;
            continue;
        }
        const int8_t *row = g->input + (size_t)q->b * g->plane + (size_t)iy * g->line + c0;
        fill_bytes(dst, g->zp, kx0 * kc);
        dst += kx0 * kc;
        if (g->dw == 1 && kc == g->in_c) {
            copy_bytes(dst, row + (ix0 + kx0) * g->in_c, (kx1 - kx0) * kc);
            dst += (kx1 - kx0) * kc;
        } else {
            for (int32_t kx = kx0; kx < kx1; kx++, dst += kc) copy_bytes(dst, row + (ix0 + kx * g->dw) * g->in_c, kc);
        }
        fill_bytes(dst, g->zp, (kw - kx1) * kc);
        dst += (kw - kx1) * kc;
    }
    fill_bytes(dst, 0, 4 * g->n4 - (int32_t)(dst - col8)); /* k padding: zero weights there */
}

/* Rows of whole groups (kw kc % 4 == 0, one group of channels, no horizontal dilation), any position: the field
 * of pixel q widened row by row into one lane, rows partly outside first completed in `tmp` (row bytes). */
static NO_LIBCALL void lane_rows(const geo_t *g, const pixel_t *q, int32_t *lane, int8_t *tmp)
{
    const int32_t iy0 = q->oy * g->sh - g->pt, ix0 = q->ox * g->sw - g->pl;
    const int32_t ng = g->row >> 2;
    int32_t kx0, kx1;
    inside_taps(g, ix0, &kx0, &kx1);
    for (int32_t ky = 0; ky < g->kh; ky++, lane += 4 * ng) {
        const int32_t iy = iy0 + ky * g->dh;
        if (iy < 0 || iy >= g->in_h) {
            fill_lane(lane, g->zp2, ng);
            continue;
        }
        const int8_t *src = g->input + (size_t)q->b * g->plane + (size_t)iy * g->line + (ptrdiff_t)ix0 * g->in_c;
        if (!(kx0 == 0 && kx1 == g->kw)) {
            fill_bytes(tmp, g->zp, kx0 * g->kc);
            copy_bytes(tmp + kx0 * g->kc, src + kx0 * g->kc, (kx1 - kx0) * g->kc);
            fill_bytes(tmp + kx1 * g->kc, g->zp, (g->kw - kx1) * g->kc);
            src = tmp;
        }
        if (ng == 1) { /* e.g. one channel, 4 taps: one word */
            const uint32_t v = ts_armv7em_read32(src);
            lane[0] = (int32_t)__sxtb16(v);
            lane[1] = (int32_t)ts_armv7em_sxtb16_ror8(v);
        } else {
            ts_armv7em_widen_lane(src, ng, lane);
        }
    }
}

/* Receptive fields of pixels qa and qb -> the 2-pixel column. The common case, both fields horizontally
 * inside on the same input rows (one group, no horizontal dilation), goes row by row for both lanes. */
static NO_LIBCALL void fill_pair(const geo_t *g, const pixel_t *qa, const pixel_t *qb, int32_t c0, int32_t *col,
                                 int8_t *col8)
{
    const int32_t ixa = qa->ox * g->sw - g->pl, ixb = qb->ox * g->sw - g->pl;
    if (g->dw == 1 && g->kc == g->in_c && qa->oy == qb->oy && qa->b == qb->b && ixa >= 0 && ixb >= 0
        && ixa + g->kw <= g->in_w && ixb + g->kw <= g->in_w) {
        int32_t iy = qa->oy * g->sh - g->pt;
        const int8_t *r = g->input + (size_t)qa->b * g->plane + (ptrdiff_t)iy * g->line;
        const int8_t *ra = r + ixa * g->in_c, *rb = r + ixb * g->in_c;
        const ptrdiff_t step = (ptrdiff_t)g->dh * g->line;
        const int32_t row = g->row, kh = g->kh, in_h = g->in_h;
        if ((row & 3) == 0) { /* rows of whole groups: widened straight from the input */
            const int32_t ng = row >> 2;
            for (int32_t ky = 0; ky < kh; ky++, iy += g->dh, ra += step, rb += step, col += 4 * ng) {
                if ((uint32_t)iy < (uint32_t)in_h && ng == 1) {
                    const uint32_t va = ts_armv7em_read32(ra), vb = ts_armv7em_read32(rb);
                    col[0] = (int32_t)__sxtb16(va), col[1] = (int32_t)ts_armv7em_sxtb16_ror8(va);
                    col[2] = (int32_t)__sxtb16(vb), col[3] = (int32_t)ts_armv7em_sxtb16_ror8(vb);
                } else if ((uint32_t)iy < (uint32_t)in_h) {
                    ts_armv7em_widen_pair(ra, rb, ng, col);
                } else {
                    fill_words(col, g->zp2, 4 * ng);
                }
            }
            return;
        }
        int8_t *da = col8, *db = col8 + 4 * g->n4;
        for (int32_t ky = 0; ky < kh; ky++, iy += g->dh, ra += step, rb += step, da += row, db += row) {
            if ((uint32_t)iy < (uint32_t)in_h) {
                copy_bytes(da, ra, row);
                copy_bytes(db, rb, row);
            } else {
                fill_bytes(da, g->zp, row);
                fill_bytes(db, g->zp, row);
            }
        }
        fill_bytes(da, 0, 4 * g->n4 - kh * row); /* k padding: zero weights there */
        fill_bytes(db, 0, 4 * g->n4 - kh * row);
        ts_armv7em_widen_pair(col8, col8 + 4 * g->n4, g->n4, col);
        return;
    }
    if ((g->row & 3) == 0 && g->dw == 1 && g->kc == g->in_c) {
        lane_rows(g, qa, col, col8);
        lane_rows(g, qb, col + 2, col8);
        return;
    }
    if (g->kc & 3) {
        gather(g, qa, c0, col8);
        gather(g, qb, c0, col8 + 4 * g->n4);
        ts_armv7em_widen_pair(col8, col8 + 4 * g->n4, g->n4, col);
        return;
    }
    lane_direct(g, qa, c0, col);
    lane_direct(g, qb, c0, col + 2);
}

/* Input row `row` (in_w pixels) -> its pair row (ring_w columns of in_c words). */
static NO_LIBCALL void build_pair_row(const geo_t *g, const int8_t *row, int32_t *dst)
{
    const int32_t C = g->in_c, ng = C >> 2, sw = g->sw, pl = g->pl, W = g->in_w, wr = g->ring_w;
    const uint32_t zp4 = 0x01010101u * (uint8_t)g->zp;
    int32_t u0 = pl, u1 = W - sw + pl; /* [u0, u1): both columns inside */
    if (u1 > wr) u1 = wr;
    if (u0 > u1) u0 = u1;
    for (int32_t u = 0; u < wr; u++) {
        if (u == u0 && u1 > u0) { /* the inside run: one widening of two byte streams sw pixels apart */
            const int8_t *a = row + (size_t)(u0 - pl) * C;
            ts_armv7em_widen_pair(a, a + sw * C, (u1 - u0) * ng, dst + (size_t)u0 * C);
            u = u1 - 1;
            continue;
        }
        const int32_t ca = u - pl, cb = ca + sw;
        int32_t *d = dst + (size_t)u * C;
        for (int32_t q = 0; q < ng; q++, d += 4) {
            const uint32_t va = (ca >= 0 && ca < W) ? ts_armv7em_read32(row + (size_t)ca * C + 4 * q) : zp4;
            const uint32_t vb = (cb >= 0 && cb < W) ? ts_armv7em_read32(row + (size_t)cb * C + 4 * q) : zp4;
            d[0] = (int32_t)__sxtb16(va);
            d[1] = (int32_t)ts_armv7em_sxtb16_ror8(va);
            d[2] = (int32_t)__sxtb16(vb);
            d[3] = (int32_t)ts_armv7em_sxtb16_ror8(vb);
        }
    }
}

/* Image b -> the field rows (see use_field()); pad: one padded input row of int8 (field_pad_bytes()). */
static NO_LIBCALL void build_field(const geo_t *g, int32_t b, int32_t nrows, int32_t *dst, int8_t *pad)
{
    const int32_t ng = g->row >> 2, C = g->in_c, step = g->sw * C;
    const int32_t wr = (g->out_w - 1) * g->sw + g->kw; /* padded columns read */
    int32_t left = g->pl < wr ? g->pl : wr;            /* columns of zero points, then input, then zero points */
    int32_t mid = g->in_w < wr - left ? g->in_w : wr - left;
    if (mid < 0) mid = 0;
    fill_bytes(pad, g->zp, left * C);
    fill_bytes(pad + (left + mid) * C, g->zp, (wr - left - mid) * C);
    for (int32_t r = 0; r < nrows; r++) {
        const int32_t iy = r - g->pt;
        if (iy < 0 || iy >= g->in_h) {
            fill_words(dst, g->zp2, 2 * ng * g->out_w);
            dst += 2 * ng * g->out_w;
            continue;
        }
        copy_bytes(pad + left * C, g->input + (size_t)b * g->plane + (size_t)iy * g->line + (left - g->pl) * C,
                   mid * C);
        const int8_t *src = pad;
        if (ng == 1) {
            for (int32_t ox = 0; ox < g->out_w; ox++, dst += 2, src += step) {
                const uint32_t v = ts_armv7em_read32(src);
                dst[0] = (int32_t)__sxtb16(v);
                dst[1] = (int32_t)ts_armv7em_sxtb16_ror8(v);
            }
            continue;
        }
        for (int32_t ox = 0; ox < g->out_w; ox++, dst += 2 * ng, src += step)
            for (int32_t j = 0; j < ng; j++) {
                const uint32_t v = ts_armv7em_read32(src + 4 * j);
                dst[2 * j] = (int32_t)__sxtb16(v);
                dst[2 * j + 1] = (int32_t)ts_armv7em_sxtb16_ror8(v);
            }
    }
}

/* The 2-pixel column from the field rows: lane A from fa, lane B from fb (entries of 2 ng words), kh rows
 * `step` words apart. */
static NO_LIBCALL void field_pair(const int32_t *fa, const int32_t *fb, int32_t kh, int32_t ng, int32_t step,
                                  int32_t *col)
{
    if (ng == 1) { /* per filter row: two LDRD, one STM */
        register const int32_t *ra __asm__("r0") = fa;
        register const int32_t *rb __asm__("r1") = fb;
        register int32_t *rc __asm__("r2") = col;
        register int32_t n __asm__("r3") = kh;
        const int32_t sb = 4 * step;
        __asm__ volatile(
            "1:\n\t"
            "ldrd r4, r5, [%[a]]\n\t"
            "ldrd r6, r7, [%[b]]\n\t"
            "add %[a], %[a], %[s]\n\t"
            "add %[b], %[b], %[s]\n\t"
            "stm %[c]!, {r4, r5, r6, r7}\n\t"
            "subs %[n], %[n], #1\n\t"
            "bne 1b\n\t"
            : [a] "+r"(ra), [b] "+r"(rb), [c] "+r"(rc), [n] "+r"(n)
            : [s] "r"(sb)
            : "r4", "r5", "r6", "r7", "cc", "memory");
        return;
    }
    for (int32_t ky = 0; ky < kh; ky++, fa += step, fb += step)
        for (int32_t j = 0; j < ng; j++, col += 4) {
            const int32_t a0 = fa[2 * j], a1 = fa[2 * j + 1], b0 = fb[2 * j], b1 = fb[2 * j + 1];
            col[0] = a0, col[1] = a1, col[2] = b0, col[3] = b1;
        }
}

void ts_armv7em_conv(const ts_conv_params_t *p, const int8_t *input, int8_t *output, void *scratch,
                     const int32_t *stream, const ts_armv7em_format_t *format, int32_t c0, int32_t nch)
{
    const int mode = ts_armv7em_rq_mode(&p->requant, p->act_min, p->act_max);
    geo_t g;
    g.input = input;
    g.in_h = p->input.h, g.in_w = p->input.w, g.in_c = p->input.c;
    g.kh = p->filter.h, g.kw = p->filter.w, g.kc = p->filter.c;
    g.sh = p->stride_h, g.sw = p->stride_w, g.dh = p->dilation_h, g.dw = p->dilation_w;
    g.pt = p->pad_top, g.pl = p->pad_left, g.out_h = p->output.h, g.out_w = p->output.w;
    g.row = g.kw * g.kc;
    g.n4 = (g.kh * g.row + 3) >> 2;
    g.zp = (int8_t)p->input_zero_point;
    g.zp2 = (int32_t)(((uint32_t)p->input_zero_point & 0xFFFFu) * 0x10001u);
    g.line = g.in_w * g.in_c;
    g.plane = g.in_h * g.line;
    g.ring_w = ring_width(p);
    const int ring = use_ring(p), field = use_field(p);
    const int32_t fng = g.row >> 2, fstep = g.out_w * 2 * fng; /* field rows: groups, words per row */
    int32_t field_b = -1; /* the image the field rows hold */
    int32_t held[16]; /* ring: the (batch, input row) each pair-row slot holds, as b * in_h + iy */
    for (int32_t i = 0; i < 16; i++) held[i] = -1;
    const int32_t *src[16]; /* ring: the current output row's pair rows (NULL: outside the input) */
    int32_t cur_row = -1;
    const int32_t out_c = p->output.c;
    const int32_t groups = g.in_c / g.kc;
    const int32_t per_group = out_c / groups;
    const int32_t pg2 = (per_group + 1) & ~1;
    const int32_t npix = p->input.n * g.out_h * g.out_w;
    const int32_t out_zp = p->output_zero_point, act_min = p->act_min, act_max = p->act_max;
    int32_t *col = (int32_t *)scratch;
    int8_t *col8 = (int8_t *)(col + 4 * g.n4);
    int32_t *rows = col + 6 * g.n4;           /* ring: kh pair rows of ring_w x in_c words, after col8 */
    const int32_t row_words = g.ring_w * g.in_c; /* words of a pair row; seg: of one filter row's taps */
    const int32_t seg = g.kw * g.in_c;
    for (int32_t grp = 0; grp < groups; grp++) {
        const int32_t *wg = stream + (size_t)grp * (pg2 >> 1)
                                         * (format->wide ? TS_ARMV7EM_PAIR_WORDS_S16(g.n4) : TS_ARMV7EM_PAIR_WORDS(g.n4));
        pixel_t qa = {0, 0, 0};
        for (int32_t pix = 0; pix < npix; pix += 2) {
            pixel_t qb = qa;
            if (pix + 1 < npix) next_pixel(&qb, &g);
            if (ring && pix + 1 < npix && qa.oy == qb.oy) {
                const int32_t key = qa.b * g.out_h + qa.oy;
                if (key != cur_row) { /* a new output row: its kh pair rows, built when not held */
                    const int32_t iy0 = qa.oy * g.sh - g.pt;
                    for (int32_t ky = 0; ky < g.kh; ky++) {
                        const int32_t iy = iy0 + ky;
                        src[ky] = NULL;
                        if (iy < 0 || iy >= g.in_h) continue;
                        const int32_t slot = iy % g.kh, have = qa.b * g.in_h + iy;
                        int32_t *pr = rows + (size_t)slot * row_words;
                        if (held[slot] != have) {
                            build_pair_row(&g, input + (size_t)qa.b * g.plane + (size_t)iy * g.line, pr);
                            held[slot] = have;
                        }
                        src[ky] = pr;
                    }
                    cur_row = key;
                }
                const int32_t off = qa.ox * g.sw * g.in_c;
                int32_t *c = col;
                for (int32_t ky = 0; ky < g.kh; ky++, c += seg) {
                    if (src[ky]) {
                        ts_armv7em_copy_words(c, src[ky] + off, seg);
                    } else {
                        fill_words(c, g.zp2, seg);
                    }
                }
            } else if (field && qa.b == qb.b) {
                if (field_b != qa.b) {
                    build_field(&g, qa.b, field_rows(p), rows, (int8_t *)rows + field_table_bytes(p));
                    field_b = qa.b;
                }
                const int32_t *fa = rows + (size_t)qa.oy * g.sh * fstep + qa.ox * 2 * fng;
                const int32_t *fb = rows + (size_t)qb.oy * g.sh * fstep + qb.ox * 2 * fng;
                field_pair(fa, fb, g.kh, fng, fstep, col);
            } else {
                fill_pair(&g, &qa, &qb, grp * g.kc, col, col8);
            }
            int8_t *out_a = output + (size_t)pix * out_c + grp * per_group;
            int8_t *out_b = pix + 1 < npix ? out_a + out_c : out_a;
            format->channels(mode, col, g.n4, wg, groups == 1 ? nch : per_group,
                                     out_a + (groups == 1 ? c0 : 0), out_b + (groups == 1 ? c0 : 0), out_zp, act_min,
                                     act_max);
            qa = qb;
            next_pixel(&qa, &g);
        }
    }
}
