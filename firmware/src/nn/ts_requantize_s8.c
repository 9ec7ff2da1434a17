/* QUANTIZE int8 -> int8 (TFLite reference_ops::Requantize) and RELU (TFLM ReluQuantized): rescale the
 * centred input to the output scale, add the output zero point, clamp. Safe in place. */
#include "ts/nn.h"
#include "ts/nn_math.h"

void ts_requantize_s8(const ts_requantize_params_t *p, const int8_t *input, int8_t *output)
{
    for (int32_t i = 0; i < p->size; i++) {
        const int32_t v = ts_mbqm(input[i] - p->input_zero_point, p->multiplier, p->shift) + p->output_zero_point;
        output[i] = (int8_t)ts_clamp_i32(v, p->act_min, p->act_max);
    }
}
