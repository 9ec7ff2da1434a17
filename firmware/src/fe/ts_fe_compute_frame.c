/* The frame held in the history: first n_fft samples of each channel's history. */
#include "ts/fe.h"

ts_status_t ts_fe_compute_frame(ts_fe_t *fe, int8_t *out, int32_t mel_stride, int32_t *logmel)
{
    const ts_fe_config_t *cfg = fe->cfg;
    const int32_t n_mels = cfg->n_mels, ch = cfg->channels;
    /* default destination: the last part of the scratch */
    if (!logmel) logmel = fe->scratch + (cfg->n_fft + 2) + 2 * n_mels;
    for (int32_t c = 0; c < ch; c++) {
        ts_fe_logmel_frame(cfg, fe->history + c * cfg->history, fe->scratch, logmel + c * n_mels);
    }
    if (out) {
        if (!fe->quant) return TS_ERR_ARG;
        ts_fe_quantize_s8(fe->quant, ch, 1, logmel, out, mel_stride);
    }
    return TS_OK;
}
