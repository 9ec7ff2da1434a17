/* One channel's frame: shift -> window + complex FFT -> split + power -> mel -> log. */
#include "ts/fe.h"

void ts_fe_logmel_frame(const ts_fe_config_t *cfg, const int16_t *x, int32_t *scratch, int32_t *logmel)
{
    const int32_t n = cfg->n_fft;
    int32_t *buf = scratch;                                 /* n_fft + 2 int32 */
    uint64_t *mel = (uint64_t *)(void *)(scratch + n + 2); /* n_mels uint64 (8-byte aligned) */
    /* k: the frame's shift from its energy */
    const int32_t k = ts_fe_frame_shift(x, n);
    /* Z = DFT(z) 2^(12 + k - s) */
    ts_fe_cfft_q31(x, cfg->window, cfg->fft_twiddle, n, k, buf);
    /* P = |DFT(x w)|^2 2^(2 (12 + k - s)), bins 0..n/2 */
    ts_fe_power_u64(buf, n, cfg->rfft_twiddle);
    /* interval sums -> band sums */
    ts_fe_mel_u64((const uint64_t *)(const void *)buf, cfg->mel_bin, cfg->mel_t, cfg->n_mels, mel);
    /* ln(mel + 1e-10), Q24 */
    ts_fe_log_q24(mel, cfg->n_mels, cfg->mel_floor, cfg->mel_offset, k, cfg->log_lut, logmel);
}
