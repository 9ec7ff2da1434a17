/* The classifier's model calls (ts_clf.h) on TensorFlow Lite Micro, for `--runtime tflm`: the bundle's
 * .tflite linked in flash (ts_tflm_model_data, a generated .S), the operators it uses registered from
 * the generated ts_tflm_ops.h, CMSIS-NN kernels, a static tensor arena (TS_TFLM_ARENA_BYTES, in
 * TS_CLF_ARENA_SECTION: external RAM when the memory plan put it there). Built by
 * tinyscene.device.classifier; the app itself (app_classifier.c) is the same for both runtimes. */
#include <cstddef>
#include <cstdint>
#include <new>

#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"
#include "tensorflow/lite/schema/schema_generated.h"

extern "C" {
#include "ts_clf.h"
}

#include "ts_tflm_ops.h"

#ifndef TS_TFLM_ARENA_BYTES
#error "TS_TFLM_ARENA_BYTES must be defined by the build"
#endif
#ifndef TS_CLF_ARENA_SECTION
#define TS_CLF_ARENA_SECTION
#endif

extern "C" const unsigned char ts_tflm_model_data[];

alignas(16) static uint8_t clf_arena[TS_TFLM_ARENA_BYTES] TS_CLF_ARENA_SECTION;

using Resolver = tflite::MicroMutableOpResolver<TS_TFLM_OP_COUNT>;
/* static storage + placement new: no destructor registered (bare metal has no exit-time teardown) */
alignas(Resolver) static uint8_t resolver_mem[sizeof(Resolver)];
alignas(tflite::MicroInterpreter) static uint8_t interpreter_mem[sizeof(tflite::MicroInterpreter)];
static tflite::MicroInterpreter *interpreter;

extern "C" ts_status_t ts_clf_model_init(void)
{
    const tflite::Model *model = tflite::GetModel(ts_tflm_model_data);
    if (model->version() != TFLITE_SCHEMA_VERSION) return TS_ERR_CONFIG;
    Resolver &resolver = *new (resolver_mem) Resolver();
#define TS_CLF_ADD(method) \
    if (resolver.method() != kTfLiteOk) return TS_ERR_UNSUPPORTED;
    TS_TFLM_OPS(TS_CLF_ADD)
#undef TS_CLF_ADD
    interpreter = new (interpreter_mem) tflite::MicroInterpreter(model, resolver, clf_arena, sizeof clf_arena);
    if (interpreter->AllocateTensors() != kTfLiteOk) return TS_ERR_NOMEM;
    const TfLiteTensor *in = interpreter->input(0), *out = interpreter->output(0);
    if (interpreter->inputs_size() != 1 || in->type != kTfLiteInt8 || in->bytes != TS_CLF_FEATURE_BYTES ||
        out->type != kTfLiteInt8 || out->bytes != TS_CLF_N_CLASSES)
        return TS_ERR_CONFIG;
    return TS_OK;
}

extern "C" int8_t *ts_clf_input(void)
{
    return interpreter->input(0)->data.int8;
}

extern "C" const int8_t *ts_clf_output(void)
{
    return interpreter->output(0)->data.int8;
}

extern "C" ts_status_t ts_clf_invoke(void)
{
    return interpreter->Invoke() == kTfLiteOk ? TS_OK : TS_ERR_UNSUPPORTED;
}
