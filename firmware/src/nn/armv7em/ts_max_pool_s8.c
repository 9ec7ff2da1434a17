/* MAX_POOL_2D, int8, Armv7E-M DSP (same numerics as the reference ts_max_pool_s8): four channels per word,
 * the bytewise maximum by SSUB8 + SEL; the window clipped to the input as TFLite does. */
#include "ts/nn.h"
#include "ts_armv7em.h"

TS_ARMV7EM_ALWAYS_INLINE void pool(const ts_pool_params_t *p, const int8_t *input, int8_t *output, int clamp)
{
    const int32_t in_h = p->input.h, in_w = p->input.w, depth = p->input.c;
    const int32_t out_h = p->output.h, out_w = p->output.w;
    const int32_t d4 = depth & ~3;
    const uint32_t lo4 = 0x01010101u * (uint8_t)p->act_min, hi4 = 0x01010101u * (uint8_t)p->act_max;
    const int32_t line = in_w * depth;
    for (int32_t b = 0; b < p->input.n; b++) {
        for (int32_t oy = 0; oy < out_h; oy++) {
            int32_t iy0, fy0, fy1;
            ts_pool_span(oy, p->stride_h, p->pad_top, p->filter_h, in_h, &iy0, &fy0, &fy1);
            for (int32_t ox = 0; ox < out_w; ox++) {
                int32_t ix0, fx0, fx1;
                ts_pool_span(ox, p->stride_w, p->pad_left, p->filter_w, in_w, &ix0, &fx0, &fx1);
                const int8_t *win = input + ((size_t)(b * in_h + iy0 + fy0) * in_w + ix0 + fx0) * depth;
                const int32_t ny = fy1 - fy0, nx = fx1 - fx0;
                int8_t *out = output + ((size_t)(b * out_h + oy) * out_w + ox) * depth;
                if (ny == 2 && nx == 2) { /* the usual 2x2 window */
                    for (int32_t c = 0; c < d4; c += 4) {
                        uint32_t m = ts_armv7em_max8(ts_armv7em_read32(win + c), ts_armv7em_read32(win + depth + c));
                        m = ts_armv7em_max8(m, ts_armv7em_max8(ts_armv7em_read32(win + line + c), ts_armv7em_read32(win + line + depth + c)));
                        if (clamp) m = ts_armv7em_min8(ts_armv7em_max8(m, lo4), hi4);
                        ts_armv7em_write32(out + c, m);
                    }
                } else {
                    for (int32_t c = 0; c < d4; c += 4) {
                        uint32_t m = 0x80808080u;
                        for (int32_t fy = 0; fy < ny; fy++) {
                            const int8_t *r = win + (size_t)fy * line + c;
                            for (int32_t fx = 0; fx < nx; fx++) m = ts_armv7em_max8(ts_armv7em_read32(r + fx * depth), m);
                        }
                        if (clamp) m = ts_armv7em_min8(ts_armv7em_max8(m, lo4), hi4);
                        ts_armv7em_write32(out + c, m);
                    }
                }
                for (int32_t c = d4; c < depth; c++) {
                    int32_t m = INT8_MIN;
                    for (int32_t fy = 0; fy < ny; fy++)
                        for (int32_t fx = 0; fx < nx; fx++) {
                            const int32_t v = win[(size_t)fy * line + fx * depth + c];
                            m = v > m ? v : m;
                        }
                    out[c] = (int8_t)ts_clamp_i32(m, p->act_min, p->act_max);
                }
            }
        }
    }
}

void ts_max_pool_s8(const ts_pool_params_t *p, const int8_t *input, int8_t *output)
{
    if (p->act_min > INT8_MIN || p->act_max < INT8_MAX) {
        pool(p, input, output, 1);
    } else {
        pool(p, input, output, 0);
    }
}
