/* CONV_2D, int8, Armv7E-M DSP (same numerics as the reference ts_conv_s8, bit-exact): the weights read int8
 * from flash and widened as the SMLAD blocks use them (armv7em/ts_armv7em_conv.c; ts_conv_widened_s8 widens
 * them once per call instead, where the compiler found room in the arena). */
#include "ts/nn.h"
#include "ts_armv7em.h"

int32_t ts_conv_s8_get_buffer_size(const ts_conv_params_t *p) { return ts_armv7em_conv_scratch(p); }

void ts_conv_s8(const ts_conv_params_t *p, const int8_t *input, int8_t *output, void *scratch)
{
    ts_armv7em_conv(p, input, output, scratch, (const int32_t *)(const void *)p->weights, &ts_armv7em_format_s8, 0,
                    p->output.c);
}
