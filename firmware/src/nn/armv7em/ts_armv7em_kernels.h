/* Kernels that only the Armv7E-M family provides (and the Helium family, which overlays it): shape-specialised
 * variants the compiler chooses per layer (python/tinyscene/aot/fastkernels.py). Same conventions as ts/nn.h;
 * each kernel's weight layout is described at the top of its file. Private to the kernels and to the model
 * code the compiler generates for this family (which includes it as "armv7em/ts_armv7em_kernels.h"). */
#ifndef TS_ARMV7EM_KERNELS_H
#define TS_ARMV7EM_KERNELS_H

#include <stdint.h>

#include "ts/nn.h"

/* CONV_2D with a 1x1 filter, one group, no padding (any stride): no im2col. */
void ts_conv_1x1_s8(const ts_conv_params_t *p, const int8_t *input, int8_t *output, void *scratch);
int32_t ts_conv_1x1_s8_get_buffer_size(const ts_conv_params_t *p);

/* The convolutions above with their int8 weights widened once per call into the end of the scratch (the
 * compiler's choice where that fits in arena bytes free during the layer). */
void ts_conv_widened_s8(const ts_conv_params_t *p, const int8_t *input, int8_t *output, void *scratch);
int32_t ts_conv_widened_s8_get_buffer_size(const ts_conv_params_t *p);
void ts_conv_1x1_widened_s8(const ts_conv_params_t *p, const int8_t *input, int8_t *output, void *scratch);
int32_t ts_conv_1x1_widened_s8_get_buffer_size(const ts_conv_params_t *p);

/* CONV_2D with a 3x3 filter, stride 1, no dilation, one group: Winograd F(2x2, 3x3) in exact integers. */
void ts_conv_wino_s8(const ts_conv_params_t *p, const int8_t *input, int8_t *output, void *scratch);
int32_t ts_conv_wino_s8_get_buffer_size(const ts_conv_params_t *p);

/* DEPTHWISE_CONV_2D with a 3x3 filter, depth multiplier 1, no dilation, horizontal stride 1 or 2, left
 * padding <= 1. */
void ts_depthwise_conv_3x3_s8(const ts_depthwise_conv_params_t *p, const int8_t *input, int8_t *output,
                              void *scratch);
int32_t ts_depthwise_conv_3x3_s8_get_buffer_size(const ts_depthwise_conv_params_t *p);

/* ADD through lookup tables: table1[(uint8_t)x] + table2[(uint8_t)y] is 2 x (TFLite's rescaled input 1 +
 * rescaled input 2), computed offline; the output requantisation is one fast record (armv7em/ts_armv7em.h):
 * out = clamp(ssat8((SMMLAR(sum, output_multiplier, output_round) - (sum < 0)) >> output_shift)). Same
 * broadcasting as ts_add_s8; may run in place. */
typedef struct {
    ts_broadcast_t shape;
    const int32_t *table1;
    const int32_t *table2;
    int32_t output_multiplier, output_round, output_shift;
    int32_t act_min, act_max;
} ts_add_lut_params_t;

void ts_add_lut_s8(const ts_add_lut_params_t *p, const int8_t *input1, const int8_t *input2, int8_t *output);

#endif /* TS_ARMV7EM_KERNELS_H */
