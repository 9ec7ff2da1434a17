/* STM32F746G-DISCO (STM32F746NG, Cortex-M7): clocks, the 8 MB SDRAM on the FMC, caches, the ST-LINK
 * virtual COM port (USART1 on PA9/PB7) and the DWT cycle counter, at register level (RM0385).
 *
 * Clock: HSE 25 MHz crystal (HSI 16 MHz if it does not start) -> PLL = 432 MHz VCO / 2 = 216 MHz,
 * voltage scale 1 with over-drive, 7 flash wait states + ART; AHB 216, APB1 54, APB2 108 MHz.
 * SDRAM (MT48LC4M32B2, 16 data bits wired = 8 MB) on FMC bank 1 at 0xC0000000, SDCLK = 108 MHz,
 * CAS 2; the MPU maps it as normal memory (the default map makes 0xC0000000 device memory, where
 * unaligned accesses fault and nothing is cached). */
#include <stdint.h>

#include "stm32_board.h"
#include "ts/board.h"

#define RCC_BASE 0x40023800u
#define RCC_CR REG(RCC_BASE + 0x00u)
#define RCC_PLLCFGR REG(RCC_BASE + 0x04u)
#define RCC_CFGR REG(RCC_BASE + 0x08u)
#define RCC_AHB1ENR REG(RCC_BASE + 0x30u)
#define RCC_AHB3ENR REG(RCC_BASE + 0x38u)
#define RCC_APB1ENR REG(RCC_BASE + 0x40u)
#define RCC_APB2ENR REG(RCC_BASE + 0x44u)
#define RCC_DCKCFGR2 REG(RCC_BASE + 0x90u)

#define PWR_CR1 REG(0x40007000u)
#define PWR_CSR1 REG(0x40007004u)
#define FLASH_ACR REG(0x40023C00u)

#define GPIO_BASE(port) (0x40020000u + 0x400u * (uint32_t)((port) - 'A'))
#define GPIO_MODER(p) REG(GPIO_BASE(p) + 0x00u)
#define GPIO_OTYPER(p) REG(GPIO_BASE(p) + 0x04u)
#define GPIO_OSPEEDR(p) REG(GPIO_BASE(p) + 0x08u)
#define GPIO_PUPDR(p) REG(GPIO_BASE(p) + 0x0Cu)
#define GPIO_AFR(p, i) REG(GPIO_BASE(p) + 0x20u + 4u * (i))

#define FMC_SDCR1 REG(0xA0000140u)
#define FMC_SDTR1 REG(0xA0000148u)
#define FMC_SDCMR REG(0xA0000150u)
#define FMC_SDRTR REG(0xA0000154u)
#define FMC_SDSR REG(0xA0000158u)

#define MPU_CTRL REG(0xE000ED94u)
#define MPU_RNR REG(0xE000ED98u)
#define MPU_RBAR REG(0xE000ED9Cu)
#define MPU_RASR REG(0xE000EDA0u)
#define SCB_CCR REG(0xE000ED14u)
#define SCB_CCSIDR REG(0xE000ED80u)
#define SCB_CSSELR REG(0xE000ED84u)
#define SCB_ICIALLU REG(0xE000EF50u)
#define SCB_DCISW REG(0xE000EF60u)

#ifndef TS_UART_BAUD
#define TS_UART_BAUD 115200u
#endif

static void dsb_isb(void)
{
    __asm volatile("dsb\n isb" ::: "memory");
}

static void clock_init(void)
{
    RCC_APB1ENR |= 1u << 28; /* PWREN */
    (void)RCC_APB1ENR;
    PWR_CR1 |= 3u << 14;     /* VOS = scale 1 */

    RCC_CR |= 1u << 16; /* HSEON */
    int hse = ts_stm32_wait(&RCC_CR, 1u << 17, 1u << 17, 500000u);
    /* VCO in = 1 MHz: HSE 25 MHz / 25 or HSI 16 MHz / 16; VCO = 432 MHz; P = /2 -> 216 MHz; Q = /9 */
    uint32_t m = hse ? 25u : 16u;
    RCC_PLLCFGR = (RCC_PLLCFGR & 0xF0000000u) /* reserved bits keep their reset value */
                  | m | (432u << 6) | (0u << 16) | ((hse ? 1u : 0u) << 22) | (9u << 24);
    RCC_CR |= 1u << 24; /* PLLON */
    if (!ts_stm32_wait(&RCC_CR, 1u << 25, 1u << 25, 1000000u)) return; /* stay on HSI 16 MHz */

    /* over-drive for 216 MHz: ODEN, wait ODRDY, ODSWEN, wait ODSWRDY */
    PWR_CR1 |= 1u << 16;
    ts_stm32_wait(&PWR_CSR1, 1u << 16, 1u << 16, 1000000u);
    PWR_CR1 |= 1u << 17;
    ts_stm32_wait(&PWR_CSR1, 1u << 17, 1u << 17, 1000000u);

    FLASH_ACR = 7u | (1u << 8) | (1u << 9); /* 7 wait states, prefetch, ART accelerator */
    ts_stm32_wait(&FLASH_ACR, 0xFu, 7u, 1000u);
    /* AHB /1, APB1 /4 (54 MHz), APB2 /2 (108 MHz), then SYSCLK = PLL */
    RCC_CFGR = (RCC_CFGR & ~((0xFu << 4) | (7u << 10) | (7u << 13))) | (5u << 10) | (4u << 13);
    RCC_CFGR = (RCC_CFGR & ~3u) | 2u;
    ts_stm32_wait(&RCC_CFGR, 3u << 2, 2u << 2, 100000u);
}

/* One pin to alternate function `af`, push-pull, very high speed, no pull. */
static void pin_af(char port, unsigned pin, unsigned af)
{
    GPIO_MODER(port) = (GPIO_MODER(port) & ~(3u << (2 * pin))) | (2u << (2 * pin));
    GPIO_OTYPER(port) &= ~(1u << pin);
    GPIO_OSPEEDR(port) |= 3u << (2 * pin);
    GPIO_PUPDR(port) &= ~(3u << (2 * pin));
    GPIO_AFR(port, pin >> 3) = (GPIO_AFR(port, pin >> 3) & ~(0xFu << (4 * (pin & 7u)))) | (af << (4 * (pin & 7u)));
}

static void sdram_command(uint32_t cmd)
{
    ts_stm32_wait(&FMC_SDSR, 1u << 5, 0u, 100000u); /* BUSY */
    FMC_SDCMR = cmd;
    ts_stm32_wait(&FMC_SDSR, 1u << 5, 0u, 100000u);
}

static void sdram_init(void)
{
    /* FMC pins of the board's SDRAM, all AF12 */
    static const struct {
        char port;
        uint16_t pins;
    } fmc[] = {
        {'C', 1u << 3},                                                                  /* SDCKE0 */
        {'D', (1u << 0) | (1u << 1) | (1u << 8) | (1u << 9) | (1u << 10) | (1u << 14) | (1u << 15)},
        {'E', (1u << 0) | (1u << 1) | (0x1FFu << 7)},                                    /* NBL0/1, D4..D12 */
        {'F', 0x3Fu | (1u << 11) | (0xFu << 12)},                                        /* A0..A9, SDNRAS */
        {'G', (1u << 0) | (1u << 1) | (1u << 4) | (1u << 5) | (1u << 8) | (1u << 15)},   /* A10/11, BA, SDCLK, SDNCAS */
        {'H', (1u << 3) | (1u << 5)},                                                    /* SDNE0, SDNWE */
    };
    RCC_AHB1ENR |= 0xFCu; /* GPIOC..GPIOH */
    (void)RCC_AHB1ENR;
    for (unsigned i = 0; i < sizeof fmc / sizeof fmc[0]; i++)
        for (unsigned pin = 0; pin < 16; pin++)
            if (fmc[i].pins & (1u << pin)) pin_af(fmc[i].port, pin, 12u);
    RCC_AHB3ENR |= 1u; /* FMCEN */
    (void)RCC_AHB3ENR;

    /* 8-bit columns, 12-bit rows, 16-bit bus, 4 banks, CAS 2, SDCLK = HCLK / 2, read burst */
    FMC_SDCR1 = (0u << 0) | (1u << 2) | (1u << 4) | (1u << 6) | (2u << 7) | (2u << 10) | (1u << 12);
    /* in SDCLK cycles minus 1: TMRD 2, TXSR 7, TRAS 4, TRC 7, TWR 3, TRP 2, TRCD 2 */
    FMC_SDTR1 = 1u | (6u << 4) | (3u << 8) | (6u << 12) | (2u << 16) | (1u << 20) | (1u << 24);
    const uint32_t bank1 = 1u << 4; /* CTB1 */
    sdram_command(1u | bank1);       /* clock configuration enable */
    for (volatile uint32_t i = 0; i < 50000u; i++) {
    }                                /* >= 100 us of clock before the first command */
    sdram_command(2u | bank1);       /* precharge all */
    sdram_command(3u | bank1 | (7u << 5)); /* 8 auto-refresh cycles */
    /* mode register: burst length 1, sequential, CAS 2, standard operation, single write burst */
    sdram_command(4u | bank1 | (0x220u << 9));
    /* refresh: 64 ms / 4096 rows * 108 MHz - 20 = 1667 */
    FMC_SDRTR = 1667u << 1;

    /* MPU region 0: 0xC0000000, 8 MB, normal memory, write-back write-allocate, full access, no exec */
    MPU_CTRL = 0u;
    MPU_RNR = 0u;
    MPU_RBAR = 0xC0000000u;
    MPU_RASR = 1u | (22u << 1) | (1u << 16) | (1u << 17) | (1u << 19) | (3u << 24) | (1u << 28);
    MPU_CTRL = 1u | (1u << 2); /* enable, default map for everything else */
    dsb_isb();
}

static void cache_init(void)
{
    SCB_ICIALLU = 0u;
    dsb_isb();
    SCB_CCR |= 1u << 17; /* IC */
    dsb_isb();
    /* invalidate the data cache by set/way, then enable it */
    SCB_CSSELR = 0u;
    dsb_isb();
    uint32_t ccsidr = SCB_CCSIDR;
    uint32_t sets = ((ccsidr >> 13) & 0x7FFFu) + 1u, ways = ((ccsidr >> 3) & 0x3FFu) + 1u;
    for (uint32_t s = 0; s < sets; s++)
        for (uint32_t w = 0; w < ways; w++) SCB_DCISW = (s << 5) | (w << 30); /* 32-byte lines, 4 ways */
    __asm volatile("dsb" ::: "memory");
    SCB_CCR |= 1u << 16; /* DC */
    dsb_isb();
}

/* Before .data/.bss: the SDRAM must work before the start-up code zeroes .ext_bss in it. */
void ts_board_early_init(void)
{
    clock_init();
    sdram_init();
}

void ts_board_init(void)
{
    cache_init();
    ts_dwt_counter_start();
    RCC_AHB1ENR |= (1u << 0) | (1u << 1); /* GPIOA, GPIOB */
    (void)RCC_AHB1ENR;
    pin_af('A', 9u, 7u);  /* USART1_TX */
    pin_af('B', 7u, 7u);  /* USART1_RX */
    GPIO_PUPDR('B') = (GPIO_PUPDR('B') & ~(3u << 14)) | (1u << 14);
    RCC_DCKCFGR2 &= ~3u;  /* USART1 clock = APB2 (108 MHz) */
    RCC_APB2ENR |= 1u << 4;
    (void)RCC_APB2ENR;
    /* USART, 16x oversampling: BRR = f_ck / baud, rounded (921600 at 108 MHz: 117, -0.16 %) */
    const uint32_t pclk2 = TS_BOARD_CLOCK_HZ / 2u;
    ts_stm32_usart_init((pclk2 + TS_UART_BAUD / 2u) / TS_UART_BAUD);
}
