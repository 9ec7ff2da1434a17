/* tflm app: runs an int8 .tflite with TensorFlow Lite Micro — CMSIS-NN kernels (`tflm`) or TFLM's
 * reference kernels (`tflm-ref`), chosen by the kernel objects it is linked with — on inputs read
 * over semihosting (plain files on the host build). Built by tinyscene.tflm.runner with:
 *
 *   ts_tflm_model_data / ts_tflm_model_size   the model's flatbuffer, in flash (a generated .S)
 *   ts_tflm_ops.h                             TS_TFLM_OP_COUNT, TS_TFLM_OPS(X): resolver methods
 *   ts_tflm_arena / ts_tflm_arena_size        the tensor arena (a generated .c: the interpreter's
 *                                             figure + margin; its own file, so a new size
 *                                             recompiles only that file)
 *
 *   tflm N [--profile] [--dump]
 *       for i < N: reads in_<i>.bin into input 0, invokes, writes out_<i>.bin; --dump keeps every
 *       tensor (TFLM's preserve_all_tensors) and writes operator k's first output, for input 0, to
 *       layer_<k>.bin
 *
 * Prints one line per fact, for the runner to parse:
 *   tflm: arena <capacity> used <arena_used_bytes()>
 *   tflm: invoke <i> ticks <t>            board counter read right before and after Invoke()
 *   tflm: layer <k> <OP> ticks <t>        with --profile: per operator, input 0 (a separate invoke)
 *   tflm: stack <high-water bytes>
 * Exit codes: 0 ok, 4 arena too small, 5 bad model or input, 6 invoke failed.
 */
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

#include "tensorflow/lite/micro/memory_helpers.h"
#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"
#include "tensorflow/lite/micro/micro_profiler_interface.h"
#include "tensorflow/lite/schema/schema_generated.h"

extern "C" {
#include "ts/board.h"
#include "ts/rt.h"
}

#include "ts_tflm_ops.h"

extern "C" const unsigned char ts_tflm_model_data[];
extern "C" const unsigned int ts_tflm_model_size;
extern "C" uint8_t ts_tflm_arena[];  /* 16-byte aligned */
extern "C" const size_t ts_tflm_arena_size;

enum { TS_TFLM_EXIT_ARENA = 4, TS_TFLM_EXIT_INPUT = 5, TS_TFLM_EXIT_INVOKE = 6 };

/* Per-operator ticks: TFLM's interpreter opens one event per operator it invokes. */
class TsTickProfiler : public tflite::MicroProfilerInterface {
public:
    static constexpr uint32_t kMaxEvents = 512;

    uint32_t BeginEvent(const char *tag) override
    {
        uint32_t h = count_++;
        if (h < kMaxEvents) {
            tags_[h] = tag;
            start_[h] = ts_board_counter();
        }
        return h;
    }

    void EndEvent(uint32_t handle) override
    {
        if (handle < kMaxEvents) end_[handle] = ts_board_counter();
    }

    void Report() const
    {
        uint32_t n = count_ < kMaxEvents ? count_ : kMaxEvents;
        for (uint32_t k = 0; k < n; k++)
            printf("tflm: layer %lu %s ticks %llu\n", (unsigned long)k, tags_[k] ? tags_[k] : "?",
                   (unsigned long long)(end_[k] - start_[k]));
    }

private:
    uint32_t count_ = 0;
    const char *tags_[kMaxEvents] = {};
    uint64_t start_[kMaxEvents] = {};
    uint64_t end_[kMaxEvents] = {};
};

/* The interpreter, resolver and profiler live in static storage, constructed with placement new:
 * no destructor is registered (bare metal has no exit-time teardown, nor a __dso_handle). */
alignas(TsTickProfiler) static uint8_t ts_profiler_mem[sizeof(TsTickProfiler)];
alignas(tflite::MicroMutableOpResolver<TS_TFLM_OP_COUNT>) static uint8_t
    ts_resolver_mem[sizeof(tflite::MicroMutableOpResolver<TS_TFLM_OP_COUNT>)];
alignas(tflite::MicroInterpreter) static uint8_t ts_interpreter_mem[sizeof(tflite::MicroInterpreter)];

static int register_ops(tflite::MicroMutableOpResolver<TS_TFLM_OP_COUNT> &resolver)
{
#define TS_TFLM_ADD(method)                                   \
    if (resolver.method() != kTfLiteOk) {                     \
        printf("tflm: error: cannot register " #method "\n"); \
        return 1;                                             \
    }
    TS_TFLM_OPS(TS_TFLM_ADD)
#undef TS_TFLM_ADD
    return 0;
}

static int read_input(TfLiteTensor *input, int i)
{
    char name[32];
    snprintf(name, sizeof name, "in_%d.bin", i);
    size_t n = 0;
    ts_status_t st = ts_rt_read_file(name, input->data.raw, input->bytes, &n);
    if (st != TS_OK || n != input->bytes) {
        printf("tflm: error: %s: %s (%u bytes read, input tensor has %u)\n", name,
               st == TS_OK ? "size does not match" : ts_status_str(st), (unsigned)n, (unsigned)input->bytes);
        return 1;
    }
    return 0;
}

static int write_output(const TfLiteTensor *output, int i)
{
    char name[32];
    snprintf(name, sizeof name, "out_%d.bin", i);
    if (ts_rt_write_file(name, output->data.raw, output->bytes) != TS_OK) {
        printf("tflm: error: cannot write %s\n", name);
        return 1;
    }
    return 0;
}

/* Operator k's first output of subgraph 0, as the interpreter kept it, into layer_<k>.bin. */
static int dump_layers(const tflite::Model *model, tflite::MicroInterpreter &interpreter)
{
    const auto *ops = model->subgraphs()->Get(0)->operators();
    for (uint32_t k = 0; ops && k < ops->size(); k++) {
        const auto *outs = ops->Get(k)->outputs();
        if (!outs || outs->size() == 0) continue;
        TfLiteEvalTensor *t = interpreter.GetTensor(outs->Get(0), 0);
        size_t bytes = 0;
        if (!t || tflite::TfLiteEvalTensorByteLength(t, &bytes) != kTfLiteOk) {
            printf("tflm: error: no tensor kept for operator %lu\n", (unsigned long)k);
            return 1;
        }
        char name[32];
        snprintf(name, sizeof name, "layer_%lu.bin", (unsigned long)k);
        if (ts_rt_write_file(name, t->data.raw, bytes) != TS_OK) {
            printf("tflm: error: cannot write %s\n", name);
            return 1;
        }
    }
    return 0;
}

int ts_app_main(int argc, char **argv)
{
    int n_inputs = argc >= 2 ? atoi(argv[1]) : 1;
    bool profile = false, dump = false;
    for (int a = 2; a < argc; a++) {
        profile |= strcmp(argv[a], "--profile") == 0;
        dump |= strcmp(argv[a], "--dump") == 0;
    }

    const tflite::Model *model = tflite::GetModel(ts_tflm_model_data);
    if (model->version() != TFLITE_SCHEMA_VERSION) {
        printf("tflm: error: model schema version %lu, TFLM expects %d\n", (unsigned long)model->version(),
               TFLITE_SCHEMA_VERSION);
        return TS_TFLM_EXIT_INPUT;
    }
    auto &resolver = *new (ts_resolver_mem) tflite::MicroMutableOpResolver<TS_TFLM_OP_COUNT>();
    if (register_ops(resolver) != 0) return TS_TFLM_EXIT_INPUT;

    TsTickProfiler *profiler = profile ? new (ts_profiler_mem) TsTickProfiler() : nullptr;
    auto &interpreter = *new (ts_interpreter_mem)
        tflite::MicroInterpreter(model, resolver, ts_tflm_arena, ts_tflm_arena_size, nullptr, profiler, dump);
    if (interpreter.AllocateTensors() != kTfLiteOk) {
        printf("tflm: error: arena too small: AllocateTensors failed with %u bytes\n",
               (unsigned)ts_tflm_arena_size);
        return TS_TFLM_EXIT_ARENA;
    }
    printf("tflm: arena %u used %u\n", (unsigned)ts_tflm_arena_size, (unsigned)interpreter.arena_used_bytes());
    if (interpreter.inputs_size() != 1) {
        printf("tflm: error: the model has %u inputs; this app feeds one\n", (unsigned)interpreter.inputs_size());
        return TS_TFLM_EXIT_INPUT;
    }
    TfLiteTensor *input = interpreter.input(0);
    TfLiteTensor *output = interpreter.output(0);

    for (int i = 0; i < n_inputs; i++) {
        if (read_input(input, i) != 0) return TS_TFLM_EXIT_INPUT;
        uint64_t t0 = ts_board_counter();
        TfLiteStatus st = interpreter.Invoke();
        uint64_t t1 = ts_board_counter();
        if (st != kTfLiteOk) {
            printf("tflm: error: Invoke failed on input %d\n", i);
            return TS_TFLM_EXIT_INVOKE;
        }
        if (profiler && i == 0) profiler->Report();
        if (dump && i == 0 && dump_layers(model, interpreter) != 0) return TS_TFLM_EXIT_INPUT;
        printf("tflm: invoke %d ticks %llu\n", i, (unsigned long long)(t1 - t0));
        if (write_output(output, i) != 0) return TS_TFLM_EXIT_INPUT;
    }
    printf("tflm: stack %u\n", (unsigned)ts_rt_stack_high_water());
    return 0;
}
