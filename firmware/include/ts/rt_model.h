/* What the apps that run a generated model share (app_model.c, app_model_stream.c): a per-layer tick profile
 * through the model's layer hook, writing tensors to a file, the counts of their result lines. */
#ifndef TS_RT_MODEL_H
#define TS_RT_MODEL_H

#include <stdint.h>
#include <stdio.h>

#include "ts/model.h"

typedef struct {
    uint64_t *ticks; /* per layer, summed */
    int32_t layers;  /* entries of ticks */
    uint64_t start;  /* the counter when the current layer started (set before the run) */
} ts_rt_profile_t;

/* The model apps' command line "--in IN --out OUT --n N": opens IN, creates OUT, N in 1..max_n; 0, or 1 after
 * printing the error (ts_rt_fail with the app name "ts-model"). */
int ts_rt_model_files(int argc, char **argv, const char *usage, long max_n, FILE **in, FILE **out, long *n);
/* Layer hook (user: a ts_rt_profile_t): adds the ticks since the previous layer to this layer's. */
void ts_rt_profile_hook(int32_t layer, const ts_layer_t *info, void *user);
/* Writes the data of n tensors to f; 0 when every byte was written. */
int ts_rt_write_tensors(FILE *f, const ts_tensor_t *tensors, int32_t n);
/* Prints " name=v0,v1,..." (n values). */
void ts_rt_print_counts(const char *name, const uint32_t *values, long n);
/* Prints "ts-model: layer-ticks T0,T1,...\n" (the first n layers of a profile). */
void ts_rt_print_profile(const ts_rt_profile_t *p, int32_t n);

#endif /* TS_RT_MODEL_H */
