/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The idmap configuration:
 *   {"mappings": [{"match": {"source_prefix": P, "labels": {K: V}},
 *                  "uid": [{"host": H, "container": C, "count": N}], "gid": [...]}],
 *    "patterns": [Pattern...]} */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mpp/codec.h>
#include <mpp/pattern.h>

#include "idmap.h"
#include "macro.h"
#include "plugin-util.h"

static void rule_clear(idmap_rule *r)
{
    free(r->source_prefix);
    mpp_strmap_clear(&r->labels);
    free(r->uid);
    free(r->gid);
    if (r->userns_fd >= 0)
        close(r->userns_fd);
    *r = (idmap_rule){.userns_fd = -1};
}

void idmap_config_clear(idmap_config *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n_rules; i++)
        rule_clear(&c->rules[i]);
    free(c->rules);
    mpp_patterns_free(c->patterns, c->n_patterns);
    *c = (idmap_config){0};
}

static bool overlap(uint32_t a, uint32_t na, uint32_t b, uint32_t nb)
{
    return (uint64_t)a < (uint64_t)b + nb && (uint64_t)b < (uint64_t)a + na;
}

static int load_ranges(const json_t *m, const char *origin, const char *key, idmap_range **out,
                       size_t *n, mpp_error *err)
{
    const json_t *a = json_object_get(m, key);
    if (!a || json_is_null(a))
        return 0;
    if (!json_is_array(a) || json_array_size(a) == 0)
        return mpp_error_set(err, -EINVAL, "%s: %s: expected a non-empty list of ranges", origin,
                             key);
    if (json_array_size(a) > IDMAP_MAX_RANGES)
        return mpp_error_set(err, -EINVAL, "%s: %s: at most %d ranges (a kernel limit)", origin,
                             key, IDMAP_MAX_RANGES);
    *out = calloc(json_array_size(a), sizeof(**out));
    if (!*out)
        return mpp_error_set(err, -ENOMEM, "out of memory");
    size_t i;
    const json_t *e;
    json_array_foreach(a, i, e)
    {
        char o[PATH_MAX + 128];
        snprintf(o, sizeof(o), "%.*s: %s[%zu]", PATH_MAX + 64, origin, key, i);
        static const char *const known[] = {"host", "container", "count", NULL};
        int r = pu_check_keys(e, o, known, err);
        if (r < 0)
            return r;
        for (const char *const *req = known; *req && strcmp(*req, "count") != 0; req++)
            if (!json_object_get(e, *req))
                return mpp_error_set(err, -EINVAL, "%s: %s: missing (an id)", o, *req);
        uint64_t host, ctr, count;
        if ((r = pu_get_uint(e, o, "host", 0, UINT32_MAX - 1, &host, err)) < 0 ||
            (r = pu_get_uint(e, o, "container", 0, UINT32_MAX - 1, &ctr, err)) < 0 ||
            (r = pu_get_uint(e, o, "count", 1, UINT32_MAX, &count, err)) < 0)
            return r;
        if (count == 0)
            return mpp_error_set(err, -EINVAL, "%s: count: must be at least 1", o);
        if (host + count > UINT32_MAX || ctr + count > UINT32_MAX)
            return mpp_error_set(err, -EINVAL, "%s: the range goes past id %u", o, UINT32_MAX - 1);
        idmap_range *rg = &(*out)[i];
        *rg = (idmap_range){(uint32_t)host, (uint32_t)ctr, (uint32_t)count};
        for (size_t j = 0; j < i; j++) {
            const idmap_range *p = &(*out)[j];
            if (overlap(p->host, p->count, rg->host, rg->count))
                return mpp_error_set(
                    err, -EINVAL, "%s: host ids %u-%u overlap those of %s[%zu] (%u-%u)", o,
                    rg->host, rg->host + rg->count - 1, key, j, p->host, p->host + p->count - 1);
            if (overlap(p->container, p->count, rg->container, rg->count))
                return mpp_error_set(err, -EINVAL,
                                     "%s: container ids %u-%u overlap those of %s[%zu] (%u-%u)", o,
                                     rg->container, rg->container + rg->count - 1, key, j,
                                     p->container, p->container + p->count - 1);
        }
        *n = i + 1;
    }
    return 0;
}

static int load_match(const json_t *m, const char *origin, idmap_rule *rule, mpp_error *err)
{
    char o[PATH_MAX + 128];
    snprintf(o, sizeof(o), "%.*s: match", PATH_MAX + 64, origin);
    const json_t *match = json_object_get(m, "match");
    if (!match)
        return mpp_error_set(err, -EINVAL,
                             "%s: missing (an object with source_prefix and/or labels)", o);
    static const char *const known[] = {"source_prefix", "labels", NULL};
    int r = pu_check_keys(match, o, known, err);
    if (r < 0)
        return r;
    const char *prefix = NULL;
    r = pu_get_string(match, o, "source_prefix", NULL, &prefix, err);
    if (r < 0)
        return r;
    if (prefix) {
        char clean[PATH_MAX];
        if (!pu_path_is_safe(prefix) || mpp_path_clean(prefix, clean, sizeof(clean)) < 0)
            return mpp_error_set(
                err, -EINVAL, "%s: source_prefix: \"%s\" is not a clean absolute path", o, prefix);
        rule->source_prefix = strdup(clean);
        if (!rule->source_prefix)
            return mpp_error_set(err, -ENOMEM, "out of memory");
    }
    const json_t *labels = json_object_get(match, "labels");
    if (labels && !json_is_null(labels)) {
        if (!json_is_object(labels))
            return mpp_error_set(err, -EINVAL, "%s: labels: expected an object of strings", o);
        const char *k;
        const json_t *v;
        json_object_foreach((json_t *)labels, k, v)
        {
            if (!json_is_string(v))
                return mpp_error_set(err, -EINVAL, "%s: labels: %s: expected a string", o, k);
            if (mpp_strmap_add(&rule->labels, k, json_string_value(v)) < 0)
                return mpp_error_set(err, -ENOMEM, "out of memory");
        }
    }
    if (!rule->source_prefix && rule->labels.n == 0)
        return mpp_error_set(err, -EINVAL,
                             "%s: give source_prefix or labels (a rule for every mount is "
                             "too broad)",
                             o);
    return 0;
}

/* The patterns that select what the rules apply to, so that mpp only calls us for those. */
static int derive_patterns(idmap_config *c, mpp_error *err)
{
    _cleanup_json_ json_t *ps = json_array();
    if (!ps)
        return mpp_error_set(err, -ENOMEM, "out of memory");
    for (size_t i = 0; i < c->n_rules; i++) {
        const idmap_rule *rule = &c->rules[i];
        json_t *p = json_object();
        if (!p || json_array_append_new(ps, p) < 0)
            return mpp_error_set(err, -ENOMEM, "out of memory");
        if (rule->source_prefix &&
            json_object_set_new(p, "Source",
                                json_pack("[{s:s}]", "PathPrefix", rule->source_prefix)) < 0)
            return mpp_error_set(err, -ENOMEM, "out of memory");
        if (rule->labels.n) {
            json_t *exists = json_array();
            if (!exists ||
                json_object_set_new(p, "Container",
                                    json_pack("{s:[{s:o}]}", "Labels", "Exists", exists)) < 0)
                return mpp_error_set(err, -ENOMEM, "out of memory");
            for (size_t k = 0; k < rule->labels.n; k++)
                if (json_array_append_new(exists,
                                          json_pack("{s:{s:s}, s:{s:s}}", "Key", "Exactly",
                                                    rule->labels.items[k].key, "Value", "Exactly",
                                                    rule->labels.items[k].value)) < 0)
                    return mpp_error_set(err, -ENOMEM, "out of memory");
        }
    }
    _cleanup_free_ char *text = json_dumps(ps, JSON_COMPACT);
    if (!text)
        return mpp_error_set(err, -ENOMEM, "out of memory");
    int r = mpp_decode_patterns(text, strlen(text), &c->patterns, &c->n_patterns, err);
    if (r < 0)
        return mpp_error_prefix(err, "patterns made from the mappings");
    return 0;
}

int idmap_config_load(const char *path, idmap_config *out, mpp_error *err)
{
    *out = (idmap_config){0};
    if (!path)
        return mpp_error_set(err, -EINVAL,
                             "a configuration file with the mappings is required (--config FILE)");
    _cleanup_json_ json_t *j = NULL;
    int r = pu_config_load(path, &j, err);
    if (r < 0)
        return r;
    static const char *const known[] = {"mappings", "patterns", NULL};
    if ((r = pu_check_keys(j, path, known, err)) < 0)
        return r;
    const json_t *ms = json_object_get(j, "mappings");
    if (!json_is_array(ms) || json_array_size(ms) == 0)
        return mpp_error_set(err, -EINVAL, "%s: mappings: expected a non-empty list of mappings",
                             path);
    out->rules = calloc(json_array_size(ms), sizeof(*out->rules));
    if (!out->rules)
        return mpp_error_set(err, -ENOMEM, "out of memory");
    size_t i;
    const json_t *m;
    json_array_foreach(ms, i, m)
    {
        idmap_rule *rule = &out->rules[i];
        *rule = (idmap_rule){.userns_fd = -1};
        out->n_rules = i + 1;
        char o[PATH_MAX + 64];
        snprintf(o, sizeof(o), "%s: mappings[%zu]", path, i);
        static const char *const mkeys[] = {"match", "uid", "gid", NULL};
        if ((r = pu_check_keys(m, o, mkeys, err)) < 0 || (r = load_match(m, o, rule, err)) < 0 ||
            (r = load_ranges(m, o, "uid", &rule->uid, &rule->n_uid, err)) < 0 ||
            (r = load_ranges(m, o, "gid", &rule->gid, &rule->n_gid, err)) < 0)
            return r;
        if (rule->n_uid == 0)
            return mpp_error_set(err, -EINVAL, "%s: uid: missing (a list of ranges)", o);
        if (rule->n_gid == 0) {
            /* Groups default to the user mapping: the usual case of uid = gid. */
            rule->gid = calloc(rule->n_uid, sizeof(*rule->gid));
            if (!rule->gid)
                return mpp_error_set(err, -ENOMEM, "out of memory");
            memcpy(rule->gid, rule->uid, rule->n_uid * sizeof(*rule->gid));
            rule->n_gid = rule->n_uid;
        }
    }
    r = pu_get_patterns(j, path, "patterns", &out->patterns, &out->n_patterns, err);
    if (r < 0)
        return r;
    if (r > 0 && out->n_patterns == 0)
        return mpp_error_set(err, -EINVAL,
                             "%s: patterns: the list is empty, so the plugin would select no "
                             "mount (remove the key to derive them from the mappings)",
                             path);
    if (r == 0)
        return derive_patterns(out, err);
    return 0;
}

static bool path_under(const char *path, const char *prefix)
{
    size_t n = strlen(prefix);
    if (strcmp(prefix, "/") == 0)
        return true;
    return strncmp(path, prefix, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

const idmap_rule *idmap_config_find(const idmap_config *c, const mpp_mount *m)
{
    char src[PATH_MAX];
    if (isempty(m->source) || mpp_path_clean(m->source, src, sizeof(src)) < 0)
        return NULL;
    for (size_t i = 0; i < c->n_rules; i++) {
        const idmap_rule *rule = &c->rules[i];
        if (rule->source_prefix && !path_under(src, rule->source_prefix))
            continue;
        bool ok = true;
        for (size_t k = 0; k < rule->labels.n && ok; k++) {
            const char *v = mpp_strmap_get(&m->container.labels, rule->labels.items[k].key);
            ok = v && strcmp(v, rule->labels.items[k].value) == 0;
        }
        if (ok)
            return rule;
    }
    return NULL;
}
