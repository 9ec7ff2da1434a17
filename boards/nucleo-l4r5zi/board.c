/* NUCLEO-L4R5ZI (STM32L4R5ZI, Cortex-M4F): clocks, the ST-LINK virtual COM port (LPUART1 on PG7/PG8)
 * and the DWT cycle counter, at register level (RM0432).
 *
 * Clock: MSI 4 MHz (trimmed by the LSE crystal when it starts) -> PLL (M 1, N 60, R 2) = 120 MHz,
 * voltage range 1 in boost mode, 5 flash wait states, AHB = APB1 = APB2 = 120 MHz. */
#include <stdint.h>

#include "stm32_board.h"
#include "ts/board.h"

#define RCC_BASE 0x40021000u
#define RCC_CR REG(RCC_BASE + 0x00u)
#define RCC_CFGR REG(RCC_BASE + 0x08u)
#define RCC_PLLCFGR REG(RCC_BASE + 0x0Cu)
#define RCC_AHB2ENR REG(RCC_BASE + 0x4Cu)
#define RCC_APB1ENR1 REG(RCC_BASE + 0x58u)
#define RCC_APB1ENR2 REG(RCC_BASE + 0x5Cu)
#define RCC_CCIPR REG(RCC_BASE + 0x88u)
#define RCC_BDCR REG(RCC_BASE + 0x90u)

#define PWR_BASE 0x40007000u
#define PWR_CR1 REG(PWR_BASE + 0x00u)
#define PWR_CR2 REG(PWR_BASE + 0x04u)
#define PWR_SR2 REG(PWR_BASE + 0x14u)
#define PWR_CR5 REG(PWR_BASE + 0x80u)

#define FLASH_ACR REG(0x40022000u)

#define GPIOG_BASE 0x48001800u
#define GPIOG_MODER REG(GPIOG_BASE + 0x00u)
#define GPIOG_OSPEEDR REG(GPIOG_BASE + 0x08u)
#define GPIOG_PUPDR REG(GPIOG_BASE + 0x0Cu)
#define GPIOG_AFRL REG(GPIOG_BASE + 0x20u)
#define GPIOG_AFRH REG(GPIOG_BASE + 0x24u)

#ifndef TS_UART_BAUD
#define TS_UART_BAUD 115200u
#endif

static void clock_init(void)
{
    RCC_APB1ENR1 |= 1u << 28; /* PWREN */
    (void)RCC_APB1ENR1;

    /* LSE (32.768 kHz crystal on the Nucleo) trims MSI (MSIPLLEN) when it starts within ~1 s. */
    PWR_CR1 |= 1u << 8; /* DBP: backup domain writable */
    RCC_BDCR |= 1u;      /* LSEON */
    int lse = ts_stm32_wait(&RCC_BDCR, 1u << 1, 1u << 1, 400000u);
    /* MSI range 6 = 4 MHz, taken from MSIRANGE of RCC_CR (MSIRGSEL) */
    RCC_CR = (RCC_CR & ~(0xFu << 4)) | (6u << 4) | (1u << 3);
    if (lse) RCC_CR |= 1u << 2; /* MSIPLLEN */

    /* Voltage range 1 (reset value), boost mode (R1MODE = 0) for SYSCLK > 80 MHz; AHB /2 first. */
    RCC_CFGR = (RCC_CFGR & ~(0xFu << 4)) | (0x8u << 4);
    PWR_CR1 = (PWR_CR1 & ~(3u << 9)) | (1u << 9);
    PWR_CR5 &= ~(1u << 8);
    ts_stm32_wait(&PWR_SR2, 1u << 10, 0u, 1000000u); /* VOSF */

    /* 5 wait states (range 1 boost, 120 MHz), prefetch, instruction and data caches */
    FLASH_ACR = (FLASH_ACR & ~0xFu) | 5u | (1u << 8) | (1u << 9) | (1u << 10);
    ts_stm32_wait(&FLASH_ACR, 0xFu, 5u, 1000u);

    /* PLL: MSI / 1 * 60 = 240 MHz VCO, R / 2 = 120 MHz */
    RCC_CR &= ~(1u << 24);
    ts_stm32_wait(&RCC_CR, 1u << 25, 0u, 100000u);
    RCC_PLLCFGR = (1u << 0)      /* PLLSRC = MSI */
                  | (0u << 4)    /* PLLM = /1 */
                  | (60u << 8)   /* PLLN = 60 */
                  | (1u << 24)   /* PLLREN */
                  | (0u << 25);  /* PLLR = /2 */
    RCC_CR |= 1u << 24;
    if (!ts_stm32_wait(&RCC_CR, 1u << 25, 1u << 25, 1000000u)) return; /* stay on MSI 4 MHz */
    RCC_CFGR = (RCC_CFGR & ~3u) | 3u; /* SW = PLL */
    ts_stm32_wait(&RCC_CFGR, 3u << 2, 3u << 2, 100000u);
    for (volatile int i = 0; i < 200; i++) {
    } /* >= 1 us at the intermediate AHB clock, then AHB /1 */
    RCC_CFGR &= ~(0xFu << 4);
}

static void uart_init(void)
{
    RCC_AHB2ENR |= 1u << 6; /* GPIOG */
    (void)RCC_AHB2ENR;
    PWR_CR2 |= 1u << 9;     /* IOSV: VDDIO2 supplies PG2..PG15 */
    /* PG7 = LPUART1_TX, PG8 = LPUART1_RX: alternate function 8, high speed, pull-up on RX */
    GPIOG_MODER = (GPIOG_MODER & ~((3u << 14) | (3u << 16))) | (2u << 14) | (2u << 16);
    GPIOG_OSPEEDR |= (3u << 14) | (3u << 16);
    GPIOG_PUPDR = (GPIOG_PUPDR & ~(3u << 16)) | (1u << 16);
    GPIOG_AFRL = (GPIOG_AFRL & ~(0xFu << 28)) | (8u << 28);
    GPIOG_AFRH = (GPIOG_AFRH & ~0xFu) | 8u;
    RCC_CCIPR &= ~(3u << 10); /* LPUART1 clock = PCLK1 */
    RCC_APB1ENR2 |= 1u;       /* LPUART1EN */
    (void)RCC_APB1ENR2;
    /* LPUART: BRR = 256 f_ck / baud, rounded (921600 baud at 120 MHz: 33333, 0.001 % error) */
    uint64_t brr = ((uint64_t)TS_BOARD_CLOCK_HZ * 256u + TS_UART_BAUD / 2u) / TS_UART_BAUD;
    ts_stm32_usart_init((uint32_t)brr);
}

void ts_board_init(void)
{
    clock_init();
    ts_dwt_counter_start();
    uart_init();
}
