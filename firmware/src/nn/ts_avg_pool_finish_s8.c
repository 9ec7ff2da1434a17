/* Streamed AVERAGE_POOL_2D whose one output row covers every input row (global along the streamed axis), at
 * the end of the stream: sum holds, per input column and channel, the sum over all rows
 * (ts_mean_accumulate_s8 with outer = reduce = 1); each output takes its window along the columns and
 * divides by the size of the window inside the input, rounding half away from zero, as ts_avg_pool_s8. p is
 * the whole pooling's parameter block (input h = the rows streamed). */
#include "ts/nn.h"
#include "ts/nn_math.h"

void ts_avg_pool_finish_s8(const ts_pool_params_t *p, const int32_t *sum, int8_t *output)
{
    const int32_t in_w = p->input.w, depth = p->input.c, out_w = p->output.w;
    int32_t iy0, fy0, fy1;
    ts_pool_span(0, p->stride_h, p->pad_top, p->filter_h, p->input.h, &iy0, &fy0, &fy1);
    for (int32_t ox = 0; ox < out_w; ox++) {
        int32_t ix0, fx0, fx1;
        ts_pool_span(ox, p->stride_w, p->pad_left, p->filter_w, in_w, &ix0, &fx0, &fx1);
        int32_t count = (fy1 - fy0) * (fx1 - fx0);
        if (count <= 0) count = 1; /* empty window: cannot happen with SAME/VALID padding */
        int8_t *out = output + (size_t)ox * depth;
        for (int32_t c = 0; c < depth; c++) {
            int32_t s = 0;
            for (int32_t fx = fx0; fx < fx1; fx++) s += sum[(size_t)(ix0 + fx) * depth + c];
            const int32_t avg = s > 0 ? (s + count / 2) / count : (s - count / 2) / count;
            out[c] = (int8_t)ts_clamp_i32(avg, p->act_min, p->act_max);
        }
    }
}
