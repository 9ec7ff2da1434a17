/* Per-mel-bin normalisation folded into the int8 quantisation of the model input:
 * q = clamp(floor((floor(L mul / 2^32) + add) / 2^(shift - 32)), -128, 127) (add holds the rounding
 * half; SMMUL's high word), written in the NHWC layout. Each bin's mul and add serve every channel. */
#include "ts/fe.h"
#include "ts_fe_internal.h"

void ts_fe_quantize_s8(const ts_fe_quant_t *quant, int32_t channels, int32_t n_frames, const int32_t *logmel,
                       int8_t *out, int32_t out_mel_stride)
{
    ts_fe_quantize_loop(quant, channels, n_frames, logmel, out, out_mel_stride);
}
