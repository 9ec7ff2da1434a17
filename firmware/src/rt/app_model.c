/* model app: runs a generated int8 model (model.c from `tinyscene compile`, linked in; ts/model.h) on inputs
 * read from a file.
 *
 *   model --in IN --out OUT --n N [--dump DUMP] [--profile]
 *
 * IN holds N invokes' inputs back to back (each: every graph input's bytes, in order); OUT receives the
 * outputs likewise. With --dump, every layer's output tensor is appended to DUMP after each layer (in
 * layer order, invoke after invoke). Files are semihosting files under QEMU, plain files on the host.
 * Ends with one machine-readable line:
 *
 *   ts-model: result invokes=N arena_bytes=A stack_bytes=S ticks=T0,T1,...
 *
 * ticks: the board counter around each ts_model_invoke() only (board.yaml counter.per_tick converts them);
 * stack_bytes: stack high-water mark over the invokes (painted before each). With --profile, a second line
 *
 *   ts-model: layer-ticks T0,T1,...
 *
 * gives each layer's ticks summed over the invokes (read by the layer hook: a few instructions per layer are
 * added to the invoke's own count). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ts/board.h"
#include "ts/model.h"
#include "ts/rt.h"
#include "ts/rt_model.h"

#define TS_MODEL_MAX_INVOKES 1024
#define TS_MODEL_MAX_PROFILED_LAYERS 512

static uint32_t ticks[TS_MODEL_MAX_INVOKES];
static uint64_t layer_ticks[TS_MODEL_MAX_PROFILED_LAYERS];
static ts_rt_profile_t prof = {layer_ticks, TS_MODEL_MAX_PROFILED_LAYERS, 0};

static void dump_layer(int32_t layer, const ts_layer_t *info, void *user)
{
    (void)layer;
    FILE *f = (FILE *)user;
    fwrite(info->output->data, 1, (size_t)info->output->bytes, f);
}

static int fail(const char *what, const char *detail)
{
    return ts_rt_fail("ts-model", what, detail);
}

int ts_app_main(int argc, char **argv)
{
    const char *dump_path = ts_rt_arg(argc, argv, "--dump");
    const int profile = ts_rt_flag(argc, argv, "--profile");
    if (profile && dump_path) return fail("--profile and --dump exclude each other", NULL);
    FILE *fin, *fout;
    long n;
    if (ts_rt_model_files(argc, argv, "usage: model --in IN --out OUT --n N [--dump DUMP] [--profile]", TS_MODEL_MAX_INVOKES, &fin, &fout, &n)) return 1;
    ts_status_t st = ts_model_check();
    if (st != TS_OK) return fail("a kernel needs more scratch than planned:", ts_status_str(st));
    FILE *fdump = NULL;
    if (dump_path) {
        fdump = fopen(dump_path, "wb");
        if (!fdump) return fail("cannot create", dump_path);
        ts_model_set_layer_hook(dump_layer, fdump);
    }
    if (profile) ts_model_set_layer_hook(ts_rt_profile_hook, &prof);

    size_t stack_bytes = 0;
    for (long k = 0; k < n; k++) {
        for (int32_t i = 0; i < ts_model_num_inputs; i++) {
            const ts_tensor_t *t = &ts_model_inputs[i];
            if (fread(t->data, 1, (size_t)t->bytes, fin) != (size_t)t->bytes) return fail("short input file", ts_rt_arg(argc, argv, "--in"));
        }
        ts_rt_stack_paint();
        const uint64_t t0 = ts_board_counter();
        prof.start = t0;
        st = ts_model_invoke();
        const uint64_t t1 = ts_board_counter();
        const size_t hw = ts_rt_stack_high_water();
        if (hw > stack_bytes) stack_bytes = hw;
        if (st != TS_OK) return fail("invoke failed:", ts_status_str(st));
        ticks[k] = (uint32_t)(t1 - t0);
        if (ts_rt_write_tensors(fout, ts_model_outputs, ts_model_num_outputs)) return fail("cannot write", ts_rt_arg(argc, argv, "--out"));
    }
    fclose(fin);
    if (fclose(fout) != 0) return fail("cannot write", ts_rt_arg(argc, argv, "--out"));
    if (fdump && fclose(fdump) != 0) return fail("cannot write", dump_path);

    printf("ts-model: result invokes=%ld arena_bytes=%lu stack_bytes=%lu", n, (unsigned long)ts_model_arena_bytes,
           (unsigned long)stack_bytes);
    ts_rt_print_counts("ticks", ticks, n);
    printf("\n");
    if (profile) ts_rt_print_profile(&prof, ts_model_num_layers);
    return 0;
}
