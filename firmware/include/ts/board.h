/* Board abstraction: what firmware needs from a board (QEMU, real silicon, or the host build).
 * Implemented once per board kind in boards/common or boards/<name>/. */
#ifndef TS_BOARD_H
#define TS_BOARD_H

#include <stddef.h>
#include <stdint.h>

/* Clocks, counter, console. Called once by the start-up code before main. */
void ts_board_init(void);

/* Free-running 64-bit counter in board ticks: DWT cycles on real boards; on QEMU boards a SysTick
 * driven by -icount shift=0, where one tick is a fixed number of executed instructions
 * (board.yaml `counter.per_tick`: 40 on mps2 at 25 MHz, 31.25 on mps3-an547 at 32 MHz). */
uint64_t ts_board_counter(void);

/* Byte transport to the host (UART, or stdin/stdout on the host build). Blocking.
 * Returns bytes written / read; a read returns fewer than n only on a timeout (timeout_ms = 0: wait). */
size_t ts_board_uart_write(const uint8_t *data, size_t n);
size_t ts_board_uart_read(uint8_t *data, size_t n, uint32_t timeout_ms);

/* Reports a fatal error (a fault, a failed assertion) on the console, then ends the program with a
 * non-zero exit code. Must work with a corrupt C library state: no malloc, no stdio. */
void ts_board_panic(const char *message) __attribute__((noreturn));

/* Ends the program with an exit code (semihosting exit on QEMU; reset/halt on real boards). */
void ts_board_exit(int code) __attribute__((noreturn));

#endif /* TS_BOARD_H */
