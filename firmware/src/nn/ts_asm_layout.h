/* Layout checks of the argument structs that the kernels' assembly reads at fixed byte offsets: a field moved
 * by an edit of the struct fails the build instead of the results. Private to firmware/src/nn. */
#ifndef TS_ASM_LAYOUT_H
#define TS_ASM_LAYOUT_H

#include <stddef.h>

/* Field F of struct T is read by assembly at byte OFF. */
#define TS_ASM_AT(T, F, OFF) _Static_assert(offsetof(T, F) == (OFF), #T "." #F " must stay at byte " #OFF)

#endif /* TS_ASM_LAYOUT_H */
