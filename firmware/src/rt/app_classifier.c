/* classifier app: the whole classifier on the device.
 *
 *   int16 PCM (protocol frames) -> fixed-point front-end, hop by hop -> int8 features
 *   -> int8 model (generated ts_model_invoke, or TFLM) -> class + int8 logits (protocol frames)
 *
 * Execution of the model (chosen at build time, TS_CLF_EXEC_STREAM):
 *   tensor  the model runs on its whole input tensor (ts_model_invoke or TFLM); per clip (CLIP_BEGIN
 *           flags) either the whole clip (every frame goes straight into the model's input tensor, then
 *           one classification; the clip must have the model's number of frames) or the sliding mode
 *           (frames go into a ring buffer of the model's width; once it is full, a classification every
 *           `every` hops, the ring copied into the model input, oldest frame first);
 *   stream  the model is compiled for streamed execution (model_stream.c, tinyscene compile --stream):
 *           each hop's frame goes straight into the model's input row and the model runs every layer
 *           whose input rows are complete (ts_model_stream_push_row); after the clip's last frame,
 *           ts_model_stream_finish gives the logits. No feature map and no activation tensor is held
 *           whole: the model keeps rings of rows and running sums.
 * Memory plan (all static, sized by the generated ts_clf.h; the build refuses a plan that exceeds
 * the board): front-end state + scratch, the feature ring (tensor, sliding mode), one hop of PCM, the
 * protocol buffers, and the model arena (in the model code).
 *
 * Transport: `--in REQ --out RESP` (semihosting files under QEMU, files on the host), otherwise the
 * board's UART (QEMU's emulated UART, a real board's virtual COM port, stdin/stdout on the host).
 * Up frames per clip: [FEATURES...] LOGITS... COUNTS STACK STATUS.
 */
#include <stdio.h>
#include <string.h>

#include "ts/board.h"
#include "ts/fe.h"
#include "ts/model.h"
#include "ts/proto.h"
#include "ts/rt.h"
#include "ts_clf.h" /* generated for the bundle and board: sizes, ids, model and front-end glue */

#define N_FRAMES TS_CLF_N_FRAMES
#define N_MELS TS_CLF_N_MELS
#define CHANNELS TS_CLF_CHANNELS
#define HOP TS_CLF_HOP
#define FRAME_BYTES (N_MELS * CHANNELS)             /* one frame of int8 features */
#define FEATURE_BYTES (N_FRAMES * FRAME_BYTES)      /* the model input */

#if FEATURE_BYTES != TS_CLF_FEATURE_BYTES
#error "ts_clf.h: feature bytes do not match frames x mels x channels"
#endif

/* ---- memory plan ---------------------------------------------------------------------------- */
static int16_t fe_state[(TS_CLF_FE_STATE_BYTES + 1) / 2] TS_CLF_FE_SECTION;
#if !TS_CLF_FE_SCRATCH_IN_MODEL
static uint64_t fe_scratch[(TS_CLF_FE_SCRATCH_BYTES + 7) / 8] TS_CLF_FE_SECTION;
#endif
#if TS_CLF_STREAMING
static int8_t feature_ring[FEATURE_BYTES] __attribute__((aligned(8))) TS_CLF_RING_SECTION;
#endif
static int16_t hop_pcm[HOP * CHANNELS] __attribute__((aligned(8)));
static uint8_t rx_buf[TS_PROTO_MAX_PAYLOAD] __attribute__((aligned(8)));
static uint8_t tx_buf[TS_CLF_TX_BYTES] __attribute__((aligned(8))); /* INFO and COUNTS (the rest is sent in place) */

/* COUNTS stage ids (tinyscene.target.protocol.STAGES) */
enum {
    ST_FE = 1, ST_FE_MAX = 2, ST_MODEL = 3, ST_MODEL_MAX = 4, ST_HOPS = 5, ST_INVOKES = 6, ST_CLIP = 7,
    ST_HOP_MAX = 8,   /* the most ticks one hop took: front-end + the model's work on that frame */
    ST_FINISH = 9,    /* streamed execution: the model's work after the last frame */
    ST_HEAP = 10,     /* the heap's high-water mark (bytes; newlib's malloc) */
};

typedef struct {
    uint32_t id;
    uint32_t n_samples, received; /* samples per channel */
    uint32_t n_frames, frames;    /* frames of the clip, frames computed */
    uint8_t flags;
    uint16_t every;
    uint32_t hop_fill;            /* samples of the current hop */
    uint32_t windows;             /* classifications sent */
    uint64_t fe_ticks, fe_max, model_ticks, model_max, hop_max, finish, t_begin;
    uint32_t hops, invokes;
    int active;
} clip_t;

static ts_proto_t proto;
static ts_fe_t fe;
static clip_t clip;
static int print_ok; /* console text allowed (not on a UART that carries the protocol) */

static ts_status_t send_status(uint32_t id, ts_status_t st, const char *text)
{
    uint8_t head[5];
    ts_put_u32(head, id);
    head[4] = (uint8_t)st;
    return ts_proto_send(&proto, TS_PROTO_STATUS, head, sizeof head, text, strlen(text));
}

/* reply: 0 at boot (a restart the host did not ask for shows as this), 1 when answering PING */
static ts_status_t send_info(int reply)
{
    uint8_t *p = tx_buf;
    memset(p, 0, 52);
    p[0] = TS_PROTO_VERSION;
    p[1] = TS_CLF_RUNTIME_ID;
    ts_put_u16(p + 2, TS_PROTO_MAX_PAYLOAD);
    ts_put_u32(p + 4, TS_CLF_BUNDLE_ID);
    ts_put_u32(p + 8, TS_CLF_SAMPLE_RATE);
    ts_put_u16(p + 12, TS_CLF_N_FFT);
    ts_put_u16(p + 14, HOP);
    ts_put_u16(p + 16, N_MELS);
    p[18] = CHANNELS;
    p[19] = (uint8_t)reply;
    ts_put_u16(p + 20, N_FRAMES);
    ts_put_u16(p + 22, TS_CLF_N_CLASSES);
    ts_put_u32(p + 24, FEATURE_BYTES);
    ts_put_u32(p + 28, TS_CLF_FE_STATE_BYTES + TS_CLF_FE_SCRATCH_BYTES);
    ts_put_u32(p + 32, TS_CLF_ARENA_BYTES);
    ts_put_u32(p + 36, TS_CLF_STREAMING ? FEATURE_BYTES : 0u);
    ts_put_u32(p + 40, (uint32_t)(sizeof hop_pcm + sizeof rx_buf + sizeof tx_buf));
    ts_put_u32(p + 44, (uint32_t)ts_rt_stack_size());
    ts_put_u32(p + 48, TS_CLF_CLOCK_HZ);
    static const char board[] = TS_CLF_BOARD_NAME;
    return ts_proto_send(&proto, TS_PROTO_INFO, p, 52, board, sizeof board - 1);
}

static ts_status_t send_features(uint32_t id, uint32_t offset, const int8_t *data, uint32_t n)
{
    const uint32_t chunk = TS_PROTO_MAX_PAYLOAD - 8u;
    for (uint32_t done = 0; done < n; done += chunk) {
        uint8_t head[8];
        uint32_t k = n - done < chunk ? n - done : chunk;
        ts_put_u32(head, id);
        ts_put_u32(head + 4, offset + done);
        ts_status_t st = ts_proto_send(&proto, TS_PROTO_FEATURES, head, sizeof head, data + done, k);
        if (st != TS_OK) return st;
    }
    return TS_OK;
}

/* Sends the class and the logits of the model's output. */
static ts_status_t send_logits(void)
{
    const int8_t *logits = ts_clf_output();
    uint16_t best = 0;
    for (uint16_t k = 1; k < TS_CLF_N_CLASSES; k++)
        if (logits[k] > logits[best]) best = k;
    uint8_t head[12];
    ts_put_u32(head, clip.id);
    ts_put_u16(head + 4, (uint16_t)clip.windows++);
    ts_put_u16(head + 6, (uint16_t)clip.hops);
    ts_put_u16(head + 8, best);
    ts_put_u16(head + 10, TS_CLF_N_CLASSES);
    return ts_proto_send(&proto, TS_PROTO_LOGITS, head, sizeof head, logits, TS_CLF_N_CLASSES);
}

static void count_model(uint64_t dt)
{
    clip.model_ticks += dt;
    if (dt > clip.model_max) clip.model_max = dt;
}

#if !TS_CLF_EXEC_STREAM
/* Runs the model on its input tensor (already filled) and sends the class and logits. */
static ts_status_t classify(void)
{
    uint64_t t0 = ts_board_counter();
    ts_status_t st = ts_clf_invoke();
    count_model(ts_board_counter() - t0);
    if (st != TS_OK) return st;
    clip.invokes++;
    return send_logits();
}
#endif

#if TS_CLF_STREAMING
/* The ring (column t % N_FRAMES holds frame t) into the model input, oldest frame first. */
static void ring_to_input(int8_t *input, uint32_t next_frame)
{
    const uint32_t start = next_frame % N_FRAMES; /* the oldest frame's column */
    const size_t row = (size_t)N_FRAMES * CHANNELS;
    const size_t tail = (size_t)(N_FRAMES - start) * CHANNELS;
    for (uint32_t m = 0; m < N_MELS; m++) {
        const int8_t *src = feature_ring + m * row;
        int8_t *dst = input + m * row;
        memcpy(dst, src + start * CHANNELS, tail);
        memcpy(dst + tail, src, row - tail);
    }
}
#endif

/* Pushes one hop (n_valid samples per channel, zeros after) and computes its frame when complete. */
static ts_status_t push_hop(uint32_t n_valid)
{
    ts_fe_push_hop(&fe, hop_pcm, (int32_t)n_valid);
    clip.hops++;
    if (fe.hops < TS_CLF_DELAY_HOPS || clip.frames >= clip.n_frames) return TS_OK;
    const uint32_t t = clip.frames;
#if TS_CLF_EXEC_STREAM
    /* the frame, [mel][channel], is the model's next input row */
    uint64_t t0 = ts_board_counter();
    int8_t *row = ts_model_stream_row_buffer();
    ts_status_t st = ts_fe_compute_frame(&fe, row, CHANNELS, 0);
    const uint64_t t1 = ts_board_counter();
    if (st != TS_OK) return st;
    if (clip.flags & TS_PROTO_CLIP_FEATURES) {
        st = send_features(clip.id, t * FRAME_BYTES, row, FRAME_BYTES);
        if (st != TS_OK) return st;
    }
    const uint64_t t2 = ts_board_counter();
    st = ts_model_stream_push_row(row);
    const uint64_t t3 = ts_board_counter();
    if (st != TS_OK) return st;
    clip.fe_ticks += t1 - t0;
    if (t1 - t0 > clip.fe_max) clip.fe_max = t1 - t0;
    count_model(t3 - t2);
    if ((t1 - t0) + (t3 - t2) > clip.hop_max) clip.hop_max = (t1 - t0) + (t3 - t2);
    clip.frames++;
    return TS_OK;
#else
    int8_t *out;
#if TS_CLF_STREAMING
    const int streaming = (clip.flags & TS_PROTO_CLIP_STREAMING) != 0;
    out = streaming ? feature_ring + (t % N_FRAMES) * CHANNELS : ts_clf_input() + t * CHANNELS;
#else
    out = ts_clf_input() + t * CHANNELS;
#endif
    uint64_t t0 = ts_board_counter();
    ts_status_t st = ts_fe_compute_frame(&fe, out, N_FRAMES * CHANNELS, 0);
    uint64_t dt = ts_board_counter() - t0;
    if (st != TS_OK) return st;
    clip.fe_ticks += dt;
    if (dt > clip.fe_max) clip.fe_max = dt;
    if (dt > clip.hop_max) clip.hop_max = dt;
    clip.frames++;
#if TS_CLF_STREAMING
    if (streaming) {
        if (clip.flags & TS_PROTO_CLIP_FEATURES) {
            /* streaming features go up frame by frame: [frame][mel][channel] */
            static int8_t col[FRAME_BYTES];
            for (uint32_t m = 0; m < N_MELS; m++)
                memcpy(col + m * CHANNELS, out + m * N_FRAMES * CHANNELS, CHANNELS);
            st = send_features(clip.id, t * FRAME_BYTES, col, FRAME_BYTES);
            if (st != TS_OK) return st;
        }
        if (clip.frames >= N_FRAMES && (clip.frames - N_FRAMES) % clip.every == 0) {
            ring_to_input(ts_clf_input(), clip.frames);
            return classify();
        }
    }
#endif
    return TS_OK;
#endif /* TS_CLF_EXEC_STREAM */
}

static ts_status_t clip_begin(const uint8_t *p, size_t n)
{
    if (n < 12) return TS_ERR_PROTOCOL;
    memset(&clip, 0, sizeof clip);
    clip.id = ts_get_u32(p);
    clip.n_samples = ts_get_u32(p + 4);
    clip.flags = p[8];
    clip.every = (uint16_t)ts_get_u16(p + 10);
    clip.n_frames = 1u + clip.n_samples / HOP;
    clip.t_begin = ts_board_counter();
    clip.active = 1;
    if (clip.every == 0) clip.every = N_FRAMES;
    ts_fe_reset(&fe);
#if TS_CLF_EXEC_STREAM
    ts_model_stream_reset();
#endif
    if (clip.flags & TS_PROTO_CLIP_STREAMING) {
#if !TS_CLF_STREAMING
        return TS_ERR_UNSUPPORTED;
#endif
    } else if (clip.n_frames != N_FRAMES) {
        return TS_ERR_SIZE;
    }
    return TS_OK;
}

static ts_status_t clip_end(void)
{
    ts_status_t st = TS_OK;
    /* the right padding of centred framing: the partial hop, then zero hops, until every frame is out */
    while (st == TS_OK && clip.frames < clip.n_frames) {
        st = push_hop(clip.hop_fill);
        clip.hop_fill = 0;
    }
#if TS_CLF_EXEC_STREAM
    if (st == TS_OK) { /* every frame is in: the reductions' requantisation and the layers after them */
        const uint64_t t0 = ts_board_counter();
        st = ts_model_stream_finish();
        clip.finish = ts_board_counter() - t0;
        clip.model_ticks += clip.finish;
        clip.invokes++;
        if (st == TS_OK) st = send_logits();
    }
#else
    if (st == TS_OK && !(clip.flags & TS_PROTO_CLIP_STREAMING)) {
        if (clip.flags & TS_PROTO_CLIP_FEATURES) st = send_features(clip.id, 0, ts_clf_input(), FEATURE_BYTES);
        if (st == TS_OK) st = classify();
    }
#endif
    if (st != TS_OK) return st;
    const struct {
        uint8_t id;
        uint64_t v;
    } counts[] = {{ST_FE, clip.fe_ticks},       {ST_FE_MAX, clip.fe_max}, {ST_MODEL, clip.model_ticks},
                  {ST_MODEL_MAX, clip.model_max}, {ST_HOPS, clip.hops},   {ST_INVOKES, clip.invokes},
                  {ST_CLIP, ts_board_counter() - clip.t_begin}, {ST_HOP_MAX, clip.hop_max},
                  {ST_FINISH, clip.finish}, {ST_HEAP, ts_rt_heap_high_water()}};
    uint8_t *p = tx_buf;
    const uint16_t k = (uint16_t)(sizeof counts / sizeof counts[0]);
    if (6u + 9u * k > sizeof tx_buf) return TS_ERR_NOMEM;
    ts_put_u32(p, clip.id);
    ts_put_u16(p + 4, k);
    for (uint16_t i = 0; i < k; i++) {
        p[6 + 9 * i] = counts[i].id;
        ts_put_u64(p + 7 + 9 * i, counts[i].v);
    }
    st = ts_proto_send(&proto, TS_PROTO_COUNTS, p, 6u + 9u * k, 0, 0);
    if (st != TS_OK) return st;
    uint8_t stack[12];
    ts_put_u32(stack, clip.id);
    ts_put_u32(stack + 4, (uint32_t)ts_rt_stack_high_water());
    ts_put_u32(stack + 8, (uint32_t)ts_rt_stack_size());
    st = ts_proto_send(&proto, TS_PROTO_STACK, stack, sizeof stack, 0, 0);
    if (st != TS_OK) return st;
    clip.active = 0;
    return send_status(clip.id, TS_OK, "ok");
}

static ts_status_t clip_pcm(const uint8_t *p, size_t n)
{
    if (!clip.active) return TS_ERR_PROTOCOL;
    if (n % (2u * CHANNELS)) return TS_ERR_SIZE;
    uint32_t samples = (uint32_t)(n / (2u * CHANNELS));
    if (clip.received + samples > clip.n_samples) return TS_ERR_SIZE;
    const int16_t *pcm = (const int16_t *)(const void *)p; /* the payload is 8-byte aligned */
    while (samples) {
        uint32_t k = HOP - clip.hop_fill;
        if (k > samples) k = samples;
        memcpy(hop_pcm + clip.hop_fill * CHANNELS, pcm, (size_t)k * CHANNELS * sizeof(int16_t));
        pcm += k * CHANNELS;
        samples -= k;
        clip.received += k;
        clip.hop_fill += k;
        if (clip.hop_fill == HOP) {
            clip.hop_fill = 0;
            ts_status_t st = push_hop(HOP);
            if (st != TS_OK) return st;
        }
    }
    return clip.received == clip.n_samples ? clip_end() : TS_OK;
}

int ts_app_main(int argc, char **argv)
{
    ts_proto_io_t io;
    FILE *in = 0, *out = 0;
    const char *in_path = 0, *out_path = 0;
    for (int i = 1; i + 1 < argc; i++) {
        if (strcmp(argv[i], "--in") == 0) in_path = argv[++i];
        else if (strcmp(argv[i], "--out") == 0) out_path = argv[++i];
    }
    if (in_path && out_path) {
        in = fopen(in_path, "rb");
        out = fopen(out_path, "wb");
        if (!in || !out) {
            fprintf(stderr, "classifier: cannot open %s / %s\n", in_path, out_path);
            return 2;
        }
        ts_proto_io_file(&io, in, out);
        print_ok = 1;
    } else {
        ts_proto_io_uart(&io);
    }
    ts_proto_init(&proto, &io, rx_buf, sizeof rx_buf);
    const char *failed = "front-end initialisation (ts_fe_init) failed";
#if TS_CLF_FE_SCRATCH_IN_MODEL
    /* the front-end's scratch is the streamed model's shared region: it holds nothing between two pushes,
     * and the front-end runs between two pushes */
    int32_t scratch_bytes = 0;
    void *fe_scratch = ts_model_stream_shared(&scratch_bytes);
#else
    const int32_t scratch_bytes = (int32_t)sizeof fe_scratch;
#endif
    ts_status_t st = ts_fe_init(&fe, ts_clf_fe_config(), ts_clf_fe_quant(), fe_state, fe_scratch);
    if (st == TS_OK && (ts_fe_get_state_size(ts_clf_fe_config()) > (int32_t)sizeof fe_state ||
                        ts_fe_get_buffer_size(ts_clf_fe_config()) > scratch_bytes))
        st = TS_ERR_NOMEM;
    if (st == TS_OK) {
        failed = "model initialisation (check of the generated model / runtime) failed";
        st = ts_clf_model_init();
    }
    send_info(0);
    if (st != TS_OK) {
        send_status(0, st, failed);
        if (print_ok) fprintf(stderr, "classifier: %s: %s\n", failed, ts_status_str(st));
        return 3;
    }

    int code = 0;
    for (;;) {
        uint8_t type = 0;
        st = ts_proto_recv(&proto, &type, 0);
        if (st == TS_ERR_IO && io.reliable) break; /* end of the request file */
        if (st != TS_OK) {
            if (print_ok) fprintf(stderr, "classifier: receive failed: %s\n", ts_status_str(st));
            send_status(clip.id, st, "corrupted or truncated request");
            code = 4;
            break;
        }
        const uint8_t *p = proto.parser.buf;
        const size_t n = proto.parser.len;
        switch (type) {
        case TS_PROTO_PING:
            st = send_info(1);
            break;
        case TS_PROTO_CLIP_BEGIN:
            st = clip_begin(p, n);
            if (st == TS_OK && clip.n_samples == 0) st = clip_end();
            if (st != TS_OK) {
                send_status(clip.id, st, st == TS_ERR_SIZE ? "clip length does not give the model's frames"
                                                           : "clip rejected");
                clip.active = 0;
                st = TS_OK;
            }
            break;
        case TS_PROTO_PCM:
            st = clip_pcm(p, n);
            if (st != TS_OK) {
                send_status(clip.id, st, "clip failed");
                clip.active = 0;
                st = TS_OK;
            }
            break;
        case TS_PROTO_DEBUG:
            ts_proto_debug(&proto, p, n);
            break;
        case TS_PROTO_BYE:
#if TS_CLF_PERSISTENT
            clip.active = 0; /* a real board keeps serving: the next host sends PING */
            proto.rx_have_last = 0;
            break;
#else
            goto done;
#endif
        default:
            send_status(clip.id, TS_ERR_PROTOCOL, "unexpected frame type");
            break;
        }
        if (st != TS_OK) {
#if TS_CLF_PERSISTENT
            clip.active = 0; /* the host went away: serve the next one */
            continue;
#else
            code = 5; /* the host stopped acknowledging */
            break;
#endif
        }
    }
#if !TS_CLF_PERSISTENT
done:
#endif
    if (out) fclose(out);
    if (in) fclose(in);
    if (print_ok) fprintf(stderr, "classifier: done (%s)\n", code ? "error" : "ok");
    return code;
}
