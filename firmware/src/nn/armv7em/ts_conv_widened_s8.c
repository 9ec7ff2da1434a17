/* CONV_2D, int8, Armv7E-M DSP, weights widened per call: the layer's int8 stream (flash, "s8 2ch x k4 + rq") is
 * widened into the end of the scratch ("s16 2ch x k4 + rq", ts_armv7em_widen_stream), all of it or TS_CONV_CHUNK
 * channel pairs per pass, then the convolution of armv7em/ts_armv7em_conv.c runs on it with the
 * 10-instruction SMLAD bodies (16 multiply-accumulates) instead of 14. The compiler picks this variant only
 * where that scratch fits in arena bytes free during the layer (the arena does not grow for it). */
#include "ts/nn.h"
#include "ts_armv7em.h"

static inline int32_t n4_of(const ts_conv_params_t *p) { return (p->filter.h * p->filter.w * p->filter.c + 3) >> 2; }

static inline int32_t base_bytes(const ts_conv_params_t *p) { return (ts_armv7em_conv_scratch(p) + 3) & ~3; }

int32_t ts_conv_widened_s8_get_buffer_size(const ts_conv_params_t *p)
{
    return base_bytes(p) + 4 * ts_armv7em_conv_chunk_pairs(p) * TS_ARMV7EM_PAIR_WORDS_S16(n4_of(p));
}

void ts_conv_widened_s8(const ts_conv_params_t *p, const int8_t *input, int8_t *output, void *scratch)
{
    int32_t *wide = (int32_t *)(void *)((uint8_t *)scratch + base_bytes(p));
    ts_armv7em_conv_widened(p, input, output, scratch, wide, n4_of(p), ts_armv7em_conv);
}
