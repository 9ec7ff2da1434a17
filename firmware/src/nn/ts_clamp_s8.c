/* RELU6 on int8 (TFLM Relu6Quantized): a clamp in the input's own quantisation. Safe in place. */
#include "ts/nn.h"

void ts_clamp_s8(const ts_clamp_params_t *p, const int8_t *input, int8_t *output)
{
    const int8_t lo = (int8_t)p->min, hi = (int8_t)p->max;
    for (int32_t i = 0; i < p->size; i++) {
        const int8_t v = input[i];
        output[i] = v > hi ? hi : (v < lo ? lo : v);
    }
}
