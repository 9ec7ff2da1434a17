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

#define APP "ts-model" /* the prefix of its error lines */

#define TS_MODEL_MAX_INVOKES 1024
#define TS_MODEL_MAX_PROFILED_LAYERS 512

static uint32_t ticks[TS_MODEL_MAX_INVOKES];
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

static void dump_layer(int32_t layer, const ts_layer_t *info, void *user)
{
    (void)layer;
    FILE *f = (FILE *)user;
    fwrite(info->output->data, 1, (size_t)info->output->bytes, f);
}

int ts_app_main(int argc, char **argv)
{
    const char *in_path = ts_rt_arg(argc, argv, "--in");
    const char *out_path = ts_rt_arg(argc, argv, "--out");
    const char *n_arg = ts_rt_arg(argc, argv, "--n");
    const char *dump_path = ts_rt_arg(argc, argv, "--dump");
    int profile = 0;
    for (int i = 1; i < argc; i++) profile |= strcmp(argv[i], "--profile") == 0;
    if (!in_path || !out_path || !n_arg) {
        return ts_rt_fail(APP, "usage: model --in IN --out OUT --n N [--dump DUMP] [--profile]", NULL);
    }
    if (profile && dump_path) return ts_rt_fail(APP, "--profile and --dump exclude each other", NULL);
    const long n = strtol(n_arg, NULL, 10);
    if (n < 1 || n > TS_MODEL_MAX_INVOKES) return ts_rt_fail(APP, "--n out of range", n_arg);

    ts_status_t st = ts_model_check();
    if (st != TS_OK) return ts_rt_fail(APP, "a kernel needs more scratch than planned:", ts_status_str(st));

    FILE *fin = fopen(in_path, "rb");
    if (!fin) return ts_rt_fail(APP, "cannot open", in_path);
    FILE *fout = fopen(out_path, "wb");
    if (!fout) return ts_rt_fail(APP, "cannot create", out_path);
    FILE *fdump = NULL;
    if (dump_path) {
        fdump = fopen(dump_path, "wb");
        if (!fdump) return ts_rt_fail(APP, "cannot create", dump_path);
        ts_model_set_layer_hook(dump_layer, fdump);
    }
    if (profile) ts_model_set_layer_hook(profile_layer, NULL);

    size_t stack_bytes = 0;
    for (long k = 0; k < n; k++) {
        for (int32_t i = 0; i < ts_model_num_inputs; i++) {
            const ts_tensor_t *t = &ts_model_inputs[i];
            if (fread(t->data, 1, (size_t)t->bytes, fin) != (size_t)t->bytes) return ts_rt_fail(APP, "short input file", in_path);
        }
        ts_rt_stack_paint();
        const uint64_t t0 = ts_board_counter();
        layer_start = t0;
        st = ts_model_invoke();
        const uint64_t t1 = ts_board_counter();
        const size_t hw = ts_rt_stack_high_water();
        if (hw > stack_bytes) stack_bytes = hw;
        if (st != TS_OK) return ts_rt_fail(APP, "invoke failed:", ts_status_str(st));
        ticks[k] = (uint32_t)(t1 - t0);
        for (int32_t i = 0; i < ts_model_num_outputs; i++) {
            const ts_tensor_t *t = &ts_model_outputs[i];
            if (fwrite(t->data, 1, (size_t)t->bytes, fout) != (size_t)t->bytes) return ts_rt_fail(APP, "cannot write", out_path);
        }
    }
    fclose(fin);
    if (fclose(fout) != 0) return ts_rt_fail(APP, "cannot write", out_path);
    if (fdump && fclose(fdump) != 0) return ts_rt_fail(APP, "cannot write", dump_path);

    printf("ts-model: result invokes=%ld arena_bytes=%lu stack_bytes=%lu ticks=", n,
           (unsigned long)ts_model_arena_bytes, (unsigned long)stack_bytes);
    for (long k = 0; k < n; k++) printf("%s%lu", k ? "," : "", (unsigned long)ticks[k]);
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
