/* AVERAGE_POOL_2D, int8 (TFLite reference_integer_ops::AveragePool): the sum over the part of the window
 * inside the input, divided by its size with rounding half away from zero; no rescaling (TFLite requires
 * equal input and output quantisation). The per-channel sums are int32 scratch. */
#include "ts/nn.h"
#include "ts/nn_math.h"

int32_t ts_avg_pool_s8_get_buffer_size(const ts_pool_params_t *p)
{
    return p->input.c * (int32_t)sizeof(int32_t);
}

void ts_avg_pool_s8(const ts_pool_params_t *p, const int8_t *input, int8_t *output, void *scratch)
{
    const int32_t in_h = p->input.h, in_w = p->input.w, depth = p->input.c;
    const int32_t out_h = p->output.h, out_w = p->output.w;
    int32_t *sum = (int32_t *)scratch;
    for (int32_t b = 0; b < p->input.n; b++) {
        for (int32_t oy = 0; oy < out_h; oy++) {
            int32_t iy0, fy0, fy1;
            ts_pool_span(oy, p->stride_h, p->pad_top, p->filter_h, in_h, &iy0, &fy0, &fy1);
            for (int32_t ox = 0; ox < out_w; ox++) {
                int32_t ix0, fx0, fx1;
                ts_pool_span(ox, p->stride_w, p->pad_left, p->filter_w, in_w, &ix0, &fx0, &fx1);
                for (int32_t c = 0; c < depth; c++) sum[c] = 0;
                for (int32_t fy = fy0; fy < fy1; fy++) {
                    for (int32_t fx = fx0; fx < fx1; fx++) {
                        const int8_t *in = input + ((size_t)(b * in_h + iy0 + fy) * in_w + ix0 + fx) * depth;
                        for (int32_t c = 0; c < depth; c++) sum[c] += in[c];
                    }
                }
                int32_t count = (fy1 - fy0) * (fx1 - fx0);
                if (count <= 0) count = 1; /* empty window: cannot happen with SAME/VALID padding */
                int8_t *out = output + ((size_t)(b * out_h + oy) * out_w + ox) * depth;
                for (int32_t c = 0; c < depth; c++) {
                    const int32_t s = sum[c];
                    int32_t avg = s > 0 ? (s + count / 2) / count : (s - count / 2) / count;
                    out[c] = (int8_t)ts_clamp_i32(avg, p->act_min, p->act_max);
                }
            }
        }
    }
}
