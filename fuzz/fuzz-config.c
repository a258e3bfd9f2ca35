/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpp's configuration parser. A parsed configuration must hold what the rest of mpp relies on:
 * a state directory, positive timeouts, no duplicate plugin names. */
#include <mpp/config.h>

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mpp_config cfg = {0};
    mpp_error err = {0};
    if (mpp_config_parse((const char *)data, size, "fuzz/mpp.json", &cfg, &err) == 0) {
        FUZZ_ASSERT(cfg.state_dir && cfg.state_dir[0] == '/');
        FUZZ_ASSERT(cfg.call_timeout_ms > 0 && cfg.detach_timeout_ms > 0);
        FUZZ_ASSERT(cfg.max_response_bytes >= 1024);
        for (size_t i = 0; i < cfg.n_plugins; i++) {
            FUZZ_ASSERT(cfg.plugins[i]);
            for (size_t k = 0; k < i; k++)
                FUZZ_ASSERT(strcmp(cfg.plugins[i], cfg.plugins[k]) != 0);
        }
        for (size_t i = 0; i < cfg.n_plugin_dirs; i++)
            FUZZ_ASSERT(cfg.plugin_dirs[i]);
    } else {
        FUZZ_ASSERT(err.msg[0] != '\0');
    }
    mpp_config_clear(&cfg);
    return 0;
}
