/* Whole-file I/O through the C library: semihosting files on QEMU (newlib-rdimon), plain files on
 * the host build. */
#include <stdio.h>

#include "ts/rt.h"

ts_status_t ts_rt_read_file(const char *path, void *buf, size_t cap, size_t *n_read)
{
    FILE *f = fopen(path, "rb");
    if (!f) return TS_ERR_IO;
    size_t n = fread(buf, 1, cap, f);
    int more = (n == cap) && (fgetc(f) != EOF);
    fclose(f);
    if (n_read) *n_read = n;
    return more ? TS_ERR_NOMEM : TS_OK;
}

ts_status_t ts_rt_write_file(const char *path, const void *buf, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) return TS_ERR_IO;
    size_t written = fwrite(buf, 1, n, f);
    int closed = fclose(f);
    return (written == n && closed == 0) ? TS_OK : TS_ERR_IO;
}
