/* AVERAGE_POOL_2D, int8, Armv7E-M DSP (same numerics as the reference ts_avg_pool_s8): the window sums of
 * four channels at a time in int16 halves (SXTAB16 adds two sign-extended bytes per instruction), flushed
 * into int32 every 255 window elements so that the halves cannot overflow (8 channels per pass, flushed
 * between window rows, or every 254 pixels when the window spans whole input rows: one contiguous run);
 * then TFLite's rounded division. */
#include "ts/nn.h"
#include "ts_armv7em.h"

int32_t ts_avg_pool_s8_get_buffer_size(const ts_pool_params_t *p)
{
    return p->input.c * (int32_t)sizeof(int32_t);
}

/* int16 halves -> int32 sums of channels 0..7 (h02: channels 0 and 2 ...). */
static inline void flush8(int32_t *s, uint32_t h02, uint32_t h13, uint32_t h46, uint32_t h57)
{
    s[0] += (int16_t)h02, s[2] += (int16_t)(h02 >> 16), s[1] += (int16_t)h13, s[3] += (int16_t)(h13 >> 16);
    s[4] += (int16_t)h46, s[6] += (int16_t)(h46 >> 16), s[5] += (int16_t)h57, s[7] += (int16_t)(h57 >> 16);
}

void ts_avg_pool_s8(const ts_pool_params_t *p, const int8_t *input, int8_t *output, void *scratch)
{
    const int32_t in_h = p->input.h, in_w = p->input.w, depth = p->input.c;
    const int32_t out_h = p->output.h, out_w = p->output.w;
    const int32_t d4 = depth & ~3;
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
                int32_t c = 0;
                if (nx == in_w && ny > 1) { /* whole input rows: one run of ny nx pixels, 255 per flush */
                    const int32_t total = ny * nx;
                    for (; c + 8 <= depth; c += 8) {
                        int32_t s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
                        const int8_t *r = win + c;
                        for (int32_t done = 0; done < total;) {
                            const int32_t n = total - done < 254 ? total - done : 254;
                            uint32_t h02 = 0, h13 = 0, h46 = 0, h57 = 0;
                            const int8_t *const end = r + (size_t)(n & ~1) * depth;
                            for (; r != end; r += 2 * depth) { /* two pixels per pass */
                                const uint32_t v = ts_armv7em_read32(r), u = ts_armv7em_read32(r + 4);
                                const uint32_t v2 = ts_armv7em_read32(r + depth), u2 = ts_armv7em_read32(r + depth + 4);
                                h02 = __sxtab16(__sxtab16(h02, v), v2);
                                h13 = ts_armv7em_sxtab16_ror8(ts_armv7em_sxtab16_ror8(h13, v), v2);
                                h46 = __sxtab16(__sxtab16(h46, u), u2);
                                h57 = ts_armv7em_sxtab16_ror8(ts_armv7em_sxtab16_ror8(h57, u), u2);
                            }
                            if (n & 1) {
                                const uint32_t v = ts_armv7em_read32(r), u = ts_armv7em_read32(r + 4);
                                h02 = __sxtab16(h02, v);
                                h13 = ts_armv7em_sxtab16_ror8(h13, v);
                                h46 = __sxtab16(h46, u);
                                h57 = ts_armv7em_sxtab16_ror8(h57, u);
                                r += depth;
                            }
                            flush8(s, h02, h13, h46, h57);
                            done += n;
                        }
                        for (int32_t i = 0; i < 8; i++) sum[c + i] = s[i];
                    }
                }
                if (nx <= 255 && c == 0) { /* whole rows between flushes: 8 channels per pass, no count in the loop */
                    for (; c + 8 <= depth; c += 8) {
                        int32_t s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
                        uint32_t h02 = 0, h13 = 0, h46 = 0, h57 = 0;
                        int32_t n = 0;
                        for (int32_t fy = 0; fy < ny; fy++) {
                            if (n + nx > 255) {
                                flush8(s, h02, h13, h46, h57);
                                h02 = h13 = h46 = h57 = 0, n = 0;
                            }
                            const int8_t *r = win + (size_t)fy * in_w * depth + c;
                            const int8_t *const end = r + (size_t)nx * depth;
                            for (; r != end; r += depth) {
                                const uint32_t v = ts_armv7em_read32(r), u = ts_armv7em_read32(r + 4);
                                h02 = __sxtab16(h02, v);
                                h13 = ts_armv7em_sxtab16_ror8(h13, v);
                                h46 = __sxtab16(h46, u);
                                h57 = ts_armv7em_sxtab16_ror8(h57, u);
                            }
                            n += nx;
                        }
                        flush8(s, h02, h13, h46, h57);
                        for (int32_t i = 0; i < 8; i++) sum[c + i] = s[i];
                    }
                }
                for (; c < d4; c += 4) {
                    int32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
                    uint32_t h02 = 0, h13 = 0; /* int16 partial sums: channels c, c+2 and c+1, c+3 */
                    int32_t n = 0;
                    for (int32_t fy = 0; fy < ny; fy++) {
                        const int8_t *r = win + (size_t)fy * in_w * depth + c;
                        for (int32_t fx = 0; fx < nx; fx++, r += depth) {
                            const uint32_t v = ts_armv7em_read32(r);
                            h02 = __sxtab16(h02, v);
                            h13 = ts_armv7em_sxtab16_ror8(h13, v);
                            if (++n == 255) {
                                s0 += (int16_t)h02, s2 += (int16_t)(h02 >> 16), s1 += (int16_t)h13,
                                    s3 += (int16_t)(h13 >> 16);
                                h02 = h13 = 0, n = 0;
                            }
                        }
                    }
                    sum[c] = s0 + (int16_t)h02, sum[c + 1] = s1 + (int16_t)h13;
                    sum[c + 2] = s2 + (int16_t)(h02 >> 16), sum[c + 3] = s3 + (int16_t)(h13 >> 16);
                }
                for (int32_t c = d4; c < depth; c++) {
                    int32_t s = 0;
                    for (int32_t fy = 0; fy < ny; fy++)
                        for (int32_t fx = 0; fx < nx; fx++) s += win[((size_t)fy * in_w + fx) * depth + c];
                    sum[c] = s;
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
