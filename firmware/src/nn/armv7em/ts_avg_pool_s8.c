/* AVERAGE_POOL_2D, int8, Armv7E-M DSP (same numerics as the reference ts_avg_pool_s8): the window sums of
 * eight channels at a time in int16 halves (SXTAB16 adds two sign-extended bytes per instruction), moved
 * into int32 every 254 window pixels so that the halves cannot overflow (a window of whole input rows is one
 * run of pixels), then four, then one; then TFLite's rounded division. */
#include "ts/nn.h"
#include "ts_armv7em.h"
#include "ts_pool_common.h"

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

/* n pixels (channels c..c+7 at px, `depth` bytes apart) into the int16 halves, two pixels per pass. */
TS_ARMV7EM_ALWAYS_INLINE const int8_t *add8(const int8_t *px, int32_t n, int32_t depth, uint32_t h[4])
{
    uint32_t h02 = h[0], h13 = h[1], h46 = h[2], h57 = h[3];
    const int8_t *const end = px + (size_t)(n & ~1) * depth;
    for (; px != end; px += 2 * depth) {
        const uint32_t v = ts_armv7em_read32(px), u = ts_armv7em_read32(px + 4);
        const uint32_t v2 = ts_armv7em_read32(px + depth), u2 = ts_armv7em_read32(px + depth + 4);
        h02 = __sxtab16(__sxtab16(h02, v), v2);
        h13 = ts_armv7em_sxtab16_ror8(ts_armv7em_sxtab16_ror8(h13, v), v2);
        h46 = __sxtab16(__sxtab16(h46, u), u2);
        h57 = ts_armv7em_sxtab16_ror8(ts_armv7em_sxtab16_ror8(h57, u), u2);
    }
    if (n & 1) {
        const uint32_t v = ts_armv7em_read32(px), u = ts_armv7em_read32(px + 4);
        h02 = __sxtab16(h02, v);
        h13 = ts_armv7em_sxtab16_ror8(h13, v);
        h46 = __sxtab16(h46, u);
        h57 = ts_armv7em_sxtab16_ror8(h57, u);
        px += depth;
    }
    h[0] = h02, h[1] = h13, h[2] = h46, h[3] = h57;
    return px;
}

static void window(const ts_pool_window_t *w, const ts_pool_params_t *p, void *ctx)
{
    const int32_t depth = w->depth, d4 = depth & ~3, ny = w->ny, nx = w->nx, line = w->line;
    const int8_t *const win = w->win;
    int32_t *sum = (int32_t *)ctx;
    const int whole = nx * depth == line; /* whole input rows: the window is one run of pixels */
    const int32_t runs = whole ? 1 : ny, run = whole ? ny * nx : nx;
    int32_t c = 0;
    for (; c + 8 <= depth; c += 8) { /* 8 channels per pass, the halves moved into int32 every 254 pixels */
        int32_t s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        uint32_t h[4] = {0, 0, 0, 0};
        int32_t n = 0;
        for (int32_t r = 0; r < runs; r++) {
            const int8_t *px = win + (size_t)r * line + c;
            for (int32_t left = run; left > 0;) {
                if (n == 254) {
                    flush8(s, h[0], h[1], h[2], h[3]);
                    h[0] = h[1] = h[2] = h[3] = 0, n = 0;
                }
                const int32_t k = left < 254 - n ? left : 254 - n;
                px = add8(px, k, depth, h);
                n += k, left -= k;
            }
        }
        flush8(s, h[0], h[1], h[2], h[3]);
        for (int32_t i = 0; i < 8; i++) sum[c + i] = s[i];
    }
    for (; c < d4; c += 4) {
        int32_t s4[4] = {0, 0, 0, 0};
        for (int32_t fy = 0; fy < ny; fy++) ts_armv7em_sum4(win + (size_t)fy * line + c, nx, depth, s4);
        sum[c] = s4[0], sum[c + 1] = s4[1], sum[c + 2] = s4[2], sum[c + 3] = s4[3];
    }
    for (; c < depth; c++) {
        int32_t s = 0;
        for (int32_t fy = 0; fy < ny; fy++)
            for (int32_t fx = 0; fx < nx; fx++) s += win[(size_t)fy * line + (size_t)fx * depth + c];
        sum[c] = s;
    }
    ts_pool_average(sum, ny * nx, p, w->out, depth);
}

void ts_avg_pool_s8(const ts_pool_params_t *p, const int8_t *input, int8_t *output, void *scratch)
{
    ts_pool_windows(p, input, output, window, scratch);
}
