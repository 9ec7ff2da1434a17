/* MAX_POOL_2D, int8, Helium (same numerics as the reference ts_max_pool_s8): 16 channels per vector, VMAX
 * over the window clipped to the input, the activation clamp, the last channels tail-predicated. */
#include "ts_pool_common.h"
#include "ts/nn.h"
#include "ts_mve.h"

static void window(const ts_pool_window_t *w, const ts_pool_params_t *p, void *ctx)
{
    (void)ctx;
    const int8x16_t lo = vdupq_n_s8((int8_t)p->act_min), hi = vdupq_n_s8((int8_t)p->act_max);
    for (int32_t c = 0; c < w->depth; c += 16) {
        const mve_pred16_t m = vctp8q((uint32_t)(w->depth - c));
        int8x16_t v = vdupq_n_s8(INT8_MIN); /* an empty window gives INT8_MIN, as the reference */
        for (int32_t fy = 0; fy < w->ny; fy++) {
            const int8_t *r = w->win + (size_t)fy * w->line + c;
            for (int32_t fx = 0; fx < w->nx; fx++, r += w->depth) v = vmaxq_s8(v, vldrbq_z_s8(r, m));
        }
        vstrbq_p_s8(w->out + c, vminq_s8(vmaxq_s8(v, lo), hi), m);
    }
}

void ts_max_pool_s8(const ts_pool_params_t *p, const int8_t *input, int8_t *output)
{
    ts_pool_windows(p, input, output, window, 0);
}
