/* Support function of the Armv7E-M convolutions' widened variants (ts_conv_widened_s8, ts_conv_1x1_widened_s8):
 * the layer's int8 stream ("s8 2ch x k4 + rq", flash) -> the int16 one ("s16 2ch x k4 + rq", the kernel's
 * scratch), once per call. Per channel pair: the bias pair times fold, each group's two int8 words as the four
 * int16 pairs c0(k0,k2) c0(k1,k3) c1(k0,k2) c1(k1,k3) times fold (SXTB16, SXTB16 ROR 8; fold 2 carries the
 * doubling of the fast records, which the compiler checked fits), the two records copied. */
#include "ts/nn.h"
#include "ts_armv7em.h"

void ts_armv7em_widen_stream(const int32_t *src, int32_t pairs, int32_t n4, int32_t fold, int32_t *dst)
{
    for (int32_t pr = 0; pr < pairs; pr++) {
        dst[0] = fold * src[0];
        dst[1] = fold * src[1];
        src += 2, dst += 2;
        for (int32_t g = 0; g < n4; g++, src += 2, dst += 4) {
            const uint32_t w0 = (uint32_t)src[0], w1 = (uint32_t)src[1];
            uint32_t a = __sxtb16(w0), b = ts_armv7em_sxtb16_ror8(w0);
            uint32_t c = __sxtb16(w1), d = ts_armv7em_sxtb16_ror8(w1);
            if (fold == 2) a = __sadd16(a, a), b = __sadd16(b, b), c = __sadd16(c, c), d = __sadd16(d, d);
            dst[0] = (int32_t)a, dst[1] = (int32_t)b, dst[2] = (int32_t)c, dst[3] = (int32_t)d;
        }
        for (int32_t i = 0; i < 6; i++) dst[i] = src[i];
        src += 6, dst += 6;
    }
}
