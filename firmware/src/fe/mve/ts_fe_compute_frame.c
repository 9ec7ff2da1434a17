/* The frame held in the history, Helium (the same integers as the portable ts_fe_compute_frame): the
 * history is interleaved ([history][channels], see fe_mve.h), so every channel's shift comes from one
 * pass over the frame and each channel's FFT reads its samples with the channel count as stride. */
#include "ts/fe.h"
#include "fe_mve.h"

ts_status_t ts_fe_compute_frame(ts_fe_t *fe, int8_t *out, int32_t mel_stride, int32_t *logmel)
{
    const ts_fe_config_t *cfg = fe->cfg;
    const int32_t n = cfg->n_fft, n_mels = cfg->n_mels, ch = cfg->channels;
    if (out && !fe->quant) return TS_ERR_ARG;
    int32_t *buf = fe->scratch;                                 /* n_fft + 2 int32 */
    uint64_t *mel = (uint64_t *)(void *)(fe->scratch + n + 2); /* n_mels uint64 */
    if (!logmel) logmel = fe->scratch + (n + 2) + 2 * n_mels;   /* default: the last part of the scratch */
    int32_t k[2];
    ts_fe_mve_shifts(fe->history, n, ch, k);
    for (int32_t c = 0; c < ch; c++) {
        ts_fe_mve_cfft(fe->history + c, ch, cfg->window, cfg->fft_twiddle, n, k[c], buf);
        ts_fe_power_u64(buf, n, cfg->rfft_twiddle);
        ts_fe_mel_u64((const uint64_t *)(const void *)buf, cfg->mel_bin, cfg->mel_t, n_mels, mel);
        ts_fe_log_q24(mel, n_mels, cfg->mel_floor, cfg->mel_offset, k[c], cfg->log_lut, logmel + c * n_mels);
    }
    if (out) ts_fe_quantize_s8(fe->quant, ch, 1, logmel, out, mel_stride);
    return TS_OK;
}
