/* Support function of the Armv7E-M convolutions: ts_armv7em_mat_mult_2x2_s16 for one pixel, the unpaired last
 * pixel of a layer with an odd number of them (lane A of the 2-pixel column; lane B is not read), on the widened
 * stream with fast records: per group of 4 k, LDRD of the pixel's two int16 pairs (skipping lane B), LDM of the
 * pair's four weight words, 4 SMLAD (6 instructions per 8 multiply-accumulates; the 2x2 block would spend 10 on
 * 16, half of them on a pixel already done); the two results through the records; both channels' bytes stored
 * as one halfword at out_a. Groups by a Duff's device of 4 bodies.
 * Registers: r0 r2 sums, r4 r5 the pixel, r8-r11 weights, r12 column, lr stream, r3 out, r1 pairs left.
 * Stack: [sp] column, [sp+4] column end, [sp+8] loop entry (Thumb bit set: taken by LDR PC). */
#include "ts/nn.h"
#include "ts_armv7em.h"

#define BODY_2X1                                \
    "ldrd r4, r5, [r12], #16\n\t"               \
    "ldm.w lr!, {r8, r9, r10, r11}\n\t"         \
    "smlad r0, r8, r4, r0\n\t"                  \
    "smlad r0, r9, r5, r0\n\t"                  \
    "smlad r2, r10, r4, r2\n\t"                 \
    "smlad r2, r11, r5, r2\n\t"

__attribute__((naked, noinline)) void ts_armv7em_mat_mult_2x1_s16(const ts_armv7em_mm_t *a)
{
    __asm__ volatile(
        "push {r4-r11, lr}\n\t"
        "sub sp, sp, #12\n\t"
        "ldr r2, [r0, #20]\n\t"        /* n4 */
        "ldr r4, [r0, #0]\n\t"         /* column */
        "str r4, [sp]\n\t"
        "add r4, r4, r2, lsl #4\n\t"
        "str r4, [sp, #4]\n\t"         /* column end */
        "rsb r4, r2, #0\n\t"
        "and r4, r4, #3\n\t"
        "lsl r4, r4, #3\n\t"
        "add r4, r4, r4, lsl #1\n\t"   /* (-n4 & 3) bodies of 24 bytes skipped */
        "adr r5, 1f\n\t"
        "add r4, r4, r5\n\t"
        "orr r4, r4, #1\n\t"
        "str r4, [sp, #8]\n\t"
        "ldr lr, [r0, #4]\n\t"         /* stream */
        "ldr r3, [r0, #8]\n\t"         /* out_a */
        "ldr r1, [r0, #16]\n\t"        /* pairs */
        "2:\n\t"
        "ldrd r0, r2, [lr], #8\n\t"    /* bias pair */
        "ldr r12, [sp]\n\t"
        "ldr pc, [sp, #8]\n\t"
        ".p2align 2\n"
        "1:\n\t"
        BODY_2X1 BODY_2X1 BODY_2X1 BODY_2X1
        "ldr r4, [sp, #4]\n\t"
        "cmp r12, r4\n\t"
        "bne 1b\n\t"
        "ldm lr!, {r4-r9}\n\t"         /* M0 R0 E0 M1 R1 E1 */
        "smmlar r10, r0, r4, r5\n\t"
        "add r10, r10, r0, asr #31\n\t"
        "asr r10, r10, r6\n\t"
        "ssat r10, #8, r10\n\t"
        "smmlar r11, r2, r7, r8\n\t"
        "add r11, r11, r2, asr #31\n\t"
        "asr r11, r11, r9\n\t"
        "ssat r11, #8, r11\n\t"
        "bfi r10, r11, #8, #8\n\t"
        "strh r10, [r3], #2\n\t"
        "subs r1, r1, #1\n\t"
        "bne 2b\n\t"
        "add sp, sp, #12\n\t"
        "pop {r4-r11, pc}\n\t");
}
