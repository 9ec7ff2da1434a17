#include "ts/crc32.h"
#include "ts/proto.h"

void ts_proto_header(uint8_t out[TS_PROTO_HEADER_BYTES], uint8_t type, uint8_t seq, uint16_t len)
{
    out[0] = TS_PROTO_SYNC0;
    out[1] = TS_PROTO_SYNC1;
    out[2] = type;
    out[3] = seq;
    ts_put_u16(out + 4, len);
    ts_put_u16(out + 6, ts_crc32(0, out + 2, 4) & 0xFFFFu); /* header CRC: low 16 bits */
}
