/* TANH, int8 (TFLite reference_integer_ops::Tanh): the centred input is rescaled to Q4.27, gemmlowp's
 * fixed-point tanh gives Q0.31, rounded to 1/128 steps (zero point 0). Inputs beyond the range radius
 * saturate. */
#include "ts/nn.h"
#include "ts/nn_math.h"
#include "ts_sigmoid_common.h"

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
    ts_sigmoid_map(p, input, output, tanh_q4, 7, 0);
}
