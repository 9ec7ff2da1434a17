/* Protocol transport over a pair of files: semihosting files under QEMU, plain files on the host.
 * A reliable channel: frames back to back, no ACKs. */
#include <stdio.h>

#include "ts/proto.h"

static size_t file_write(void *ctx, const uint8_t *data, size_t n)
{
    return fwrite(data, 1, n, ((FILE **)ctx)[1]);
}

static size_t file_read(void *ctx, uint8_t *data, size_t n, uint32_t timeout_ms)
{
    (void)timeout_ms;
    return fread(data, 1, n, ((FILE **)ctx)[0]);
}

static FILE *file_pair[2];

void ts_proto_io_file(ts_proto_io_t *io, void *in_file, void *out_file)
{
    file_pair[0] = (FILE *)in_file;
    file_pair[1] = (FILE *)out_file;
    io->write = file_write;
    io->read = file_read;
    io->ctx = file_pair;
    io->reliable = 1;
}
