/* Arm semihosting calls (used by the QEMU boards: console, files through newlib-rdimon, exit). */
#ifndef TS_SEMIHOST_H
#define TS_SEMIHOST_H

#include <stdint.h>

#define TS_SH_SYS_WRITE0 0x04u
#define TS_SH_SYS_GET_CMDLINE 0x15u
#define TS_SH_SYS_EXIT 0x18u
#define TS_SH_SYS_EXIT_EXTENDED 0x20u
#define TS_SH_ADP_STOPPED_APPLICATION_EXIT 0x20026u

uint32_t ts_semihost_call(uint32_t op, const void *arg);

#endif /* TS_SEMIHOST_H */
