/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The pattern matcher (spec §5).
 *
 * This runs for every mount × plugin × pattern on the container creation path, so it neither
 * allocates nor does I/O: paths are cleaned into stack buffers, and only when they are not
 * already clean (the common case for paths an engine hands us).
 *
 * Conventions, applied everywhere:
 * - a NULL string value in a mount is treated as "";
 * - a string predicate that is NULL or "" is unset (the codec decodes "" as unset too: Go's
 *   omitempty would never send it, and an empty Prefix means nothing);
 * - a StringPattern with no predicate set matches anything, with or without Not (there is
 *   nothing to negate);
 * - a string field of a Pattern (Type, Propagation, …) that is NULL or "" is "don't care". */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <mpp/pattern.h>

#include "macro.h"

static inline const char *str_or_empty(const char *s)
{
    return s ? s : "";
}

/* Go's path.Clean, computed from the right: a ".." cancels the nearest kept component to its
 * left, and the ".." left over lead a relative path (a rooted one drops them, "/.." is "/").
 * This is the same result as Go's left-to-right stack, but it never needs more room than the
 * result: a path that cleans to something short fits a short buffer whatever its input length.
 * With out == NULL it only measures; else it writes the result ending at out + total. */
static size_t clean_walk(const char *p, size_t n, char *out, size_t total)
{
    bool rooted = n > 0 && p[0] == '/';
    size_t len = 0, skip = 0, i = n;
    bool any = false;

#define EMIT(src, l)                                                                               \
    do {                                                                                           \
        if (any) {                                                                                 \
            len++;                                                                                 \
            if (out)                                                                               \
                out[total - len] = '/';                                                            \
        }                                                                                          \
        len += (l);                                                                                \
        if (out)                                                                                   \
            memcpy(out + total - len, (src), (l));                                                 \
        any = true;                                                                                \
    } while (0)

    while (i > 0) {
        size_t end = i;
        while (end > 0 && p[end - 1] == '/')
            end--;
        size_t start = end;
        while (start > 0 && p[start - 1] != '/')
            start--;
        i = start;

        size_t clen = end - start;
        if (clen == 0)
            break; /* only slashes were left */
        if (clen == 1 && p[start] == '.')
            continue;
        if (clen == 2 && p[start] == '.' && p[start + 1] == '.') {
            skip++;
            continue;
        }
        if (skip > 0) {
            skip--;
            continue;
        }
        EMIT(p + start, clen);
    }
    if (!rooted)
        for (; skip > 0; skip--)
            EMIT("..", 2);
#undef EMIT

    if (rooted) {
        len++;
        if (out)
            out[total - len] = '/';
    } else if (!any) {
        len++;
        if (out)
            out[total - len] = '.';
    }
    return len;
}

int mpp_path_clean(const char *in, char *out, size_t outsz)
{
    const char *p = str_or_empty(in);
    size_t n = strlen(p);

    size_t total = clean_walk(p, n, NULL, 0);
    if (total >= outsz || total > INT_MAX)
        return -ENAMETOOLONG;
    clean_walk(p, n, out, total);
    out[total] = '\0';
    return (int)total;
}

/* Whether s (of length n) is already what mpp_path_clean would return, so that it can be used
 * as is. Conservative is fine here: a false "no" only costs a copy. */
static bool path_is_clean(const char *s, size_t n)
{
    if (n == 0)
        return false;
    if (n == 1)
        return true; /* "/", ".", or a one-letter name */
    if (s[n - 1] == '/')
        return false;

    bool rooted = s[0] == '/';
    bool only_dotdots = !rooted; /* a relative path may start with ".." components */
    size_t i = rooted ? 1 : 0;

    while (i < n) {
        size_t j = i;
        while (j < n && s[j] != '/')
            j++;
        size_t len = j - i;
        if (len == 0)
            return false; /* "//" */
        if (len == 1 && s[i] == '.')
            return false; /* "." inside a longer path */
        if (len == 2 && s[i] == '.' && s[i + 1] == '.') {
            if (!only_dotdots)
                return false;
        } else {
            only_dotdots = false;
        }
        i = j + 1;
    }
    return true;
}

/* A cleaned view of a path: the string itself when already clean, else a cleaned copy. */
typedef struct clean_path {
    const char *s;
    size_t n;
} clean_path;

/* A string being matched, with what we learn about it kept for the next predicate: the same
 * Source is tested against every pattern of every plugin, so its length and whether it is
 * already a clean path are worked out once per field and plugin (at most). */
typedef struct value {
    const char *s;     /* never NULL */
    size_t n;          /* SIZE_MAX until known */
    signed char clean; /* -1 until known; 1 when s is a clean path shorter than PATH_MAX */
} value;

#define VALUE(str) ((value){str_or_empty(str), SIZE_MAX, -1})

static size_t value_len(value *v)
{
    if (v->n == SIZE_MAX)
        v->n = strlen(v->s);
    return v->n;
}

/* buf has PATH_MAX bytes. False when the path does not fit. */
static bool value_clean_view(value *v, char *buf, clean_path *out)
{
    size_t n = value_len(v);
    if (v->clean < 0)
        v->clean = n < PATH_MAX && path_is_clean(v->s, n);
    if (v->clean) {
        *out = (clean_path){v->s, n};
        return true;
    }
    int r = mpp_path_clean(v->s, buf, PATH_MAX);
    if (r < 0)
        return false;
    *out = (clean_path){buf, (size_t)r};
    return true;
}

/* Whether clean path v equals clean path p or lies under it component-wise. */
static bool path_under(const clean_path *v, const clean_path *p)
{
    if (v->n < p->n || memcmp(v->s, p->s, p->n) != 0)
        return false;
    if (v->n == p->n)
        return true;
    /* "/" is the only clean path that ends with '/': everything absolute is under it. */
    if (p->n == 1 && p->s[0] == '/')
        return true;
    return v->s[p->n] == '/';
}

/* Most comparisons fail on the first byte: skip the call then. */
static inline bool streq(const char *a, const char *b)
{
    return a[0] == b[0] && strcmp(a, b) == 0;
}

static bool starts_with(const char *s, const char *prefix)
{
    for (; *prefix; s++, prefix++)
        if (*s != *prefix)
            return false;
    return true;
}

static bool ends_with(value *v, const char *suffix)
{
    size_t n = value_len(v), m = strlen(suffix);
    return m <= n && memcmp(v->s + n - m, suffix, m) == 0;
}

static bool string_pattern_is_empty(const mpp_string_pattern *p)
{
    return !p->empty && isempty(p->prefix) && isempty(p->path_prefix) && isempty(p->suffix) &&
           isempty(p->path_contains) && isempty(p->exactly) && isempty(p->contains);
}

/* Kept out of line: its PATH_MAX buffers would otherwise weigh on every string test. */
static __attribute__((noinline)) bool path_predicates_match(const mpp_string_pattern *p, value *v,
                                                            bool want)
{
    /* A path that cannot be cleaned (longer than PATH_MAX) matches no path predicate, with or
     * without Not: we cannot say anything about it. */
    char vbuf[PATH_MAX], pbuf[PATH_MAX];
    clean_path cv, cp;
    if (!value_clean_view(v, vbuf, &cv))
        return false;
    if (!isempty(p->path_prefix)) {
        value pv = VALUE(p->path_prefix);
        if (!value_clean_view(&pv, pbuf, &cp) || path_under(&cv, &cp) != want)
            return false;
    }
    if (!isempty(p->path_contains)) {
        value pv = VALUE(p->path_contains);
        if (!value_clean_view(&pv, pbuf, &cp) || path_under(&cp, &cv) != want)
            return false;
    }
    return true;
}

static bool string_pattern_match(const mpp_string_pattern *p, value *v)
{
    bool want = !p->not_; /* what each set predicate must evaluate to */
    const char *s = v->s;

    if (p->empty && (s[0] == '\0') != want)
        return false;
    if (!isempty(p->exactly) && streq(s, p->exactly) != want)
        return false;
    if (!isempty(p->prefix) && starts_with(s, p->prefix) != want)
        return false;
    if (!isempty(p->suffix) && ends_with(v, p->suffix) != want)
        return false;
    if (!isempty(p->contains) && (strstr(s, p->contains) != NULL) != want)
        return false;

    if (isempty(p->path_prefix) && isempty(p->path_contains))
        return true;
    return path_predicates_match(p, v, want);
}

static bool string_patterns_match(const mpp_string_patterns *ps, value *v)
{
    for (size_t i = 0; i < ps->n; i++)
        if (!string_pattern_match(&ps->items[i], v))
            return false;
    return true;
}

bool mpp_string_pattern_match(const mpp_string_pattern *p, const char *s)
{
    value v = VALUE(s);
    return !p || string_pattern_match(p, &v);
}

bool mpp_string_patterns_match(const mpp_string_patterns *ps, const char *s)
{
    value v = VALUE(s);
    return !ps || string_patterns_match(ps, &v);
}

static bool kv_exists(const mpp_kv_pattern *kv, const mpp_strmap *m)
{
    for (size_t i = 0; i < m->n; i++)
        if (mpp_string_pattern_match(&kv->key, m->items[i].key) &&
            mpp_string_pattern_match(&kv->value, m->items[i].value))
            return true;
    return false;
}

static bool kv_all(const mpp_kv_pattern *kv, const mpp_strmap *m)
{
    /* With no Value the rule "every matching key has a matching value" would always hold, so
     * the spec gives it a meaning: every key of the map matches Key. */
    bool keys_only = string_pattern_is_empty(&kv->value);

    for (size_t i = 0; i < m->n; i++) {
        bool key_ok = mpp_string_pattern_match(&kv->key, m->items[i].key);
        if (keys_only) {
            if (!key_ok)
                return false;
        } else if (key_ok && !mpp_string_pattern_match(&kv->value, m->items[i].value)) {
            return false;
        }
    }
    return true;
}

bool mpp_strmap_pattern_match(const mpp_strmap_pattern *p, const mpp_strmap *m)
{
    static const mpp_strmap empty_map = {0};

    if (!p)
        return true;
    if (!m)
        m = &empty_map;
    bool want = !p->not_; /* Not inverts each element on its own */

    for (size_t i = 0; i < p->n_exists; i++)
        if (kv_exists(&p->exists[i], m) != want)
            return false;
    for (size_t i = 0; i < p->n_all; i++)
        if (kv_all(&p->all[i], m) != want)
            return false;
    return true;
}

bool mpp_strmap_patterns_match(const mpp_strmap_patterns *ps, const mpp_strmap *m)
{
    if (!ps)
        return true;
    for (size_t i = 0; i < ps->n; i++)
        if (!mpp_strmap_pattern_match(&ps->items[i], m))
            return false;
    return true;
}

/* Plain string field of a Pattern: NULL or "" = don't care, else equal. */
static bool string_field_match(const char *want, const char *have)
{
    return isempty(want) || streq(want, str_or_empty(have));
}

static bool tristate_match(mpp_tristate want, bool have)
{
    return want == MPP_UNSET || (want != MPP_FALSE) == have;
}

static bool applied_match(const mpp_applied_pattern *ap, const mpp_applied *a)
{
    return string_field_match(ap->changes_effective_consistency,
                              a->changes.effective_consistency) &&
           mpp_string_patterns_match(&ap->name, a->name) &&
           mpp_string_patterns_match(&ap->changes_effective_source, a->changes.effective_source);
}

/* Whether list matches stack[start .. start+list->n) one to one. */
static bool run_matches(const mpp_applied_patterns *list, const mpp_applied *stack, size_t start)
{
    for (size_t j = 0; j < list->n; j++)
        if (!applied_match(&list->items[j], &stack[start + j]))
            return false;
    return true;
}

static bool stack_op_match(mpp_stack_op op, const mpp_applied_patterns *list,
                           const mpp_applied *stack, size_t n)
{
    const size_t k = list->n;

    switch (op) {
    case MPP_STACK_EXISTS:
        for (size_t j = 0; j < k; j++) {
            bool found = false;
            for (size_t i = 0; i < n && !found; i++)
                found = applied_match(&list->items[j], &stack[i]);
            if (!found)
                return false;
        }
        return true;

    case MPP_STACK_ALL:
        for (size_t j = 0; j < k; j++)
            for (size_t i = 0; i < n; i++)
                if (!applied_match(&list->items[j], &stack[i]))
                    return false;
        return true;

    case MPP_STACK_ANY_SEQUENCE:
        if (k > n)
            return false;
        for (size_t start = 0; start + k <= n; start++)
            if (run_matches(list, stack, start))
                return true;
        return false;

    case MPP_STACK_TOP_SEQUENCE:
        /* "Top" is the first applied entry, index 0 (the spec's naming). */
        return k <= n && run_matches(list, stack, 0);

    case MPP_STACK_BOTTOM_SEQUENCE:
        return k <= n && run_matches(list, stack, n - k);

    case MPP_STACK_RELATIVE_ORDER: {
        /* Taking the earliest match for each element is optimal for a subsequence. */
        size_t j = 0;
        for (size_t i = 0; i < n && j < k; i++)
            if (applied_match(&list->items[j], &stack[i]))
                j++;
        return j == k;
    }

    case _MPP_STACK_OP_MAX:
        break;
    }
    return false;
}

bool mpp_stack_pattern_match(const mpp_stack_pattern *p, const mpp_applied *stack, size_t n)
{
    if (!p)
        return true;
    if (!stack)
        n = 0;

    for (int op = 0; op < _MPP_STACK_OP_MAX; op++) {
        /* An empty list is "don't care", for an op and its Not twin alike. */
        if (p->op[op].n > 0 && !stack_op_match((mpp_stack_op)op, &p->op[op], stack, n))
            return false;
        if (p->not_op[op].n > 0 && stack_op_match((mpp_stack_op)op, &p->not_op[op], stack, n))
            return false;
    }
    return true;
}

/* Spec §4: the effective consistency is "the last consistency set by a plugin, else default";
 * for the user's Consistency an unset value is the default as well. */
static const char *consistency_or_default(const char *c)
{
    return isempty(c) ? "default" : c;
}

/* The string fields of a mount that [StringPattern] lists look at, prepared once for all the
 * patterns of a plugin. */
typedef struct mount_values {
    value effective_source, source, destination, mode, volume_name, volume_driver, volume_id;
} mount_values;

static void mount_values_init(mount_values *mv, const mpp_mount *m)
{
    /* The effective source is Source until a plugin changes it (spec §4, §6). */
    mv->effective_source = VALUE(isempty(m->effective_source) ? m->source : m->effective_source);
    mv->source = VALUE(m->source);
    mv->destination = VALUE(m->destination);
    mv->mode = VALUE(m->mode);
    mv->volume_name = VALUE(m->volume.name);
    mv->volume_driver = VALUE(m->volume.driver);
    mv->volume_id = VALUE(m->volume.id);
}

static bool pattern_match(const mpp_pattern *p, const mpp_mount *m, mount_values *mv)
{
    /* [mpp extension] tmpfs mounts reach only patterns that name that type, so that plugins
     * written for v2 never see a type they were not written for (spec §3). */
    if (m->type && strcmp(m->type, "tmpfs") == 0 && !(p->type && strcmp(p->type, "tmpfs") == 0))
        return false;
    /* Cheap equality tests first: they reject most mounts. */
    if (!string_field_match(p->type, m->type) || !tristate_match(p->read_only, m->read_only) ||
        !tristate_match(p->create_source_if_missing, m->create_source_if_missing) ||
        !string_field_match(p->propagation, m->propagation) ||
        !string_field_match(p->volume.scope, m->volume.scope) ||
        !string_field_match(p->consistency, consistency_or_default(m->consistency)) ||
        !string_field_match(p->effective_consistency,
                            consistency_or_default(m->effective_consistency)))
        return false;

    return string_patterns_match(&p->source, &mv->source) &&
           string_patterns_match(&p->destination, &mv->destination) &&
           string_patterns_match(&p->effective_source, &mv->effective_source) &&
           string_patterns_match(&p->mode, &mv->mode) &&
           string_patterns_match(&p->volume.name, &mv->volume_name) &&
           string_patterns_match(&p->volume.driver, &mv->volume_driver) &&
           string_patterns_match(&p->volume.id, &mv->volume_id) &&
           mpp_strmap_patterns_match(&p->volume.labels, &m->volume.labels) &&
           mpp_strmap_patterns_match(&p->volume.driver_options, &m->volume.driver_options) &&
           mpp_strmap_patterns_match(&p->volume.options, &m->volume.options) &&
           mpp_strmap_patterns_match(&p->container_labels, &m->container.labels) &&
           mpp_strmap_patterns_match(&p->image_labels, &m->image.labels) &&
           mpp_stack_pattern_match(&p->applied_middleware, m->applied, m->n_applied);
}

bool mpp_pattern_match(const mpp_pattern *p, const mpp_mount *m)
{
    if (!p || !m)
        return false;
    mount_values mv;
    mount_values_init(&mv, m);
    return pattern_match(p, m, &mv);
}

int mpp_patterns_match(const mpp_pattern *ps, size_t n, const mpp_mount *m)
{
    if (!ps || !m)
        return -1;
    mount_values mv;
    mount_values_init(&mv, m);
    for (size_t i = 0; i < n && i <= INT_MAX; i++)
        if (pattern_match(&ps[i], m, &mv))
            return (int)i;
    return -1;
}
