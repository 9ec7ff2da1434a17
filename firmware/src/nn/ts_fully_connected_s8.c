/* FULLY_CONNECTED, int8, per-channel requantisation (TFLite reference_integer_ops::FullyConnected and
 * FullyConnectedPerChannel numerics; a per-tensor scale arrives repeated per channel). */
#include "ts/nn.h"
#include "ts/nn_math.h"
#include "ts_nn_dot.h"

static inline int8_t requant(int32_t acc, const ts_fully_connected_params_t *p, int32_t c)
{
    int32_t v = ts_mbqm(acc, p->requant.multiplier[c], p->requant.shift[c]);
    v += p->output_zero_point;
    return (int8_t)ts_clamp_i32(v, p->act_min, p->act_max);
}

void ts_fully_connected_s8(const ts_fully_connected_params_t *p, const int8_t *input, int8_t *output)
{
    const int32_t depth = p->input_depth, out_d = p->output_depth;
    for (int32_t b = 0; b < p->batches; b++) {
        const int8_t *x = input + (size_t)b * depth;
        int8_t *out = output + (size_t)b * out_d;
        int32_t o = 0;
        for (; o + 4 <= out_d; o += 4) {
            int32_t acc[4] = {p->bias[o], p->bias[o + 1], p->bias[o + 2], p->bias[o + 3]};
            ts_dot4_s8(x, p->weights + (size_t)o * depth, depth, depth, acc);
            for (int j = 0; j < 4; j++) out[o + j] = requant(acc[j], p, o + j);
        }
        for (; o + 2 <= out_d; o += 2) {
            const int8_t *w0 = p->weights + (size_t)o * depth;
            int32_t acc0 = p->bias[o], acc1 = p->bias[o + 1];
            ts_dot2_s8(x, w0, w0 + depth, depth, &acc0, &acc1);
            out[o] = requant(acc0, p, o);
            out[o + 1] = requant(acc1, p, o + 1);
        }
        if (o < out_d) {
            out[o] = requant(p->bias[o] + ts_dot_s8(x, p->weights + (size_t)o * depth, depth), p, o);
        }
    }
}
