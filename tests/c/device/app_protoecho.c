/* Test app for the host <-> device protocol (tests/py/test_device_protocol.py): answers PING with
 * INFO ("protoecho"), echoes every other data frame back as a LOG frame carrying the type byte and
 * the payload, obeys DEBUG, exits on BYE. Transport: `--in F --out G` files, else the UART. */
#include <stdio.h>
#include <string.h>

#include "ts/board.h"
#include "ts/proto.h"
#include "ts/rt.h"

static uint8_t rx[TS_PROTO_MAX_PAYLOAD];

int ts_app_main(int argc, char **argv)
{
    ts_proto_io_t io;
    FILE *in = 0, *out = 0;
    if (argc >= 5 && strcmp(argv[1], "--in") == 0 && strcmp(argv[3], "--out") == 0) {
        in = fopen(argv[2], "rb");
        out = fopen(argv[4], "wb");
        if (!in || !out) return 2;
        ts_proto_io_file(&io, in, out);
    } else {
        ts_proto_io_uart(&io);
    }
    static ts_proto_t p;
    ts_proto_init(&p, &io, rx, sizeof rx);
    static const char hello[] = "protoecho";
    ts_proto_send(&p, TS_PROTO_INFO, hello, sizeof hello - 1, 0, 0);
    int code = 0;
    for (;;) {
        uint8_t type = 0;
        ts_status_t st = ts_proto_recv(&p, &type, 0);
        if (st != TS_OK) {
            code = st == TS_ERR_IO ? 0 : 10 + (int)st;
            break;
        }
        if (type == TS_PROTO_BYE) break;
        if (type == TS_PROTO_DEBUG) {
            ts_proto_debug(&p, p.parser.buf, p.parser.len);
            continue;
        }
        if (type == TS_PROTO_PING) {
            ts_proto_send(&p, TS_PROTO_INFO, hello, sizeof hello - 1, 0, 0);
            continue;
        }
        uint8_t t = type;
        static uint8_t copy[TS_PROTO_MAX_PAYLOAD];
        size_t n = p.parser.len < sizeof copy - 1 ? p.parser.len : sizeof copy - 1;
        memcpy(copy, p.parser.buf, n);
        if (ts_proto_send(&p, TS_PROTO_LOG, &t, 1, copy, n) != TS_OK) {
            code = 20;
            break;
        }
    }
    if (out) fclose(out);
    if (in) fclose(in);
    return code;
}
