#include "ts/crc32.h"
#include "ts/proto.h"

ts_status_t ts_proto_write(const ts_proto_io_t *io, uint8_t type, uint8_t seq, const void *a, size_t na,
                           const void *b, size_t nb, int corrupt)
{
    uint8_t hdr[TS_PROTO_HEADER_BYTES];
    uint8_t tail[TS_PROTO_CRC_BYTES];
    size_t len = na + nb;
    if (len > 0xFFFFu) return TS_ERR_SIZE;
    ts_proto_header(hdr, type, seq, (uint16_t)len);
    uint32_t crc = ts_crc32(0, hdr + 2, TS_PROTO_HEADER_BYTES - 2); /* CRC from type to payload end */
    crc = ts_crc32(crc, a, na);
    crc = ts_crc32(crc, b, nb);
    if (corrupt) crc ^= 1u;
    ts_put_u32(tail, crc);
    size_t w = io->write(io->ctx, hdr, sizeof hdr);
    if (na) w += io->write(io->ctx, (const uint8_t *)a, na);
    if (nb) w += io->write(io->ctx, (const uint8_t *)b, nb);
    w += io->write(io->ctx, tail, sizeof tail);
    return w == sizeof hdr + len + sizeof tail ? TS_OK : TS_ERR_IO;
}
