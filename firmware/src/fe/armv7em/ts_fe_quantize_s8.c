/* int8 model input from the Q24 log-mel, Armv7E-M (same integers as the portable ts_fe_quantize_s8): the
 * streaming call (one frame) walks the mel bins once for both channels, each value one SMLAL from a copy
 * of the bin's 64-bit offset, ASR, SSAT #8, STRB. */
#include "ts/fe.h"
#include "../ts_fe_internal.h"

#if !defined(__ARM_FEATURE_DSP)
#error "firmware/src/fe/armv7em needs the DSP extension (Armv7E-M): build the portable stages instead"
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
        const int32_t *l0 = logmel, *l1 = logmel + n_mels;
        int8_t *o = out;
        if (channels == 2) {
            for (int32_t m = 0; m < n_mels; m++, o += out_mel_stride) {
                const int32_t mm = mul[m];
                const int64_t a = add[m];
                o[0] = (int8_t)q8(a, l0[m], mm, sh);
                o[1] = (int8_t)q8(a, l1[m], mm, sh);
            }
        } else {
            for (int32_t m = 0; m < n_mels; m++, o += out_mel_stride) o[0] = (int8_t)q8(add[m], l0[m], mul[m], sh);
        }
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
