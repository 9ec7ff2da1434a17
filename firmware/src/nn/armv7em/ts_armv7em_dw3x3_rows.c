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
#include "ts_armv7em.h"

__attribute__((naked, noinline)) void ts_armv7em_dw3x3_rows(const ts_armv7em_dw_t *a)
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

/* One filter row of a quad (outputs x..x+3 into r0-r3) from the row at ROW (advanced by 4 outputs) with the
 * weights at WOFF in the stream: (p0,p1) (p2,p3) by LDRD, (p1,p2) (p3,p4) unaligned, (p4,p5). */
#define DW_QUAD_ROW(ROW, WOFF)                   \
    "ldrd r8, r9, [lr, #" WOFF "]\n\t"           \
    "ldrd r10, r11, [" ROW "]\n\t"               \
    "smlad r0, r10, r8, r0\n\t"                  \
    "smlabb r0, r11, r9, r0\n\t"                 \
    "smlatb r1, r11, r9, r1\n\t"                 \
    "smlad r2, r11, r8, r2\n\t"                  \
    "ldr r10, [" ROW ", #2]\n\t"                 \
    "smlad r1, r10, r8, r1\n\t"                  \
    "ldr r10, [" ROW ", #6]\n\t"                 \
    "smlad r3, r10, r8, r3\n\t"                  \
    "ldr r11, [" ROW ", #8]!\n\t"                \
    "smlabb r2, r11, r9, r2\n\t"                 \
    "smlatb r3, r11, r9, r3\n\t"

/* The first filter row of a quad, the bias (loaded into r1) starting all four accumulators. */
#define DW_QUAD_ROW0(ROW)                        \
    "ldrd r8, r9, [lr, #4]\n\t"                 \
    "ldr r1, [lr]\n\t"                          \
    "ldrd r10, r11, [" ROW "]\n\t"              \
    "smlad r0, r10, r8, r1\n\t"                 \
    "smlad r2, r11, r8, r1\n\t"                 \
    "smlabb r0, r11, r9, r0\n\t"                \
    "ldr r10, [" ROW ", #6]\n\t"                \
    "smlad r3, r10, r8, r1\n\t"                 \
    "smlatb r1, r11, r9, r1\n\t"                \
    "ldr r10, [" ROW ", #2]\n\t"                \
    "smlad r1, r10, r8, r1\n\t"                 \
    "ldr r11, [" ROW ", #8]!\n\t"               \
    "smlabb r2, r11, r9, r2\n\t"                \
    "smlatb r3, r11, r9, r3\n\t"

/* One filter row of a pair (outputs x, x+1 into r0, r1), the row advanced by 2 outputs. */
#define DW_PAIR_ROW(ROW, WOFF)                   \
    "ldrd r8, r9, [lr, #" WOFF "]\n\t"           \
    "ldr r10, [" ROW "]\n\t"                     \
    "smlad r0, r10, r8, r0\n\t"                  \
    "ldr r10, [" ROW ", #2]\n\t"                 \
    "smlad r1, r10, r8, r1\n\t"                  \
    "ldr r10, [" ROW ", #4]!\n\t"                \
    "smlabb r0, r10, r9, r0\n\t"                 \
    "smlatb r1, r10, r9, r1\n\t"

/* One filter row of a single output (r0). */
#define DW_ONE_ROW(ROW, WOFF)                    \
    "ldrd r8, r9, [lr, #" WOFF "]\n\t"           \
    "ldr r10, [" ROW "]\n\t"                     \
    "smlad r0, r10, r8, r0\n\t"                  \
    "ldr r10, [" ROW ", #4]\n\t"                 \
    "smlabb r0, r10, r9, r0\n\t"

/* Requantise accumulator ACC (record in r8 r9 r10) in place; r11 scratch. */
#define DW_RQ(ACC)                                \
    "smmlar r11, " ACC ", r8, r9\n\t"             \
    "add " ACC ", r11, " ACC ", asr #31\n\t"      \
    "asr " ACC ", " ACC ", r10\n\t"               \
    "ssat " ACC ", #8, " ACC "\n\t"

/* Four outputs of the quad loop: r4-r6 advance by 8 bytes, r7 by 4 outputs. */
#define DW_QUAD                                  \
    DW_QUAD_ROW0("r4")                           \
    DW_QUAD_ROW("r5", "12")                      \
    DW_QUAD_ROW("r6", "20")                      \
    "ldrd r8, r9, [lr, #28]\n\t"                \
    "ldr r10, [lr, #36]\n\t"                    \
    DW_RQ("r0")                                  \
    "strb r0, [r7]\n\t"                         \
    DW_RQ("r1")                                  \
    "strb r1, [r7, r12]\n\t"                    \
    "add r7, r7, r12, lsl #1\n\t"               \
    DW_RQ("r2")                                  \
    "strb r2, [r7]\n\t"                         \
    DW_RQ("r3")                                  \
    "strb r3, [r7, r12]\n\t"                    \
    "add r7, r7, r12, lsl #1\n\t"

/* As ts_armv7em_dw3x3_rows, but one output row of every channel per call (the channels inner: the three rows of
 * a channel sit at fixed distances from its plane in the first row), four outputs per step: per filter row
 * 4 loads and 8 multiply-accumulates (SMLAD x4, SMLABB / SMLATB x4) for 12 multiply-accumulates, the bias
 * starting the accumulators, the weights reloaded per row (every register holds accumulators, rows or
 * data): about 16.5 instructions per output instead of 21 (two quads per loop pass). The rows must be
 * word-aligned at the first output (even plane offset); the last 1-3 outputs go by pair and single.
 * Registers: r0-r3 accumulators, r4-r6 the three rows, r7 output, r8 r9 weights / record, r10 r11 data,
 * r12 C, lr the stream. Stack: [sp] quad loop end, [sp+4] d1, [sp+8] d2, [sp+12] the next channel's first
 * row, [sp+16] its output, [sp+20] channels left, [sp+24] ow, [sp+28] plane stride, [sp+32] quad span,
 * [sp+36] the entry of the two-quad loop (at its second quad for an odd count). */
__attribute__((naked, noinline)) void ts_armv7em_dw3x3_chans4(const ts_armv7em_dw_row_t *a)
{
    __asm__ volatile(
        "push {r4-r11, lr}\n\t"
        "sub sp, sp, #40\n\t"
        "ldr r1, [r0, #0]\n\t"         /* row0 */
        "str r1, [sp, #12]\n\t"
        "ldrd r1, r2, [r0, #4]\n\t"    /* d1, d2 */
        "strd r1, r2, [sp, #4]\n\t"
        "ldr lr, [r0, #12]\n\t"        /* stream */
        "ldr r1, [r0, #16]\n\t"        /* out */
        "str r1, [sp, #16]\n\t"
        "ldr r12, [r0, #20]\n\t"       /* C */
        "ldr r1, [r0, #24]\n\t"        /* ow */
        "str r1, [sp, #24]\n\t"
        "bic r1, r1, #3\n\t"
        "lsl r1, r1, #1\n\t"
        "str r1, [sp, #32]\n\t"        /* quad span (bytes) */
        "tst r1, #8\n\t"
        "ite eq\n\t"
        "adreq r2, 1f\n\t"
        "adrne r2, 2f\n\t"
        "orr r2, r2, #1\n\t"         /* Thumb */
        "str r2, [sp, #36]\n\t"        /* the quad loop's entry */
        "ldr r1, [r0, #28]\n\t"        /* plane stride (bytes) */
        "str r1, [sp, #28]\n\t"
        "ldr r1, [r0, #32]\n\t"        /* channels */
        "str r1, [sp, #20]\n\t"
        "3:\n\t"                       /* ---- next channel */
        "ldr r4, [sp, #12]\n\t"
        "ldrd r5, r6, [sp, #4]\n\t"
        "add r5, r5, r4\n\t"
        "add r6, r6, r4\n\t"
        "ldrd r1, r2, [sp, #28]\n\t"
        "add r1, r4, r1\n\t"
        "str r1, [sp, #12]\n\t"
        "add r2, r4, r2\n\t"
        "str r2, [sp]\n\t"
        "ldr r7, [sp, #16]\n\t"
        "add r1, r7, #1\n\t"
        "str r1, [sp, #16]\n\t"
        "cmp r4, r2\n\t"
        "beq 4f\n\t"
        "ldr pc, [sp, #36]\n\t"       /* into the loop of two quads: at the second for an odd count */
        ".p2align 2\n"
        "1:\n\t"                       /* ---- four outputs, twice */
        DW_QUAD
        "2:\n\t"
        DW_QUAD
        "ldr r11, [sp]\n\t"
        "cmp r4, r11\n\t"
        "bne 1b\n\t"
        "4:\n\t"                       /* ---- 1-3 outputs left */
        "ldr r1, [sp, #24]\n\t"
        "tst r1, #2\n\t"
        "beq 6f\n\t"
        "ldr r0, [lr]\n\t"
        "mov r1, r0\n\t"
        DW_PAIR_ROW("r4", "4")
        DW_PAIR_ROW("r5", "12")
        DW_PAIR_ROW("r6", "20")
        "ldrd r8, r9, [lr, #28]\n\t"
        "ldr r10, [lr, #36]\n\t"
        DW_RQ("r0")
        "strb r0, [r7]\n\t"
        DW_RQ("r1")
        "strb r1, [r7, r12]\n\t"
        "add r7, r7, r12, lsl #1\n\t"
        "6:\n\t"
        "ldr r1, [sp, #24]\n\t"
        "tst r1, #1\n\t"
        "beq 5f\n\t"
        "ldr r0, [lr]\n\t"
        DW_ONE_ROW("r4", "4")
        DW_ONE_ROW("r5", "12")
        DW_ONE_ROW("r6", "20")
        "ldrd r8, r9, [lr, #28]\n\t"
        "ldr r10, [lr, #36]\n\t"
        DW_RQ("r0")
        "strb r0, [r7]\n\t"
        "5:\n\t"
        "add lr, lr, #40\n\t"          /* the next channel's stream words */
        "ldr r1, [sp, #20]\n\t"
        "subs r1, r1, #1\n\t"
        "str r1, [sp, #20]\n\t"
        "bne 3b\n\t"
        "add sp, sp, #40\n\t"
        "pop {r4-r11, pc}\n\t");
}
