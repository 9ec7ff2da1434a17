/* MAX_POOL_2D, int8 (TFLite reference_integer_ops::MaxPool): the window is clipped to the input. */
#include "ts/nn.h"
#include "ts/nn_math.h"

void ts_max_pool_s8(const ts_pool_params_t *p, const int8_t *input, int8_t *output)
{
    const int32_t in_h = p->input.h, in_w = p->input.w, depth = p->input.c;
    const int32_t out_h = p->output.h, out_w = p->output.w;
    for (int32_t b = 0; b < p->input.n; b++) {
        for (int32_t oy = 0; oy < out_h; oy++) {
            int32_t iy0, fy0, fy1;
            ts_pool_span(oy, p->stride_h, p->pad_top, p->filter_h, in_h, &iy0, &fy0, &fy1);
            for (int32_t ox = 0; ox < out_w; ox++) {
                int32_t ix0, fx0, fx1;
                ts_pool_span(ox, p->stride_w, p->pad_left, p->filter_w, in_w, &ix0, &fx0, &fx1);
                int8_t *out = output + ((size_t)(b * out_h + oy) * out_w + ox) * depth;
                for (int32_t c = 0; c < depth; c++) out[c] = INT8_MIN;
                for (int32_t fy = fy0; fy < fy1; fy++) {
                    for (int32_t fx = fx0; fx < fx1; fx++) {
                        const int8_t *in = input + ((size_t)(b * in_h + iy0 + fy) * in_w + ix0 + fx) * depth;
                        for (int32_t c = 0; c < depth; c++) out[c] = in[c] > out[c] ? in[c] : out[c];
                    }
                }
                for (int32_t c = 0; c < depth; c++) out[c] = (int8_t)ts_clamp_i32(out[c], p->act_min, p->act_max);
            }
        }
    }
}
