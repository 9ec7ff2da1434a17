/* STM32 USART of the F1/F2/F4 families (status register SR, data register DR, UE in CR1 bit 13): transmit
 * by polling, receive by interrupt into a ring buffer, as stm32_usart.c does for the L4/F7 register layout.
 * TS_UART_BASE and TS_UART_IRQ come from board.yaml (defines). */
#include <stddef.h>
#include <stdint.h>

#include "ts/board.h"

#if !defined(TS_UART_BASE) || !defined(TS_UART_IRQ)
#error "TS_UART_BASE and TS_UART_IRQ must be defined by board.yaml (defines)"
#endif

#define USART_SR (*(volatile uint32_t *)(TS_UART_BASE + 0x00u))
#define USART_DR (*(volatile uint32_t *)(TS_UART_BASE + 0x04u))
#define USART_BRR (*(volatile uint32_t *)(TS_UART_BASE + 0x08u))
#define USART_CR1 (*(volatile uint32_t *)(TS_UART_BASE + 0x0Cu))
#define USART_CR2 (*(volatile uint32_t *)(TS_UART_BASE + 0x10u))
#define USART_CR3 (*(volatile uint32_t *)(TS_UART_BASE + 0x14u))

#define CR1_RE (1u << 2)
#define CR1_TE (1u << 3)
#define CR1_RXNEIE (1u << 5)
#define CR1_UE (1u << 13)
#define SR_ERRORS 0xFu /* PE, FE, NE, ORE: cleared by reading SR then DR */
#define SR_RXNE (1u << 5)
#define SR_TXE (1u << 7)

#ifndef TS_UART_RX_RING
#define TS_UART_RX_RING 8192u /* power of two; > one frame in flight (stop-and-wait) */
#endif

void ts_board_set_irq(int irq, void (*handler)(void), uint8_t priority);

static volatile uint8_t rx_ring[TS_UART_RX_RING];
static volatile uint32_t rx_head, rx_tail;
volatile uint32_t ts_uart_rx_errors; /* overrun / framing / noise / ring full: the protocol resends */

static void uart_irq(void)
{
    uint32_t sr;
    while ((sr = USART_SR) & (SR_RXNE | SR_ERRORS)) {
        uint8_t b = (uint8_t)USART_DR; /* also clears the error flags read with SR */
        if (sr & SR_ERRORS) {
            ts_uart_rx_errors++;
            continue;
        }
        uint32_t next = (rx_head + 1u) & (TS_UART_RX_RING - 1u);
        if (next == rx_tail) {
            ts_uart_rx_errors++;
            continue;
        }
        rx_ring[rx_head] = b;
        rx_head = next;
    }
}

/* brr: the BRR value for the wanted baud rate (oversampling by 16: f_ck / baud). */
void ts_stm32f4_usart_init(uint32_t brr)
{
    USART_CR1 = 0u;
    USART_CR2 = 0u; /* 1 stop bit */
    USART_CR3 = 0u;
    USART_BRR = brr;
    (void)USART_SR;
    (void)USART_DR;
    rx_head = rx_tail = 0u;
    USART_CR1 = CR1_UE | CR1_RE | CR1_TE | CR1_RXNEIE; /* 8 data bits, no parity */
    ts_board_set_irq(TS_UART_IRQ, uart_irq, 0x40u);
    __asm volatile("cpsie i" ::: "memory");
}

size_t ts_board_uart_write(const uint8_t *data, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        while (!(USART_SR & SR_TXE)) {
        }
        USART_DR = data[i];
    }
    return n;
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
