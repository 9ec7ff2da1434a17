/* One channel's frame: window -> real FFT -> power -> mel -> log. */
#include "ts/fe.h"

void ts_fe_logmel_frame(const ts_fe_config_t *cfg, const int16_t *x, int32_t *scratch, int32_t *logmel)
{
    const int32_t n = cfg->n_fft;
    int32_t *buf = scratch;                                  /* n_fft + 2 int32 */
    uint64_t *mel = (uint64_t *)(void *)(scratch + n + 2);  /* n_mels uint64 (8-byte aligned) */
    int32_t peak;
    /* v = x w 2^(14 + k), |v| < 2^28; peak = max|pcm| 2^k < 2^29 */
    int32_t k = ts_fe_window_q31(x, cfg->window, n, buf, &peak);
    if (peak == 0) {
        /* digital silence: every mel sum is 0, the log gives the floor (no FFT needed) */
        for (int32_t m = 0; m < cfg->n_mels; m++) mel[m] = 0;
        ts_fe_log_q24(mel, cfg->n_mels, cfg->mel_weight_exp + 2 * (14 + k) - 16, cfg->floor_mant, cfg->floor_exp,
                      cfg->log_lut, logmel);
        return;
    }
    /* bounds of z = v[2i] + j v[2i+1]: |z| <= sqrt(2) max|v|, sum |z| <= sum |v| */
    uint32_t mag = (uint32_t)peak / 2 + (uint32_t)peak / 4 + 2;
    uint64_t sum = (((uint64_t)peak * (uint32_t)cfg->window_sum) >> 16) + (uint64_t)n;
    /* X = DFT(x w) 2^(14 + k - t) */
    int32_t t = ts_fe_rfft_q31(buf, n, cfg->fft_twiddle, cfg->rfft_twiddle, mag, sum);
    /* |X|^2 = |DFT(x w)|^2 2^(2 (14 + k - t)) */
    ts_fe_power_u64(buf, n / 2 + 1);
    /* mel 2^(wexp + 2 (14 + k - t) - 16) */
    ts_fe_mel_u64((const uint32_t *)buf, cfg->mel_start, cfg->mel_count, cfg->mel_weight, cfg->mel_shift,
                  cfg->n_mels,
                  mel);
    /* ln(mel + floor), Q24 */
    ts_fe_log_q24(mel, cfg->n_mels, cfg->mel_weight_exp + 2 * (14 + k - t) - 16, cfg->floor_mant, cfg->floor_exp,
                  cfg->log_lut, logmel);
}
