/* AVERAGE_POOL_2D, int8, Helium (same numerics as the reference ts_avg_pool_s8): the window sums of 16 channels
 * per pass in two vectors of int16 lanes (VLDRB.S16 + VADD, 6 instructions per window pixel), over runs of
 * pixels (a window of whole input rows is one run), moved into int32 every 255 pixels so that the lanes cannot
 * overflow; then TFLite's rounded division per channel. */
#include "ts_pool_common.h"
#include "ts/nn.h"
#include "ts_mve.h"

int32_t ts_avg_pool_s8_get_buffer_size(const ts_pool_params_t *p)
{
    return p->input.c * (int32_t)sizeof(int32_t);
}

static void window(const ts_pool_window_t *w, const ts_pool_params_t *p, void *ctx)
{
    int32_t *sum = (int32_t *)ctx;
    const int32_t depth = w->depth;
    const int whole = w->nx * depth == w->line; /* whole rows: the window is one run of pixels */
    const int32_t runs = whole ? 1 : w->ny, run = whole ? w->ny * w->nx : w->nx;
    for (int32_t c = 0; c < depth; c += 16) {
        const int32_t left = depth - c;
        const mve_pred16_t m0 = vctp16q((uint32_t)left), m1 = vctp16q((uint32_t)(left > 8 ? left - 8 : 0));
        int32x4_t s0 = vdupq_n_s32(0), s1 = s0, s2 = s0, s3 = s0; /* channels c+2i, c+2i+1, c+8+2i, c+9+2i */
        for (int32_t r = 0; r < runs; r++) {
            const int8_t *px = w->win + (size_t)r * w->line + c;
            for (int32_t done = 0; done < run;) {
                const int32_t n = run - done < 255 ? run - done : 255;
                int16x8_t a0 = vdupq_n_s16(0), a1 = a0;
                for (int32_t i = 0; i < n; i++, px += depth) {
                    a0 = vaddq_s16(a0, vldrbq_z_s16(px, m0));
                    a1 = vaddq_s16(a1, vldrbq_z_s16(px + 8, m1));
                }
                s0 = vaddq_s32(s0, vmovlbq_s16(a0));
                s1 = vaddq_s32(s1, vmovltq_s16(a0));
                s2 = vaddq_s32(s2, vmovlbq_s16(a1));
                s3 = vaddq_s32(s3, vmovltq_s16(a1));
                done += n;
            }
        }
        int32_t e[16];
        vst1q_s32(e, s0), vst1q_s32(e + 4, s1), vst1q_s32(e + 8, s2), vst1q_s32(e + 12, s3);
        for (int32_t i = 0; i < 8 && c + 2 * i < depth; i++) {
            const int32_t h = i >> 2, j = i & 3; /* half of the 16 channels, lane */
            sum[c + 8 * h + 2 * j] = e[8 * h + j];
            if (c + 8 * h + 2 * j + 1 < depth) sum[c + 8 * h + 2 * j + 1] = e[8 * h + 4 + j];
        }
    }
    ts_pool_average(sum, w->ny * w->nx, p, w->out, depth);
}

void ts_avg_pool_s8(const ts_pool_params_t *p, const int8_t *input, int8_t *output, void *scratch)
{
    ts_pool_windows(p, input, output, window, scratch);
}
