/* Real-FFT split and power, Armv7E-M (same integers as the portable ts_fe_power_u64): one pair of bins
 * k, M - k per iteration (23 instructions): A / 2 folded into the adds as an ASR #1 operand, W B / 2 by
 * SMMULR + SMMLAR / SMMLSR, each power by SMULL + SMLAL (the sign of an imaginary part does not matter to
 * its square, so X[M-k] is squared as ((A_re >> 1) - v, (A_im >> 1) + u)). */
#include "ts/fe.h"
#include "../ts_fe_internal.h"

#if !defined(__ARM_FEATURE_DSP)
#error "firmware/src/fe/armv7em needs the DSP extension (Armv7E-M): build the portable stages instead"
#endif


/* k = 1..M/2-1: r0 bins k (up), r1 bins M - k (down), r2 twiddles, r3 the end of r0. */
__attribute__((naked, noinline)) static void pairs(int32_t *pk, int32_t *pm, const int32_t *tw, int32_t *end)
{
    __asm__ volatile(
        "push {r4-r11, lr}\n\t"
        "cmp r0, r3\n\t"
        "beq 2f\n\t"
        "1:\n\t"
        "ldrd r4, r5, [r0]\n\t"      /* Z[k] */
        "ldrd r6, r7, [r1]\n\t"      /* Z[M-k] */
        "ldrd r8, r9, [r2], #8\n\t"  /* cos, sin Q31 */
        "add r10, r4, r6\n\t"        /* A re */
        "sub r4, r4, r6\n\t"         /* B re */
        "sub r11, r5, r7\n\t"        /* A im */
        "add r5, r5, r7\n\t"         /* B im */
        "smmulr r6, r4, r8\n\t"
        "smmulr r7, r5, r8\n\t"
        "smmlar r6, r5, r9, r6\n\t"  /* u = rnd(Br c) + rnd(Bi s) */
        "smmlsr r7, r4, r9, r7\n\t"  /* v = rnd(Bi c) - rnd(Br s) */
        "add r4, r7, r10, asr #1\n\t" /* X[k] re = A re / 2 + v */
        "rsb r5, r6, r11, asr #1\n\t" /* X[k] im = A im / 2 - u */
        "rsb r7, r7, r10, asr #1\n\t" /* X[M-k] re = A re / 2 - v */
        "add r6, r6, r11, asr #1\n\t" /* -X[M-k] im = A im / 2 + u */
        "smull r8, r9, r4, r4\n\t"
        "smlal r8, r9, r5, r5\n\t"
        "strd r8, r9, [r0], #8\n\t"
        "smull r10, r11, r7, r7\n\t"
        "smlal r10, r11, r6, r6\n\t"
        "strd r10, r11, [r1], #-8\n\t"
        "cmp r0, r3\n\t"
        "bne 1b\n\t"
        "2:\n\t"
        "pop {r4-r11, pc}\n\t");
}

void ts_fe_power_u64(int32_t *buf, int32_t n_fft, const int32_t *rfft_twiddle)
{
    const int32_t m = n_fft >> 1;
    ts_fe_power_ends(buf, m);
    pairs(buf + 2, buf + 2 * (m - 1), rfft_twiddle, buf + m);
}
