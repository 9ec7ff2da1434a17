/* Support function of ts_conv_wino_s8 (Armv7E-M): the 16 products of the Winograd domain for one output channel
 * pair and one pair of tiles. For each of the 16 positions: the 2x2 SMLAD block of ts_armv7em_mat_mult_2x2 on
 * int16 weights (the transformed ones: 10-instruction bodies) over the k4 <= 16 groups of input channels,
 * entered Duff-style so that one pass
 * ends exactly at the last body, from zero; the four sums stored with one STM. The 16 columns, and the pair's
 * 16 weight blocks, follow each other: the column and weight pointers just run on (12 instructions per
 * position besides the bodies). Registers in the loop: r0-r3 sums, r4-r11 data, r12 column, lr weights.
 * Stack: [sp] loop entry, [sp+4] out, [sp+8] end of the last column. */
#include "ts/nn.h"
#include "ts_armv7em.h"

#define BODY_2X2_S16 TS_ARMV7EM_BODY_2X2_S16_REGS /* 10 instructions, 40 bytes */

__attribute__((naked, noinline)) void ts_armv7em_wino_gemm(const ts_armv7em_wino_t *a)
{
    __asm__ volatile(
        "push {r4-r11, lr}\n\t"
        "sub sp, sp, #12\n\t"
        "ldr r1, [r0, #8]\n\t"         /* k4 (1..16) */
        "ldr r12, [r0, #0]\n\t"        /* columns */
        "ldr lr, [r0, #4]\n\t"         /* the pair's weights */
        "rsb r3, r1, #16\n\t"
        "add r3, r3, r3, lsl #2\n\t"
        "adr r4, 1f\n\t"
        "add r3, r4, r3, lsl #3\n\t"   /* entry: body 16 - k4, 40 bytes each */
        "str r3, [sp]\n\t"
        "ldr r3, [r0, #16]\n\t"
        "str r3, [sp, #4]\n\t"         /* out */
        "add r3, r12, r1, lsl #8\n\t"  /* end of the 16 columns: 16 x 16 k4 bytes */
        "str r3, [sp, #8]\n\t"
        "2:\n\t"
        "mov r0, #0\n\t"
        "mov r1, #0\n\t"
        "mov r2, #0\n\t"
        "mov r3, #0\n\t"
        "ldr r4, [sp]\n\t"
        "mov pc, r4\n\t"
        ".p2align 2\n"
        "1:\n\t"
        BODY_2X2_S16 BODY_2X2_S16 BODY_2X2_S16 BODY_2X2_S16 BODY_2X2_S16 BODY_2X2_S16 BODY_2X2_S16 BODY_2X2_S16
        BODY_2X2_S16 BODY_2X2_S16 BODY_2X2_S16 BODY_2X2_S16 BODY_2X2_S16 BODY_2X2_S16 BODY_2X2_S16 BODY_2X2_S16
        "ldr r4, [sp, #4]\n\t"
        "stm r4!, {r0-r3}\n\t"
        "str r4, [sp, #4]\n\t"
        "ldr r4, [sp, #8]\n\t"
        "cmp r12, r4\n\t"
        "bne 2b\n\t"
        "add sp, sp, #12\n\t"
        "pop {r4-r11, pc}\n\t");
}
