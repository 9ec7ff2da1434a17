/* Support function of ts_conv_wino_s8 (Armv7E-M): the output transform of one output channel pair and two full
 * tiles, in assembly (GCC's version spills and takes about 1.6x the instructions).
 *
 * For each of the 4 (channel, tile) products m (16 values, stride 4 words): the columns' sums a_k = m0k + m1k
 * + m2k and b_k = m1k - m2k - m3k, with the bias x 4 added to m11 (which enters each result once); the four
 * results (a0 + a1 + a2, a1 - a2 - a3, b0 + b1 + b2, b1 - b2 - b3) halved, i.e. 2 x the convolution's sums +
 * bias x 2; requantised by the channel's fast record (SMMLAR, sign fix, shift, SSAT) and stored into the 2x2
 * outputs. Registers: r0 products, lr records, r1-r3 r8-r12 the sums, r4-r7 scratch; [sp] the arguments. */
#include "ts/nn.h"
#include "ts_armv7em.h"

#define M(r, k, j) "#" #r "*64+" #k "*16+" #j "*4"

/* columns k of product j into a_k (A) and b_k (B); K1 adds 2 x bias2 (channel ch) to m11 */
#define COLUMN(j, k, A, B, BIAS)                 \
    "ldr r4, [r0, " M(0, k, j) "]\n\t"           \
    "ldr r5, [r0, " M(1, k, j) "]\n\t"           \
    "ldr r6, [r0, " M(2, k, j) "]\n\t"           \
    BIAS                                         \
    "ldr r7, [r0, " M(3, k, j) "]\n\t"           \
    "add " A ", r4, r5\n\t"                      \
    "add " A ", " A ", r6\n\t"                   \
    "sub " B ", r5, r6\n\t"                      \
    "sub " B ", " B ", r7\n\t"

#define BIAS_M11(ch) "ldr r7, [lr, #" #ch "*16]\n\t" "add r5, r5, r7, lsl #1\n\t"

#define RQ(dst, y)                               \
    "smmlar " dst ", " y ", r1, r2\n\t"          \
    "add " dst ", " dst ", " y ", asr #31\n\t"   \
    "asr " dst ", " dst ", r3\n\t"               \
    "ssat " dst ", #8, " dst "\n\t"

/* product j = 2 ch + tile; OUT: the tile's output pointer offset in the arguments (8: A, 12: B) */
#define COMBO(j, ch, OUT)                                                      \
    COLUMN(j, 0, "r1", "r9", "")                                               \
    COLUMN(j, 1, "r2", "r10", BIAS_M11(ch))                                    \
    COLUMN(j, 2, "r3", "r11", "")                                              \
    COLUMN(j, 3, "r8", "r12", "")                                              \
    "add r4, r1, r2\n\t" "add r4, r4, r3\n\t" "asr r4, r4, #1\n\t"             \
    "sub r5, r2, r3\n\t" "sub r5, r5, r8\n\t" "asr r5, r5, #1\n\t"             \
    "add r6, r9, r10\n\t" "add r6, r6, r11\n\t" "asr r6, r6, #1\n\t"           \
    "sub r7, r10, r11\n\t" "sub r7, r7, r12\n\t" "asr r7, r7, #1\n\t"          \
    "ldrd r1, r2, [lr, #" #ch "*16+4]\n\t"                                     \
    "ldr r3, [lr, #" #ch "*16+12]\n\t"                                         \
    RQ("r8", "r4") RQ("r9", "r5") RQ("r10", "r6") RQ("r11", "r7")              \
    "ldr r6, [sp]\n\t"                                                         \
    "ldr r12, [r6, #" #OUT "]\n\t"                                             \
    "ldr r4, [r6, #16]\n\t"                                                    \
    "ldr r5, [r6, #20]\n\t"                                                    \
    "strb r8, [r12, #" #ch "]\n\t"                                             \
    "add r6, r12, r4\n\t"                                                      \
    "strb r9, [r6, #" #ch "]\n\t"                                              \
    "add r6, r12, r5\n\t"                                                      \
    "strb r10, [r6, #" #ch "]\n\t"                                             \
    "add r6, r6, r4\n\t"                                                       \
    "strb r11, [r6, #" #ch "]\n\t"

__attribute__((naked, noinline)) void ts_armv7em_wino_out(const ts_armv7em_wino_out_t *a)
{
    __asm__ volatile(
        "push {r4-r11, lr}\n\t"
        "sub sp, sp, #4\n\t"
        "str r0, [sp]\n\t"
        "ldr lr, [r0, #4]\n\t"   /* the pair's records: bias2 M R E, bias2 M R E */
        "ldr r0, [r0, #0]\n\t"   /* products */
        COMBO(0, 0, 8) COMBO(1, 0, 12) COMBO(2, 1, 8) COMBO(3, 1, 12)
        "add sp, sp, #4\n\t"
        "pop {r4-r11, pc}\n\t");
}
