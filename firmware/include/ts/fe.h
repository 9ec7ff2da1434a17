/* tinyscene front-end: fixed-point log-mel features, integer-only, the same source on the host
 * (shared library called from Python) and on the device.
 *
 *   int16 PCM -> framing (streaming history, centred like librosa: frame t covers samples
 *   [t*hop - n_fft/2, t*hop + n_fft/2)) -> periodic Hann window (Q31) with a per-frame shift
 *   -> real FFT (half-length complex radix-4 FFT, 32-bit, block floating point from bounds: no overflow)
 *   -> power (64-bit, exact) -> sparse slaney mel filterbank (64-bit sums)
 *   -> natural log with a floor (Q24) -> per-bin normalisation folded into the int8 input
 *   quantisation -> int8 tensor in the model's NHWC layout [n_mels][frames][channels].
 *
 * Every table (window, twiddles, mel weights, log LUT, floor, quantisation) is computed in Python
 * (tinyscene.frontend.spec / quant) and handed over in const structs: the generated fe_tables.c on
 * the device, the very same numpy arrays on the host. No float, no malloc.
 *
 * Scaling of one frame (x, w as floats, x = pcm / 32768; k from the window stage, t from the FFT):
 *   windowed  v = x w 2^(14 + k)                       |v| <= 2^28 (the frame normalised by its peak)
 *   spectrum  X = DFT(x w) 2^e,  e = 14 + k - t         |X| < 2^30 (block floating point per stage)
 *   power     P = |X|^2 = |DFT(x w)|^2 2^(2e)            uint64, < 2^62 summed over the bins
 *   mel       M = sum(w_q P) / 2^16 = mel 2^(mel_weight_exp + 2e - 16)     uint64
 *   log       L = ln(mel + floor) 2^24                                       int32 Q7.24
 */
#ifndef TS_FE_H
#define TS_FE_H

#include <stddef.h>
#include <stdint.h>

#include "ts/status.h"

#define TS_FE_ABI 0x54534605u          /* "TSF" + layout version of the structs below */
#define TS_FE_LOG_FRAC_BITS 24         /* log-mel output: natural log in Q7.24 */
#define TS_FE_LOG_LUT_BITS 7           /* log2 mantissa table: 2^7 + 1 entries, Q30 */
#define TS_FE_WINDOW_SUM_SHIFT 16      /* window_sum = ceil(sum(window) / 2^16) */

/* Front-end configuration and tables (generated fe_tables.c, or numpy arrays on the host). */
typedef struct {
    uint32_t abi;                /* TS_FE_ABI */
    uint32_t struct_size;        /* sizeof(ts_fe_config_t): catches a binding with another layout */
    int32_t sample_rate;         /* Hz (informative) */
    int32_t n_fft;               /* power of two, 256..4096 */
    int32_t hop;                 /* 1..n_fft samples per channel */
    int32_t n_mels;
    int32_t channels;            /* 1 or 2 (interleaved PCM) */
    int32_t delay_hops;          /* ceil(n_fft / (2 hop)): hops fed before frame 0 is complete */
    int32_t history;             /* delay_hops * hop + n_fft / 2 samples kept per channel */
    int32_t window_sum;          /* ceil(sum(window) / 2^16) */
    const int32_t *window;       /* [n_fft] periodic Hann, Q31 (Q15 is 20 dB short on a full-scale tone) */
    const int32_t *fft_twiddle;  /* complex FFT of n_fft/2 points: per radix-4 stage (len = n_fft/2,
                                  * n_fft/8, ... > 4) and i = 1..len/4-1: W_len^i, W_len^2i, W_len^3i as
                                  * (cos, sin) Q30; see ts_fe_cfft_q31 */
    const int32_t *rfft_twiddle; /* [n_fft/4][2]: (cos, sin)(2 pi k / n_fft) Q31, k = 1..n_fft/4 */
    const uint16_t *mel_start;   /* [n_mels] first FFT bin of each band */
    const uint16_t *mel_count;   /* [n_mels] bins in each band (0: an empty filter) */
    const uint16_t *mel_weight;  /* the bands' weights one after another, band m in Q(mel_weight_exp + mel_shift[m]) */
    const uint8_t *mel_shift;    /* [n_mels] extra bits of each band's weights (16 significant bits in every band) */
    int32_t mel_weight_exp;      /* mel sums come out in Q(mel_weight_exp) weights units */
    int32_t floor_mant;          /* log floor (mel power) = floor_mant * 2^floor_exp, floor_mant in [2^30, 2^31) */
    int32_t floor_exp;
    int32_t n_weights;           /* total entries of mel_weight */
    const int32_t *log_lut;      /* [2^TS_FE_LOG_LUT_BITS + 1] log2(1 + i / 2^bits), Q30 */
} ts_fe_config_t;

/* Per-mel-bin normalisation folded into the int8 quantisation of the model input:
 *   q[m] = clamp(floor((L[m] * mul[m] + add[m]) / 2^shift), -128, 127)
 * = round(((L - mean[m]) / std[m]) / scale) + zero_point with L in Q24 (add holds the rounding
 * half 2^(shift-1)). */
typedef struct {
    uint32_t abi;                /* TS_FE_ABI */
    uint32_t struct_size;        /* sizeof(ts_fe_quant_t) */
    int32_t n_mels;
    int32_t shift;               /* 32..62 */
    const int32_t *mul;          /* [n_mels] */
    const int64_t *add;          /* [n_mels] */
} ts_fe_quant_t;

/* One front-end instance (streaming state). */
typedef struct {
    const ts_fe_config_t *cfg;
    const ts_fe_quant_t *quant;  /* may be NULL when only the log-mel is wanted */
    int16_t *history;            /* [channels][history] the latest samples, oldest first */
    int32_t *scratch;            /* ts_fe_get_buffer_size bytes, 8-byte aligned */
    int32_t hops;                /* hops pushed since the last reset */
} ts_fe_t;

/* Bytes of scratch (FFT / power buffer, mel sums, one frame of log-mel) and of streaming state. */
int32_t ts_fe_get_buffer_size(const ts_fe_config_t *cfg);
int32_t ts_fe_get_state_size(const ts_fe_config_t *cfg);

/* Checks the configuration (TS_ERR_CONFIG on anything inconsistent: n_fft, hop, bands beyond the
 * FFT bins, table sizes), binds the memory (state: ts_fe_get_state_size bytes, 2-byte aligned;
 * scratch: ts_fe_get_buffer_size bytes, 8-byte aligned) and resets. `quant` may be NULL; when
 * given, its n_mels must match. */
ts_status_t ts_fe_init(ts_fe_t *fe, const ts_fe_config_t *cfg, const ts_fe_quant_t *quant, void *state,
                       void *scratch);

/* Starts a new clip: the history is zeros (the left padding of centred framing). */
void ts_fe_reset(ts_fe_t *fe);

/* Streaming: `pcm` holds one hop of interleaved samples ([hop][channels]). Once a frame is complete
 * (from the delay_hops-th call on), computes it: *frame = its index t (else -1). `out` (may be NULL)
 * gets the int8 frame: out[m * mel_stride + c] (mel_stride = frames * channels writes column t of
 * an NHWC tensor [n_mels][frames][channels] when `out` points at element (0, t, 0)). `logmel`
 * (may be NULL) gets the Q24 log-mel [channels][n_mels]. */
ts_status_t ts_fe_process_hop(ts_fe_t *fe, const int16_t *pcm, int8_t *out, int32_t mel_stride, int32_t *logmel,
                              int32_t *frame);

/* Whole clip of n_samples interleaved samples per channel, zero-padded as centred framing needs:
 * n_frames must be 1 + n_samples / hop. `out` (may be NULL): int8 [n_mels][n_frames][channels];
 * `logmel` (may be NULL): Q24 [channels][n_mels][n_frames]. Equals the hop-by-hop results. */
ts_status_t ts_fe_process_clip(ts_fe_t *fe, const int16_t *pcm, int32_t n_samples, int8_t *out, int32_t *logmel,
                               int32_t n_frames);

/* Building blocks of the two calls above. */
/* Shifts the history by one hop and appends n_valid interleaved samples per channel, then zeros. */
void ts_fe_push_hop(ts_fe_t *fe, const int16_t *pcm, int32_t n_valid);
/* Computes the frame held in the history (every channel) into logmel [channels][n_mels] (NULL:
 * scratch) and, with a quantisation and `out`, the int8 frame as ts_fe_process_hop. */
ts_status_t ts_fe_compute_frame(ts_fe_t *fe, int8_t *out, int32_t mel_stride, int32_t *logmel);
/* One channel's frame of n_fft contiguous samples -> Q24 log-mel [n_mels]. */
void ts_fe_logmel_frame(const ts_fe_config_t *cfg, const int16_t *x, int32_t *scratch, int32_t *logmel);

/* Stages (each with the Q format of its output; see the scaling table at the top). */
/* v[n] = x[n] w[n] 2^(14 + k) (x as a float in [-1, 1); SMULWB, then rounded shifts), |v| < 2^28,
 * with k = 29 - bit length of max|x| (*peak = max|x| 2^k < 2^29); returns k (13 at full scale .. 28;
 * 28 for silence). */
int32_t ts_fe_window_q31(const int16_t *x, const int32_t *window, int32_t n, int32_t *v, int32_t *peak);
/* In place complex FFT of n (power of two) interleaved (re, im) values, forward, natural order out,
 * block-floating-point: returns the total right shift t (out = DFT(in) / 2^t, |out| < 2^29).
 * twiddle: per radix-4 stage of length len = n, n/4, ... while len > 4, for i = 1..len/4-1, six
 * Q30 values: cos, sin of 2 pi i / len, 2 pi 2i / len, 2 pi 3i / len. mag_bound >= max |z| and
 * mag_bound < 2^29 - 2^16; sum_bound >= sum |z|. */
int32_t ts_fe_cfft_q31(int32_t *z, int32_t n, const int32_t *twiddle, uint32_t mag_bound, uint64_t sum_bound);
/* Real FFT of n_fft values in buf (n_fft + 2 int32) with the bounds of z = v[2i] + j v[2i+1]: bins
 * 0..n_fft/2 as (re, im) = DFT(v) / 2^t, |.| < 2^30; returns t. */
int32_t ts_fe_rfft_q31(int32_t *buf, int32_t n_fft, const int32_t *fft_twiddle, const int32_t *rfft_twiddle,
                       uint32_t mag_bound, uint64_t sum_bound);
/* In place: complex bins (re, im) -> re^2 + im^2 as uint64 (< 2^61) stored as (low, high) words. */
void ts_fe_power_u64(int32_t *buf, int32_t n_bins);
/* mel[m] = sum_k weight[m, k] power[k] / 2^(16 + shift[m]) (rounded; < 2^62); power as (low, high)
 * words. */
void ts_fe_mel_u64(const uint32_t *power, const uint16_t *start, const uint16_t *count, const uint16_t *weight,
                   const uint8_t *shift, int32_t n_mels, uint64_t *mel);
/* logmel[m] = ln(mel[m] * 2^-exponent + floor) in Q24, floor = floor_mant * 2^floor_exp. */
void ts_fe_log_q24(const uint64_t *mel, int32_t n_mels, int32_t exponent, int32_t floor_mant, int32_t floor_exp,
                   const int32_t *log_lut, int32_t *logmel);
/* int8 model input from Q24 log-mel [channels][n_mels][n_frames]:
 * out[m * out_mel_stride + t * channels + c]. */
void ts_fe_quantize_s8(const ts_fe_quant_t *quant, int32_t channels, int32_t n_frames, const int32_t *logmel,
                       int8_t *out, int32_t out_mel_stride);

#endif /* TS_FE_H */
