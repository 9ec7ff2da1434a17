/* Host <-> device framed protocol (python/tinyscene/device/protocol.py is the host side).
 *
 * Frame (all integers little-endian):
 *
 *   off 0   0xA5 0x5A          sync
 *   off 2   type   u8          TS_PROTO_TYPE_LIST below
 *   off 3   seq    u8          per-direction sequence number (duplicates are re-acknowledged, dropped)
 *   off 4   len    u16         payload bytes (<= TS_PROTO_MAX_PAYLOAD)
 *   off 6   hcrc   u16         low 16 bits of crc32(bytes 2..5): a corrupted length is caught at once
 *   off 8   payload[len]
 *   off 8+len  crc u32         crc32(bytes 2 .. 8+len-1), the same CRC-32 as zlib.crc32
 *
 * On a byte stream (UART) every data frame is answered by ACK (seq of the frame) or NAK (CRC error:
 * resend); the sender resends on NAK or after a timeout, up to a retry limit (stop-and-wait).
 * On a reliable channel (semihosting files) frames are written back to back without ACKs and a bad
 * CRC is a clear failure.
 */
#ifndef TS_PROTO_H
#define TS_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "ts/status.h"

#define TS_PROTO_VERSION 1u
#define TS_PROTO_SYNC0 0xA5u
#define TS_PROTO_SYNC1 0x5Au
#define TS_PROTO_HEADER_BYTES 8u
#define TS_PROTO_CRC_BYTES 4u
#ifndef TS_PROTO_MAX_PAYLOAD
#define TS_PROTO_MAX_PAYLOAD 4096u
#endif

/* Frame types: X(name, value, direction, description). Down: host -> device; up: device -> host. */
#define TS_PROTO_TYPE_LIST(X)                                                                   \
    X(TS_PROTO_ACK, 0x01, both, "frame received (seq = its seq)")                               \
    X(TS_PROTO_NAK, 0x02, both, "frame corrupted: resend")                                      \
    X(TS_PROTO_PING, 0x10, down, "ask for INFO")                                                \
    X(TS_PROTO_CLIP_BEGIN, 0x11, down, "a clip follows: id, samples, mode, flags, every N hops") \
    X(TS_PROTO_PCM, 0x12, down, "int16 PCM, channels interleaved, whole frames only")           \
    X(TS_PROTO_BYE, 0x13, down, "end of session (QEMU: exit 0)")                                \
    X(TS_PROTO_DEBUG, 0x14, down, "fault injection for tests: corrupt / hang / reset")          \
    X(TS_PROTO_INFO, 0x80, up, "device, bundle and memory plan")                                \
    X(TS_PROTO_FEATURES, 0x81, up, "int8 features of a clip: offset u32 + bytes")               \
    X(TS_PROTO_LOGITS, 0x82, up, "class and int8 logits of one classification")                \
    X(TS_PROTO_COUNTS, 0x83, up, "per-stage counter ticks")                                     \
    X(TS_PROTO_STACK, 0x84, up, "stack high-water mark and size")                               \
    X(TS_PROTO_STATUS, 0x85, up, "end of a clip or an error: status code + text")               \
    X(TS_PROTO_LOG, 0x86, up, "text")

typedef enum {
#define TS_PROTO_TYPE_ENUM(name, value, dir, text) name = value,
    TS_PROTO_TYPE_LIST(TS_PROTO_TYPE_ENUM)
#undef TS_PROTO_TYPE_ENUM
} ts_proto_type_t;

/* DEBUG actions (payload: action u8, count u8). */
#define TS_PROTO_DEBUG_CORRUPT 1u /* flip a CRC bit of the next `count` data frames sent up */
#define TS_PROTO_DEBUG_HANG 2u    /* stop answering (spin forever) */
#define TS_PROTO_DEBUG_RESET 3u   /* system reset (the device restarts and sends INFO again) */
#define TS_PROTO_DEBUG_EXIT 4u    /* exit with code `count` (QEMU) mid-session */

/* CLIP_BEGIN flags */
#define TS_PROTO_CLIP_FEATURES 1u  /* send the clip's features up (whole-clip mode) */
#define TS_PROTO_CLIP_STREAMING 2u /* classify every `every` hops from a feature ring buffer */

/* Byte transport. read returns fewer than n bytes only on a timeout (timeout_ms 0: wait forever). */
typedef struct {
    size_t (*write)(void *ctx, const uint8_t *data, size_t n);
    size_t (*read)(void *ctx, uint8_t *data, size_t n, uint32_t timeout_ms);
    void *ctx;
    int reliable; /* 1: no ACK/NAK (files); 0: stop-and-wait over a byte stream */
} ts_proto_io_t;

/* Incremental frame parser: feed it exactly ts_proto_parser_want() bytes at a time (or fewer). */
typedef enum {
    TS_PROTO_EV_NONE = 0, /* need more bytes */
    TS_PROTO_EV_FRAME,    /* a complete frame with a good CRC: type, seq, len, payload valid */
    TS_PROTO_EV_BAD_CRC,  /* header good, payload CRC wrong: type and seq valid (NAK it) */
    TS_PROTO_EV_TOO_LONG, /* header good but len > the buffer: payload skipped (NAK it) */
} ts_proto_event_t;

typedef struct {
    uint8_t *buf; /* payload buffer (capacity cap) */
    size_t cap;
    uint8_t hdr[TS_PROTO_HEADER_BYTES];
    uint8_t tail[TS_PROTO_CRC_BYTES];
    uint8_t state; /* 0 sync0, 1 sync1, 2 header, 3 payload, 4 crc */
    size_t got;
    uint32_t crc;
    /* the last frame parsed */
    uint8_t type, seq;
    uint16_t len;
    uint32_t n_bad_header; /* header CRC failures (resynchronised) */
} ts_proto_parser_t;

static inline void ts_proto_parser_init(ts_proto_parser_t *ps, uint8_t *buf, size_t cap)
{
    ps->buf = buf;
    ps->cap = cap;
    ps->state = 0;
    ps->got = 0;
    ps->crc = 0;
    ps->type = ps->seq = 0;
    ps->len = 0;
    ps->n_bad_header = 0;
}

/* Bytes the parser needs next (never more than it will consume without producing an event). */
static inline size_t ts_proto_parser_want(const ts_proto_parser_t *ps)
{
    switch (ps->state) {
    case 2:
        return TS_PROTO_HEADER_BYTES - ps->got;
    case 3:
        return (size_t)ps->len - ps->got;
    case 4:
        return TS_PROTO_CRC_BYTES - ps->got;
    default:
        return 1;
    }
}

/* Feeds up to n bytes; stops after the first event. *used gets the bytes consumed. */
ts_proto_event_t ts_proto_parse(ts_proto_parser_t *ps, const uint8_t *data, size_t n, size_t *used);

/* Writes the 8-byte header of a frame (sync, type, seq, len, header CRC). */
void ts_proto_header(uint8_t out[TS_PROTO_HEADER_BYTES], uint8_t type, uint8_t seq, uint16_t len);

/* Writes one frame (header, a then b as payload, CRC) without waiting; `corrupt` flips a CRC bit
 * (fault injection). Returns TS_ERR_IO when the transport wrote fewer bytes. */
ts_status_t ts_proto_write(const ts_proto_io_t *io, uint8_t type, uint8_t seq, const void *a, size_t na,
                           const void *b, size_t nb, int corrupt);

/* A protocol endpoint (one per transport). */
typedef struct {
    ts_proto_io_t io;
    ts_proto_parser_t parser;
    uint8_t tx_seq;    /* seq of the next data frame sent */
    int rx_have_last;  /* a data frame was received before */
    uint8_t rx_last;   /* its seq (duplicates are re-ACKed and dropped) */
    uint32_t ack_timeout_ms;
    unsigned retries;  /* resends before a send fails */
    unsigned corrupt_tx; /* fault injection: corrupt the CRC of the next n data frames */
    uint32_t n_resent, n_crc_errors;
} ts_proto_t;

void ts_proto_init(ts_proto_t *p, const ts_proto_io_t *io, uint8_t *rx_buf, size_t rx_cap);

/* Sends one data frame whose payload is a (na bytes) followed by b (nb bytes); on a stream, waits for
 * its ACK and resends on NAK or timeout. TS_ERR_TIMEOUT after the retries, TS_ERR_SIZE if too long. */
ts_status_t ts_proto_send(ts_proto_t *p, uint8_t type, const void *a, size_t na, const void *b, size_t nb);

/* Receives the next data frame into the rx buffer (p->parser.buf, p->parser.len bytes); on a stream,
 * ACKs it (NAKs corrupted ones and waits for the resend). TS_ERR_TIMEOUT when nothing complete came
 * within timeout_ms (0: wait forever); TS_ERR_CRC on a corrupted frame of a reliable channel;
 * TS_ERR_IO at the end of a file. */
ts_status_t ts_proto_recv(ts_proto_t *p, uint8_t *type, uint32_t timeout_ms);

/* Handles a DEBUG frame (fault injection for the host's robustness tests): CORRUPT sets corrupt_tx,
 * HANG spins forever, RESET requests a system reset, EXIT ends the program with code `count`. */
void ts_proto_debug(ts_proto_t *p, const uint8_t *payload, size_t n);

/* Transports: files (semihosting under QEMU, plain files on the host) and the board's UART. */
void ts_proto_io_file(ts_proto_io_t *io, void *in_file, void *out_file);
void ts_proto_io_uart(ts_proto_io_t *io);

/* Little-endian helpers for payloads (static: no non-static functions in headers). */
static inline void ts_put_u16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static inline void ts_put_u32(uint8_t *p, uint32_t v)
{
    ts_put_u16(p, v);
    ts_put_u16(p + 2, v >> 16);
}
static inline void ts_put_u64(uint8_t *p, uint64_t v)
{
    ts_put_u32(p, (uint32_t)v);
    ts_put_u32(p + 4, (uint32_t)(v >> 32));
}
static inline uint32_t ts_get_u16(const uint8_t *p) { return (uint32_t)p[0] | ((uint32_t)p[1] << 8); }
static inline uint32_t ts_get_u32(const uint8_t *p) { return ts_get_u16(p) | (ts_get_u16(p + 2) << 16); }

#endif /* TS_PROTO_H */
