/* Private helpers of the Helium int8 kernels (firmware/src/nn/mve/, Cortex-M55 with MVE): intrinsics from
 * arm_mve.h, and one inline-assembly block where GCC's register allocation was measured to cost about twice
 * the instructions (the 4 channels x 2 pixels dot product: VMLADAVA accumulates into even registers only,
 * and needs all eight). Private to those kernels.
 *
 * Requantisation is TFLite's exactly, four lanes at a time: VSHL (left shift, wrapping like TFLite's),
 * VQRDMULH (SaturatingRoundingDoublingHighMul, saturation included), then RoundingDivideByPOT as VRSHL by
 * the negative shift after subtracting 1 from negative lanes that are shifted (VAND with the negative
 * shift's sign, VSHR #31, VQADD), output zero point, activation clamp.
 *
 * Layout the compiler (python/tinyscene/aot/fastkernels.py) packs for the convolutions and the fully
 * connected layer ("s8 4ch x k16 + rq"): per group of output channels, channels padded to a multiple of 4,
 * per block of 4 channels: ceil(k / 16) chunks of [c0 k0..15][c1 ..][c2 ..][c3 ..] int8 (k zero-padded),
 * then 4 x 4 int32: bias, multiplier, left shift (>= 0), minus the right shift (<= 0). */
#ifndef TS_MVE_H
#define TS_MVE_H

#include <arm_mve.h>
#include <stddef.h>
#include <stdint.h>

#include "ts/nn.h"
#include "ts_asm_layout.h"
#include "ts/nn_math.h"
#include "ts_mve_kernels.h"

#if !defined(__ARM_FEATURE_MVE)
#error "the mve kernels need a core with Helium (-mcpu=cortex-m55)"
#endif

#define TS_MVE_ALWAYS_INLINE static inline __attribute__((always_inline))

/* Bytes of a 4-channel block of the stream for n16 chunks. */
#define TS_MVE_BLOCK_BYTES(n16) (64 * (n16) + 64)

/* Arguments of ts_mve_conv_pair (mve/ts_mve_conv_pair.c): the blocks of 4 output channels of one pair of pixels
 * (fields xa and xb of `rows` rows of `chunks` x 16 bytes, `step` bytes apart from one row's end to the next,
 * then `tail` bytes loaded predicated when tail > 0; chunks, rows >= 1), stream w ("s8 4ch x k16 + rq"),
 * `channels` outputs stored at out_a and out_b. The assembly reads the fields at fixed offsets (checked
 * below). */
typedef struct {
    const int8_t *xa;
    const int8_t *xb;
    const int8_t *w;
    int8_t *out_a;
    int8_t *out_b;
    int32_t chunks;
    int32_t tail;
    int32_t channels;
    int32_t zp;
    int32_t act_min, act_max;
    int32_t rows;
    int32_t step;
} ts_mve_pair_t;
TS_ASM_AT(ts_mve_pair_t, xa, 0); TS_ASM_AT(ts_mve_pair_t, xb, 4); TS_ASM_AT(ts_mve_pair_t, w, 8);
TS_ASM_AT(ts_mve_pair_t, out_a, 12); TS_ASM_AT(ts_mve_pair_t, out_b, 16); TS_ASM_AT(ts_mve_pair_t, chunks, 20);
TS_ASM_AT(ts_mve_pair_t, tail, 24); TS_ASM_AT(ts_mve_pair_t, channels, 28); TS_ASM_AT(ts_mve_pair_t, zp, 32);
TS_ASM_AT(ts_mve_pair_t, act_min, 36); TS_ASM_AT(ts_mve_pair_t, act_max, 40); TS_ASM_AT(ts_mve_pair_t, rows, 44);
TS_ASM_AT(ts_mve_pair_t, step, 48);

void ts_mve_conv_pair(const ts_mve_pair_t *a);

/* Arguments of ts_mve_fc8 (mve/ts_mve_fc8.c): the blocks of 8 output channels of one input row x (`chunks` x 16
 * bytes, then `tail` bytes loaded predicated when tail > 0), stream w ("s8 8ch x k16 + rq"), `channels`
 * outputs at out. Fixed offsets (checked below). */
typedef struct {
    const int8_t *x;
    const int8_t *w;
    int8_t *out;
    int32_t chunks;
    int32_t tail;
    int32_t channels;
    int32_t zp;
    int32_t act_min, act_max;
} ts_mve_fc_t;
TS_ASM_AT(ts_mve_fc_t, x, 0); TS_ASM_AT(ts_mve_fc_t, w, 4); TS_ASM_AT(ts_mve_fc_t, out, 8);
TS_ASM_AT(ts_mve_fc_t, chunks, 12); TS_ASM_AT(ts_mve_fc_t, tail, 16); TS_ASM_AT(ts_mve_fc_t, channels, 20);
TS_ASM_AT(ts_mve_fc_t, zp, 24); TS_ASM_AT(ts_mve_fc_t, act_min, 28); TS_ASM_AT(ts_mve_fc_t, act_max, 32);

void ts_mve_fc8(const ts_mve_fc_t *a);

/* Assembly: + the output zero point (the word at [r11, #ZP]), clamped to q6..q7, of q0 and q1 (r0 clobbered). */
#define TS_MVE_ZP_CLAMP_Q0Q1(ZP)                \
    "ldr r0, [r11, #" ZP "]\n\t"              \
    "vadd.i32 q0, q0, r0\n\t"                 \
    "vadd.i32 q1, q1, r0\n\t"                 \
    "vmax.s32 q0, q0, q6\n\t"                 \
    "vmax.s32 q1, q1, q6\n\t"                 \
    "vmin.s32 q0, q0, q7\n\t"                 \
    "vmin.s32 q1, q1, q7\n\t"

/* Per-lane requantisation constants of a block (the 64 bytes after its weights). */
typedef struct {
    int32x4_t bias, multiplier, left, neg_right;
} ts_mve_rq_t;

TS_MVE_ALWAYS_INLINE ts_mve_rq_t ts_mve_rq_load(const int8_t *p)
{
    const int32_t *q = (const int32_t *)(const void *)p;
    ts_mve_rq_t r = {vldrwq_s32(q), vldrwq_s32(q + 4), vldrwq_s32(q + 8), vldrwq_s32(q + 12)};
    return r;
}

/* acc (bias not included) -> int8 lanes (in the low byte of each int32 lane), TFLite's arithmetic. */
TS_MVE_ALWAYS_INLINE int32x4_t ts_mve_requant(int32x4_t acc, const ts_mve_rq_t *r, int32_t zp, int32x4_t lo,
                                              int32x4_t hi)
{
    int32x4_t v = vaddq_s32(acc, r->bias);
    v = vshlq_s32(v, r->left);
    v = vqrdmulhq_s32(v, r->multiplier);
    const int32x4_t fix = vshrq_n_s32(vandq_s32(v, r->neg_right), 31); /* -1: negative and shifted */
    v = vrshlq_s32(vqaddq_s32(v, fix), r->neg_right);
    v = vaddq_n_s32(v, zp);
    return vminq_s32(vmaxq_s32(v, lo), hi);
}

/* n bytes from src to dst, whole vectors then one predicated (never reads or writes past n). */
TS_MVE_ALWAYS_INLINE void ts_mve_copy(int8_t *dst, const int8_t *src, int32_t n)
{
    for (; n >= 16; n -= 16, src += 16, dst += 16) vstrbq_s8(dst, vldrbq_s8(src));
    if (n > 0) {
        const mve_pred16_t p = vctp8q((uint32_t)n);
        vstrbq_p_s8(dst, vldrbq_z_s8(src, p), p);
    }
}

TS_MVE_ALWAYS_INLINE void ts_mve_fill(int8_t *dst, int8_t v, int32_t n)
{
    const int8x16_t q = vdupq_n_s8(v);
    for (; n >= 16; n -= 16, dst += 16) vstrbq_s8(dst, q);
    if (n > 0) vstrbq_p_s8(dst, q, vctp8q((uint32_t)n));
}

#endif /* TS_MVE_H */
