/* LOGISTIC, int8 (TFLite reference_integer_ops::Logistic): the centred input is rescaled to Q4.27,
 * gemmlowp's fixed-point logistic gives Q0.31, rounded to 1/256 steps with zero point -128. Inputs beyond
 * the range radius saturate. */
#include "ts/nn.h"
#include "ts/nn_math.h"
#include "ts_sigmoid_common.h"

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
    ts_sigmoid_map(p, input, output, logistic_q4, 8, -128);
}
