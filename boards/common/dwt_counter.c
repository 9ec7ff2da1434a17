/* 64-bit cycle counter on silicon: the DWT cycle counter (32-bit, core clock) extended in software,
 * with SysTick interrupting every 2^24 cycles so that no wrap of the 32-bit counter is missed. */
#include <stdint.h>

#include "ts/board.h"

#define DEMCR (*(volatile uint32_t *)0xE000EDFCu)
#define DWT_CTRL (*(volatile uint32_t *)0xE0001000u)
#define DWT_CYCCNT (*(volatile uint32_t *)0xE0001004u)
#define DWT_LAR (*(volatile uint32_t *)0xE0001FB0u)
#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)

static volatile uint32_t cyc_high, cyc_last;

static uint64_t extend(void)
{
    uint32_t now = DWT_CYCCNT;
    if (now < cyc_last) cyc_high++;
    cyc_last = now;
    return ((uint64_t)cyc_high << 32) | now;
}

void SysTick_Handler(void)
{
    extend();
}

void ts_dwt_counter_start(void)
{
    DEMCR |= 1u << 24;       /* TRCENA: enable DWT and ITM */
    DWT_LAR = 0xC5ACCE55u;   /* unlock (Cortex-M7; ignored where there is no lock) */
    DWT_CYCCNT = 0u;
    DWT_CTRL |= 1u;          /* CYCCNTENA */
    cyc_high = cyc_last = 0u;
    SYST_CSR = 0u;
    SYST_RVR = 0x00FFFFFFu;
    SYST_CVR = 0u;
    SYST_CSR = (1u << 2) | (1u << 1) | 1u; /* processor clock, interrupt, enable */
}

uint64_t ts_board_counter(void)
{
    uint32_t primask;
    __asm volatile("mrs %0, primask\n cpsid i" : "=r"(primask)::"memory");
    uint64_t v = extend();
    __asm volatile("msr primask, %0" ::"r"(primask) : "memory");
    return v;
}
