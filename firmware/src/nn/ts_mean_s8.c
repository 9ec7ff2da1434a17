/* MEAN, int8 (TFLite reference_ops::QuantizedMeanOrSum): int32 sums over the reduced axes (scratch, one
 * per inner element), minus zero point x count, then one requantisation with 1/count folded into the
 * multiplier by the compiler. */
#include "ts/nn.h"
#include "ts/nn_math.h"

int32_t ts_mean_s8_get_buffer_size(const ts_mean_params_t *p)
{
    return p->inner * (int32_t)sizeof(int32_t);
}

void ts_mean_s8(const ts_mean_params_t *p, const int8_t *input, int8_t *output, void *scratch)
{
    const int32_t reduce = p->reduce, inner = p->inner;
    int32_t *sum = (int32_t *)scratch;
    const int32_t zp_total = p->input_zero_point * reduce;
    for (int32_t o = 0; o < p->outer; o++) {
        const int8_t *in = input + (size_t)o * reduce * inner;
        for (int32_t i = 0; i < inner; i++) sum[i] = 0;
        for (int32_t r = 0; r < reduce; r++) {
            const int8_t *row = in + (size_t)r * inner;
            for (int32_t i = 0; i < inner; i++) sum[i] += row[i];
        }
        int8_t *out = output + (size_t)o * inner;
        for (int32_t i = 0; i < inner; i++) {
            const int32_t v = ts_mbqm(ts_wrap_sub(sum[i], zp_total), p->multiplier, p->shift) + p->output_zero_point;
            out[i] = (int8_t)ts_clamp_i32(v, INT8_MIN, INT8_MAX);
        }
    }
}
