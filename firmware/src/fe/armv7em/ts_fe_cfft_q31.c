/* Window and complex FFT, Armv7E-M (same integers as the portable ts_fe_cfft_q31; see it and fe.h for
 * the arithmetic and the bounds).
 *
 * First stage (42 instructions per radix-4 butterfly, 50 with a frame shift k > 0): the bit-reversed
 * index from RBIT of a counter pre-shifted by 32 - log2(M) + 2, the four complex inputs as packed int16
 * pairs (LDR), the window by SMULWB / SMULWT on the packed halves, the butterfly with in-place add /
 * subtract pairs (a + b, then (a + b) - 2b), the eight outputs with one STM.
 * Radix-4 stages (42 per butterfly): four row pointers post-incremented, three Q30 twiddles per butterfly
 * loaded next to their use, each complex product SMMULR + SMMLAR / SMMLSR (the portable rnd(.) terms),
 * x0 / 4 folded into the adds as an ASR #2 operand. Registers are the limit (13 free on the core): the
 * loop end lives on the stack. The radix-2 stage (only for odd log2(M)) is the portable C's. */
#include "ts/fe.h"
#include "../ts_fe_internal.h"

#if !defined(__ARM_FEATURE_DSP)
#error "firmware/src/fe/armv7em needs the DSP extension (Armv7E-M): build the portable stages instead"
#endif

typedef struct {
    const int16_t *x;     /* [0] frame */
    const int32_t *w;     /* [4] window, read order */
    int32_t *out;         /* [8] buf */
    int32_t m_bytes;      /* [12] M (complex points) = byte offset of input 2 */
    uint32_t q_inc;       /* [16] 1 << (34 - log2 M): the counter's step */
    int32_t *end;         /* [20] out + 2 M words */
    int32_t k;            /* [24] frame shift */
} first_args_t;

/* Window products of one butterfly into r4..r11 (u0 = r4, r5 .. u3 = r11 re, r10 im). */
#define FIRST_LOADS                                                                            \
    "ldr lr, [sp, #4]\n\t"                                                                     \
    "rbit r11, r1\n\t"             /* bit reversal of 4q */                                    \
    "add r1, r1, lr\n\t"                                                                       \
    "ldr r10, [sp, #0]\n\t"        /* M */                                                     \
    "add r11, r0, r11, lsl #2\n\t" /* &x[2r] */                                                \
    "ldr r4, [r11]\n\t"            /* input 0: complex r */                                    \
    "ldr r6, [r11, r10, lsl #1]\n\t" /* input 1: r + M/2 */                                    \
    "ldr r8, [r11, r10]\n\t"       /* input 2: r + M/4 */                                      \
    "add r11, r11, r10, lsl #1\n\t"                                                            \
    "ldr r11, [r11, r10]\n\t"      /* input 3: r + 3M/4 */                                     \
    "ldrd r7, r5, [r2], #8\n\t"                                                                \
    "smulwt r5, r5, r4\n\t"        /* u0: x w 2^(28-16), odd sample (top half) */              \
    "smulwb r4, r7, r4\n\t"        /* even sample (bottom half) */                             \
    "ldrd r9, r7, [r2], #8\n\t"                                                                \
    "smulwt r7, r7, r6\n\t"                                                                    \
    "smulwb r6, r9, r6\n\t"                                                                    \
    "ldrd r10, r9, [r2], #8\n\t"                                                               \
    "smulwt r9, r9, r8\n\t"                                                                    \
    "smulwb r8, r10, r8\n\t"                                                                   \
    "ldrd lr, r10, [r2], #8\n\t"                                                               \
    "smulwt r10, r10, r11\n\t"                                                                 \
    "smulwb r11, lr, r11\n\t"

#define FIRST_SHIFT                                                                            \
    "lsl r4, r4, r12\n\t" "lsl r5, r5, r12\n\t" "lsl r6, r6, r12\n\t" "lsl r7, r7, r12\n\t"    \
    "lsl r8, r8, r12\n\t" "lsl r9, r9, r12\n\t" "lsl r10, r10, r12\n\t" "lsl r11, r11, r12\n\t"

/* a = u0 + u1, b = u0 - u1, c = u2 + u3, d = u2 - u3; y0 = a + c, y2 = a - c, y1 = b - jd, y3 = b + jd:
 * y0 r4 r5, y1 r6 r7, y2 r8 r9, y3 r10 r11 (the order STM writes). */
#define FIRST_BUTTERFLY                                                                        \
    "add r4, r4, r6\n\t" "sub r6, r4, r6, lsl #1\n\t"                                          \
    "add r5, r5, r7\n\t" "sub r7, r5, r7, lsl #1\n\t"                                          \
    "add r8, r8, r11\n\t" "sub r11, r8, r11, lsl #1\n\t" /* dr in r11 */                       \
    "add r9, r9, r10\n\t" "sub r10, r9, r10, lsl #1\n\t" /* di in r10 */                       \
    "add r4, r4, r8\n\t" "sub r8, r4, r8, lsl #1\n\t"                                          \
    "add r5, r5, r9\n\t" "sub r9, r5, r9, lsl #1\n\t"                                          \
    "add r6, r6, r10\n\t" "sub r10, r6, r10, lsl #1\n\t"                                       \
    "sub r7, r7, r11\n\t" "add r11, r7, r11, lsl #1\n\t"                                       \
    "stmia r3!, {r4-r11}\n\t"                                                                  \
    "ldr lr, [sp, #8]\n\t"                                                                     \
    "cmp r3, lr\n\t"

#define FIRST_PROLOGUE                                                                         \
    "push {r4-r11, lr}\n\t"                                                                    \
    "sub sp, sp, #12\n\t"                                                                      \
    "ldr r1, [r0, #12]\n\t" "str r1, [sp, #0]\n\t"                                             \
    "ldr r1, [r0, #16]\n\t" "str r1, [sp, #4]\n\t"                                             \
    "ldr r1, [r0, #20]\n\t" "str r1, [sp, #8]\n\t"                                             \
    "ldr r12, [r0, #24]\n\t"                                                                   \
    "ldr r2, [r0, #4]\n\t"                                                                     \
    "ldr r3, [r0, #8]\n\t"                                                                     \
    "ldr r0, [r0, #0]\n\t"                                                                     \
    "mov r1, #0\n\t"

#define EPILOGUE "add sp, sp, #12\n\t" "pop {r4-r11, pc}\n\t"

__attribute__((naked, noinline)) static void first_stage(const first_args_t *a)
{
    __asm__ volatile(FIRST_PROLOGUE
                     "1:\n\t" FIRST_LOADS FIRST_BUTTERFLY "bne 1b\n\t" EPILOGUE);
}

__attribute__((naked, noinline)) static void first_stage_shift(const first_args_t *a)
{
    __asm__ volatile(FIRST_PROLOGUE
                     "1:\n\t" FIRST_LOADS FIRST_SHIFT FIRST_BUTTERFLY "bne 1b\n\t" EPILOGUE);
}

typedef struct {
    int32_t *p0;          /* [0] first block, row 0 */
    int32_t h_bytes;      /* [4] H = 8 (L/4): the distance of the rows */
    const int32_t *tw;    /* [8] the stage's twiddles */
    int32_t blocks;       /* [12] M / L */
} stage_args_t;

/* One radix-4 stage: r0..r3 the rows x0..x3, r4 the twiddles, r5..r12 and lr the values.
 * Stack: [sp] end of the block's row 0, [sp+4] H, [sp+8] the stage's twiddles, [sp+12] blocks left. */
__attribute__((naked, noinline)) static void radix4_stage(const stage_args_t *a)
{
    __asm__ volatile(
        "push {r4-r11, lr}\n\t"
        "sub sp, sp, #16\n\t"
        "ldr r1, [r0, #4]\n\t" "str r1, [sp, #4]\n\t"
        "ldr r2, [r0, #8]\n\t" "str r2, [sp, #8]\n\t"
        "ldr r3, [r0, #12]\n\t" "str r3, [sp, #12]\n\t"
        "ldr r0, [r0, #0]\n\t"
        "2:\n\t" /* a block: rows at r0 + p H */
        "ldr lr, [sp, #4]\n\t"
        "add r1, r0, lr\n\t"
        "add r2, r1, lr\n\t"
        "add r3, r2, lr\n\t"
        "str r1, [sp, #0]\n\t" /* row 0 ends where row 1 starts */
        "ldr r4, [sp, #8]\n\t"
        "1:\n\t"
        /* u3 = x3 W^3i -> r9, r10 */
        "ldrd r5, r6, [r3]\n\t"
        "ldrd r7, r8, [r4, #16]\n\t"
        "smmulr r9, r5, r7\n\t"
        "smmulr r10, r6, r7\n\t"
        "smmlar r9, r6, r8, r9\n\t"
        "smmlsr r10, r5, r8, r10\n\t"
        /* u2 = x2 W^i -> r11, r12 */
        "ldrd r5, r6, [r2]\n\t"
        "ldrd r7, r8, [r4, #8]\n\t"
        "smmulr r11, r5, r7\n\t"
        "smmulr r12, r6, r7\n\t"
        "smmlar r11, r6, r8, r11\n\t"
        "smmlsr r12, r5, r8, r12\n\t"
        /* c = u2 + u3 (r11, r12), d = u2 - u3 (r9, r10) */
        "add r11, r11, r9\n\t" "sub r9, r11, r9, lsl #1\n\t"
        "add r12, r12, r10\n\t" "sub r10, r12, r10, lsl #1\n\t"
        /* u1 = x1 W^2i -> lr, r7 */
        "ldrd r5, r6, [r1]\n\t"
        "ldrd r7, r8, [r4], #24\n\t"
        "smmulr lr, r5, r7\n\t"
        "smmulr r7, r6, r7\n\t"
        "smmlar lr, r6, r8, lr\n\t"
        "smmlsr r7, r5, r8, r7\n\t"
        /* a = x0/4 + u1 (lr, r7), b = x0/4 - u1 (r8, r5) */
        "ldrd r5, r6, [r0]\n\t"
        "rsb r8, lr, r5, asr #2\n\t"
        "add lr, lr, r5, asr #2\n\t"
        "rsb r5, r7, r6, asr #2\n\t"
        "add r7, r7, r6, asr #2\n\t"
        /* y0 = a + c -> row 0, y2 = a - c -> row 2 */
        "add lr, lr, r11\n\t" "sub r11, lr, r11, lsl #1\n\t"
        "add r7, r7, r12\n\t" "sub r12, r7, r12, lsl #1\n\t"
        "strd lr, r7, [r0], #8\n\t"
        "strd r11, r12, [r2], #8\n\t"
        /* y1 = b - jd -> row 1, y3 = b + jd -> row 3 */
        "add r8, r8, r10\n\t" "sub r10, r8, r10, lsl #1\n\t"
        "sub r5, r5, r9\n\t" "add r9, r5, r9, lsl #1\n\t"
        "strd r8, r5, [r1], #8\n\t"
        "strd r10, r9, [r3], #8\n\t"
        "ldr lr, [sp, #0]\n\t"
        "cmp r0, lr\n\t"
        "bne 1b\n\t"
        /* next block: row 0 of the next block follows row 3 of this one */
        "mov r0, r3\n\t"
        "ldr lr, [sp, #12]\n\t"
        "subs lr, lr, #1\n\t"
        "str lr, [sp, #12]\n\t"
        "bne 2b\n\t"
        "add sp, sp, #16\n\t"
        "pop {r4-r11, pc}\n\t");
}

void ts_fe_cfft_q31(const int16_t *x, const int32_t *window, const int32_t *twiddle, int32_t n_fft, int32_t k,
                    int32_t *buf)
{
    const int32_t m = n_fft >> 1, lg = ts_fe_log2((uint32_t)m);
    const first_args_t fa = {x, window, buf, m, 1u << (34 - lg), buf + 2 * m, k};
    (k ? first_stage_shift : first_stage)(&fa);
    const int32_t *tw = twiddle;
    int32_t len = 16;
    for (; len <= m; len <<= 2) {
        const stage_args_t sa = {buf, 2 * len, tw, m / len};
        radix4_stage(&sa);
        tw += 6 * (len >> 2);
    }
    if (lg & 1) ts_fe_radix2_stage(buf, m, tw);
}
