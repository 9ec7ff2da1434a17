/* Semihosting for QEMU boards: the program's command line, console panic output and exit code.
 * Files and printf go through newlib's rdimon library (linked with --specs=rdimon.specs). */
#include <stdint.h>
#include <string.h>

#include "semihost.h"
#include "ts/board.h"
#include "ts/rt.h"

extern void initialise_monitor_handles(void);

uint32_t ts_semihost_call(uint32_t op, const void *arg)
{
    register uint32_t r0 __asm("r0") = op;
    register const void *r1 __asm("r1") = arg;
    __asm volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

#define TS_CMDLINE_MAX 512
#define TS_ARGV_MAX 16

/* Start-up entry for semihosting boards: argv from SYS_GET_CMDLINE (space-separated, as QEMU joins
 * its `-semihosting-config arg=` values), then the app, then exit with its code. */
void ts_startup_run(void)
{
    static char cmdline[TS_CMDLINE_MAX];
    static char *argv[TS_ARGV_MAX + 1];
    int argc = 0;

    initialise_monitor_handles();
    struct {
        char *buf;
        uint32_t len;
    } block = {cmdline, sizeof cmdline - 1};
    if (ts_semihost_call(TS_SH_SYS_GET_CMDLINE, &block) == 0) {
        cmdline[block.len < sizeof cmdline ? block.len : sizeof cmdline - 1] = '\0';
        char *p = cmdline;
        while (*p && argc < TS_ARGV_MAX) {
            while (*p == ' ') *p++ = '\0';
            if (!*p) break;
            argv[argc++] = p;
            while (*p && *p != ' ') p++;
        }
    }
    if (argc == 0) argv[argc++] = "firmware";
    argv[argc] = 0;
    ts_board_exit(ts_app_main(argc, argv));
}

void ts_semihost_exit(int code)
{
    /* SYS_EXIT_EXTENDED carries the exit code (QEMU implements it for AArch32 too). */
    uint32_t block[2] = {TS_SH_ADP_STOPPED_APPLICATION_EXIT, (uint32_t)code};
    ts_semihost_call(TS_SH_SYS_EXIT_EXTENDED, block);
    for (;;) {
    }
}

void ts_semihost_write0(const char *text)
{
    ts_semihost_call(TS_SH_SYS_WRITE0, text);
}
