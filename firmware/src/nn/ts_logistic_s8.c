/* LOGISTIC, int8 (TFLite reference_integer_ops::Logistic): the centred input is rescaled to Q4.27,
 * gemmlowp's fixed-point logistic gives Q0.31, rounded to 1/256 steps with zero point -128. Inputs beyond
 * the range radius saturate. */
#include "ts/nn.h"
#include "ts/nn_math.h"

/* gemmlowp logistic(a), a in Q4.27, result Q0.31 */
static int32_t logistic_q4(int32_t a)
{
    if (a == 0) return 1 << 30; /* 0.5 */
    const int32_t abs_a = a > 0 ? a : -a;
    const int32_t e = ts_exp_on_negative_values(-abs_a, 4);     /* exp(-|a|), Q0.31 */
    const int32_t r = ts_one_over_one_plus_x_q0(e);             /* logistic(|a|), Q0.31 */
    return a > 0 ? r : ts_wrap_sub(INT32_MAX, r);
}

void ts_logistic_s8(const ts_sigmoid_params_t *p, const int8_t *input, int8_t *output)
{
    for (int32_t i = 0; i < p->size; i++) {
        const int32_t x = input[i] - p->input_zero_point;
        if (x <= -p->input_range_radius) {
            output[i] = INT8_MIN;
        } else if (x >= p->input_range_radius) {
            output[i] = INT8_MAX;
        } else {
            const int32_t x_q4 = ts_mbqm(x, p->input_multiplier, p->input_left_shift); /* Q4.27 */
            const int32_t y = ts_rdbpot(logistic_q4(x_q4), 31 - 8);                     /* Q8.0 of 1/256 */
            output[i] = (int8_t)ts_clamp_i32(y - 128, INT8_MIN, INT8_MAX);
        }
    }
}
