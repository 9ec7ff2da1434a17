/* Support function of ts_depthwise_conv_3x3_s8 (Armv7E-M): one channel over a block of output rows, stride 1,
 * fast requantisation record, in assembly. GCC's version of the same loop spills the constants and takes
 * about 31 instructions per output; here an output costs 20 (`tinyscene bench-kernels`).
 *
 * Per pair of outputs (x, x+1) and per filter row: the row's weight pair (w0 | w1 << 16, w2) by LDRD from the
 * channel's stream, three loads of the transposed int16 row (at x, x+1 unaligned, x+2) and SMLAD, SMLAD,
 * SMLABB, SMLATB; then the two results through the record (SMMLAR, sign fix, shift, SSAT) and stored C bytes
 * apart. An odd last output goes alone.
 * Registers: r0 r1 accumulators, r2 scratch, r3-r5 the three rows, r6 output, r7 r8 weights, r9-r11 the
 * record, r12 C, lr the stream. Stack: [sp] pair loop end, [sp+4] row pointer table, [sp+8] rows left,
 * [sp+12] output of the next row, [sp+16] the argument block. */
#include "ts/nn.h"
#include "ts/nn_armv7em.h"

__attribute__((naked, noinline)) void ts_a7_dw3x3_rows(const ts_a7_dw_t *a)
{
    __asm__ volatile(
        "push {r4-r11, lr}\n\t"
        "sub sp, sp, #20\n\t"
        "str r0, [sp, #16]\n\t"
        "ldr r1, [r0, #0]\n\t"         /* rows */
        "str r1, [sp, #4]\n\t"
        "ldr r1, [r0, #24]\n\t"        /* nr */
        "str r1, [sp, #8]\n\t"
        "ldr r1, [r0, #12]\n\t"        /* out */
        "str r1, [sp, #12]\n\t"
        "ldr lr, [r0, #8]\n\t"         /* stream */
        "ldr r12, [r0, #16]\n\t"       /* C */
        "add r1, lr, #28\n\t"
        "ldm r1, {r9, r10, r11}\n\t"   /* record */
        "3:\n\t"                       /* ---- next output row */
        "ldr r0, [sp, #16]\n\t"
        "ldr r2, [sp, #4]\n\t"
        "ldr r1, [r0, #4]\n\t"         /* plane offset (bytes) */
        "ldr r3, [r2, #0]\n\t"
        "ldr r4, [r2, #4]\n\t"
        "ldr r5, [r2, #8]\n\t"
        "add r3, r3, r1\n\t"
        "add r4, r4, r1\n\t"
        "add r5, r5, r1\n\t"
        "ldr r1, [r0, #32]\n\t"        /* sh */
        "add r2, r2, r1, lsl #2\n\t"
        "str r2, [sp, #4]\n\t"
        "ldr r6, [sp, #12]\n\t"
        "ldr r1, [r0, #20]\n\t"        /* output row stride */
        "add r1, r6, r1\n\t"
        "str r1, [sp, #12]\n\t"
        "ldr r1, [r0, #28]\n\t"        /* ow */
        "bic r2, r1, #1\n\t"
        "add r2, r3, r2, lsl #1\n\t"   /* pair loop end: r3 + 2 bytes x (ow & ~1) */
        "str r2, [sp]\n\t"
        "cmp r3, r2\n\t"
        "beq 4f\n\t"
        "1:\n\t"                       /* ---- a pair of outputs */
        "ldr r0, [lr]\n\t"
        "mov r1, r0\n\t"
        "ldrd r7, r8, [lr, #4]\n\t"
        "ldr r2, [r3, #2]\n\t"
        "smlad r1, r2, r7, r1\n\t"
        "ldr r2, [r3, #4]\n\t"
        "smlabb r0, r2, r8, r0\n\t"
        "smlatb r1, r2, r8, r1\n\t"
        "ldr r2, [r3], #4\n\t"
        "smlad r0, r2, r7, r0\n\t"
        "ldrd r7, r8, [lr, #12]\n\t"
        "ldr r2, [r4, #2]\n\t"
        "smlad r1, r2, r7, r1\n\t"
        "ldr r2, [r4, #4]\n\t"
        "smlabb r0, r2, r8, r0\n\t"
        "smlatb r1, r2, r8, r1\n\t"
        "ldr r2, [r4], #4\n\t"
        "smlad r0, r2, r7, r0\n\t"
        "ldrd r7, r8, [lr, #20]\n\t"
        "ldr r2, [r5, #2]\n\t"
        "smlad r1, r2, r7, r1\n\t"
        "ldr r2, [r5, #4]\n\t"
        "smlabb r0, r2, r8, r0\n\t"
        "smlatb r1, r2, r8, r1\n\t"
        "ldr r2, [r5], #4\n\t"
        "smlad r0, r2, r7, r0\n\t"
        "smmlar r2, r0, r9, r10\n\t"
        "add r2, r2, r0, asr #31\n\t"
        "asr r2, r2, r11\n\t"
        "ssat r2, #8, r2\n\t"
        "strb r2, [r6]\n\t"
        "smmlar r2, r1, r9, r10\n\t"
        "add r2, r2, r1, asr #31\n\t"
        "asr r2, r2, r11\n\t"
        "ssat r2, #8, r2\n\t"
        "strb r2, [r6, r12]\n\t"
        "add r6, r6, r12, lsl #1\n\t"
        "ldr r2, [sp]\n\t"
        "cmp r3, r2\n\t"
        "bne 1b\n\t"
        "4:\n\t"                       /* ---- an odd last output */
        "ldr r0, [sp, #16]\n\t"
        "ldr r1, [r0, #28]\n\t"
        "tst r1, #1\n\t"
        "beq 5f\n\t"
        "ldr r0, [lr]\n\t"
        "ldrd r7, r8, [lr, #4]\n\t"
        "ldr r2, [r3]\n\t"
        "smlad r0, r2, r7, r0\n\t"
        "ldr r2, [r3, #4]\n\t"
        "smlabb r0, r2, r8, r0\n\t"
        "ldrd r7, r8, [lr, #12]\n\t"
        "ldr r2, [r4]\n\t"
        "smlad r0, r2, r7, r0\n\t"
        "ldr r2, [r4, #4]\n\t"
        "smlabb r0, r2, r8, r0\n\t"
        "ldrd r7, r8, [lr, #20]\n\t"
        "ldr r2, [r5]\n\t"
        "smlad r0, r2, r7, r0\n\t"
        "ldr r2, [r5, #4]\n\t"
        "smlabb r0, r2, r8, r0\n\t"
        "smmlar r2, r0, r9, r10\n\t"
        "add r2, r2, r0, asr #31\n\t"
        "asr r2, r2, r11\n\t"
        "ssat r2, #8, r2\n\t"
        "strb r2, [r6]\n\t"
        "5:\n\t"
        "ldr r1, [sp, #8]\n\t"
        "subs r1, r1, #1\n\t"
        "str r1, [sp, #8]\n\t"
        "bne 3b\n\t"
        "add sp, sp, #20\n\t"
        "pop {r4-r11, pc}\n\t");
}
