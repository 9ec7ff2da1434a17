/* Mel sums from interval sums, Armv7E-M (same integers as the portable ts_fe_mel_u64): per bin one LDRD
 * of the 64-bit power, one LDRH of its weight t, two UMLAL (t times the power's low and high words) and
 * ADDS / ADC (the plain sum): 8 instructions; per interval the 64-bit A = (hi << 16) + (lo >> 16) and
 * mel[j-1] = A_{j-1} + B_j - A_j. Interval 0 (no band before it) is C. */
#include "ts/fe.h"
#include "../ts_fe_internal.h"

#if !defined(__ARM_FEATURE_DSP)
#error "firmware/src/fe/armv7em needs the DSP extension (Armv7E-M): build the portable stages instead"
#endif

typedef struct {
    const uint64_t *power;  /* [0] bin 0 */
    const uint16_t *bin;    /* [4] mel_bin + 2: the end of interval 1 */
    const uint16_t *t;      /* [8] weights of interval 1 */
    const uint16_t *bin_end; /* [12] mel_bin + n_mels + 2 */
    uint64_t *mel;          /* [16] */
    uint32_t prev_lo, prev_hi; /* [20] A_0 */
    const uint64_t *start;  /* [28] first bin of interval 1 */
} mel_args_t;

/* r0 bins, r1 weights, r2 interval ends, r3 the current end; r4:r5 sum t lo, r6:r7 sum t hi, r8:r9 sum P,
 * r10:r11 P, r12 t. Stack: [sp] power, [sp+4] interval ends' end, [sp+8] mel, [sp+12..16] previous A. */
__attribute__((naked, noinline)) static void intervals(const mel_args_t *a)
{
    __asm__ volatile(
        "push {r4-r11, lr}\n\t"
        "sub sp, sp, #24\n\t"
        "ldr r1, [r0, #0]\n\t" "str r1, [sp, #0]\n\t"
        "ldr r1, [r0, #12]\n\t" "str r1, [sp, #4]\n\t"
        "ldr r1, [r0, #16]\n\t" "str r1, [sp, #8]\n\t"
        "ldrd r1, r2, [r0, #20]\n\t" "strd r1, r2, [sp, #12]\n\t"
        "ldr r1, [r0, #8]\n\t"
        "ldr r2, [r0, #4]\n\t"
        "ldr r0, [r0, #28]\n\t"
        "3:\n\t" /* interval: bins r0 .. power + bin[j+1] */
        "ldrh lr, [r2], #2\n\t"
        "ldr r3, [sp, #0]\n\t"
        "add r3, r3, lr, lsl #3\n\t"
        "movs r4, #0\n\t" "movs r5, #0\n\t" "movs r6, #0\n\t"
        "movs r7, #0\n\t" "movs r8, #0\n\t" "movs r9, #0\n\t"
        "cmp r0, r3\n\t"
        "beq 2f\n\t"
        "1:\n\t"
        "ldrd r10, r11, [r0], #8\n\t"
        "ldrh r12, [r1], #2\n\t"
        "umlal r4, r5, r10, r12\n\t"
        "umlal r6, r7, r11, r12\n\t"
        "adds r8, r8, r10\n\t"
        "adc r9, r9, r11\n\t"
        "cmp r0, r3\n\t"
        "bne 1b\n\t"
        "2:\n\t"
        /* A = (hi << 16) + (lo >> 16) -> r4:r5 */
        "lsr r4, r4, #16\n\t"
        "orr r4, r4, r5, lsl #16\n\t"
        "lsr r5, r5, #16\n\t"
        "adds r4, r4, r6, lsl #16\n\t"
        "lsl r7, r7, #16\n\t"
        "orr r7, r7, r6, lsr #16\n\t"
        "adc r5, r5, r7\n\t"
        /* mel[j-1] = A_{j-1} + B - A */
        "subs r8, r8, r4\n\t"
        "sbc r9, r9, r5\n\t"
        "ldrd r10, r11, [sp, #12]\n\t"
        "adds r8, r8, r10\n\t"
        "adc r9, r9, r11\n\t"
        "strd r4, r5, [sp, #12]\n\t"
        "ldr lr, [sp, #8]\n\t"
        "strd r8, r9, [lr], #8\n\t"
        "str lr, [sp, #8]\n\t"
        "ldr lr, [sp, #4]\n\t"
        "cmp r2, lr\n\t"
        "bne 3b\n\t"
        "add sp, sp, #24\n\t"
        "pop {r4-r11, pc}\n\t");
}

void ts_fe_mel_u64(const uint64_t *power, const uint16_t *mel_bin, const uint16_t *mel_t, int32_t n_mels,
                   uint64_t *mel)
{
    const uint64_t a0 = ts_fe_mel_first(power, mel_bin, mel_t); /* interval 0: band 0's rising edge */
    const uint16_t *t = mel_t + (mel_bin[1] - mel_bin[0]); /* interval 1's weights */
    const mel_args_t args = {power, mel_bin + 2, t, mel_bin + n_mels + 2, mel, (uint32_t)a0, (uint32_t)(a0 >> 32),
                             power + mel_bin[1]};
    intervals(&args);
}
