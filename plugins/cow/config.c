/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The cow configuration: {"patterns": [Pattern...], "keep": bool}, both optional. */
#include <errno.h>
#include <string.h>

#include <mpp/codec.h>

#include "cow.h"
#include "macro.h"
#include "plugin-util.h"

void cow_config_clear(cow_config *c)
{
    if (!c)
        return;
    mpp_patterns_free(c->patterns, c->n_patterns);
    *c = (cow_config){0};
}

int cow_config_load(const char *path, cow_config *out, mpp_error *err)
{
    *out = (cow_config){0};
    _cleanup_json_ json_t *j = NULL;
    int r;
    if (path) {
        r = pu_config_load(path, &j, err);
        if (r < 0)
            return r;
        static const char *const known[] = {"patterns", "keep", NULL};
        r = pu_check_keys(j, path, known, err);
        if (r < 0)
            return r;
        r = pu_get_bool(j, path, "keep", false, &out->keep, err);
        if (r < 0)
            return r;
        r = pu_get_patterns(j, path, "patterns", &out->patterns, &out->n_patterns, err);
        if (r < 0)
            return r;
        if (r > 0 && out->n_patterns == 0)
            return mpp_error_set(err, -EINVAL,
                                 "%s: patterns: the list is empty, so the plugin would select "
                                 "no mount (remove the key for the default)",
                                 path);
        if (r > 0)
            return 0;
    }
    r = mpp_decode_patterns(COW_DEFAULT_PATTERNS, strlen(COW_DEFAULT_PATTERNS), &out->patterns,
                            &out->n_patterns, err);
    if (r < 0)
        return mpp_error_prefix(err, "default patterns");
    return 0;
}
