/* Mel sums from interval sums, Helium (same integers as the portable ts_fe_mel_u64). One pass over the
 * intervals in assembly, by their number of bins: an empty interval only passes its band on; one or two
 * bins are scalar (UMULL / UMLAL of the low and high words by t); longer ones are a tail-predicated loop
 * (WLSTP / LETP) over four bins at a time: the low and high words of their powers by VLD2, the weights by
 * VLDRH, then VMLALDAVA (sum t x low, sum t x high words into 64-bit accumulators), VADDLVA (sum of the low
 * words) and VADDVA (of the high words). Per interval the 64-bit
 * A = (hi << 16) + (lo >> 16) and mel[j-1] = A_{j-1} + B_j - A_j. Interval 0 (no band before it) is C.
 * VLD2 cannot be predicated: the last interval reads up to 3 bins (24 bytes) past bin n_fft/2, which in
 * the front-end's scratch are the mel sums (fe.h: ts_fe_mel_u64). */
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

/* r11 weights, r2 interval ends, r3 start bin, r1 end bin, r4:r5 sum t lo (then A), r6:r7 sum t hi, r8:r9
 * B (r10 the sum of the high words in the loop: VADDVA takes an even register), r12 mel; the loop's r0 / r3
 * the powers' and weights' addresses. q7 = 0. Stack: [sp] the previous A, [sp+8] the ends' end,
 * [sp+12] power. */
#define MEL_A                                                                                       \
    "lsr r4, r4, #16\n\t" /* A = (hi << 16) + (lo >> 16) */                                         \
    "orr r4, r4, r5, lsl #16\n\t"                                                                   \
    "adds r4, r4, r6, lsl #16\n\t"                                                                  \
    "lsr r5, r5, #16\n\t"                                                                           \
    "adc r5, r5, r6, lsr #16\n\t"                                                                   \
    "add r5, r5, r7, lsl #16\n\t"

#define MEL_NEXT                                                                                    \
    "strd r4, r5, [sp]\n\t"                                                                         \
    "ldr r6, [sp, #8]\n\t"                                                                          \
    "cmp r2, r6\n\t"                                                                                \
    "bne 3b\n\t"                                                                                    \
    "b 9f\n\t"

#define MEL_A_AND_BAND                                                                              \
    MEL_A                                                                                           \
    "ldrd r6, r7, [sp]\n\t" /* mel[j-1] = A_{j-1} + B - A */                                        \
    "adds r6, r6, r8\n\t"                                                                           \
    "adc r7, r7, r9\n\t"                                                                            \
    "subs r6, r6, r4\n\t"                                                                           \
    "sbc r7, r7, r5\n\t"                                                                            \
    "strd r6, r7, [r12], #8\n\t"                                                                    \
    MEL_NEXT

__attribute__((naked, noinline)) static void intervals(const mel_args_t *a)
{
    __asm__ volatile(
        "push {r4-r11, lr}\n\t"
        "vpush {d14-d15}\n\t"
        "sub sp, sp, #16\n\t"
        "ldrd r10, r11, [r0, #0]\n\t"
        "str r10, [sp, #12]\n\t"
        "ldrd r2, r1, [r0, #8]\n\t"
        "str r1, [sp, #8]\n\t"
        "ldr r12, [r0, #16]\n\t"
        "ldrd r4, r5, [r0, #20]\n\t"
        "strd r4, r5, [sp]\n\t"
        "ldr r3, [r0, #28]\n\t"
        "vmov.i32 q7, #0\n\t"
        "3:\n\t"
        "ldrh r1, [r2], #2\n\t"        /* end bin */
        "subs r4, r1, r3\n\t"          /* bins */
        "beq 5f\n\t"
        "cmp r4, #2\n\t"
        "bhi 4f\n\t"
        "beq 6f\n\t"
        /* one bin: B = P, t P_lo and t P_hi */
        "ldr r0, [sp, #12]\n\t"
        "add r0, r0, r3, lsl #3\n\t"
        "ldrd r8, r9, [r0]\n\t"
        "ldrh r0, [r11, r3, lsl #1]\n\t"
        "umull r4, r5, r8, r0\n\t"
        "umull r6, r7, r9, r0\n\t"
        "mov r3, r1\n\t"
        MEL_A_AND_BAND
        /* two bins */
        "6:\n\t"
        "ldr r0, [sp, #12]\n\t"
        "add r0, r0, r3, lsl #3\n\t"
        "add r3, r11, r3, lsl #1\n\t"
        "ldrd r8, r9, [r0]\n\t"
        "ldrh lr, [r3]\n\t"
        "umull r4, r5, r8, lr\n\t"
        "umull r6, r7, r9, lr\n\t"
        "ldrh lr, [r3, #2]\n\t"
        "ldrd r0, r3, [r0, #8]\n\t"
        "umlal r4, r5, r0, lr\n\t"
        "umlal r6, r7, r3, lr\n\t"
        "adds r8, r8, r0\n\t"
        "adc r9, r9, r3\n\t"
        "mov r3, r1\n\t"
        MEL_A_AND_BAND
        /* three bins or more: the vector loop (B starts at A_{j-1}: its sum is A_{j-1} + B_j) */
        "4:\n\t"
        "ldr r0, [sp, #12]\n\t"
        "add r0, r0, r3, lsl #3\n\t"
        "add r3, r11, r3, lsl #1\n\t"
        "wlstp.32 lr, r4, 2f\n\t"
        "vmov r4, r5, q7[2], q7[0]\n\t"
        "vmov r6, r7, q7[2], q7[0]\n\t"
        "ldrd r8, r9, [sp]\n\t"
        "movs r10, #0\n\t"
        "1:\n\t"
        "vld20.32 {q0, q1}, [r0]\n\t"
        "vld21.32 {q0, q1}, [r0]!\n\t" /* q0 P low words, q1 high words */
        "vldrh.u32 q2, [r3], #8\n\t"   /* t */
        "vmlaldava.u32 r4, r5, q0, q2\n\t"
        "vmlaldava.u32 r6, r7, q1, q2\n\t"
        "vaddlva.u32 r8, r9, q0\n\t"
        "vaddva.u32 r10, q1\n\t"
        "letp lr, 1b\n\t"
        "2:\n\t"
        "add r9, r9, r10\n\t"      /* A_{j-1} + sum lo + 2^32 sum hi */
        "mov r3, r1\n\t"
        MEL_A
        "subs r8, r8, r4\n\t"      /* mel[j-1] = A_{j-1} + B - A */
        "sbc r9, r9, r5\n\t"
        "strd r8, r9, [r12], #8\n\t"
        MEL_NEXT
        /* no bins: A = B = 0, the band before is A_{j-1} */
        "5:\n\t"
        "ldrd r6, r7, [sp]\n\t"
        "strd r6, r7, [r12], #8\n\t"
        "movs r6, #0\n\t"
        "movs r7, #0\n\t"
        "strd r6, r7, [sp]\n\t"
        "ldr r6, [sp, #8]\n\t"
        "cmp r2, r6\n\t"
        "bne 3b\n\t"
        "9:\n\t"
        "add sp, sp, #16\n\t"
        "vpop {d14-d15}\n\t"
        "pop {r4-r11, pc}\n\t");
}

void ts_fe_mel_u64(const uint64_t *power, const uint16_t *mel_bin, const uint16_t *mel_t, int32_t n_mels,
                   uint64_t *mel)
{
    const uint64_t a0 = ts_fe_mel_first(power, mel_bin, mel_t); /* interval 0: band 0's rising edge */
    const mel_args_t args = {power, mel_t - mel_bin[0], mel_bin + 2, mel_bin + n_mels + 2, mel, (uint32_t)a0,
                             (uint32_t)(a0 >> 32), mel_bin[1]};
    intervals(&args);
}
