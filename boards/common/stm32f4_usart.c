/* STM32 USART of the F1/F2/F4 families (status register SR, data register DR, UE in CR1 bit 13): transmit
 * by polling, receive by interrupt into the ring of uart_rx_ring.c, as stm32_usart.c does for the L4/F7
 * register layout. TS_UART_BASE and TS_UART_IRQ come from board.yaml (defines). */
#include "stm32_board.h"
#include "ts/board.h"

#if !defined(TS_UART_BASE) || !defined(TS_UART_IRQ)
#error "TS_UART_BASE and TS_UART_IRQ must be defined by board.yaml (defines)"
#endif

#define USART_SR REG(TS_UART_BASE + 0x00u)
#define USART_DR REG(TS_UART_BASE + 0x04u)
#define USART_BRR REG(TS_UART_BASE + 0x08u)
#define USART_CR1 REG(TS_UART_BASE + 0x0Cu)
#define USART_CR2 REG(TS_UART_BASE + 0x10u)
#define USART_CR3 REG(TS_UART_BASE + 0x14u)

#define SR_ERRORS 0xFu /* PE, FE, NE, ORE: cleared by reading SR then DR */
#define SR_RXNE (1u << 5)
#define SR_TXE (1u << 7)

static void uart_irq(void)
{
    uint32_t sr;
    while ((sr = USART_SR) & (SR_RXNE | SR_ERRORS)) {
        const uint8_t b = (uint8_t)USART_DR; /* also clears the error flags read with SR */
        if (sr & SR_ERRORS) {
            ts_uart_rx_errors++;
        } else {
            ts_uart_rx_push(b);
        }
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
    USART_CR1 = (1u << 13) | (1u << 5) | (1u << 3) | (1u << 2); /* UE, RXNEIE, TE, RE; 8 data bits, no parity */
    ts_uart_rx_start(TS_UART_IRQ, uart_irq);
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
