/* Support function of ts_conv_wino_s8 (Armv7E-M): Winograd's transformed weights of one output channel pair,
 * made at run time from the int8 taps (the compiler stores the weights once, int8; with `--prefer speed` it
 * stores these transformed ones instead).
 *
 * U = G' g G'^T with G' = [[2 0 0] [1 1 1] [1 -1 1] [0 0 2]] (twice Lavin and Gray's G, so that U is integer;
 * |U| <= 9 x 128 fits int16), per output channel and input channel. Two input channels at a time in int16
 * halves: a tap word [i0 i1 i2 i3] gives (i0, i2) by SXTB16 and (i1, i3) by SXTB16 ROR 8, and the transform is
 * SADD16 / SSUB16 on those pairs: per row of taps b0 = 2 g0, b1 = g0 + g1 + g2, b2 = g0 - g1 + g2, b3 = 2 g2,
 * then the same down each column. Output layout (what ts_armv7em_wino_gemm reads): for each of the 16
 * positions (row-major 4x4), k4 groups of [c0(i0,i2) c0(i1,i3) c1(i0,i2) c1(i1,i3)].
 *
 * In assembly (GCC's version spilled the 32 values of a group: about 260 instructions per channel and group,
 * here about 155): per group, the three rows of taps (3 loads, 6 SXTB16, 10 SADD16/SSUB16) into b on the stack
 * as [row][column][half]; then per column the three b pairs (LDRD), 10 SADD16/SSUB16, the four positions
 * stored by STRD. Registers: r0 the group's taps, r1 4 k4 (bytes between two taps of a channel), r2 b or a
 * position pointer, r3 the group's words of position (0, column), r4-r12 and lr values. Stack: [sp] b (24
 * words), [sp+96] the group's taps, [sp+100] groups left. */
#include "ts/nn.h"
#include "ts_armv7em.h"

/* One row of taps (r0, r0 + r1, r0 + 2 r1) -> b[row] (8 words at r2, advanced); r0 moves to the next row. */
#define TAP_ROW                                 \
    "ldr r10, [r0]\n\t"                         \
    "ldr r11, [r0, r1]\n\t"                     \
    "ldr r12, [r0, r1, lsl #1]\n\t"             \
    "add r0, r0, r1, lsl #1\n\t"                \
    "add r0, r0, r1\n\t"                        \
    "sxtb16 r4, r10\n\t"                        \
    "sxtb16 r5, r10, ror #8\n\t"                \
    "sxtb16 r6, r11\n\t"                        \
    "sxtb16 r7, r11, ror #8\n\t"                \
    "sxtb16 r8, r12\n\t"                        \
    "sxtb16 r9, r12, ror #8\n\t"                \
    "sadd16 r12, r4, r8\n\t"       /* g0 + g2 */ \
    "sadd16 lr, r5, r9\n\t"                     \
    "sadd16 r10, r8, r8\n\t"       /* b3 */     \
    "sadd16 r11, r9, r9\n\t"                    \
    "sadd16 r4, r4, r4\n\t"        /* b0 */     \
    "sadd16 r5, r5, r5\n\t"                     \
    "ssub16 r8, r12, r6\n\t"       /* b2 */     \
    "ssub16 r9, lr, r7\n\t"                     \
    "sadd16 r6, r12, r6\n\t"       /* b1 */     \
    "sadd16 r7, lr, r7\n\t"                     \
    "stm r2!, {r4-r11}\n\t"

/* Column j of b -> positions (0, j) .. (3, j): r3 at position (0, j), moved to (0, j + 1). */
#define TAP_COL(J)                                      \
    "ldrd r4, r5, [sp, #" #J "*8]\n\t"                 \
    "ldrd r6, r7, [sp, #32+" #J "*8]\n\t"              \
    "ldrd r8, r9, [sp, #64+" #J "*8]\n\t"              \
    "sadd16 r10, r4, r8\n\t"                           \
    "sadd16 r11, r5, r9\n\t"                           \
    "sadd16 r4, r4, r4\n\t"                            \
    "sadd16 r5, r5, r5\n\t"                            \
    "sadd16 r12, r10, r6\n\t"                          \
    "sadd16 lr, r11, r7\n\t"                           \
    "ssub16 r10, r10, r6\n\t"                          \
    "ssub16 r11, r11, r7\n\t"                          \
    "sadd16 r8, r8, r8\n\t"                            \
    "sadd16 r9, r9, r9\n\t"                            \
    "strd r4, r5, [r3]\n\t"                            \
    "add r2, r3, r1, lsl #4\n\t"   /* 4 positions on */ \
    "strd r12, lr, [r2]\n\t"                           \
    "add r2, r2, r1, lsl #4\n\t"                       \
    "strd r10, r11, [r2]\n\t"                          \
    "add r2, r2, r1, lsl #4\n\t"                       \
    "strd r8, r9, [r2]\n\t"                            \
    "add r3, r3, r1, lsl #2\n\t"

/* One channel's k4 groups of taps (9 k4 words, [ky][kx][group]) -> its two words of every position and group
 * at dst (the pair's block, offset by the channel: 2 words). */
__attribute__((naked, noinline)) static void wino_taps(const int32_t *taps, int32_t k4, int32_t *dst)
{
    __asm__ volatile(
        "push {r4-r11, lr}\n\t"
        "sub sp, sp, #104\n\t"
        "str r1, [sp, #100]\n\t"
        "lsl r1, r1, #2\n\t"
        "mov r3, r2\n\t"
        "str r0, [sp, #96]\n\t"
        "1:\n\t"
        "mov r2, sp\n\t"
        TAP_ROW TAP_ROW TAP_ROW
        TAP_COL(0) TAP_COL(1) TAP_COL(2) TAP_COL(3)
        "sub r3, r3, r1, lsl #4\n\t"   /* back to position 0, the next group */
        "add r3, r3, #16\n\t"
        "ldr r0, [sp, #96]\n\t"
        "add r0, r0, #4\n\t"
        "str r0, [sp, #96]\n\t"
        "ldr r4, [sp, #100]\n\t"
        "subs r4, r4, #1\n\t"
        "str r4, [sp, #100]\n\t"
        "bne 1b\n\t"
        "add sp, sp, #104\n\t"
        "pop {r4-r11, pc}\n\t");
}

void ts_armv7em_wino_weights(const int32_t *taps0, const int32_t *taps1, int32_t k4, int32_t *u)
{
    wino_taps(taps0, k4, u);
    wino_taps(taps1, k4, u + 2);
}
