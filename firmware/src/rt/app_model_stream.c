/* model_stream app: runs a streamed model (model_stream.c from `tinyscene compile --stream time`, linked in;
 * ts/model.h) on clips read from a file, one input row at a time.
 *
 *   model_stream --in IN --out OUT --n N [--profile]
 *
 * IN holds N clips back to back, each as its ts_model_stream_info.rows input rows in stream order (the host
 * moves the streamed axis first); OUT receives the outputs. Only one row of input is ever in RAM: each row is
 * read from the file into ts_model_stream_row_buffer() and pushed. Ends with the model app's result line
 * plus one line of the stream's counts:
 *
 *   ts-model: result invokes=N arena_bytes=A stack_bytes=S ticks=T0,T1,...
 *   ts-model: stream rows=R row-ticks-max=M0,M1,... finish-ticks=F0,F1,...
 *
 * ticks: the board counter around every push and the finish of a clip, summed (the file reads excluded);
 * row-ticks-max: the most ticks one row took (the worst case of one hop); finish-ticks: the finish alone.
 * With --profile, `ts-model: layer-ticks T0,T1,...` gives each layer's ticks summed over the clips. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ts/board.h"
#include "ts/model.h"
#include "ts/rt.h"

#define TS_MODEL_MAX_INVOKES 256
#define TS_MODEL_MAX_PROFILED_LAYERS 512

static uint32_t ticks[TS_MODEL_MAX_INVOKES];
static uint32_t row_max[TS_MODEL_MAX_INVOKES];
static uint32_t finish_ticks[TS_MODEL_MAX_INVOKES];
static uint64_t layer_ticks[TS_MODEL_MAX_PROFILED_LAYERS];
static uint64_t layer_start;

static void profile_layer(int32_t layer, const ts_layer_t *info, void *user)
{
    (void)info;
    (void)user;
    const uint64_t now = ts_board_counter();
    if (layer < TS_MODEL_MAX_PROFILED_LAYERS) layer_ticks[layer] += now - layer_start;
    layer_start = ts_board_counter();
}

static const char *arg_value(int argc, char **argv, const char *name)
{
    for (int i = 1; i + 1 < argc; i++) {
        if (strcmp(argv[i], name) == 0) return argv[i + 1];
    }
    return NULL;
}

static int fail(const char *what, const char *detail)
{
    printf("ts-model: error: %s%s%s\n", what, detail ? " " : "", detail ? detail : "");
    return 1;
}

static void print_list(const char *name, const uint32_t *v, long n)
{
    printf(" %s=", name);
    for (long k = 0; k < n; k++) printf("%s%lu", k ? "," : "", (unsigned long)v[k]);
}

int ts_app_main(int argc, char **argv)
{
    const char *in_path = arg_value(argc, argv, "--in");
    const char *out_path = arg_value(argc, argv, "--out");
    const char *n_arg = arg_value(argc, argv, "--n");
    int profile = 0;
    for (int i = 1; i < argc; i++) profile |= strcmp(argv[i], "--profile") == 0;
    if (!in_path || !out_path || !n_arg) return fail("usage: model_stream --in IN --out OUT --n N [--profile]", NULL);
    const long n = strtol(n_arg, NULL, 10);
    if (n < 1 || n > TS_MODEL_MAX_INVOKES) return fail("--n out of range", n_arg);

    ts_status_t st = ts_model_check();
    if (st != TS_OK) return fail("a kernel needs more scratch than planned:", ts_status_str(st));
    FILE *fin = fopen(in_path, "rb");
    if (!fin) return fail("cannot open", in_path);
    FILE *fout = fopen(out_path, "wb");
    if (!fout) return fail("cannot create", out_path);
    if (profile) ts_model_set_layer_hook(profile_layer, NULL);

    const ts_stream_info_t *si = &ts_model_stream_info;
    size_t stack_bytes = 0;
    for (long k = 0; k < n; k++) {
        ts_rt_stack_paint();
        uint64_t total = 0, worst = 0;
        ts_model_stream_reset();
        for (int32_t r = 0; r < si->rows; r++) {
            uint64_t t0 = ts_board_counter();
            int8_t *row = ts_model_stream_row_buffer();
            uint64_t t1 = ts_board_counter();
            if (fread(row, 1, (size_t)si->row_bytes, fin) != (size_t)si->row_bytes)
                return fail("short input file", in_path);
            const uint64_t t2 = ts_board_counter();
            layer_start = t2;
            st = ts_model_stream_push_row(row);
            const uint64_t t3 = ts_board_counter();
            if (st != TS_OK) return fail("push_row failed:", ts_status_str(st));
            const uint64_t dt = (t1 - t0) + (t3 - t2);
            total += dt;
            if (dt > worst) worst = dt;
        }
        const uint64_t f0 = ts_board_counter();
        layer_start = f0;
        st = ts_model_stream_finish();
        const uint64_t f1 = ts_board_counter();
        if (st != TS_OK) return fail("finish failed:", ts_status_str(st));
        const size_t hw = ts_rt_stack_high_water();
        if (hw > stack_bytes) stack_bytes = hw;
        ticks[k] = (uint32_t)(total + (f1 - f0));
        row_max[k] = (uint32_t)worst;
        finish_ticks[k] = (uint32_t)(f1 - f0);
        for (int32_t i = 0; i < ts_model_num_outputs; i++) {
            const ts_tensor_t *t = &ts_model_outputs[i];
            if (fwrite(t->data, 1, (size_t)t->bytes, fout) != (size_t)t->bytes) return fail("cannot write", out_path);
        }
    }
    fclose(fin);
    if (fclose(fout) != 0) return fail("cannot write", out_path);

    printf("ts-model: result invokes=%ld arena_bytes=%lu stack_bytes=%lu ticks=", n,
           (unsigned long)ts_model_arena_bytes, (unsigned long)stack_bytes);
    for (long k = 0; k < n; k++) printf("%s%lu", k ? "," : "", (unsigned long)ticks[k]);
    printf("\nts-model: stream rows=%ld", (long)si->rows);
    print_list("row-ticks-max", row_max, n);
    print_list("finish-ticks", finish_ticks, n);
    printf("\n");
    if (profile) {
        printf("ts-model: layer-ticks ");
        for (int32_t l = 0; l < ts_model_num_layers && l < TS_MODEL_MAX_PROFILED_LAYERS; l++) {
            printf("%s%lu", l ? "," : "", (unsigned long)layer_ticks[l]);
        }
        printf("\n");
    }
    return 0;
}
