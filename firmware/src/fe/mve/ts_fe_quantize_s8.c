/* int8 model input from the Q24 log-mel, Helium (same integers as the portable ts_fe_quantize_s8). The
 * streaming call (one frame) takes four mel bins per vector: L mul + add as 64-bit per lane from VMUL (low
 * word), VMULH (high word) and the carry of the low-word addition (an unsigned compare), the high word
 * shifted and clamped to int8 (VMAX / VMIN), scattered to out[m * stride + c] by VSTRB. Whole clips take
 * the Armv7E-M path. */
#include <arm_mve.h>

#include "ts/fe.h"
#include "../ts_fe_internal.h"

#if !defined(__ARM_FEATURE_MVE)
#error "firmware/src/fe/mve needs Helium (MVE, -mcpu=cortex-m55): build the armv7em or portable stages instead"
#endif

static inline int32_t q8(int64_t add, int32_t l, int32_t mul, int32_t sh)
{
    int32_t hi = (int32_t)((uint64_t)ts_fe_smlal(add, l, mul) >> 32);
    return ts_fe_ssat8(hi >> sh);
}

void ts_fe_quantize_s8(const ts_fe_quant_t *quant, int32_t channels, int32_t n_frames, const int32_t *logmel,
                       int8_t *out, int32_t out_mel_stride)
{
    const int32_t n_mels = quant->n_mels, sh = quant->shift - 32;
    const int32_t *mul = quant->mul;
    const int64_t *add = quant->add;
    if (n_frames == 1) {
        const int32_t n4 = n_mels & ~3;
        const uint32x4_t off = vmulq_n_u32(vidupq_n_u32(0, 1), (uint32_t)out_mel_stride);
        for (int32_t m = 0; m < n4; m += 4) {
            const int32x4_t mm = vldrwq_s32(mul + m);
            const int32x4x2_t a = vld2q_s32((const int32_t *)(const void *)(add + m)); /* low, high words */
            for (int32_t c = 0; c < channels; c++) {
                const int32x4_t l = vldrwq_s32(logmel + c * n_mels + m);
                const uint32x4_t lo = vreinterpretq_u32_s32(vmulq_s32(l, mm));
                const uint32x4_t sum = vaddq_u32(lo, vreinterpretq_u32_s32(a.val[0]));
                int32x4_t hi = vaddq_s32(vmulhq_s32(l, mm), a.val[1]);
                hi = vaddq_m_n_s32(hi, hi, 1, vcmphiq_u32(lo, sum)); /* carry */
                hi = vshlq_r_s32(hi, -sh);
                hi = vminq_s32(vmaxq_s32(hi, vdupq_n_s32(-128)), vdupq_n_s32(127));
                vstrbq_scatter_offset_s32(out + (int64_t)m * out_mel_stride + c, off, hi);
            }
        }
        for (int32_t m = n4; m < n_mels; m++)
            for (int32_t c = 0; c < channels; c++)
                out[(int64_t)m * out_mel_stride + c] = (int8_t)q8(add[m], logmel[c * n_mels + m], mul[m], sh);
        return;
    }
    for (int32_t c = 0; c < channels; c++) {
        const int32_t *l = logmel + (int64_t)c * n_mels * n_frames;
        for (int32_t m = 0; m < n_mels; m++, l += n_frames) {
            int8_t *o = out + (int64_t)m * out_mel_stride + c;
            const int32_t mm = mul[m];
            const int64_t a = add[m];
            for (int32_t t = 0; t < n_frames; t++) o[(int64_t)t * channels] = (int8_t)q8(a, l[t], mm, sh);
        }
    }
}
