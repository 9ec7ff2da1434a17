/* CONV_2D, int8, per-channel requantisation (TFLite reference_integer_ops::ConvPerChannel numerics).
 *
 * For each output position the receptive field is gathered into an im2col row of
 * filter.h * filter.w * filter.c int8 values (padded taps hold the input zero point, which the folded
 * bias cancels), then each output channel is one dot product with its contiguous OHWI weights.
 * A 1x1 filter without padding on any side reads the input row directly. */
#include <string.h>

#include "ts/nn.h"
#include "ts/nn_math.h"
#include "ts_nn_dot.h"

int32_t ts_conv_s8_get_buffer_size(const ts_conv_params_t *p)
{
    return p->filter.h * p->filter.w * p->filter.c;
}

/* Gathers the receptive field of (b, iy0, ix0) for channels [c0, c0 + kc) into col (kh x kw x kc). */
static void im2col(const ts_conv_params_t *p, const int8_t *input, int32_t b, int32_t iy0, int32_t ix0, int32_t c0,
                   int8_t *col)
{
    const int32_t in_h = p->input.h, in_w = p->input.w, in_c = p->input.c;
    const int32_t kh = p->filter.h, kw = p->filter.w, kc = p->filter.c;
    const int8_t pad = (int8_t)p->input_zero_point;
    for (int32_t ky = 0; ky < kh; ky++) {
        const int32_t iy = iy0 + ky * p->dilation_h;
        int8_t *dst = col + ky * kw * kc;
        if (iy < 0 || iy >= in_h) {
            memset(dst, pad, (size_t)(kw * kc));
            continue;
        }
        const int8_t *row = input + ((size_t)(b * in_h + iy) * in_w) * in_c + c0;
        if (p->dilation_w == 1 && kc == in_c && ix0 >= 0 && ix0 + kw <= in_w) {
            memcpy(dst, row + (size_t)ix0 * in_c, (size_t)(kw * kc)); /* whole row inside, contiguous */
            continue;
        }
        for (int32_t kx = 0; kx < kw; kx++) {
            const int32_t ix = ix0 + kx * p->dilation_w;
            if (ix < 0 || ix >= in_w) {
                memset(dst + kx * kc, pad, (size_t)kc);
            } else {
                memcpy(dst + kx * kc, row + (size_t)ix * in_c, (size_t)kc);
            }
        }
    }
}

void ts_conv_s8(const ts_conv_params_t *p, const int8_t *input, int8_t *output, void *scratch)
{
    const int32_t in_h = p->input.h, in_w = p->input.w, in_c = p->input.c;
    const int32_t kh = p->filter.h, kw = p->filter.w, kc = p->filter.c;
    const int32_t out_h = p->output.h, out_w = p->output.w, out_c = p->output.c;
    const int32_t groups = in_c / kc;
    const int32_t per_group = out_c / groups;
    const int32_t k_size = kh * kw * kc;
    const int direct = ts_conv_is_unpadded_1x1(p);
    int8_t *col = (int8_t *)scratch;

    for (int32_t b = 0; b < p->input.n; b++) {
        for (int32_t oy = 0; oy < out_h; oy++) {
            const int32_t iy0 = oy * p->stride_h - p->pad_top;
            for (int32_t ox = 0; ox < out_w; ox++) {
                const int32_t ix0 = ox * p->stride_w - p->pad_left;
                int8_t *out = output + ((size_t)(b * out_h + oy) * out_w + ox) * out_c;
                for (int32_t g = 0; g < groups; g++) {
                    const int8_t *a;
                    if (direct) {
                        a = input + ((size_t)(b * in_h + iy0) * in_w + ix0) * in_c;
                    } else {
                        im2col(p, input, b, iy0, ix0, g * kc, col);
                        a = col;
                    }
                    ts_dot_channels(a, p->weights, p->bias, k_size, g * per_group, (g + 1) * per_group, &p->requant,
                                    p->output_zero_point, p->act_min, p->act_max, out);
                }
            }
        }
    }
}
