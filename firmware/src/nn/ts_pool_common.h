/* Scaffolding shared by the pooling kernels of every family (reference, armv7em, mve): the walk over the output
 * pixels with each one's window clipped to the input (TFLite's rule, ts_pool_span), and the rounded average of
 * window sums. Private to firmware/src/nn. */
#ifndef TS_POOL_COMMON_H
#define TS_POOL_COMMON_H

#include <stdint.h>

#include "ts/nn.h"
#include "ts/nn_math.h"

/* One output pixel's window: ny rows of nx pixels inside the input, from its first pixel. */
typedef struct {
    const int8_t *win; /* the window's first pixel (channel 0) */
    int8_t *out;       /* the output pixel (channel 0) */
    int32_t ny, nx;    /* rows and pixels per row of the window inside the input (>= 1 with SAME / VALID) */
    int32_t line;      /* bytes of an input row */
    int32_t depth;     /* channels */
} ts_pool_window_t;

typedef void (*ts_pool_each_t)(const ts_pool_window_t *w, const ts_pool_params_t *p, void *ctx);

/* each(window) for every output pixel, in order. Inlined into the kernel with `each` (a static function). */
static inline __attribute__((always_inline)) void ts_pool_windows(const ts_pool_params_t *p, const int8_t *input,
                                                                  int8_t *output, ts_pool_each_t each, void *ctx)
{
    const int32_t in_h = p->input.h, in_w = p->input.w, depth = p->input.c;
    const int32_t out_h = p->output.h, out_w = p->output.w;
    ts_pool_window_t w;
    w.line = in_w * depth;
    w.depth = depth;
    w.out = output;
    for (int32_t b = 0; b < p->input.n; b++) {
        for (int32_t oy = 0; oy < out_h; oy++) {
            int32_t iy0, fy0, fy1;
            ts_pool_span(oy, p->stride_h, p->pad_top, p->filter_h, in_h, &iy0, &fy0, &fy1);
            for (int32_t ox = 0; ox < out_w; ox++, w.out += depth) {
                int32_t ix0, fx0, fx1;
                ts_pool_span(ox, p->stride_w, p->pad_left, p->filter_w, in_w, &ix0, &fx0, &fx1);
                w.win = input + ((size_t)(b * in_h + iy0 + fy0) * in_w + ix0 + fx0) * depth;
                w.ny = fy1 - fy0;
                w.nx = fx1 - fx0;
                each(&w, p, ctx);
            }
        }
    }
}

/* out[c] = the sum of channel c over `count` window elements divided with TFLite's rounding (half away from
 * zero), clamped to the activation range. */
static inline void ts_pool_average(const int32_t *sum, int32_t count, const ts_pool_params_t *p, int8_t *out,
                                   int32_t depth)
{
    if (count <= 0) count = 1; /* an empty window cannot happen with SAME / VALID padding */
    for (int32_t c = 0; c < depth; c++) {
        const int32_t s = sum[c];
        const int32_t avg = s > 0 ? (s + count / 2) / count : (s - count / 2) / count;
        out[c] = (int8_t)ts_clamp_i32(avg, p->act_min, p->act_max);
    }
}

#endif /* TS_POOL_COMMON_H */
