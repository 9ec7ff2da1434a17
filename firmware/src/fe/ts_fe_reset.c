/* New clip: zero history (centred framing pads the clip's start with n_fft/2 zeros). */
#include <string.h>

#include "ts/fe.h"

void ts_fe_reset(ts_fe_t *fe)
{
    memset(fe->history, 0, (size_t)ts_fe_get_state_size(fe->cfg));
    fe->hops = 0;
}
