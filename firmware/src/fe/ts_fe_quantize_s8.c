/* Per-mel-bin normalisation folded into the int8 quantisation of the model input:
 * q = clamp(floor((L mul + add) / 2^shift), -128, 127) (add holds the rounding half), written in
 * the NHWC layout. shift >= 32: the high word of the 64-bit sum, shifted by shift - 32. */
#include "ts/fe.h"
#include "ts_fe_internal.h"

void ts_fe_quantize_s8(const ts_fe_quant_t *quant, int32_t channels, int32_t n_frames, const int32_t *logmel,
                       int8_t *out, int32_t out_mel_stride)
{
    const int32_t n_mels = quant->n_mels, sh = quant->shift - 32;
    if (n_frames == 1) { /* streaming: one frame [channels][n_mels] -> out[m * stride + c] */
        for (int32_t m = 0; m < n_mels; m++) {
            const int32_t mul = quant->mul[m];
            const int64_t add = quant->add[m];
            int8_t *o = out + (int64_t)m * out_mel_stride;
            for (int32_t c = 0; c < channels; c++) {
                int32_t hi = (int32_t)((uint64_t)ts_fe_smlal(add, logmel[c * n_mels + m], mul) >> 32);
                o[c] = (int8_t)ts_fe_ssat8(hi >> sh);
            }
        }
        return;
    }
    for (int32_t c = 0; c < channels; c++) {
        const int32_t *l = logmel + (int64_t)c * n_mels * n_frames;
        for (int32_t m = 0; m < n_mels; m++, l += n_frames) {
            int8_t *o = out + (int64_t)m * out_mel_stride + c;
            const int32_t mul = quant->mul[m];
            const int64_t add = quant->add[m];
            for (int32_t t = 0; t < n_frames; t++) {
                /* L (Q24) * mul + add: Q(shift) of the int8 value, rounding half included */
                int32_t hi = (int32_t)((uint64_t)ts_fe_smlal(add, l[t], mul) >> 32);
                o[(int64_t)t * channels] = (int8_t)ts_fe_ssat8(hi >> sh);
            }
        }
    }
}
