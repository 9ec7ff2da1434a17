/* STM32 USART / LPUART (the register layout shared by the L4, F7, G4, H7 families): transmit by
 * polling, receive by interrupt into the ring of uart_rx_ring.c, so that no byte is lost while the
 * firmware computes a CRC or a frame. TS_UART_BASE and TS_UART_IRQ come from board.yaml (defines). */
#include <stddef.h>
#include <stdint.h>

#include "stm32_board.h"
#include "ts/board.h"

#if !defined(TS_UART_BASE) || !defined(TS_UART_IRQ)
#error "TS_UART_BASE and TS_UART_IRQ must be defined by board.yaml (defines)"
#endif

#define USART_CR1 (*(volatile uint32_t *)(TS_UART_BASE + 0x00u))
#define USART_CR2 (*(volatile uint32_t *)(TS_UART_BASE + 0x04u))
#define USART_CR3 (*(volatile uint32_t *)(TS_UART_BASE + 0x08u))
#define USART_BRR (*(volatile uint32_t *)(TS_UART_BASE + 0x0Cu))
#define USART_ISR (*(volatile uint32_t *)(TS_UART_BASE + 0x1Cu))
#define USART_ICR (*(volatile uint32_t *)(TS_UART_BASE + 0x20u))
#define USART_RDR (*(volatile uint32_t *)(TS_UART_BASE + 0x24u))
#define USART_TDR (*(volatile uint32_t *)(TS_UART_BASE + 0x28u))

#define CR1_UE (1u << 0)
#define CR1_RE (1u << 2)
#define CR1_TE (1u << 3)
#define CR1_RXNEIE (1u << 5)
#define ISR_ERRORS 0xFu /* PE, FE, NE, ORE */
#define ISR_RXNE (1u << 5)
#define ISR_TXE (1u << 7)

static void uart_irq(void)
{
    uint32_t isr = USART_ISR;
    if (isr & ISR_ERRORS) {
        USART_ICR = ISR_ERRORS;
        ts_uart_rx_errors++;
    }
    while (USART_ISR & ISR_RXNE) ts_uart_rx_push((uint8_t)USART_RDR);
}

/* brr: the BRR value for the wanted baud rate (USART: f_ck / baud; LPUART: 256 f_ck / baud). */
void ts_stm32_usart_init(uint32_t brr)
{
    USART_CR1 = 0u;
    USART_CR2 = 0u; /* 1 stop bit */
    USART_CR3 = 0u;
    USART_BRR = brr;
    USART_ICR = ISR_ERRORS;
    USART_CR1 = CR1_UE | CR1_RE | CR1_TE | CR1_RXNEIE; /* 8 data bits, no parity */
    ts_uart_rx_start(TS_UART_IRQ, uart_irq);
}

size_t ts_board_uart_write(const uint8_t *data, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        while (!(USART_ISR & ISR_TXE)) {
        }
        USART_TDR = data[i];
    }
    return n;
}
