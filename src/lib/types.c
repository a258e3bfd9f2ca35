/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Destructors and deep copies of the protocol's data model. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <mpp/types.h>

#include "macro.h"
#include "mount-fields.h"

/* The list and the structs agree: a member of mpp_mount the list forgot would be neither
 * copied, freed, sent nor matched. Each JSON object's fields, declared in list order with the
 * types of the real members, must make a struct of the same size and member offsets. */
#define MEMBER_TYPE(mm) __typeof__(((mpp_mount *)0)->mm)
#define SHADOW_STR(id, mm) MEMBER_TYPE(mm) id;
#define SHADOW_STR_ALWAYS(id, mm) MEMBER_TYPE(mm) id;
#define SHADOW_BOOL(id, mm) MEMBER_TYPE(mm) id;
#define SHADOW_MAP(id, mm) MEMBER_TYPE(mm) id;
#define SHADOW_OBJ(id, mm) MEMBER_TYPE(mm) id;
#define SHADOW_APPLIED(id, mm)                                                                     \
    MEMBER_TYPE(mm) id;                                                                            \
    MEMBER_TYPE(n_##mm) n_##id;
#define SHADOW(want, group, id, key, mk, mm, pk, pm) MPP_FIELD_IF(group, want, SHADOW_##mk(id, mm))
#define SHADOW_ROOT(...) SHADOW(ROOT, __VA_ARGS__)
#define SHADOW_VOLUME(...) SHADOW(VOLUME, __VA_ARGS__)
#define SHADOW_CONTAINER(...) SHADOW(CONTAINER, __VA_ARGS__)
#define SHADOW_IMAGE(...) SHADOW(IMAGE, __VA_ARGS__)
struct shadow_ROOT {
    MPP_MOUNT_FIELDS(SHADOW_ROOT)
};
struct shadow_VOLUME {
    MPP_MOUNT_FIELDS(SHADOW_VOLUME)
};
struct shadow_CONTAINER {
    MPP_MOUNT_FIELDS(SHADOW_CONTAINER)
};
struct shadow_IMAGE {
    MPP_MOUNT_FIELDS(SHADOW_IMAGE)
};
#define GROUP_BASE_ROOT 0
#define GROUP_BASE_VOLUME offsetof(mpp_mount, volume)
#define GROUP_BASE_CONTAINER offsetof(mpp_mount, container)
#define GROUP_BASE_IMAGE offsetof(mpp_mount, image)
#define SAME_OFFSET(group, id, key, mk, mm, pk, pm)                                                \
    _Static_assert(offsetof(struct shadow_##group, id) ==                                          \
                       offsetof(mpp_mount, mm) - GROUP_BASE_##group,                               \
                   "mount-fields.h: " key " is not where mpp_mount has it");
MPP_MOUNT_FIELDS(SAME_OFFSET)
_Static_assert(sizeof(struct shadow_ROOT) == sizeof(mpp_mount),
               "mount-fields.h lists fewer fields than mpp_mount has");
_Static_assert(sizeof(struct shadow_VOLUME) == sizeof(mpp_volume),
               "mount-fields.h lists fewer fields than mpp_volume has");
_Static_assert(sizeof(struct shadow_CONTAINER) == sizeof(mpp_container_info),
               "mount-fields.h lists fewer fields than mpp_container_info has");
_Static_assert(sizeof(struct shadow_IMAGE) == sizeof(mpp_image_info),
               "mount-fields.h lists fewer fields than mpp_image_info has");

/* The same for mpp_pattern, whose Container and Image are members of its own. */
#define PMEMBER_TYPE(pm) __typeof__(((mpp_pattern *)0)->pm)
#define PSHADOW_SLIST(id, pm) PMEMBER_TYPE(pm) id;
#define PSHADOW_EFFECTIVE_SOURCE(id, pm) PMEMBER_TYPE(pm) id;
#define PSHADOW_ATOM(id, pm) PMEMBER_TYPE(pm) id;
#define PSHADOW_TYPE(id, pm) PMEMBER_TYPE(pm) id;
#define PSHADOW_CONSISTENCY(id, pm) PMEMBER_TYPE(pm) id;
#define PSHADOW_EFFECTIVE_CONSISTENCY(id, pm) PMEMBER_TYPE(pm) id;
#define PSHADOW_TRI(id, pm) PMEMBER_TYPE(pm) id;
#define PSHADOW_MAPS(id, pm) PMEMBER_TYPE(pm) id;
#define PSHADOW_STACK(id, pm) PMEMBER_TYPE(pm) id;
#define PSHADOW_OBJ(id, pm) PMEMBER_TYPE(pm) id;
#define PSHADOW_NONE(id, pm)
#define PSHADOW(want, group, id, key, mk, mm, pk, pm)                                              \
    MPP_FIELD_IF(group, want, PSHADOW_##pk(id, pm))
#define PSHADOW_ROOT(...) PSHADOW(ROOT, __VA_ARGS__)
#define PSHADOW_VOLUME(...) PSHADOW(VOLUME, __VA_ARGS__)
struct pshadow_ROOT {
    MPP_MOUNT_FIELDS(PSHADOW_ROOT)
};
struct pshadow_VOLUME {
    MPP_MOUNT_FIELDS(PSHADOW_VOLUME)
};
_Static_assert(sizeof(struct pshadow_ROOT) == sizeof(mpp_pattern),
               "mount-fields.h lists fewer fields than mpp_pattern has");
_Static_assert(sizeof(struct pshadow_VOLUME) == sizeof(mpp_volume_pattern),
               "mount-fields.h lists fewer fields than mpp_volume_pattern has");

#define FREE_AND_NULL(p)                                                                           \
    do {                                                                                           \
        free(p);                                                                                   \
        (p) = NULL;                                                                                \
    } while (0)

void mpp_strmap_clear(mpp_strmap *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n; i++) {
        free(m->items[i].key);
        free(m->items[i].value);
    }
    FREE_AND_NULL(m->items);
    m->n = 0;
}

void mpp_changes_clear(mpp_changes *c)
{
    if (!c)
        return;
    FREE_AND_NULL(c->effective_source);
    FREE_AND_NULL(c->effective_consistency);
}

static void applied_free(mpp_applied *a, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(a[i].name);
        mpp_changes_clear(&a[i].changes);
    }
    free(a);
}

/* What each kind of member of mpp_mount owns (mount-fields.h). */
#define MCLEAR_STR(m, mm) free((m)->mm);
#define MCLEAR_STR_ALWAYS(m, mm) free((m)->mm);
#define MCLEAR_BOOL(m, mm)
#define MCLEAR_MAP(m, mm) mpp_strmap_clear(&(m)->mm);
#define MCLEAR_OBJ(m, mm)
#define MCLEAR_APPLIED(m, mm) applied_free((m)->mm, (m)->n_##mm);
#define MOUNT_CLEAR(group, id, key, mk, mm, pk, pm) MCLEAR_##mk(m, mm)

void mpp_mount_clear(mpp_mount *m)
{
    if (!m)
        return;
    MPP_MOUNT_FIELDS(MOUNT_CLEAR)
    memset(m, 0, sizeof(*m));
}

void mpp_mounts_free(mpp_mount *mounts, size_t n)
{
    if (!mounts)
        return;
    for (size_t i = 0; i < n; i++)
        mpp_mount_clear(&mounts[i]);
    free(mounts);
}

void mpp_string_pattern_clear(mpp_string_pattern *p)
{
    if (!p)
        return;
    free(p->prefix);
    free(p->path_prefix);
    free(p->suffix);
    free(p->path_contains);
    free(p->exactly);
    free(p->contains);
    memset(p, 0, sizeof(*p));
}

static void string_patterns_clear(mpp_string_patterns *ps)
{
    for (size_t i = 0; i < ps->n; i++)
        mpp_string_pattern_clear(&ps->items[i]);
    FREE_AND_NULL(ps->items);
    ps->n = 0;
}

static void kv_patterns_free(mpp_kv_pattern *kv, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        mpp_string_pattern_clear(&kv[i].key);
        mpp_string_pattern_clear(&kv[i].value);
    }
    free(kv);
}

static void strmap_patterns_clear(mpp_strmap_patterns *ps)
{
    for (size_t i = 0; i < ps->n; i++) {
        kv_patterns_free(ps->items[i].exists, ps->items[i].n_exists);
        kv_patterns_free(ps->items[i].all, ps->items[i].n_all);
    }
    FREE_AND_NULL(ps->items);
    ps->n = 0;
}

static void applied_patterns_clear(mpp_applied_patterns *ps)
{
    for (size_t i = 0; i < ps->n; i++) {
        string_patterns_clear(&ps->items[i].name);
        string_patterns_clear(&ps->items[i].changes_effective_source);
        free(ps->items[i].changes_effective_consistency);
    }
    FREE_AND_NULL(ps->items);
    ps->n = 0;
}

#define PINIT_TRI(p, pm) (p)->pm = MPP_UNSET;
#define PINIT_SLIST(p, pm)
#define PINIT_EFFECTIVE_SOURCE(p, pm)
#define PINIT_ATOM(p, pm)
#define PINIT_TYPE(p, pm)
#define PINIT_CONSISTENCY(p, pm)
#define PINIT_EFFECTIVE_CONSISTENCY(p, pm)
#define PINIT_MAPS(p, pm)
#define PINIT_OBJ(p, pm)
#define PINIT_NONE(p, pm)
#define PINIT_STACK(p, pm)
#define PATTERN_INIT(group, id, key, mk, mm, pk, pm) PINIT_##pk(p, pm)

void mpp_pattern_init(mpp_pattern *p)
{
    memset(p, 0, sizeof(*p));
    MPP_MOUNT_FIELDS(PATTERN_INIT)
}

static void stack_pattern_clear(mpp_stack_pattern *sp)
{
    for (int op = 0; op < _MPP_STACK_OP_MAX; op++) {
        applied_patterns_clear(&sp->op[op]);
        applied_patterns_clear(&sp->not_op[op]);
    }
}

/* What each kind of member of mpp_pattern owns (mount-fields.h). */
#define PCLEAR_SLIST(p, pm) string_patterns_clear(&(p)->pm);
#define PCLEAR_EFFECTIVE_SOURCE(p, pm) string_patterns_clear(&(p)->pm);
#define PCLEAR_ATOM(p, pm) free((p)->pm);
#define PCLEAR_TYPE(p, pm) free((p)->pm);
#define PCLEAR_CONSISTENCY(p, pm) free((p)->pm);
#define PCLEAR_EFFECTIVE_CONSISTENCY(p, pm) free((p)->pm);
#define PCLEAR_TRI(p, pm)
#define PCLEAR_MAPS(p, pm) strmap_patterns_clear(&(p)->pm);
#define PCLEAR_OBJ(p, pm)
#define PCLEAR_NONE(p, pm)
#define PCLEAR_STACK(p, pm) stack_pattern_clear(&(p)->pm);
#define PATTERN_CLEAR(group, id, key, mk, mm, pk, pm) PCLEAR_##pk(p, pm)

void mpp_pattern_clear(mpp_pattern *p)
{
    if (!p)
        return;
    MPP_MOUNT_FIELDS(PATTERN_CLEAR)
    mpp_pattern_init(p);
}

void mpp_patterns_free(mpp_pattern *patterns, size_t n)
{
    if (!patterns)
        return;
    for (size_t i = 0; i < n; i++)
        mpp_pattern_clear(&patterns[i]);
    free(patterns);
}

void mpp_activate_response_clear(mpp_activate_response *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_implements; i++)
        free(r->implements[i]);
    free(r->implements);
    memset(r, 0, sizeof(*r));
}

void mpp_properties_response_clear(mpp_properties_response *r)
{
    if (!r)
        return;
    mpp_patterns_free(r->patterns, r->n_patterns);
    free(r->err);
    memset(r, 0, sizeof(*r));
}

void mpp_attach_request_clear(mpp_attach_request *r)
{
    if (!r)
        return;
    free(r->id);
    mpp_mounts_free(r->mounts, r->n_mounts);
    memset(r, 0, sizeof(*r));
}

void mpp_attachment_clear(mpp_attachment *a)
{
    if (!a)
        return;
    mpp_changes_clear(&a->changes);
    for (size_t i = 0; i < a->n_emergency; i++)
        free(a->emergency[i].arg);
    free(a->emergency);
    memset(a, 0, sizeof(*a));
}

void mpp_attach_response_clear(mpp_attach_response *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_attachments; i++)
        mpp_attachment_clear(&r->attachments[i]);
    free(r->attachments);
    free(r->err);
    free(r->state_dir);
    memset(r, 0, sizeof(*r));
}

void mpp_detach_request_clear(mpp_detach_request *r)
{
    if (!r)
        return;
    free(r->id);
    mpp_mounts_free(r->mounts, r->n_mounts);
    memset(r, 0, sizeof(*r));
}

void mpp_detach_response_clear(mpp_detach_response *r)
{
    if (!r)
        return;
    free(r->err);
    memset(r, 0, sizeof(*r));
}

int mpp_strmap_add(mpp_strmap *m, const char *key, const char *value)
{
    mpp_kv *items = realloc(m->items, (m->n + 1) * sizeof(*items));
    if (!items)
        return -ENOMEM;
    m->items = items;
    char *k = strdup(key), *v = strdup(value ? value : "");
    if (!k || !v) {
        free(k);
        free(v);
        return -ENOMEM;
    }
    m->items[m->n++] = (mpp_kv){.key = k, .value = v};
    return 0;
}

const char *mpp_strmap_get(const mpp_strmap *m, const char *key)
{
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->items[i].key, key) == 0)
            return m->items[i].value;
    return NULL;
}

int mpp_strmap_copy(mpp_strmap *dst, const mpp_strmap *src)
{
    memset(dst, 0, sizeof(*dst));
    for (size_t i = 0; i < src->n; i++)
        if (mpp_strmap_add(dst, src->items[i].key, src->items[i].value) < 0) {
            mpp_strmap_clear(dst);
            return -ENOMEM;
        }
    return 0;
}

static int applied_copy(mpp_applied **dst, size_t *n_dst, const mpp_applied *src, size_t n)
{
    int fail = 0;
    if (n == 0)
        return 0;
    *dst = calloc(n, sizeof(**dst));
    if (!*dst)
        return -ENOMEM;
    *n_dst = n;
    for (size_t i = 0; i < n; i++) {
        (*dst)[i].name = strdup_or_null(src[i].name, &fail);
        (*dst)[i].changes.effective_source = strdup_or_null(src[i].changes.effective_source, &fail);
        (*dst)[i].changes.effective_consistency =
            strdup_or_null(src[i].changes.effective_consistency, &fail);
    }
    return fail ? -ENOMEM : 0;
}

/* A deep copy of each kind of member of mpp_mount; failures set fail. */
#define MCOPY_STR(mm) dst->mm = strdup_or_null(src->mm, &fail);
#define MCOPY_STR_ALWAYS(mm) dst->mm = strdup_or_null(src->mm, &fail);
#define MCOPY_BOOL(mm) dst->mm = src->mm;
#define MCOPY_MAP(mm)                                                                              \
    if (mpp_strmap_copy(&dst->mm, &src->mm) < 0)                                                   \
        fail = 1;
#define MCOPY_OBJ(mm)
#define MCOPY_APPLIED(mm)                                                                          \
    if (applied_copy(&dst->mm, &dst->n_##mm, src->mm, src->n_##mm) < 0)                            \
        fail = 1;
#define MOUNT_COPY(group, id, key, mk, mm, pk, pm) MCOPY_##mk(mm)

int mpp_mount_copy(mpp_mount *dst, const mpp_mount *src)
{
    int fail = 0;
    memset(dst, 0, sizeof(*dst));
    MPP_MOUNT_FIELDS(MOUNT_COPY)
    if (fail) {
        mpp_mount_clear(dst);
        return -ENOMEM;
    }
    return 0;
}

int mpp_action_copy(mpp_action *dst, const mpp_action *src)
{
    int fail = 0;
    dst->kind = src->kind;
    dst->arg = strdup_or_null(src->arg, &fail);
    return fail ? -ENOMEM : 0;
}

const char *mpp_action_kind_to_string(mpp_action_kind k)
{
    switch (k) {
    case MPP_ACTION_REMOVE:
        return "Remove";
    case MPP_ACTION_UNMOUNT:
        return "Unmount";
    case MPP_ACTION_WARNING:
        return "Warning";
    case MPP_ACTION_ERROR:
        return "Error";
    case MPP_ACTION_FATAL:
        return "Fatal";
    }
    return "?";
}
