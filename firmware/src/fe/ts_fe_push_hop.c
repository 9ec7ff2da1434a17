/* Streaming input: the history of each channel moves by one hop; the hop's interleaved samples
 * (n_valid of them, then zeros: the right padding of centred framing) go at its end. */
#include <string.h>

#include "ts/fe.h"

void ts_fe_push_hop(ts_fe_t *fe, const int16_t *pcm, int32_t n_valid)
{
    const ts_fe_config_t *cfg = fe->cfg;
    const int32_t hop = cfg->hop, len = cfg->history, ch = cfg->channels;
    if (n_valid > hop) n_valid = hop;
    if (n_valid < 0) n_valid = 0;
    for (int32_t c = 0; c < ch; c++) {
        int16_t *h = fe->history + c * len;
        memmove(h, h + hop, (size_t)(len - hop) * sizeof(int16_t));
    }
    int16_t *d0 = fe->history + (len - hop);
    if (ch == 1) {
        memcpy(d0, pcm, (size_t)n_valid * sizeof(int16_t));
    } else {
        /* de-interleave L R L R ... into the two histories */
        int16_t *d1 = d0 + len;
        const int16_t *src = pcm;
        for (int32_t i = 0; i < n_valid; i++, src += 2) {
            d0[i] = src[0];
            d1[i] = src[1];
        }
        memset(d1 + n_valid, 0, (size_t)(hop - n_valid) * sizeof(int16_t));
    }
    memset(d0 + n_valid, 0, (size_t)(hop - n_valid) * sizeof(int16_t));
    fe->hops++;
}
