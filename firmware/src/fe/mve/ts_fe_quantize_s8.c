/* int8 model input from the Q24 log-mel, Helium (same integers as the portable ts_fe_quantize_s8): four
 * mel bins per vector (gathered with the log-mel's stride: one frame or a whole clip), VMULH (SMMUL's
 * high word), VADD, VSHL by -(shift - 32), VMAX / VMIN to int8, VSTRB scattered to out[m * stride]. */
#include <arm_mve.h>

#include "ts/fe.h"
#include "../ts_fe_internal.h"

#if !defined(__ARM_FEATURE_MVE)
#error "firmware/src/fe/mve needs Helium (MVE, -mcpu=cortex-m55): build the armv7em or portable stages instead"
#endif

void ts_fe_quantize_s8(const ts_fe_quant_t *quant, int32_t channels, int32_t n_frames, const int32_t *logmel,
                       int8_t *out, int32_t out_mel_stride)
{
    const int32_t n_mels = quant->n_mels, n4 = n_mels & ~3, sh = quant->shift - 32;
    const int32_t *mul = quant->mul, *add = quant->add; /* locals: the int8 stores may alias anything */
    const uint32x4_t lanes = vidupq_n_u32(0, 1);
    const uint32x4_t in_off = vmulq_n_u32(lanes, 4u * (uint32_t)n_frames);
    const uint32x4_t out_off = vmulq_n_u32(lanes, (uint32_t)out_mel_stride);
    const int32x4_t lo = vdupq_n_s32(-128), hi = vdupq_n_s32(127);
    for (int32_t c = 0; c < channels; c++) {
        for (int32_t t = 0; t < n_frames; t++) {
            const int32_t *l = logmel + (int64_t)c * n_mels * n_frames + t; /* [c][m][t] */
            int8_t *o = out + (int64_t)t * channels + c;                     /* [m][t][c] */
            int32_t m = 0;
            for (; m < n4; m += 4, l += 4 * n_frames, o += 4 * out_mel_stride) {
                const int32x4_t x = vldrwq_gather_offset_s32(l, in_off);
                int32x4_t v = vaddq_s32(vmulhq_s32(x, vldrwq_s32(mul + m)), vldrwq_s32(add + m));
                v = vminq_s32(vmaxq_s32(vshlq_r_s32(v, -sh), lo), hi);
                vstrbq_scatter_offset_s32(o, out_off, v);
            }
            for (; m < n_mels; m++, l += n_frames, o += out_mel_stride)
                *o = ts_fe_q8(*l, mul[m], add[m], sh);
        }
    }
}
