/* PAD / PADV2 with a constant, int8, up to 6 dimensions: the output is written row by row (innermost
 * dimension), each row as before-padding, a copy of the input row, after-padding; whole padded rows and
 * planes are filled with the pad value. */
#include <string.h>

#include "ts/nn.h"

void ts_pad_s8(const ts_pad_params_t *p, const int8_t *input, int8_t *output)
{
    enum { D = TS_NN_MAX_DIMS };
    int32_t out_dims[D];
    for (int d = 0; d < D; d++) out_dims[d] = p->before[d] + p->dims[d] + p->after[d];
    const int8_t value = (int8_t)p->value;
    const int32_t row = out_dims[D - 1];
    int32_t rows = 1;
    for (int d = 0; d < D - 1; d++) rows *= out_dims[d];

    int32_t idx[D - 1] = {0};
    const int8_t *in = input;
    int8_t *out = output;
    for (int32_t r = 0; r < rows; r++) {
        int inside = 1;
        for (int d = 0; d < D - 1; d++) {
            if (idx[d] < p->before[d] || idx[d] >= p->before[d] + p->dims[d]) inside = 0;
        }
        if (inside) {
            memset(out, value, (size_t)p->before[D - 1]);
            memcpy(out + p->before[D - 1], in, (size_t)p->dims[D - 1]);
            memset(out + p->before[D - 1] + p->dims[D - 1], value, (size_t)p->after[D - 1]);
            in += p->dims[D - 1]; /* input rows are visited in order */
        } else {
            memset(out, value, (size_t)row);
        }
        out += row;
        for (int d = D - 2; d >= 0; d--) {
            if (++idx[d] < out_dims[d]) break;
            idx[d] = 0;
        }
    }
}
