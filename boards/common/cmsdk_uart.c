/* Arm CMSDK APB UART (the console/transport UART of the MPS2/MPS3 FPGA images and their QEMU models). */
#include <stddef.h>
#include <stdint.h>

#include "ts/board.h"

#ifndef TS_UART_BASE
#error "TS_UART_BASE must be defined by board.yaml (defines)"
#endif
#ifndef TS_BOARD_CLOCK_HZ
#error "TS_BOARD_CLOCK_HZ must be defined by board.yaml (clock_hz)"
#endif

#define UART_DATA (*(volatile uint32_t *)(TS_UART_BASE + 0x00u))
#define UART_STATE (*(volatile uint32_t *)(TS_UART_BASE + 0x04u))
#define UART_CTRL (*(volatile uint32_t *)(TS_UART_BASE + 0x08u))
#define UART_BAUDDIV (*(volatile uint32_t *)(TS_UART_BASE + 0x10u))
#define STATE_TX_FULL 1u
#define STATE_RX_FULL 2u

void ts_cmsdk_uart_init(uint32_t baud)
{
    UART_BAUDDIV = TS_BOARD_CLOCK_HZ / baud;
    UART_CTRL = 3u; /* TX enable | RX enable */
}

size_t ts_board_uart_write(const uint8_t *data, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        while (UART_STATE & STATE_TX_FULL) {
        }
        UART_DATA = data[i];
    }
    return n;
}

size_t ts_board_uart_read(uint8_t *data, size_t n, uint32_t timeout_ms)
{
    const uint64_t ticks_per_ms = TS_BOARD_CLOCK_HZ / 1000u;
    for (size_t i = 0; i < n; i++) {
        uint64_t start = ts_board_counter();
        while (!(UART_STATE & STATE_RX_FULL)) {
            if (timeout_ms && ts_board_counter() - start > (uint64_t)timeout_ms * ticks_per_ms) return i;
        }
        data[i] = (uint8_t)UART_DATA;
    }
    return n;
}
