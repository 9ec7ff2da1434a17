/* Streamed MEAN, at the end of the stream: the int32 sums (ts_mean_accumulate_s8) requantised exactly as the
 * whole-tensor ts_mean_s8 does (TFLite QuantizedMeanOrSum): minus zero point x count (p->reduce, the count of
 * every input element summed into one output), then one MultiplyByQuantizedMultiplier with 1/count folded in. */
#include "ts/nn.h"
#include "ts/nn_math.h"

void ts_mean_finish_s8(const ts_mean_params_t *p, const int32_t *sum, int8_t *output)
{
    const int32_t n = p->outer * p->inner;
    const int32_t zp_total = p->input_zero_point * p->reduce;
    for (int32_t i = 0; i < n; i++) {
        const int32_t v = ts_mbqm(ts_wrap_sub(sum[i], zp_total), p->multiplier, p->shift) + p->output_zero_point;
        output[i] = (int8_t)ts_clamp_i32(v, INT8_MIN, INT8_MAX); /* Q31.0 at the output scale, int8 */
    }
}
