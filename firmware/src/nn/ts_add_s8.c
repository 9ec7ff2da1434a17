/* ADD, int8 (TFLite reference_integer_ops::AddFunc numerics): both inputs are shifted left by 20 bits,
 * rescaled to twice the larger input scale, summed and rescaled to the output. */
#include "ts/nn.h"
#include "ts/nn_math.h"
#include "ts_nn_broadcast.h"

static inline int8_t add1(const ts_add_params_t *p, int32_t x, int32_t y)
{
    const int32_t a = (int32_t)((uint32_t)(p->input1_offset + x) << p->left_shift); /* Q.20 */
    const int32_t b = (int32_t)((uint32_t)(p->input2_offset + y) << p->left_shift);
    const int32_t sa = ts_mbqm_lt1(a, p->input1_multiplier, p->input1_shift); /* at 2 x max input scale */
    const int32_t sb = ts_mbqm_lt1(b, p->input2_multiplier, p->input2_shift);
    const int32_t sum = ts_wrap_add(sa, sb);
    const int32_t out = ts_mbqm_lt1(sum, p->output_multiplier, p->output_shift) + p->output_offset;
    return (int8_t)ts_clamp_i32(out, p->act_min, p->act_max);
}

void ts_add_s8(const ts_add_params_t *p, const int8_t *input1, const int8_t *input2, int8_t *output)
{
    if (!p->shape.broadcast) {
        for (int32_t i = 0; i < p->shape.size; i++) output[i] = add1(p, input1[i], input2[i]);
        return;
    }
#define ADD_ROW(o1, s1, o2, s2, oo, n)                                                 \
    for (int32_t i = 0; i < (n); i++) output[(oo) + i] = add1(p, input1[(o1) + i * (s1)], input2[(o2) + i * (s2)]);
    TS_BROADCAST_ROWS(&p->shape, ADD_ROW);
#undef ADD_ROW
}
