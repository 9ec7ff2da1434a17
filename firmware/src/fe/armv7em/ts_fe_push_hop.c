/* Streaming input, Armv7E-M (the same history as the portable ts_fe_push_hop): the history moves by one
 * hop with LDM / STM of eight words (the move goes down in memory, so a block read before it is written
 * never overlaps what is still to be read), and a stereo hop is split with PKHBT / PKHTB, two frames per
 * word pair; unaligned histories (an odd hop) take memmove and the plain loop (ts_fe_push_rows). */
#include <string.h>

#include "ts/fe.h"
#include "../ts_fe_internal.h"

#if !defined(__ARM_FEATURE_DSP)
#error "firmware/src/fe/armv7em needs the DSP extension (Armv7E-M): build the portable stages instead"
#endif

/* n samples from src down to dst (dst < src): 8 words at a time when both are word aligned. */
static void move(int16_t *dst, const int16_t *src, int32_t n)
{
    int32_t blocks = ((((uintptr_t)dst | (uintptr_t)src) & 3u) == 0) ? n >> 4 : 0;
    if (blocks) {
        uint32_t *d = (uint32_t *)(void *)dst;
        const uint32_t *s = (const uint32_t *)(const void *)src;
        __asm__ volatile(
            "1:\n\t"
            "ldmia %1!, {r4-r11}\n\t"
            "stmia %0!, {r4-r11}\n\t"
            "subs %2, %2, #1\n\t"
            "bne 1b\n\t"
            : "+r"(d), "+r"(s), "+r"(blocks)
            :
            : "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11", "cc", "memory");
    }
    const int32_t done = ((((uintptr_t)dst | (uintptr_t)src) & 3u) == 0) ? (n >> 4) << 4 : 0;
    memmove(dst + done, src + done, (size_t)(n - done) * sizeof(int16_t));
}

/* Two stereo frames (L0 R0, L1 R1) -> L0 L1 and R0 R1 per word pair (word-aligned rows). */
static int32_t split(int16_t *d0, int16_t *d1, const int16_t *pcm, int32_t n)
{
    if ((((uintptr_t)d0 | (uintptr_t)d1) & 3u) != 0) return 0;
    uint32_t *o0 = (uint32_t *)(void *)d0, *o1 = (uint32_t *)(void *)d1;
    int32_t i = 0;
    for (; i + 2 <= n; i += 2) {
        uint32_t w0, w1, l, r;
        __builtin_memcpy(&w0, pcm + 2 * i, 4);
        __builtin_memcpy(&w1, pcm + 2 * i + 2, 4);
        __asm("pkhbt %0, %1, %2, lsl #16" : "=r"(l) : "r"(w0), "r"(w1));
        __asm("pkhtb %0, %1, %2, asr #16" : "=r"(r) : "r"(w1), "r"(w0));
        *o0++ = l;
        *o1++ = r;
    }
    return i;
}

void ts_fe_push_hop(ts_fe_t *fe, const int16_t *pcm, int32_t n_valid)
{
    ts_fe_push_rows(fe, pcm, n_valid, move, split);
}
