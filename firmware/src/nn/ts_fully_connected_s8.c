/* FULLY_CONNECTED, int8, per-channel requantisation (TFLite reference_integer_ops::FullyConnected and
 * FullyConnectedPerChannel numerics; a per-tensor scale arrives repeated per channel). */
#include "ts/nn.h"
#include "ts/nn_math.h"
#include "ts_nn_dot.h"

void ts_fully_connected_s8(const ts_fully_connected_params_t *p, const int8_t *input, int8_t *output)
{
    const int32_t depth = p->input_depth, out_d = p->output_depth;
    for (int32_t b = 0; b < p->batches; b++) {
        ts_dot_channels(input + (size_t)b * depth, p->weights, p->bias, depth, 0, out_d, &p->requant,
                        p->output_zero_point, p->act_min, p->act_max, output + (size_t)b * out_d);
    }
}
