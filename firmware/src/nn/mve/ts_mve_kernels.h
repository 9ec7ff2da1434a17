/* Kernels that only the Helium family provides, beside the Armv7E-M ones it overlays. Private to the kernels
 * and to the model code the compiler generates for this family (which includes it as "mve/ts_mve_kernels.h"). */
#ifndef TS_MVE_KERNELS_H
#define TS_MVE_KERNELS_H

#include <stdint.h>

#include "../armv7em/ts_armv7em_kernels.h"
#include "ts/nn.h"

/* DEPTHWISE_CONV_2D, depth multiplier 1, at most 16 taps, stride 1 along the sweep (Helium): padded channel
 * planes (the scratch), 4 outputs per vector. */
void ts_depthwise_conv_planar_s8(const ts_depthwise_conv_params_t *p, const int8_t *input, int8_t *output,
                                 void *scratch);
int32_t ts_depthwise_conv_planar_s8_get_buffer_size(const ts_depthwise_conv_params_t *p);

#endif /* TS_MVE_KERNELS_H */
