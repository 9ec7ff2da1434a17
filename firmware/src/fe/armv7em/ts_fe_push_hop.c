/* Streaming input, Armv7E-M (the same history as the portable ts_fe_push_hop): the history moves by one
 * hop with LDM / STM of eight words (the move goes down in memory, so a block read before it is written
 * never overlaps what is still to be read), and a stereo hop is split with PKHBT / PKHTB, two frames per
 * word pair; unaligned histories (an odd hop) take memmove and the plain loop. */
#include <string.h>

#include "ts/fe.h"

#if !defined(__ARM_FEATURE_DSP)
#error "firmware/src/fe/armv7em needs the DSP extension (Armv7E-M): build the portable stages instead"
#endif

/* Moves n_words words from src down to dst (dst < src), 8 at a time, then the rest. */
static void move_down(uint32_t *dst, const uint32_t *src, int32_t n_words)
{
    int32_t blocks = n_words >> 3;
    if (blocks) {
        __asm__ volatile(
            "1:\n\t"
            "ldmia %1!, {r4-r11}\n\t"
            "stmia %0!, {r4-r11}\n\t"
            "subs %2, %2, #1\n\t"
            "bne 1b\n\t"
            : "+r"(dst), "+r"(src), "+r"(blocks)
            :
            : "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11", "cc", "memory");
    }
    for (int32_t i = 0; i < (n_words & 7); i++) dst[i] = src[i];
}

void ts_fe_push_hop(ts_fe_t *fe, const int16_t *pcm, int32_t n_valid)
{
    const ts_fe_config_t *cfg = fe->cfg;
    const int32_t hop = cfg->hop, len = cfg->history, ch = cfg->channels;
    if (n_valid > hop) n_valid = hop;
    if (n_valid < 0) n_valid = 0;
    const int aligned = ((uintptr_t)fe->history & 3u) == 0 && ((hop | len) & 1) == 0;
    for (int32_t c = 0; c < ch; c++) {
        int16_t *h = fe->history + c * len;
        if (aligned)
            move_down((uint32_t *)(void *)h, (const uint32_t *)(const void *)(h + hop), (len - hop) >> 1);
        else
            memmove(h, h + hop, (size_t)(len - hop) * sizeof(int16_t));
    }
    int16_t *d0 = fe->history + (len - hop);
    if (ch == 1) {
        memcpy(d0, pcm, (size_t)n_valid * sizeof(int16_t));
    } else {
        int16_t *d1 = d0 + len;
        int32_t i = 0;
        if (aligned) {
            /* two frames (L0 R0, L1 R1) -> L0 L1 and R0 R1 */
            uint32_t *o0 = (uint32_t *)(void *)d0, *o1 = (uint32_t *)(void *)d1;
            for (; i + 2 <= n_valid; i += 2) {
                uint32_t w0, w1, l, r;
                __builtin_memcpy(&w0, pcm + 2 * i, 4);
                __builtin_memcpy(&w1, pcm + 2 * i + 2, 4);
                __asm("pkhbt %0, %1, %2, lsl #16" : "=r"(l) : "r"(w0), "r"(w1));
                __asm("pkhtb %0, %1, %2, asr #16" : "=r"(r) : "r"(w1), "r"(w0));
                *o0++ = l;
                *o1++ = r;
            }
        }
        for (const int16_t *src = pcm + 2 * i; i < n_valid; i++, src += 2) {
            d0[i] = src[0];
            d1[i] = src[1];
        }
        memset(d1 + n_valid, 0, (size_t)(hop - n_valid) * sizeof(int16_t));
    }
    memset(d0 + n_valid, 0, (size_t)(hop - n_valid) * sizeof(int16_t));
    fe->hops++;
}
