#include <string.h>

#include "ts/proto.h"

void ts_proto_init(ts_proto_t *p, const ts_proto_io_t *io, uint8_t *rx_buf, size_t rx_cap)
{
    memset(p, 0, sizeof *p);
    p->io = *io;
    ts_proto_parser_init(&p->parser, rx_buf, rx_cap);
    p->ack_timeout_ms = 2000u;
    p->retries = 8u;
}
