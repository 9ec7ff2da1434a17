/* tinyscene device runtime: program entry, file I/O over semihosting (or libc on the host),
 * timing and stack painting. */
#ifndef TS_RT_H
#define TS_RT_H

#include <stddef.h>
#include <stdint.h>

#include "ts/status.h"

/* Every firmware app defines this; the start-up code calls it with the semihosting command line
 * (argv[0] is the program name) and exits with its return value. */
int ts_app_main(int argc, char **argv);

/* Whole-file I/O (semihosting files under QEMU, plain files on the host).
 * ts_rt_read_file: reads at most `cap` bytes; *n_read gets the file's size; TS_ERR_NOMEM if larger. */
ts_status_t ts_rt_read_file(const char *path, void *buf, size_t cap, size_t *n_read);
ts_status_t ts_rt_write_file(const char *path, const void *buf, size_t n);

/* Command line: the value after `name` (NULL when absent); whether `name` is there. */
const char *ts_rt_arg(int argc, char **argv, const char *name);
int ts_rt_flag(int argc, char **argv, const char *name);
/* Prints "<app>: error: <what> <detail>" (the line the host reads) and returns 1 (the exit code). */
int ts_rt_fail(const char *app, const char *what, const char *detail);

/* Stack painting: fill the unused stack with a pattern at start-up; the high-water mark is the
 * number of bytes ever touched below the stack top. */
void ts_rt_stack_paint(void);
size_t ts_rt_stack_high_water(void);
size_t ts_rt_stack_size(void);
/* The most bytes the C library's malloc ever took from the heap section (0 on the host). */
size_t ts_rt_heap_high_water(void);

#endif /* TS_RT_H */
