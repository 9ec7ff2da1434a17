/* Streaming input, Helium (the same history as the portable ts_fe_push_hop): the history moves down by one
 * hop ten words per LDM / STM (the move goes down in memory: a block is read before it is written), a
 * stereo hop is split eight frames at a time by VLD2 (16-bit lanes: left and right in two vectors), both in
 * low-overhead loops; unaligned histories (an odd hop) and tails are plain C. */
#include <arm_mve.h>
#include <string.h>

#include "ts/fe.h"

#if !defined(__ARM_FEATURE_MVE)
#error "firmware/src/fe/mve needs Helium (MVE, -mcpu=cortex-m55): build the armv7em or portable stages instead"
#endif

/* r0 dst, r1 src (dst < src, word aligned), r2 blocks of 11 words, r3 words after them. */
__attribute__((naked, noinline)) static void move_words(uint32_t *dst, const uint32_t *src, int32_t blocks,
                                                        int32_t rest)
{
    __asm__ volatile(
        "push {r4-r11, lr}\n\t"
        "mov r4, r3\n\t"
        "wls lr, r2, 2f\n\t"
        "1:\n\t"
        "ldmia r1!, {r2, r3, r5-r12}\n\t"
        "stmia r0!, {r2, r3, r5-r12}\n\t"
        "le lr, 1b\n\t"
        "2:\n\t"
        "wls lr, r4, 4f\n\t"
        "3:\n\t"
        "ldr r2, [r1], #4\n\t"
        "str r2, [r0], #4\n\t"
        "le lr, 3b\n\t"
        "4:\n\t"
        "pop {r4-r11, pc}\n\t");
}

/* r0 left, r1 right, r2 interleaved frames, r3 groups of eight frames. */
__attribute__((naked, noinline)) static void split_stereo(int16_t *left, int16_t *right, const int16_t *pcm,
                                                          int32_t groups)
{
    __asm__ volatile(
        "push {lr}\n\t"
        "dls lr, r3\n\t"
        "1:\n\t"
        "vld20.16 {q0, q1}, [r2]\n\t"
        "vld21.16 {q0, q1}, [r2]!\n\t"
        "vstrh.16 q0, [r0], #16\n\t"
        "vstrh.16 q1, [r1], #16\n\t"
        "le lr, 1b\n\t"
        "pop {pc}\n\t");
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
        if (aligned) {
            const int32_t words = (len - hop) >> 1;
            move_words((uint32_t *)(void *)h, (const uint32_t *)(const void *)(h + hop), words / 10, words % 10);
        } else {
            memmove(h, h + hop, (size_t)(len - hop) * sizeof(int16_t));
        }
    }
    int16_t *d0 = fe->history + (len - hop);
    if (ch == 1) {
        memcpy(d0, pcm, (size_t)n_valid * sizeof(int16_t));
    } else {
        int16_t *d1 = d0 + len;
        const int32_t groups = n_valid >> 3;
        if (groups) split_stereo(d0, d1, pcm, groups);
        for (int32_t i = 8 * groups; i < n_valid; i++) {
            d0[i] = pcm[2 * i];
            d1[i] = pcm[2 * i + 1];
        }
        if (n_valid < hop) memset(d1 + n_valid, 0, (size_t)(hop - n_valid) * sizeof(int16_t));
    }
    if (n_valid < hop) memset(d0 + n_valid, 0, (size_t)(hop - n_valid) * sizeof(int16_t));
    fe->hops++;
}
