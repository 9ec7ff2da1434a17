/* Interrupt handlers at run time: the vector table of startup_cortexm.c (in flash) is copied to RAM
 * and VTOR pointed at the copy, whose entries can then be set. */
#include <stdint.h>
#include <string.h>

#define SCB_VTOR (*(volatile uint32_t *)0xE000ED08u)
#define NVIC_ISER ((volatile uint32_t *)0xE000E100u)
#define NVIC_IPR ((volatile uint8_t *)0xE000E400u)
#define TS_RAM_VECTORS 128 /* 16 exceptions + 112 interrupts; alignment: next power of two of its size */

typedef void (*vector_t)(void);
static vector_t ram_vectors[TS_RAM_VECTORS] __attribute__((aligned(512)));
static int installed;

void ts_board_set_irq(int irq, vector_t handler, uint8_t priority)
{
    if (!installed) {
        uint32_t primask;
        __asm volatile("mrs %0, primask\n cpsid i" : "=r"(primask)::"memory");
        memcpy(ram_vectors, (const void *)SCB_VTOR, (16 + 96) * sizeof(vector_t)); /* ts_vectors */
        for (int i = 16 + 96; i < TS_RAM_VECTORS; i++) ram_vectors[i] = ram_vectors[16 + 0];
        __asm volatile("dsb" ::: "memory");
        SCB_VTOR = (uint32_t)(uintptr_t)ram_vectors;
        __asm volatile("dsb\n isb" ::: "memory");
        installed = 1;
        __asm volatile("msr primask, %0" ::"r"(primask) : "memory");
    }
    ram_vectors[16 + irq] = handler;
    NVIC_IPR[irq] = priority;
    __asm volatile("dsb" ::: "memory");
    NVIC_ISER[irq >> 5] = 1u << (irq & 31);
}
