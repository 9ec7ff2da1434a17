/* Mel filterbank from interval sums (portable C; armv7em/ and mve/ give the same integers). Between mel
 * points j and j + 1 lie the bins of interval j; a bin at position t (0 <= t < 1) there weighs t in the
 * rising edge of band j and 1 - t in the falling edge of band j - 1 (the slaney triangles, before their
 * norm, which the log stage adds as an offset). So per interval A = sum t P (t Q16: floor(sum / 2^16))
 * and B = sum P suffice: band m = A_m + (B_{m+1} - A_{m+1}). Sums of P are < 2^60 (Parseval). */
#include "ts/fe.h"

void ts_fe_mel_u64(const uint64_t *power, const uint16_t *mel_bin, const uint16_t *mel_t, int32_t n_mels,
                   uint64_t *mel)
{
    const uint16_t *t = mel_t;
    uint64_t prev_a = 0; /* A of the previous interval: the rising edge of band j - 1 */
    for (int32_t j = 0; j <= n_mels; j++) {
        uint64_t lo = 0, hi = 0, b = 0;
        for (int32_t k = mel_bin[j]; k < mel_bin[j + 1]; k++) {
            const uint64_t p = power[k];
            const uint32_t tk = *t++;
            lo += (uint64_t)(uint32_t)p * tk;         /* < 2^48 each */
            hi += (uint64_t)(uint32_t)(p >> 32) * tk; /* < 2^46 each */
            b += p;
        }
        /* A = floor(sum t P / 2^16), <= B */
        const uint64_t a = (hi << 16) + (lo >> 16);
        if (j > 0) mel[j - 1] = prev_a + (b - a);
        prev_a = a;
    }
}
