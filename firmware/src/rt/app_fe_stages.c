/* fe_stages app: each front-end stage on inputs from the host, for the bit-exactness checks of the
 * optimized stages (firmware/src/fe/armv7em, mve) against the portable C (tinyscene.frontend.stages).
 * Built with a generated fe_tables.c/.h for one configuration.
 *
 *   fe_stages --in F --count N --out G
 *
 * F: N records, each an int32 op then its input; G: the outputs one after another (int32 words):
 *   1 shift     in: n_fft int16            out: k
 *   2 cfft      in: k, n_fft int16         out: n_fft int32 (Z)
 *   3 power     in: n_fft int32 (Z)        out: n_fft + 2 int32 (P, uint64 bins 0..n_fft/2)
 *   4 mel       in: n_fft + 2 int32 (P)    out: 2 n_mels int32 (uint64 sums)
 *   5 log       in: k, 2 n_mels int32      out: n_mels int32 (Q24)
 *   6 quantize  in: channels x n_mels int32 (one frame)   out: n_mels x channels int8, padded to words
 * Prints the board ticks spent in each op kind. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fe_tables.h"
#include "ts/board.h"
#include "ts/fe.h"
#include "ts/rt.h"

#define N TS_FE_N_FFT
#define WORDS_IN (N + 4)

static int32_t in_buf[WORDS_IN] __attribute__((aligned(16)));
static int32_t work[N + 2 + 8] __attribute__((aligned(16))); /* + 32 bytes: ts_fe_mel_u64 may read past */
static uint64_t mel[TS_FE_N_MELS + 4] __attribute__((aligned(16))); /* + 32 bytes: ts_fe_log_q24 */
static int32_t out_buf[N + 4] __attribute__((aligned(16)));
static uint64_t ticks[8];

static const char *arg_value(int argc, char **argv, const char *name)
{
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0) return argv[i + 1];
    return 0;
}

static int read_words(FILE *f, void *dst, size_t words)
{
    return fread(dst, 4, words, f) == words;
}

int ts_app_main(int argc, char **argv)
{
    const char *in_path = arg_value(argc, argv, "--in"), *out_path = arg_value(argc, argv, "--out");
    const char *count_arg = arg_value(argc, argv, "--count");
    if (!in_path || !out_path || !count_arg) {
        printf("fe_stages: usage: fe_stages --in F --count N --out G\n");
        return 2;
    }
    FILE *in = fopen(in_path, "rb"), *out = fopen(out_path, "wb");
    if (!in || !out) {
        printf("fe_stages: cannot open %s or %s\n", in_path, out_path);
        return 5;
    }
    const ts_fe_config_t *cfg = &ts_fe_config;
    const int32_t n_mels = cfg->n_mels;
    long count = strtol(count_arg, 0, 10);
    for (long r = 0; r < count; r++) {
        int32_t op;
        size_t n_out = 0;
        if (!read_words(in, &op, 1)) goto short_input;
        uint64_t t0 = 0;
        switch (op) {
        case 1: /* shift */
            if (!read_words(in, in_buf, N / 2)) goto short_input;
            t0 = ts_board_counter();
            out_buf[0] = ts_fe_frame_shift((const int16_t *)in_buf, N);
            n_out = 1;
            break;
        case 2: /* cfft */
            if (!read_words(in, in_buf, 1 + N / 2)) goto short_input;
            t0 = ts_board_counter();
            ts_fe_cfft_q31((const int16_t *)(in_buf + 1), cfg->window, cfg->fft_twiddle, N, in_buf[0], work);
            memcpy(out_buf, work, N * 4);
            n_out = N;
            break;
        case 3: /* power */
            if (!read_words(in, work, N)) goto short_input;
            t0 = ts_board_counter();
            ts_fe_power_u64(work, N, cfg->rfft_twiddle);
            memcpy(out_buf, work, (N + 2) * 4);
            n_out = N + 2;
            break;
        case 4: /* mel */
            if (!read_words(in, work, N + 2)) goto short_input;
            t0 = ts_board_counter();
            ts_fe_mel_u64((const uint64_t *)(const void *)work, cfg->mel_bin, cfg->mel_t, n_mels, mel);
            memcpy(out_buf, mel, (size_t)n_mels * 8);
            n_out = 2 * (size_t)n_mels;
            break;
        case 5: /* log */
            if (!read_words(in, in_buf, 1) || !read_words(in, mel, 2 * (size_t)n_mels)) goto short_input;
            t0 = ts_board_counter();
            ts_fe_log_q24(mel, n_mels, cfg->mel_floor, cfg->mel_offset, in_buf[0], cfg->log_lut, out_buf);
            n_out = (size_t)n_mels;
            break;
#if TS_FE_HAS_QUANT
        case 6: /* quantize, one frame of every channel */
            if (!read_words(in, in_buf, (size_t)TS_FE_CHANNELS * n_mels)) goto short_input;
            out_buf[((size_t)TS_FE_CHANNELS * n_mels - 1) / 4] = 0; /* the padding of the last word */
            t0 = ts_board_counter();
            ts_fe_quantize_s8(&ts_fe_quant, TS_FE_CHANNELS, 1, in_buf, (int8_t *)out_buf, TS_FE_CHANNELS);
            n_out = ((size_t)TS_FE_CHANNELS * n_mels + 3) / 4;
            break;
#endif
        default:
            printf("fe_stages: record %ld: unknown op %ld\n", r, (long)op);
            return 3;
        }
        ticks[op] += ts_board_counter() - t0;
        if (fwrite(out_buf, 4, n_out, out) != n_out) {
            printf("fe_stages: writing %s failed\n", out_path);
            return 8;
        }
    }
    fclose(in);
    fclose(out);
    printf("fe_stages: records=%ld ticks shift=%lu cfft=%lu power=%lu mel=%lu log=%lu quantize=%lu\n", count,
           (unsigned long)ticks[1], (unsigned long)ticks[2], (unsigned long)ticks[3], (unsigned long)ticks[4],
           (unsigned long)ticks[5], (unsigned long)ticks[6]);
    return 0;
short_input:
    printf("fe_stages: %s ends early\n", in_path);
    return 6;
}
