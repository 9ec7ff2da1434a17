/* Cortex-M start-up shared by every board: vector table, reset (FPU enable, .data copy, .bss zero,
 * stack painting, C library init), fault handlers that report and exit non-zero. */
#include <stdint.h>
#include <string.h>

#include "ts/board.h"
#include "ts/rt.h"

extern uint32_t __data_load, __data_start, __data_end, __bss_start, __bss_end;
extern uint32_t __ext_bss_start, __ext_bss_end, __stack_top;

void Reset_Handler(void);
void ts_startup_run(void); /* boards/common/semihost_entry.c or a board's own entry */
/* Optional board hook, run before .data/.bss are set up: controllers that RAM needs (SDRAM via FMC). */
void ts_board_early_init(void) __attribute__((weak));
extern void __libc_init_array(void);

/* newlib's __libc_init_array calls _init/_fini; with -nostartfiles nobody else provides them. */
void _init(void) {}
void _fini(void) {}

#define SCB_CPACR (*(volatile uint32_t *)0xE000ED88u)
#define SCB_VTOR (*(volatile uint32_t *)0xE000ED08u)
#define SCB_CFSR (*(volatile uint32_t *)0xE000ED28u)
#define SCB_HFSR (*(volatile uint32_t *)0xE000ED2Cu)
#define SCB_MMFAR (*(volatile uint32_t *)0xE000ED34u)
#define SCB_BFAR (*(volatile uint32_t *)0xE000ED38u)
#define SCB_SHCSR (*(volatile uint32_t *)0xE000ED24u)

static void hex32(char *out, uint32_t v)
{
    static const char digits[] = "0123456789abcdef";
    out[0] = '0';
    out[1] = 'x';
    for (int i = 0; i < 8; i++) out[2 + i] = digits[(v >> (28 - 4 * i)) & 0xFu];
    out[10] = '\0';
}

/* Called by the fault handlers with the exception frame (r0-r3, r12, lr, pc, xpsr). */
void ts_fault_report(const char *name, const uint32_t *frame)
{
    char msg[160];
    char h[11];
    size_t n = 0;
    const char *parts[] = {"FAULT: ", name, " pc=", 0, " lr=", 0, " cfsr=", 0, " hfsr=", 0, " bfar=", 0, "\n"};
    const uint32_t values[] = {frame[6], frame[5], SCB_CFSR, SCB_HFSR, SCB_BFAR};
    int v = 0;
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        const char *s = parts[i];
        if (!s) {
            hex32(h, values[v++]);
            s = h;
        }
        size_t len = strlen(s);
        if (n + len >= sizeof msg) break;
        memcpy(msg + n, s, len);
        n += len;
    }
    msg[n] = '\0';
    ts_board_panic(msg);
}

/* Each fault vector finds the exception frame (MSP or PSP, from EXC_RETURN bit 2) and hands it to a
 * C function that names the fault. */
#define FAULT_HANDLER(vector, c_function, label)                                     \
    void c_function(const uint32_t *frame) __attribute__((used, noinline));          \
    void c_function(const uint32_t *frame) { ts_fault_report(label, frame); }        \
    __attribute__((naked)) void vector(void)                                         \
    {                                                                                \
        __asm volatile("tst lr, #4\n"                                                \
                       "ite eq\n"                                                    \
                       "mrseq r0, msp\n"                                             \
                       "mrsne r0, psp\n"                                             \
                       "b " #c_function "\n");                                       \
    }

FAULT_HANDLER(HardFault_Handler, ts_fault_hard, "HardFault")
FAULT_HANDLER(MemManage_Handler, ts_fault_memmanage, "MemManage")
FAULT_HANDLER(BusFault_Handler, ts_fault_bus, "BusFault")
FAULT_HANDLER(UsageFault_Handler, ts_fault_usage, "UsageFault")
FAULT_HANDLER(Default_Handler, ts_fault_unexpected, "unexpected exception")

void NMI_Handler(void) __attribute__((weak, alias("Default_Handler")));
void SecureFault_Handler(void) __attribute__((weak, alias("Default_Handler")));
void SVC_Handler(void) __attribute__((weak, alias("Default_Handler")));
void DebugMon_Handler(void) __attribute__((weak, alias("Default_Handler")));
void PendSV_Handler(void) __attribute__((weak, alias("Default_Handler")));
void SysTick_Handler(void) __attribute__((weak, alias("Default_Handler")));

#define TS_N_IRQ 96
typedef void (*vector_t)(void);

__attribute__((section(".isr_vector"), used)) const vector_t ts_vectors[16 + TS_N_IRQ] = {
    (vector_t)(uintptr_t)&__stack_top,
    Reset_Handler,
    NMI_Handler,
    HardFault_Handler,
    MemManage_Handler,
    BusFault_Handler,
    UsageFault_Handler,
    SecureFault_Handler,
    0,
    0,
    0,
    SVC_Handler,
    DebugMon_Handler,
    0,
    PendSV_Handler,
    SysTick_Handler,
    [16 ... 16 + TS_N_IRQ - 1] = Default_Handler,
};

__attribute__((noreturn)) void Reset_Handler(void)
{
    /* Full access to CP10/CP11 (the FPU) before any code that may touch a float register. */
    SCB_CPACR |= (0xFu << 20);
    __asm volatile("dsb\n isb" ::: "memory");
    SCB_VTOR = (uint32_t)(uintptr_t)ts_vectors;
    /* Separate MemManage, BusFault and UsageFault from HardFault so a fault is named precisely. */
    SCB_SHCSR |= (1u << 16) | (1u << 17) | (1u << 18);

    if (ts_board_early_init) ts_board_early_init();

    const uint32_t *src = &__data_load;
    for (uint32_t *dst = &__data_start; dst < &__data_end;) *dst++ = *src++;
    for (uint32_t *dst = &__bss_start; dst < &__bss_end;) *dst++ = 0u;
    for (uint32_t *dst = &__ext_bss_start; dst < &__ext_bss_end;) *dst++ = 0u;

    ts_rt_stack_paint();
    ts_board_init();
    __libc_init_array();
    ts_startup_run();
    ts_board_exit(0);
}
