/* Stack painting: the unused stack is filled with a pattern at start-up; the high-water mark is
 * found by scanning up from the stack limit for the first overwritten word. The heap's high-water mark is
 * newlib's own count of the memory malloc took. */
#include <stddef.h>
#include <stdint.h>

#include "ts/rt.h"

#define TS_STACK_PAINT 0xA5C3A5C3u

#if defined(__arm__)
extern uint32_t __stack_limit, __stack_top;

__attribute__((noinline)) void ts_rt_stack_paint(void)
{
    uint32_t *sp;
    __asm volatile("mov %0, sp" : "=r"(sp));
    /* Leave a margin below the current frame: this function's own stack is in use. */
    for (uint32_t *p = &__stack_limit; p < sp - 16; p++) *p = TS_STACK_PAINT;
}

size_t ts_rt_stack_high_water(void)
{
    const uint32_t *p = &__stack_limit;
    while (p < &__stack_top && *p == TS_STACK_PAINT) p++;
    return (size_t)((const uint8_t *)&__stack_top - (const uint8_t *)p);
}

size_t ts_rt_stack_size(void)
{
    return (size_t)((const uint8_t *)&__stack_top - (const uint8_t *)&__stack_limit);
}

/* newlib's malloc counts the most memory it ever took from sbrk (the heap section) */
extern size_t __malloc_max_sbrked_mem;

size_t ts_rt_heap_high_water(void)
{
    return __malloc_max_sbrked_mem;
}
#else
/* Host build: the OS owns the stack and the heap; nothing to paint. */
void ts_rt_stack_paint(void) {}
size_t ts_rt_stack_high_water(void) { return 0; }
size_t ts_rt_stack_size(void) { return 0; }
size_t ts_rt_heap_high_water(void) { return 0; }
#endif
