/* The output channels of one 2-pixel column on the stream int8 ("s8 2ch x k4 + rq", in flash): the format
 * ts_armv7em_format_s8 of the Armv7E-M convolutions (see ts_armv7em_conv_channels). */
#include "ts/nn.h"
#include "ts_armv7em.h"

static __attribute__((noinline)) void mac(const int32_t *x, const int32_t **wp, int32_t n, int32_t *acc)
{
    ts_armv7em_mac_2x2(x, wp, n, &acc[0], &acc[1], &acc[2], &acc[3]);
}

static void channels(int mode, const int32_t *col, int32_t n4, const int32_t *w, int32_t nch, int8_t *out_a,
                     int8_t *out_b, int32_t out_zp, int32_t act_min, int32_t act_max)
{
    ts_armv7em_conv_channels(0, ts_armv7em_mat_mult_2x2, mac, mode, col, n4, w, nch, out_a, out_b, out_zp, act_min, act_max);
}

const ts_armv7em_format_t ts_armv7em_format_s8 = {channels, 0};
