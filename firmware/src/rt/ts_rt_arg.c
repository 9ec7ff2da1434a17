/* The value after option `name` on an app's command line (argv[0] is the program), or NULL. */
#include <string.h>

#include "ts/rt.h"

const char *ts_rt_arg(int argc, char **argv, const char *name)
{
    for (int i = 1; i + 1 < argc; i++) {
        if (strcmp(argv[i], name) == 0) return argv[i + 1];
    }
    return NULL;
}
