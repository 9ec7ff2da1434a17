/* Checks a front-end configuration and binds the instance's memory. Anything inconsistent is
 * TS_ERR_CONFIG: a wrong table must never be used. */
#include "ts/fe.h"

static int is_pow2(int32_t n)
{
    return n > 0 && (n & (n - 1)) == 0;
}

ts_status_t ts_fe_init(ts_fe_t *fe, const ts_fe_config_t *cfg, const ts_fe_quant_t *quant, void *state,
                       void *scratch)
{
    if (!fe || !cfg || !state || !scratch) return TS_ERR_ARG;
    if (((uintptr_t)scratch & 7u) != 0 || ((uintptr_t)state & 1u) != 0) return TS_ERR_ARG;
    if (cfg->abi != TS_FE_ABI || cfg->struct_size != sizeof(ts_fe_config_t)) return TS_ERR_CONFIG;
    const int32_t n = cfg->n_fft, half = n / 2;
    if (n < 256 || n > 4096 || !is_pow2(n)) return TS_ERR_CONFIG;
    if (cfg->hop < 1 || cfg->hop > n) return TS_ERR_CONFIG;
    if (cfg->channels < 1 || cfg->channels > 2) return TS_ERR_CONFIG;
    if (cfg->n_mels < 1 || cfg->n_mels > half + 1) return TS_ERR_CONFIG;
    if (cfg->delay_hops != (half + cfg->hop - 1) / cfg->hop) return TS_ERR_CONFIG;
    if (cfg->history != cfg->delay_hops * cfg->hop + half) return TS_ERR_CONFIG;
    if (!cfg->window || !cfg->fft_twiddle || !cfg->rfft_twiddle || !cfg->mel_bin || !cfg->mel_t || !cfg->mel_floor ||
        !cfg->mel_offset || !cfg->log_lut)
        return TS_ERR_CONFIG;
    /* Intervals in order inside bins 0..n_fft/2; the weights' count matches the table; floors >= 1. */
    for (int32_t j = 0; j <= cfg->n_mels; j++)
        if (cfg->mel_bin[j] > cfg->mel_bin[j + 1]) return TS_ERR_CONFIG;
    if (cfg->mel_bin[cfg->n_mels + 1] > half + 1) return TS_ERR_CONFIG;
    if (cfg->n_weights != cfg->mel_bin[cfg->n_mels + 1] - cfg->mel_bin[0]) return TS_ERR_CONFIG;
    for (int32_t m = 0; m < cfg->n_mels; m++)
        if (cfg->mel_floor[m] == 0) return TS_ERR_CONFIG;
    if (quant) {
        if (quant->abi != TS_FE_ABI || quant->struct_size != sizeof(ts_fe_quant_t)) return TS_ERR_CONFIG;
        if (quant->n_mels != cfg->n_mels || quant->shift < 33 || quant->shift > 62 || !quant->mul || !quant->add)
            return TS_ERR_CONFIG;
    }
    fe->cfg = cfg;
    fe->quant = quant;
    fe->history = (int16_t *)state;
    fe->scratch = (int32_t *)scratch;
    ts_fe_reset(fe);
    return TS_OK;
}
