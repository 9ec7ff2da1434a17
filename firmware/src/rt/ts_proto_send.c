/* Sends one data frame; on a byte stream waits for its ACK (stop-and-wait), resending on NAK or
 * timeout. While waiting, a resent copy of the frame last received (its ACK was lost) is re-ACKed. */
#include "ts/proto.h"

typedef enum { WAIT_ACK, WAIT_NAK, WAIT_TIMEOUT, WAIT_IO } wait_result_t;

static wait_result_t wait_ack(ts_proto_t *p, uint8_t seq)
{
    ts_proto_parser_t *ps = &p->parser;
    uint8_t chunk[64];
    for (;;) {
        size_t want = ts_proto_parser_want(ps);
        if (want > sizeof chunk) want = sizeof chunk;
        size_t got = p->io.read(p->io.ctx, chunk, want, p->ack_timeout_ms);
        size_t off = 0;
        while (off < got) {
            size_t used = 0;
            ts_proto_event_t ev = ts_proto_parse(ps, chunk + off, got - off, &used);
            off += used;
            if (ev != TS_PROTO_EV_FRAME) continue; /* a corrupted ACK: the timeout resends */
            if (ps->type == TS_PROTO_ACK && ps->seq == seq) return WAIT_ACK;
            if (ps->type == TS_PROTO_NAK) return WAIT_NAK;
            if (ps->type != TS_PROTO_ACK && p->rx_have_last && ps->seq == p->rx_last)
                ts_proto_write(&p->io, TS_PROTO_ACK, ps->seq, 0, 0, 0, 0, 0);
        }
        if (got < want) {
            ts_proto_parser_init(ps, ps->buf, ps->cap);
            return WAIT_TIMEOUT;
        }
    }
}

ts_status_t ts_proto_send(ts_proto_t *p, uint8_t type, const void *a, size_t na, const void *b, size_t nb)
{
    if (na + nb > TS_PROTO_MAX_PAYLOAD) return TS_ERR_SIZE;
    uint8_t seq = p->tx_seq++;
    for (unsigned attempt = 0; attempt <= p->retries; attempt++) {
        int corrupt = 0;
        if (p->corrupt_tx) {
            p->corrupt_tx--;
            corrupt = 1;
        }
        if (attempt) p->n_resent++;
        ts_status_t st = ts_proto_write(&p->io, type, seq, a, na, b, nb, corrupt);
        if (st != TS_OK) return st;
        if (p->io.reliable) return TS_OK;
        if (wait_ack(p, seq) == WAIT_ACK) return TS_OK;
    }
    return TS_ERR_TIMEOUT;
}
