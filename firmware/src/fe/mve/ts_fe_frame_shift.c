/* The frame's shift from its energy, Helium (same integer as the portable ts_fe_frame_shift): eight
 * samples per VLDRH (writeback) and one VMLALDAVA (sum of x^2 into a 64-bit accumulator), 64 samples per
 * low-overhead loop iteration (n, a power of two >= 256, is a multiple of 64). Both channels of an
 * interleaved stereo frame at once: VLD2 (left and right in two vectors), two VMLALDAVA. */
#include <arm_mve.h>

#include "ts/fe.h"
#include "../ts_fe_internal.h"
#include "fe_mve.h"

#if !defined(__ARM_FEATURE_MVE)
#error "firmware/src/fe/mve needs Helium (MVE, -mcpu=cortex-m55): build the armv7em or portable stages instead"
#endif

#define STEP "vldrh.s16 q0, [%[p]], #16\n\t" "vmlaldava.s16 %Q[e], %R[e], q0, q0\n\t"

int32_t ts_fe_frame_shift(const int16_t *x, int32_t n)
{
    int64_t e = 0;
    const int16_t *p = x;
    int32_t count = n >> 6;
    __asm__ volatile("dls lr, %[c]\n\t"
                     "1:\n\t" STEP STEP STEP STEP STEP STEP STEP STEP
                     "le lr, 1b\n\t"
                     : [e] "+r"(e), [p] "+r"(p)
                     : [c] "r"(count)
                     : "q0", "lr", "memory");
    return ts_fe_shift_of_energy((uint64_t)e);
}

#define STEP2                                                                                      \
    "vld20.16 {q0, q1}, [%[p]]\n\t" "vld21.16 {q0, q1}, [%[p]]!\n\t"                                \
    "vmlaldava.s16 %Q[e0], %R[e0], q0, q0\n\t" "vmlaldava.s16 %Q[e1], %R[e1], q1, q1\n\t"

void ts_fe_mve_shifts(const int16_t *x, int32_t n, int32_t channels, int32_t *k)
{
    if (channels == 1) {
        k[0] = ts_fe_frame_shift(x, n);
        return;
    }
    int64_t e0 = 0, e1 = 0;
    const int16_t *p = x;
    int32_t count = n >> 5;
    __asm__ volatile("dls lr, %[c]\n\t"
                     "1:\n\t" STEP2 STEP2 STEP2 STEP2
                     "le lr, 1b\n\t"
                     : [e0] "+r"(e0), [e1] "+r"(e1), [p] "+r"(p)
                     : [c] "r"(count)
                     : "q0", "q1", "lr", "memory");
    k[0] = ts_fe_shift_of_energy((uint64_t)e0);
    k[1] = ts_fe_shift_of_energy((uint64_t)e1);
}
