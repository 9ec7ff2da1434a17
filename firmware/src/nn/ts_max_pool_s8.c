/* MAX_POOL_2D, int8 (TFLite reference_integer_ops::MaxPool): the window is clipped to the input. */
#include "ts/nn.h"
#include "ts_pool_common.h"

static void window(const ts_pool_window_t *w, const ts_pool_params_t *p, void *ctx)
{
    (void)ctx;
    int8_t *out = w->out;
    for (int32_t c = 0; c < w->depth; c++) out[c] = INT8_MIN;
    for (int32_t fy = 0; fy < w->ny; fy++) {
        for (int32_t fx = 0; fx < w->nx; fx++) {
            const int8_t *in = w->win + (size_t)fy * w->line + (size_t)fx * w->depth;
            for (int32_t c = 0; c < w->depth; c++) out[c] = in[c] > out[c] ? in[c] : out[c];
        }
    }
    for (int32_t c = 0; c < w->depth; c++) out[c] = (int8_t)ts_clamp_i32(out[c], p->act_min, p->act_max);
}

void ts_max_pool_s8(const ts_pool_params_t *p, const int8_t *input, int8_t *output)
{
    ts_pool_windows(p, input, output, window, 0);
}
