/* features app: the fixed-point front-end on the device, streaming. Built with a generated
 * fe_tables.c/.h (tinyscene.frontend.codegen) for one configuration and input quantisation.
 *
 *   features --pcm F --samples N [--out Q] [--logmel L] [--profile]
 *
 * F: int16 interleaved PCM [N][channels], read one hop at a time over semihosting.
 * Q: the int8 model input [n_mels][frames][channels] (NHWC without batch), written once at the end;
 *    ts_fe_process_hop writes each frame's column into it at its place.
 * L: the Q7.24 log-mel of every frame, [frames][channels][n_mels] int32, written frame by frame.
 * Prints the frame count and the board counter ticks spent in ts_fe_process_hop (total, min and max
 * per hop), the state/scratch bytes and, with --profile, the ticks of each stage on channel 0's latest
 * n_fft input samples: shift, FFT, power, mel and log, then the quantisation of every channel and the push
 * of one hop (the profile is the last thing the app does). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fe_tables.h"
#include "ts/board.h"
#include "ts/fe.h"
#include "ts/rt.h"

#ifndef TS_FE_APP_MAX_FRAMES
#define TS_FE_APP_MAX_FRAMES TS_FE_CLIP_FRAMES
#endif

#define TENSOR_BYTES ((size_t)TS_FE_N_MELS * TS_FE_APP_MAX_FRAMES * TS_FE_CHANNELS)

static int16_t state_mem[(TS_FE_STATE_BYTES + 1) / 2];
static uint64_t scratch_mem[(TS_FE_SCRATCH_BYTES + 7) / 8];
static int16_t hop_buf[TS_FE_HOP * TS_FE_CHANNELS];
static int32_t frame_logmel[TS_FE_CHANNELS * TS_FE_N_MELS];
static int8_t tensor[TENSOR_BYTES] __attribute__((section(".ext_bss"), aligned(16)));
static int32_t profile_buf[TS_FE_N_FFT + 2 + 8] __attribute__((aligned(8))); /* + 32 bytes: see ts_fe_mel_u64 */
static uint64_t profile_mel[TS_FE_N_MELS + 4]; /* + 32 bytes: see ts_fe_log_q24 */
static int16_t profile_frame[TS_FE_N_FFT]; /* channel 0's latest n_fft input samples (the history's layout
                                             * is the build's own: the Helium one keeps it interleaved) */

static const char *arg_value(int argc, char **argv, const char *name)
{
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0) return argv[i + 1];
    return 0;
}

static int has_flag(int argc, char **argv, const char *name)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], name) == 0) return 1;
    return 0;
}

/* Ticks of each stage on one channel's frame (channel 0's latest input samples). */
static void profile(const ts_fe_t *fe)
{
    const ts_fe_config_t *cfg = fe->cfg;
    const int32_t n = cfg->n_fft;
    uint64_t t[8];
    t[0] = ts_board_counter();
    int32_t k = ts_fe_frame_shift(profile_frame, n);
    t[1] = ts_board_counter();
    ts_fe_cfft_q31(profile_frame, cfg->window, cfg->fft_twiddle, n, k, profile_buf);
    t[2] = ts_board_counter();
    ts_fe_power_u64(profile_buf, n, cfg->rfft_twiddle);
    t[3] = ts_board_counter();
    ts_fe_mel_u64((const uint64_t *)(const void *)profile_buf, cfg->mel_bin, cfg->mel_t, cfg->n_mels, profile_mel);
    t[4] = ts_board_counter();
    ts_fe_log_q24(profile_mel, cfg->n_mels, cfg->mel_floor, cfg->mel_offset, k, cfg->log_lut, frame_logmel);
    t[5] = ts_board_counter();
#if TS_FE_HAS_QUANT
    ts_fe_quantize_s8(fe->quant, TS_FE_CHANNELS, 1, frame_logmel, tensor, TS_FE_CHANNELS); /* every channel */
#endif
    t[6] = ts_board_counter();
    ts_fe_push_hop((ts_fe_t *)fe, hop_buf, cfg->hop);
    t[7] = ts_board_counter();
    printf("features: profile ticks shift=%lu fft=%lu power=%lu mel=%lu log=%lu quantize=%lu push=%lu\n",
           (unsigned long)(t[1] - t[0]), (unsigned long)(t[2] - t[1]), (unsigned long)(t[3] - t[2]),
           (unsigned long)(t[4] - t[3]), (unsigned long)(t[5] - t[4]), (unsigned long)(t[6] - t[5]),
           (unsigned long)(t[7] - t[6]));
}

int ts_app_main(int argc, char **argv)
{
    const char *pcm_path = arg_value(argc, argv, "--pcm");
    const char *samples_arg = arg_value(argc, argv, "--samples");
    const char *out_path = arg_value(argc, argv, "--out");
    const char *logmel_path = arg_value(argc, argv, "--logmel");
    if (!pcm_path || !samples_arg) {
        printf("features: usage: features --pcm F --samples N [--out Q] [--logmel L] [--profile]\n");
        return 2;
    }
    long n_samples = strtol(samples_arg, 0, 10);
    const int32_t hop = ts_fe_config.hop, ch = ts_fe_config.channels;
    const int32_t n_frames = (int32_t)(1 + n_samples / hop);
    if (n_samples < 0 || n_frames > TS_FE_APP_MAX_FRAMES) {
        printf("features: %ld samples give %ld frames, this build holds at most %d\n", n_samples, (long)n_frames,
               TS_FE_APP_MAX_FRAMES);
        return 3;
    }
    ts_fe_t fe;
#if TS_FE_HAS_QUANT
    const ts_fe_quant_t *quant = &ts_fe_quant;
#else
    const ts_fe_quant_t *quant = 0;
#endif
    ts_status_t st = ts_fe_init(&fe, &ts_fe_config, quant, state_mem, scratch_mem);
    if (st != TS_OK) {
        printf("features: ts_fe_init: %s\n", ts_status_str(st));
        return 4;
    }
    FILE *in = fopen(pcm_path, "rb");
    if (!in) {
        printf("features: cannot open %s\n", pcm_path);
        return 5;
    }
    FILE *lm = logmel_path ? fopen(logmel_path, "wb") : 0;
    if (logmel_path && !lm) {
        printf("features: cannot create %s\n", logmel_path);
        return 5;
    }
    uint64_t total = 0, tmin = ~(uint64_t)0, tmax = 0;
    int32_t hops = 0, frames = 0;
    long remaining = n_samples;
    while (frames < n_frames) {
        /* one hop of interleaved samples; past the end of the clip: zeros */
        size_t want = remaining > 0 ? (size_t)(remaining < hop ? remaining : hop) : 0;
        size_t got = want ? fread(hop_buf, (size_t)ch * sizeof(int16_t), want, in) : 0;
        if (got != want) {
            printf("features: %s ends early (%ld samples expected)\n", pcm_path, n_samples);
            return 6;
        }
        memset(hop_buf + got * ch, 0, (size_t)(hop - (int32_t)got) * ch * sizeof(int16_t));
        remaining -= (long)got;
        int32_t t = -1;
        /* column t of the NHWC tensor: element (0, t, 0); t = the frame this hop completes */
        int32_t next = hops + 1 - ts_fe_config.delay_hops;
        int8_t *col = (quant && next >= 0) ? tensor + (size_t)next * ch : 0;
        uint64_t t0 = ts_board_counter();
        st = ts_fe_process_hop(&fe, hop_buf, col, n_frames * ch, frame_logmel, &t);
        uint64_t dt = ts_board_counter() - t0;
        hops++;
        if (st != TS_OK) {
            printf("features: ts_fe_process_hop: %s\n", ts_status_str(st));
            return 7;
        }
        total += dt;
        {   /* outside the timing: channel 0's latest n_fft samples for --profile */
            const int32_t keep = hop < TS_FE_N_FFT ? TS_FE_N_FFT - hop : 0;
            memmove(profile_frame, profile_frame + (TS_FE_N_FFT - keep), (size_t)keep * sizeof(int16_t));
            for (int32_t i = keep; i < TS_FE_N_FFT; i++) profile_frame[i] = hop_buf[(hop - TS_FE_N_FFT + i) * ch];
        }
        if (dt < tmin) tmin = dt;
        if (dt > tmax) tmax = dt;
        if (t >= 0) {
            frames++;
            if (lm && fwrite(frame_logmel, sizeof frame_logmel, 1, lm) != 1) {
                printf("features: writing %s failed\n", logmel_path);
                return 8;
            }
        }
    }
    fclose(in);
    if (lm) fclose(lm);
    if (out_path && quant) {
        st = ts_rt_write_file(out_path, tensor, (size_t)TS_FE_N_MELS * n_frames * ch);
        if (st != TS_OK) {
            printf("features: writing %s failed\n", out_path);
            return 8;
        }
    }
    printf("features: frames=%ld hops=%ld ticks_total=%llu ticks_hop_min=%llu ticks_hop_max=%llu\n", (long)frames,
           (long)hops, (unsigned long long)total, (unsigned long long)tmin, (unsigned long long)tmax);
    printf("features: state_bytes=%ld scratch_bytes=%ld table_bytes=%ld stack_high_water=%lu\n",
           (long)ts_fe_get_state_size(&ts_fe_config), (long)ts_fe_get_buffer_size(&ts_fe_config),
           (long)TS_FE_TABLE_BYTES, (unsigned long)ts_rt_stack_high_water());
    if (has_flag(argc, argv, "--profile")) profile(&fe);
    return 0;
}
