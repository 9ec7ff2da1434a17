/* DEPTHWISE_CONV_2D with a 3x3 filter (depth multiplier 1, no dilation, horizontal stride 1 or 2, left padding
 * <= 1), int8, Armv7E-M DSP; same numerics as the reference ts_depthwise_conv_s8 (bit-exact).
 *
 * SMLAD needs two taps of one channel in one word, while NHWC holds the channels of a pixel side by side. So
 * each input row is transposed once, when the window first reaches it, into int16 channel planes (SXTB16
 * and PKHBT/PKHTB on two pixels at a time), with the left and right padding columns holding the input zero
 * point; rows above or below the input read a plane of zero points. The transposed rows form a ring deep
 * enough for a block of R output rows (R from a scratch budget of TS_ARMV7EM_DW_SCRATCH bytes), so that a channel's
 * weights and record are read once per block. Per channel and output row, two outputs per step:
 * out[x] += (in[x-1], in[x]) . (w0, w1)  [SMLAD]  + in[x+1] w2  [SMLABB]  and
 * out[x+1] += (in[x], in[x+1]) . (w0, w1) + in[x+2] w2  [SMLATB], over the three rows: 18 multiply-accumulates
 * in 21 instructions (stride 1); with word-aligned rows (left padding 1) four outputs per step and the
 * channels inner (ts_armv7em_dw3x3_chans4: 36 multiply-accumulates in 33 instructions). Requantisation fused,
 * fast records as the convolutions'.
 *
 * Rows of the padding take a ring slot of zero points like any other row. With stride 1 and the output as large
 * as the input, the output may overwrite the input (the compiler plans it in place): a block's input rows are
 * in the ring before any of its output rows is written, and output row r only covers input row r.
 *
 * Weights (compiler layout "dw3x3 s8 + rq"): a flags word (bit 0: the sweep is transposed, see geometry();
 * bit 1: one output row per block, the smallest ring),
 * then per channel 7 words: bias, for each filter row (column, transposed) the int8 taps (w0, w1, w2, 0),
 * then the requantisation record (armv7em/ts_armv7em.h). Each call first widens them into its scratch, 10
 * words per channel: bias, per filter row the int16 pairs (w0, w1) and (w2, 0), the record; with fast
 * records the taps and the bias doubled (the 2 of SaturatingRoundingDoublingHighMul). Scratch: the ring of
 * transposed rows, each C planes x (input width + 2, rounded up to even) int16, then the widened taps. */
#include "ts/nn.h"
#include "ts_armv7em.h"

#define DW_FLASH_WORDS 7 /* per channel in the weights */
#define DW_WORDS 10       /* per channel once widened */

#define TS_ARMV7EM_DW_SCRATCH 8192 /* bytes the ring may take beyond its minimum (one output row) */

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
    if (((const int32_t *)(const void *)p->weights)[0] & 2) return 1; /* compact: one output row per block */
    const int32_t row_bytes = p->input.c * plane_len(g->px) * 2;
    int32_t r = (TS_ARMV7EM_DW_SCRATCH / row_bytes - 3) / g->sr + 1;
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
    return ring_rows(&g, block_rows(p, &g)) * p->input.c * plane_len(g.px) * 2 + 4 * DW_WORDS * p->input.c;
}

/* The flash stream (7 words per channel) -> the widened one (10 words per channel), taps and bias times
 * `fold` (2 with fast records, 1 for the exact path). */
static void widen_taps(const int32_t *src, int32_t C, int32_t fold, int32_t *dst)
{
    for (int32_t c = 0; c < C; c++, src += DW_FLASH_WORDS, dst += DW_WORDS) {
        dst[0] = fold * src[0];
        for (int32_t r = 0; r < 3; r++) {
            const uint32_t t = (uint32_t)src[1 + r];
            const int32_t w0 = fold * (int8_t)t, w1 = fold * (int8_t)(t >> 8), w2 = fold * (int8_t)(t >> 16);
            dst[1 + 2 * r] = (int32_t)(((uint32_t)w0 & 0xFFFFu) | ((uint32_t)w1 << 16));
            dst[2 + 2 * r] = (int32_t)((uint32_t)w2 & 0xFFFFu);
        }
        dst[7] = src[4], dst[8] = src[5], dst[9] = src[6];
    }
}

TS_ARMV7EM_ALWAYS_INLINE uint32_t pack_lo(uint32_t a, uint32_t b) { return (a & 0xFFFFu) | (b << 16); }
TS_ARMV7EM_ALWAYS_INLINE uint32_t pack_hi(uint32_t a, uint32_t b) { return (b & 0xFFFF0000u) | (a >> 16); }

/* Channels c..c+3 of pixels x, x+1 (px bytes apart) -> the four planes (wp int16 apart) at x, in assembly:
 * two loads, four SXTB16, four PKHBT/PKHTB, four stores per 8 values; n pairs of pixels. */
static void __attribute__((noinline)) transpose4(const int8_t *s, int32_t px, int16_t *d, int32_t wp, int32_t n)
{
    register const int8_t *rs __asm__("r0") = s;
    register int32_t rpx __asm__("r1") = px;
    register int16_t *rd __asm__("r2") = d;
    register int32_t wpb __asm__("r3") = 2 * wp;
    register const int8_t *end __asm__("r4") = s + 2 * px * n;
    register int32_t wpb3 __asm__("r11") = 6 * wp;
    __asm__ volatile(
        "1:\n\t"
        "ldr r5, [r0]\n\t"
        "ldr r6, [r0, r1]\n\t"
        "add r0, r0, r1, lsl #1\n\t"
        "sxtb16 r7, r5\n\t"
        "sxtb16 r8, r6\n\t"
        "pkhbt r9, r7, r8, lsl #16\n\t"
        "pkhtb r10, r8, r7, asr #16\n\t"
        "str r9, [r2]\n\t"
        "str r10, [r2, r3, lsl #1]\n\t"
        "sxtb16 r7, r5, ror #8\n\t"
        "sxtb16 r8, r6, ror #8\n\t"
        "pkhbt r9, r7, r8, lsl #16\n\t"
        "pkhtb r10, r8, r7, asr #16\n\t"
        "str r9, [r2, r3]\n\t"
        "str r10, [r2, r11]\n\t"
        "add r2, r2, #4\n\t"
        "cmp r0, r4\n\t"
        "bne 1b\n\t"
        : "+r"(rs), "+r"(rd)
        : "r"(rpx), "r"(wpb), "r"(end), "r"(wpb3)
        : "r5", "r6", "r7", "r8", "r9", "r10", "cc", "memory");
}

/* One input row (W pixels of C channels, px bytes apart) -> C planes of wp int16: plane[c][1 + x] = in[x][c]. */
static void transpose_row(const int8_t *row, int32_t W, int32_t C, int32_t px, int32_t wp, int16_t *dst)
{
    int32_t c = 0;
    const int32_t W2 = W & ~1;
    for (; c + 4 <= C; c += 4) {
        int16_t *p0 = dst + (size_t)c * wp + 1;
        const int8_t *s = row + c;
        if (W2) transpose4(s, px, p0, wp, W2 >> 1);
        if (W2 < W) {
            s += (size_t)W2 * px;
            int16_t *p1 = p0 + wp, *p2 = p1 + wp, *p3 = p2 + wp;
            p0[W2] = s[0], p1[W2] = s[1], p2[W2] = s[2], p3[W2] = s[3];
        }
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
        a0 = __smlad(ts_armv7em_read32(pl), w01_, a0);                           \
        a1 = __smlad(ts_armv7em_read32((pl) + 1), w01_, a1);                     \
        const uint32_t u2_ = ts_armv7em_read32((pl) + 2);                        \
        a0 = __smlabb(u2_, w2_, a0);                                        \
        a1 = __smlatb(u2_, w2_, a1);                                        \
    } while (0)

#define TS_DW_ROW1(pl, wr) \
    (a0 = __smlabb(ts_armv7em_read32((pl) + 2), (uint32_t)(wr)[1], __smlad(ts_armv7em_read32(pl), (uint32_t)(wr)[0], a0)))

/* A result through the channel's record: the taps carry the 2 of fast requantisation (widen_taps). */
TS_ARMV7EM_ALWAYS_INLINE int32_t rq_folded(int mode, int32_t acc, const int32_t *rec, int32_t zp, int32_t lo,
                                           int32_t hi)
{
    if (mode == TS_ARMV7EM_RQ_EXACT) return ts_armv7em_rq_record(mode, 0, acc, rec, zp, lo, hi);
    const int32_t v = ts_armv7em_rq(acc, rec[0], rec[1], rec[2]);
    return mode == TS_ARMV7EM_RQ_FAST_CLAMP ? ts_clamp_i32(v, lo, hi) : v;
}

/* One channel of one output row. p0..p2: the channel's planes of the window's rows, at the first output's
 * leftmost tap; ws: the channel's stream words. */
TS_ARMV7EM_ALWAYS_INLINE void channel_row(int mode, int stride2, const int16_t *p0, const int16_t *p1, const int16_t *p2,
                                     const int32_t *ws, int8_t *out, int32_t C, int32_t ow, int32_t zp,
                                     int32_t lo, int32_t hi)
{
    const int32_t bias = ws[0];
    int32_t x = 0;
    if (!stride2) {
        for (; x + 2 <= ow; x += 2, p0 += 2, p1 += 2, p2 += 2) {
            int32_t a0 = bias, a1 = bias;
            TS_DW_ROW2(p0, ws + 1);
            TS_DW_ROW2(p1, ws + 3);
            TS_DW_ROW2(p2, ws + 5);
            const int32_t y0 = rq_folded(mode, a0, ws + 7, zp, lo, hi), y1 = rq_folded(mode, a1, ws + 7, zp, lo, hi);
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
        out[0] = (int8_t)rq_folded(mode, a0, ws + 7, zp, lo, hi);
    }
}

typedef void (*row_fn)(int stride2, const int16_t *p0, const int16_t *p1, const int16_t *p2, const int32_t *ws,
                       int8_t *out, int32_t C, int32_t ow, int32_t zp, int32_t lo, int32_t hi);

/* channel_row with the mode a constant: one small copy per mode (the rest of the kernel is shared). */
#define ROW_FN(NAME, MODE)                                                                                       \
    static void NAME(int stride2, const int16_t *p0, const int16_t *p1, const int16_t *p2, const int32_t *ws,     \
                     int8_t *out, int32_t C, int32_t ow, int32_t zp, int32_t lo, int32_t hi)                     \
    {                                                                                                            \
        channel_row(MODE, stride2, p0, p1, p2, ws, out, C, ow, zp, lo, hi);                                      \
    }
ROW_FN(row_fast, TS_ARMV7EM_RQ_FAST)
ROW_FN(row_clamp, TS_ARMV7EM_RQ_FAST_CLAMP)
ROW_FN(row_exact, TS_ARMV7EM_RQ_EXACT)

void ts_depthwise_conv_3x3_s8(const ts_depthwise_conv_params_t *p, const int8_t *input, int8_t *output,
                              void *scratch)
{
    const int mode = ts_armv7em_rq_mode(&p->requant, p->act_min, p->act_max);
    const row_fn row = mode == TS_ARMV7EM_RQ_FAST ? row_fast : mode == TS_ARMV7EM_RQ_FAST_CLAMP ? row_clamp : row_exact;
    const dw_geo_t g = geometry(p);
    const int32_t C = p->input.c, W = g.px, sh = g.sr;
    const int32_t wp = plane_len(W), rowsz = C * wp;
    const int16_t zp = (int16_t)p->input_zero_point;
    const int32_t off = 1 - g.pp; /* plane index of the first output's leftmost tap */
    const int stride2 = g.sp == 2;
    const int32_t out_zp = p->output_zero_point, lo = p->act_min, hi = p->act_max;
    const int32_t R = block_rows(p, &g), nslots = ring_rows(&g, R);
    int16_t *ring = (int16_t *)scratch; /* slots 0..nslots-1: input rows (rows outside the input: zero points) */
    int32_t *stream = (int32_t *)(void *)(ring + nslots * rowsz); /* the widened taps */
    widen_taps((const int32_t *)(const void *)p->weights + 1, C, mode == TS_ARMV7EM_RQ_EXACT ? 1 : 2, stream);
    const uint32_t zp2 = ((uint32_t)(uint16_t)zp) * 0x10001u;
    for (int32_t sl = 0; sl < nslots; sl++) { /* padding columns, never overwritten */
        int16_t *pl = ring + sl * rowsz;
        for (int32_t c = 0; c < C; c++, pl += wp) {
            pl[0] = zp;
            pl[W + 1] = zp;
            if (W & 1) pl[W + 2] = zp;
        }
    }
    const int16_t *rows[189];
    int32_t held[189]; /* the input row each slot holds (slot = row mod nslots: blocks share their overlap) */
    for (int32_t b = 0; b < p->input.n; b++) {
        const int8_t *img = input + (size_t)b * p->input.h * p->input.w * C;
        int8_t *oimg = output + (size_t)b * p->output.h * p->output.w * C;
        for (int32_t i = 0; i < nslots; i++) held[i] = INT32_MIN;
        for (int32_t oy0 = 0; oy0 < g.out_rows; oy0 += R) {
            const int32_t nr = g.out_rows - oy0 < R ? g.out_rows - oy0 : R;
            const int32_t iy0 = oy0 * sh - g.pr;
            for (int32_t i = 0; i < (nr - 1) * sh + 3; i++) { /* the block's input rows into the ring */
                const int32_t iy = iy0 + i;
                const int32_t sl = ((iy % nslots) + nslots) % nslots; /* consecutive rows, distinct slots */
                int16_t *slot = ring + sl * rowsz;
                if (held[sl] != iy) {
                    if (iy >= 0 && iy < g.rows) {
                        transpose_row(img + (size_t)iy * g.row_step, W, C, g.px_step, wp, slot);
                    } else { /* a row of the padding */
                        ts_armv7em_fill_words((uint32_t *)(void *)slot, zp2, rowsz >> 1); /* rowsz is even */
                    }
                    held[sl] = iy;
                }
                rows[i] = slot;
            }
            int8_t *oblk = oimg + (size_t)oy0 * g.out_row_step;
            if (mode == TS_ARMV7EM_RQ_FAST && !stride2) {
                ts_armv7em_dw_t a = {rows, 2 * off, stream, oblk, g.out_px_step, g.out_row_step, nr, g.out_px, sh};
                if (!(off & 1) && g.out_px >= 4) { /* word-aligned rows: four outputs per step, channels inner */
                    for (int32_t r = 0; r < nr; r++) {
                        const int16_t *const *w3 = rows + r * sh;
                        const ts_armv7em_dw_row_t ra = {w3[0] + off, (int32_t)((const char *)w3[1] - (const char *)w3[0]),
                                                   (int32_t)((const char *)w3[2] - (const char *)w3[0]), stream,
                                                   oblk + (size_t)r * g.out_row_step, g.out_px_step, g.out_px,
                                                   2 * wp, C};
                        ts_armv7em_dw3x3_chans4(&ra);
                    }
                    continue;
                }
                for (int32_t c = 0; c < C; c++, a.plane_offset += 2 * wp, a.stream += DW_WORDS, a.out++)
                    ts_armv7em_dw3x3_rows(&a);
                continue;
            }
            for (int32_t c = 0; c < C; c++) {
                const int32_t *ws = stream + c * DW_WORDS;
                const size_t o = (size_t)c * wp + off;
                int8_t *orow = oblk + c;
                for (int32_t r = 0; r < nr; r++, orow += g.out_row_step) {
                    const int16_t *const *w3 = rows + r * sh;
                    row(stride2, w3[0] + o, w3[1] + o, w3[2] + o, ws, orow, g.out_px_step, g.out_px, out_zp, lo, hi);
                }
            }
        }
    }
}
