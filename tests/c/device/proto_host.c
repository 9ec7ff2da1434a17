/* Host test harness for the protocol's C side (tests/py/test_device_protocol.py, through ctypes):
 * the encoder writes into memory, the parser runs over a buffer and reports its events. */
#include <string.h>

#include "ts/proto.h"

typedef struct {
    uint8_t *out;
    size_t cap, n;
} mem_t;

static size_t mem_write(void *ctx, const uint8_t *data, size_t n)
{
    mem_t *m = (mem_t *)ctx;
    if (m->n + n > m->cap) return 0;
    memcpy(m->out + m->n, data, n);
    m->n += n;
    return n;
}

static size_t mem_read(void *ctx, uint8_t *data, size_t n, uint32_t timeout_ms)
{
    (void)ctx, (void)data, (void)n, (void)timeout_ms;
    return 0;
}

/* One frame into out (cap bytes); returns its length (0 on error). */
size_t proto_encode(uint8_t type, uint8_t seq, const uint8_t *payload, size_t n, uint8_t *out, size_t cap)
{
    mem_t m = {out, cap, 0};
    ts_proto_io_t io = {mem_write, mem_read, &m, 1};
    /* split the payload in two parts to exercise the gather write */
    size_t na = n / 3;
    if (ts_proto_write(&io, type, seq, payload, na, payload + na, n - na, 0) != TS_OK) return 0;
    return m.n;
}

/* Parses data[0..n) feeding `chunk` bytes at a time (0: as the parser wants); writes up to max events
 * as (event, type, seq, len) quadruples of int32 and returns their number. */
int proto_parse(const uint8_t *data, size_t n, size_t chunk, size_t cap, int32_t *events, int max)
{
    static uint8_t buf[65536];
    ts_proto_parser_t ps;
    ts_proto_parser_init(&ps, buf, cap < sizeof buf ? cap : sizeof buf);
    int k = 0;
    size_t i = 0;
    while (i < n && k < max) {
        size_t want = chunk ? chunk : ts_proto_parser_want(&ps);
        if (want > n - i) want = n - i;
        size_t used = 0;
        ts_proto_event_t ev = ts_proto_parse(&ps, data + i, want, &used);
        i += used;
        if (ev != TS_PROTO_EV_NONE) {
            events[4 * k] = (int32_t)ev;
            events[4 * k + 1] = ps.type;
            events[4 * k + 2] = ps.seq;
            events[4 * k + 3] = ps.len;
            k++;
        }
    }
    return k;
}
