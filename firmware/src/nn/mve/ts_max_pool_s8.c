/* MAX_POOL_2D, int8, Helium (same numerics as the reference ts_max_pool_s8): 16 channels per vector, VMAX
 * over the window clipped to the input, the activation clamp, the last channels tail-predicated. */
#include "ts/nn.h"
#include "ts_mve.h"

void ts_max_pool_s8(const ts_pool_params_t *p, const int8_t *input, int8_t *output)
{
    const int32_t in_h = p->input.h, in_w = p->input.w, depth = p->input.c;
    const int32_t out_h = p->output.h, out_w = p->output.w;
    const int8x16_t lo = vdupq_n_s8((int8_t)p->act_min), hi = vdupq_n_s8((int8_t)p->act_max);
    const int32_t line = in_w * depth;
    for (int32_t b = 0; b < p->input.n; b++) {
        for (int32_t oy = 0; oy < out_h; oy++) {
            int32_t iy0, fy0, fy1;
            ts_pool_span(oy, p->stride_h, p->pad_top, p->filter_h, in_h, &iy0, &fy0, &fy1);
            for (int32_t ox = 0; ox < out_w; ox++) {
                int32_t ix0, fx0, fx1;
                ts_pool_span(ox, p->stride_w, p->pad_left, p->filter_w, in_w, &ix0, &fx0, &fx1);
                const int32_t ny = fy1 - fy0, nx = fx1 - fx0;
                const int8_t *win = input + ((size_t)(b * in_h + iy0 + fy0) * in_w + ix0 + fx0) * depth;
                int8_t *out = output + ((size_t)(b * out_h + oy) * out_w + ox) * depth;
                for (int32_t c = 0; c < depth; c += 16) {
                    const mve_pred16_t m = vctp8q((uint32_t)(depth - c));
                    int8x16_t v = vdupq_n_s8(INT8_MIN); /* an empty window gives INT8_MIN, as the reference */
                    for (int32_t fy = 0; fy < ny; fy++) {
                        const int8_t *r = win + (size_t)fy * line + c;
                        for (int32_t fx = 0; fx < nx; fx++, r += depth) v = vmaxq_s8(v, vldrbq_z_s8(r, m));
                    }
                    vstrbq_p_s8(out + c, vminq_s8(vmaxq_s8(v, lo), hi), m);
                }
            }
        }
    }
}
