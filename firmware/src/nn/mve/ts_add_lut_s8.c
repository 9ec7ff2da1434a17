/* ADD, int8, through lookup tables, Helium (same numerics as the reference ts_add_s8, bit-exact; same tables
 * and output record as the Armv7E-M version): four elements per vector, the tables read by gathering loads
 * (VLDRW with the input bytes as offsets), the output requantisation as VRMULH (the SMMLAR of the fast record)
 * plus round, the sign fix, an arithmetic shift and the clamp. Broadcasting goes through the scalar path. */
#include "../ts_nn_broadcast.h"
#include "ts/nn.h"
#include "ts_mve.h"

static inline int8_t add1(const ts_add_lut_params_t *p, int8_t x, int8_t y)
{
    const int32_t sum = p->table1[(uint8_t)x] + p->table2[(uint8_t)y];
    const int64_t prod = (int64_t)sum * p->output_multiplier + ((int64_t)1 << 31);
    int32_t s = (int32_t)(prod >> 32) + p->output_round;
    s = (s + (sum >> 31)) >> p->output_shift;
    return (int8_t)ts_clamp_i32(s, p->act_min, p->act_max);
}

void ts_add_lut_s8(const ts_add_lut_params_t *p, const int8_t *input1, const int8_t *input2, int8_t *output)
{
    if (p->shape.broadcast) {
#define ADD_ROW(o1, s1, o2, s2, oo, n) \
    for (int32_t i = 0; i < (n); i++) output[(oo) + i] = add1(p, input1[(o1) + i * (s1)], input2[(o2) + i * (s2)]);
        TS_BROADCAST_ROWS(&p->shape, ADD_ROW);
#undef ADD_ROW
        return;
    }
    const int32x4_t m = vdupq_n_s32(p->output_multiplier), shift = vdupq_n_s32(-p->output_shift);
    const int32x4_t lo = vdupq_n_s32(p->act_min), hi = vdupq_n_s32(p->act_max);
    const int32_t r = p->output_round;
    for (int32_t i = 0, n = p->shape.size; i < n; i += 4) {
        const mve_pred16_t valid = vctp32q((uint32_t)(n - i));
        const uint32x4_t x = vldrbq_z_u32((const uint8_t *)input1 + i, valid);
        const uint32x4_t y = vldrbq_z_u32((const uint8_t *)input2 + i, valid);
        const int32x4_t sum = vaddq_s32(vldrwq_gather_shifted_offset_s32(p->table1, x),
                                        vldrwq_gather_shifted_offset_s32(p->table2, y));
        int32x4_t s = vaddq_n_s32(vrmulhq_s32(sum, m), r);
        s = vshlq_s32(vaddq_s32(s, vshrq_n_s32(sum, 31)), shift);
        vstrbq_p_s32(output + i, vminq_s32(vmaxq_s32(s, lo), hi), valid);
    }
}
