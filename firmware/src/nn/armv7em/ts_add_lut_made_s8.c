/* ADD, int8, Armv7E-M: ts_add_lut_s8 on tables made at the start of the call in its scratch (2 x 256 int32)
 * instead of stored in flash: each entry is 2 x TFLite's rescaled input (the reference ts_add_s8's arithmetic on
 * one int8 value), 512 entries for about 8 K instructions per call and 2 KB less flash per layer. The compiler
 * takes it where the arena has those 2 KB free during the layer; else the tables in flash. */
#include "ts/nn.h"
#include "ts/nn_math.h"
#include "ts_armv7em.h"

int32_t ts_add_lut_made_s8_get_buffer_size(const ts_add_lut_made_params_t *p)
{
    (void)p;
    return 2 * 256 * 4;
}

/* table[(uint8_t)x] = 2 x MultiplyByQuantizedMultiplierSmallerThanOne((x + offset) << left_shift) for every
 * int8 x: SaturatingRoundingDoublingHighMul as SMMLAR of the doubled value (|a| < 2^28: no saturation, the
 * multiplier being positive), RoundingDivideByPOT as the floor of (s + 2^(e-1) - (s < 0)) / 2^e. */
#if defined(__ARM_FEATURE_MVE)
#include <arm_mve.h>

/* Helium (a Cortex-M55 links this file too): 4 entries per vector, VQRDMULH (SaturatingRoundingDoublingHighMul
 * itself) and VRSHL by -e with the negative values' fix-up, as the Helium requantisation does. */
static void make_table(int32_t offset, int32_t left_shift, int32_t multiplier, int32_t shift, int32_t *table)
{
    const int32_t step = (int32_t)(1u << left_shift);
    const int32x4_t ramp = vmulq_n_s32(vreinterpretq_s32_u32(vidupq_n_u32(0, 1)), step);
    int32x4_t a = vaddq_n_s32(ramp, (int32_t)((uint32_t)(offset - 128) << left_shift)); /* Q.20, x = -128.. */
    const int32x4_t right = vdupq_n_s32(shift); /* minus the right shift */
    for (int32_t u = 128; u < 384; u += 4, a = vaddq_n_s32(a, 4 * step)) {
        int32x4_t v = vqrdmulhq_n_s32(a, multiplier);
        v = vqaddq_s32(v, vshrq_n_s32(vandq_s32(v, right), 31)); /* -1 where v < 0 and there is a right shift */
        v = vrshlq_s32(v, right);
        vst1q_s32(table + (u & 255), vaddq_s32(v, v));
    }
}
#else
static void make_table(int32_t offset, int32_t left_shift, int32_t multiplier, int32_t shift, int32_t *table)
{
    const int32_t e = -shift, round = e > 0 ? 1 << (e - 1) : 0, neg = e > 0 ? -1 : 0;
    const int32_t step = (int32_t)(1u << left_shift);
    int32_t a = (int32_t)((uint32_t)(offset - 128) << left_shift); /* Q.20 */
    for (int32_t u = 128; u < 384; u++, a += step) { /* x = u - 256, -128..127; (uint8_t)x = u & 255 */
        int32_t v = ts_armv7em_smmlar(a + a, multiplier, 0);
        v = (v + round + ((v >> 31) & neg)) >> e; /* at twice the larger input scale */
        table[u & 255] = v + v;
    }
}
#endif

void ts_add_lut_made_s8(const ts_add_lut_made_params_t *p, const int8_t *input1, const int8_t *input2,
                        int8_t *output, void *scratch)
{
    int32_t *t1 = (int32_t *)scratch, *t2 = t1 + 256;
    make_table(p->input1_offset, p->left_shift, p->input1_multiplier, p->input1_shift, t1);
    make_table(p->input2_offset, p->left_shift, p->input2_multiplier, p->input2_shift, t2);
    ts_add_lut_params_t lut = p->lut;
    lut.table1 = t1;
    lut.table2 = t2;
    ts_add_lut_s8(&lut, input1, input2, output);
}
