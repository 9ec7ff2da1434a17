/* AVERAGE_POOL_2D, int8 (TFLite reference_integer_ops::AveragePool): the sum over the part of the window
 * inside the input, divided by its size with rounding half away from zero; no rescaling (TFLite requires
 * equal input and output quantisation). The per-channel sums are int32 scratch. */
#include "ts/nn.h"
#include "ts_pool_common.h"

int32_t ts_avg_pool_s8_get_buffer_size(const ts_pool_params_t *p)
{
    return p->input.c * (int32_t)sizeof(int32_t);
}

static void window(const ts_pool_window_t *w, const ts_pool_params_t *p, void *ctx)
{
    int32_t *sum = (int32_t *)ctx;
    for (int32_t c = 0; c < w->depth; c++) sum[c] = 0;
    for (int32_t fy = 0; fy < w->ny; fy++) {
        for (int32_t fx = 0; fx < w->nx; fx++) {
            const int8_t *in = w->win + (size_t)fy * w->line + (size_t)fx * w->depth;
            for (int32_t c = 0; c < w->depth; c++) sum[c] += in[c];
        }
    }
    ts_pool_average(sum, w->ny * w->nx, p, w->out, w->depth);
}

void ts_avg_pool_s8(const ts_pool_params_t *p, const int8_t *input, int8_t *output, void *scratch)
{
    ts_pool_windows(p, input, output, window, scratch);
}
