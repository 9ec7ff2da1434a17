#include "ts/status.h"

const char *ts_status_str(ts_status_t status)
{
    switch (status) {
#define TS_STATUS_CASE(name, value, text) \
    case name:                            \
        return text;
        TS_STATUS_LIST(TS_STATUS_CASE)
#undef TS_STATUS_CASE
    }
    return "unknown status";
}
