/* Receives the next data frame. On a byte stream: ACK good frames, NAK corrupted ones (the sender
 * resends), re-ACK and drop duplicates (a resend after a lost ACK), ignore stray ACK/NAK frames. */
#include "ts/proto.h"

static void control(ts_proto_t *p, uint8_t type, uint8_t seq)
{
    ts_proto_write(&p->io, type, seq, 0, 0, 0, 0, 0);
}

ts_status_t ts_proto_recv(ts_proto_t *p, uint8_t *type, uint32_t timeout_ms)
{
    ts_proto_parser_t *ps = &p->parser;
    uint8_t chunk[256];
    unsigned stalls = 0;
    for (;;) {
        size_t want = ts_proto_parser_want(ps);
        if (want > sizeof chunk) want = sizeof chunk;
        size_t got = p->io.read(p->io.ctx, chunk, want, timeout_ms);
        size_t off = 0;
        while (off < got) {
            size_t used = 0;
            ts_proto_event_t ev = ts_proto_parse(ps, chunk + off, got - off, &used);
            off += used;
            if (ev == TS_PROTO_EV_NONE) continue;
            if (ev != TS_PROTO_EV_FRAME) {
                p->n_crc_errors++;
                if (p->io.reliable) return ev == TS_PROTO_EV_TOO_LONG ? TS_ERR_SIZE : TS_ERR_CRC;
                control(p, TS_PROTO_NAK, ps->seq);
                continue;
            }
            if (ps->type == TS_PROTO_ACK || ps->type == TS_PROTO_NAK) continue; /* stale control frame */
            if (!p->io.reliable) {
                control(p, TS_PROTO_ACK, ps->seq);
                /* duplicate; a PING never is (a new host may start at the seq the last one ended with) */
                if (p->rx_have_last && ps->seq == p->rx_last && ps->type != TS_PROTO_PING) continue;
                p->rx_have_last = 1;
                p->rx_last = ps->seq;
            }
            /* a frame ends exactly at a read boundary: `want` never spans two frames */
            *type = ps->type;
            return TS_OK;
        }
        if (got < want) {
            if (p->io.reliable) return TS_ERR_IO; /* end of file */
            if (ps->state >= 2 && stalls++ < p->retries) {
                /* stalled inside a frame (a byte was lost): drop it and ask for a resend */
                ts_proto_parser_init(ps, ps->buf, ps->cap);
                control(p, TS_PROTO_NAK, 0xFFu);
                continue;
            }
            ts_proto_parser_init(ps, ps->buf, ps->cap);
            return TS_ERR_TIMEOUT;
        }
    }
}
