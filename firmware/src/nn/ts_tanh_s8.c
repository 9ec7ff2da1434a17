/* TANH, int8 (TFLite reference_integer_ops::Tanh): the centred input is rescaled to Q4.27, gemmlowp's
 * fixed-point tanh gives Q0.31, rounded to 1/128 steps (zero point 0). Inputs beyond the range radius
 * saturate. */
#include "ts/nn.h"
#include "ts/nn_math.h"

/* gemmlowp tanh(a), a in Q4.27, result Q0.31 */
static int32_t tanh_q4(int32_t a)
{
    if (a == 0) return 0;
    const int32_t n = a < 0 ? a : -a;                               /* -|a| */
    const int32_t e = ts_exp_on_negative_values(n, 5);               /* exp(-2|a|): Q4.27 read as Q5.26 */
    const int32_t t = ts_one_minus_x_over_one_plus_x_q0(e);          /* tanh(|a|), Q0.31 */
    return a < 0 ? -t : t;
}

void ts_tanh_s8(const ts_sigmoid_params_t *p, const int8_t *input, int8_t *output)
{
    for (int32_t i = 0; i < p->size; i++) {
        const int32_t x = input[i] - p->input_zero_point;
        if (x <= -p->input_range_radius) {
            output[i] = INT8_MIN;
        } else if (x >= p->input_range_radius) {
            output[i] = INT8_MAX;
        } else {
            const int32_t x_q4 = ts_mbqm(x, p->input_multiplier, p->input_left_shift); /* Q4.27 */
            const int32_t y = ts_rdbpot(tanh_q4(x_q4), 31 - 7);                         /* Q7.0 of 1/128 */
            output[i] = (int8_t)ts_clamp_i32(y, INT8_MIN, INT8_MAX);
        }
    }
}
