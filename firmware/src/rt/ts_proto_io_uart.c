/* Protocol transport over the board's UART: QEMU's emulated UART, a real board's virtual COM port,
 * stdin/stdout on the host build. A byte stream: stop-and-wait with ACK/NAK. */
#include "ts/board.h"
#include "ts/proto.h"

static size_t uart_write(void *ctx, const uint8_t *data, size_t n)
{
    (void)ctx;
    return ts_board_uart_write(data, n);
}

static size_t uart_read(void *ctx, uint8_t *data, size_t n, uint32_t timeout_ms)
{
    (void)ctx;
    return ts_board_uart_read(data, n, timeout_ms);
}

void ts_proto_io_uart(ts_proto_io_t *io)
{
    io->write = uart_write;
    io->read = uart_read;
    io->ctx = 0;
    io->reliable = 0;
}
