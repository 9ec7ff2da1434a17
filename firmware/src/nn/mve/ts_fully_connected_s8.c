/* FULLY_CONNECTED, int8, Helium (same numerics as the reference ts_fully_connected_s8, bit-exact): blocks of 8
 * output channels per input row, one VMLADAVA per channel and 16 inputs (the last chunk predicated), vector
 * requantisation, in assembly (ts_mve_fc8: 128 multiply-accumulates per 17 instructions).
 * Weights: layout "s8 8ch x k16 + rq": per block of 8 output channels ceil(depth / 16) chunks of [c0 k0..15] ...
 * [c7 ..] (k zero-padded), then the constants of channels 0-3 and of 4-7 (4 x 4 int32 each: bias, multiplier,
 * left shift, minus the right shift); when the channel count leaves 1-4 after the blocks of 8 (padded
 * otherwise), those are a last block of 4 ("s8 4ch x k16 + rq", mve/ts_mve.h), done here in C. */
#include "ts/nn.h"
#include "ts_mve.h"

/* The last 1-4 channels (one block of 4) of one row. */
static void last4(const ts_fully_connected_params_t *p, const int8_t *x, const int8_t *w, int8_t *out, int32_t n)
{
    const int32_t depth = p->input_depth, n16 = (depth + 15) >> 4;
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    const int8_t *wk = w;
    for (int32_t i = 0, left = depth; i < n16; i++, left -= 16, wk += 64) {
        const int8x16_t v = vldrbq_z_s8(x + 16 * i, vctp8q((uint32_t)left));
        a0 = vmladavaq_s8(a0, v, vldrbq_s8(wk));
        a1 = vmladavaq_s8(a1, v, vldrbq_s8(wk + 16));
        a2 = vmladavaq_s8(a2, v, vldrbq_s8(wk + 32));
        a3 = vmladavaq_s8(a3, v, vldrbq_s8(wk + 48));
    }
    const int32x4_t acc = {a0, a1, a2, a3};
    const ts_mve_rq_t r = ts_mve_rq_load(w + 64 * n16);
    vstrbq_p_s32(out, ts_mve_requant(acc, &r, p->output_zero_point, vdupq_n_s32(p->act_min),
                                     vdupq_n_s32(p->act_max)), vctp32q((uint32_t)n));
}

void ts_fully_connected_s8(const ts_fully_connected_params_t *p, const int8_t *input, int8_t *output)
{
    const int32_t depth = p->input_depth, out_d = p->output_depth, rem = out_d & 7;
    const int32_t n8 = (rem > 0 && rem <= 4) ? out_d - rem : out_d; /* channels of the blocks of 8 */
    const int32_t n16 = (depth + 15) >> 4;
    ts_mve_fc_t a = {0, p->weights, 0, depth >> 4, depth & 15, n8, p->output_zero_point, p->act_min, p->act_max};
    const int8_t *w4 = p->weights + (size_t)((n8 + 7) >> 3) * (128 * n16 + 128);
    for (int32_t b = 0; b < p->batches; b++) {
        const int8_t *x = input + (size_t)b * depth;
        int8_t *out = output + (size_t)b * out_d;
        if (n8 > 0) {
            a.x = x;
            a.out = out;
            ts_mve_fc8(&a);
        }
        if (n8 < out_d) last4(p, x, w4, out + n8, out_d - n8);
    }
}
