/* The stream formats of the Armv7E-M convolutions (see ts_armv7em_conv_channels): ts_armv7em_format_s8, the
 * int8 stream in flash ("s8 2ch x k4 + rq"), and ts_armv7em_format_s16, the stream widened into RAM
 * ("s16 2ch x k4 + rq", ts_armv7em_widen_stream). Each format, its functions and the assembly they call sit
 * in their own sections: an image links only the formats its kernels name. */
#include "ts/nn.h"
#include "ts_armv7em.h"

/* The channel function of one format: MAC, the SMLAD block out of line; MM, the assembly of the fast mode. */
#define FORMAT(NAME, WIDE, MAC, MM)                                                                              \
    static __attribute__((noinline)) void NAME##_mac(const int32_t *x, const int32_t **wp, int32_t n,           \
                                                     int32_t *acc)                                              \
    {                                                                                                            \
        MAC(x, wp, n, &acc[0], &acc[1], &acc[2], &acc[3]);                                                       \
    }                                                                                                            \
    static void NAME##_channels(int mode, const int32_t *col, int32_t n4, const int32_t *w, int32_t nch,         \
                                int8_t *out_a, int8_t *out_b, int32_t out_zp, int32_t act_min, int32_t act_max)  \
    {                                                                                                            \
        ts_armv7em_conv_channels(WIDE, MM, NAME##_mac, mode, col, n4, w, nch, out_a, out_b, out_zp, act_min,     \
                                 act_max);                                                                       \
    }                                                                                                            \
    const ts_armv7em_format_t NAME = {NAME##_channels, WIDE};

FORMAT(ts_armv7em_format_s8, 0, ts_armv7em_mac_2x2, ts_armv7em_mat_mult_2x2)
FORMAT(ts_armv7em_format_s16, 1, ts_armv7em_mac_2x2_s16, ts_armv7em_mat_mult_2x2_s16)
