/* tinyscene int8 kernels (firmware/src/nn): TFLite-Micro's int8 numerics, called by the model code that
 * `tinyscene compile` generates.
 *
 * Conventions
 * - Names follow CMSIS-NN: ts_<op>_<variant>_<type>; one public function per file; a kernel that needs
 *   scratch memory has ts_<op>_..._get_buffer_size() in the same file (so that an optimized override of
 *   the file overrides both together). The compiler plans the scratch in the arena from its own table of
 *   sizes; the generated ts_model_check() compares it with these functions at start-up.
 * - Reference kernels are plain C; optimized versions live in src/nn/armv7em/ and src/nn/mve/ under the
 *   same file and function names, with the same numerics (bit-exact with the reference). This header declares
 *   what every build defines; the kernels only an optimized family has are declared in its private header
 *   (src/nn/armv7em/ts_armv7em_kernels.h, src/nn/mve/ts_mve_kernels.h).
 * - Every kernel takes a const parameter block (in flash, written by the compiler), its input and output
 *   tensors (arena pointers) and, if it needs one, a scratch pointer. Kernels cannot fail: shapes and
 *   options were checked by the compiler.
 * - Tensors are NHWC int8 (s8) unless named otherwise. "zero point" is the affine zero point of a
 *   tensor; multipliers are Q0.31 int32 with TFLite's shift convention (> 0: left, < 0: right).
 * - Weights are pre-packed by the compiler in the layout the chosen kernel declares (kernels.py,
 *   KernelVariant.weight_layout); the reference layouts are TFLite's own (OHWI, 1HWC, OI).
 * - Biases of CONV/DEPTHWISE/FULLY_CONNECTED are folded: bias[c] - input_zero_point * sum(weights of c),
 *   so the inner loops multiply raw int8 inputs; a padded input element counts as input_zero_point.
 */
#ifndef TS_NN_H
#define TS_NN_H

#include <stddef.h>
#include <stdint.h>

#define TS_NN_MAX_DIMS 6

/* Shape of an NHWC tensor (or of a filter: n = output channels). */
typedef struct {
    int32_t n, h, w, c;
} ts_dims_t;

/* Per-channel requantisation: out = clamp(MultiplyByQuantizedMultiplier(acc, multiplier[c], shift[c])
 * + output_zero_point, act_min, act_max). */
typedef struct {
    const int32_t *multiplier;
    const int32_t *shift;
} ts_requant_t;

/* ---- convolutions ------------------------------------------------------------------------------ */

typedef struct {
    ts_dims_t input;
    ts_dims_t filter; /* n = output channels, h x w kernel, c = input channels per group */
    ts_dims_t output;
    int32_t stride_h, stride_w;
    int32_t dilation_h, dilation_w;
    int32_t pad_top, pad_left; /* TFLite SAME/VALID padding, resolved by the compiler */
    int32_t input_zero_point;  /* value of a padded input element */
    int32_t output_zero_point;
    int32_t act_min, act_max;
    const int8_t *weights; /* reference layout OHWI */
    const int32_t *bias;   /* folded, one per output channel */
    ts_requant_t requant;
    int32_t flags; /* TS_CONV_* (0: the kernel's own choice) */
} ts_conv_params_t;

/* ts_conv_params_t.flags, for the optimized families (the compiler sets them from the room the arena has free
 * during the layer):
 * - TS_CONV_COMPACT: the smallest scratch (no rows of the input widened ahead);
 * - TS_CONV_STORED_TRANSFORM: the weights in flash are already in the kernel's computing form (Winograd's
 *   transformed weights, `--prefer speed`), else the kernel makes that form in its scratch;
 * - TS_CONV_CHUNK(n): output channel pairs made per pass in the scratch (0: all at once). */
#define TS_CONV_COMPACT 1
#define TS_CONV_STORED_TRANSFORM 2
#define TS_CONV_CHUNK(n) ((int32_t)(n) << 8)
#define TS_CONV_CHUNK_OF(flags) (((flags) >> 8) & 0xFFFF)

/* A 1x1 convolution whose every output pixel reads an input pixel (no padding on any side: a PAD fused
 * into the convolution can pad the bottom or the right only): kernels read the input rows in place. */
static inline int ts_conv_is_unpadded_1x1(const ts_conv_params_t *p)
{
    return p->filter.h == 1 && p->filter.w == 1 && p->input.c == p->filter.c && p->pad_top == 0
           && p->pad_left == 0 && (p->output.h - 1) * p->stride_h < p->input.h
           && (p->output.w - 1) * p->stride_w < p->input.w;
}

/* CONV_2D (and grouped convolution when filter.c < input.c). */
void ts_conv_s8(const ts_conv_params_t *p, const int8_t *input, int8_t *output, void *scratch);
int32_t ts_conv_s8_get_buffer_size(const ts_conv_params_t *p);

typedef struct {
    ts_dims_t input;
    ts_dims_t filter; /* n = 1, h x w kernel, c = output channels = input channels * depth_multiplier */
    ts_dims_t output;
    int32_t depth_multiplier;
    int32_t stride_h, stride_w;
    int32_t dilation_h, dilation_w;
    int32_t pad_top, pad_left;
    int32_t input_zero_point;
    int32_t output_zero_point;
    int32_t act_min, act_max;
    const int8_t *weights; /* reference layout 1HWC (TFLite's) */
    const int32_t *bias;   /* folded */
    ts_requant_t requant;
} ts_depthwise_conv_params_t;

/* DEPTHWISE_CONV_2D, any depth multiplier. */
void ts_depthwise_conv_s8(const ts_depthwise_conv_params_t *p, const int8_t *input, int8_t *output,
                          void *scratch);
int32_t ts_depthwise_conv_s8_get_buffer_size(const ts_depthwise_conv_params_t *p);

typedef struct {
    int32_t batches;     /* rows of the input */
    int32_t input_depth; /* accumulation depth */
    int32_t output_depth;
    int32_t input_zero_point; /* already folded into bias; kept for kernels that want it */
    int32_t output_zero_point;
    int32_t act_min, act_max;
    const int8_t *weights; /* reference layout OI (output_depth rows of input_depth) */
    const int32_t *bias;   /* folded */
    ts_requant_t requant;  /* per channel (a per-tensor scale is repeated) */
} ts_fully_connected_params_t;

/* FULLY_CONNECTED. */
void ts_fully_connected_s8(const ts_fully_connected_params_t *p, const int8_t *input, int8_t *output);

/* ---- element-wise binary ops with broadcasting ------------------------------------------------- */

/* The output is iterated over dims[0..5] (row-major); stride1/stride2 are the element strides of the two
 * inputs along each dim (0 where an input is broadcast). `broadcast` = 0: all three are flat arrays of
 * `size` elements. */
typedef struct {
    int32_t size;
    int32_t broadcast;
    int32_t dims[TS_NN_MAX_DIMS];
    int32_t stride1[TS_NN_MAX_DIMS];
    int32_t stride2[TS_NN_MAX_DIMS];
} ts_broadcast_t;

typedef struct {
    ts_broadcast_t shape;
    int32_t input1_offset, input2_offset; /* minus the zero points */
    int32_t left_shift;                   /* 20 for int8 */
    int32_t input1_multiplier, input1_shift;
    int32_t input2_multiplier, input2_shift;
    int32_t output_multiplier, output_shift;
    int32_t output_offset;
    int32_t act_min, act_max;
} ts_add_params_t;

/* ADD. May run in place (output == input1 or input2 where that input is not broadcast). */
void ts_add_s8(const ts_add_params_t *p, const int8_t *input1, const int8_t *input2, int8_t *output);

typedef struct {
    ts_broadcast_t shape;
    int32_t input1_offset, input2_offset;
    int32_t output_offset;
    int32_t output_multiplier, output_shift;
    int32_t act_min, act_max;
} ts_mul_params_t;

/* MUL. May run in place like ts_add_s8. */
void ts_mul_s8(const ts_mul_params_t *p, const int8_t *input1, const int8_t *input2, int8_t *output);

/* ---- pooling and reductions -------------------------------------------------------------------- */

typedef struct {
    ts_dims_t input;
    ts_dims_t output;
    int32_t filter_h, filter_w;
    int32_t stride_h, stride_w;
    int32_t pad_top, pad_left;
    int32_t act_min, act_max;
} ts_pool_params_t;

/* One axis of a pooling window clipped to the input (TFLite's rule): the window of output o starts at input
 * index *start (negative inside the padding); its taps [*first, *end) fall inside [0, size). */
static inline void ts_pool_span(int32_t o, int32_t stride, int32_t pad, int32_t filter, int32_t size,
                                int32_t *start, int32_t *first, int32_t *end)
{
    const int32_t i0 = o * stride - pad;
    *start = i0;
    *first = i0 < 0 ? -i0 : 0;
    *end = filter < size - i0 ? filter : size - i0;
}

/* MAX_POOL_2D. */
void ts_max_pool_s8(const ts_pool_params_t *p, const int8_t *input, int8_t *output);
/* AVERAGE_POOL_2D: the average of the window part inside the input, rounded half away from zero. */
void ts_avg_pool_s8(const ts_pool_params_t *p, const int8_t *input, int8_t *output, void *scratch);
int32_t ts_avg_pool_s8_get_buffer_size(const ts_pool_params_t *p);

/* MEAN over a contiguous block of axes: the input is viewed as [outer, reduce, inner]. */
typedef struct {
    int32_t outer, reduce, inner;
    int32_t input_zero_point, output_zero_point;
    int32_t multiplier, shift; /* in/out scale with 1/reduce folded in, as TFLite */
} ts_mean_params_t;

void ts_mean_s8(const ts_mean_params_t *p, const int8_t *input, int8_t *output, void *scratch);
int32_t ts_mean_s8_get_buffer_size(const ts_mean_params_t *p);

/* ---- activations and element-wise unary ops ----------------------------------------------------- */

typedef struct {
    int32_t outer, depth; /* softmax over the last axis (depth) */
    int32_t input_multiplier, input_left_shift;
    int32_t diff_min;
} ts_softmax_params_t;

/* SOFTMAX, int8 -> int8 (output zero point -128, scale 1/256). */
void ts_softmax_s8(const ts_softmax_params_t *p, const int8_t *input, int8_t *output);

typedef struct {
    int32_t size;
    int32_t input_zero_point;
    int32_t input_range_radius;
    int32_t input_multiplier, input_left_shift;
} ts_sigmoid_params_t;

/* LOGISTIC (output zero point -128, scale 1/256) and TANH (output zero point 0, scale 1/128). In place. */
void ts_logistic_s8(const ts_sigmoid_params_t *p, const int8_t *input, int8_t *output);
void ts_tanh_s8(const ts_sigmoid_params_t *p, const int8_t *input, int8_t *output);

typedef struct {
    int32_t size;
    int32_t input_zero_point, output_zero_point;
    int32_t multiplier, shift;
    int32_t act_min, act_max;
} ts_requantize_params_t;

/* QUANTIZE int8 -> int8 (act = full range) and RELU (act_min = output zero point). In place. */
void ts_requantize_s8(const ts_requantize_params_t *p, const int8_t *input, int8_t *output);

typedef struct {
    int32_t size;
    int32_t min, max;
} ts_clamp_params_t;

/* RELU6 (TFLM: a clamp to [zero point, quantised 6] of the input). In place. */
void ts_clamp_s8(const ts_clamp_params_t *p, const int8_t *input, int8_t *output);

typedef struct {
    int32_t size;
    float scale;
    int32_t zero_point;
} ts_quantize_params_t;

/* QUANTIZE float32 -> int8: round(x / scale) + zero point, saturated. */
void ts_quantize_f32_s8(const ts_quantize_params_t *p, const float *input, int8_t *output);

typedef struct {
    int32_t size;
    double scale;
    int32_t zero_point;
} ts_dequantize_params_t;

/* DEQUANTIZE int8 -> float32: (float)(scale * (q - zero point)), scale widened to double as TFLite. */
void ts_dequantize_s8_f32(const ts_dequantize_params_t *p, const int8_t *input, float *output);

/* ---- data movement ------------------------------------------------------------------------------ */

typedef struct {
    int32_t dims[TS_NN_MAX_DIMS]; /* input shape, padded in front with 1s */
    int32_t before[TS_NN_MAX_DIMS];
    int32_t after[TS_NN_MAX_DIMS];
    int32_t value; /* pad value (the output zero point or PADV2's constant) */
} ts_pad_params_t;

/* PAD / PADV2 (constant padding). */
void ts_pad_s8(const ts_pad_params_t *p, const int8_t *input, int8_t *output);

typedef struct {
    int32_t outer;       /* product of the dims before the axis */
    int32_t num_inputs;
    const int32_t *bytes; /* per input: its axis size x product of the dims after the axis x element size */
} ts_concat_params_t;

/* CONCATENATION of inputs with equal quantisation (TFLM's int8 requirement): a byte copy. */
void ts_concat_s8(const ts_concat_params_t *p, const int8_t *const *inputs, int8_t *output);

typedef struct {
    ts_dims_t input;  /* NHWC; a 3-D NHC tensor as w = 1 */
    ts_dims_t output; /* its batch as the tensor's static shape says (TFLM's) */
    int32_t block_h, block_w;
    int32_t pad_top, pad_left;
    int32_t pad_value;
} ts_space_to_batch_params_t;

/* SPACE_TO_BATCH_ND as TFLM computes it (only the output batches its static shape holds). */
void ts_space_to_batch_s8(const ts_space_to_batch_params_t *p, const int8_t *input, int8_t *output);

/* Bytes [dst, dst + length) of an output copied from bytes [src_offset, ...) of inputs[src], or zeroed
 * (src = 0). */
typedef struct {
    int32_t dst, length, src, src_offset;
} ts_fill_t;

typedef struct {
    ts_dims_t input;
    ts_dims_t output;
    int32_t block_h, block_w;
    int32_t crop_top, crop_left;
    int32_t num_fills;
    const ts_fill_t *fills; /* the output bytes TFLM leaves unwritten: what its arena held there */
} ts_batch_to_space_params_t;

/* BATCH_TO_SPACE_ND as TFLM computes it: inputs[0] is the input, inputs[1..] the fills' sources. */
void ts_batch_to_space_s8(const ts_batch_to_space_params_t *p, const int8_t *const *inputs, int8_t *output);

/* ---- reductions of a streamed model (tinyscene compile --stream) ---------------------------------- */

/* Adds one row of a streamed tensor, viewed as [outer, reduce, inner], to the int32 sums [outer, inner]
 * of a MEAN or a global average pooling over the streamed axis. */
void ts_mean_accumulate_s8(const ts_mean_params_t *p, const int8_t *input, int32_t *sum);
/* MEAN at the end of the stream: the sums requantised as ts_mean_s8 does (p->reduce = the count of input
 * elements per output, p->outer x p->inner outputs). */
void ts_mean_finish_s8(const ts_mean_params_t *p, const int32_t *sum, int8_t *output);
/* AVERAGE_POOL_2D over every streamed row, at the end of the stream: sum holds per input column and channel
 * the sum over the rows; p is the whole pooling's parameter block. Same rounding as ts_avg_pool_s8. */
void ts_avg_pool_finish_s8(const ts_pool_params_t *p, const int32_t *sum, int8_t *output);

#endif /* TS_NN_H */
