/* Streamed MEAN / global average pooling, per row: adds one row of the streamed tensor to the int32 sums of
 * the reduction (the row viewed as [outer, reduce, inner], the sums as [outer, inner]). Integer additions in
 * any order give the whole-tensor kernel's sums exactly (|sum| <= 128 x the reduced count fits int32). */
#include "ts/nn.h"

void ts_mean_accumulate_s8(const ts_mean_params_t *p, const int8_t *input, int32_t *sum)
{
    const int32_t reduce = p->reduce, inner = p->inner;
    for (int32_t o = 0; o < p->outer; o++) {
        const int8_t *in = input + (size_t)o * reduce * inner;
        int32_t *s = sum + (size_t)o * inner;
        for (int32_t r = 0; r < reduce; r++, in += inner) {
            for (int32_t i = 0; i < inner; i++) s[i] += in[i];
        }
    }
}
