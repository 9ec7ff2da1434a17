/* Helpers of the apps that run a generated model (ts/rt_model.h). */
#include <stdlib.h>

#include "ts/board.h"
#include "ts/rt.h"
#include "ts/rt_model.h"

int ts_rt_model_files(int argc, char **argv, const char *usage, long max_n, FILE **in, FILE **out, long *n)
{
    const char *in_path = ts_rt_arg(argc, argv, "--in");
    const char *out_path = ts_rt_arg(argc, argv, "--out");
    const char *n_arg = ts_rt_arg(argc, argv, "--n");
    if (!in_path || !out_path || !n_arg) return ts_rt_fail("ts-model", usage, NULL);
    *n = strtol(n_arg, NULL, 10);
    if (*n < 1 || *n > max_n) return ts_rt_fail("ts-model", "--n out of range", n_arg);
    *in = fopen(in_path, "rb");
    if (!*in) return ts_rt_fail("ts-model", "cannot open", in_path);
    *out = fopen(out_path, "wb");
    if (!*out) return ts_rt_fail("ts-model", "cannot create", out_path);
    return 0;
}

void ts_rt_profile_hook(int32_t layer, const ts_layer_t *info, void *user)
{
    (void)info;
    ts_rt_profile_t *p = (ts_rt_profile_t *)user;
    const uint64_t now = ts_board_counter();
    if (layer >= 0 && layer < p->layers) p->ticks[layer] += now - p->start;
    p->start = ts_board_counter();
}

int ts_rt_write_tensors(FILE *f, const ts_tensor_t *tensors, int32_t n)
{
    for (int32_t i = 0; i < n; i++) {
        if (fwrite(tensors[i].data, 1, (size_t)tensors[i].bytes, f) != (size_t)tensors[i].bytes) return 1;
    }
    return 0;
}

void ts_rt_print_counts(const char *name, const uint32_t *values, long n)
{
    printf(" %s=", name);
    for (long k = 0; k < n; k++) printf("%s%lu", k ? "," : "", (unsigned long)values[k]);
}

void ts_rt_print_profile(const ts_rt_profile_t *p, int32_t n)
{
    printf("ts-model: layer-ticks ");
    for (int32_t l = 0; l < n && l < p->layers; l++) printf("%s%lu", l ? "," : "", (unsigned long)p->ticks[l]);
    printf("\n");
}
