/* Whole clip: reset, then hops of the clip (the last ones zero-padded) until every frame of
 * centred framing, 1 + n_samples / hop of them, is out. */
#include "ts/fe.h"

ts_status_t ts_fe_process_clip(ts_fe_t *fe, const int16_t *pcm, int32_t n_samples, int8_t *out, int32_t *logmel,
                               int32_t n_frames)
{
    if (!fe || !fe->cfg || (!pcm && n_samples > 0) || n_samples < 0) return TS_ERR_ARG;
    const ts_fe_config_t *cfg = fe->cfg;
    const int32_t hop = cfg->hop, ch = cfg->channels, n_mels = cfg->n_mels;
    if (n_frames != 1 + n_samples / hop) return TS_ERR_SIZE;
    if (out && !fe->quant) return TS_ERR_ARG;
    int32_t *frame_lm = fe->scratch + (cfg->n_fft + 2) + 2 * n_mels; /* [channels][n_mels] */
    ts_fe_reset(fe);
    int32_t t = 0;
    for (int32_t k = 0; t < n_frames; k++) {
        int32_t first = k * hop;
        int32_t valid = n_samples - first;
        ts_fe_push_hop(fe, valid > 0 ? pcm + (int64_t)first * ch : pcm, valid > 0 ? valid : 0);
        if (fe->hops < cfg->delay_hops) continue;
        ts_status_t st = ts_fe_compute_frame(fe, out ? out + (int64_t)t * ch : 0, n_frames * ch, frame_lm);
        if (st != TS_OK) return st;
        if (logmel) {
            for (int32_t c = 0; c < ch; c++)
                for (int32_t m = 0; m < n_mels; m++)
                    logmel[((int64_t)c * n_mels + m) * n_frames + t] = frame_lm[c * n_mels + m];
        }
        t++;
    }
    return TS_OK;
}
