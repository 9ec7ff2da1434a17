/* MEAN, int8, Armv7E-M DSP (same numerics as the reference ts_mean_s8): the sums over the reduced rows, four
 * inner elements at a time in int16 halves (SXTAB16), flushed into the int32 scratch every 255 rows; then one
 * requantisation per output, TFLite's. */
#include "ts/nn.h"
#include "ts_armv7em.h"

int32_t ts_mean_s8_get_buffer_size(const ts_mean_params_t *p)
{
    return p->inner * (int32_t)sizeof(int32_t);
}

void ts_mean_s8(const ts_mean_params_t *p, const int8_t *input, int8_t *output, void *scratch)
{
    const int32_t reduce = p->reduce, inner = p->inner, i4 = inner & ~3;
    int32_t *sum = (int32_t *)scratch;
    const int32_t zp_total = p->input_zero_point * reduce;
    for (int32_t o = 0; o < p->outer; o++) {
        const int8_t *in = input + (size_t)o * reduce * inner;
        for (int32_t i = 0; i < i4; i += 4) {
            int32_t s4[4] = {0, 0, 0, 0};
            ts_armv7em_sum4(in + i, reduce, inner, s4);
            sum[i] = s4[0], sum[i + 1] = s4[1], sum[i + 2] = s4[2], sum[i + 3] = s4[3];
        }
        for (int32_t i = i4; i < inner; i++) {
            int32_t s = 0;
            for (int32_t k = 0; k < reduce; k++) s += in[(size_t)k * inner + i];
            sum[i] = s;
        }
        int8_t *out = output + (size_t)o * inner;
        for (int32_t i = 0; i < inner; i++) {
            const int32_t v = ts_mbqm(ts_wrap_sub(sum[i], zp_total), p->multiplier, p->shift) + p->output_zero_point;
            out[i] = (int8_t)ts_clamp_i32(v, INT8_MIN, INT8_MAX);
        }
    }
}
