/* DEPTHWISE_CONV_2D, int8, any depth multiplier, per-channel requantisation
 * (TFLite reference_integer_ops::DepthwiseConvPerChannel numerics).
 *
 * For each output position a table of the kernel's taps points at the input pixel of each tap, or at a
 * pixel of input_zero_point values (scratch) for a tap in the padding, which the folded bias cancels.
 * Then each block of output channels accumulates in registers over the taps. */
#include <string.h>

#include "ts/nn.h"
#include "ts/nn_math.h"

/* tap pointers (counted as 8 bytes, the largest pointer of the hosts) + one padding pixel */
int32_t ts_depthwise_conv_s8_get_buffer_size(const ts_depthwise_conv_params_t *p)
{
    return 8 * p->filter.h * p->filter.w + ((p->input.c + 7) & ~7);
}

static inline int8_t requant(int32_t acc, const ts_depthwise_conv_params_t *p, int32_t c)
{
    int32_t v = ts_mbqm(acc, p->requant.multiplier[c], p->requant.shift[c]); /* at the output scale */
    v += p->output_zero_point;
    return (int8_t)ts_clamp_i32(v, p->act_min, p->act_max);
}

void ts_depthwise_conv_s8(const ts_depthwise_conv_params_t *p, const int8_t *input, int8_t *output,
                          void *scratch)
{
    const int32_t in_h = p->input.h, in_w = p->input.w, in_c = p->input.c;
    const int32_t kh = p->filter.h, kw = p->filter.w, taps = kh * kw;
    const int32_t out_h = p->output.h, out_w = p->output.w, out_c = p->output.c;
    const int32_t m = p->depth_multiplier;
    const int8_t **tap = (const int8_t **)scratch;
    int8_t *pad_pixel = (int8_t *)scratch + 8 * taps;
    memset(pad_pixel, (int8_t)p->input_zero_point, (size_t)in_c);

    for (int32_t b = 0; b < p->input.n; b++) {
        for (int32_t oy = 0; oy < out_h; oy++) {
            const int32_t iy0 = oy * p->stride_h - p->pad_top;
            for (int32_t ox = 0; ox < out_w; ox++) {
                const int32_t ix0 = ox * p->stride_w - p->pad_left;
                for (int32_t ky = 0; ky < kh; ky++) {
                    const int32_t iy = iy0 + ky * p->dilation_h;
                    for (int32_t kx = 0; kx < kw; kx++) {
                        const int32_t ix = ix0 + kx * p->dilation_w;
                        const int inside = iy >= 0 && iy < in_h && ix >= 0 && ix < in_w;
                        tap[ky * kw + kx] = inside ? input + ((size_t)(b * in_h + iy) * in_w + ix) * in_c : pad_pixel;
                    }
                }
                int8_t *out = output + ((size_t)(b * out_h + oy) * out_w + ox) * out_c;
                if (m == 1) {
                    int32_t c = 0;
                    for (; c + 4 <= out_c; c += 4) {
                        int32_t a0 = p->bias[c], a1 = p->bias[c + 1], a2 = p->bias[c + 2], a3 = p->bias[c + 3];
                        const int8_t *w = p->weights + c;
                        for (int32_t t = 0; t < taps; t++, w += out_c) {
                            const int8_t *x = tap[t] + c;
                            a0 += x[0] * w[0];
                            a1 += x[1] * w[1];
                            a2 += x[2] * w[2];
                            a3 += x[3] * w[3];
                        }
                        out[c] = requant(a0, p, c);
                        out[c + 1] = requant(a1, p, c + 1);
                        out[c + 2] = requant(a2, p, c + 2);
                        out[c + 3] = requant(a3, p, c + 3);
                    }
                    for (; c < out_c; c++) {
                        int32_t acc = p->bias[c];
                        const int8_t *w = p->weights + c;
                        for (int32_t t = 0; t < taps; t++, w += out_c) acc += tap[t][c] * w[0];
                        out[c] = requant(acc, p, c);
                    }
                } else {
                    for (int32_t ic = 0; ic < in_c; ic++) {
                        for (int32_t j = 0; j < m; j++) {
                            const int32_t oc = ic * m + j;
                            int32_t acc = p->bias[oc];
                            const int8_t *w = p->weights + oc;
                            for (int32_t t = 0; t < taps; t++, w += out_c) acc += tap[t][ic] * w[0];
                            out[oc] = requant(acc, p, oc);
                        }
                    }
                }
            }
        }
    }
}
