/* Streaming input, Helium (the same history as the portable ts_fe_push_hop): the history moves down by
 * one hop eight samples per VLDRH / VSTRH, a stereo hop is split eight frames at a time by VLD2 (16-bit
 * lanes: left and right in two vectors); tails of fewer than eight samples are plain C. */
#include <arm_mve.h>
#include <string.h>

#include "ts/fe.h"

#if !defined(__ARM_FEATURE_MVE)
#error "firmware/src/fe/mve needs Helium (MVE, -mcpu=cortex-m55): build the armv7em or portable stages instead"
#endif

/* dst < src: moving up through the buffer never overwrites samples still to be read (a vector is read
 * before it is written, and src - dst >= 8 unless the move is shorter than the gap). */
static void move_down(int16_t *dst, const int16_t *src, int32_t n)
{
    int32_t i = 0;
    if (src - dst >= 8)
        for (; i + 8 <= n; i += 8) vstrhq_s16(dst + i, vldrhq_s16(src + i));
    for (; i < n; i++) dst[i] = src[i];
}

void ts_fe_push_hop(ts_fe_t *fe, const int16_t *pcm, int32_t n_valid)
{
    const ts_fe_config_t *cfg = fe->cfg;
    const int32_t hop = cfg->hop, len = cfg->history, ch = cfg->channels;
    if (n_valid > hop) n_valid = hop;
    if (n_valid < 0) n_valid = 0;
    for (int32_t c = 0; c < ch; c++) {
        int16_t *h = fe->history + c * len;
        move_down(h, h + hop, len - hop);
    }
    int16_t *d0 = fe->history + (len - hop);
    if (ch == 1) {
        memcpy(d0, pcm, (size_t)n_valid * sizeof(int16_t));
    } else {
        int16_t *d1 = d0 + len;
        int32_t i = 0;
        for (; i + 8 <= n_valid; i += 8) {
            const int16x8x2_t lr = vld2q_s16(pcm + 2 * i);
            vstrhq_s16(d0 + i, lr.val[0]);
            vstrhq_s16(d1 + i, lr.val[1]);
        }
        for (; i < n_valid; i++) {
            d0[i] = pcm[2 * i];
            d1[i] = pcm[2 * i + 1];
        }
        memset(d1 + n_valid, 0, (size_t)(hop - n_valid) * sizeof(int16_t));
    }
    memset(d0 + n_valid, 0, (size_t)(hop - n_valid) * sizeof(int16_t));
    fe->hops++;
}
