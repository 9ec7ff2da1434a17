/* The C library's heap (malloc through _sbrk): the .heap section between __heap_start and __heap_end of
 * boards/common/sections.ld, sized by board.yaml heap_size. A request past its end fails (ENOMEM) instead of
 * growing into the stack, which sits right above it. Replaces librdimon's weak _sbrk on the QEMU boards. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>

extern uint8_t __heap_start, __heap_end;

void *_sbrk(ptrdiff_t incr)
{
    static uint8_t *brk = &__heap_start;
    if (brk + incr > &__heap_end || brk + incr < &__heap_start) {
        errno = ENOMEM;
        return (void *)-1;
    }
    uint8_t *old = brk;
    brk += incr;
    return old;
}
