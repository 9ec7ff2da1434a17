/* FULLY_CONNECTED, int8, Armv7E-M DSP (same numerics as the reference ts_fully_connected_s8, bit-exact).
 *
 * Four output channels at a time: each int8 word of the input row is widened once (SXTB16, SXTB16 ROR 8)
 * and multiplied into the four channels' int8 weights, widened the same way as they are read, with 8 SMLAD
 * (ts_armv7em_mac_4x1: 16 multiply-accumulates per 20 instructions); the input's last partial group is
 * widened from a zero-padded word.
 *
 * Weights (compiler layout "s8 4ch x k4"): output channels padded to a multiple of 4, each quad as
 * n4 = ceil(depth / 4) groups of the four channels' int8 words [k0 k1 k2 k3], zero-padded to 4 n4. Bias and
 * requantisation per padded channel. */
#include "ts/nn.h"
#include "ts_armv7em.h"

/* ts_armv7em_mac_4x1 out of line for the last partial group (one copy of its asm inline is enough). */
static __attribute__((noinline)) void mac4(const int8_t *x, const int32_t **w, int32_t n, int32_t *acc)
{
    ts_armv7em_mac_4x1(x, w, n, &acc[0], &acc[1], &acc[2], &acc[3]);
}

void ts_fully_connected_s8(const ts_fully_connected_params_t *p, const int8_t *input, int8_t *output)
{
    /* exact: TFLite's multiplier and shift per channel; else the fast records, always clamped (a no-op for the
     * full int8 range) */
    const int mode = p->requant.shift != NULL ? TS_ARMV7EM_RQ_EXACT : TS_ARMV7EM_RQ_FAST_CLAMP;
    const int32_t depth = p->input_depth, out_d = p->output_depth;
    const int32_t nfull = depth >> 2, n4 = (depth + 3) >> 2;
    for (int32_t b = 0; b < p->batches; b++) {
        const int8_t *x = input + (size_t)b * depth;
        int8_t *out = output + (size_t)b * out_d;
        int8_t tail[4] = {0, 0, 0, 0};
        for (int32_t i = 0; i < (depth & 3); i++) tail[i] = x[4 * nfull + i];
        const int32_t *w = (const int32_t *)(const void *)p->weights;
        for (int32_t c = 0; c < out_d; c += 4) {
            int32_t acc[4] = {p->bias[c], p->bias[c + 1], p->bias[c + 2], p->bias[c + 3]};
            if (nfull) ts_armv7em_mac_4x1(x, &w, nfull, &acc[0], &acc[1], &acc[2], &acc[3]);
            if (n4 > nfull) mac4(tail, &w, 1, acc);
            const int32_t m = out_d - c < 4 ? out_d - c : 4;
            for (int32_t j = 0; j < m; j++) {
                out[c + j] = ts_armv7em_requant(mode, acc[j], p->requant.multiplier, p->requant.shift, c + j,
                                                p->output_zero_point, p->act_min, p->act_max);
            }
        }
    }
}
