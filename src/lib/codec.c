/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The protocol codec (protocol §1, §4, §5): JSON text <-> the structs of types.h, with jansson.
 *
 * Decoders read like Go's encoding/json: null or absent means "not given" for every field (Go
 * leaves the zero value), unknown fields are ignored, but a value of the wrong type is an error
 * naming its field path ("Mounts[1].ReadOnly: expected a boolean, got string"). Numbers are never
 * coerced to strings or booleans. Encoders write the protocol's keys in its order (protocol §4)
 * and leave out empty optional fields (Go's omitempty). */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpp/codec.h>

#include "codec-json.h"
#include "macro.h"
#include "mount-fields.h"

/* Far above any real message, low enough that a hostile document cannot make us allocate
 * gigabytes of structs from 16 MiB of "[0,0,0...]". */
#define MAX_ELEMENTS 1000000u

#define PATH_BUF 1024

/* Decoding context: where errors go, and the field path of the value being decoded. */
typedef struct dec dec;
struct dec {
    mpp_error *err;
    size_t len;
    char path[PATH_BUF];
};

typedef int (*decode_fn)(dec *d, const json_t *v, void *out);
typedef void (*clear_fn)(void *p);

typedef struct field_spec {
    const char *key;
    decode_fn fn;
    size_t offset;
} field_spec;

static const char *const stack_op_key[_MPP_STACK_OP_MAX] = {
    [MPP_STACK_EXISTS] = "Exists",
    [MPP_STACK_ALL] = "All",
    [MPP_STACK_ANY_SEQUENCE] = "AnySequence",
    [MPP_STACK_TOP_SEQUENCE] = "TopSequence",
    [MPP_STACK_BOTTOM_SEQUENCE] = "BottomSequence",
    [MPP_STACK_RELATIVE_ORDER] = "RelativeOrder",
};

static const char *const stack_not_op_key[_MPP_STACK_OP_MAX] = {
    [MPP_STACK_EXISTS] = "NotExists",
    [MPP_STACK_ALL] = "NotAll",
    [MPP_STACK_ANY_SEQUENCE] = "NotAnySequence",
    [MPP_STACK_TOP_SEQUENCE] = "NotTopSequence",
    [MPP_STACK_BOTTOM_SEQUENCE] = "NotBottomSequence",
    [MPP_STACK_RELATIVE_ORDER] = "NotRelativeOrder",
};

#define ACTION_KEYS "Remove, Unmount, Warning, Error, Fatal"

const char *mpp_json_type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "object";
    case JSON_ARRAY:
        return "array";
    case JSON_STRING:
        return "string";
    case JSON_INTEGER:
        return "integer";
    case JSON_REAL:
        return "real number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "boolean";
    case JSON_NULL:
        return "null";
    }
    return "unknown";
}

static bool absent(const json_t *v)
{
    return !v || json_is_null(v);
}

/* ---- Field paths and errors ---- */

static void dec_init(dec *d, const char *where, mpp_error *err)
{
    d->err = err;
    snprintf(d->path, sizeof(d->path), "%s", strempty(where));
    d->len = strlen(d->path);
}

/* Append to the path; truncation only shortens messages. Returns the length to restore. */
static size_t path_push(dec *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static size_t path_push(dec *d, const char *fmt, ...)
{
    size_t saved = d->len;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(d->path + d->len, sizeof(d->path) - d->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        d->len = d->len + (size_t)n < sizeof(d->path) ? d->len + (size_t)n : sizeof(d->path) - 1;
    return saved;
}

/* Once per decoded field: plain copies rather than a formatted print, which was most of the
 * cost of the path. */
static void path_append(dec *d, const char *s, size_t n)
{
    size_t room = sizeof(d->path) - 1 - d->len;
    if (n > room)
        n = room;
    memcpy(d->path + d->len, s, n);
    d->len += n;
    d->path[d->len] = '\0';
}

static size_t push_key(dec *d, const char *key)
{
    size_t saved = d->len;
    if (d->len)
        path_append(d, ".", 1);
    path_append(d, key, strlen(key));
    return saved;
}

static size_t push_index(dec *d, size_t i)
{
    return path_push(d, "[%zu]", i);
}

static void path_pop(dec *d, size_t saved)
{
    d->len = saved;
    d->path[saved] = '\0';
}

static int dec_fail(dec *d, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int dec_fail(dec *d, int code, const char *fmt, ...)
{
    char msg[MPP_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return mpp_error_set(d->err, code, "%s%s%s", d->path, d->len ? ": " : "", msg);
}

static int type_error(dec *d, const char *expected, const json_t *v)
{
    return dec_fail(d, -EBADMSG, "expected %s, got %s", expected, mpp_json_type_name(v));
}

static int nomem(dec *d)
{
    return dec_fail(d, -ENOMEM, "out of memory");
}

/* ---- Generic decoders ---- */

static int dec_field(dec *d, const json_t *obj, const char *key, decode_fn fn, void *out)
{
    size_t saved = push_key(d, key);
    int r = fn(d, json_object_get(obj, key), out);
    path_pop(d, saved);
    return r;
}

/* Decode the fields of an object into the struct at base. */
static int dec_object(dec *d, const json_t *v, const field_spec *fields, size_t n, void *base)
{
    if (absent(v))
        return 0;
    if (!json_is_object(v))
        return type_error(d, "an object", v);
    for (size_t i = 0; i < n; i++) {
        int r = dec_field(d, v, fields[i].key, fields[i].fn, (char *)base + fields[i].offset);
        if (r < 0)
            return r;
    }
    return 0;
}

/* Decode an array into a new array of elements of `size` bytes, each zeroed then given to fn.
 * On failure every element is passed to cl and nothing is returned. */
static int dec_array(dec *d, const json_t *v, size_t size, decode_fn fn, clear_fn cl, void **items,
                     size_t *n)
{
    *items = NULL;
    *n = 0;
    if (absent(v))
        return 0;
    if (!json_is_array(v))
        return type_error(d, "an array", v);
    size_t count = json_array_size(v);
    if (count > MAX_ELEMENTS)
        return dec_fail(d, -E2BIG, "%zu elements, over the limit of %u", count, MAX_ELEMENTS);
    if (count == 0)
        return 0;
    _cleanup_free_ char *buf = calloc(count, size);
    if (!buf)
        return nomem(d);
    int r = 0;
    for (size_t i = 0; i < count && r >= 0; i++) {
        size_t saved = push_index(d, i);
        r = fn(d, json_array_get(v, i), buf + i * size);
        path_pop(d, saved);
    }
    if (r < 0) {
        for (size_t i = 0; i < count; i++)
            cl(buf + i * size);
        return r;
    }
    *items = TAKE_PTR(buf);
    *n = count;
    return 0;
}

/* A field holding an array whose pointer and count are separate members. */
#define DEC_FIELD_ARRAY(d, obj, key, fn, cl, ptr, count)                                           \
    ({                                                                                             \
        void *_items = NULL;                                                                       \
        size_t _n = 0;                                                                             \
        size_t _saved = push_key(d, key);                                                          \
        int _r = dec_array(d, json_object_get(obj, key), sizeof(*(ptr)), fn, cl, &_items, &_n);    \
        path_pop(d, _saved);                                                                       \
        (ptr) = _items;                                                                            \
        (count) = _n;                                                                              \
        _r;                                                                                        \
    })

static int string_value(dec *d, const json_t *v, bool empty_is_unset, char **out)
{
    if (absent(v))
        return 0;
    if (!json_is_string(v))
        return type_error(d, "a string", v);
    /* mpp_json_parse refuses \u0000, but a json_t built in memory may still hold one. */
    if (json_string_length(v) != strlen(json_string_value(v)))
        return dec_fail(d, -EBADMSG, "the string contains a NUL character");
    if (empty_is_unset && json_string_length(v) == 0)
        return 0;
    char *s = strdup(json_string_value(v));
    if (!s)
        return nomem(d);
    free(*out);
    *out = s;
    return 0;
}

static int dec_string(dec *d, const json_t *v, void *out)
{
    return string_value(d, v, false, out);
}

/* A string of a Pattern. "" counts as unset: Go's omitempty never sends it, and an empty Prefix
 * (or Type, Scope...) would mean "don't care" anyway, so one representation is kept: NULL. */
static int dec_pattern_string(dec *d, const json_t *v, void *out)
{
    return string_value(d, v, true, out);
}

static int dec_bool(dec *d, const json_t *v, void *out)
{
    if (absent(v))
        return 0;
    if (!json_is_boolean(v))
        return type_error(d, "a boolean", v);
    *(bool *)out = json_is_true(v);
    return 0;
}

/* A *bool of Go: absent or null leaves MPP_UNSET. */
static int dec_tristate(dec *d, const json_t *v, void *out)
{
    if (absent(v))
        return 0;
    if (!json_is_boolean(v))
        return type_error(d, "a boolean", v);
    *(mpp_tristate *)out = json_is_true(v) ? MPP_TRUE : MPP_FALSE;
    return 0;
}

static void clear_string(void *p)
{
    char **s = p;
    free(*s);
    *s = NULL;
}

/* ---- Data model decoders ---- */

static int dec_strmap(dec *d, const json_t *v, void *out)
{
    mpp_strmap *m = out;
    if (absent(v))
        return 0;
    if (!json_is_object(v))
        return type_error(d, "an object of strings", v);
    size_t count = json_object_size(v);
    if (count > MAX_ELEMENTS)
        return dec_fail(d, -E2BIG, "%zu members, over the limit of %u", count, MAX_ELEMENTS);
    if (count == 0)
        return 0;
    m->items = calloc(count, sizeof(*m->items));
    if (!m->items)
        return nomem(d);
    /* Zeroed entries are safe to clear, so the caller's clear frees a partial map. */
    m->n = count;
    size_t i = 0;
    const char *key;
    size_t key_len;
    json_t *value;
    json_object_keylen_foreach((json_t *)v, key, key_len, value)
    {
        size_t saved = path_push(d, "[\"%s\"]", key);
        int r = 0;
        if (key_len != strlen(key))
            r = dec_fail(d, -EBADMSG, "the key contains a NUL character");
        else if (!(m->items[i].key = strdup(key)))
            r = nomem(d);
        /* Go decodes a null map value as "". */
        else if (json_is_null(value))
            m->items[i].value = strdup("");
        else
            r = string_value(d, value, false, &m->items[i].value);
        if (r >= 0 && !m->items[i].value)
            r = nomem(d);
        path_pop(d, saved);
        if (r < 0)
            return r;
        i++;
    }
    return 0;
}

static int dec_changes(dec *d, const json_t *v, void *out)
{
    static const field_spec fields[] = {
        {"EffectiveSource", dec_string, offsetof(mpp_changes, effective_source)},
        {"EffectiveConsistency", dec_string, offsetof(mpp_changes, effective_consistency)},
    };
    return dec_object(d, v, fields, ELEMENTSOF(fields), out);
}

static int dec_applied(dec *d, const json_t *v, void *out)
{
    static const field_spec fields[] = {
        {"Name", dec_string, offsetof(mpp_applied, name)},
        {"Changes", dec_changes, offsetof(mpp_applied, changes)},
    };
    return dec_object(d, v, fields, ELEMENTSOF(fields), out);
}

static void clear_applied(void *p)
{
    mpp_applied *a = p;
    free(a->name);
    mpp_changes_clear(&a->changes);
    memset(a, 0, sizeof(*a));
}

static int dec_mount_applied(dec *d, const json_t *v, void *out)
{
    mpp_mount *m = out;
    void *items = NULL;
    int r = dec_array(d, v, sizeof(*m->applied), dec_applied, clear_applied, &items, &m->n_applied);
    m->applied = items;
    return r;
}

/* The field_spec of each kind of member of mpp_mount (mount-fields.h). An object's decoder, and
 * AppliedMiddleware's, take the whole mount (offset 0). */
#define MSPEC_STR(key, id, mm) {key, dec_string, offsetof(mpp_mount, mm)},
#define MSPEC_STR_ALWAYS(key, id, mm) {key, dec_string, offsetof(mpp_mount, mm)},
#define MSPEC_BOOL(key, id, mm) {key, dec_bool, offsetof(mpp_mount, mm)},
#define MSPEC_MAP(key, id, mm) {key, dec_strmap, offsetof(mpp_mount, mm)},
#define MSPEC_OBJ(key, id, mm) {key, dec_mount_##id, 0},
#define MSPEC_APPLIED(key, id, mm) {key, dec_mount_applied, 0},
#define MSPEC(want, group, id, key, mk, mm, pk, pm)                                                \
    MPP_FIELD_IF(group, want, MSPEC_##mk(key, id, mm))
#define MSPEC_IN_VOLUME(...) MSPEC(VOLUME, __VA_ARGS__)
#define MSPEC_IN_CONTAINER(...) MSPEC(CONTAINER, __VA_ARGS__)
#define MSPEC_IN_IMAGE(...) MSPEC(IMAGE, __VA_ARGS__)
#define MSPEC_IN_ROOT(...) MSPEC(ROOT, __VA_ARGS__)

static int dec_mount_VOLUME(dec *d, const json_t *v, void *out)
{
    static const field_spec fields[] = {MPP_MOUNT_FIELDS(MSPEC_IN_VOLUME)};
    return dec_object(d, v, fields, ELEMENTSOF(fields), out);
}

static int dec_mount_CONTAINER(dec *d, const json_t *v, void *out)
{
    static const field_spec fields[] = {MPP_MOUNT_FIELDS(MSPEC_IN_CONTAINER)};
    return dec_object(d, v, fields, ELEMENTSOF(fields), out);
}

static int dec_mount_IMAGE(dec *d, const json_t *v, void *out)
{
    static const field_spec fields[] = {MPP_MOUNT_FIELDS(MSPEC_IN_IMAGE)};
    return dec_object(d, v, fields, ELEMENTSOF(fields), out);
}

/* Leaves a partial mount on error: the caller clears it. */
static int dec_mount(dec *d, const json_t *v, void *out)
{
    static const field_spec fields[] = {MPP_MOUNT_FIELDS(MSPEC_IN_ROOT)};
    return dec_object(d, v, fields, ELEMENTSOF(fields), out);
}

static void clear_mount(void *p)
{
    mpp_mount_clear(p);
}

static int dec_action(dec *d, const json_t *v, void *out)
{
    mpp_action *a = out;
    if (!absent(v) && !json_is_object(v))
        return type_error(d, "an object", v);
    int found = -1;
    for (int k = MPP_ACTION_REMOVE; k <= MPP_ACTION_FATAL; k++) {
        if (absent(json_object_get(v, mpp_action_kind_to_string(k))))
            continue;
        if (found >= 0)
            return dec_fail(d, -EBADMSG,
                            "both %s and %s given; expected exactly one of " ACTION_KEYS,
                            mpp_action_kind_to_string(found), mpp_action_kind_to_string(k));
        found = k;
    }
    if (found < 0)
        return dec_fail(d, -EBADMSG, "expected exactly one of " ACTION_KEYS ", got none");
    a->kind = (mpp_action_kind)found;
    return dec_field(d, v, mpp_action_kind_to_string(a->kind), dec_string, &a->arg);
}

static void clear_action(void *p)
{
    mpp_action *a = p;
    free(a->arg);
    a->arg = NULL;
}

/* ---- Pattern decoders ---- */

static int dec_string_pattern(dec *d, const json_t *v, void *out)
{
    static const field_spec fields[] = {
        {"Not", dec_bool, offsetof(mpp_string_pattern, not_)},
        {"Empty", dec_bool, offsetof(mpp_string_pattern, empty)},
        {"Prefix", dec_pattern_string, offsetof(mpp_string_pattern, prefix)},
        {"PathPrefix", dec_pattern_string, offsetof(mpp_string_pattern, path_prefix)},
        {"Suffix", dec_pattern_string, offsetof(mpp_string_pattern, suffix)},
        {"PathContains", dec_pattern_string, offsetof(mpp_string_pattern, path_contains)},
        {"Exactly", dec_pattern_string, offsetof(mpp_string_pattern, exactly)},
        {"Contains", dec_pattern_string, offsetof(mpp_string_pattern, contains)},
    };
    return dec_object(d, v, fields, ELEMENTSOF(fields), out);
}

static void clear_string_pattern(void *p)
{
    mpp_string_pattern_clear(p);
}

static void string_patterns_clear(mpp_string_patterns *ps)
{
    for (size_t i = 0; i < ps->n; i++)
        mpp_string_pattern_clear(&ps->items[i]);
    free(ps->items);
    ps->items = NULL;
    ps->n = 0;
}

static int dec_string_patterns(dec *d, const json_t *v, void *out)
{
    mpp_string_patterns *ps = out;
    void *items = NULL;
    int r = dec_array(d, v, sizeof(*ps->items), dec_string_pattern, clear_string_pattern, &items,
                      &ps->n);
    ps->items = items;
    return r;
}

static int dec_kv_pattern(dec *d, const json_t *v, void *out)
{
    static const field_spec fields[] = {
        {"Key", dec_string_pattern, offsetof(mpp_kv_pattern, key)},
        {"Value", dec_string_pattern, offsetof(mpp_kv_pattern, value)},
    };
    return dec_object(d, v, fields, ELEMENTSOF(fields), out);
}

static void clear_kv_pattern(void *p)
{
    mpp_kv_pattern *kv = p;
    mpp_string_pattern_clear(&kv->key);
    mpp_string_pattern_clear(&kv->value);
}

static void kv_patterns_free(mpp_kv_pattern *kv, size_t n)
{
    for (size_t i = 0; i < n; i++)
        clear_kv_pattern(&kv[i]);
    free(kv);
}

static int dec_strmap_pattern(dec *d, const json_t *v, void *out)
{
    mpp_strmap_pattern *p = out;
    if (absent(v))
        return 0;
    if (!json_is_object(v))
        return type_error(d, "an object", v);
    int r = dec_field(d, v, "Not", dec_bool, &p->not_);
    if (r >= 0)
        r = DEC_FIELD_ARRAY(d, v, "Exists", dec_kv_pattern, clear_kv_pattern, p->exists,
                            p->n_exists);
    if (r >= 0)
        r = DEC_FIELD_ARRAY(d, v, "All", dec_kv_pattern, clear_kv_pattern, p->all, p->n_all);
    return r;
}

static void clear_strmap_pattern(void *p)
{
    mpp_strmap_pattern *smp = p;
    kv_patterns_free(smp->exists, smp->n_exists);
    kv_patterns_free(smp->all, smp->n_all);
    memset(smp, 0, sizeof(*smp));
}

static int dec_strmap_patterns(dec *d, const json_t *v, void *out)
{
    mpp_strmap_patterns *ps = out;
    void *items = NULL;
    int r = dec_array(d, v, sizeof(*ps->items), dec_strmap_pattern, clear_strmap_pattern, &items,
                      &ps->n);
    ps->items = items;
    return r;
}

static int dec_applied_changes_pattern(dec *d, const json_t *v, void *out)
{
    static const field_spec fields[] = {
        {"EffectiveSource", dec_string_patterns,
         offsetof(mpp_applied_pattern, changes_effective_source)},
        {"EffectiveConsistency", dec_pattern_string,
         offsetof(mpp_applied_pattern, changes_effective_consistency)},
    };
    return dec_object(d, v, fields, ELEMENTSOF(fields), out);
}

static int dec_applied_pattern(dec *d, const json_t *v, void *out)
{
    mpp_applied_pattern *ap = out;
    if (absent(v))
        return 0;
    if (!json_is_object(v))
        return type_error(d, "an object", v);
    int r = dec_field(d, v, "Name", dec_string_patterns, &ap->name);
    if (r >= 0) /* Changes fills two members of the applied pattern itself. */
        r = dec_field(d, v, "Changes", dec_applied_changes_pattern, ap);
    return r;
}

static void clear_applied_pattern(void *p)
{
    mpp_applied_pattern *ap = p;
    string_patterns_clear(&ap->name);
    string_patterns_clear(&ap->changes_effective_source);
    free(ap->changes_effective_consistency);
    ap->changes_effective_consistency = NULL;
}

static int dec_applied_patterns(dec *d, const json_t *v, void *out)
{
    mpp_applied_patterns *ps = out;
    void *items = NULL;
    int r = dec_array(d, v, sizeof(*ps->items), dec_applied_pattern, clear_applied_pattern, &items,
                      &ps->n);
    ps->items = items;
    return r;
}

static int dec_stack_pattern(dec *d, const json_t *v, void *out)
{
    mpp_stack_pattern *sp = out;
    if (absent(v))
        return 0;
    if (!json_is_object(v))
        return type_error(d, "an object", v);
    for (int op = 0; op < _MPP_STACK_OP_MAX; op++) {
        int r = dec_field(d, v, stack_op_key[op], dec_applied_patterns, &sp->op[op]);
        if (r >= 0)
            r = dec_field(d, v, stack_not_op_key[op], dec_applied_patterns, &sp->not_op[op]);
        if (r < 0)
            return r;
    }
    return 0;
}

/* The field_spec of each kind of member of mpp_pattern (mount-fields.h); an object's decoder
 * takes the whole pattern (offset 0). */
#define PSPEC_SLIST(key, id, pm) {key, dec_string_patterns, offsetof(mpp_pattern, pm)},
#define PSPEC_EFFECTIVE_SOURCE PSPEC_SLIST
#define PSPEC_ATOM(key, id, pm) {key, dec_pattern_string, offsetof(mpp_pattern, pm)},
#define PSPEC_TYPE PSPEC_ATOM
#define PSPEC_CONSISTENCY PSPEC_ATOM
#define PSPEC_EFFECTIVE_CONSISTENCY PSPEC_ATOM
#define PSPEC_TRI(key, id, pm) {key, dec_tristate, offsetof(mpp_pattern, pm)},
#define PSPEC_MAPS(key, id, pm) {key, dec_strmap_patterns, offsetof(mpp_pattern, pm)},
#define PSPEC_STACK(key, id, pm) {key, dec_stack_pattern, offsetof(mpp_pattern, pm)},
#define PSPEC_OBJ(key, id, pm) {key, dec_pattern_##id, 0},
#define PSPEC_NONE(key, id, pm)
#define PSPEC(want, group, id, key, mk, mm, pk, pm)                                                \
    MPP_FIELD_IF(group, want, PSPEC_##pk(key, id, pm))
#define PSPEC_IN_VOLUME(...) PSPEC(VOLUME, __VA_ARGS__)
#define PSPEC_IN_CONTAINER(...) PSPEC(CONTAINER, __VA_ARGS__)
#define PSPEC_IN_IMAGE(...) PSPEC(IMAGE, __VA_ARGS__)
#define PSPEC_IN_ROOT(...) PSPEC(ROOT, __VA_ARGS__)

static int dec_pattern_VOLUME(dec *d, const json_t *v, void *out)
{
    static const field_spec fields[] = {MPP_MOUNT_FIELDS(PSPEC_IN_VOLUME)};
    return dec_object(d, v, fields, ELEMENTSOF(fields), out);
}

static int dec_pattern_CONTAINER(dec *d, const json_t *v, void *out)
{
    static const field_spec fields[] = {MPP_MOUNT_FIELDS(PSPEC_IN_CONTAINER)};
    return dec_object(d, v, fields, ELEMENTSOF(fields), out);
}

static int dec_pattern_IMAGE(dec *d, const json_t *v, void *out)
{
    static const field_spec fields[] = {MPP_MOUNT_FIELDS(PSPEC_IN_IMAGE)};
    return dec_object(d, v, fields, ELEMENTSOF(fields), out);
}

/* Leaves a partial pattern on error: the caller clears it. */
static int dec_pattern(dec *d, const json_t *v, void *out)
{
    static const field_spec fields[] = {MPP_MOUNT_FIELDS(PSPEC_IN_ROOT)};
    mpp_pattern_init(out);
    return dec_object(d, v, fields, ELEMENTSOF(fields), out);
}

static void clear_pattern(void *p)
{
    mpp_pattern_clear(p);
    memset(p, 0, sizeof(mpp_pattern));
}

/* ---- Message decoders ---- */

static int dec_activate_response(dec *d, const json_t *v, void *out)
{
    mpp_activate_response *r = out;
    return DEC_FIELD_ARRAY(d, v, "Implements", dec_string, clear_string, r->implements,
                           r->n_implements);
}

static int dec_properties_response(dec *d, const json_t *v, void *out)
{
    mpp_properties_response *p = out;
    int r = dec_field(d, v, "Success", dec_bool, &p->success);
    if (r >= 0)
        r = DEC_FIELD_ARRAY(d, v, "Patterns", dec_pattern, clear_pattern, p->patterns,
                            p->n_patterns);
    if (r >= 0)
        r = dec_field(d, v, "Err", dec_string, &p->err);
    return r;
}

static int dec_attach_request(dec *d, const json_t *v, void *out)
{
    mpp_attach_request *a = out;
    int r = dec_field(d, v, "ID", dec_string, &a->id);
    if (r >= 0)
        r = DEC_FIELD_ARRAY(d, v, "Mounts", dec_mount, clear_mount, a->mounts, a->n_mounts);
    return r;
}

static int dec_attachment(dec *d, const json_t *v, void *out)
{
    mpp_attachment *a = out;
    if (absent(v))
        return 0;
    if (!json_is_object(v))
        return type_error(d, "an object", v);
    _cleanup_free_ char *new_mount_point = NULL;
    int r = dec_field(d, v, "Attach", dec_bool, &a->attach);
    if (r >= 0)
        r = dec_field(d, v, "Changes", dec_changes, &a->changes);
    if (r >= 0)
        r = DEC_FIELD_ARRAY(d, v, "EmergencyDetach", dec_action, clear_action, a->emergency,
                            a->n_emergency);
    if (r >= 0)
        r = dec_field(d, v, "NewMountPoint", dec_string, &new_mount_point);
    if (r < 0)
        return r;
    /* The v1 form {"Attach": true, "NewMountPoint": p}: a non-empty Changes.EffectiveSource
     * wins when both are given. */
    if (isempty(a->changes.effective_source) && !isempty(new_mount_point)) {
        free(a->changes.effective_source);
        a->changes.effective_source = TAKE_PTR(new_mount_point);
    }
    return 0;
}

static void clear_attachment(void *p)
{
    mpp_attachment_clear(p);
}

static int dec_attach_response(dec *d, const json_t *v, void *out)
{
    mpp_attach_response *a = out;
    int r = dec_field(d, v, "Success", dec_bool, &a->success);
    if (r >= 0)
        r = DEC_FIELD_ARRAY(d, v, "Attachments", dec_attachment, clear_attachment, a->attachments,
                            a->n_attachments);
    if (r >= 0)
        r = dec_field(d, v, "Err", dec_string, &a->err);
    if (r >= 0)
        r = dec_field(d, v, "StateDir", dec_string, &a->state_dir);
    return r;
}

static int dec_exit_status(dec *d, const json_t *v, void *out)
{
    mpp_detach_request *req = out;
    if (absent(v))
        return 0;
    if (!json_is_integer(v))
        return type_error(d, "an integer", v);
    json_int_t s = json_integer_value(v);
    if (s < INT_MIN || s > INT_MAX)
        return dec_fail(d, -EBADMSG, "%" JSON_INTEGER_FORMAT " does not fit in an int", s);
    req->exit_status = (int)s;
    req->has_exit_status = true;
    return 0;
}

static int dec_detach_request(dec *d, const json_t *v, void *out)
{
    mpp_detach_request *req = out;
    int r = dec_field(d, v, "ID", dec_string, &req->id);
    if (r >= 0)
        r = DEC_FIELD_ARRAY(d, v, "Mounts", dec_mount, clear_mount, req->mounts, req->n_mounts);
    if (r >= 0)
        r = dec_field(d, v, "ExitStatus", dec_exit_status, req);
    return r;
}

static int dec_detach_response(dec *d, const json_t *v, void *out)
{
    static const field_spec fields[] = {
        {"Success", dec_bool, offsetof(mpp_detach_response, success)},
        {"Recoverable", dec_bool, offsetof(mpp_detach_response, recoverable)},
        {"Err", dec_string, offsetof(mpp_detach_response, err)},
    };
    return dec_object(d, v, fields, ELEMENTSOF(fields), out);
}

static int dec_err_body(dec *d, const json_t *v, void *out)
{
    return dec_field(d, v, "Err", dec_string, out);
}

/* ---- Parsing ---- */

enum { LIMIT_OK, LIMIT_DEPTH, LIMIT_ELEMENTS };

/* Recursion stops at MPP_CODEC_MAX_DEPTH + 1, so the walk itself is bounded. */
static int check_limits(const json_t *j, unsigned depth)
{
    if (!json_is_object(j) && !json_is_array(j))
        return LIMIT_OK;
    if (++depth > MPP_CODEC_MAX_DEPTH)
        return LIMIT_DEPTH;
    if (json_is_array(j)) {
        if (json_array_size(j) > MAX_ELEMENTS)
            return LIMIT_ELEMENTS;
        size_t i;
        json_t *e;
        json_array_foreach(j, i, e)
        {
            int r = check_limits(e, depth);
            if (r != LIMIT_OK)
                return r;
        }
    } else {
        if (json_object_size(j) > MAX_ELEMENTS)
            return LIMIT_ELEMENTS;
        const char *k;
        json_t *e;
        json_object_foreach((json_t *)j, k, e)
        {
            int r = check_limits(e, depth);
            if (r != LIMIT_OK)
                return r;
        }
    }
    return LIMIT_OK;
}

static int parse_error(const json_error_t *je, const char *origin, mpp_error *err)
{
    const char *what;
    switch (json_error_code(je)) {
    case json_error_out_of_memory:
        return mpp_error_set(err, -ENOMEM, "%s: out of memory", origin);
    case json_error_stack_overflow:
        return mpp_error_set(err, -EBADMSG,
                             "%s: line %d column %d: JSON nested deeper than %d levels", origin,
                             je->line, je->column, MPP_CODEC_MAX_DEPTH);
    case json_error_null_character:
    case json_error_null_byte_in_key:
        return mpp_error_set(err, -EBADMSG,
                             "%s: line %d column %d: a string contains a NUL character (\\u0000), "
                             "which mpp does not accept",
                             origin, je->line, je->column);
    case json_error_invalid_utf8:
        what = "invalid UTF-8: ";
        break;
    case json_error_duplicate_key:
        /* Readers differ on which one counts (Go's takes the last): refused, not guessed. */
        what = "a key appears twice in one object: ";
        break;
    case json_error_premature_end_of_input:
        what = "truncated JSON: ";
        break;
    case json_error_numeric_overflow:
        what = "number out of range: ";
        break;
    default:
        what = "invalid JSON: ";
        break;
    }
    return mpp_error_set(err, -EBADMSG, "%s: line %d column %d: %s%s", origin, je->line, je->column,
                         what, je->text);
}

static int json_parse_flags(const char *text, size_t len, size_t flags, const char *origin,
                            json_t **out, mpp_error *err)
{
    *out = NULL;
    if (isempty(origin))
        origin = "JSON document";
    if (len > MPP_CODEC_MAX_INPUT)
        return mpp_error_set(err, -E2BIG, "%s: %zu bytes, over the limit of %u bytes", origin, len,
                             MPP_CODEC_MAX_INPUT);
    if (!text && len > 0)
        return mpp_error_set(err, -EINVAL, "%s: no text", origin);
    size_t skip = 0;
    while (skip < len && text[skip] != '\0' && strchr(" \t\r\n", text[skip]))
        skip++;
    if (skip == len)
        return mpp_error_set(err, -EBADMSG, "%s: empty document", origin);

    json_error_t je;
    json_t *j = json_loadb(text, len, JSON_DECODE_ANY | flags, &je);
    if (!j)
        return parse_error(&je, origin, err);
    switch (check_limits(j, 0)) {
    case LIMIT_DEPTH:
        json_decref(j);
        return mpp_error_set(err, -EBADMSG, "%s: JSON nested deeper than %d levels", origin,
                             MPP_CODEC_MAX_DEPTH);
    case LIMIT_ELEMENTS:
        json_decref(j);
        return mpp_error_set(err, -E2BIG, "%s: an array or object has more than %u elements",
                             origin, MAX_ELEMENTS);
    }
    *out = j;
    return 0;
}

int mpp_json_parse(const char *text, size_t len, const char *origin, json_t **out, mpp_error *err)
{
    return json_parse_flags(text, len, 0, origin, out, err);
}

int mpp_json_parse_unique(const char *text, size_t len, const char *origin, json_t **out,
                          mpp_error *err)
{
    return json_parse_flags(text, len, JSON_REJECT_DUPLICATES, origin, out, err);
}

int mpp_json_dump(const json_t *j, char **out, mpp_error *err)
{
    *out = NULL;
    if (!j)
        return mpp_error_set(err, -EINVAL, "no JSON value to write");
    *out = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!*out)
        return mpp_error_set(err, -ENOMEM, "out of memory writing JSON");
    return 0;
}

/* ---- Public decoders ---- */

typedef enum {
    TOP_OBJECT,
    TOP_ARRAY, /* or null: an empty list */
} top_kind;

/* Parse a whole document and run fn on its top-level value. Leaves a partial *out on error. */
static int decode_doc(const char *json, size_t len, const char *origin, top_kind top, decode_fn fn,
                      void *out, mpp_error *err)
{
    json_auto_t *root = NULL;
    int r = mpp_json_parse(json, len, origin, &root, err);
    if (r < 0)
        return r;
    if (top == TOP_OBJECT && !json_is_object(root))
        return mpp_error_set(err, -EBADMSG, "%s: expected an object at the top level, got %s",
                             origin, mpp_json_type_name(root));
    if (top == TOP_ARRAY && !json_is_array(root) && !json_is_null(root))
        return mpp_error_set(err, -EBADMSG, "%s: expected an array at the top level, got %s",
                             origin, mpp_json_type_name(root));
    dec d;
    dec_init(&d, "", err);
    r = fn(&d, root, out);
    if (r < 0)
        mpp_error_prefix(err, "%s", origin);
    return r;
}

int mpp_decode_activate_response(const char *json, size_t len, mpp_activate_response *out,
                                 mpp_error *err)
{
    memset(out, 0, sizeof(*out));
    int r = decode_doc(json, len, "activate response", TOP_OBJECT, dec_activate_response, out, err);
    if (r < 0)
        mpp_activate_response_clear(out);
    return r;
}

int mpp_decode_properties_response(const char *json, size_t len, mpp_properties_response *out,
                                   mpp_error *err)
{
    memset(out, 0, sizeof(*out));
    int r =
        decode_doc(json, len, "properties response", TOP_OBJECT, dec_properties_response, out, err);
    if (r < 0)
        mpp_properties_response_clear(out);
    return r;
}

int mpp_decode_attach_request(const char *json, size_t len, mpp_attach_request *out, mpp_error *err)
{
    memset(out, 0, sizeof(*out));
    int r = decode_doc(json, len, "attach request", TOP_OBJECT, dec_attach_request, out, err);
    if (r < 0)
        mpp_attach_request_clear(out);
    return r;
}

int mpp_decode_attach_response(const char *json, size_t len, mpp_attach_response *out,
                               mpp_error *err)
{
    memset(out, 0, sizeof(*out));
    int r = decode_doc(json, len, "attach response", TOP_OBJECT, dec_attach_response, out, err);
    if (r < 0)
        mpp_attach_response_clear(out);
    return r;
}

int mpp_decode_detach_request(const char *json, size_t len, mpp_detach_request *out, mpp_error *err)
{
    memset(out, 0, sizeof(*out));
    int r = decode_doc(json, len, "detach request", TOP_OBJECT, dec_detach_request, out, err);
    if (r < 0)
        mpp_detach_request_clear(out);
    return r;
}

int mpp_decode_detach_response(const char *json, size_t len, mpp_detach_response *out,
                               mpp_error *err)
{
    memset(out, 0, sizeof(*out));
    int r = decode_doc(json, len, "detach response", TOP_OBJECT, dec_detach_response, out, err);
    if (r < 0)
        mpp_detach_response_clear(out);
    return r;
}

int mpp_decode_mount(const char *json, size_t len, mpp_mount *out, mpp_error *err)
{
    memset(out, 0, sizeof(*out));
    int r = decode_doc(json, len, "MountPoint", TOP_OBJECT, dec_mount, out, err);
    if (r < 0)
        mpp_mount_clear(out);
    return r;
}

int mpp_decode_pattern(const char *json, size_t len, mpp_pattern *out, mpp_error *err)
{
    mpp_pattern_init(out);
    int r = decode_doc(json, len, "Pattern", TOP_OBJECT, dec_pattern, out, err);
    if (r < 0)
        clear_pattern(out);
    return r;
}

typedef struct list_out {
    void *items;
    size_t n;
} list_out;

static int dec_pattern_list(dec *d, const json_t *v, void *out)
{
    list_out *l = out;
    return dec_array(d, v, sizeof(mpp_pattern), dec_pattern, clear_pattern, &l->items, &l->n);
}

static int dec_mount_list(dec *d, const json_t *v, void *out)
{
    list_out *l = out;
    return dec_array(d, v, sizeof(mpp_mount), dec_mount, clear_mount, &l->items, &l->n);
}

int mpp_decode_patterns(const char *json, size_t len, mpp_pattern **out, size_t *n_out,
                        mpp_error *err)
{
    list_out l = {0};
    int r = decode_doc(json, len, "Patterns", TOP_ARRAY, dec_pattern_list, &l, err);
    *out = l.items;
    *n_out = l.n;
    return r;
}

int mpp_decode_mounts(const char *json, size_t len, mpp_mount **out, size_t *n_out, mpp_error *err)
{
    list_out l = {0};
    int r = decode_doc(json, len, "MountPoints", TOP_ARRAY, dec_mount_list, &l, err);
    *out = l.items;
    *n_out = l.n;
    return r;
}

int mpp_decode_err_body(const char *json, size_t len, char **msg, mpp_error *err)
{
    *msg = NULL;
    int r = decode_doc(json, len, "error body", TOP_OBJECT, dec_err_body, msg, err);
    if (r < 0) {
        free(*msg);
        *msg = NULL;
    }
    return r;
}

/* ---- jansson-level decoders (codec-json.h) ---- */

int mpp_mount_from_json(const json_t *j, const char *where, mpp_mount *out, mpp_error *err)
{
    dec d;
    dec_init(&d, where, err);
    memset(out, 0, sizeof(*out));
    int r = dec_mount(&d, j, out);
    if (r < 0)
        mpp_mount_clear(out);
    return r;
}

int mpp_changes_from_json(const json_t *j, const char *where, mpp_changes *out, mpp_error *err)
{
    dec d;
    dec_init(&d, where, err);
    memset(out, 0, sizeof(*out));
    int r = dec_changes(&d, j, out);
    if (r < 0)
        mpp_changes_clear(out);
    return r;
}

int mpp_actions_from_json(const json_t *j, const char *where, mpp_action **out, size_t *n,
                          mpp_error *err)
{
    dec d;
    dec_init(&d, where, err);
    void *items = NULL;
    int r = dec_array(&d, j, sizeof(mpp_action), dec_action, clear_action, &items, n);
    *out = items;
    return r;
}

int mpp_pattern_from_json(const json_t *j, const char *where, mpp_pattern *out, mpp_error *err)
{
    dec d;
    dec_init(&d, where, err);
    int r = dec_pattern(&d, j, out);
    if (r < 0)
        clear_pattern(out);
    return r;
}

int mpp_strmap_from_json(const json_t *j, const char *where, mpp_strmap *out, mpp_error *err)
{
    dec d;
    dec_init(&d, where, err);
    memset(out, 0, sizeof(*out));
    int r = dec_strmap(&d, j, out);
    if (r < 0)
        mpp_strmap_clear(out);
    return r;
}

/* ---- Encoders ---- */

/* Length of the valid UTF-8 sequence at s (RFC 3629: no overlong forms, no surrogates, nothing
 * above U+10FFFF), or 0 if it is not valid. */
static size_t utf8_sequence(const unsigned char *s, size_t left)
{
    unsigned char lo = 0x80, hi = 0xBF;
    size_t n;
    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xC2 && s[0] <= 0xDF)
        n = 2;
    else if (s[0] == 0xE0)
        n = 3, lo = 0xA0;
    else if (s[0] == 0xED)
        n = 3, hi = 0x9F;
    else if (s[0] >= 0xE1 && s[0] <= 0xEF)
        n = 3;
    else if (s[0] == 0xF0)
        n = 4, lo = 0x90;
    else if (s[0] == 0xF4)
        n = 4, hi = 0x8F;
    else if (s[0] >= 0xF1 && s[0] <= 0xF3)
        n = 4;
    else
        return 0;
    if (left < n || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    return n;
}

/* A copy of s where each byte that is not valid UTF-8 becomes U+FFFD, as Go's encoder does
 * (host paths are bytes, JSON strings are Unicode). NULL if s is valid as is, or on ENOMEM
 * (*fail set). */
static char *utf8_sanitize(const char *s, bool *fail)
{
    size_t len = strlen(s), i = 0;
    while (i < len) {
        size_t n = utf8_sequence((const unsigned char *)s + i, len - i);
        if (n == 0)
            break;
        i += n;
    }
    if (i == len)
        return NULL;
    char *out = malloc(len * 3 + 1);
    if (!out) {
        *fail = true;
        return NULL;
    }
    size_t o = 0;
    for (i = 0; i < len;) {
        size_t n = utf8_sequence((const unsigned char *)s + i, len - i);
        if (n == 0) {
            memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i++;
        } else {
            memcpy(out + o, s + i, n);
            o += n;
            i += n;
        }
    }
    out[o] = '\0';
    return out;
}

static json_t *jstr(const char *s)
{
    bool fail = false;
    s = strempty(s);
    _cleanup_free_ char *clean = utf8_sanitize(s, &fail);
    if (fail)
        return NULL;
    return json_string_nocheck(clean ? clean : s);
}

/* Take v (NULL = ENOMEM) into o under key. */
static int put(json_t *o, const char *key, json_t *v)
{
    bool fail = false;
    _cleanup_free_ char *clean = utf8_sanitize(strempty(key), &fail);
    if (fail) {
        json_decref(v);
        return -1;
    }
    return json_object_set_new_nocheck(o, clean ? clean : strempty(key), v);
}

static int put_str(json_t *o, const char *key, const char *s)
{
    return put(o, key, jstr(s));
}

static int put_str_opt(json_t *o, const char *key, const char *s)
{
    return isempty(s) ? 0 : put_str(o, key, s);
}

static int put_true_opt(json_t *o, const char *key, bool b)
{
    return b ? put(o, key, json_true()) : 0;
}

/* Put v unless it is an empty object or array (omitempty). */
static int put_opt(json_t *o, const char *key, json_t *v)
{
    if (v && ((json_is_object(v) && json_object_size(v) == 0) ||
              (json_is_array(v) && json_array_size(v) == 0))) {
        json_decref(v);
        return 0;
    }
    return put(o, key, v);
}

static int append(json_t *a, json_t *v)
{
    return json_array_append_new(a, v);
}

json_t *mpp_strmap_to_json(const mpp_strmap *m)
{
    json_auto_t *o = json_object();
    if (!o)
        return NULL;
    for (size_t i = 0; i < m->n; i++)
        if (put_str(o, m->items[i].key, m->items[i].value) < 0)
            return NULL;
    return TAKE_PTR(o);
}

json_t *mpp_changes_to_json(const mpp_changes *c)
{
    json_auto_t *o = json_object();
    if (!o || put_str_opt(o, "EffectiveSource", c->effective_source) < 0 ||
        put_str_opt(o, "EffectiveConsistency", c->effective_consistency) < 0)
        return NULL;
    return TAKE_PTR(o);
}

static json_t *applied_to_json(const mpp_applied *a)
{
    json_auto_t *o = json_object();
    if (!o || put_str(o, "Name", a->name) < 0 ||
        put(o, "Changes", mpp_changes_to_json(&a->changes)) < 0)
        return NULL;
    return TAKE_PTR(o);
}

static json_t *applied_list_to_json(const mpp_applied *a, size_t n)
{
    json_auto_t *list = json_array();
    if (!list)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (append(list, applied_to_json(&a[i])) < 0)
            return NULL;
    return TAKE_PTR(list);
}

/* How each kind of member of mpp_mount is written (mount-fields.h): a term of an || chain that
 * is true on failure. */
#define MENC_STR(key, id, mm) put_str_opt(o, key, m->mm) < 0 ||
#define MENC_STR_ALWAYS(key, id, mm) put_str(o, key, m->mm) < 0 ||
#define MENC_BOOL(key, id, mm) put_true_opt(o, key, m->mm) < 0 ||
#define MENC_MAP(key, id, mm) put_opt(o, key, mpp_strmap_to_json(&m->mm)) < 0 ||
#define MENC_OBJ(key, id, mm) put(o, key, mount_##id##_to_json(m)) < 0 ||
#define MENC_APPLIED(key, id, mm) put(o, key, applied_list_to_json(m->mm, m->n_##mm)) < 0 ||
#define MENC(want, group, id, key, mk, mm, pk, pm) MPP_FIELD_IF(group, want, MENC_##mk(key, id, mm))
#define MENC_IN_VOLUME(...) MENC(VOLUME, __VA_ARGS__)
#define MENC_IN_CONTAINER(...) MENC(CONTAINER, __VA_ARGS__)
#define MENC_IN_IMAGE(...) MENC(IMAGE, __VA_ARGS__)
#define MENC_IN_ROOT(...) MENC(ROOT, __VA_ARGS__)

static json_t *mount_VOLUME_to_json(const mpp_mount *m)
{
    json_auto_t *o = json_object();
    if (!o || MPP_MOUNT_FIELDS(MENC_IN_VOLUME) false)
        return NULL;
    return TAKE_PTR(o);
}

static json_t *mount_CONTAINER_to_json(const mpp_mount *m)
{
    json_auto_t *o = json_object();
    if (!o || MPP_MOUNT_FIELDS(MENC_IN_CONTAINER) false)
        return NULL;
    return TAKE_PTR(o);
}

static json_t *mount_IMAGE_to_json(const mpp_mount *m)
{
    json_auto_t *o = json_object();
    if (!o || MPP_MOUNT_FIELDS(MENC_IN_IMAGE) false)
        return NULL;
    return TAKE_PTR(o);
}

json_t *mpp_mount_to_json(const mpp_mount *m)
{
    json_auto_t *o = json_object();
    if (!o || MPP_MOUNT_FIELDS(MENC_IN_ROOT) false)
        return NULL;
    return TAKE_PTR(o);
}

static json_t *mounts_to_json(const mpp_mount *mounts, size_t n)
{
    json_auto_t *a = json_array();
    if (!a)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (append(a, mpp_mount_to_json(&mounts[i])) < 0)
            return NULL;
    return TAKE_PTR(a);
}

json_t *mpp_actions_to_json(const mpp_action *actions, size_t n)
{
    json_auto_t *a = json_array();
    if (!a)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_object();
        if (append(a, o) < 0 ||
            put_str(o, mpp_action_kind_to_string(actions[i].kind), actions[i].arg) < 0)
            return NULL;
    }
    return TAKE_PTR(a);
}

static json_t *string_pattern_to_json(const mpp_string_pattern *p)
{
    json_auto_t *o = json_object();
    if (!o || put_true_opt(o, "Not", p->not_) < 0 || put_true_opt(o, "Empty", p->empty) < 0 ||
        put_str_opt(o, "Prefix", p->prefix) < 0 ||
        put_str_opt(o, "PathPrefix", p->path_prefix) < 0 ||
        put_str_opt(o, "Suffix", p->suffix) < 0 ||
        put_str_opt(o, "PathContains", p->path_contains) < 0 ||
        put_str_opt(o, "Exactly", p->exactly) < 0 || put_str_opt(o, "Contains", p->contains) < 0)
        return NULL;
    return TAKE_PTR(o);
}

static json_t *string_patterns_to_json(const mpp_string_patterns *ps)
{
    json_auto_t *a = json_array();
    if (!a)
        return NULL;
    for (size_t i = 0; i < ps->n; i++)
        if (append(a, string_pattern_to_json(&ps->items[i])) < 0)
            return NULL;
    return TAKE_PTR(a);
}

static json_t *kv_patterns_to_json(const mpp_kv_pattern *kv, size_t n)
{
    json_auto_t *a = json_array();
    if (!a)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        /* Key is the subject of the element and stays even when empty; an empty Value is the
         * same as an absent one. */
        json_t *o = json_object();
        if (append(a, o) < 0 || put(o, "Key", string_pattern_to_json(&kv[i].key)) < 0 ||
            put_opt(o, "Value", string_pattern_to_json(&kv[i].value)) < 0)
            return NULL;
    }
    return TAKE_PTR(a);
}

static json_t *strmap_patterns_to_json(const mpp_strmap_patterns *ps)
{
    json_auto_t *a = json_array();
    if (!a)
        return NULL;
    for (size_t i = 0; i < ps->n; i++) {
        const mpp_strmap_pattern *p = &ps->items[i];
        json_t *o = json_object();
        if (append(a, o) < 0 || put_true_opt(o, "Not", p->not_) < 0 ||
            put_opt(o, "Exists", kv_patterns_to_json(p->exists, p->n_exists)) < 0 ||
            put_opt(o, "All", kv_patterns_to_json(p->all, p->n_all)) < 0)
            return NULL;
    }
    return TAKE_PTR(a);
}

static json_t *applied_patterns_to_json(const mpp_applied_patterns *ps)
{
    json_auto_t *a = json_array();
    if (!a)
        return NULL;
    for (size_t i = 0; i < ps->n; i++) {
        const mpp_applied_pattern *ap = &ps->items[i];
        json_t *o = json_object();
        json_t *changes = json_object();
        if (append(a, o) < 0 || !changes ||
            put_opt(changes, "EffectiveSource",
                    string_patterns_to_json(&ap->changes_effective_source)) < 0 ||
            put_str_opt(changes, "EffectiveConsistency", ap->changes_effective_consistency) < 0 ||
            put_opt(o, "Name", string_patterns_to_json(&ap->name)) < 0 ||
            put_opt(o, "Changes", TAKE_PTR(changes)) < 0) {
            json_decref(changes);
            return NULL;
        }
    }
    return TAKE_PTR(a);
}

static json_t *stack_pattern_to_json(const mpp_stack_pattern *sp)
{
    json_auto_t *o = json_object();
    if (!o)
        return NULL;
    for (int op = 0; op < _MPP_STACK_OP_MAX; op++)
        if (put_opt(o, stack_op_key[op], applied_patterns_to_json(&sp->op[op])) < 0 ||
            put_opt(o, stack_not_op_key[op], applied_patterns_to_json(&sp->not_op[op])) < 0)
            return NULL;
    return TAKE_PTR(o);
}

static int put_tristate(json_t *o, const char *key, mpp_tristate t)
{
    return t == MPP_UNSET ? 0 : put(o, key, json_boolean(t == MPP_TRUE));
}

/* How each kind of member of mpp_pattern is written (mount-fields.h), as MENC_*. */
#define PENC_SLIST(key, id, pm) put_opt(o, key, string_patterns_to_json(&p->pm)) < 0 ||
#define PENC_EFFECTIVE_SOURCE PENC_SLIST
#define PENC_ATOM(key, id, pm) put_str_opt(o, key, p->pm) < 0 ||
#define PENC_TYPE PENC_ATOM
#define PENC_CONSISTENCY PENC_ATOM
#define PENC_EFFECTIVE_CONSISTENCY PENC_ATOM
#define PENC_TRI(key, id, pm) put_tristate(o, key, p->pm) < 0 ||
#define PENC_MAPS(key, id, pm) put_opt(o, key, strmap_patterns_to_json(&p->pm)) < 0 ||
#define PENC_STACK(key, id, pm) put_opt(o, key, stack_pattern_to_json(&p->pm)) < 0 ||
#define PENC_OBJ(key, id, pm) put_opt(o, key, pattern_##id##_to_json(p)) < 0 ||
#define PENC_NONE(key, id, pm)
#define PENC(want, group, id, key, mk, mm, pk, pm) MPP_FIELD_IF(group, want, PENC_##pk(key, id, pm))
#define PENC_IN_VOLUME(...) PENC(VOLUME, __VA_ARGS__)
#define PENC_IN_CONTAINER(...) PENC(CONTAINER, __VA_ARGS__)
#define PENC_IN_IMAGE(...) PENC(IMAGE, __VA_ARGS__)
#define PENC_IN_ROOT(...) PENC(ROOT, __VA_ARGS__)

static json_t *pattern_VOLUME_to_json(const mpp_pattern *p)
{
    json_auto_t *o = json_object();
    if (!o || MPP_MOUNT_FIELDS(PENC_IN_VOLUME) false)
        return NULL;
    return TAKE_PTR(o);
}

static json_t *pattern_CONTAINER_to_json(const mpp_pattern *p)
{
    json_auto_t *o = json_object();
    if (!o || MPP_MOUNT_FIELDS(PENC_IN_CONTAINER) false)
        return NULL;
    return TAKE_PTR(o);
}

static json_t *pattern_IMAGE_to_json(const mpp_pattern *p)
{
    json_auto_t *o = json_object();
    if (!o || MPP_MOUNT_FIELDS(PENC_IN_IMAGE) false)
        return NULL;
    return TAKE_PTR(o);
}

json_t *mpp_pattern_to_json(const mpp_pattern *p)
{
    json_auto_t *o = json_object();
    if (!o || MPP_MOUNT_FIELDS(PENC_IN_ROOT) false)
        return NULL;
    return TAKE_PTR(o);
}

/* ---- Public encoders ---- */

/* Dump v (NULL = ENOMEM while building it) into *out. */
static int encode_doc(json_t *v, const char *what, char **out, mpp_error *err)
{
    json_auto_t *j = v;
    *out = NULL;
    if (!j)
        return mpp_error_set(err, -ENOMEM, "out of memory encoding %s", what);
    int r = mpp_json_dump(j, out, err);
    if (r < 0)
        mpp_error_prefix(err, "encoding %s", what);
    return r;
}

int mpp_encode_activate_response(const mpp_activate_response *in, char **out, mpp_error *err)
{
    json_auto_t *o = json_object();
    json_auto_t *list = json_array();
    bool ok = o && list;
    for (size_t i = 0; ok && i < in->n_implements; i++)
        ok = append(list, jstr(in->implements[i])) == 0;
    ok = ok && put(o, "Implements", TAKE_PTR(list)) == 0;
    return encode_doc(ok ? TAKE_PTR(o) : NULL, "activate response", out, err);
}

int mpp_encode_properties_response(const mpp_properties_response *in, char **out, mpp_error *err)
{
    json_auto_t *o = json_object();
    json_auto_t *list = json_array();
    bool ok = o && list;
    for (size_t i = 0; ok && i < in->n_patterns; i++)
        ok = append(list, mpp_pattern_to_json(&in->patterns[i])) == 0;
    ok = ok && put(o, "Success", json_boolean(in->success)) == 0 &&
         put(o, "Patterns", TAKE_PTR(list)) == 0 && put_str_opt(o, "Err", in->err) == 0;
    return encode_doc(ok ? TAKE_PTR(o) : NULL, "properties response", out, err);
}

int mpp_encode_attach_request(const mpp_attach_request *in, char **out, mpp_error *err)
{
    json_auto_t *o = json_object();
    bool ok = o && put_str(o, "ID", in->id) == 0 &&
              put(o, "Mounts", mounts_to_json(in->mounts, in->n_mounts)) == 0;
    return encode_doc(ok ? TAKE_PTR(o) : NULL, "attach request", out, err);
}

static json_t *attachment_to_json(const mpp_attachment *a)
{
    json_auto_t *o = json_object();
    if (!o || put(o, "Attach", json_boolean(a->attach)) < 0 ||
        put_opt(o, "Changes", mpp_changes_to_json(&a->changes)) < 0 ||
        put_opt(o, "EmergencyDetach", mpp_actions_to_json(a->emergency, a->n_emergency)) < 0)
        return NULL;
    return TAKE_PTR(o);
}

int mpp_encode_attach_response(const mpp_attach_response *in, char **out, mpp_error *err)
{
    json_auto_t *o = json_object();
    json_auto_t *list = json_array();
    bool ok = o && list;
    for (size_t i = 0; ok && i < in->n_attachments; i++)
        ok = append(list, attachment_to_json(&in->attachments[i])) == 0;
    ok = ok && put(o, "Success", json_boolean(in->success)) == 0 &&
         put_opt(o, "Attachments", TAKE_PTR(list)) == 0 && put_str_opt(o, "Err", in->err) == 0 &&
         put_str_opt(o, "StateDir", in->state_dir) == 0;
    return encode_doc(ok ? TAKE_PTR(o) : NULL, "attach response", out, err);
}

int mpp_encode_detach_request(const mpp_detach_request *in, char **out, mpp_error *err)
{
    json_auto_t *o = json_object();
    bool ok = o && put_str(o, "ID", in->id) == 0 &&
              put_opt(o, "Mounts", mounts_to_json(in->mounts, in->n_mounts)) == 0 &&
              (!in->has_exit_status ||
               put(o, "ExitStatus", json_integer((json_int_t)in->exit_status)) == 0);
    return encode_doc(ok ? TAKE_PTR(o) : NULL, "detach request", out, err);
}

int mpp_encode_detach_response(const mpp_detach_response *in, char **out, mpp_error *err)
{
    json_auto_t *o = json_object();
    bool ok = o && put(o, "Success", json_boolean(in->success)) == 0 &&
              put_true_opt(o, "Recoverable", in->recoverable) == 0 &&
              put_str_opt(o, "Err", in->err) == 0;
    return encode_doc(ok ? TAKE_PTR(o) : NULL, "detach response", out, err);
}

int mpp_encode_mount(const mpp_mount *in, char **out, mpp_error *err)
{
    return encode_doc(mpp_mount_to_json(in), "MountPoint", out, err);
}

int mpp_encode_pattern(const mpp_pattern *in, char **out, mpp_error *err)
{
    return encode_doc(mpp_pattern_to_json(in), "Pattern", out, err);
}

int mpp_encode_mounts(const mpp_mount *in, size_t n, char **out, mpp_error *err)
{
    return encode_doc(mounts_to_json(in, n), "MountPoints", out, err);
}

int mpp_encode_err_body(const char *msg, char **out, mpp_error *err)
{
    json_auto_t *o = json_object();
    bool ok = o && put_str(o, "Err", msg) == 0;
    return encode_doc(ok ? TAKE_PTR(o) : NULL, "error body", out, err);
}
