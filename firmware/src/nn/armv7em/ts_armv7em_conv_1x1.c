/* The Armv7E-M 1x1 convolution (no padding, any stride, one group; support of ts_conv_1x1_s8 and
 * ts_conv_1x1_widened_s8): no im2col.
 *
 * Two output pixels at a time: their input pixels (in_c int8 each) are widened side by side into the
 * interleaved 2-pixel column, then every pair of output channels is one 2x2 SMLAD block and the
 * requantisation of its four results (see ts_conv_s8 for the weight layout, which is the same with k =
 * in_c). Scratch: the 2-pixel column, 16 ceil(in_c / 4) bytes. */
#include "ts/nn.h"
#include "ts_armv7em.h"

int32_t ts_armv7em_conv_1x1_scratch(const ts_conv_params_t *p)
{
    return 16 * ((p->input.c + 3) >> 2);
}

void ts_armv7em_conv_1x1(const ts_conv_params_t *p, const int8_t *input, int8_t *output, void *scratch,
                         const int32_t *w, const ts_armv7em_format_t *format, int32_t c0, int32_t nch)
{
    const int mode = ts_armv7em_rq_mode(&p->requant, p->act_min, p->act_max);
    const int32_t in_h = p->input.h, in_w = p->input.w, in_c = p->input.c;
    const int32_t out_h = p->output.h, out_w = p->output.w, out_c = p->output.c;
    const int32_t n4 = (in_c + 3) >> 2;
    const int32_t npix = p->input.n * out_h * out_w;
    const int contiguous = p->stride_h == 1 && p->stride_w == 1;
    int32_t *col = (int32_t *)scratch;
    const size_t step_x = (size_t)p->stride_w * in_c, step_y = (size_t)p->stride_h * in_w * in_c;
    const size_t step_b = (size_t)in_h * in_w * in_c;
    const int8_t *row = input, *src = input; /* the next pixel: its input row (of strides) and itself */
    int32_t b = 0, oy = 0, ox = 0;
    for (int32_t pix = 0; pix < npix; pix += 2) {
        const int8_t *a = src, *bb = src; /* an unpaired last pixel fills both lanes */
        for (int32_t k = 0; k < 2 && pix + k < npix; k++) {
            if (k) bb = src;
            if (contiguous) {
                src += in_c;
            } else if (++ox < out_w) {
                src += step_x;
            } else {
                ox = 0;
                if (++oy < out_h) {
                    row += step_y;
                } else {
                    oy = 0;
                    row = input + (size_t)(++b) * step_b;
                }
                src = row;
            }
        }
        int8_t *out_a = output + (size_t)pix * out_c + c0;
        ts_armv7em_widen2(a, bb, in_c, col);
        format->channels(mode, col, n4, w, nch, out_a, pix + 1 < npix ? out_a + out_c : out_a,
                            p->output_zero_point, p->act_min, p->act_max);
    }
}
