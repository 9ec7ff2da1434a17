/* CRC-32 (IEEE 802.3, reflected, as zlib.crc32 on the host). */
#ifndef TS_CRC32_H
#define TS_CRC32_H

#include <stddef.h>
#include <stdint.h>

/* crc: the running value (0 to start); returns the updated CRC, equal to zlib.crc32(data, crc). */
uint32_t ts_crc32(uint32_t crc, const void *data, size_t n);

#endif /* TS_CRC32_H */
