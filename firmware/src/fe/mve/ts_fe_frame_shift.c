/* The frame's shift from its energy, Helium (same integer as the portable ts_fe_frame_shift): eight
 * samples per VLDRH and one VMLALDAVA (sum of x^2 into a 64-bit accumulator) per vector. */
#include <arm_mve.h>

#include "ts/fe.h"
#include "../ts_fe_internal.h"

#if !defined(__ARM_FEATURE_MVE)
#error "firmware/src/fe/mve needs Helium (MVE, -mcpu=cortex-m55): build the armv7em or portable stages instead"
#endif

int32_t ts_fe_frame_shift(const int16_t *x, int32_t n)
{
    int64_t e = 0; /* n is a multiple of 16 */
    for (const int16_t *p = x, *end = x + n; p < end; p += 16) {
        const int16x8_t a = vldrhq_s16(p), b = vldrhq_s16(p + 8);
        e = vmlaldavaq_s16(vmlaldavaq_s16(e, a, a), b, b);
    }
    return ts_fe_shift_of_energy((uint64_t)e);
}
