/* CONV_2D with a 1x1 filter, Armv7E-M DSP, weights widened per call into the end of the scratch (all of them or
 * TS_CONV_CHUNK channel pairs per pass, see ts_conv_widened_s8): the 1x1 convolution of
 * armv7em/ts_armv7em_conv_1x1.c on the widened stream. */
#include "ts/nn.h"
#include "ts_armv7em.h"

static inline int32_t n4_of(const ts_conv_params_t *p) { return (p->input.c + 3) >> 2; }

int32_t ts_conv_1x1_widened_s8_get_buffer_size(const ts_conv_params_t *p)
{
    return ts_armv7em_conv_1x1_scratch(p) + 4 * ts_armv7em_conv_chunk_pairs(p) * TS_ARMV7EM_PAIR_WORDS_S16(n4_of(p));
}

void ts_conv_1x1_widened_s8(const ts_conv_params_t *p, const int8_t *input, int8_t *output, void *scratch)
{
    int32_t *wide = (int32_t *)(void *)((uint8_t *)scratch + ts_armv7em_conv_1x1_scratch(p));
    ts_armv7em_conv_widened(p, input, output, scratch, wide, n4_of(p), ts_armv7em_conv_1x1);
}
