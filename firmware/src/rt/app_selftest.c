/* selftest app: proves what the other apps rely on — semihosting file I/O of a binary blob, the
 * board's tick counter, stack painting — and, with the argument `fault`, that a fault is reported.
 *
 *   selftest                      all checks, exit 0 on success
 *   selftest fault                executes an undefined instruction (the harness must report it)
 *   selftest --in F --out G       copies blob F to G byte-reversed and prints its CRC-32
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ts/board.h"
#include "ts/crc32.h"
#include "ts/rt.h"

#define BLOB_BYTES 4096
static unsigned char blob[BLOB_BYTES];
static unsigned char back[BLOB_BYTES];

static int check(int ok, const char *what)
{
    printf("selftest: %-28s %s\n", what, ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}

static int file_roundtrip(void)
{
    for (int i = 0; i < BLOB_BYTES; i++) blob[i] = (unsigned char)(i * 131u + 7u);
    const char *name = "ts_selftest.bin";
    size_t n = 0;
    int bad = 0;
    bad |= check(ts_rt_write_file(name, blob, sizeof blob) == TS_OK, "semihosting write 4 KiB");
    bad |= check(ts_rt_read_file(name, back, sizeof back, &n) == TS_OK && n == sizeof blob &&
                     memcmp(blob, back, sizeof blob) == 0,
                 "semihosting read back");
    remove(name);
    return bad;
}

static int copy_reversed(const char *in, const char *out)
{
    size_t n = 0;
    ts_status_t st = ts_rt_read_file(in, blob, sizeof blob, &n);
    if (st != TS_OK) {
        printf("selftest: cannot read %s: %s\n", in, ts_status_str(st));
        return 1;
    }
    for (size_t i = 0; i < n; i++) back[i] = blob[n - 1 - i];
    st = ts_rt_write_file(out, back, n);
    printf("selftest: blob %u bytes crc32=0x%08lx\n", (unsigned)n, (unsigned long)ts_crc32(0, blob, n));
    return st == TS_OK ? 0 : 1;
}

/* A fixed amount of work for the counter check; volatile keeps the loop. */
static void busy(unsigned iterations)
{
    volatile unsigned acc = 0;
    for (unsigned i = 0; i < iterations; i++) acc += i;
}

static int counter_check(void)
{
#if !defined(__arm__)
    return check(1, "tick counter (host: n/a)");
#endif
    uint64_t t0 = ts_board_counter();
    busy(1000);
    uint64_t t1 = ts_board_counter();
    busy(10000);
    uint64_t t2 = ts_board_counter();
    uint64_t small = t1 - t0, large = t2 - t1;
    printf("selftest: counter ticks for 1e3 / 1e4 loop iterations: %lu / %lu\n", (unsigned long)small,
           (unsigned long)large);
    /* Ten times the work must cost about ten times the ticks (7x..13x allows for fixed overhead). */
    return check(small > 0 && large > 7 * small && large < 13 * small, "tick counter proportional");
}

__attribute__((noinline)) static unsigned deep(unsigned depth)
{
    volatile unsigned char frame[256];
    frame[0] = (unsigned char)depth;
    frame[255] = (unsigned char)(depth >> 8);
    return depth ? deep(depth - 1) + frame[0] + frame[255] : 0u;
}

static int stack_check(void)
{
    size_t before = ts_rt_stack_high_water();
    deep(16); /* >= 16 x 256 bytes of stack */
    size_t after = ts_rt_stack_high_water();
    printf("selftest: stack high-water %u -> %u of %u bytes\n", (unsigned)before, (unsigned)after,
           (unsigned)ts_rt_stack_size());
#if defined(__arm__)
    return check(after >= 16 * 256 && after >= before && after <= ts_rt_stack_size(), "stack painting");
#else
    return check(1, "stack painting (host: n/a)");
#endif
}

int ts_app_main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "fault") == 0) {
        printf("selftest: executing an undefined instruction\n");
        fflush(stdout);
#if defined(__arm__)
        __asm volatile("udf #0");
#else
        abort();
#endif
        return 1;
    }
    if (argc >= 5 && strcmp(argv[1], "--in") == 0 && strcmp(argv[3], "--out") == 0) {
        return copy_reversed(argv[2], argv[4]);
    }
    int bad = 0;
    bad |= file_roundtrip();
    bad |= counter_check();
    bad |= stack_check();
    printf("selftest: %s\n", bad ? "FAIL" : "PASS");
    return bad;
}
