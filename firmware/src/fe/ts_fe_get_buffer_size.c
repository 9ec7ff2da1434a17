/* Scratch bytes: FFT / power buffer (n_fft + 2 int32), mel sums (n_mels uint64), one frame of
 * log-mel (channels x n_mels int32). */
#include "ts/fe.h"

int32_t ts_fe_get_buffer_size(const ts_fe_config_t *cfg)
{
    return (cfg->n_fft + 2) * 4 + cfg->n_mels * 8 + cfg->channels * cfg->n_mels * 4;
}
