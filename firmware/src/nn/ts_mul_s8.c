/* MUL, int8 (TFLite reference_integer_ops::MulElementwise numerics). */
#include "ts/nn.h"
#include "ts/nn_math.h"
#include "ts_nn_broadcast.h"

static inline int8_t mul1(const ts_mul_params_t *p, int32_t x, int32_t y)
{
    const int32_t prod = (p->input1_offset + x) * (p->input2_offset + y); /* at scale1 x scale2 */
    const int32_t out = p->output_offset + ts_mbqm(prod, p->output_multiplier, p->output_shift);
    return (int8_t)ts_clamp_i32(out, p->act_min, p->act_max);
}

void ts_mul_s8(const ts_mul_params_t *p, const int8_t *input1, const int8_t *input2, int8_t *output)
{
    if (!p->shape.broadcast) {
        for (int32_t i = 0; i < p->shape.size; i++) output[i] = mul1(p, input1[i], input2[i]);
        return;
    }
#define MUL_ROW(o1, s1, o2, s2, oo, n)                                                 \
    for (int32_t i = 0; i < (n); i++) output[(oo) + i] = mul1(p, input1[(o1) + i * (s1)], input2[(o2) + i * (s2)]);
    TS_BROADCAST_ROWS(&p->shape, MUL_ROW);
#undef MUL_ROW
}
