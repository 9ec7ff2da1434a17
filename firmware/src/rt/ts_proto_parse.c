/* Incremental frame parser: sync scan, header check (a corrupted length is caught by the header CRC
 * and the stream resynchronised on the next sync pair), payload, CRC-32. */
#include <string.h>

#include "ts/crc32.h"
#include "ts/proto.h"

/* Sync/header states only: used to rescan the bytes of a rejected header for a later sync pair. */
static void scan_byte(ts_proto_parser_t *ps, uint8_t b)
{
    switch (ps->state) {
    case 0:
        if (b == TS_PROTO_SYNC0) ps->state = 1;
        break;
    case 1:
        if (b == TS_PROTO_SYNC1) {
            ps->hdr[0] = TS_PROTO_SYNC0;
            ps->hdr[1] = TS_PROTO_SYNC1;
            ps->got = 2;
            ps->state = 2;
        } else if (b != TS_PROTO_SYNC0) {
            ps->state = 0;
        }
        break;
    default: /* 2: header bytes (never completes from a rescan: at most 6 bytes are rescanned) */
        ps->hdr[ps->got++] = b;
        break;
    }
}

static ts_proto_event_t header_done(ts_proto_parser_t *ps)
{
    uint32_t hcrc = ts_crc32(0, ps->hdr + 2, 4) & 0xFFFFu; /* type, seq, len */
    if (hcrc != ts_get_u16(ps->hdr + 6)) {
        uint8_t rest[TS_PROTO_HEADER_BYTES - 2];
        memcpy(rest, ps->hdr + 2, sizeof rest);
        ps->n_bad_header++;
        ps->state = 0;
        ps->got = 0;
        for (size_t i = 0; i < sizeof rest; i++) scan_byte(ps, rest[i]);
        return TS_PROTO_EV_NONE;
    }
    ps->type = ps->hdr[2];
    ps->seq = ps->hdr[3];
    ps->len = (uint16_t)ts_get_u16(ps->hdr + 4);
    ps->crc = ts_crc32(0, ps->hdr + 2, TS_PROTO_HEADER_BYTES - 2);
    ps->got = 0;
    ps->state = ps->len ? 3 : 4;
    return TS_PROTO_EV_NONE;
}

ts_proto_event_t ts_proto_parse(ts_proto_parser_t *ps, const uint8_t *data, size_t n, size_t *used)
{
    size_t i = 0;
    ts_proto_event_t ev = TS_PROTO_EV_NONE;
    while (i < n && ev == TS_PROTO_EV_NONE) {
        if (ps->state <= 1) {
            scan_byte(ps, data[i++]);
        } else if (ps->state == 2) {
            size_t k = TS_PROTO_HEADER_BYTES - ps->got;
            if (k > n - i) k = n - i;
            memcpy(ps->hdr + ps->got, data + i, k);
            ps->got += k;
            i += k;
            if (ps->got == TS_PROTO_HEADER_BYTES) ev = header_done(ps);
        } else if (ps->state == 3) {
            size_t k = (size_t)ps->len - ps->got;
            if (k > n - i) k = n - i;
            if (ps->len <= ps->cap) memcpy(ps->buf + ps->got, data + i, k);
            ps->crc = ts_crc32(ps->crc, data + i, k);
            ps->got += k;
            i += k;
            if (ps->got == ps->len) {
                ps->got = 0;
                ps->state = 4;
            }
        } else {
            size_t k = TS_PROTO_CRC_BYTES - ps->got;
            if (k > n - i) k = n - i;
            memcpy(ps->tail + ps->got, data + i, k);
            ps->got += k;
            i += k;
            if (ps->got == TS_PROTO_CRC_BYTES) {
                ps->state = 0;
                ps->got = 0;
                if (ps->len > ps->cap)
                    ev = TS_PROTO_EV_TOO_LONG;
                else
                    ev = (ts_get_u32(ps->tail) == ps->crc) ? TS_PROTO_EV_FRAME : TS_PROTO_EV_BAD_CRC;
            }
        }
    }
    if (used) *used = i;
    return ev;
}
