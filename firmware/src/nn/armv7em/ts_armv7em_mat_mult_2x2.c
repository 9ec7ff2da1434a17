/* Support function of the Armv7E-M convolutions (ts_conv_s8, ts_conv_1x1_s8): the output channel pairs of one
 * 2-pixel column with fast requantisation records, in assembly. In C (ts_armv7em_conv_channels) GCC spends about
 * 60 instructions per 2x2 block around the SMLAD bodies (spilled pointers, reloaded records); here a block
 * costs 36, plus 14 per group of 4 k (the int8 weights widened by SXTB16) and 3 per pass of the 16-body loop
 * (`tinyscene bench-kernels`); with at most 16 groups (one pass) the end check goes, with exactly 16 the
 * computed jump too, and there the first body starts the accumulators from the bias pair (2 copies fewer).
 * ts_armv7em_mat_mult_2x2_s16 is the same on the stream widened into RAM (ts_armv7em_widen_stream): 10
 * instructions per group, the doubling folded into its weights.
 *
 * Per channel pair of the stream (armv7em/ts_armv7em.h, TS_ARMV7EM_PAIR_WORDS): the accumulators from the bias pair;
 * the Duff's device of ts_armv7em_mac_2x2 over the n4 groups; the four results doubled and through the two
 * records (ts_armv7em_rq2: SMMLAR, sign fix, shift, SSAT); both channels' bytes of a pixel stored as one halfword.
 * Registers in the SMLAD loop: r0-r3 accumulators, r4-r11 data, r12 column, lr stream; the rest of the
 * state lives on the stack: [sp] column, [sp+4] loop entry, [sp+8] column end, [sp+12] out_a,
 * [sp+16] out_b, [sp+20] stream end. */
#include "ts/nn.h"
#include "ts_armv7em.h"

/* After a pair's SMLAD bodies: records, requantisation, stores. DOUBLE: the doubling of the fast records
 * (int8 weights) or nothing (widened weights carry it). */
#define PAIR_TAIL(DOUBLE) \
    "ldm lr!, {r4-r9}\n\t"         /* M0 R0 E0 M1 R1 E1 */ \
    DOUBLE \
    "smmlar r10, r0, r4, r5\n\t" \
    "smmlar r11, r1, r4, r5\n\t" \
    "add r10, r10, r0, asr #31\n\t" \
    "add r11, r11, r1, asr #31\n\t" \
    "asr r10, r10, r6\n\t" \
    "asr r11, r11, r6\n\t" \
    "ssat r10, #8, r10\n\t" \
    "ssat r11, #8, r11\n\t" \
    "smmlar r4, r2, r7, r8\n\t" \
    "smmlar r5, r3, r7, r8\n\t" \
    "add r4, r4, r2, asr #31\n\t" \
    "add r5, r5, r3, asr #31\n\t" \
    "asr r4, r4, r9\n\t" \
    "asr r5, r5, r9\n\t" \
    "ssat r4, #8, r4\n\t" \
    "ssat r5, #8, r5\n\t" \
    "bfi r10, r4, #8, #8\n\t"      /* pixel A: channel c | channel c + 1 << 8 */ \
    "bfi r11, r5, #8, #8\n\t" \
    "ldrd r4, r5, [sp, #12]\n\t" \
    "strh r10, [r4], #2\n\t" \
    "strh r11, [r5], #2\n\t" \
    "strd r4, r5, [sp, #12]\n\t"

#define DOUBLE_ACC "add r0, r0, r0\n\t" "add r1, r1, r1\n\t" "add r2, r2, r2\n\t" "add r3, r3, r3\n\t"

#define X16(B) B B B B B B B B B B B B B B B B
#define X15(B) B B B B B B B B B B B B B B B

/* The first body with the bias pair in r0 (channel c) and r2 (channel c + 1): pixel B's accumulators start
 * from them before pixel A's move on (no copies). WIDEN: the int8 weights' SXTB16s, or nothing. */
#define BODY_FIRST(WLOAD, WIDEN)                \
    "ldm.w r12!, {r4, r5, r6, r7}\n\t"          \
    WLOAD                                       \
    WIDEN                                       \
    "smlad r1, r8, r6, r0\n\t"                  \
    "smlad r0, r8, r4, r0\n\t"                  \
    "smlad r3, r10, r6, r2\n\t"                 \
    "smlad r2, r10, r4, r2\n\t"                 \
    "smlad r0, r9, r5, r0\n\t"                  \
    "smlad r1, r9, r7, r1\n\t"                  \
    "smlad r2, r11, r5, r2\n\t"                 \
    "smlad r3, r11, r7, r3\n\t"

#define WLOAD_S8 "ldm.w lr!, {r8, r10}\n\t"
#define WIDEN_S8 "sxtb16 r9, r8, ror #8\n\t" "sxtb16 r8, r8\n\t" "sxtb16 r11, r10, ror #8\n\t" "sxtb16 r10, r10\n\t"
#define WLOAD_S16 "ldm.w lr!, {r8, r9, r10, r11}\n\t"

/* STREAM_END: r7 = lr + pairs (r6) x the pair's bytes, from n4 (r1); ENTRY: r8 = ((-n4) & 15) x body bytes;
 * BYTES: the body's bytes as an immediate. */
#define MAT_MULT(NAME, BODY, FIRST, STREAM_END, ENTRY, BYTES, DOUBLE)                                             \
    __attribute__((naked, noinline)) void NAME(const ts_armv7em_mm_t *a)                                         \
    {                                                                                                            \
        __asm__ volatile(                                                                                        \
            "push {r4-r11, lr}\n\t"                                                                              \
            "sub sp, sp, #28\n\t"                                                                                \
            "ldr r1, [r0, #20]\n\t"        /* n4 */                                                              \
            "ldr r2, [r0, #0]\n\t"         /* column */                                                          \
            "ldr lr, [r0, #4]\n\t"         /* stream */                                                          \
            "ldrd r4, r5, [r0, #8]\n\t"    /* out_a, out_b */                                                    \
            "ldr r6, [r0, #16]\n\t"        /* pairs */                                                           \
            "add r3, r2, r1, lsl #4\n\t"   /* column end */                                                      \
            STREAM_END                                                                                           \
            "rsb r8, r1, #0\n\t"                                                                                 \
            "and r8, r8, #15\n\t"                                                                                \
            ENTRY                                                                                                \
            "adr r9, 5f\n\t"                                                                                     \
            "add r9, r9, r8\n\t"                                                                                 \
            "add r9, r9, #" BYTES "\n\t"   /* ... in the one-pass copy, after the first body (done before) */    \
            "str r9, [sp, #24]\n\t"                                                                              \
            "adr r9, 1f\n\t"                                                                                     \
            "add r8, r9, r8\n\t"                                                                                 \
            "str r2, [sp]\n\t"                                                                                   \
            "str r8, [sp, #4]\n\t"                                                                               \
            "str r3, [sp, #8]\n\t"                                                                               \
            "strd r4, r5, [sp, #12]\n\t"                                                                         \
            "str r7, [sp, #20]\n\t"                                                                              \
            "cmp r1, #16\n\t"                                                                                    \
            "beq 6f\n\t"                 /* exactly 16 groups: one pass, no jump */                              \
            "blt 4f\n\t"                 /* fewer: one pass from the entry, no end check */                      \
            "2:\n\t"                                                                                             \
            "ldrd r0, r2, [lr], #8\n\t"    /* bias pair */                                                       \
            "mov r1, r0\n\t"                                                                                     \
            "mov r3, r2\n\t"                                                                                     \
            "ldr r12, [sp]\n\t"                                                                                  \
            "ldr r4, [sp, #4]\n\t"                                                                               \
            "mov pc, r4\n\t"                                                                                     \
            ".p2align 2\n"                                                                                       \
            "1:\n\t"                                                                                             \
            X16(BODY)                                                                                            \
            "ldr r4, [sp, #8]\n\t"                                                                               \
            "cmp r12, r4\n\t"                                                                                    \
            "bne 1b\n\t"                                                                                         \
            PAIR_TAIL(DOUBLE)                                                                                    \
            "ldr r4, [sp, #20]\n\t"                                                                              \
            "cmp lr, r4\n\t"                                                                                     \
            "bne 2b\n\t"                                                                                         \
            "b 9f\n\t"                                                                                           \
            "4:\n\t"                      /* ---- n4 < 16 */                                                     \
            "ldrd r0, r2, [lr], #8\n\t"                                                                          \
            "ldr r12, [sp]\n\t"                                                                                  \
            FIRST                                                                                                \
            "ldr r4, [sp, #24]\n\t"                                                                              \
            "mov pc, r4\n\t"                                                                                     \
            ".p2align 2\n"                                                                                       \
            "5:\n\t"                                                                                             \
            X16(BODY)                                                                                            \
            PAIR_TAIL(DOUBLE)                                                                                    \
            "ldr r4, [sp, #20]\n\t"                                                                              \
            "cmp lr, r4\n\t"                                                                                     \
            "bne 4b\n\t"                                                                                         \
            "b 9f\n\t"                                                                                           \
            "6:\n\t"                      /* ---- n4 == 16 */                                                    \
            "ldrd r0, r2, [lr], #8\n\t"                                                                          \
            "ldr r12, [sp]\n\t"                                                                                  \
            FIRST                                                                                                \
            X15(BODY)                                                                                            \
            PAIR_TAIL(DOUBLE)                                                                                    \
            "ldr r4, [sp, #20]\n\t"                                                                              \
            "cmp lr, r4\n\t"                                                                                     \
            "bne 6b\n\t"                                                                                         \
            "9:\n\t"                                                                                             \
            "add sp, sp, #28\n\t"                                                                                \
            "pop {r4-r11, pc}\n\t");                                                                             \
    }

/* int8 weights: pairs x (8 + 2 n4) words; bodies of 56 bytes; the accumulators doubled at the records */
MAT_MULT(ts_armv7em_mat_mult_2x2, TS_ARMV7EM_BODY_2X2_REGS, BODY_FIRST(WLOAD_S8, WIDEN_S8),
         "add r7, r1, #4\n\t" "mul r7, r7, r6\n\t" "add r7, lr, r7, lsl #3\n\t",
         "rsb r8, r8, r8, lsl #3\n\t" "lsl r8, r8, #3\n\t", "56", DOUBLE_ACC)

/* widened int16 weights: pairs x (8 + 4 n4) words; bodies of 40 bytes; the doubling in the weights */
MAT_MULT(ts_armv7em_mat_mult_2x2_s16, TS_ARMV7EM_BODY_2X2_S16_REGS, BODY_FIRST(WLOAD_S16, ""),
         "add r7, r1, #2\n\t" "mul r7, r7, r6\n\t" "add r7, lr, r7, lsl #4\n\t",
         "add r8, r8, r8, lsl #2\n\t" "lsl r8, r8, #3\n\t", "40", "")
