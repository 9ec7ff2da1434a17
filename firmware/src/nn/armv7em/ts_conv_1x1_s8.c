/* CONV_2D with a 1x1 filter (no padding, any stride, one group), int8, Armv7E-M DSP: no im2col; the weights
 * read int8 from flash (armv7em/ts_armv7em_conv_1x1.c; ts_conv_1x1_widened_s8 widens them once per call). */
#include "ts/nn.h"
#include "ts_armv7em.h"

int32_t ts_conv_1x1_s8_get_buffer_size(const ts_conv_params_t *p) { return ts_armv7em_conv_1x1_scratch(p); }

void ts_conv_1x1_s8(const ts_conv_params_t *p, const int8_t *input, int8_t *output, void *scratch)
{
    ts_armv7em_conv_1x1(p, input, output, scratch, (const int32_t *)(const void *)p->weights, &ts_armv7em_format_s8, 0,
                        p->output.c);
}
