/* Natural log of the mel sums, Helium (same integers as the portable ts_fe_log_q24), four bands per
 * iteration (35 instructions): the 64-bit sums as (low, high) planes (VLD2), plus the floor shifted by 2k
 * (per-lane shifts by 2k and 2k - 32: a shift by 32 or more gives 0, a negative one shifts right; the carry
 * of the low words by an unsigned compare), the leading one from VCLZ of the high words (plus that of the
 * low words where the high word is 0), the top 32 bits by two per-lane shifts, the table entries by gathers
 * (indexed by the top byte, 128..255, from lut - 128), the interpolation by VMULH of the fraction shifted to
 * the top, the exponent by VMLA. A tail-predicated loop: the last vector's missing bands are inactive lanes
 * (VLD2 cannot be predicated: it reads up to 24 bytes past the last sum, fe.h). */
#include <arm_mve.h>

#include "ts/fe.h"
#include "../ts_fe_internal.h"

#if !defined(__ARM_FEATURE_MVE)
#error "firmware/src/fe/mve needs Helium (MVE, -mcpu=cortex-m55): build the armv7em or portable stages instead"
#endif

#define LN2_Q24 11629080 /* round(ln(2) 2^24) */

typedef struct {
    const uint64_t *mel;     /* [0] */
    const uint32_t *floor;   /* [4] */
    const int32_t *offset;   /* [8] */
    const int32_t *lut;      /* [12] log_lut - 128 */
    int32_t *out;            /* [16] */
    int32_t n_mels;          /* [20] (the last vector tail-predicated) */
    int32_t sh;              /* [24] 2k */
    int32_t base;            /* [28] (63 - 2k) ln 2, Q24 */
} log_args_t;

/* r0 mel, r1 floors, r2 offsets, r3 lut - 128, r4 lut - 127, r5 out, r6 = 1, r7 = 0, r8 = 32, r9 = -ln 2,
 * r10 base; q6 = 2k, q5 = 2k - 32 (shift vectors). */
__attribute__((naked, noinline)) static void log4(const log_args_t *a)
{
    __asm__ volatile(
        "push {r4-r10, lr}\n\t"
        "vpush {d8-d15}\n\t"
        "ldr r6, [r0, #24]\n\t"
        "vdup.32 q6, r6\n\t"
        "sub r6, r6, #32\n\t"
        "vdup.32 q5, r6\n\t"
        "ldr r10, [r0, #28]\n\t"
        "ldr lr, [r0, #20]\n\t"
        "ldr r3, [r0, #12]\n\t"
        "add r4, r3, #4\n\t"
        "ldr r5, [r0, #16]\n\t"
        "ldr r2, [r0, #8]\n\t"
        "ldr r1, [r0, #4]\n\t"
        "ldr r0, [r0, #0]\n\t"
        "movs r6, #1\n\t"
        "movs r7, #0\n\t"
        "movs r8, #32\n\t"
        "ldr r9, =%c0\n\t"
        "dlstp.32 lr, lr\n\t"
        "1:\n\t"
        "vldrw.u32 q2, [r1], #16\n\t"       /* floor */
        "vld20.32 {q0, q1}, [r0]\n\t"
        "vld21.32 {q0, q1}, [r0]!\n\t"      /* q0 low, q1 high words */
        "vshl.u32 q3, q2, q6\n\t"           /* floor 2^2k: low word */
        "vshl.u32 q2, q2, q5\n\t"           /* high word */
        "vadd.i32 q3, q0, q3\n\t"           /* y low */
        "vadd.i32 q1, q1, q2\n\t"
        "vcmp.u32 hi, q0, q3\n\t"           /* carry */
        "vpst\n\t"
        "vaddt.i32 q1, q1, r6\n\t"          /* y high */
        "vclz.i32 q2, q1\n\t"
        "vclz.i32 q0, q3\n\t"
        "vcmp.i32 eq, q1, r7\n\t"
        "vpst\n\t"
        "vaddt.i32 q2, q2, q0\n\t"          /* lz */
        "vshl.u32 q1, q1, q2\n\t"
        "vsub.i32 q0, q2, r8\n\t"
        "vshl.u32 q3, q3, q0\n\t"
        "vorr q1, q1, q3\n\t"               /* top 32 bits: the leading one at bit 31 */
        "vshr.u32 q3, q1, #24\n\t"          /* 128 + table index */
        "vldrw.u32 q0, [r3, q3, uxtw #2]\n\t"
        "vldrw.u32 q4, [r4, q3, uxtw #2]\n\t"
        "vsub.i32 q4, q4, q0\n\t"           /* d */
        "vshl.i32 q1, q1, #8\n\t"           /* the fraction, at the top */
        "vmulh.u32 q1, q1, q4\n\t"          /* floor(d frac / 2^24) */
        "vadd.i32 q0, q0, q1\n\t"
        "vldrw.u32 q1, [r2], #16\n\t"
        "vadd.i32 q0, q0, q1\n\t"           /* + offset */
        "vmla.s32 q0, q2, r9\n\t"           /* - lz ln 2 */
        "vadd.i32 q0, q0, r10\n\t"          /* + (63 - 2k) ln 2 */
        "vstrw.32 q0, [r5], #16\n\t"
        "letp lr, 1b\n\t"
        "vpop {d8-d15}\n\t"
        "pop {r4-r10, pc}\n\t"
        ".ltorg\n\t"
        :
        : "i"(-LN2_Q24));
}

void ts_fe_log_q24(const uint64_t *mel, int32_t n_mels, const uint32_t *mel_floor, const int32_t *mel_offset,
                   int32_t k, const int32_t *log_lut, int32_t *logmel)
{
    const int32_t sh = 2 * k;
    const log_args_t la = {mel, mel_floor, mel_offset, log_lut - 128, logmel, n_mels, sh, (63 - sh) * LN2_Q24};
    log4(&la);
}
