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
#include "ts/rt_model.h"

#define TS_MODEL_MAX_INVOKES 256
#define TS_MODEL_MAX_PROFILED_LAYERS 512

static uint32_t ticks[TS_MODEL_MAX_INVOKES];
static uint32_t row_max[TS_MODEL_MAX_INVOKES];
static uint32_t finish_ticks[TS_MODEL_MAX_INVOKES];
static uint64_t layer_ticks[TS_MODEL_MAX_PROFILED_LAYERS];
static ts_rt_profile_t prof = {layer_ticks, TS_MODEL_MAX_PROFILED_LAYERS, 0};

static int fail(const char *what, const char *detail)
{
    return ts_rt_fail("ts-model", what, detail);
}

int ts_app_main(int argc, char **argv)
{
    const int profile = ts_rt_flag(argc, argv, "--profile");
    FILE *fin, *fout;
    long n;
    if (ts_rt_model_files(argc, argv, "usage: model_stream --in IN --out OUT --n N [--profile]", TS_MODEL_MAX_INVOKES, &fin, &fout, &n)) return 1;
    ts_status_t st = ts_model_check();
    if (st != TS_OK) return fail("a kernel needs more scratch than planned:", ts_status_str(st));
    if (profile) ts_model_set_layer_hook(ts_rt_profile_hook, &prof);

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
                return fail("short input file", ts_rt_arg(argc, argv, "--in"));
            const uint64_t t2 = ts_board_counter();
            prof.start = t2;
            st = ts_model_stream_push_row(row);
            const uint64_t t3 = ts_board_counter();
            if (st != TS_OK) return fail("push_row failed:", ts_status_str(st));
            const uint64_t dt = (t1 - t0) + (t3 - t2);
            total += dt;
            if (dt > worst) worst = dt;
        }
        const uint64_t f0 = ts_board_counter();
        prof.start = f0;
        st = ts_model_stream_finish();
        const uint64_t f1 = ts_board_counter();
        if (st != TS_OK) return fail("finish failed:", ts_status_str(st));
        const size_t hw = ts_rt_stack_high_water();
        if (hw > stack_bytes) stack_bytes = hw;
        ticks[k] = (uint32_t)(total + (f1 - f0));
        row_max[k] = (uint32_t)worst;
        finish_ticks[k] = (uint32_t)(f1 - f0);
        if (ts_rt_write_tensors(fout, ts_model_outputs, ts_model_num_outputs)) return fail("cannot write", ts_rt_arg(argc, argv, "--out"));
    }
    fclose(fin);
    if (fclose(fout) != 0) return fail("cannot write", ts_rt_arg(argc, argv, "--out"));

    printf("ts-model: result invokes=%ld arena_bytes=%lu stack_bytes=%lu", n, (unsigned long)ts_model_arena_bytes,
           (unsigned long)stack_bytes);
    ts_rt_print_counts("ticks", ticks, n);
    printf("\nts-model: stream rows=%ld", (long)si->rows);
    ts_rt_print_counts("row-ticks-max", row_max, n);
    ts_rt_print_counts("finish-ticks", finish_ticks, n);
    printf("\n");
    if (profile) ts_rt_print_profile(&prof, ts_model_num_layers);
    return 0;
}
