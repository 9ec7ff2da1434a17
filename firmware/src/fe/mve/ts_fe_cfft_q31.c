/* Window and complex FFT, Helium (same integers as the portable ts_fe_cfft_q31; see it and fe.h for the
 * arithmetic and the bounds). Vectors hold two complex values (re, im, re, im): two butterflies at a time.
 * The hot loops are assembly (GCC's allocation of the eight Q registers spilled and added address
 * arithmetic: about 1.5x the instructions).
 *
 * First stage: the samples of inputs r + offs[p] of butterflies q and q + 1 (q even: r(q + 1) = r(q) +
 * M/8) by one halfword gather per input (RBIT of a counter gives 2 r(q)), the window by gathers from a
 * vector of addresses (writeback moves it on), x w / 2^16 as VMULH of x 2^16, the outputs by scatters
 * through a vector of addresses (the two butterflies' outputs are 4 complex apart).
 * Radix-4 stages: a complex product is VRMULH by (c, c) and by (s, s) and VCADD #270 (re + the other's im,
 * im - the other's re: rnd(xr c) + rnd(xi s), rnd(xi c) - rnd(xr s)); -j d and +j d are VCADD #270 / #90;
 * x0 / 4 is VSHR #2. The twiddles of i and i + 1 come in by gathers that repeat each value for re and im.
 * Gathers and scatters count as one instruction each (on silicon they take a beat per element). */
#include <arm_mve.h>

#include "ts/fe.h"
#include "../ts_fe_internal.h"
#include "fe_mve.h"

#if !defined(__ARM_FEATURE_MVE)
#error "firmware/src/fe/mve needs Helium (MVE, -mcpu=cortex-m55): build the armv7em or portable stages instead"
#endif


typedef struct {
    const int16_t *x[4];  /* [0..12] the inputs' bases: x + 2 offs[p] stride samples */
    const uint32_t *vec;  /* [16] 3 vectors: sample lanes (0, 1, M/4, M/4 + 1) stride; window and output addresses
                           * (w, out) + (0, 4, 32, 36) bytes - 64 (one iteration before the first) */
    uint32_t q_inc;       /* [20] step of the counter whose bit reversal is 2 r(q) stride, q = 0, 4, 8, .. */
    int32_t iterations;   /* [24] M / 16 */
    int32_t k;            /* [28] frame shift */
    int32_t q2;           /* [32] 2 (r(q + 2) - r(q)) stride = M/8 stride samples */
} first_args_t;

/* First stage, butterflies q .. q + 3 per iteration (30 instructions per two, 34 with k > 0): r0..r3
 * the inputs' bases, r6 the counter, r8 its bit reversal, r9 the step from q to q + 2, q7 the sample
 * lanes, q5 the window addresses, q4 the output addresses; q0 offsets then window values, q1 q2 q3 q6 the
 * four inputs. */
#define FIRST_BODY(SHIFT)                                                                      \
    "vldrh.s32 q1, [r0, q0, uxtw #1]\n\t"                                                       \
    "vldrh.s32 q2, [r1, q0, uxtw #1]\n\t"                                                       \
    "vldrh.s32 q3, [r2, q0, uxtw #1]\n\t"                                                       \
    "vldrh.s32 q6, [r3, q0, uxtw #1]\n\t"                                                       \
    "vshl.i32 q1, q1, #16\n\t"                                                                 \
    "vldrw.u32 q0, [q5, #64]!\n\t"                                                             \
    "vmulh.s32 q1, q1, q0\n\t"        /* u0 = floor(x w / 2^16) */                             \
    "vshl.i32 q2, q2, #16\n\t"                                                                 \
    "vldrw.u32 q0, [q5, #8]\n\t"                                                               \
    "vmulh.s32 q2, q2, q0\n\t"                                                                 \
    "vshl.i32 q3, q3, #16\n\t"                                                                 \
    "vldrw.u32 q0, [q5, #16]\n\t"                                                              \
    "vmulh.s32 q3, q3, q0\n\t"                                                                 \
    "vshl.i32 q6, q6, #16\n\t"                                                                 \
    "vldrw.u32 q0, [q5, #24]\n\t"                                                              \
    "vmulh.s32 q6, q6, q0\n\t"                                                                 \
    SHIFT                                                                                      \
    "vadd.i32 q0, q1, q2\n\t"          /* a */                                                 \
    "vsub.i32 q1, q1, q2\n\t"          /* b */                                                 \
    "vadd.i32 q2, q3, q6\n\t"          /* c */                                                 \
    "vsub.i32 q3, q3, q6\n\t"          /* d */                                                 \
    "vadd.i32 q6, q0, q2\n\t"          /* y0 = a + c */                                        \
    "vsub.i32 q0, q0, q2\n\t"          /* y2 = a - c */                                        \
    "vstrw.32 q6, [q4, #64]!\n\t"                                                              \
    "vstrw.32 q0, [q4, #16]\n\t"                                                               \
    "vcadd.i32 q0, q1, q3, #270\n\t"   /* y1 = b - j d */                                      \
    "vcadd.i32 q6, q1, q3, #90\n\t"    /* y3 = b + j d */                                      \
    "vstrw.32 q0, [q4, #8]\n\t"                                                                \
    "vstrw.32 q6, [q4, #24]\n\t"

#define FIRST_PROLOGUE                                                                         \
    "push {r4-r9, lr}\n\t"                                                                     \
    "vpush {d8-d15}\n\t"                                                                       \
    "ldr r4, [r0, #16]\n\t"                                                                    \
    "vldrw.u32 q7, [r4]\n\t"                                                                   \
    "vldrw.u32 q5, [r4, #16]\n\t"                                                              \
    "vldrw.u32 q4, [r4, #32]\n\t"                                                              \
    "ldr r7, [r0, #20]\n\t"                                                                    \
    "ldr r5, [r0, #24]\n\t"                                                                    \
    "ldr r12, [r0, #28]\n\t"                                                                   \
    "ldr r1, [r0, #4]\n\t"                                                                     \
    "ldr r2, [r0, #8]\n\t"                                                                     \
    "ldr r3, [r0, #12]\n\t"                                                                    \
    "ldr r9, [r0, #32]\n\t"                                                                    \
    "ldr r0, [r0, #0]\n\t"                                                                     \
    "mov r6, #0\n\t"                                                                           \
    "dls lr, r5\n\t"                                                                           \
    "1:\n\t"

#define FIRST_Q0 "rbit r8, r6\n\t" "add r6, r6, r7\n\t" "vadd.i32 q0, q7, r8\n\t" /* 2 r(q) stride */
#define FIRST_Q2 "add r8, r8, r9\n\t" "vadd.i32 q0, q7, r8\n\t"                      /* r(q + 2) = r(q) + M/16 */
#define FIRST_EPILOGUE "le lr, 1b\n\t" "vpop {d8-d15}\n\t" "pop {r4-r9, pc}\n\t"
#define FIRST_SHIFT "vshl.s32 q1, r12\n\t" "vshl.s32 q2, r12\n\t" "vshl.s32 q3, r12\n\t" "vshl.s32 q6, r12\n\t"

__attribute__((naked, noinline)) static void first_stage(const first_args_t *a)
{
    __asm__ volatile(FIRST_PROLOGUE FIRST_Q0 FIRST_BODY("") FIRST_Q2 FIRST_BODY("") FIRST_EPILOGUE);
}

__attribute__((naked, noinline)) static void first_stage_shift(const first_args_t *a)
{
    __asm__ volatile(FIRST_PROLOGUE FIRST_Q0 FIRST_BODY(FIRST_SHIFT) FIRST_Q2 FIRST_BODY(FIRST_SHIFT)
                     FIRST_EPILOGUE);
}

typedef struct {
    int32_t *p0;       /* [0] the block's row 0 */
    int32_t h_bytes;   /* [4] H = 8 (L/4): the distance of the rows */
    const int32_t *tw; /* [8] the stage's twiddles */
    int32_t blocks;    /* [12] M / L */
    const uint32_t *q7; /* [16] the twiddle addresses before the first iteration */
} stage_args_t;

/* One radix-4 stage, two butterflies (i, i + 1) per iteration, 33 instructions: r0..r3 rows 0..3
 * (post-incremented), q7 the twiddle addresses (t, t, t + 24, t + 24) of the previous iteration, the
 * gathers at +48.. with the writeback on W^2i's cosine; q0..q6 values. Low-overhead loop per block. */
__attribute__((naked, noinline)) static void radix4_stage(const stage_args_t *a)
{
    __asm__ volatile(
        "push {r4-r7, lr}\n\t"
        "vpush {d8-d15}\n\t"
        "ldr r4, [r0, #4]\n\t"        /* H */
        "ldr r5, [r0, #8]\n\t"        /* twiddles */
        "ldr r6, [r0, #12]\n\t"       /* blocks */
        "ldr r5, [r0, #16]\n\t"       /* (t, t, t + 24, t + 24) - 48 */
        "ldr r0, [r0, #0]\n\t"
        "2:\n\t"
        "add r1, r0, r4\n\t"
        "add r2, r1, r4\n\t"
        "add r3, r2, r4\n\t"
        "vldrw.u32 q7, [r5]\n\t"
        "lsr r7, r4, #4\n\t"           /* iterations: (L/4) / 2 = H / 16 */
        "dls lr, r7\n\t"
        "1:\n\t"
        /* u3 = x3 W^3i -> q3 */
        "vldrw.u32 q0, [r3]\n\t"
        "vldrw.u32 q1, [q7, #64]\n\t"
        "vldrw.u32 q2, [q7, #68]\n\t"
        "vrmulh.s32 q1, q0, q1\n\t"
        "vrmulh.s32 q2, q0, q2\n\t"
        "vcadd.i32 q3, q1, q2, #270\n\t"
        /* u2 = x2 W^i -> q4 */
        "vldrw.u32 q0, [r2]\n\t"
        "vldrw.u32 q1, [q7, #56]\n\t"
        "vldrw.u32 q2, [q7, #60]\n\t"
        "vrmulh.s32 q1, q0, q1\n\t"
        "vrmulh.s32 q2, q0, q2\n\t"
        "vcadd.i32 q4, q1, q2, #270\n\t"
        /* c = u2 + u3 -> q5, d = u2 - u3 -> q4 */
        "vadd.i32 q5, q4, q3\n\t"
        "vsub.i32 q4, q4, q3\n\t"
        /* u1 = x1 W^2i -> q3 (q7 moves to this iteration's twiddles) */
        "vldrw.u32 q0, [r1]\n\t"
        "vldrw.u32 q1, [q7, #48]!\n\t"
        "vldrw.u32 q2, [q7, #4]\n\t"
        "vrmulh.s32 q1, q0, q1\n\t"
        "vrmulh.s32 q2, q0, q2\n\t"
        "vcadd.i32 q3, q1, q2, #270\n\t"
        /* u0 = x0 / 4; a = u0 + u1 -> q1, b = u0 - u1 -> q0 */
        "vldrw.u32 q0, [r0]\n\t"
        "vshr.s32 q0, q0, #2\n\t"
        "vadd.i32 q1, q0, q3\n\t"
        "vsub.i32 q0, q0, q3\n\t"
        /* y0 = a + c, y2 = a - c */
        "vadd.i32 q2, q1, q5\n\t"
        "vsub.i32 q1, q1, q5\n\t"
        "vstrw.32 q2, [r0], #16\n\t"
        "vstrw.32 q1, [r2], #16\n\t"
        /* y1 = b - j d, y3 = b + j d */
        "vcadd.i32 q2, q0, q4, #270\n\t"
        "vcadd.i32 q3, q0, q4, #90\n\t"
        "vstrw.32 q2, [r1], #16\n\t"
        "vstrw.32 q3, [r3], #16\n\t"
        "le lr, 1b\n\t"
        "mov r0, r3\n\t"               /* the next block follows row 3 */
        "subs r6, r6, #1\n\t"
        "bne 2b\n\t"
        "vpop {d8-d15}\n\t"
        "pop {r4-r7, pc}\n\t");
}

typedef struct {
    const uint32_t *lanes; /* [0] (buf, buf + 4, buf + 8L, buf + 8L + 4): butterfly i = 0 of blocks 0 and 1 */
    const int32_t *tw;     /* [4] the stage's twiddles */
    int32_t h;             /* [8] L/4 butterflies per block */
    int32_t pairs;         /* [12] M / (2L) pairs of blocks */
    int32_t step;          /* [16] 16 L bytes: the next pair of blocks */
} outer_args_t;

/* A radix-4 stage of length L = 16 or 64 (at least two blocks; rows 2L bytes apart, within a gather's
 * immediate): the twiddles of butterfly i in scalar registers (halved: VQRDMULH by w / 2 = rnd(x w)) for
 * the same butterfly of every block, two blocks per vector, 27 / 28 instructions per iteration; butterfly
 * 0 (twiddles (cos 0, 0): one product per input) 21 / 22. q7 the addresses of the two blocks' row 0,
 * r4..r9 (c2, s2, c1, s1, c3, s3) / 2, r10 the butterflies left, r11 the lanes of butterfly i, r12 the
 * pairs, r2 the step. */
#define OUTER_LOADS(R1, R2, R3, X0)                                                               \
    X0                                                                                             \
    "vldrw.u32 q1, [q7, #" #R1 "]\n\t"                                                             \
    "vldrw.u32 q2, [q7, #" #R2 "]\n\t"                                                             \
    "vldrw.u32 q3, [q7, #" #R3 "]\n\t"

/* u0 = x0 / 4 and u1 (q5), u2 (q6), u3 (q1) into the outputs */
#define OUTER_BUTTERFLY(R1, R2, R3)                                                               \
    "vshr.s32 q0, q0, #2\n\t"         /* u0 */                                                     \
    "vadd.i32 q4, q0, q5\n\t"         /* a */                                                      \
    "vsub.i32 q0, q0, q5\n\t"         /* b */                                                      \
    "vadd.i32 q5, q6, q1\n\t"         /* c */                                                      \
    "vsub.i32 q6, q6, q1\n\t"         /* d */                                                      \
    "vadd.i32 q1, q4, q5\n\t"         /* y0 = a + c */                                             \
    "vsub.i32 q4, q4, q5\n\t"         /* y2 = a - c */                                             \
    "vstrw.32 q1, [q7]\n\t"                                                                        \
    "vstrw.32 q4, [q7, #" #R2 "]\n\t"                                                              \
    "vcadd.i32 q1, q0, q6, #270\n\t"  /* y1 = b - j d */                                           \
    "vcadd.i32 q4, q0, q6, #90\n\t"   /* y3 = b + j d */                                           \
    "vstrw.32 q1, [q7, #" #R1 "]\n\t"                                                              \
    "vstrw.32 q4, [q7, #" #R3 "]\n\t"

#define OUTER_STAGE(NAME, R1, R2, R3, X0, STEP)                                                    \
    __attribute__((naked, noinline)) static void NAME(const outer_args_t *a)                      \
    {                                                                                              \
        __asm__ volatile(                                                                          \
            "push {r4-r11, lr}\n\t"                                                                \
            "vpush {d8-d15}\n\t"                                                                   \
            "ldr r3, [r0, #0]\n\t"                                                                 \
            "ldr r1, [r0, #4]\n\t"                                                                 \
            "ldr r10, [r0, #8]\n\t"                                                                \
            "ldr r12, [r0, #12]\n\t"                                                               \
            "ldr r2, [r0, #16]\n\t"                                                                \
            "mov r11, #0\n\t"                                                                      \
            /* butterfly 0 */                                                                      \
            "ldr r4, [r1], #24\n\t"                                                                \
            "asr r4, r4, #1\n\t"                                                                   \
            "vldrw.u32 q7, [r3]\n\t"                                                               \
            STEP                                                                                   \
            "dls lr, r12\n\t"                                                                      \
            "3:\n\t"                                                                               \
            OUTER_LOADS(R1, R2, R3, X0)                                                            \
            "vqrdmulh.s32 q5, q1, r4\n\t"                                                          \
            "vqrdmulh.s32 q6, q2, r4\n\t"                                                          \
            "vqrdmulh.s32 q1, q3, r4\n\t"                                                          \
            OUTER_BUTTERFLY(R1, R2, R3)                                                            \
            "le lr, 3b\n\t"                                                                        \
            "b 4f\n\t"                                                                             \
            "2:\n\t"                                                                               \
            "ldrd r4, r5, [r1], #8\n\t"                                                            \
            "ldrd r6, r7, [r1], #8\n\t"                                                            \
            "ldrd r8, r9, [r1], #8\n\t"                                                            \
            "asr r4, r4, #1\n\t" "asr r5, r5, #1\n\t" "asr r6, r6, #1\n\t"                         \
            "asr r7, r7, #1\n\t" "asr r8, r8, #1\n\t" "asr r9, r9, #1\n\t"                         \
            "vldrw.u32 q0, [r3]\n\t"                                                               \
            "vadd.i32 q7, q0, r11\n\t"                                                             \
            STEP                                                                                   \
            "dls lr, r12\n\t"                                                                      \
            "1:\n\t"                                                                               \
            OUTER_LOADS(R1, R2, R3, X0)                                                            \
            "vqrdmulh.s32 q4, q1, r4\n\t"                                                          \
            "vqrdmulh.s32 q1, q1, r5\n\t"                                                          \
            "vcadd.i32 q5, q4, q1, #270\n\t"  /* u1 = x1 W^2i */                                   \
            "vqrdmulh.s32 q4, q2, r6\n\t"                                                          \
            "vqrdmulh.s32 q2, q2, r7\n\t"                                                          \
            "vcadd.i32 q6, q4, q2, #270\n\t"  /* u2 = x2 W^i */                                    \
            "vqrdmulh.s32 q4, q3, r8\n\t"                                                          \
            "vqrdmulh.s32 q3, q3, r9\n\t"                                                          \
            "vcadd.i32 q1, q4, q3, #270\n\t"  /* u3 = x3 W^3i */                                   \
            OUTER_BUTTERFLY(R1, R2, R3)                                                            \
            "le lr, 1b\n\t"                                                                        \
            "4:\n\t"                                                                               \
            "add r11, r11, #8\n\t"                                                                 \
            "subs r10, r10, #1\n\t"                                                                \
            "bne 2b\n\t"                                                                           \
            "vpop {d8-d15}\n\t"                                                                    \
            "pop {r4-r11, pc}\n\t");                                                               \
    }

/* q7 starts one pair before the first; L = 16: the load of x0 moves it on (256 bytes), L = 64: VADD. */
OUTER_STAGE(stage16, 32, 64, 96, "vldrw.u32 q0, [q7, #256]!\n\t", "vsub.i32 q7, q7, r2\n\t")
OUTER_STAGE(stage64, 128, 256, 384, "vadd.i32 q7, q7, r2\n\t" "vldrw.u32 q0, [q7]\n\t", "vsub.i32 q7, q7, r2\n\t")

void ts_fe_cfft_q31(const int16_t *x, const int32_t *window, const int32_t *twiddle, int32_t n_fft, int32_t k,
                    int32_t *buf)
{
    ts_fe_mve_cfft(x, 1, window, twiddle, n_fft, k, buf);
}

void ts_fe_mve_cfft(const int16_t *x, int32_t stride, const int32_t *window, const int32_t *twiddle,
                    int32_t n_fft, int32_t k, int32_t *buf)
{
    const int32_t m = n_fft >> 1, lg = ts_fe_log2((uint32_t)m);
    const uint32_t w0 = (uint32_t)(uintptr_t)window - 64u, o0 = (uint32_t)(uintptr_t)buf - 64u;
    const uint32_t s = (uint32_t)stride, q4 = (uint32_t)(m >> 2) * s;
    const uint32_t vec[12] __attribute__((aligned(16))) = {
        0, s, q4, q4 + s, w0, w0 + 4u, w0 + 32u, w0 + 36u, o0, o0 + 4u, o0 + 32u, o0 + 36u};
    /* the counter's bit reversal is 2 r(q) stride (stride 1 or 2: one bit less of step for 2) */
    const first_args_t fa = {{x, x + m * stride, x + (m >> 1) * stride, x + 3 * (m >> 1) * stride}, vec,
                             1u << (35 - lg - (stride == 2)), m >> 4, k, (m >> 3) * stride};
    (k ? first_stage_shift : first_stage)(&fa);
    const int32_t *tw = twiddle;
    int32_t len = 16;
    for (; len <= 64 && 2 * len <= m; len <<= 2) {
        const uint32_t b = (uint32_t)(uintptr_t)buf, l8 = 8u * (uint32_t)len;
        const uint32_t lanes[4] __attribute__((aligned(16))) = {b, b + 4u, b + l8, b + l8 + 4u};
        const outer_args_t oa = {lanes, tw, len >> 2, m / (2 * len), 16 * len};
        if (len == 16)
            stage16(&oa);
        else
            stage64(&oa);
        tw += 6 * (len >> 2);
    }
    for (; len <= m; len <<= 2) {
        const uint32_t t0 = (uint32_t)(uintptr_t)tw - 48u;
        const uint32_t q7[4] __attribute__((aligned(16))) = {t0, t0, t0 + 24u, t0 + 24u};
        const stage_args_t sa = {buf, 2 * len, tw, m / len, q7};
        radix4_stage(&sa);
        tw += 6 * (len >> 2);
    }
    if (lg & 1) ts_fe_radix2_stage(buf, m, tw); /* odd log2 M only (no preset): the portable C */
}
