/* nnbench app: instruction counts of a generated int8 model (model.c from `tinyscene compile`), whole and
 * per layer, for `tinyscene bench-kernels`.
 *
 *   nnbench --in IN --out OUT
 *
 * IN holds one input (every graph input's bytes, in order); OUT receives the outputs. The model runs twice
 * on it: once without a layer hook (the whole-network count, measured as the model app measures it), then
 * with a hook that reads the board counter after every layer (per-layer counts; each includes the hook's
 * own few instructions). Ends with one machine-readable line:
 *
 *   ts-nnbench: result total=T layers=L0,L1,... hooked=H
 *
 * T: ticks around the hook-free invoke; Lk: ticks from the end of layer k-1 (or the start of the invoke) to
 * the end of layer k; H: ticks around the hooked invoke. */
#include <stdio.h>
#include <string.h>

#include "ts/board.h"
#include "ts/model.h"
#include "ts/rt.h"

#define APP "ts-nnbench" /* the prefix of its error lines */

#define TS_NNBENCH_MAX_LAYERS 512

static uint64_t marks[TS_NNBENCH_MAX_LAYERS];

static void mark(int32_t layer, const ts_layer_t *info, void *user)
{
    (void)info;
    (void)user;
    if (layer >= 0 && layer < TS_NNBENCH_MAX_LAYERS) marks[layer] = ts_board_counter();
}

static int read_inputs(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    int ok = 1;
    for (int i = 0; i < ts_model_num_inputs && ok; i++) {
        const ts_tensor_t *t = &ts_model_inputs[i];
        ok = fread(t->data, 1, (size_t)t->bytes, f) == (size_t)t->bytes;
    }
    fclose(f);
    return ok;
}

int ts_app_main(int argc, char **argv)
{
    const char *in_path = ts_rt_arg(argc, argv, "--in");
    const char *out_path = ts_rt_arg(argc, argv, "--out");
    if (!in_path || !out_path) return ts_rt_fail(APP, "usage: nnbench --in IN --out OUT", NULL);
    if (ts_model_num_layers > TS_NNBENCH_MAX_LAYERS) return ts_rt_fail(APP, "too many layers", NULL);
    ts_status_t st = ts_model_check();
    if (st != TS_OK) return ts_rt_fail(APP, "a kernel needs more scratch than planned:", ts_status_str(st));

    if (!read_inputs(in_path)) return ts_rt_fail(APP, "cannot read the inputs from", in_path);
    uint64_t t0 = ts_board_counter();
    st = ts_model_invoke();
    const uint64_t total = ts_board_counter() - t0;
    if (st != TS_OK) return ts_rt_fail(APP, "invoke failed:", ts_status_str(st));

    FILE *fout = fopen(out_path, "wb");
    if (!fout) return ts_rt_fail(APP, "cannot create", out_path);
    for (int i = 0; i < ts_model_num_outputs; i++) {
        const ts_tensor_t *t = &ts_model_outputs[i];
        if (fwrite(t->data, 1, (size_t)t->bytes, fout) != (size_t)t->bytes) return ts_rt_fail(APP, "cannot write", out_path);
    }
    if (fclose(fout) != 0) return ts_rt_fail(APP, "cannot write", out_path);

    if (!read_inputs(in_path)) return ts_rt_fail(APP, "cannot read the inputs from", in_path); /* the arena was reused */
    ts_model_set_layer_hook(mark, NULL);
    t0 = ts_board_counter();
    st = ts_model_invoke();
    const uint64_t hooked = ts_board_counter() - t0;
    ts_model_set_layer_hook(NULL, NULL);
    if (st != TS_OK) return ts_rt_fail(APP, "invoke failed:", ts_status_str(st));

    printf("ts-nnbench: result total=%lu layers=", (unsigned long)total);
    uint64_t prev = t0;
    for (int32_t k = 0; k < ts_model_num_layers; k++) {
        printf("%s%lu", k ? "," : "", (unsigned long)(marks[k] - prev));
        prev = marks[k];
    }
    printf(" hooked=%lu\n", (unsigned long)hooked);
    return 0;
}
