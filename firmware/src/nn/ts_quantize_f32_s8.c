/* QUANTIZE float32 -> int8 (TFLite reference_ops::AffineQuantize): round(x / scale) (halves away from
 * zero, in float) + zero point, saturated to int8. Inputs far out of range saturate; NaN gives the zero
 * point. */
#include <math.h>

#include "ts/nn.h"

void ts_quantize_f32_s8(const ts_quantize_params_t *p, const float *input, int8_t *output)
{
    for (int32_t i = 0; i < p->size; i++) {
        float r = roundf(input[i] / p->scale);
        if (r != r) r = 0.0f;
        if (r > 1000.0f) r = 1000.0f; /* well beyond int8 whatever the zero point: no int overflow */
        if (r < -1000.0f) r = -1000.0f;
        const int32_t v = (int32_t)r + p->zero_point;
        output[i] = (int8_t)(v < INT8_MIN ? INT8_MIN : (v > INT8_MAX ? INT8_MAX : v));
    }
}
