/* FULLY_CONNECTED, int8, Helium (same numerics as the reference ts_fully_connected_s8, bit-exact): blocks of 4
 * output channels, one VMLADAVA per channel and 16 inputs (the last chunk predicated), vector requantisation.
 * Weights: layout "s8 4ch x k16 + rq" (mve/ts_mve.h) with k = input_depth. */
#include "ts/nn.h"
#include "ts_mve.h"

void ts_fully_connected_s8(const ts_fully_connected_params_t *p, const int8_t *input, int8_t *output)
{
    const int32_t depth = p->input_depth, out_d = p->output_depth, n16 = (depth + 15) >> 4;
    const int32x4_t lo = vdupq_n_s32(p->act_min), hi = vdupq_n_s32(p->act_max);
    for (int32_t b = 0; b < p->batches; b++) {
        const int8_t *x = input + (size_t)b * depth;
        int8_t *out = output + (size_t)b * out_d;
        const int8_t *w = p->weights;
        for (int32_t c = 0; c < out_d; c += 4, w += TS_MVE_BLOCK_BYTES(n16)) {
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
            vstrbq_p_s32(out + c, ts_mve_requant(acc, &r, p->output_zero_point, lo, hi),
                         vctp32q((uint32_t)(out_d - c)));
        }
    }
}
