/* Helium front-end internals shared by the mve/ stage files. The Helium build keeps the sample history
 * interleaved as it arrives ([history][channels], ts_fe_push_hop), so a hop is one block copy; the stages
 * read a channel's frame with a stride. */
#ifndef TS_FE_MVE_H
#define TS_FE_MVE_H

#include <stdint.h>

/* ts_fe_cfft_q31 of the frame x[0], x[stride], x[2 stride], ... */
void ts_fe_mve_cfft(const int16_t *x, int32_t stride, const int32_t *window, const int32_t *twiddle,
                    int32_t n_fft, int32_t k, int32_t *buf);
/* ts_fe_frame_shift of each channel of n interleaved frames (channels 1 or 2) into k[channels]. */
void ts_fe_mve_shifts(const int16_t *x, int32_t n, int32_t channels, int32_t *k);

#endif /* TS_FE_MVE_H */
