/* Real-FFT split and power, Helium (same integers as the portable ts_fe_power_u64). Four pairs of bins
 * (k .. k+3 and M-k .. M-k-3) per iteration: Z[k..] by VLD2 (re, im planes), Z[M-k..] by gathers in
 * descending order, the twiddles by VLD2; A / 2 by VHADD / VHSUB (floor((a + b) / 2), no overflow), W B / 2
 * by VRMULH; each power re^2 + im^2 as 64-bit lanes: VMULLB / VMULLT (even / odd lanes) and VADCI (the
 * carry of a low word goes into its high word; the high words, < 2^28, never carry on), stored by 64-bit
 * scatters. 39 instructions per 8 bins. */
#include <arm_mve.h>

#include "ts/fe.h"
#include "../ts_fe_internal.h"

#if !defined(__ARM_FEATURE_MVE)
#error "firmware/src/fe/mve needs Helium (MVE, -mcpu=cortex-m55): build the armv7em or portable stages instead"
#endif


typedef struct {
    int32_t *pk;          /* [0] Z[1] */
    const uint32_t *desc; /* [4] the addresses of bins M+3 .. M (moved down by 32 bytes before each use) */
    const int32_t *tw;    /* [8] (cos, sin) of k = 1 */
    int32_t iterations;   /* [12] (M/2 - 1) / 4 */
    uint32_t mirror;      /* [16] 2 buf + 8 M: the address of bin k is mirror - that of bin M - k */
} pairs_args_t;

/* Four pairs per iteration (39 instructions): r0 Z[k] (VLD2, writeback), q7 the addresses of bins M-k ..
 * M-k-3 (gathers; its writeback moves it on), r2 twiddles (VLD2, writeback). Each P as 64-bit lanes: VMULLB
 * / VMULLT give bins (k, k+2) / (k+1, k+3), stored by 64-bit scatters from the mirrored addresses
 * (r3 - q7, lanes 0 and 2), and bins (M-k, M-k-2) / (M-k-1, M-k-3) by scatters from q7 itself. */
__attribute__((naked, noinline)) static void pairs(const pairs_args_t *a)
{
    __asm__ volatile(
        "push {r4-r7, lr}\n\t"
        "vpush {d8-d15}\n\t"
        "ldr r1, [r0, #4]\n\t"
        "vldrw.u32 q7, [r1]\n\t"
        "ldr r2, [r0, #8]\n\t"
        "ldr r7, [r0, #12]\n\t"
        "ldr r3, [r0, #16]\n\t"
        "ldr r0, [r0, #0]\n\t"
        "dls lr, r7\n\t"
        "1:\n\t"
        "vld20.32 {q0, q1}, [r0]\n\t"
        "vld21.32 {q0, q1}, [r0]!\n\t"          /* q0 Z[k] re, q1 Z[k] im */
        "vldrw.u32 q2, [q7, #-32]!\n\t"         /* Z[M-k] re */
        "vldrw.u32 q3, [q7, #4]\n\t"            /* Z[M-k] im */
        "vsub.i32 q4, q0, q2\n\t"               /* B re */
        "vhadd.s32 q0, q0, q2\n\t"              /* A re / 2 */
        "vadd.i32 q2, q1, q3\n\t"               /* B im */
        "vhsub.s32 q1, q1, q3\n\t"              /* A im / 2 */
        "vld20.32 {q5, q6}, [r2]\n\t"
        "vld21.32 {q5, q6}, [r2]!\n\t"          /* q5 cos, q6 sin */
        "vrmulh.s32 q3, q4, q5\n\t"             /* rnd(Br c) */
        "vrmulh.s32 q5, q2, q5\n\t"             /* rnd(Bi c) */
        "vrmulh.s32 q2, q2, q6\n\t"             /* rnd(Bi s) */
        "vrmulh.s32 q4, q4, q6\n\t"             /* rnd(Br s) */
        "vadd.i32 q3, q3, q2\n\t"               /* u */
        "vsub.i32 q5, q5, q4\n\t"               /* v */
        "vadd.i32 q2, q0, q5\n\t"               /* X[k] re = A re / 2 + v */
        "vsub.i32 q4, q1, q3\n\t"               /* X[k] im = A im / 2 - u */
        "vsub.i32 q0, q0, q5\n\t"               /* X[M-k] re */
        "vadd.i32 q1, q1, q3\n\t"               /* -X[M-k] im */
        "vmullb.s32 q3, q2, q2\n\t"
        "vmullb.s32 q5, q4, q4\n\t"
        "vadci.i32 q3, q3, q5\n\t"              /* P[k], P[k+2] */
        "vmullt.s32 q5, q2, q2\n\t"
        "vmullt.s32 q6, q4, q4\n\t"
        "vadci.i32 q5, q5, q6\n\t"              /* P[k+1], P[k+3] */
        "vneg.s32 q2, q7\n\t"
        "vadd.i32 q2, q2, r3\n\t"               /* lanes 0, 2: bins k, k+2 */
        "vstrd.64 q3, [q2]\n\t"
        "vstrd.64 q5, [q2, #8]\n\t"
        "vmullb.s32 q3, q0, q0\n\t"
        "vmullb.s32 q5, q1, q1\n\t"
        "vadci.i32 q3, q3, q5\n\t"              /* P[M-k], P[M-k-2] */
        "vmullt.s32 q5, q0, q0\n\t"
        "vmullt.s32 q6, q1, q1\n\t"
        "vadci.i32 q5, q5, q6\n\t"              /* P[M-k-1], P[M-k-3] */
        "vstrd.64 q3, [q7]\n\t"
        "vstrd.64 q5, [q7, #-8]\n\t"
        "le lr, 1b\n\t"
        "vpop {d8-d15}\n\t"
        "pop {r4-r7, pc}\n\t");
}

void ts_fe_power_u64(int32_t *buf, int32_t n_fft, const int32_t *rfft_twiddle)
{
    const int32_t m = n_fft >> 1;
    const int32_t n = (m / 2 - 1) & ~3, rest = m / 2 - 1 - n; /* pairs k = 1 .. m/2 - 1: 4 at a time, then 3 */
    if (n) {
        const uint32_t top = (uint32_t)(uintptr_t)(buf + 2 * m); /* bin M */
        const uint32_t desc[4] __attribute__((aligned(16))) = {top + 24u, top + 16u, top + 8u, top};
        const pairs_args_t pa = {buf + 2, desc, rfft_twiddle, n >> 2, 2u * (uint32_t)(uintptr_t)buf + 8u * (uint32_t)m};
        pairs(&pa);
    }
    /* the last pairs (k = m/2 - 3 .. m/2 - 1) one by one, as the portable C */
    ts_fe_power_pairs(buf, m, 1 + n, 1 + n + rest, rfft_twiddle + 2 * n);
    ts_fe_power_ends(buf, m);
}
