/* Per-mel-bin normalisation folded into the int8 quantisation of the model input:
 * q = clamp(floor((floor(L mul / 2^32) + add) / 2^(shift - 32)), -128, 127) (add holds the rounding
 * half; SMMUL's high word), written in the NHWC layout. Each bin's mul and add serve every channel. */
#include "ts/fe.h"
#include "ts_fe_internal.h"

void ts_fe_quantize_s8(const ts_fe_quant_t *quant, int32_t channels, int32_t n_frames, const int32_t *logmel,
                       int8_t *out, int32_t out_mel_stride)
{
    const int32_t n_mels = quant->n_mels, sh = quant->shift - 32;
    const int32_t *mul = quant->mul, *add = quant->add; /* locals: the int8 stores may alias anything */
    const int64_t c_stride = (int64_t)n_mels * n_frames;  /* logmel [c][m][t] */
    for (int32_t t = 0; t < n_frames; t++) {
        const int32_t *l = logmel + t;
        int8_t *o = out + (int64_t)t * channels; /* out [m][t][c] */
        if (channels == 2) {
            for (int32_t m = 0; m < n_mels; m++, l += n_frames, o += out_mel_stride) {
                const int32_t mm = mul[m], a = add[m];
                o[0] = ts_fe_q8(l[0], mm, a, sh);
                o[1] = ts_fe_q8(l[c_stride], mm, a, sh);
            }
        } else {
            for (int32_t m = 0; m < n_mels; m++, l += n_frames, o += out_mel_stride)
                for (int32_t c = 0; c < channels; c++) o[c] = ts_fe_q8(l[c * c_stride], mul[m], add[m], sh);
        }
    }
}
