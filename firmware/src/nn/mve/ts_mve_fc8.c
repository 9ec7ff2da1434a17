/* Support function of the Helium fully connected layer (ts_fully_connected_s8): every block of 8 output channels
 * of one input row, in assembly. Per 16 inputs: one load of the row, 8 loads of the block's weights and 8
 * VMLADAVA (128 multiply-accumulates in 17 instructions, 8 sums in the even registers); the last partial 16
 * inputs loaded predicated (zeros beyond); then the two vectors of 4 sums through TFLite's requantisation with
 * the block's two sets of constants, 8 bytes stored (fewer for a last partial block).
 * Registers: sums r0 r2 ... lr, r1 the row, r5 the stream, r7 the count, r11 the arguments; q0 the row, q1-q4
 * weights, q6 / q7 the clamp bounds. */
#include "ts/nn.h"
#include "ts_mve.h"

/* The block's 8 channels times q0 (the loads of weights run on by 128 bytes). */
#define EIGHT                                   \
    "vldrb.8 q1, [r5], #64\n\t"                 \
    "vldrb.8 q2, [r5, #-48]\n\t"                \
    "vldrb.8 q3, [r5, #-32]\n\t"                \
    "vldrb.8 q4, [r5, #-16]\n\t"                \
    "vmladava.s8 r0, q0, q1\n\t"                \
    "vmladava.s8 r2, q0, q2\n\t"                \
    "vmladava.s8 r4, q0, q3\n\t"                \
    "vmladava.s8 r6, q0, q4\n\t"                \
    "vldrb.8 q1, [r5], #64\n\t"                 \
    "vldrb.8 q2, [r5, #-48]\n\t"                \
    "vldrb.8 q3, [r5, #-32]\n\t"                \
    "vldrb.8 q4, [r5, #-16]\n\t"                \
    "vmladava.s8 r8, q0, q1\n\t"                \
    "vmladava.s8 r10, q0, q2\n\t"               \
    "vmladava.s8 r12, q0, q3\n\t"               \
    "vmladava.s8 lr, q0, q4\n\t"

/* Requantise vector Q with the next 4 constant vectors of the stream (bias, multiplier, left, minus right). */
#define RQ(Q)                                   \
    "vldrw.u32 q2, [r5], #16\n\t"               \
    "vadd.i32 " Q ", " Q ", q2\n\t"             \
    "vldrw.u32 q2, [r5], #16\n\t"               \
    "vldrw.u32 q3, [r5], #16\n\t"               \
    "vshl.s32 " Q ", " Q ", q3\n\t"             \
    "vqrdmulh.s32 " Q ", " Q ", q2\n\t"         \
    "vldrw.u32 q2, [r5], #16\n\t"               \
    "vand q3, " Q ", q2\n\t"                    \
    "vshr.s32 q3, q3, #31\n\t"                  \
    "vqadd.s32 " Q ", " Q ", q3\n\t"            \
    "vrshl.s32 " Q ", " Q ", q2\n\t"

__attribute__((naked, noinline)) void ts_mve_fc8(const ts_mve_fc_t *a)
{
    __asm__ volatile(
        "push {r4-r11, lr}\n\t"
        "vpush {d8-d15}\n\t"
        "sub sp, sp, #16\n\t"
        "str r0, [sp, #0]\n\t"
        "ldr r1, [r0, #28]\n\t"
        "vdup.32 q6, r1\n\t"
        "ldr r1, [r0, #32]\n\t"
        "vdup.32 q7, r1\n\t"
        "ldr r5, [r0, #4]\n\t"          /* w */
        "ldr r1, [r0, #20]\n\t"
        "str r1, [sp, #4]\n\t"          /* channels left */
        "ldr r1, [r0, #8]\n\t"
        "str r1, [sp, #8]\n\t"          /* out */
        "1:\n\t"                        /* ---- a block of 8 channels */
        "ldr r11, [sp, #0]\n\t"
        "ldr r1, [r11, #0]\n\t"         /* the row */
        "mov r0, #0\n\t"
        "mov r2, #0\n\t"
        "mov r4, #0\n\t"
        "mov r6, #0\n\t"
        "mov r8, #0\n\t"
        "mov r10, #0\n\t"
        "mov r12, #0\n\t"
        "mov lr, #0\n\t"
        "ldr r7, [r11, #12]\n\t"        /* whole chunks */
        "cmp r7, #0\n\t"
        "beq 3f\n\t"
        "2:\n\t"
        "vldrb.8 q0, [r1], #16\n\t"
        EIGHT
        "subs r7, r7, #1\n\t"
        "bne 2b\n\t"
        "3:\n\t"
        "ldr r7, [r11, #16]\n\t"        /* tail */
        "cmp r7, #0\n\t"
        "beq 4f\n\t"
        "vctp.8 r7\n\t"
        "vpst\n\t"
        "vldrbt.8 q0, [r1]\n\t"
        EIGHT
        "4:\n\t"
        "vmov.32 q0[0], r0\n\t"
        "vmov.32 q0[1], r2\n\t"
        "vmov.32 q0[2], r4\n\t"
        "vmov.32 q0[3], r6\n\t"
        "vmov.32 q1[0], r8\n\t"
        "vmov.32 q1[1], r10\n\t"
        "vmov.32 q1[2], r12\n\t"
        "vmov.32 q1[3], lr\n\t"
        RQ("q0")
        RQ("q1")
        TS_MVE_ZP_CLAMP_Q0Q1("24") /* output zero point, clamp */
        "ldr r0, [sp, #4]\n\t"
        "ldr r2, [sp, #8]\n\t"
        "vctp.32 r0\n\t"
        "vpst\n\t"
        "vstrbt.32 q0, [r2]\n\t"
        "subs r4, r0, #4\n\t"
        "usat r4, #16, r4\n\t"          /* channels left for the second vector, >= 0 */
        "vctp.32 r4\n\t"
        "vpst\n\t"
        "vstrbt.32 q1, [r2, #4]\n\t"
        "adds r2, r2, #8\n\t"
        "str r2, [sp, #8]\n\t"
        "subs r0, r0, #8\n\t"
        "str r0, [sp, #4]\n\t"
        "bgt 1b\n\t"
        "add sp, sp, #16\n\t"
        "vpop {d8-d15}\n\t"
        "pop {r4-r11, pc}\n\t");
}
