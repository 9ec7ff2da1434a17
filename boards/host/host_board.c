/* Board glue for the host build: stdio transport, no tick counter, exit via the C library. */
#include <stdio.h>
#include <stdlib.h>

#include "ts/board.h"
#include "ts/rt.h"

void ts_board_init(void) {}

uint64_t ts_board_counter(void)
{
    return 0; /* instructions are counted only on the QEMU boards */
}

size_t ts_board_uart_write(const uint8_t *data, size_t n)
{
    size_t w = fwrite(data, 1, n, stdout);
    fflush(stdout);
    return w;
}

size_t ts_board_uart_read(uint8_t *data, size_t n, uint32_t timeout_ms)
{
    (void)timeout_ms;
    return fread(data, 1, n, stdin);
}

void ts_board_exit(int code)
{
    fflush(stdout);
    exit(code);
}

void ts_board_panic(const char *message)
{
    fputs(message, stderr);
    exit(3);
}

int main(int argc, char **argv)
{
    ts_board_init();
    return ts_app_main(argc, argv);
}
