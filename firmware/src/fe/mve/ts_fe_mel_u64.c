/* Mel sums from interval sums, Helium (same integers as the portable ts_fe_mel_u64). Each interval is one
 * tail-predicated loop (WLSTP / LETP: the last vector's missing bins are inactive lanes) over four bins
 * at a time: the bins' addresses by VIDUP, the low and high words of their powers by two gathers, the
 * weights by VLDRH, then VMLALDAVA (sum t x low, sum t x high words into 64-bit accumulators), VADDLVA
 * (sum of the low words) and VADDVA (of the high words). Per interval the 64-bit A = (hi << 16) +
 * (lo >> 16) and mel[j-1] = A_{j-1} + B_j - A_j. Interval 0 (no band before it) is C. */
#include <arm_mve.h>

#include "ts/fe.h"
#include "../ts_fe_internal.h"

#if !defined(__ARM_FEATURE_MVE)
#error "firmware/src/fe/mve needs Helium (MVE, -mcpu=cortex-m55): build the armv7em or portable stages instead"
#endif

typedef struct {
    const uint64_t *power;   /* [0] bin 0 */
    const uint16_t *t;       /* [4] mel_t - mel_bin[0]: the weight of bin b at t + b */
    const uint16_t *bin;     /* [8] mel_bin + 2: the end of interval 1 */
    const uint16_t *bin_end; /* [12] mel_bin + n_mels + 2 */
    uint64_t *mel;           /* [16] */
    uint32_t prev_lo, prev_hi; /* [20] A_0 */
    int32_t start;           /* [28] first bin of interval 1 */
} mel_args_t;

/* r2 interval ends, r3 start bin (then the count), r11 end bin, r0 / r1 the bins' and weights' addresses
 * (per interval), r4:r5 sum t lo, r6:r7 sum t hi, r8:r9 sum lo, r10 sum hi, r12 mel, lr the loop; q7 = 0.
 * Stack: [sp] power, [sp+4] weights, [sp+8] interval ends' end, [sp+12..16] the previous A. */
__attribute__((naked, noinline)) static void intervals(const mel_args_t *a)
{
    __asm__ volatile(
        "push {r4-r11, lr}\n\t"
        "vpush {d14-d15}\n\t"
        "sub sp, sp, #24\n\t"
        "ldr r1, [r0, #0]\n\t" "str r1, [sp, #0]\n\t"
        "ldr r1, [r0, #4]\n\t" "str r1, [sp, #4]\n\t"
        "ldr r1, [r0, #12]\n\t" "str r1, [sp, #8]\n\t"
        "ldrd r1, r2, [r0, #20]\n\t" "strd r1, r2, [sp, #12]\n\t"
        "ldr r12, [r0, #16]\n\t"
        "ldr r2, [r0, #8]\n\t"
        "ldr r3, [r0, #28]\n\t"
        "vmov.i32 q7, #0\n\t"
        "3:\n\t"
        "ldrh r11, [r2], #2\n\t"       /* end bin */
        "ldr r0, [sp, #0]\n\t"
        "add r0, r0, r3, lsl #3\n\t"   /* &P[start] */
        "ldr r1, [sp, #4]\n\t"
        "add r1, r1, r3, lsl #1\n\t"   /* &t[start] */
        "sub r3, r11, r3\n\t"          /* count */
        "vmov r4, r5, q7[2], q7[0]\n\t"
        "vmov r6, r7, q7[2], q7[0]\n\t"
        "vmov r8, r9, q7[2], q7[0]\n\t"
        "mov r10, #0\n\t"
        "wlstp.32 lr, r3, 2f\n\t"
        "1:\n\t"
        "vidup.u32 q0, r0, #8\n\t"
        "vldrw.u32 q1, [q0]\n\t"       /* P low words */
        "vldrw.u32 q2, [q0, #4]\n\t"   /* P high words */
        "vldrh.u32 q3, [r1], #8\n\t"   /* t */
        "vmlaldava.u32 r4, r5, q1, q3\n\t"
        "vmlaldava.u32 r6, r7, q2, q3\n\t"
        "vaddlva.u32 r8, r9, q1\n\t"
        "vaddva.u32 r10, q2\n\t"
        "letp lr, 1b\n\t"
        "2:\n\t"
        "mov r3, r11\n\t"              /* the next interval starts here */
        "add r9, r9, r10\n\t"          /* B = sum lo + 2^32 sum hi */
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
        "ldrd r6, r7, [sp, #12]\n\t"
        "adds r8, r8, r6\n\t"
        "adc r9, r9, r7\n\t"
        "strd r8, r9, [r12], #8\n\t"
        "strd r4, r5, [sp, #12]\n\t"
        "ldr r6, [sp, #8]\n\t"
        "cmp r2, r6\n\t"
        "bne 3b\n\t"
        "add sp, sp, #24\n\t"
        "vpop {d14-d15}\n\t"
        "pop {r4-r11, pc}\n\t");
}

void ts_fe_mel_u64(const uint64_t *power, const uint16_t *mel_bin, const uint16_t *mel_t, int32_t n_mels,
                   uint64_t *mel)
{
    /* interval 0: the rising edge of band 0 only */
    uint64_t lo = 0, hi = 0;
    const uint16_t *t = mel_t;
    for (int32_t k = mel_bin[0]; k < mel_bin[1]; k++) {
        const uint32_t tk = *t++;
        lo += (uint64_t)(uint32_t)power[k] * tk;
        hi += (uint64_t)(uint32_t)(power[k] >> 32) * tk;
    }
    const uint64_t a0 = (hi << 16) + (lo >> 16);
    const mel_args_t args = {power, mel_t - mel_bin[0], mel_bin + 2, mel_bin + n_mels + 2, mel, (uint32_t)a0,
                             (uint32_t)(a0 >> 32), mel_bin[1]};
    intervals(&args);
}
