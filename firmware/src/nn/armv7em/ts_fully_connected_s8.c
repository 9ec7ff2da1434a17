/* FULLY_CONNECTED, int8, Armv7E-M DSP (same numerics as the reference ts_fully_connected_s8, bit-exact).
 *
 * Four output channels at a time: each int8 word of the input row is widened once (SXTB16, SXTB16 ROR 8)
 * and multiplied into the four channels' int16 weights with 8 SMLAD (ts_armv7em_mac_4x1: 16 multiply-
 * accumulates per 13 instructions); the input's last partial group is widened into a zero-padded word.
 *
 * Weights (compiler layout "s16 4ch x k4"): output channels padded to a multiple of 4, each quad as
 * n4 = ceil(depth / 4) groups of [c0(k0,k2) c0(k1,k3) c1(..) c1(..)] [c2(..) c2(..) c3(..) c3(..)] int16
 * pairs, zero-padded to 4 n4. Bias and requantisation per padded channel. */
#include "ts/nn.h"
#include "ts_armv7em.h"

TS_ARMV7EM_ALWAYS_INLINE void fc(const ts_fully_connected_params_t *p, const int8_t *input, int8_t *output, const int mode)
{
    const int32_t depth = p->input_depth, out_d = p->output_depth;
    const int32_t nfull = depth >> 2, n4 = (depth + 3) >> 2;
    for (int32_t b = 0; b < p->batches; b++) {
        const int8_t *x = input + (size_t)b * depth;
        int8_t *out = output + (size_t)b * out_d;
        int8_t tail[4] = {0, 0, 0, 0};
        for (int32_t i = 0; i < (depth & 3); i++) tail[i] = x[4 * nfull + i];
        const int32_t *w = (const int32_t *)(const void *)p->weights;
        for (int32_t c = 0; c < out_d; c += 4) {
            int32_t a0 = p->bias[c], a1 = p->bias[c + 1], a2 = p->bias[c + 2], a3 = p->bias[c + 3];
            if (nfull) ts_armv7em_mac_4x1(x, &w, nfull, &a0, &a1, &a2, &a3);
            if (n4 > nfull) ts_armv7em_mac_4x1(tail, &w, 1, &a0, &a1, &a2, &a3);
            const int32_t acc[4] = {a0, a1, a2, a3};
            const int32_t m = out_d - c < 4 ? out_d - c : 4;
            for (int32_t j = 0; j < m; j++)
                out[c + j] = ts_armv7em_requant(mode, acc[j], p->requant.multiplier, p->requant.shift, c + j, p->output_zero_point, p->act_min,
                                           p->act_max);
        }
    }
}

void ts_fully_connected_s8(const ts_fully_connected_params_t *p, const int8_t *input, int8_t *output)
{
    TS_ARMV7EM_BY_MODE(p, fc, p, input, output);
}
