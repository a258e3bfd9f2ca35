/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Destructors and deep copies of the protocol's data model. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <mpp/types.h>

#include "macro.h"

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

void mpp_mount_clear(mpp_mount *m)
{
    if (!m)
        return;
    free(m->effective_source);
    free(m->effective_consistency);
    free(m->volume.name);
    free(m->volume.driver);
    free(m->volume.id);
    mpp_strmap_clear(&m->volume.labels);
    mpp_strmap_clear(&m->volume.driver_options);
    mpp_strmap_clear(&m->volume.options);
    free(m->volume.scope);
    mpp_strmap_clear(&m->container.labels);
    free(m->container.id);
    free(m->container.engine);
    mpp_strmap_clear(&m->container.annotations);
    mpp_strmap_clear(&m->image.labels);
    free(m->source);
    free(m->destination);
    free(m->type);
    free(m->mode);
    free(m->propagation);
    for (size_t i = 0; i < m->n_applied; i++) {
        free(m->applied[i].name);
        mpp_changes_clear(&m->applied[i].changes);
    }
    free(m->applied);
    free(m->consistency);
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

void mpp_pattern_init(mpp_pattern *p)
{
    memset(p, 0, sizeof(*p));
    p->read_only = MPP_UNSET;
    p->create_source_if_missing = MPP_UNSET;
}

void mpp_pattern_clear(mpp_pattern *p)
{
    if (!p)
        return;
    string_patterns_clear(&p->effective_source);
    free(p->effective_consistency);
    string_patterns_clear(&p->volume.name);
    string_patterns_clear(&p->volume.driver);
    string_patterns_clear(&p->volume.id);
    strmap_patterns_clear(&p->volume.labels);
    strmap_patterns_clear(&p->volume.driver_options);
    strmap_patterns_clear(&p->volume.options);
    free(p->volume.scope);
    strmap_patterns_clear(&p->container_labels);
    strmap_patterns_clear(&p->image_labels);
    string_patterns_clear(&p->source);
    string_patterns_clear(&p->destination);
    free(p->type);
    string_patterns_clear(&p->mode);
    free(p->propagation);
    for (int op = 0; op < _MPP_STACK_OP_MAX; op++) {
        applied_patterns_clear(&p->applied_middleware.op[op]);
        applied_patterns_clear(&p->applied_middleware.not_op[op]);
    }
    free(p->consistency);
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

int mpp_mount_copy(mpp_mount *dst, const mpp_mount *src)
{
    int fail = 0;
    memset(dst, 0, sizeof(*dst));
#define DUP(f) dst->f = strdup_or_null(src->f, &fail)
    DUP(effective_source);
    DUP(effective_consistency);
    DUP(volume.name);
    DUP(volume.driver);
    DUP(volume.id);
    DUP(volume.scope);
    DUP(container.id);
    DUP(container.engine);
    DUP(source);
    DUP(destination);
    DUP(type);
    DUP(mode);
    DUP(propagation);
    DUP(consistency);
#undef DUP
    dst->read_only = src->read_only;
    dst->create_source_if_missing = src->create_source_if_missing;
    if (mpp_strmap_copy(&dst->volume.labels, &src->volume.labels) < 0 ||
        mpp_strmap_copy(&dst->volume.driver_options, &src->volume.driver_options) < 0 ||
        mpp_strmap_copy(&dst->volume.options, &src->volume.options) < 0 ||
        mpp_strmap_copy(&dst->container.labels, &src->container.labels) < 0 ||
        mpp_strmap_copy(&dst->container.annotations, &src->container.annotations) < 0 ||
        mpp_strmap_copy(&dst->image.labels, &src->image.labels) < 0)
        fail = 1;
    if (src->n_applied > 0) {
        dst->applied = calloc(src->n_applied, sizeof(*dst->applied));
        if (!dst->applied)
            fail = 1;
        else {
            dst->n_applied = src->n_applied;
            for (size_t i = 0; i < src->n_applied; i++) {
                dst->applied[i].name = strdup_or_null(src->applied[i].name, &fail);
                dst->applied[i].changes.effective_source =
                    strdup_or_null(src->applied[i].changes.effective_source, &fail);
                dst->applied[i].changes.effective_consistency =
                    strdup_or_null(src->applied[i].changes.effective_consistency, &fail);
            }
        }
    }
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
