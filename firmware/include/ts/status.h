/* tinyscene status codes: one X-macro list, used by firmware, host builds and (parsed) by Python. */
#ifndef TS_STATUS_H
#define TS_STATUS_H

#define TS_STATUS_LIST(X)                                                   \
    X(TS_OK, 0, "ok")                                                       \
    X(TS_ERR_ARG, 1, "bad argument")                                        \
    X(TS_ERR_IO, 2, "file or transport I/O failed")                         \
    X(TS_ERR_SIZE, 3, "size does not match")                                \
    X(TS_ERR_NOMEM, 4, "buffer too small")                                  \
    X(TS_ERR_CONFIG, 5, "configuration does not match")                     \
    X(TS_ERR_CRC, 6, "CRC mismatch")                                        \
    X(TS_ERR_PROTOCOL, 7, "protocol error")                                 \
    X(TS_ERR_UNSUPPORTED, 8, "unsupported")                                 \
    X(TS_ERR_SELFTEST, 9, "self-test failed")                               \
    X(TS_ERR_TIMEOUT, 10, "timeout")

typedef enum {
#define TS_STATUS_ENUM(name, value, text) name = value,
    TS_STATUS_LIST(TS_STATUS_ENUM)
#undef TS_STATUS_ENUM
} ts_status_t;

/* Human-readable text of a status code ("unknown status" for values not in the list). */
const char *ts_status_str(ts_status_t status);

#endif /* TS_STATUS_H */
