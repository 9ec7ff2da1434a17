/* An app's one error line ("<app>: error: <what> <detail>") on stdout; returns the exit status 1. */
#include <stdio.h>

#include "ts/rt.h"

int ts_rt_fail(const char *app, const char *what, const char *detail)
{
    printf("%s: error: %s%s%s\n", app, what, detail ? " " : "", detail ? detail : "");
    return 1;
}
