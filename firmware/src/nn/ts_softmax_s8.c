/* SOFTMAX, int8 -> int8 (TFLite reference_ops::Softmax, gemmlowp fixed point): differences to the row
 * maximum are scaled to Q5.26, exponentiated to Q0.31, summed in Q12.19, and each exp is multiplied by the
 * fixed-point reciprocal of the sum. Each exponential is computed once where the row has at most
 * TS_SOFTMAX_CACHE values (kept between the sum and the output pass), else twice. */
#include "ts/nn.h"
#include "ts/nn_math.h"

#define SCALED_DIFF_INTEGER_BITS 5
#define ACCUMULATION_INTEGER_BITS 12
#define TS_SOFTMAX_CACHE 64

static __attribute__((noinline)) int32_t exp_of(const ts_softmax_params_t *p, int32_t diff)
{
    const int32_t scaled = ts_mbqm_gt1(diff, p->input_multiplier, p->input_left_shift); /* Q5.26 */
    return ts_exp_on_negative_values(scaled, SCALED_DIFF_INTEGER_BITS);                  /* Q0.31 */
}

void ts_softmax_s8(const ts_softmax_params_t *p, const int8_t *input, int8_t *output)
{
    const int32_t depth = p->depth;
    const int cache = depth <= TS_SOFTMAX_CACHE;
    int32_t exps[TS_SOFTMAX_CACHE];
    for (int32_t i = 0; i < p->outer; i++) {
        const int8_t *in = input + (size_t)i * depth;
        int8_t *out = output + (size_t)i * depth;
        int32_t max_in_row = INT8_MIN;
        for (int32_t c = 0; c < depth; c++) max_in_row = in[c] > max_in_row ? in[c] : max_in_row;

        int32_t sum_of_exps = 0; /* Q12.19 */
        for (int32_t c = 0; c < depth; c++) {
            const int32_t diff = in[c] - max_in_row;
            if (diff >= p->diff_min) {
                const int32_t e = exp_of(p, diff);
                if (cache) exps[c] = e;
                sum_of_exps = ts_wrap_add(sum_of_exps, ts_rdbpot(e, ACCUMULATION_INTEGER_BITS)); /* Q12.19 */
            }
        }

        /* reciprocal of the sum: 1 / (1 + x) with the sum normalised to [1, 2) */
        const int headroom_plus_one = __builtin_clz((uint32_t)sum_of_exps);
        const int num_bits_over_unit = ACCUMULATION_INTEGER_BITS - headroom_plus_one;
        const int32_t shifted_sum_minus_one =
            (int32_t)(((uint32_t)sum_of_exps << headroom_plus_one) - ((uint32_t)1 << 31)); /* Q0.31 */
        const int32_t shifted_scale = ts_one_over_one_plus_x_q0(shifted_sum_minus_one);  /* Q0.31 */
        const int exponent = num_bits_over_unit + 31 - 8;

        for (int32_t c = 0; c < depth; c++) {
            const int32_t diff = in[c] - max_in_row;
            if (diff >= p->diff_min) {
                const int32_t e = cache ? exps[c] : exp_of(p, diff);
                const int32_t unsat = ts_rdbpot(ts_srdhm(shifted_scale, e), exponent); /* Q8.0 of 1/256 */
                out[c] = (int8_t)ts_clamp_i32(unsat - 128, INT8_MIN, INT8_MAX);
            } else {
                out[c] = INT8_MIN;
            }
        }
    }
}
