/* tinyscene front-end: fixed-point log-mel features, integer-only, the same source on the host
 * (shared library called from Python) and on the device. Arithmetic version 2 (TS_FE_ARITH_VERSION).
 *
 *   int16 PCM -> framing (streaming history, centred like librosa: frame t covers samples
 *   [t*hop - n_fft/2, t*hop + n_fft/2)) -> frame shift k from the frame's energy
 *   -> periodic Hann window (Q28, SMULWB) and complex FFT of z[m] = v[2m] + j v[2m+1] (n_fft/2 points,
 *   32-bit, decimation in time: bit-reversed reads, a twiddle-free radix-4 first stage, radix-4 stages
 *   with Q30 twiddles and a fixed 2-bit shift, a radix-2 stage when log2(n_fft/2) is odd)
 *   -> real-FFT split and power (64-bit, exact) -> mel as sums over the intervals between mel points
 *   (each bin's power split t / 1 - t between the two triangles it belongs to, 64-bit sums)
 *   -> natural log with a per-band floor and the slaney norm as an offset (Q24)
 *   -> per-bin normalisation folded into the int8 input quantisation -> int8 tensor in the model's NHWC
 *   layout [n_mels][frames][channels].
 *
 * Every table (window, twiddles, mel intervals and weights, floors, offsets, log LUT, quantisation) is
 * computed in Python (tinyscene.frontend.spec / quant) and handed over in const structs: the generated
 * fe_tables.c on the device, the very same numpy arrays on the host. No float, no malloc. Optimized
 * versions of some stages (firmware/src/fe/armv7em/, firmware/src/fe/mve/) compute the same integers.
 *
 * Scaling of one frame (x = pcm in int16 units, w the Hann window, k from ts_fe_frame_shift,
 * s = the FFT's total right shift: 2 per radix-4 stage after the first, 1 for a radix-2 stage):
 *   windowed  v = floor(x w 2^28 / 2^16) 2^k = x w 2^(12 + k)    |v| <= 2^27
 *   spectrum  Z = DFT(z) 2^(12 + k - s), X = DFT(v) 2^(-s)       |Z|, |X| < 2^30 (bounds in the stages)
 *   power     P = |X|^2 = |DFT(x w)|^2 2^(2 (12 + k - s))         uint64, sum over the bins < 2^60
 *   mel       M = sum over the band's bins of its triangle (unnormalised) times P, uint64
 *   log       L = ln(mel + 1e-10) 2^24 = ln(M + floor_m 2^(2k)) 2^24 + offset_m - 2k ln(2) 2^24  (Q7.24)
 * with mel the slaney-normalised power mel of pcm / 32768 (librosa's), offset_m = ln(norm_m) - S ln 2 and
 * floor_m = 1e-10 2^S / norm_m, S = 2 (15 + 12 - s).
 */
#ifndef TS_FE_H
#define TS_FE_H

#include <stddef.h>
#include <stdint.h>

#include "ts/status.h"

#define TS_FE_ABI 0x54534607u          /* "TSF" + layout version of the structs below */
#define TS_FE_ARITH_VERSION 2          /* the integers computed; frontend.json and feature caches record it */
#define TS_FE_LOG_FRAC_BITS 24         /* log-mel output: natural log in Q7.24 */
#define TS_FE_LOG_LUT_BITS 7           /* ln(1 + i / 2^7), i = 0..2^7: 129 entries, Q24 */
#define TS_FE_WINDOW_Q 28              /* window table: Q28 */
#define TS_FE_MAX_SHIFT 15             /* largest frame shift k */

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
    int32_t n_weights;           /* entries of mel_t: mel_bin[n_mels + 1] - mel_bin[0] */
    const int32_t *window;       /* [n_fft] periodic Hann, Q28, in the order the FFT's first stage reads it: per
                                  * butterfly q (see ts_fe_cfft_q31), inputs 0..3, even then odd sample */
    const int32_t *fft_twiddle;  /* per radix-4 stage of length L = 16, 64, .. <= n_fft/2, per i = 0..L/4-1:
                                  * cos, sin of 2 pi 2i / L, of 2 pi i / L, of 2 pi 3i / L, Q30, each
                                  * twice an odd number or 0; then, when log2(n_fft/2) is odd, the radix-2 stage,
                                  * per i = 0..n_fft/4-1: cos, sin of 2 pi i / (n_fft/2), Q31, odd (see
                                  * ts_fe_cfft_q31: no product is a rounding tie). */
    const int32_t *rfft_twiddle; /* [n_fft/4 - 1][2]: cos, sin of 2 pi k / n_fft, k = 1..n_fft/4-1, Q31, odd */
    const uint16_t *mel_bin;     /* [n_mels + 2] the first FFT bin at or above each mel point: interval j =
                                  * bins mel_bin[j] .. mel_bin[j+1]-1 lies between mel points j and j+1 */
    const uint16_t *mel_t;       /* [n_weights] each interval bin's position between its two mel points, Q16
                                  * (0 <= t < 1): its weight in the rising edge of band j, 1 - t in the falling
                                  * edge of band j - 1 */
    const uint32_t *mel_floor;   /* [n_mels] the log floor in the units of the band's mel sum at k = 0, >= 1 */
    const int32_t *mel_offset;   /* [n_mels] ln(slaney norm) - S ln 2, Q24 */
    const int32_t *log_lut;      /* [2^TS_FE_LOG_LUT_BITS + 1] ln(1 + i / 2^bits), Q24 */
} ts_fe_config_t;

/* Per-mel-bin normalisation folded into the int8 quantisation of the model input:
 *   q[m] = clamp(floor((floor(L[m] * mul[m] / 2^32) + add[m]) / 2^(shift - 32)), -128, 127)
 *        = clamp(floor((L[m] * mul[m] + add[m] 2^32) / 2^shift), -128, 127)
 * = round(((L - mean[m]) / std[m]) / scale) + zero_point with L in Q24 (add holds the rounding
 * half 2^(shift-33)). */
typedef struct {
    uint32_t abi;                /* TS_FE_ABI */
    uint32_t struct_size;        /* sizeof(ts_fe_quant_t) */
    int32_t n_mels;
    int32_t shift;               /* 33..62 */
    const int32_t *mul;          /* [n_mels] */
    const int32_t *add;          /* [n_mels] in units of 2^32 */
} ts_fe_quant_t;

/* One front-end instance (streaming state). */
typedef struct {
    const ts_fe_config_t *cfg;
    const ts_fe_quant_t *quant;  /* may be NULL when only the log-mel is wanted */
    int16_t *history;            /* the latest `history` samples of each channel, oldest first: [channels][history]
                                  * (portable, Armv7E-M) or interleaved [history][channels] (Helium) */
    int32_t *scratch;            /* ts_fe_get_buffer_size bytes, 8-byte aligned */
    int32_t hops;                /* hops pushed since the last reset */
} ts_fe_t;

/* Bytes of scratch (FFT / power buffer n_fft + 2 int32, mel sums n_mels uint64, one frame of log-mel
 * channels x n_mels int32) and of streaming state (the sample history). */
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

/* Stages (each with the Q format of its output; see the scaling table at the top). Each has a portable
 * C version in firmware/src/fe/ and may have same-named Armv7E-M (armv7em/) and Helium (mve/) versions
 * that give the same integers. */
/* The frame's shift: k = clamp(16 - ceil(b / 2), 0, 15) with b the bit length of sum x^2 over the n
 * samples (15 for silence). With it every value of the FFT stays below 2^30: for k > 0 from the energy
 * (a radix-4 output is at most 2 sqrt(sum |z|^2) <= 2^29), for k = 0 from the peak (|x| <= 2^15: a
 * first-stage output is at most 4 2^27 per component, 2^29.5 in magnitude, and no later stage grows it
 * by more than its roundings). */
int32_t ts_fe_frame_shift(const int16_t *x, int32_t n);
/* Window and complex FFT of z[m] = v[2m] + j v[2m+1], m < M = n_fft / 2, v[n] = floor(x[n] w[n] / 2^16) 2^k
 * (w Q28): Z = DFT(z) / 2^s into buf (M complex (re, im) int32, natural order). Decimation in time with
 * the bit reversal in the reads: first stage radix-4, butterfly q (q < M/4) on inputs r, r + M/2, r + M/4,
 * r + 3M/4, r = bit reversal of 4q in log2(M) bits, without twiddles or shift; then radix-4 stages of
 * length L = 16, 64, .. <= M: in each block of L, butterfly i < L/4 on x_p = buf[i + p L/4] with
 * u0 = floor(x0 / 4), u1 = x1 W^{2i}, u2 = x2 W^i, u3 = x3 W^{3i} (W = e^{-2 pi j / L}, Q30 twiddles:
 * times 1/4, each product rounded, SMMULR), outputs (u0 + u1) +- (u2 + u3) and (u0 - u1) -+ j (u2 - u3) at
 * i, i + 2L/4 and i + L/4, i + 3L/4; then, when log2(M) is odd, a radix-2 stage (u0 = floor(x0 / 2), Q31
 * twiddles). A complex product (a + jb)(c - js) is (rnd(ac) + rnd(bs), rnd(bc) - rnd(as)), rnd(p) =
 * floor((p + 2^31) / 2^32). No product is a tie: the radix-2 twiddles are odd, and the radix-4 ones are
 * twice an odd number (or 0: sin 0, cos pi/2), a tie only for a = +-2^30 (mod 2^31) while every value is
 * below 2^30.
 * So rnd(-p) = -rnd(p), every arrangement of the terms gives these integers, and a doubling multiply by
 * w / 2 (Helium's VQRDMULH by a scalar) gives rnd(a w). */
void ts_fe_cfft_q31(const int16_t *x, const int32_t *window, const int32_t *twiddle, int32_t n_fft, int32_t k,
                    int32_t *buf);
/* Real-FFT split and power, in place: buf holds Z (n_fft/2 complex); bins 0..n_fft/2 of
 * X = DFT(v) / 2^s become P = re^2 + im^2 as uint64 (n_fft/2 + 1 of them, little endian in buf).
 * X[k] = (A - j W B) / 2 with A = Z[k] + conj Z[M-k], B = Z[k] - conj Z[M-k], W = e^{-2 pi j k / n_fft}:
 * re = (A_re >> 1) + v, im = (A_im >> 1) - u, X[M-k] = ((A_re >> 1) - v, -(A_im >> 1) - u),
 * u + jv = W B / 2 (Q31 twiddles, rnd per product); X[0], X[M] = Z0_re +- Z0_im, X[M/2] = conj Z[M/2]. */
void ts_fe_power_u64(int32_t *buf, int32_t n_fft, const int32_t *rfft_twiddle);
/* Mel sums: per interval j (bins mel_bin[j] .. mel_bin[j+1]-1) A_j = floor(sum t P / 2^16) and
 * B_j = sum P (exact); band m gets mel[m] = A_m + B_{m+1} - A_{m+1} (its rising and falling edges).
 * `power` must have 32 readable bytes after bin n_fft/2 (a vector version reads them and discards them;
 * ts_fe_logmel_frame's scratch has the mel sums there). */
void ts_fe_mel_u64(const uint64_t *power, const uint16_t *mel_bin, const uint16_t *mel_t, int32_t n_mels,
                   uint64_t *mel);
/* logmel[m] = ln(mel[m] + floor_m 2^(2k)) + offset_m - 2k ln 2 in Q24 (`mel` must have 32 readable bytes
 * after its last sum, as ts_fe_logmel_frame's scratch has: a vector version reads them and discards them):
 * the leading one (CLZ) gives the
 * integer part of log2; of the next 31 bits f, the top 7 index a 129-entry table of ln(1 + i/128) and
 * the other 24 interpolate: lut[i] + floor((lut[i+1] - lut[i]) (f mod 2^24) / 2^24) (error < 1e-5). */
void ts_fe_log_q24(const uint64_t *mel, int32_t n_mels, const uint32_t *mel_floor, const int32_t *mel_offset,
                   int32_t k, const int32_t *log_lut, int32_t *logmel);
/* int8 model input from Q24 log-mel [channels][n_mels][n_frames]:
 * out[m * out_mel_stride + t * channels + c]. */
void ts_fe_quantize_s8(const ts_fe_quant_t *quant, int32_t channels, int32_t n_frames, const int32_t *logmel,
                       int8_t *out, int32_t out_mel_stride);

#endif /* TS_FE_H */
