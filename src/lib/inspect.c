/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Read-only description of a container's journal, for the administrator's tool. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <mpp/chain.h>

#include "journal.h"
#include "macro.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(mpp_journal *, mpp_journal_close)

const char *mpp_plugin_hold_to_string(mpp_plugin_hold h)
{
    switch (h) {
    case MPP_HOLD_SENT:
        return "sent";
    case MPP_HOLD_ATTACHED:
        return "attached";
    case MPP_HOLD_REFUSED:
        return "refused";
    case MPP_HOLD_DETACHING:
        return "detaching";
    case MPP_HOLD_DETACHED:
        return "detached";
    }
    return "unknown";
}

const char *mpp_teardown_state_to_string(mpp_teardown_state s)
{
    switch (s) {
    case MPP_TEARDOWN_NOT_STARTED:
        return "attached";
    case MPP_TEARDOWN_DETACHING:
        return "detaching";
    case MPP_TEARDOWN_HALTED:
        return "halted";
    case MPP_TEARDOWN_DONE:
        return "done";
    }
    return "unknown";
}

static mpp_plugin_hold hold_of(mpp_jplugin_state s)
{
    switch (s) {
    case MPP_JP_SENT:
        return MPP_HOLD_SENT;
    case MPP_JP_ATTACHED:
        return MPP_HOLD_ATTACHED;
    case MPP_JP_DETACHING:
        return MPP_HOLD_DETACHING;
    case MPP_JP_DETACHED:
        return MPP_HOLD_DETACHED;
    case MPP_JP_NONE:
    case MPP_JP_REFUSED:
        break;
    }
    return MPP_HOLD_REFUSED;
}

static void mount_stack_clear(mpp_mount_stack *m)
{
    free(m->source);
    free(m->destination);
    for (size_t i = 0; i < m->n_entries; i++) {
        free(m->entries[i].plugin);
        mpp_changes_clear(&m->entries[i].changes);
    }
    free(m->entries);
    memset(m, 0, sizeof(*m));
}

void mpp_container_state_clear(mpp_container_state *s)
{
    if (!s)
        return;
    free(s->id);
    free(s->journal);
    for (size_t i = 0; i < s->n_plugins; i++)
        free(s->plugins[i].plugin);
    free(s->plugins);
    for (size_t i = 0; i < s->n_mount_stacks; i++)
        mount_stack_clear(&s->mounts[i]);
    free(s->mounts);
    mpp_strv_free(s->errors, s->n_errors);
    mpp_strv_free(s->warnings, s->n_warnings);
    memset(s, 0, sizeof(*s));
}

DEFINE_TRIVIAL_CLEANUP_FUNC(mpp_container_state *, mpp_container_state_clear)

static int cmp_clock(const void *a, const void *b)
{
    unsigned x = ((const mpp_plugin_record *)a)->clock, y = ((const mpp_plugin_record *)b)->clock;
    return x < y ? -1 : x > y;
}

/* The stack of mount index, created on first use, kept sorted by index. */
static mpp_mount_stack *stack_for(mpp_container_state *s, size_t index, const mpp_mount *sent)
{
    size_t pos = 0;
    while (pos < s->n_mount_stacks && s->mounts[pos].index < index)
        pos++;
    if (pos < s->n_mount_stacks && s->mounts[pos].index == index)
        return &s->mounts[pos];
    mpp_mount_stack *nv = realloc(s->mounts, (s->n_mount_stacks + 1) * sizeof(*nv));
    if (!nv)
        return NULL;
    s->mounts = nv;
    memmove(&nv[pos + 1], &nv[pos], (s->n_mount_stacks - pos) * sizeof(*nv));
    s->n_mount_stacks++;
    mpp_mount_stack *m = &nv[pos];
    memset(m, 0, sizeof(*m));
    m->index = index;
    int fail = 0;
    /* The first plugin saw the original source; later ones see it in Source too. */
    m->source = strdup_or_null(sent ? sent->source : NULL, &fail);
    m->destination = strdup_or_null(sent ? sent->destination : NULL, &fail);
    return fail ? NULL : m;
}

static int stack_push(mpp_mount_stack *m, const mpp_jplugin *p, const mpp_changes *ch)
{
    mpp_stack_entry *nv = realloc(m->entries, (m->n_entries + 1) * sizeof(*nv));
    if (!nv)
        return -ENOMEM;
    m->entries = nv;
    mpp_stack_entry *e = &nv[m->n_entries];
    memset(e, 0, sizeof(*e));
    int fail = 0;
    e->clock = p->clock;
    e->hold = hold_of(p->state);
    e->plugin = strdup_or_null(p->name, &fail);
    if (ch) {
        e->changes.effective_source = strdup_or_null(ch->effective_source, &fail);
        e->changes.effective_consistency = strdup_or_null(ch->effective_consistency, &fail);
    }
    m->n_entries++;
    return fail ? -ENOMEM : 0;
}

static const mpp_mount *sent_mount(const mpp_jplugin *p, size_t index)
{
    for (size_t i = 0; i < p->n_sent; i++)
        if (p->sent_index[i] == index)
            return &p->sent[i];
    return NULL;
}

static int describe(const mpp_jstate *st, mpp_container_state *s)
{
    s->n_mounts = st->n_mounts;
    s->plugins = calloc(st->n_plugins ? st->n_plugins : 1, sizeof(*s->plugins));
    if (!s->plugins)
        return -ENOMEM;
    for (size_t i = 0; i < st->n_plugins; i++) {
        const mpp_jplugin *p = &st->plugins[i];
        s->plugins[i].clock = p->clock;
        s->plugins[i].hold = hold_of(p->state);
        s->plugins[i].plugin = strdup(p->name);
        s->n_plugins = i + 1;
        if (!s->plugins[i].plugin)
            return -ENOMEM;
    }
    qsort(s->plugins, s->n_plugins, sizeof(*s->plugins), cmp_clock);

    /* Stacks bottom first: walk the plugins in clock order. */
    for (size_t k = 0; k < s->n_plugins; k++) {
        const mpp_jplugin *p = NULL;
        for (size_t i = 0; i < st->n_plugins; i++)
            if (st->plugins[i].clock == s->plugins[k].clock)
                p = &st->plugins[i];
        for (size_t e = 0; p && e < p->n_entries; e++) {
            mpp_mount_stack *m =
                stack_for(s, p->entries[e].mount, sent_mount(p, p->entries[e].mount));
            if (!m || stack_push(m, p, &p->entries[e].changes) < 0)
                return -ENOMEM;
        }
    }

    bool attached = false, detach_seen = false;
    for (size_t i = 0; i < st->n_plugins; i++) {
        const mpp_jplugin *p = &st->plugins[i];
        attached |=
            p->state == MPP_JP_SENT || p->state == MPP_JP_ATTACHED || p->state == MPP_JP_DETACHING;
        detach_seen |= p->detach_was_sent;
    }
    s->teardown = !attached     ? MPP_TEARDOWN_DONE
                  : st->halted  ? MPP_TEARDOWN_HALTED
                  : detach_seen ? MPP_TEARDOWN_DETACHING
                                : MPP_TEARDOWN_NOT_STARTED;

    for (size_t i = 0; i < st->n_errors; i++) {
        char **nv = realloc(s->errors, (s->n_errors + 1) * sizeof(*nv));
        if (!nv)
            return -ENOMEM;
        s->errors = nv;
        if (!(nv[s->n_errors] = strdup(st->errors[i])))
            return -ENOMEM;
        s->n_errors++;
    }
    for (size_t i = 0; i < st->n_warnings; i++) {
        char **nv = realloc(s->warnings, (s->n_warnings + 1) * sizeof(*nv));
        if (!nv)
            return -ENOMEM;
        s->warnings = nv;
        if (!(nv[s->n_warnings] = strdup(st->warnings[i])))
            return -ENOMEM;
        s->n_warnings++;
    }
    return 0;
}

int mpp_container_describe(const char *state_dir, const char *id, mpp_container_state *out,
                           mpp_error *err)
{
    memset(out, 0, sizeof(*out));
    _cleanup_(mpp_journal_closep) mpp_journal *j = NULL;
    bool busy = false;
    int r = mpp_journal_open_readonly(state_dir, id, &j, &busy, err);
    if (r < 0)
        return r;
    mpp_jstate st;
    r = mpp_jstate_load(j, &st, err);
    if (r < 0)
        return r;

    _cleanup_(mpp_container_state_clearp) mpp_container_state *s = out;
    s->busy = busy;
    s->id = strdup(id);
    s->journal = strdup(mpp_journal_path(j));
    r = (s->id && s->journal) ? describe(&st, s) : -ENOMEM;
    mpp_jstate_clear(&st);
    if (r < 0)
        return mpp_error_set(err, r, "out of memory");
    s = NULL; /* success: the caller owns *out */
    return 0;
}
