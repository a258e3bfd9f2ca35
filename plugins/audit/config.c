/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The audit configuration: {"patterns": [Pattern...], "source_prefixes": [path...],
 * "log_dir": path, "top": n}, all optional. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpp/codec.h>
#include <mpp/pattern.h>

#include "audit.h"
#include "macro.h"
#include "plugin-util.h"

void audit_config_clear(audit_config *c)
{
    if (!c)
        return;
    mpp_patterns_free(c->patterns, c->n_patterns);
    free(c->log_dir);
    *c = (audit_config){0};
}

/* One more pattern: {"Source": [{"PathPrefix": prefix}]}. */
static int add_prefix_pattern(audit_config *c, const char *prefix, mpp_error *err)
{
    mpp_pattern *n = realloc(c->patterns, (c->n_patterns + 1) * sizeof(*n));
    if (!n)
        return mpp_error_set(err, -ENOMEM, "out of memory");
    c->patterns = n;
    mpp_pattern *p = &n[c->n_patterns];
    mpp_pattern_init(p);
    c->n_patterns++;
    p->source.items = calloc(1, sizeof(*p->source.items));
    if (!p->source.items)
        return mpp_error_set(err, -ENOMEM, "out of memory");
    p->source.n = 1;
    p->source.items[0].path_prefix = strdup(prefix);
    if (!p->source.items[0].path_prefix)
        return mpp_error_set(err, -ENOMEM, "out of memory");
    return 0;
}

int audit_config_load(const char *path, audit_config *out, mpp_error *err)
{
    *out = (audit_config){0};
    _cleanup_json_ json_t *j = NULL;
    const char *log_dir = AUDIT_DEFAULT_LOG_DIR;
    int r, have_patterns = 0;
    out->top = 10;
    _cleanup_free_ const char **prefixes = NULL;
    size_t n_prefixes = 0;
    if (path) {
        r = pu_config_load(path, &j, err);
        if (r < 0)
            return r;
        static const char *const known[] = {"patterns", "source_prefixes", "log_dir", "top", NULL};
        if ((r = pu_check_keys(j, path, known, err)) < 0 ||
            (r = pu_get_string(j, path, "log_dir", AUDIT_DEFAULT_LOG_DIR, &log_dir, err)) < 0 ||
            (r = pu_get_uint(j, path, "top", 10, 1000, &out->top, err)) < 0 ||
            (r = pu_get_strings(j, path, "source_prefixes", &prefixes, &n_prefixes, err)) < 0)
            return r;
        if (!pu_path_is_safe(log_dir))
            return mpp_error_set(err, -EINVAL, "%s: log_dir: \"%s\" is not a clean absolute path",
                                 path, log_dir);
        if (out->top == 0)
            return mpp_error_set(err, -EINVAL, "%s: top: must be at least 1", path);
        for (size_t i = 0; i < n_prefixes; i++)
            if (!pu_path_is_safe(prefixes[i]))
                return mpp_error_set(err, -EINVAL,
                                     "%s: source_prefixes[%zu]: \"%s\" is not a clean absolute "
                                     "path",
                                     path, i, prefixes[i]);
        r = pu_get_patterns(j, path, "patterns", &out->patterns, &out->n_patterns, err);
        if (r < 0)
            return r;
        if (r > 0 && out->n_patterns == 0 && n_prefixes == 0)
            return mpp_error_set(err, -EINVAL,
                                 "%s: patterns: the list is empty, so the plugin would select "
                                 "no mount (remove the key for the default)",
                                 path);
        have_patterns = r;
    }
    out->log_dir = strdup(log_dir);
    if (!out->log_dir)
        return mpp_error_set(err, -ENOMEM, "out of memory");
    if (!have_patterns) {
        r = mpp_decode_patterns(AUDIT_DEFAULT_PATTERNS, strlen(AUDIT_DEFAULT_PATTERNS),
                                &out->patterns, &out->n_patterns, err);
        if (r < 0)
            return mpp_error_prefix(err, "default patterns");
    }
    for (size_t i = 0; i < n_prefixes; i++)
        if ((r = add_prefix_pattern(out, prefixes[i], err)) < 0)
            return r;
    return 0;
}
