/* fe_cmsis app: CMSIS-DSP's MFCC stages up to the log, the yardstick of `tinyscene bench-fe`.
 * Built by tinyscene.frontend.cmsisdsp against CMSIS-DSP's own sources (the pinned, fetched tree, never
 * copied here) with a generated fe_cmsis_tables.c/.h: one configuration, one data type
 * (TS_CMSIS_F32 / TS_CMSIS_Q31 / TS_CMSIS_Q15), CMSIS's size-specific arm_mfcc_init_<n_fft>_<type>.
 *
 *   fe_cmsis --frames F --count K --out L
 *
 * F: K frames of n_fft int16 samples (the centred frames of one channel); each goes through
 * arm_mfcc_<type> with nbDctOutputs = 0: its normalisation by the peak (absmax, scale), window
 * (arm_mult), real FFT (arm_rfft_fast_f32 / arm_rfft_q31 / arm_rfft_q15), magnitude
 * (arm_cmplx_mag), mel filterbank (arm_dot_prod over CMSIS's sparse filters), log (arm_vlog) —
 * and a DCT of zero rows (no work). The log-mel is what arm_mfcc hands its DCT: float32 natural log
 * (f32), q8.23 (q31, in its temporary buffer) or q8.7 (q15, in its source buffer).
 * L: [K][n_mels] of those values as float32 / int32 / int16.
 * Prints the board counter ticks spent in arm_mfcc per frame (total, min, max) and the bytes of the
 * buffers it is given. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arm_math.h"
#include "fe_cmsis_tables.h"
#include "ts/board.h"
#include "ts/rt.h"

#if defined(TS_CMSIS_F32)
typedef float32_t sample_t;
typedef float32_t tmp_t;
typedef float32_t out_t;
typedef arm_mfcc_instance_f32 instance_t;
#define TMP_WORDS (TS_CMSIS_N_FFT + 2)
#elif defined(TS_CMSIS_Q31)
typedef q31_t sample_t;
typedef q31_t tmp_t;
typedef q31_t out_t;
typedef arm_mfcc_instance_q31 instance_t;
#define TMP_WORDS (2 * TS_CMSIS_N_FFT + 2) /* arm_rfft_q31 writes the whole (symmetric) spectrum */
#elif defined(TS_CMSIS_Q15)
typedef q15_t sample_t;
typedef q31_t tmp_t;
typedef q15_t out_t;
typedef arm_mfcc_instance_q15 instance_t;
#define TMP_WORDS (TS_CMSIS_N_FFT + 2) /* 2 n_fft q15 (the spectrum), then n_mels q31 */
#else
#error "define TS_CMSIS_F32, TS_CMSIS_Q31 or TS_CMSIS_Q15"
#endif

/* The buffers handed to arm_mfcc (the RAM a user of it needs besides its instance). */
static sample_t ts_cmsis_src[TS_CMSIS_N_FFT] __attribute__((aligned(16)));
static tmp_t ts_cmsis_tmp[TMP_WORDS] __attribute__((aligned(16)));
static out_t ts_cmsis_dct_out[1];
static instance_t ts_cmsis_instance;
static int16_t frame_in[TS_CMSIS_N_FFT];
static out_t logmel_out[TS_CMSIS_N_MELS];

static const char *arg_value(int argc, char **argv, const char *name)
{
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0) return argv[i + 1];
    return 0;
}

static void load_frame(void)
{
    for (int i = 0; i < TS_CMSIS_N_FFT; i++) {
#if defined(TS_CMSIS_F32)
        ts_cmsis_src[i] = (float32_t)frame_in[i] * (1.0f / 32768.0f);
#elif defined(TS_CMSIS_Q31)
        ts_cmsis_src[i] = (q31_t)frame_in[i] * 65536; /* q15 -> q31 */
#else
        ts_cmsis_src[i] = frame_in[i];
#endif
    }
}

static void run_frame(void)
{
#if defined(TS_CMSIS_F32)
    arm_mfcc_f32(&ts_cmsis_instance, ts_cmsis_src, ts_cmsis_dct_out, ts_cmsis_tmp);
    memcpy(logmel_out, ts_cmsis_tmp, sizeof logmel_out);
#elif defined(TS_CMSIS_Q31)
    arm_mfcc_q31(&ts_cmsis_instance, ts_cmsis_src, ts_cmsis_dct_out, ts_cmsis_tmp);
    memcpy(logmel_out, ts_cmsis_tmp, sizeof logmel_out);
#else
    arm_mfcc_q15(&ts_cmsis_instance, ts_cmsis_src, ts_cmsis_dct_out, ts_cmsis_tmp);
    memcpy(logmel_out, ts_cmsis_src, sizeof logmel_out);
#endif
}

int ts_app_main(int argc, char **argv)
{
    const char *frames_path = arg_value(argc, argv, "--frames");
    const char *count_arg = arg_value(argc, argv, "--count");
    const char *out_path = arg_value(argc, argv, "--out");
    if (!frames_path || !count_arg || !out_path) {
        printf("fe_cmsis: usage: fe_cmsis --frames F --count K --out L\n");
        return 2;
    }
    long count = strtol(count_arg, 0, 10);
    arm_status st = TS_CMSIS_INIT(&ts_cmsis_instance, TS_CMSIS_N_MELS, 0, ts_cmsis_dct, ts_cmsis_filter_pos,
                                  ts_cmsis_filter_len, ts_cmsis_filter_coefs, ts_cmsis_window);
    if (st != ARM_MATH_SUCCESS) {
        printf("fe_cmsis: arm_mfcc_init: status %d\n", (int)st);
        return 4;
    }
    FILE *in = fopen(frames_path, "rb");
    FILE *out = fopen(out_path, "wb");
    if (!in || !out) {
        printf("fe_cmsis: cannot open %s or %s\n", frames_path, out_path);
        return 5;
    }
    uint64_t total = 0, tmin = ~(uint64_t)0, tmax = 0;
    for (long k = 0; k < count; k++) {
        if (fread(frame_in, sizeof frame_in, 1, in) != 1) {
            printf("fe_cmsis: %s ends early (%ld frames expected)\n", frames_path, count);
            return 6;
        }
        load_frame();
        uint64_t t0 = ts_board_counter();
        run_frame();
        uint64_t dt = ts_board_counter() - t0;
        total += dt;
        if (dt < tmin) tmin = dt;
        if (dt > tmax) tmax = dt;
        if (fwrite(logmel_out, sizeof logmel_out, 1, out) != 1) {
            printf("fe_cmsis: writing %s failed\n", out_path);
            return 8;
        }
    }
    fclose(in);
    fclose(out);
    printf("fe_cmsis: frames=%ld ticks_total=%llu ticks_min=%llu ticks_max=%llu\n", count,
           (unsigned long long)total, (unsigned long long)tmin, (unsigned long long)tmax);
    printf("fe_cmsis: buffer_bytes=%lu instance_bytes=%lu table_bytes=%lu\n",
           (unsigned long)(sizeof ts_cmsis_src + sizeof ts_cmsis_tmp + sizeof logmel_out),
           (unsigned long)sizeof ts_cmsis_instance, (unsigned long)TS_CMSIS_TABLE_BYTES);
    return 0;
}
