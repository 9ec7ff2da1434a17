/* What the STM32 boards' support code (boards/<stm32 board>/board.c, boards/common/stm32*_usart.c) shares:
 * register access, a bounded wait for a clock or flag, and the pieces in boards/common it calls. */
#ifndef TS_STM32_BOARD_H
#define TS_STM32_BOARD_H

#include <stddef.h>
#include <stdint.h>

#define REG(addr) (*(volatile uint32_t *)(addr))

/* Waits until (*reg & mask) == value, at most `loops` reads: a clock that never becomes ready must not hang
 * the start-up silently. 1 when it happened. */
static inline int ts_stm32_wait(volatile uint32_t *reg, uint32_t mask, uint32_t value, uint32_t loops)
{
    while (loops--) {
        if ((*reg & mask) == value) return 1;
    }
    return 0;
}

void ts_dwt_counter_start(void);                                        /* dwt_counter.c */
void ts_board_set_irq(int irq, void (*handler)(void), uint8_t priority); /* ram_vectors.c */
void ts_stm32_usart_init(uint32_t brr);   /* stm32_usart.c (L4, F7, G4, H7): BRR for the baud rate */
void ts_stm32f4_usart_init(uint32_t brr); /* stm32f4_usart.c (F1, F2, F4) */

/* The receive ring both USART drivers fill from their interrupt (uart_rx_ring.c, which also implements
 * ts_board_uart_read): clear it and install the receive interrupt's handler, add one byte (a full ring counts
 * an error and drops the byte), count an error (overrun, framing, noise: the protocol resends). */
void ts_uart_rx_start(int irq, void (*handler)(void));
void ts_uart_rx_push(uint8_t byte);
extern volatile uint32_t ts_uart_rx_errors;

#endif /* TS_STM32_BOARD_H */
