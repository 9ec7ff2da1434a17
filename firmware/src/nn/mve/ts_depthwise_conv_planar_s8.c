/* DEPTHWISE_CONV_2D, depth multiplier 1, at most 16 taps, stride 1 along the sweep, Helium (same numerics as the
 * reference ts_depthwise_conv_s8, bit-exact).
 *
 * Channel by channel, the input's channel is gathered into a plane of int8 with its padding made explicit
 * (input zero points), transposed when the compiler chose to sweep down the columns (tall narrow inputs:
 * longer vectors); the gather takes 8 pixels per instruction (16-bit offsets: a pixel step below 9362
 * bytes). Then, with the channel's taps in general registers,
 * four neighbouring outputs at a time: per tap one widening load of 4 int8 (VLDRB.S32) and one vector-by-
 * scalar multiply-accumulate (VMLA), the vector requantisation with the channel's scalar constants, and a
 * scattering store into the NHWC output. About 2.5 instructions per multiply-accumulate less than one lane
 * of vector per channel group (ts_depthwise_conv_s8).
 *
 * Weights (compiler layout "dw planar s8 + rq"): a flags word (bit 0: transposed sweep), then per channel 16
 * int8 taps (row-major in the swept orientation, zero-padded) and 4 int32: bias, multiplier, left shift,
 * minus the right shift. Scratch: one plane, Hs x Ws bytes (the padded extent read). Writing a channel's outputs
 * touches only that channel's bytes, whose input is in the plane already: the output may overwrite the input
 * (the compiler plans it in place). */
#include "ts/nn.h"
#include "ts_mve.h"

/* A channel's plane may take at most this many bytes: the 8-pixel gathers' offsets are 16-bit (7 pixel steps of
 * a row below 65536); the compiler (aot/fastkernels.py PLANAR_MAX) picks this kernel only within it. */
#define TS_MVE_PLANAR_MAX 9362
_Static_assert(7 * TS_MVE_PLANAR_MAX < 65536, "the gathers' 16-bit offsets");

typedef struct {
    int32_t in_rows, in_px, out_rows, out_px; /* swept geometry: rows across, pixels along the vectors */
    int32_t in_row_step, in_px_step, out_row_step, out_px_step;
    int32_t sr, sp, pr, pp, dr, dp; /* stride, padding, dilation across rows / along them */
    int32_t kr, kp;                 /* filter extent across rows / along them */
    int32_t hs, ws;                 /* plane extent */
} pg_t;

static pg_t planar_geometry(const ts_depthwise_conv_params_t *p)
{
    const int32_t C = p->input.c;
    const int tr = ((const int32_t *)(const void *)p->weights)[0] & 1;
    pg_t g;
    if (tr) {
        g = (pg_t){p->input.w, p->input.h, p->output.w, p->output.h, C, p->input.w * C, C, p->output.w * C,
                   p->stride_w, p->stride_h, p->pad_left, p->pad_top, p->dilation_w, p->dilation_h, p->filter.w,
                   p->filter.h, 0, 0};
    } else {
        g = (pg_t){p->input.h, p->input.w, p->output.h, p->output.w, p->input.w * C, C, p->output.w * C, C,
                   p->stride_h, p->stride_w, p->pad_top, p->pad_left, p->dilation_h, p->dilation_w, p->filter.h,
                   p->filter.w, 0, 0};
    }
    g.hs = (g.out_rows - 1) * g.sr + (g.kr - 1) * g.dr + 1;
    g.ws = ((g.out_px + 3) & ~3) - 1 + (g.kp - 1) * g.dp + 1; /* whole vectors of outputs along the sweep */
    return g;
}

int32_t ts_depthwise_conv_planar_s8_get_buffer_size(const ts_depthwise_conv_params_t *p)
{
    const pg_t g = planar_geometry(p);
    return g.hs * g.ws;
}

/* Channel c of image img -> the plane (zero points around). */
static void gather_plane(const pg_t *g, const int8_t *img, int32_t c, int8_t zp, int8_t *plane)
{
    ts_mve_fill(plane, zp, g->hs * g->ws);
    const uint16x8_t offs = vmulq_n_u16(vidupq_n_u16(0, 1), (uint16_t)g->in_px_step); /* lane i: pixel i */
    const int32_t x0 = g->pp < 0 ? -g->pp : 0;
    const int32_t x1 = g->in_px < g->ws - g->pp ? g->in_px : g->ws - g->pp;
    for (int32_t r = 0; r < g->in_rows; r++) {
        const int32_t pr = r + g->pr;
        if (pr < 0 || pr >= g->hs) continue;
        const int8_t *src = img + (size_t)r * g->in_row_step + c;
        int8_t *dst = plane + pr * g->ws + g->pp;
        for (int32_t x = x0; x < x1; x += 8) {
            const mve_pred16_t m = vctp16q((uint32_t)(x1 - x));
            vstrbq_p_s16(dst + x, vldrbq_gather_offset_z_s16(src + (size_t)x * g->in_px_step, offs, m), m);
        }
    }
}

/* The 9 taps of a channel (int8 at W, a register name) into r4-r12, sign-extended. */
#define TS_DW_LOAD_TAPS(W)                                                                             \
    "ldrsb r4, [" W ", #0]\n\t" "ldrsb r5, [" W ", #1]\n\t" "ldrsb r6, [" W ", #2]\n\t"                \
    "ldrsb r7, [" W ", #3]\n\t" "ldrsb r8, [" W ", #4]\n\t" "ldrsb r9, [" W ", #5]\n\t"                \
    "ldrsb r10, [" W ", #6]\n\t" "ldrsb r11, [" W ", #7]\n\t" "ldrsb r12, [" W ", #8]\n\t"

/* One vector of 4 outputs: q0 += the 3x3 taps (r4-r12) x the rows at r0, r1, r2 (each advanced by 4);
 * 9 VLDRB.S32 + 9 VMLA, q1 scratch. */
#define TS_DW_TAPS_3X3                                                                                 \
    "vldrb.s32 q1, [r0, #1]\n\t" "vmla.s32 q0, q1, r5\n\t"                                            \
    "vldrb.s32 q1, [r0, #2]\n\t" "vmla.s32 q0, q1, r6\n\t"                                            \
    "vldrb.s32 q1, [r0], #4\n\t" "vmla.s32 q0, q1, r4\n\t"                                            \
    "vldrb.s32 q1, [r1, #1]\n\t" "vmla.s32 q0, q1, r8\n\t"                                            \
    "vldrb.s32 q1, [r1, #2]\n\t" "vmla.s32 q0, q1, r9\n\t"                                            \
    "vldrb.s32 q1, [r1], #4\n\t" "vmla.s32 q0, q1, r7\n\t"                                            \
    "vldrb.s32 q1, [r2, #1]\n\t" "vmla.s32 q0, q1, r11\n\t"                                           \
    "vldrb.s32 q1, [r2, #2]\n\t" "vmla.s32 q0, q1, r12\n\t"                                           \
    "vldrb.s32 q1, [r2], #4\n\t" "vmla.s32 q0, q1, r10\n\t"

/* 3x3 taps of n vectors of 4 outputs: rows r0, r0 + ws, r0 + 2 ws (advancing by 4), sums -> acc (int32x4 each).
 * The taps live in r4-r12; per vector 9 VLDRB.S32 + 9 VMLA (GCC spills the taps: about 3x this). */
static void __attribute__((noinline)) taps3x3(const int8_t *row0, int32_t ws, const int8_t *w, int32_t n,
                                              int32_t *acc)
{
    register const int8_t *a0 __asm__("r0") = row0;
    register const int8_t *a1 __asm__("r1") = row0 + ws;
    register const int8_t *a2 __asm__("r2") = row0 + 2 * ws;
    register int32_t *out __asm__("r3") = acc;
    register int32_t cnt __asm__("lr") = n;
    register const int8_t *wr __asm__("r12") = w; /* the last tap overwrites it */
    __asm__ volatile(
        TS_DW_LOAD_TAPS("%[w]")
        "dls lr, lr\n"
        "1:\n\t"
        "vmov.i32 q0, #0\n\t"
        TS_DW_TAPS_3X3
        "vstrw.32 q0, [r3], #16\n\t"
        "le lr, 1b\n\t"
        : "+r"(a0), "+r"(a1), "+r"(a2), "+r"(out), "+r"(cnt), [w] "+r"(wr)
        :
        : "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11", "q0", "q1", "cc", "memory");
}

/* Arguments of fused3x3(): one channel, every output row. */
typedef struct {
    const int8_t *plane;  /* 0: the channel's plane (row 0, column 0 of the swept orientation) */
    int32_t ws;           /* 4: plane width */
    int32_t row_step;     /* 8: bytes from one output row's first input row to the next's */
    int8_t *out;          /* 12: the channel's first output */
    int32_t out_row_step; /* 16 */
    int32_t out_px_step;  /* 20 */
    int32_t out_rows;     /* 24, >= 1 */
    int32_t out_px;       /* 28, >= 1 */
    const int8_t *w;      /* 32: 16 int8 taps, then bias, multiplier, left shift (0), minus the right shift */
    int32_t zp;           /* 36: output zero point */
} fused_t;
TS_ASM_AT(fused_t, plane, 0); TS_ASM_AT(fused_t, ws, 4); TS_ASM_AT(fused_t, row_step, 8); TS_ASM_AT(fused_t, out, 12);
TS_ASM_AT(fused_t, out_row_step, 16); TS_ASM_AT(fused_t, out_px_step, 20); TS_ASM_AT(fused_t, out_rows, 24);
TS_ASM_AT(fused_t, out_px, 28); TS_ASM_AT(fused_t, w, 32); TS_ASM_AT(fused_t, zp, 36);

/* 3x3 taps and requantisation of one channel, every output row, in one tail-predicated loop per row
 * (DLSTP/LETP): per vector of 4 outputs 9 VLDRB.S32 + 9 VMLA by the taps (r4-r12), VQRDMULH by the
 * multiplier (r3), TFLite's rounding right shift (x + (x >> 31), VRSHL: round half away from zero, right
 * shift >= 1), + zero point, two saturating narrowings to int8 (the full int8 range: no clamp) and one
 * scattering store whose offsets (q2) are relative to the moving first row pointer: 29 instructions.
 * Q registers: q0 acc, q1 load, q2 store offsets, q3 minus the right shift, q4 scratch, q5 bias, q6 offset
 * step (4 outputs - 4 bytes), q7 zero point. Stack: [sp] next row 0, [sp+4] next output row, [sp+8] rows
 * left, [sp+12] ws, [sp+16..31] lane offsets (lane x out_px_step), [sp+32] row step, [sp+36] output row step,
 * [sp+40] out_px, [sp+44] multiplier. */
static void __attribute__((naked, noinline)) fused3x3(const fused_t *a)
{
    __asm__ volatile(
        "push {r4-r11, lr}\n\t"
        "vpush {d8-d15}\n\t"
        "sub sp, sp, #48\n\t"
        "ldr r1, [r0, #0]\n\t"
        "str r1, [sp, #0]\n\t"
        "ldr r1, [r0, #12]\n\t"
        "str r1, [sp, #4]\n\t"
        "ldr r1, [r0, #24]\n\t"
        "str r1, [sp, #8]\n\t"
        "ldr r1, [r0, #4]\n\t"
        "str r1, [sp, #12]\n\t"
        "ldr r1, [r0, #8]\n\t"
        "str r1, [sp, #32]\n\t"
        "ldr r1, [r0, #16]\n\t"
        "str r1, [sp, #36]\n\t"
        "ldr r1, [r0, #28]\n\t"
        "str r1, [sp, #40]\n\t"
        "ldr r1, [r0, #20]\n\t"        /* out_px_step */
        "movs r2, #0\n\t"
        "vidup.u32 q2, r2, #1\n\t"
        "vmul.i32 q2, q2, r1\n\t"
        "vstrw.32 q2, [sp, #16]\n\t"
        "lsls r2, r1, #2\n\t"
        "subs r2, r2, #4\n\t"
        "vdup.32 q6, r2\n\t"
        "ldr r2, [r0, #36]\n\t"
        "vdup.32 q7, r2\n\t"
        "ldr r2, [r0, #32]\n\t"        /* w */
        "ldr r3, [r2, #16]\n\t"
        "vdup.32 q5, r3\n\t"           /* bias */
        "ldr r3, [r2, #28]\n\t"
        "vdup.32 q3, r3\n\t"           /* minus the right shift */
        "ldr r3, [r2, #20]\n\t"        /* multiplier */
        "str r3, [sp, #44]\n\t"
        TS_DW_LOAD_TAPS("r2")
        "3:\n\t"                       /* ---- next output row */
        "ldr r0, [sp, #0]\n\t"
        "ldr r2, [sp, #12]\n\t"
        "add r1, r0, r2\n\t"
        "add r2, r1, r2\n\t"
        "ldr lr, [sp, #32]\n\t"
        "add lr, r0, lr\n\t"
        "str lr, [sp, #0]\n\t"
        "vldrw.u32 q2, [sp, #16]\n\t"
        "ldr lr, [sp, #4]\n\t"
        "ldr r3, [sp, #36]\n\t"
        "add r3, lr, r3\n\t"
        "str r3, [sp, #4]\n\t"
        "sub lr, lr, r0\n\t"
        "subs lr, lr, #4\n\t"          /* offsets from r0 after its post-increment */
        "vadd.i32 q2, q2, lr\n\t"
        "ldr r3, [sp, #44]\n\t"
        "ldr lr, [sp, #40]\n\t"
        "dlstp.32 lr, lr\n"
        "1:\n\t"
        "vmov q0, q5\n\t"
        TS_DW_TAPS_3X3
        "vqrdmulh.s32 q0, q0, r3\n\t"
        "vshr.s32 q4, q0, #31\n\t"
        "vadd.i32 q0, q0, q4\n\t"
        "vrshl.s32 q0, q0, q3\n\t"
        "vadd.i32 q0, q0, q7\n\t"
        "vqmovnb.s32 q0, q0\n\t"
        "vqmovnb.s16 q0, q0\n\t"
        "vstrb.32 q0, [r0, q2]\n\t"
        "vadd.i32 q2, q2, q6\n\t"
        "letp lr, 1b\n\t"
        "ldr lr, [sp, #8]\n\t"
        "subs lr, lr, #1\n\t"
        "str lr, [sp, #8]\n\t"
        "bne 3b\n\t"
        "add sp, sp, #48\n\t"
        "vpop {d8-d15}\n\t"
        "pop {r4-r11, pc}\n\t");
}

void ts_depthwise_conv_planar_s8(const ts_depthwise_conv_params_t *p, const int8_t *input, int8_t *output,
                                 void *scratch)
{
    const pg_t g = planar_geometry(p);
    const int32_t C = p->input.c;
    const int8_t zp = (int8_t)p->input_zero_point;
    const int32_t out_zp = p->output_zero_point;
    const int32x4_t lo = vdupq_n_s32(p->act_min), hi = vdupq_n_s32(p->act_max);
    int8_t *plane_buf = (int8_t *)scratch;
    const int k3 = g.kr == 3 && g.kp == 3 && g.dr == 1 && g.dp == 1;
    const uint32x4_t scat_out = vmulq_n_u32(vidupq_n_u32(0, 1), (uint32_t)g.out_px_step);
    for (int32_t b = 0; b < p->input.n; b++) {
        const int8_t *img = input + (size_t)b * p->input.h * p->input.w * C;
        int8_t *oimg = output + (size_t)b * p->output.h * p->output.w * C;
        if ((((const int32_t *)(const void *)p->weights)[0] & 2) && k3) { /* the fused loop, per channel */
            fused_t a = {plane_buf, g.ws, g.sr * g.ws, oimg, g.out_row_step, g.out_px_step, g.out_rows, g.out_px,
                         p->weights + 4, out_zp};
            for (int32_t c = 0; c < C; c++, a.out++, a.w += 32) {
                gather_plane(&g, img, c, zp, plane_buf);
                fused3x3(&a);
            }
            continue;
        }
        const int8_t *w = p->weights + 4;
        for (int32_t c = 0; c < C; c++, w += 32) {
            int32_t wt[16];
            for (int32_t t = 0; t < 16; t++) wt[t] = w[t];
            const int32_t w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3], w4 = w[4], w5 = w[5], w6 = w[6], w7 = w[7],
                          w8 = w[8];
            const int32_t *rq = (const int32_t *)(const void *)(w + 16);
            const int32_t bias = rq[0], mult = rq[1];
            const int32x4_t left = vdupq_n_s32(rq[2]), nr = vdupq_n_s32(rq[3]);
            gather_plane(&g, img, c, zp, plane_buf);
            const int8_t *pc = plane_buf;
            for (int32_t orow = 0; orow < g.out_rows; orow++) {
                const int8_t *base = pc + (size_t)orow * g.sr * g.ws;
                int8_t *out = oimg + (size_t)orow * g.out_row_step + c;
                if (k3 && g.out_px <= 4 * 64) { /* the taps in assembly, then the requantisation */
                    int32_t acc[4 * 64];
                    const int32_t nv = (g.out_px + 3) >> 2;
                    taps3x3(base, g.ws, w, nv, acc);
                    for (int32_t x = 0, j = 0; x < g.out_px; x += 4, j += 4, out += 4 * g.out_px_step) {
                        int32x4_t v = vqrdmulhq_n_s32(vshlq_s32(vaddq_n_s32(vld1q_s32(acc + j), bias), left), mult);
                        v = vrshlq_s32(vqaddq_s32(v, vshrq_n_s32(vandq_s32(v, nr), 31)), nr);
                        v = vminq_s32(vmaxq_s32(vaddq_n_s32(v, out_zp), lo), hi);
                        vstrbq_scatter_offset_p_s32(out, scat_out, v, vctp32q((uint32_t)(g.out_px - x)));
                    }
                    continue;
                }
                for (int32_t x = 0; x < g.out_px; x += 4, base += 4, out += 4 * g.out_px_step) {
                    int32x4_t acc = vdupq_n_s32(bias);
                    if (k3) { /* 3x3 without dilation: the taps in registers, no loop */
                        const int8_t *r1 = base + g.ws, *r2 = base + 2 * g.ws;
                        acc = vmlaq_n_s32(acc, vldrbq_s32(base), w0);
                        acc = vmlaq_n_s32(acc, vldrbq_s32(base + 1), w1);
                        acc = vmlaq_n_s32(acc, vldrbq_s32(base + 2), w2);
                        acc = vmlaq_n_s32(acc, vldrbq_s32(r1), w3);
                        acc = vmlaq_n_s32(acc, vldrbq_s32(r1 + 1), w4);
                        acc = vmlaq_n_s32(acc, vldrbq_s32(r1 + 2), w5);
                        acc = vmlaq_n_s32(acc, vldrbq_s32(r2), w6);
                        acc = vmlaq_n_s32(acc, vldrbq_s32(r2 + 1), w7);
                        acc = vmlaq_n_s32(acc, vldrbq_s32(r2 + 2), w8);
                    } else {
                        for (int32_t kr = 0, t = 0; kr < g.kr; kr++) {
                            const int8_t *rowp = base + (size_t)kr * g.dr * g.ws;
                            for (int32_t kp = 0; kp < g.kp; kp++, t++)
                                acc = vmlaq_n_s32(acc, vldrbq_s32(rowp + kp * g.dp), wt[t]);
                        }
                    }
                    int32x4_t v = vqrdmulhq_n_s32(vshlq_s32(acc, left), mult);
                    v = vrshlq_s32(vqaddq_s32(v, vshrq_n_s32(vandq_s32(v, nr), 31)), nr);
                    v = vminq_s32(vmaxq_s32(vaddq_n_s32(v, out_zp), lo), hi);
                    vstrbq_scatter_offset_p_s32(out, scat_out, v, vctp32q((uint32_t)(g.out_px - x)));
                }
            }
        }
    }
}
