/* SPACE_TO_BATCH_ND, int8, TFLM's numerics (reference_ops::SpaceToBatchND on the tensors' static shapes).
 *
 * Output batch b takes block phase (b / in.n) of input batch (b % in.n): output pixel (y, x) is input pixel
 * (y block_h + phase_h - pad_top, x block_w + phase_w - pad_left), or pad_value outside the input. Only as
 * many output batches as the output tensor's shape holds are written: a model converted with an unknown batch
 * keeps batch 1 there, and TFLM (which does not resize tensors) then computes the first phase only. TFLM never
 * sets its pad value (the compiler passes 0, what its fresh arena holds); 3-D tensors (NHC) are NH1C. */
#include <string.h>

#include "ts/nn.h"

void ts_space_to_batch_s8(const ts_space_to_batch_params_t *p, const int8_t *input, int8_t *output)
{
    const int32_t depth = p->input.c, in_h = p->input.h, in_w = p->input.w, in_n = p->input.n;
    int8_t *out = output;
    for (int32_t b = 0; b < p->output.n; b++) {
        const int32_t src_b = b % in_n, phase = b / in_n;
        const int32_t sh = phase / p->block_w, sw = phase % p->block_w;
        for (int32_t y = 0; y < p->output.h; y++) {
            const int32_t iy = y * p->block_h + sh - p->pad_top;
            for (int32_t x = 0; x < p->output.w; x++, out += depth) {
                const int32_t ix = x * p->block_w + sw - p->pad_left;
                if (iy < 0 || iy >= in_h || ix < 0 || ix >= in_w) {
                    memset(out, (int8_t)p->pad_value, (size_t)depth);
                } else {
                    memcpy(out, input + ((size_t)(src_b * in_h + iy) * in_w + ix) * depth, (size_t)depth);
                }
            }
        }
    }
}
