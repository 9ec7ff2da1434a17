/* Private helpers of the reference kernels: int8 dot products with 32-bit accumulation.
 * Plain C, unrolled so that the compiler keeps the accumulators in registers; the optimized kernel
 * families (armv7em/, mve/) bring their own. */
#ifndef TS_NN_DOT_H
#define TS_NN_DOT_H

#include <stdint.h>

#include "ts/nn.h"
#include "ts/nn_math.h"

/* sum_k a[k] * b[k] */
static inline int32_t ts_dot_s8(const int8_t *a, const int8_t *b, int32_t n)
{
    int32_t acc0 = 0, acc1 = 0;
    int32_t k = 0;
    for (; k + 4 <= n; k += 4) {
        acc0 += a[k] * b[k];
        acc1 += a[k + 1] * b[k + 1];
        acc0 += a[k + 2] * b[k + 2];
        acc1 += a[k + 3] * b[k + 3];
    }
    for (; k < n; k++) acc0 += a[k] * b[k];
    return acc0 + acc1;
}

/* Two rows of weights against one input vector: *r0 += sum a[k] * w0[k], *r1 += sum a[k] * w1[k]. */
static inline void ts_dot2_s8(const int8_t *a, const int8_t *w0, const int8_t *w1, int32_t n, int32_t *r0,
                              int32_t *r1)
{
    int32_t acc0 = 0, acc1 = 0;
    int32_t k = 0;
    for (; k + 2 <= n; k += 2) {
        const int32_t x0 = a[k], x1 = a[k + 1];
        acc0 += x0 * w0[k];
        acc1 += x0 * w1[k];
        acc0 += x1 * w0[k + 1];
        acc1 += x1 * w1[k + 1];
    }
    if (k < n) {
        acc0 += a[k] * w0[k];
        acc1 += a[k] * w1[k];
    }
    *r0 += acc0;
    *r1 += acc1;
}

/* Four rows of weights (w, w + stride, w + 2 stride, w + 3 stride) against one input vector: r[j] += sum
 * a[k] * w[j * stride + k]. Each input value is loaded once for four multiply-accumulates. */
static inline void ts_dot4_s8(const int8_t *a, const int8_t *w, int32_t stride, int32_t n, int32_t *r)
{
    int32_t acc0 = 0, acc1 = 0, acc2 = 0, acc3 = 0;
    const int8_t *w1 = w + stride, *w2 = w + 2 * stride, *w3 = w + 3 * stride;
    for (int32_t k = 0; k < n; k++) {
        const int32_t x = a[k];
        acc0 += x * w[k];
        acc1 += x * w1[k];
        acc2 += x * w2[k];
        acc3 += x * w3[k];
    }
    r[0] += acc0;
    r[1] += acc1;
    r[2] += acc2;
    r[3] += acc3;
}

/* The output channels [c0, c1) of one input vector a of k values: out[c] = clamp(MultiplyByQuantizedMultiplier(
 * bias[c] + a . w_c, rq) + zp) with channel c's weights at weights + c k; four channels per pass, then two,
 * then one. */
static inline void ts_dot_channels(const int8_t *a, const int8_t *weights, const int32_t *bias, int32_t k,
                                   int32_t c0, int32_t c1, const ts_requant_t *rq, int32_t zp, int32_t lo,
                                   int32_t hi, int8_t *out)
{
    int32_t acc[4];
    int32_t c = c0, n = 0;
    for (; c < c1; c += n) {
        n = c1 - c >= 4 ? 4 : c1 - c >= 2 ? 2 : 1;
        const int8_t *w = weights + (size_t)c * k;
        for (int32_t j = 0; j < n; j++) acc[j] = bias[c + j];
        if (n == 4) {
            ts_dot4_s8(a, w, k, k, acc);
        } else if (n == 2) {
            ts_dot2_s8(a, w, w + k, k, &acc[0], &acc[1]);
        } else {
            acc[0] += ts_dot_s8(a, w, k);
        }
        for (int32_t j = 0; j < n; j++) {
            const int32_t v = ts_mbqm(acc[j], rq->multiplier[c + j], rq->shift[c + j]) + zp; /* Q31.0 at output scale */
            out[c + j] = (int8_t)ts_clamp_i32(v, lo, hi);
        }
    }
}

#endif /* TS_NN_DOT_H */
