/* The frame's shift k from its energy: sum x^2 < 2^b gives sqrt(sum x^2) < 2^ceil(b/2), and a radix-4
 * output of the FFT is at most 2 sqrt(sum |z|^2) <= 2^(ceil(b/2) + 13 + k) (Cauchy-Schwarz; the Q28
 * window is at most 1): k = 16 - ceil(b/2) keeps it below 2^29. Loud frames (k = 0) rely on the peak
 * bound instead (|x| <= 2^15). */
#include "ts/fe.h"
#include "ts_fe_internal.h"

int32_t ts_fe_frame_shift(const int16_t *x, int32_t n)
{
    uint64_t e = 0; /* sum x^2 <= 4096 * 2^30 = 2^42 */
    for (int32_t i = 0; i < n; i++) e += (uint64_t)((int32_t)x[i] * x[i]);
    return ts_fe_shift_of_energy(e);
}
