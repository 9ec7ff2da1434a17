/* C library glue for boards whose console is a UART (real boards, no debugger attached): newlib's
 * system calls (stdout/stderr -> the UART, a heap between __heap_start and __heap_end, no files),
 * the program entry (no command line) and exit/panic (a report on the UART, then halt).
 * Defines every system call of librdimon, so that the semihosting library is never linked in. */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/times.h>

#include "ts/board.h"
#include "ts/rt.h"

#undef errno
extern int errno;

static void console_write(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\n') ts_board_uart_write((const uint8_t *)"\r", 1);
        ts_board_uart_write((const uint8_t *)&s[i], 1);
    }
}

int _write(int fd, const char *buf, int n)
{
    if (fd != 1 && fd != 2) {
        errno = EBADF;
        return -1;
    }
    console_write(buf, (size_t)n);
    return n;
}

int _read(int fd, char *buf, int n)
{
    if (fd != 0) {
        errno = EBADF;
        return -1;
    }
    return (int)ts_board_uart_read((uint8_t *)buf, (size_t)n, 0);
}

int _open(const char *path, int flags, int mode)
{
    (void)path, (void)flags, (void)mode;
    errno = ENOSYS; /* no file system: the host talks to the board over the protocol */
    return -1;
}

int _close(int fd) { return fd <= 2 ? 0 : (errno = EBADF, -1); }
int _fstat(int fd, struct stat *st)
{
    memset(st, 0, sizeof *st);
    st->st_mode = S_IFCHR;
    return fd <= 2 ? 0 : (errno = EBADF, -1);
}
int _stat(const char *path, struct stat *st) { return (void)path, (void)st, errno = ENOSYS, -1; }
int _isatty(int fd) { return fd <= 2; }
int _lseek(int fd, int off, int whence) { return (void)fd, (void)off, (void)whence, errno = ESPIPE, -1; }
int _link(const char *a, const char *b) { return (void)a, (void)b, errno = ENOSYS, -1; }
int _unlink(const char *path) { return (void)path, errno = ENOSYS, -1; }
int _rename(const char *a, const char *b) { return (void)a, (void)b, errno = ENOSYS, -1; }
int _system(const char *cmd) { return (void)cmd, errno = ENOSYS, -1; }
int _getpid(void) { return 1; }
int _kill(int pid, int sig) { return (void)pid, (void)sig, errno = EINVAL, -1; }
int _gettimeofday(struct timeval *tv, void *tz)
{
    (void)tz;
    if (tv) {
        uint64_t us = ts_board_counter() / (TS_BOARD_CLOCK_HZ / 1000000u);
        tv->tv_sec = (time_t)(us / 1000000u);
        tv->tv_usec = (suseconds_t)(us % 1000000u);
    }
    return 0;
}
clock_t _times(struct tms *t) { return (void)t, (clock_t)-1; }
clock_t _clock(void) { return (clock_t)-1; }
void _exit(int code) { ts_board_exit(code); }

static void halt(void)
{
    __asm volatile("cpsid i" ::: "memory");
    for (;;) __asm volatile("wfi");
}

void ts_board_exit(int code)
{
    char msg[32] = "\nts: exit ";
    size_t n = strlen(msg);
    unsigned v = code < 0 ? (unsigned)-code : (unsigned)code;
    char digits[12];
    size_t k = 0;
    do digits[k++] = (char)('0' + v % 10u); while ((v /= 10u) && k < sizeof digits);
    if (code < 0) msg[n++] = '-';
    while (k) msg[n++] = digits[--k];
    msg[n++] = '\n';
    console_write(msg, n);
    halt();
    for (;;) {
    }
}

void ts_board_panic(const char *message)
{
    console_write("\n", 1);
    console_write(message, strlen(message));
    halt();
    for (;;) {
    }
}

/* Program entry for boards without semihosting: no command line. */
void ts_startup_run(void)
{
    static char name[] = "firmware";
    static char *argv[] = {name, 0};
    ts_board_exit(ts_app_main(1, argv));
}
