/* DEPTHWISE_CONV_2D, int8, Helium, any shape (same numerics as the reference ts_depthwise_conv_s8, bit-exact).
 *
 * Eight output channels per vector: per tap, the input's 8 channels and the weights' are loaded widened to
 * int16 (VLDRB.S16), and VMULLB / VMULLT give the int32 products of the even and the odd channels, added
 * into two accumulators (two neighbouring output pixels at a time, sharing the weights' loads); taps in the padding use the input zero point (the folded bias cancels it). With a
 * depth multiplier m > 1, output channel c reads input channel c / m through a gathering load. The two
 * accumulators are requantised as vectors (ts_mve_requant) and narrowed back into channel order.
 *
 * Weights (compiler layout "dw s8 8ch + rq"): channels padded to a multiple of 8; per group of 8 channels the
 * kh kw taps' 8 int8 weights, then the requantisation constants of the even channels (4 x 4 int32: bias,
 * multiplier, left shift, minus the right shift) and of the odd ones. Scratch: a pixel of input zero points. */
#include "ts/nn.h"
#include "ts_mve.h"

/* Scratch: one pixel of input zero points (read by taps in the padding). */
int32_t ts_depthwise_conv_s8_get_buffer_size(const ts_depthwise_conv_params_t *p)
{
    return (p->input.c + 15) & ~15;
}

#define MAX_TAPS 64 /* filters with more taps take the slow path */

TS_MVE_ALWAYS_INLINE void finish(const int8_t *w, int32x4_t ae, int32x4_t ao, int32_t zp, int32x4_t lo, int32x4_t hi,
                                 int8_t *out, mve_pred16_t valid)
{
    const ts_mve_rq_t re = ts_mve_rq_load(w), ro = ts_mve_rq_load(w + 64);
    ae = ts_mve_requant(ae, &re, zp, lo, hi);
    ao = ts_mve_requant(ao, &ro, zp, lo, hi);
    int16x8_t y = vdupq_n_s16(0);
    y = vmovnbq_s32(y, ae);
    y = vmovntq_s32(y, ao);
    vstrbq_p_s16(out, y, valid);
}

void ts_depthwise_conv_s8(const ts_depthwise_conv_params_t *p, const int8_t *input, int8_t *output, void *scratch)
{
    const int32_t in_h = p->input.h, in_w = p->input.w, in_c = p->input.c;
    const int32_t kh = p->filter.h, kw = p->filter.w, taps = kh * kw;
    const int32_t out_h = p->output.h, out_w = p->output.w, out_c = p->output.c, m = p->depth_multiplier;
    const int32_t dh = p->dilation_h, dw = p->dilation_w;
    const int32_t group_bytes = 8 * taps + 128;
    const int16x8_t zp = vdupq_n_s16((int16_t)p->input_zero_point);
    const int32_t out_zp = p->output_zero_point;
    const int32x4_t lo = vdupq_n_s32(p->act_min), hi = vdupq_n_s32(p->act_max);
    int8_t *zrow = (int8_t *)scratch; /* in_c zero points: what a tap in the padding reads */
    ts_mve_fill(zrow, (int8_t)p->input_zero_point, in_c);
    const int8_t *tap[MAX_TAPS], *tap2[MAX_TAPS];
    const int fast = m == 1 && taps <= MAX_TAPS;
    for (int32_t b = 0; b < p->input.n; b++) {
        for (int32_t oy = 0; oy < out_h; oy++) {
            const int32_t iy0 = oy * p->stride_h - p->pad_top;
            for (int32_t ox = 0; ox < out_w; ox++) {
                const int32_t ix0 = ox * p->stride_w - p->pad_left;
                int8_t *out = output + ((size_t)(b * out_h + oy) * out_w + ox) * out_c;
                const int8_t *gw = p->weights;
                if (fast) { /* every tap reads through its pointer: the input pixel or the zero points */
                    const int pair = ox + 1 < out_w; /* two neighbouring outputs share the weight loads */
                    const int32_t ix1 = ix0 + p->stride_w;
                    for (int32_t ky = 0, t = 0; ky < kh; ky++) {
                        const int32_t iy = iy0 + ky * dh;
                        const int row_in = iy >= 0 && iy < in_h;
                        const int8_t *r = input + ((size_t)(b * in_h + iy) * in_w) * in_c;
                        for (int32_t kx = 0; kx < kw; kx++, t++) {
                            const int32_t ia = ix0 + kx * dw, ib = ix1 + kx * dw;
                            tap[t] = row_in && ia >= 0 && ia < in_w ? r + (size_t)ia * in_c : zrow;
                            tap2[t] = row_in && ib >= 0 && ib < in_w ? r + (size_t)ib * in_c : zrow;
                        }
                    }
                    for (int32_t c = 0; c < out_c; c += 8, gw += group_bytes) {
                        const mve_pred16_t valid = vctp16q((uint32_t)(out_c - c));
                        int32x4_t ae = vdupq_n_s32(0), ao = vdupq_n_s32(0);
                        int32x4_t be = vdupq_n_s32(0), bo = vdupq_n_s32(0);
                        const int8_t *w = gw;
                        if (pair && out_c - c >= 8) { /* a whole group: no predicate */
                            for (int32_t t = 0; t < taps; t++, w += 8) {
                                const int16x8_t wv = vldrbq_s16(w);
                                const int16x8_t x = vldrbq_s16(tap[t] + c);
                                const int16x8_t y = vldrbq_s16(tap2[t] + c);
                                ae = vaddq_s32(ae, vmullbq_int_s16(x, wv));
                                ao = vaddq_s32(ao, vmulltq_int_s16(x, wv));
                                be = vaddq_s32(be, vmullbq_int_s16(y, wv));
                                bo = vaddq_s32(bo, vmulltq_int_s16(y, wv));
                            }
                            finish(w, be, bo, out_zp, lo, hi, out + out_c + c, valid);
                        } else if (pair) {
                            for (int32_t t = 0; t < taps; t++, w += 8) {
                                const int16x8_t wv = vldrbq_s16(w);
                                const int16x8_t x = vldrbq_z_s16(tap[t] + c, valid);
                                const int16x8_t y = vldrbq_z_s16(tap2[t] + c, valid);
                                ae = vaddq_s32(ae, vmullbq_int_s16(x, wv));
                                ao = vaddq_s32(ao, vmulltq_int_s16(x, wv));
                                be = vaddq_s32(be, vmullbq_int_s16(y, wv));
                                bo = vaddq_s32(bo, vmulltq_int_s16(y, wv));
                            }
                            finish(w, be, bo, out_zp, lo, hi, out + out_c + c, valid);
                        } else {
                            for (int32_t t = 0; t < taps; t++, w += 8) {
                                const int16x8_t x = vldrbq_z_s16(tap[t] + c, valid);
                                const int16x8_t wv = vldrbq_s16(w);
                                ae = vaddq_s32(ae, vmullbq_int_s16(x, wv));
                                ao = vaddq_s32(ao, vmulltq_int_s16(x, wv));
                            }
                        }
                        finish(w, ae, ao, out_zp, lo, hi, out + c, valid);
                    }
                    ox += pair;
                    continue;
                }
                for (int32_t c = 0; c < out_c; c += 8, gw += group_bytes) {
                    uint16_t o[8]; /* lane i reads input channel (c + i) / m */
                    for (int32_t i = 0; i < 8; i++) o[i] = (uint16_t)((c + i) / m - c / m);
                    const uint16x8_t offs = vld1q_u16(o);
                    const mve_pred16_t valid = vctp16q((uint32_t)(out_c - c));
                    int32x4_t ae = vdupq_n_s32(0), ao = vdupq_n_s32(0);
                    const int8_t *w = gw;
                    for (int32_t ky = 0; ky < kh; ky++) {
                        const int32_t iy = iy0 + ky * dh;
                        for (int32_t kx = 0; kx < kw; kx++, w += 8) {
                            const int32_t ix = ix0 + kx * dw;
                            int16x8_t x = zp;
                            if (iy >= 0 && iy < in_h && ix >= 0 && ix < in_w) {
                                const int8_t *px = input + ((size_t)(b * in_h + iy) * in_w + ix) * in_c + c / m;
                                x = vldrbq_gather_offset_z_s16(px, offs, valid);
                            }
                            const int16x8_t wv = vldrbq_s16(w);
                            ae = vaddq_s32(ae, vmullbq_int_s16(x, wv));
                            ao = vaddq_s32(ao, vmulltq_int_s16(x, wv));
                        }
                    }
                    finish(w, ae, ao, out_zp, lo, hi, out + c, valid);
                }
            }
        }
    }
}
