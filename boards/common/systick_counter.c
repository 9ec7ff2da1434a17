/* 64-bit tick counter from SysTick (24-bit, processor clock) plus a wrap interrupt.
 * Under QEMU with -icount shift=0 one tick is a fixed number of executed instructions. */
#include <stdint.h>

#include "ts/board.h"

#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)
#define SCB_ICSR (*(volatile uint32_t *)0xE000ED04u)
#define ICSR_PENDSTSET (1u << 26)
#define SYST_RELOAD 0x00FFFFFFu

static volatile uint32_t systick_wraps;

void SysTick_Handler(void)
{
    systick_wraps++;
}

void ts_systick_counter_start(void)
{
    SYST_CSR = 0u;
    SYST_RVR = SYST_RELOAD;
    SYST_CVR = 0u;
    /* CLKSOURCE = processor clock, TICKINT = 1, ENABLE = 1 */
    SYST_CSR = (1u << 2) | (1u << 1) | 1u;
}

uint64_t ts_board_counter(void)
{
    uint32_t primask;
    __asm volatile("mrs %0, primask\n cpsid i" : "=r"(primask)::"memory");
    uint32_t wraps = systick_wraps;
    uint32_t value = SYST_CVR;
    /* A wrap that happened while interrupts were masked is pending, not yet counted. */
    if (SCB_ICSR & ICSR_PENDSTSET) {
        wraps++;
        value = SYST_CVR;
    }
    __asm volatile("msr primask, %0" ::"r"(primask) : "memory");
    return (uint64_t)wraps * (SYST_RELOAD + 1u) + (SYST_RELOAD - value);
}
