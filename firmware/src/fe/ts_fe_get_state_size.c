/* Streaming state bytes: the sample history of every channel (int16). */
#include "ts/fe.h"

int32_t ts_fe_get_state_size(const ts_fe_config_t *cfg)
{
    return cfg->channels * cfg->history * 2;
}
