/* int8 model input from the Q24 log-mel, Helium (same integers as the portable ts_fe_quantize_s8). One
 * stereo frame (the streaming call) in a tail-predicated loop over four mel bins: VMULH (SMMUL's high
 * word), VADD, VSHL by -(shift - 32), both channels narrowed with saturation (VQMOVNB / VQMOVNT: int8 in
 * the low halfword of each lane, left then right) and stored by a halfword scatter, 17 instructions per
 * four bins; anything else (mono, whole clips) is the portable loop. */
#include <arm_mve.h>

#include "ts/fe.h"
#include "../ts_fe_internal.h"

#if !defined(__ARM_FEATURE_MVE)
#error "firmware/src/fe/mve needs Helium (MVE, -mcpu=cortex-m55): build the armv7em or portable stages instead"
#endif

typedef struct {
    const int32_t *left;  /* [0] */
    const int32_t *right; /* [4] */
    const int32_t *mul;   /* [8] */
    const int32_t *add;   /* [12] */
    int8_t *out;          /* [16] */
    const uint32_t *off;  /* [20] (0, 1, 2, 3) x stride */
    int32_t step;         /* [24] 4 x stride */
    int32_t neg_sh;       /* [28] 32 - shift */
    int32_t n_mels;       /* [32] (the last vector tail-predicated) */
} stereo_args_t;

__attribute__((naked, noinline)) static void stereo_frame(const stereo_args_t *a)
{
    __asm__ volatile(
        "push {r4-r8, lr}\n\t"
        "vpush {d8-d11}\n\t"
        "ldr r4, [r0, #20]\n\t"
        "vldrw.u32 q5, [r4]\n\t"
        "ldrd r1, r2, [r0, #0]\n\t"
        "ldrd r3, r4, [r0, #8]\n\t"
        "ldr r5, [r0, #16]\n\t"
        "ldrd r6, r7, [r0, #24]\n\t"
        "ldr r8, [r0, #32]\n\t"
        "dlstp.32 lr, r8\n\t"
        "1:\n\t"
        "vldrw.u32 q0, [r1], #16\n\t"
        "vldrw.u32 q1, [r2], #16\n\t"
        "vldrw.u32 q2, [r3], #16\n\t"   /* mul */
        "vldrw.u32 q3, [r4], #16\n\t"   /* add */
        "vmulh.s32 q0, q0, q2\n\t"
        "vmulh.s32 q1, q1, q2\n\t"
        "vadd.i32 q0, q0, q3\n\t"
        "vadd.i32 q1, q1, q3\n\t"
        "vshl.s32 q0, r7\n\t"
        "vshl.s32 q1, r7\n\t"
        "vqmovnb.s32 q2, q0\n\t"
        "vqmovnb.s32 q3, q1\n\t"
        "vqmovnb.s16 q4, q2\n\t"        /* left: byte 0 of each lane */
        "vqmovnt.s16 q4, q3\n\t"        /* right: byte 1 */
        "vstrh.32 q4, [r5, q5]\n\t"
        "add r5, r5, r6\n\t"
        "letp lr, 1b\n\t"
        "vpop {d8-d11}\n\t"
        "pop {r4-r8, pc}\n\t");
}

void ts_fe_quantize_s8(const ts_fe_quant_t *quant, int32_t channels, int32_t n_frames, const int32_t *logmel,
                       int8_t *out, int32_t out_mel_stride)
{
    if (n_frames == 1 && channels == 2 && ((((uintptr_t)out) | (uint32_t)out_mel_stride) & 1u) == 0) {
        const uint32_t s1 = (uint32_t)out_mel_stride;
        const uint32_t off[4] __attribute__((aligned(16))) = {0, s1, 2 * s1, 3 * s1};
        const stereo_args_t sa = {logmel, logmel + quant->n_mels, quant->mul, quant->add, out, off,
                                  4 * out_mel_stride, 32 - quant->shift, quant->n_mels};
        stereo_frame(&sa);
    } else {
        ts_fe_quantize_loop(quant, channels, n_frames, logmel, out, out_mel_stride);
    }
}
