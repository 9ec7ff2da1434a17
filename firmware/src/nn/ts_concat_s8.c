/* CONCATENATION (TFLM's int8 kernel is a plain copy: inputs and output share the quantisation): for each
 * index of the dims before the axis, the inputs' blocks are copied one after the other. */
#include <string.h>

#include "ts/nn.h"

void ts_concat_s8(const ts_concat_params_t *p, const int8_t *const *inputs, int8_t *output)
{
    int8_t *out = output;
    for (int32_t o = 0; o < p->outer; o++) {
        for (int32_t k = 0; k < p->num_inputs; k++) {
            const int32_t n = p->bytes[k];
            memcpy(out, inputs[k] + (size_t)o * n, (size_t)n);
            out += n;
        }
    }
}
