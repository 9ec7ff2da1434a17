/* The frame's shift from its energy, Armv7E-M (same integer as the portable ts_fe_frame_shift): SMLALD
 * adds both squares of a packed int16 pair into the 64-bit sum; four words (8 samples) per iteration with
 * LDM when the frame is word aligned, with LDR (which may be unaligned) when it is not. */
#include "ts/fe.h"
#include "../ts_fe_internal.h"

#if !defined(__ARM_FEATURE_DSP)
#error "firmware/src/fe/armv7em needs the DSP extension (Armv7E-M): build the portable stages instead"
#endif

static inline uint64_t smlald(uint64_t acc, uint32_t a)
{
    __asm("smlald %Q0, %R0, %1, %1" : "+r"(acc) : "r"(a));
    return acc;
}

int32_t ts_fe_frame_shift(const int16_t *x, int32_t n)
{
    uint64_t e = 0; /* sum x^2 <= 4096 * 2^30 */
    const int16_t *end = x + n; /* n is a multiple of 8 (n_fft >= 256) */
    if (((uintptr_t)x & 3u) == 0) {
        for (const uint32_t *p = (const uint32_t *)(const void *)x; p < (const uint32_t *)(const void *)end;) {
            uint32_t a, b, c, d;
            __asm volatile("ldmia %0!, {%1, %2, %3, %4}" : "+r"(p), "=r"(a), "=r"(b), "=r"(c), "=r"(d) : : "memory");
            e = smlald(smlald(smlald(smlald(e, a), b), c), d);
        }
    } else {
        for (const int16_t *p = x; p < end; p += 8) {
            uint32_t a, b, c, d;
            __builtin_memcpy(&a, p, 4);
            __builtin_memcpy(&b, p + 2, 4);
            __builtin_memcpy(&c, p + 4, 4);
            __builtin_memcpy(&d, p + 6, 4);
            e = smlald(smlald(smlald(smlald(e, a), b), c), d);
        }
    }
    return ts_fe_shift_of_energy(e);
}
