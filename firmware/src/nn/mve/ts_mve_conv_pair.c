/* Support function of the Helium convolutions and fully connected layers (ts_conv_s8, ts_fully_connected_s8):
 * every block of 4 output channels for one pair of pixels, in assembly (GCC's version of the block spills the
 * accumulators and reloads the constants: about 80 instructions per block besides the dot products; here
 * about 47).
 *
 * Per block: the 4 channels x 2 pixels dot products over `rows` rows of `chunks` 16-byte chunks of the two
 * pixels' fields (6 loads and 8 VMLADAVA per chunk, 128 multiply-accumulates; the first chunk by VMLADAV,
 * which starts the sums; `step` bytes from the end of one row's chunks to the next row: the fields are read
 * in place, a filter row at a time), then a last chunk of `tail` bytes loaded predicated (zeros beyond) when
 * tail > 0; the two pixels' 4 sums into vectors
 * and TFLite's requantisation with the block's constants (bias, VSHL left, VQRDMULH, the rounding fix-up and
 * VRSHL right, zero point, clamp), 4 bytes stored per pixel (fewer for a last partial block).
 * Registers: the 8 sums in the even registers r0-lr (VMLADAVA takes no other), r1 / r3 the fields, r5 the
 * stream, r7 the chunk count, r9 the row count, r11 the arguments; q0-q5 the loads, q6 / q7 the clamp
 * bounds. */
#include "ts/nn.h"
#include "ts_mve.h"

#define LOADS                                   \
    "vldrb.8 q0, [r1], #16\n\t"                 \
    "vldrb.8 q1, [r3], #16\n\t"                 \
    "vldrb.8 q2, [r5], #64\n\t"                 \
    "vldrb.8 q3, [r5, #-48]\n\t"                \
    "vldrb.8 q4, [r5, #-32]\n\t"                \
    "vldrb.8 q5, [r5, #-16]\n\t"

#define MACS(OP)                                \
    OP " r0, q0, q2\n\t"                        \
    OP " r2, q1, q2\n\t"                        \
    OP " r4, q0, q3\n\t"                        \
    OP " r6, q1, q3\n\t"                        \
    OP " r8, q0, q4\n\t"                        \
    OP " r10, q1, q4\n\t"                       \
    OP " r12, q0, q5\n\t"                       \
    OP " lr, q1, q5\n\t"

__attribute__((naked, noinline)) void ts_mve_conv_pair(const ts_mve_pair_t *a)
{
    __asm__ volatile(
        "push {r4-r11, lr}\n\t"
        "vpush {d8-d15}\n\t"
        "sub sp, sp, #16\n\t"
        "str r0, [sp, #0]\n\t"          /* the arguments */
        "ldr r1, [r0, #36]\n\t"
        "vdup.32 q6, r1\n\t"
        "ldr r1, [r0, #40]\n\t"
        "vdup.32 q7, r1\n\t"
        "ldr r5, [r0, #8]\n\t"          /* w */
        "ldr r1, [r0, #28]\n\t"
        "str r1, [sp, #4]\n\t"          /* channels left */
        "ldrd r1, r2, [r0, #12]\n\t"
        "strd r1, r2, [sp, #8]\n\t"     /* out_a, out_b */
        "1:\n\t"                        /* ---- a block */
        "ldr r11, [sp, #0]\n\t"
        "ldrd r1, r3, [r11, #0]\n\t"    /* xa, xb */
        "ldr r7, [r11, #20]\n\t"        /* chunks (>= 1) */
        "ldr r9, [r11, #44]\n\t"        /* rows (>= 1) */
        LOADS
        MACS("vmladav.s8")
        "subs r7, r7, #1\n\t"
        "beq 5f\n\t"
        "2:\n\t"
        LOADS
        MACS("vmladava.s8")
        "subs r7, r7, #1\n\t"
        "bne 2b\n\t"
        "5:\n\t"
        "subs r9, r9, #1\n\t"
        "beq 3f\n\t"
        "ldr r7, [r11, #48]\n\t"        /* to the next row of the fields */
        "add r1, r1, r7\n\t"
        "add r3, r3, r7\n\t"
        "ldr r7, [r11, #20]\n\t"
        "b 2b\n\t"
        "3:\n\t"
        "ldr r9, [r11, #24]\n\t"        /* tail */
        "cmp r9, #0\n\t"
        "beq 4f\n\t"
        "vctp.8 r9\n\t"
        "vpstt\n\t"
        "vldrbt.8 q0, [r1]\n\t"
        "vldrbt.8 q1, [r3]\n\t"
        "vldrb.8 q2, [r5], #64\n\t"
        "vldrb.8 q3, [r5, #-48]\n\t"
        "vldrb.8 q4, [r5, #-32]\n\t"
        "vldrb.8 q5, [r5, #-16]\n\t"
        MACS("vmladava.s8")
        "4:\n\t"                        /* ---- requantisation of both pixels' 4 sums */
        "vmov.32 q0[0], r0\n\t"
        "vmov.32 q0[1], r4\n\t"
        "vmov.32 q0[2], r8\n\t"
        "vmov.32 q0[3], r12\n\t"
        "vmov.32 q1[0], r2\n\t"
        "vmov.32 q1[1], r6\n\t"
        "vmov.32 q1[2], r10\n\t"
        "vmov.32 q1[3], lr\n\t"
        "vldrw.u32 q2, [r5], #16\n\t"   /* bias */
        "vadd.i32 q0, q0, q2\n\t"
        "vadd.i32 q1, q1, q2\n\t"
        "vldrw.u32 q2, [r5], #16\n\t"   /* multiplier */
        "vldrw.u32 q3, [r5], #16\n\t"   /* left shift */
        "vshl.s32 q0, q0, q3\n\t"
        "vshl.s32 q1, q1, q3\n\t"
        "vqrdmulh.s32 q0, q0, q2\n\t"
        "vqrdmulh.s32 q1, q1, q2\n\t"
        "vldrw.u32 q2, [r5], #16\n\t"   /* minus the right shift */
        "vand q3, q0, q2\n\t"
        "vand q4, q1, q2\n\t"
        "vshr.s32 q3, q3, #31\n\t"
        "vshr.s32 q4, q4, #31\n\t"
        "vqadd.s32 q0, q0, q3\n\t"
        "vqadd.s32 q1, q1, q4\n\t"
        "vrshl.s32 q0, q0, q2\n\t"
        "vrshl.s32 q1, q1, q2\n\t"
        TS_MVE_ZP_CLAMP_Q0Q1("32") /* output zero point, clamp */
        "ldr r0, [sp, #4]\n\t"
        "ldrd r2, r4, [sp, #8]\n\t"
        "vctp.32 r0\n\t"
        "vpstt\n\t"
        "vstrbt.32 q1, [r4]\n\t"        /* pixel B first: the same bytes as A's for an unpaired pixel */
        "vstrbt.32 q0, [r2]\n\t"
        "adds r2, r2, #4\n\t"
        "adds r4, r4, #4\n\t"
        "strd r2, r4, [sp, #8]\n\t"
        "subs r0, r0, #4\n\t"
        "str r0, [sp, #4]\n\t"
        "bgt 1b\n\t"
        "add sp, sp, #16\n\t"
        "vpop {d8-d15}\n\t"
        "pop {r4-r11, pc}\n\t");
}
