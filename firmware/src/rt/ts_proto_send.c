/* Sends one data frame; on a byte stream waits for its ACK (stop-and-wait), resending on NAK or
 * timeout. While it waits, payloads are not stored (the receive buffer may still hold the frame the
 * app is working on): a resent copy of the frame last received (its ACK was lost) is re-ACKed; a new
 * data frame means the host has not seen this one yet: this frame is sent again, then the host's is
 * NAKed so that the host sends it again once this one is acknowledged. */
#include "ts/proto.h"

typedef enum { WAIT_ACK, WAIT_NAK, WAIT_TIMEOUT, WAIT_BUSY } wait_result_t;

static wait_result_t wait_ack(ts_proto_t *p, uint8_t seq, uint8_t *busy_seq)
{
    ts_proto_parser_t ps;
    ts_proto_parser_init(&ps, 0, 0); /* headers only: any payload is skipped */
    uint8_t chunk[64];
    for (;;) {
        size_t want = ts_proto_parser_want(&ps);
        if (want > sizeof chunk) want = sizeof chunk;
        size_t got = p->io.read(p->io.ctx, chunk, want, p->ack_timeout_ms);
        size_t off = 0;
        while (off < got) {
            size_t used = 0;
            ts_proto_event_t ev = ts_proto_parse(&ps, chunk + off, got - off, &used);
            off += used;
            if (ev == TS_PROTO_EV_NONE) continue;
            if (ps.type == TS_PROTO_ACK || ps.type == TS_PROTO_NAK) {
                if (ev != TS_PROTO_EV_FRAME) continue; /* a corrupted ACK/NAK: the timeout resends */
                if (ps.type == TS_PROTO_NAK) return WAIT_NAK;
                if (ps.seq == seq) return WAIT_ACK;
                continue; /* a stale ACK */
            }
            if (ev != TS_PROTO_EV_BAD_CRC && p->rx_have_last && ps.seq == p->rx_last && ps.type != TS_PROTO_PING) {
                ts_proto_write(&p->io, TS_PROTO_ACK, ps.seq, 0, 0, 0, 0, 0); /* duplicate: ACK again */
                continue;
            }
            *busy_seq = ps.seq;
            return WAIT_BUSY; /* at a frame boundary: nothing of the next frame was read */
        }
        if (got < want) return WAIT_TIMEOUT;
    }
}

ts_status_t ts_proto_send(ts_proto_t *p, uint8_t type, const void *a, size_t na, const void *b, size_t nb)
{
    if (na + nb > TS_PROTO_MAX_PAYLOAD) return TS_ERR_SIZE;
    const uint8_t seq = p->tx_seq++;
    unsigned failures = 0, busy = 0;
    int nak = 0;
    uint8_t nak_seq = 0;
    for (;;) {
        int corrupt = 0;
        if (p->corrupt_tx) {
            p->corrupt_tx--;
            corrupt = 1;
        }
        ts_status_t st = ts_proto_write(&p->io, type, seq, a, na, b, nb, corrupt);
        if (st != TS_OK) return st;
        if (p->io.reliable) return TS_OK;
        if (nak) ts_proto_write(&p->io, TS_PROTO_NAK, nak_seq, 0, 0, 0, 0, 0);
        nak = 0;
        wait_result_t r = wait_ack(p, seq, &nak_seq);
        if (r == WAIT_ACK) return TS_OK;
        if (r == WAIT_BUSY) {
            if (++busy > 1000u) return TS_ERR_TIMEOUT;
            nak = 1;
        } else if (++failures > p->retries) {
            return TS_ERR_TIMEOUT;
        }
        p->n_resent++;
    }
}
