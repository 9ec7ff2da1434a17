/* AVERAGE_POOL_2D, int8, Helium (same numerics as the reference ts_avg_pool_s8): the window sums of 8 channels
 * per vector in int16 lanes (VLDRB.S16 + VADD), moved into the int32 scratch every 255 window elements so that
 * the lanes cannot overflow; then TFLite's rounded division per channel. */
#include "ts/nn.h"
#include "ts_mve.h"

int32_t ts_avg_pool_s8_get_buffer_size(const ts_pool_params_t *p)
{
    return p->input.c * (int32_t)sizeof(int32_t);
}

void ts_avg_pool_s8(const ts_pool_params_t *p, const int8_t *input, int8_t *output, void *scratch)
{
    const int32_t in_h = p->input.h, in_w = p->input.w, depth = p->input.c;
    const int32_t out_h = p->output.h, out_w = p->output.w;
    int32_t *sum = (int32_t *)scratch;
    for (int32_t b = 0; b < p->input.n; b++) {
        for (int32_t oy = 0; oy < out_h; oy++) {
            int32_t iy0, fy0, fy1;
            ts_pool_span(oy, p->stride_h, p->pad_top, p->filter_h, in_h, &iy0, &fy0, &fy1);
            for (int32_t ox = 0; ox < out_w; ox++) {
                int32_t ix0, fx0, fx1;
                ts_pool_span(ox, p->stride_w, p->pad_left, p->filter_w, in_w, &ix0, &fx0, &fx1);
                const int32_t ny = fy1 - fy0, nx = fx1 - fx0;
                const int8_t *win = input + ((size_t)(b * in_h + iy0 + fy0) * in_w + ix0 + fx0) * depth;
                for (int32_t c = 0; c < depth; c += 8) {
                    const mve_pred16_t m = vctp16q((uint32_t)(depth - c));
                    int32x4_t lo = vdupq_n_s32(0), hi = vdupq_n_s32(0);
                    int16x8_t acc = vdupq_n_s16(0);
                    int32_t n = 0;
                    for (int32_t fy = 0; fy < ny; fy++) {
                        const int8_t *r = win + (size_t)fy * in_w * depth + c;
                        for (int32_t fx = 0; fx < nx; fx++, r += depth) {
                            acc = vaddq_s16(acc, vldrbq_z_s16(r, m));
                            if (++n == 255) {
                                lo = vaddq_s32(lo, vmovlbq_s16(acc));
                                hi = vaddq_s32(hi, vmovltq_s16(acc));
                                acc = vdupq_n_s16(0), n = 0;
                            }
                        }
                    }
                    lo = vaddq_s32(lo, vmovlbq_s16(acc)); /* channels c, c+2, c+4, c+6 */
                    hi = vaddq_s32(hi, vmovltq_s16(acc)); /* channels c+1, c+3, ... */
                    int32_t e[4], o[4];
                    vst1q_s32(e, lo);
                    vst1q_s32(o, hi);
                    for (int32_t i = 0; i < 4 && c + 2 * i < depth; i++) {
                        sum[c + 2 * i] = e[i];
                        if (c + 2 * i + 1 < depth) sum[c + 2 * i + 1] = o[i];
                    }
                }
                int32_t count = ny * nx;
                if (count <= 0) count = 1; /* empty window: cannot happen with SAME/VALID padding */
                int8_t *out = output + ((size_t)(b * out_h + oy) * out_w + ox) * depth;
                for (int32_t c = 0; c < depth; c++) {
                    const int32_t s = sum[c];
                    const int32_t avg = s > 0 ? (s + count / 2) / count : (s - count / 2) / count;
                    out[c] = (int8_t)ts_clamp_i32(avg, p->act_min, p->act_max);
                }
            }
        }
    }
}
