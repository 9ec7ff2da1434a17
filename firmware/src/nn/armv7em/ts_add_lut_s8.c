/* ADD, int8, through lookup tables (same numerics as the reference ts_add_s8, bit-exact): each input's
 * shift by 20 bits and rescaling to twice the larger input scale only depends on its int8 value, so the
 * compiler tabulates both (256 int32 each, doubled for SMMLAR); per element there remain two table loads, an
 * add and one fast requantisation (armv7em/ts_armv7em.h). */
#include "../ts_nn_broadcast.h"
#include "ts/nn.h"
#include "ts_armv7em.h"

TS_ARMV7EM_ALWAYS_INLINE int8_t add1(const int32_t *t1, const int32_t *t2, int32_t m, int32_t r, int32_t e, int8_t x,
                                int8_t y, int clamp, int32_t lo, int32_t hi)
{
    const int32_t sum = t1[(uint8_t)x] + t2[(uint8_t)y]; /* 2 x the sum at twice the larger input scale */
    int32_t v = ts_armv7em_rq(sum, m, r, e);
    if (clamp) v = ts_clamp_i32(v, lo, hi);
    return (int8_t)v;
}

TS_ARMV7EM_ALWAYS_INLINE void add_flat(const ts_add_lut_params_t *p, const int8_t *in1, const int8_t *in2, int8_t *out,
                                  int32_t n, int clamp)
{
    const int32_t *t1 = p->table1, *t2 = p->table2;
    const int32_t m = p->output_multiplier, r = p->output_round, e = p->output_shift;
    const int32_t lo = p->act_min, hi = p->act_max;
    int32_t i = 0;
    for (; i + 2 <= n; i += 2) {
        const int8_t x0 = in1[i], x1 = in1[i + 1], y0 = in2[i], y1 = in2[i + 1];
        const int8_t o0 = add1(t1, t2, m, r, e, x0, y0, clamp, lo, hi);
        const int8_t o1 = add1(t1, t2, m, r, e, x1, y1, clamp, lo, hi);
        out[i] = o0; /* after both loads: the output may be one of the inputs */
        out[i + 1] = o1;
    }
    if (i < n) out[i] = add1(t1, t2, m, r, e, in1[i], in2[i], clamp, lo, hi);
}

void ts_add_lut_s8(const ts_add_lut_params_t *p, const int8_t *input1, const int8_t *input2, int8_t *output)
{
    const int clamp = p->act_min > INT8_MIN || p->act_max < INT8_MAX;
    if (!p->shape.broadcast) {
        if (clamp) {
            add_flat(p, input1, input2, output, p->shape.size, 1);
        } else {
            add_flat(p, input1, input2, output, p->shape.size, 0);
        }
        return;
    }
    const int32_t *t1 = p->table1, *t2 = p->table2;
    const int32_t m = p->output_multiplier, r = p->output_round, e = p->output_shift;
#define ADD_ROW(o1, s1, o2, s2, oo, n)                                                                   \
    for (int32_t i = 0; i < (n); i++)                                                                   \
        output[(oo) + i] = add1(t1, t2, m, r, e, input1[(o1) + i * (s1)], input2[(o2) + i * (s2)], 1, p->act_min, \
                                p->act_max);
    TS_BROADCAST_ROWS(&p->shape, ADD_ROW);
#undef ADD_ROW
}
