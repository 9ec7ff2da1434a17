/* The element loop shared by LOGISTIC and TANH (TFLite reference_integer_ops): the centred input rescaled to
 * Q4.27, the fixed-point function f (Q0.31 result), rounded to 2^-out_bits steps plus the output zero point;
 * inputs beyond the range radius saturate. Private to firmware/src/nn. */
#ifndef TS_SIGMOID_COMMON_H
#define TS_SIGMOID_COMMON_H

#include <stdint.h>

#include "ts/nn.h"
#include "ts/nn_math.h"

static inline __attribute__((always_inline)) void ts_sigmoid_map(const ts_sigmoid_params_t *p, const int8_t *input,
                                                                 int8_t *output, int32_t (*f)(int32_t),
                                                                 int out_bits, int32_t out_zp)
{
    for (int32_t i = 0; i < p->size; i++) {
        const int32_t x = input[i] - p->input_zero_point;
        if (x <= -p->input_range_radius) {
            output[i] = INT8_MIN;
        } else if (x >= p->input_range_radius) {
            output[i] = INT8_MAX;
        } else {
            const int32_t x_q4 = ts_mbqm(x, p->input_multiplier, p->input_left_shift); /* Q4.27 */
            const int32_t y = ts_rdbpot(f(x_q4), 31 - out_bits);                        /* Q(out_bits).0 */
            output[i] = (int8_t)ts_clamp_i32(y + out_zp, INT8_MIN, INT8_MAX);
        }
    }
}

#endif /* TS_SIGMOID_COMMON_H */
