/* The UART receive ring of the real boards: the USART interrupt pushes each byte (ts_uart_rx_push), so that
 * none is lost while the firmware computes a CRC or a frame; ts_board_uart_read takes them out, with a
 * timeout on the board's tick counter. */
#include "stm32_board.h"
#include "ts/board.h"

#ifndef TS_UART_RX_RING
#define TS_UART_RX_RING 8192u /* power of two; > one frame in flight (stop-and-wait) */
#endif

static volatile uint8_t rx_ring[TS_UART_RX_RING];
static volatile uint32_t rx_head, rx_tail;
volatile uint32_t ts_uart_rx_errors;

void ts_uart_rx_start(int irq, void (*handler)(void))
{
    rx_head = rx_tail = 0u;
    ts_board_set_irq(irq, handler, 0x40u);
    __asm volatile("cpsie i" ::: "memory");
}

void ts_uart_rx_push(uint8_t byte)
{
    uint32_t next = (rx_head + 1u) & (TS_UART_RX_RING - 1u);
    if (next == rx_tail) {
        ts_uart_rx_errors++;
        return;
    }
    rx_ring[rx_head] = byte;
    rx_head = next;
}

size_t ts_board_uart_read(uint8_t *data, size_t n, uint32_t timeout_ms)
{
    const uint64_t ticks = (uint64_t)timeout_ms * (TS_BOARD_CLOCK_HZ / 1000u);
    for (size_t i = 0; i < n; i++) {
        uint64_t start = ts_board_counter();
        while (rx_head == rx_tail) {
            if (timeout_ms && ts_board_counter() - start > ticks) return i;
        }
        data[i] = rx_ring[rx_tail];
        rx_tail = (rx_tail + 1u) & (TS_UART_RX_RING - 1u);
    }
    return n;
}
