/* The firmware apps' command line (the semihosting command line under QEMU, argv on the host). */
#include <stdio.h>
#include <string.h>

#include "ts/rt.h"

const char *ts_rt_arg(int argc, char **argv, const char *name)
{
    for (int i = 1; i + 1 < argc; i++) {
        if (strcmp(argv[i], name) == 0) return argv[i + 1];
    }
    return NULL;
}

int ts_rt_flag(int argc, char **argv, const char *name)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], name) == 0) return 1;
    }
    return 0;
}

int ts_rt_fail(const char *app, const char *what, const char *detail)
{
    printf("%s: error: %s%s%s\n", app, what, detail ? " " : "", detail ? detail : "");
    return 1;
}
