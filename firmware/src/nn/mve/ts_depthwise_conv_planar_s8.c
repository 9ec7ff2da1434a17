/* DEPTHWISE_CONV_2D, depth multiplier 1, at most 16 taps, stride 1 along the sweep, Helium (same numerics as the
 * reference ts_depthwise_conv_s8, bit-exact).
 *
 * The input is copied once into channel planes of int8 with its padding made explicit (input zero points),
 * transposed when the compiler chose to sweep down the columns (tall narrow inputs: longer vectors); the
 * copy scatters 8 channels of a pixel per instruction (planes of at most 9362 bytes: 16-bit offsets). Then per channel, with its taps in general registers,
 * four neighbouring outputs at a time: per tap one widening load of 4 int8 (VLDRB.S32) and one vector-by-
 * scalar multiply-accumulate (VMLA), the vector requantisation with the channel's scalar constants, and a
 * scattering store into the NHWC output. About 2.5 instructions per multiply-accumulate less than one lane
 * of vector per channel group (ts_depthwise_conv_s8).
 *
 * Weights (compiler layout "dw planar s8 + rq"): a flags word (bit 0: transposed sweep), then per channel 16
 * int8 taps (row-major in the swept orientation, zero-padded) and 4 int32: bias, multiplier, left shift,
 * minus the right shift. Scratch: the planes, C x Hs x Ws bytes (the padded extent read). */
#include "ts/nn.h"
#include "ts/nn_mve.h"

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
    return p->input.c * g.hs * g.ws;
}

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
        "ldrsb r4, [%[w], #0]\n\t"
        "ldrsb r5, [%[w], #1]\n\t"
        "ldrsb r6, [%[w], #2]\n\t"
        "ldrsb r7, [%[w], #3]\n\t"
        "ldrsb r8, [%[w], #4]\n\t"
        "ldrsb r9, [%[w], #5]\n\t"
        "ldrsb r10, [%[w], #6]\n\t"
        "ldrsb r11, [%[w], #7]\n\t"
        "ldrsb r12, [%[w], #8]\n\t"
        "dls lr, lr\n"
        "1:\n\t"
        "vmov.i32 q0, #0\n\t"
        "vldrb.s32 q1, [r0, #1]\n\t"
        "vmla.s32 q0, q1, r5\n\t"
        "vldrb.s32 q1, [r0, #2]\n\t"
        "vmla.s32 q0, q1, r6\n\t"
        "vldrb.s32 q1, [r0], #4\n\t"
        "vmla.s32 q0, q1, r4\n\t"
        "vldrb.s32 q1, [r1, #1]\n\t"
        "vmla.s32 q0, q1, r8\n\t"
        "vldrb.s32 q1, [r1, #2]\n\t"
        "vmla.s32 q0, q1, r9\n\t"
        "vldrb.s32 q1, [r1], #4\n\t"
        "vmla.s32 q0, q1, r7\n\t"
        "vldrb.s32 q1, [r2, #1]\n\t"
        "vmla.s32 q0, q1, r11\n\t"
        "vldrb.s32 q1, [r2, #2]\n\t"
        "vmla.s32 q0, q1, r12\n\t"
        "vldrb.s32 q1, [r2], #4\n\t"
        "vmla.s32 q0, q1, r10\n\t"
        "vstrw.32 q0, [r3], #16\n\t"
        "le lr, 1b\n\t"
        : "+r"(a0), "+r"(a1), "+r"(a2), "+r"(out), "+r"(cnt), [w] "+r"(wr)
        :
        : "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11", "q0", "q1", "cc", "memory");
}

void ts_depthwise_conv_planar_s8(const ts_depthwise_conv_params_t *p, const int8_t *input, int8_t *output,
                                 void *scratch)
{
    const pg_t g = planar_geometry(p);
    const int32_t C = p->input.c, plane = g.hs * g.ws;
    const int8_t zp = (int8_t)p->input_zero_point;
    const int32_t out_zp = p->output_zero_point;
    const int32x4_t lo = vdupq_n_s32(p->act_min), hi = vdupq_n_s32(p->act_max);
    int8_t *planes = (int8_t *)scratch;
    const int k3 = g.kr == 3 && g.kp == 3 && g.dr == 1 && g.dp == 1;
    const uint32x4_t scat_out = vmulq_n_u32(vidupq_n_u32(0, 1), (uint32_t)g.out_px_step);
    for (int32_t b = 0; b < p->input.n; b++) {
        const int8_t *img = input + (size_t)b * p->input.h * p->input.w * C;
        int8_t *oimg = output + (size_t)b * p->output.h * p->output.w * C;
        /* the planes: zero points, then the input scattered in, 16 channels per store */
        ts_mve_fill(planes, zp, C * plane);
        const uint16x8_t offs = vmulq_n_u16(vidupq_n_u16(0, 1), (uint16_t)plane); /* lane i: plane i */
        for (int32_t r = 0; r < g.in_rows; r++) {
            const int32_t pr = r + g.pr;
            if (pr < 0 || pr >= g.hs) continue;
            for (int32_t x = 0; x < g.in_px; x++) {
                const int32_t px = x + g.pp;
                if (px < 0 || px >= g.ws) continue;
                const int8_t *src = img + (size_t)r * g.in_row_step + (size_t)x * g.in_px_step;
                int8_t *dst = planes + pr * g.ws + px;
                for (int32_t c = 0; c < C; c += 8) { /* 8 channels: one widening load, one scattering store */
                    const mve_pred16_t m = vctp16q((uint32_t)(C - c));
                    vstrbq_scatter_offset_p_s16(dst + (size_t)c * plane, offs, vldrbq_z_s16(src + c, m), m);
                }
            }
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
            const int8_t *pc = planes + (size_t)c * plane;
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
