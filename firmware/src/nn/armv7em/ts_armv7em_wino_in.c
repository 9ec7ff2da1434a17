/* Support function of ts_conv_wino_s8 (Armv7E-M): the input transform V = B^T d B of one tile that lies inside
 * the input, for all k4 groups of 4 channels, in assembly (GCC's version spills the 32 values of a group and
 * takes about 2.5x the instructions).
 *
 * Per group: each of the 4 patch rows (4 pixels, px bytes apart) loaded, widened (SXTB16 and SXTB16 ROR 8:
 * planes (c0, c2) and (c1, c3)) and transformed horizontally (SSUB16/SADD16: x0 - x2, x1 + x2, x2 - x1,
 * x1 - x3) into u, kept on the stack as [row][column][plane]; then for each position (i, j) V = u[r1][j] -+
 * u[r2][j] (B^T's row i) stored as the lane's two words of column (i, j): col + (4 i + j) stride + 16 g.
 * About 50 instructions per group and row of the patch. Stack: [sp] u (16 x 2 words), then the argument
 * block's copy. */
#include "ts/nn.h"
#include "ts_armv7em.h"

/* One patch row: r0 = the row's first pixel; u[row] = 8 words at r3 (advanced). */
#define WINO_ROW                                        \
    "ldr r4, [r0]\n\t"                                  \
    "ldr r6, [r0, r1]\n\t"                              \
    "add r12, r0, r1, lsl #1\n\t"                       \
    "ldr r8, [r12]\n\t"                                 \
    "ldr r10, [r12, r1]\n\t"                            \
    "add r0, r0, r2\n\t"                                \
    "sxtb16 r5, r4, ror #8\n\t"                         \
    "sxtb16 r4, r4\n\t"                                 \
    "sxtb16 r7, r6, ror #8\n\t"                         \
    "sxtb16 r6, r6\n\t"                                 \
    "sxtb16 r9, r8, ror #8\n\t"                         \
    "sxtb16 r8, r8\n\t"                                 \
    "sxtb16 r11, r10, ror #8\n\t"                       \
    "sxtb16 r10, r10\n\t"                               \
    "ssub16 r4, r4, r8\n\t"                             \
    "ssub16 r10, r6, r10\n\t"                           \
    "sadd16 r12, r6, r8\n\t"                            \
    "ssub16 r8, r8, r6\n\t"                             \
    "mov r6, r12\n\t"                                   \
    "ssub16 r5, r5, r9\n\t"                             \
    "ssub16 r11, r7, r11\n\t"                           \
    "sadd16 r12, r7, r9\n\t"                            \
    "ssub16 r9, r9, r7\n\t"                             \
    "mov r7, r12\n\t"                                   \
    "stm r3!, {r4-r11}\n\t"

/* Position (i, j): V = u[a][j] OP u[b][j] (both planes) -> [col], col += stride (r1). */
#define WINO_POS(OP, a, b, j)                                          \
    "ldrd r4, r5, [sp, #" #a "*32+" #j "*8]\n\t"                     \
    "ldrd r6, r7, [sp, #" #b "*32+" #j "*8]\n\t"                     \
    OP " r4, r4, r6\n\t"                                               \
    OP " r5, r5, r7\n\t"                                               \
    "strd r4, r5, [r2]\n\t"                                            \
    "add r2, r2, r1\n\t"

#define WINO_BROW(OP, a, b) WINO_POS(OP, a, b, 0) WINO_POS(OP, a, b, 1) WINO_POS(OP, a, b, 2) WINO_POS(OP, a, b, 3)

__attribute__((naked, noinline)) void ts_armv7em_wino_in(const ts_armv7em_wino_in_t *a)
{
    /* a: 0 top-left pixel of the patch (channel 0), 4 px (bytes per pixel), 8 line (bytes per row),
     * 12 col (lane word of position 0, group 0), 16 stride (bytes between positions), 20 k4 */
    __asm__ volatile(
        "push {r4-r11, lr}\n\t"
        "sub sp, sp, #152\n\t"          /* [sp] u: 128 bytes; [sp+128] pixel, col, groups left, a */
        "str r0, [sp, #140]\n\t"
        "ldr r1, [r0, #0]\n\t"
        "str r1, [sp, #128]\n\t"
        "ldr r1, [r0, #12]\n\t"
        "str r1, [sp, #132]\n\t"
        "ldr r1, [r0, #20]\n\t"
        "str r1, [sp, #136]\n\t"
        "3:\n\t"
        "ldr lr, [sp, #140]\n\t"
        "ldr r0, [sp, #128]\n\t"        /* this group's first pixel */
        "ldr r1, [lr, #4]\n\t"          /* px */
        "ldr r2, [lr, #8]\n\t"          /* line */
        "mov r3, sp\n\t"
        WINO_ROW WINO_ROW WINO_ROW WINO_ROW
        "ldr r2, [sp, #132]\n\t"        /* col */
        "ldr r1, [lr, #16]\n\t"         /* stride */
        WINO_BROW("ssub16", 0, 2)
        WINO_BROW("sadd16", 1, 2)
        WINO_BROW("ssub16", 2, 1)
        WINO_BROW("ssub16", 1, 3)
        "ldr r0, [sp, #128]\n\t"
        "add r0, r0, #4\n\t"
        "str r0, [sp, #128]\n\t"
        "ldr r0, [sp, #132]\n\t"
        "add r0, r0, #16\n\t"
        "str r0, [sp, #132]\n\t"
        "ldr r0, [sp, #136]\n\t"
        "subs r0, r0, #1\n\t"
        "str r0, [sp, #136]\n\t"
        "bne 3b\n\t"
        "add sp, sp, #152\n\t"
        "pop {r4-r11, pc}\n\t");
}
