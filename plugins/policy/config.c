/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The policy configuration file: {"default": "allow"|"deny", "rules": [RULE...]}, each RULE
 * {"name": s, "when": [StringMapPattern...], and exactly one of "protect": [path...],
 * "allow_sources": [path...], "read_only": [path...], "require_existing": true}. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <mpp/pattern.h>

#include "macro.h"
#include "plugin-util.h"
#include "policy.h"

static void rule_clear(policy_rule *r)
{
    free(r->name);
    pu_strmap_patterns_clear(&r->when);
    for (size_t i = 0; i < r->n_paths; i++) {
        free(r->paths[i].path);
        free(r->paths[i].resolved);
    }
    free(r->paths);
    *r = (policy_rule){0};
}

void policy_config_free(policy_config *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n_rules; i++)
        rule_clear(&c->rules[i]);
    free(c->rules);
    free(c->origin);
    free(c);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(policy_config *, policy_config_free)

static const char *const kind_keys[] = {
    [POLICY_PROTECT] = "protect",
    [POLICY_ALLOW_SOURCES] = "allow_sources",
    [POLICY_READ_ONLY] = "read_only",
    [POLICY_REQUIRE_EXISTING] = "require_existing",
};

static int parse_paths(const json_t *rule, const char *where, const char *key, policy_rule *r,
                       mpp_error *err)
{
    _cleanup_free_ const char **list = NULL;
    size_t n = 0;
    int k = pu_get_strings(rule, where, key, &list, &n, err);
    if (k < 0)
        return k;
    if (n == 0)
        return mpp_error_set(err, -EINVAL, "%s: %s: expected a non-empty list of paths", where,
                             key);
    r->paths = calloc(n, sizeof(*r->paths));
    if (!r->paths)
        return mpp_error_set(err, -ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        char clean[PATH_MAX];
        if (list[i][0] != '/' || mpp_path_clean(list[i], clean, sizeof(clean)) < 0)
            return mpp_error_set(err, -EINVAL, "%s: %s[%zu]: \"%s\" is not an absolute path", where,
                                 key, i, list[i]);
        policy_path *p = &r->paths[r->n_paths++];
        p->path = strdup(clean);
        if (!p->path)
            return mpp_error_set(err, -ENOMEM, "out of memory");
        /* Resolved now, at load: the host's symlinks (/var/run -> /run) rarely change. */
        char *res = policy_resolve(clean);
        if (res && strcmp(res, clean) != 0)
            p->resolved = res;
        else
            free(res);
    }
    return 0;
}

static int parse_rule(const json_t *j, const char *origin, size_t idx, policy_rule *r,
                      mpp_error *err)
{
    char where[PATH_MAX + 64];
    snprintf(where, sizeof(where), "%s: rules[%zu]", origin, idx);
    static const char *const known[] = {"name",
                                        "when",
                                        "protect",
                                        "read_only",
                                        "allow_sources",
                                        "require_existing",
                                        "deny_hard_links",
                                        NULL};
    int k = pu_check_keys(j, where, known, err);
    if (k < 0)
        return k;

    const char *name;
    k = pu_get_string(j, where, "name", NULL, &name, err);
    if (k < 0)
        return k;
    if (isempty(name))
        return mpp_error_set(err, -EINVAL,
                             "%s: name: missing (every rule needs a name, used in "
                             "its messages)",
                             where);
    r->name = strdup(name);
    if (!r->name)
        return mpp_error_set(err, -ENOMEM, "out of memory");
    snprintf(where, sizeof(where), "%s: rule \"%s\"", origin, name);

    int found = -1;
    for (size_t i = 0; i < ELEMENTSOF(kind_keys); i++) {
        if (!json_object_get(j, kind_keys[i]))
            continue;
        if (found >= 0)
            return mpp_error_set(err, -EINVAL, "%s: has both \"%s\" and \"%s\" (one kind per rule)",
                                 where, kind_keys[found], kind_keys[i]);
        found = (int)i;
    }
    if (found < 0)
        return mpp_error_set(err, -EINVAL,
                             "%s: no kind (expected one of protect, allow_sources, read_only, "
                             "require_existing)",
                             where);
    r->kind = (policy_kind)found;

    k = pu_get_strmap_patterns(j, where, "when", &r->when, err);
    if (k < 0)
        return k;

    if (json_object_get(j, "deny_hard_links")) {
        if (r->kind != POLICY_PROTECT && r->kind != POLICY_READ_ONLY)
            return mpp_error_set(
                err, -EINVAL, "%s: deny_hard_links: only for protect and read_only rules", where);
        k = pu_get_bool(j, where, "deny_hard_links", false, &r->deny_hard_links, err);
        if (k < 0)
            return k;
    }
    if (r->kind == POLICY_REQUIRE_EXISTING) {
        bool b;
        k = pu_get_bool(j, where, "require_existing", false, &b, err);
        if (k < 0)
            return k;
        if (!b)
            return mpp_error_set(err, -EINVAL,
                                 "%s: require_existing: only true makes sense (remove the rule "
                                 "instead)",
                                 where);
        return 0;
    }
    return parse_paths(j, where, kind_keys[r->kind], r, err);
}

int policy_config_load(const char *path, policy_config **out, mpp_error *err)
{
    *out = NULL;
    _cleanup_json_ json_t *j = NULL;
    int r = pu_config_load(path, &j, err);
    if (r < 0)
        return r;
    static const char *const known[] = {"default", "rules", NULL};
    r = pu_check_keys(j, path, known, err);
    if (r < 0)
        return r;

    _cleanup_(policy_config_freep) policy_config *c = calloc(1, sizeof(*c));
    if (!c || !(c->origin = strdup(path)))
        return mpp_error_set(err, -ENOMEM, "out of memory");

    const char *def;
    r = pu_get_string(j, path, "default", "allow", &def, err);
    if (r < 0)
        return r;
    if (strcmp(def, "allow") == 0)
        c->default_deny = false;
    else if (strcmp(def, "deny") == 0)
        c->default_deny = true;
    else
        return mpp_error_set(err, -EINVAL,
                             "%s: default: expected \"allow\" or \"deny\", got \"%s\"", path, def);

    json_t *rules = json_object_get(j, "rules");
    if (rules && !json_is_null(rules) && !json_is_array(rules))
        return mpp_error_set(err, -EBADMSG, "%s: rules: expected a list of rules", path);
    size_t n = json_array_size(rules);
    c->rules = calloc(n ? n : 1, sizeof(*c->rules));
    if (!c->rules)
        return mpp_error_set(err, -ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        r = parse_rule(json_array_get(rules, i), path, i, &c->rules[i], err);
        c->n_rules = i + 1; /* so that the partial rule is freed */
        if (r < 0)
            return r;
        for (size_t o = 0; o < i; o++)
            if (strcmp(c->rules[o].name, c->rules[i].name) == 0)
                return mpp_error_set(err, -EINVAL,
                                     "%s: rules[%zu]: name \"%s\" is already used by rules[%zu]",
                                     path, i, c->rules[i].name, o);
    }
    *out = TAKE_PTR(c);
    return 0;
}
