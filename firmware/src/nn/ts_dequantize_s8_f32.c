/* DEQUANTIZE int8 -> float32 (TFLite reference_ops::Dequantize): (float)(scale * (q - zero point)) with the
 * scale widened to double, exactly as TFLite computes it. */
#include "ts/nn.h"

void ts_dequantize_s8_f32(const ts_dequantize_params_t *p, const int8_t *input, float *output)
{
    for (int32_t i = 0; i < p->size; i++) {
        output[i] = (float)(p->scale * (double)(input[i] - p->zero_point));
    }
}
