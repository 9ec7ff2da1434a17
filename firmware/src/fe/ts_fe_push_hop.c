/* Streaming input: the history of each channel moves by one hop; the hop's interleaved samples
 * (n_valid of them, then zeros: the right padding of centred framing) go at its end. */
#include <string.h>

#include "ts/fe.h"
#include "ts_fe_internal.h"

static void move(int16_t *dst, const int16_t *src, int32_t n)
{
    memmove(dst, src, (size_t)n * sizeof(int16_t));
}

static int32_t split(int16_t *d0, int16_t *d1, const int16_t *pcm, int32_t n)
{
    return 0; /* the stereo frames one by one in ts_fe_push_rows */
}

void ts_fe_push_hop(ts_fe_t *fe, const int16_t *pcm, int32_t n_valid)
{
    ts_fe_push_rows(fe, pcm, n_valid, move, split);
}
