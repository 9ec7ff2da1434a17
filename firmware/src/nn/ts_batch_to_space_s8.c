/* BATCH_TO_SPACE_ND, int8, TFLM's numerics (reference_ops::BatchToSpaceND on the tensors' static shapes).
 *
 * Input batch b goes to output batch (b % out.n) at block phase (b / out.n): input pixel (y, x) lands on output
 * pixel (y block_h + phase_h - crop_top, x block_w + phase_w - crop_left) when that is inside the output. When
 * the input holds fewer batches than block_h x block_w x out.n (a model converted with an unknown batch: TFLM
 * does not resize its tensors), some output pixels are never written and keep what TFLM's arena held there;
 * the compiler replays TFLM's memory plan (aot/tflm_arena.py) and lists those bytes as fills, applied first:
 * bytes [dst, dst + length) of the output from bytes [src_offset, ...) of inputs[src] (src >= 1: an earlier
 * tensor), or zeros (src = 0). inputs[0] is the op's input. */
#include <string.h>

#include "ts/nn.h"

void ts_batch_to_space_s8(const ts_batch_to_space_params_t *p, const int8_t *const *inputs, int8_t *output)
{
    for (int32_t i = 0; i < p->num_fills; i++) {
        const ts_fill_t *f = &p->fills[i];
        if (f->src > 0) {
            memmove(output + f->dst, inputs[f->src] + f->src_offset, (size_t)f->length);
        } else {
            memset(output + f->dst, 0, (size_t)f->length);
        }
    }
    const int8_t *input = inputs[0];
    const int32_t depth = p->input.c, out_h = p->output.h, out_w = p->output.w, out_n = p->output.n;
    for (int32_t b = 0; b < p->input.n; b++) {
        const int32_t dst_b = b % out_n, phase = b / out_n;
        const int32_t sh = phase / p->block_w, sw = phase % p->block_w;
        for (int32_t y = 0; y < p->input.h; y++) {
            const int32_t oy = y * p->block_h + sh - p->crop_top;
            if (oy < 0 || oy >= out_h) continue;
            for (int32_t x = 0; x < p->input.w; x++) {
                const int32_t ox = x * p->block_w + sw - p->crop_left;
                if (ox < 0 || ox >= out_w) continue;
                memcpy(output + ((size_t)(dst_b * out_h + oy) * out_w + ox) * depth,
                       input + ((size_t)(b * p->input.h + y) * p->input.w + x) * depth, (size_t)depth);
            }
        }
    }
}
