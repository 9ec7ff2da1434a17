/* Sparse mel filterbank: each band is a run of consecutive FFT bins with 16-bit weights scaled
 * per band (16 significant bits in narrow and wide bands alike). The 64-bit power is split in
 * halves (stored as low, high words) so that every product is exact in 64 bits:
 *   mel = ((sum w P_hi) 2^16 + (sum w P_lo) / 2^16) / 2^shift   (two truncations per band). */
#include "ts/fe.h"
#include "ts_fe_internal.h"

void ts_fe_mel_u64(const uint32_t *power, const uint16_t *start, const uint16_t *count, const uint16_t *weight,
                   const uint8_t *shift, int32_t n_mels, uint64_t *mel)
{
    const uint16_t *w = weight;
    for (int32_t m = 0; m < n_mels; m++) {
        const uint32_t *p = power + 2 * start[m];
        const uint16_t *wend = w + count[m];
        uint64_t hi = 0, lo = 0;
        while (w < wend) {
            uint32_t wk = *w++;
            /* the 64-bit power as its (low, high) words */
            lo = ts_fe_umlal(lo, p[0], wk); /* < 2^48 each, < 2^60 summed */
            hi = ts_fe_umlal(hi, p[1], wk); /* < 2^28 * 2^16 each */
            p += 2;
        }
        /* sum w P / 2^16: P units times Q(wexp + shift) weights, <= sum P < 2^62 */
        uint64_t acc = (hi << 16) + (lo >> 16);
        /* / 2^shift rounded: P units times Q(wexp) weights: mel 2^(wexp + 2e - 16) */
        int sh = shift[m];
        mel[m] = sh ? (acc + ((uint64_t)1 << (sh - 1))) >> sh : acc;
    }
}
