/* Streaming input, Helium: the history is kept interleaved as the samples arrive ([history][channels],
 * see fe_mve.h; the portable version de-interleaves into [channels][history]), so one hop is a block move
 * down and a block copy, ten words per LDM / STM in low-overhead loops (the move goes down in memory: a
 * block is read before it is written); unaligned buffers take memmove / memcpy. */
#include <string.h>

#include "ts/fe.h"
#include "fe_mve.h"

#if !defined(__ARM_FEATURE_MVE)
#error "firmware/src/fe/mve needs Helium (MVE, -mcpu=cortex-m55): build the armv7em or portable stages instead"
#endif

/* r0 dst, r1 src (word aligned; dst < src when they overlap), r2 blocks of 10 words, r3 words after them. */
__attribute__((naked, noinline)) static void copy_words(uint32_t *dst, const uint32_t *src, int32_t blocks,
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

/* n samples from src to dst (dst < src when they overlap) */
static void copy_down(int16_t *dst, const int16_t *src, int32_t n)
{
    if (((((uintptr_t)dst) | ((uintptr_t)src)) & 3u) == 0) {
        const int32_t words = n >> 1;
        copy_words((uint32_t *)(void *)dst, (const uint32_t *)(const void *)src, words / 10, words % 10);
        if (n & 1) dst[n - 1] = src[n - 1];
    } else {
        memmove(dst, src, (size_t)n * sizeof(int16_t));
    }
}

void ts_fe_push_hop(ts_fe_t *fe, const int16_t *pcm, int32_t n_valid)
{
    const ts_fe_config_t *cfg = fe->cfg;
    const int32_t hop = cfg->hop, len = cfg->history, ch = cfg->channels;
    if (n_valid > hop) n_valid = hop;
    if (n_valid < 0) n_valid = 0;
    int16_t *h = fe->history;
    copy_down(h, h + hop * ch, (len - hop) * ch);
    int16_t *d = h + (len - hop) * ch;
    if (n_valid) copy_down(d, pcm, n_valid * ch);
    if (n_valid < hop) memset(d + n_valid * ch, 0, (size_t)(hop - n_valid) * ch * sizeof(int16_t));
    fe->hops++;
}
