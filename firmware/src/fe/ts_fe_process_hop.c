/* Streaming: one hop in, one frame out once the first n_fft/2 samples after frame 0's centre
 * have arrived (delay_hops - 1 calls give no frame). */
#include "ts/fe.h"

ts_status_t ts_fe_process_hop(ts_fe_t *fe, const int16_t *pcm, int8_t *out, int32_t mel_stride, int32_t *logmel,
                              int32_t *frame)
{
    if (!fe || !fe->cfg || !pcm) return TS_ERR_ARG;
    ts_fe_push_hop(fe, pcm, fe->cfg->hop);
    int32_t t = fe->hops - fe->cfg->delay_hops;
    if (frame) *frame = t < 0 ? -1 : t;
    if (t < 0) return TS_OK;
    return ts_fe_compute_frame(fe, out, mel_stride, logmel);
}
