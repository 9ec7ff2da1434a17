/* NUCLEO-F411RE (STM32F411RE, Cortex-M4F): clocks, the ST-LINK virtual COM port (USART2 on PA2/PA3) and
 * the DWT cycle counter, at register level (RM0383).
 *
 * Clock: HSI 16 MHz -> PLL (M 8, N 100, P 2) = 100 MHz, voltage scale 1, 3 flash wait states, AHB 100 MHz,
 * APB1 50 MHz (its maximum; USART2's clock), APB2 100 MHz. */
#include <stdint.h>

#include "stm32_board.h"
#include "ts/board.h"

#define RCC_BASE 0x40023800u
#define RCC_CR REG(RCC_BASE + 0x00u)
#define RCC_PLLCFGR REG(RCC_BASE + 0x04u)
#define RCC_CFGR REG(RCC_BASE + 0x08u)
#define RCC_AHB1ENR REG(RCC_BASE + 0x30u)
#define RCC_APB1ENR REG(RCC_BASE + 0x40u)

#define PWR_CR REG(0x40007000u)
#define FLASH_ACR REG(0x40023C00u)

#define GPIOA_BASE 0x40020000u
#define GPIOA_MODER REG(GPIOA_BASE + 0x00u)
#define GPIOA_OSPEEDR REG(GPIOA_BASE + 0x08u)
#define GPIOA_PUPDR REG(GPIOA_BASE + 0x0Cu)
#define GPIOA_AFRL REG(GPIOA_BASE + 0x20u)

#ifndef TS_UART_BAUD
#define TS_UART_BAUD 115200u
#endif
#ifndef TS_UART_CLOCK_HZ
#define TS_UART_CLOCK_HZ (TS_BOARD_CLOCK_HZ / 2u)
#endif

static void clock_init(void)
{
    RCC_APB1ENR |= 1u << 28; /* PWREN */
    (void)RCC_APB1ENR;
    PWR_CR = (PWR_CR & ~(3u << 14)) | (3u << 14); /* VOS = scale 1 (up to 100 MHz) */
    RCC_CR |= 1u;                                   /* HSION (on at reset) */
    ts_stm32_wait(&RCC_CR, 1u << 1, 1u << 1, 100000u);

    /* 3 wait states (2.7-3.6 V, 90-100 MHz), prefetch, instruction and data caches */
    FLASH_ACR = (FLASH_ACR & ~0xFu) | 3u | (1u << 8) | (1u << 9) | (1u << 10);
    ts_stm32_wait(&FLASH_ACR, 0xFu, 3u, 1000u);

    /* PLL: HSI / 8 = 2 MHz, * 100 = 200 MHz VCO, / 2 = 100 MHz (P), / 4 = 50 MHz (Q, unused) */
    RCC_CR &= ~(1u << 24);
    ts_stm32_wait(&RCC_CR, 1u << 25, 0u, 100000u);
    RCC_PLLCFGR = (8u << 0)      /* PLLM */
                  | (100u << 6)  /* PLLN */
                  | (0u << 16)   /* PLLP = /2 */
                  | (0u << 22)   /* PLLSRC = HSI */
                  | (4u << 24);  /* PLLQ */
    RCC_CR |= 1u << 24;
    if (!ts_stm32_wait(&RCC_CR, 1u << 25, 1u << 25, 1000000u)) return; /* stay on HSI 16 MHz */
    RCC_CFGR = (RCC_CFGR & ~((0xFu << 4) | (7u << 10) | (7u << 13))) | (4u << 10); /* AHB /1, APB1 /2, APB2 /1 */
    RCC_CFGR = (RCC_CFGR & ~3u) | 2u; /* SW = PLL */
    ts_stm32_wait(&RCC_CFGR, 3u << 2, 2u << 2, 100000u);
}

static void uart_init(void)
{
    RCC_AHB1ENR |= 1u << 0; /* GPIOA */
    (void)RCC_AHB1ENR;
    /* PA2 = USART2_TX, PA3 = USART2_RX: alternate function 7, high speed, pull-up on RX */
    GPIOA_MODER = (GPIOA_MODER & ~((3u << 4) | (3u << 6))) | (2u << 4) | (2u << 6);
    GPIOA_OSPEEDR |= (3u << 4) | (3u << 6);
    GPIOA_PUPDR = (GPIOA_PUPDR & ~(3u << 6)) | (1u << 6);
    GPIOA_AFRL = (GPIOA_AFRL & ~((0xFu << 8) | (0xFu << 12))) | (7u << 8) | (7u << 12);
    RCC_APB1ENR |= 1u << 17; /* USART2EN */
    (void)RCC_APB1ENR;
    /* oversampling by 16: BRR = f_ck / baud, rounded (921600 baud at 50 MHz: 54, 0.5 % fast) */
    ts_stm32f4_usart_init((TS_UART_CLOCK_HZ + TS_UART_BAUD / 2u) / TS_UART_BAUD);
}

void ts_board_init(void)
{
    clock_init();
    ts_dwt_counter_start();
    uart_init();
}
