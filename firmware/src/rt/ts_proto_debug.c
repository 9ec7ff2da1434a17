/* Fault injection on request of the host (tests of the protocol's robustness). */
#include "ts/board.h"
#include "ts/proto.h"

#define SCB_AIRCR (*(volatile uint32_t *)0xE000ED0Cu)

void ts_proto_debug(ts_proto_t *p, const uint8_t *payload, size_t n)
{
    uint8_t action = n > 0 ? payload[0] : 0u;
    uint8_t count = n > 1 ? payload[1] : 1u;
    switch (action) {
    case TS_PROTO_DEBUG_CORRUPT:
        p->corrupt_tx = count;
        break;
    case TS_PROTO_DEBUG_HANG:
        for (;;) {
#if defined(__arm__)
            __asm volatile("nop");
#endif
        }
    case TS_PROTO_DEBUG_RESET:
#if defined(__arm__)
        __asm volatile("dsb" ::: "memory");
        SCB_AIRCR = (0x05FAu << 16) | (1u << 2); /* VECTKEY | SYSRESETREQ */
        __asm volatile("dsb" ::: "memory");
        for (;;) {
        }
#else
        ts_board_exit(99); /* the host build cannot reset: it ends as if power was lost */
#endif
    case TS_PROTO_DEBUG_EXIT:
        ts_board_exit(count);
    default:
        break;
    }
}
