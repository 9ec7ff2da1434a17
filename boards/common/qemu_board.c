/* Board glue shared by the QEMU MPS2/MPS3 boards: SysTick counter, CMSDK UART, semihosting exit. */
#include <stdio.h>

#include "ts/board.h"

void ts_systick_counter_start(void);
void ts_cmsdk_uart_init(uint32_t baud);
void ts_semihost_exit(int code) __attribute__((noreturn));
void ts_semihost_write0(const char *text);

void ts_board_init(void)
{
    ts_systick_counter_start();
    ts_cmsdk_uart_init(115200u);
}

void ts_board_exit(int code)
{
    fflush(stdout);
    fflush(stderr);
    ts_semihost_exit(code);
}

void ts_board_panic(const char *message)
{
    ts_semihost_write0(message);
    ts_semihost_exit(3);
}
