/* MAX_POOL_2D, int8, Armv7E-M DSP (same numerics as the reference ts_max_pool_s8): four channels per word,
 * the bytewise maximum by SSUB8 + SEL; the window clipped to the input as TFLite does. */
#include "ts/nn.h"
#include "ts_armv7em.h"
#include "ts_pool_common.h"

TS_ARMV7EM_ALWAYS_INLINE void window(const ts_pool_window_t *w, const ts_pool_params_t *p, int clamp)
{
    const int32_t depth = w->depth, d4 = depth & ~3, ny = w->ny, nx = w->nx, line = w->line;
    const int8_t *const win = w->win;
    int8_t *const out = w->out;
    const uint32_t lo4 = 0x01010101u * (uint8_t)p->act_min, hi4 = 0x01010101u * (uint8_t)p->act_max;
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

static void window_clamped(const ts_pool_window_t *w, const ts_pool_params_t *p, void *ctx)
{
    (void)ctx;
    window(w, p, 1);
}

static void window_plain(const ts_pool_window_t *w, const ts_pool_params_t *p, void *ctx)
{
    (void)ctx;
    window(w, p, 0);
}

void ts_max_pool_s8(const ts_pool_params_t *p, const int8_t *input, int8_t *output)
{
    const int clamp = p->act_min > INT8_MIN || p->act_max < INT8_MAX;
    ts_pool_windows(p, input, output, clamp ? window_clamped : window_plain, 0);
}
