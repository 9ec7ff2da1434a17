/* DEPTHWISE_CONV_2D, int8, any depth multiplier, per-channel requantisation
 * (TFLite reference_integer_ops::DepthwiseConvPerChannel numerics).
 *
 * For each output position, int32 accumulators for all output channels (scratch) are seeded with the
 * folded bias and swept tap by tap over the contiguous channels of the input pixel and of the 1HWC weights;
 * a tap in the padding adds input_zero_point * weight, which the folded bias cancels. */
#include "ts/nn.h"
#include "ts/nn_math.h"

int32_t ts_depthwise_conv_s8_get_buffer_size(const ts_depthwise_conv_params_t *p)
{
    return p->output.c * (int32_t)sizeof(int32_t);
}

void ts_depthwise_conv_s8(const ts_depthwise_conv_params_t *p, const int8_t *input, int8_t *output,
                          void *scratch)
{
    const int32_t in_h = p->input.h, in_w = p->input.w, in_c = p->input.c;
    const int32_t kh = p->filter.h, kw = p->filter.w;
    const int32_t out_h = p->output.h, out_w = p->output.w, out_c = p->output.c;
    const int32_t m = p->depth_multiplier;
    const int32_t zp = p->input_zero_point;
    int32_t *acc = (int32_t *)scratch;

    for (int32_t b = 0; b < p->input.n; b++) {
        for (int32_t oy = 0; oy < out_h; oy++) {
            const int32_t iy0 = oy * p->stride_h - p->pad_top;
            for (int32_t ox = 0; ox < out_w; ox++) {
                const int32_t ix0 = ox * p->stride_w - p->pad_left;
                for (int32_t c = 0; c < out_c; c++) acc[c] = p->bias[c];
                for (int32_t ky = 0; ky < kh; ky++) {
                    const int32_t iy = iy0 + ky * p->dilation_h;
                    const int row_inside = iy >= 0 && iy < in_h;
                    for (int32_t kx = 0; kx < kw; kx++) {
                        const int32_t ix = ix0 + kx * p->dilation_w;
                        const int8_t *w = p->weights + (size_t)(ky * kw + kx) * out_c;
                        if (!row_inside || ix < 0 || ix >= in_w) {
                            if (zp != 0) {
                                for (int32_t c = 0; c < out_c; c++) acc[c] += zp * w[c];
                            }
                            continue;
                        }
                        const int8_t *in = input + ((size_t)(b * in_h + iy) * in_w + ix) * in_c;
                        if (m == 1) {
                            for (int32_t c = 0; c < out_c; c++) acc[c] += in[c] * w[c];
                        } else {
                            for (int32_t ic = 0; ic < in_c; ic++) {
                                const int32_t v = in[ic];
                                int32_t *a = acc + ic * m;
                                const int8_t *wc = w + ic * m;
                                for (int32_t j = 0; j < m; j++) a[j] += v * wc[j];
                            }
                        }
                    }
                }
                int8_t *out = output + ((size_t)(b * out_h + oy) * out_w + ox) * out_c;
                for (int32_t c = 0; c < out_c; c++) {
                    int32_t v = ts_mbqm(acc[c], p->requant.multiplier[c], p->requant.shift[c]);
                    v += p->output_zero_point;
                    out[c] = (int8_t)ts_clamp_i32(v, p->act_min, p->act_max);
                }
            }
        }
    }
}
