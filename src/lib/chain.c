/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The chain engine (protocol §6): attach in chain order with clocks, unwind in reverse from the
 * journal, detach outcomes, emergency actions. */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/openat2.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include <mpp/chain.h>
#include <mpp/client.h>
#include <mpp/codec.h>
#include <mpp/escape.h>
#include <mpp/pattern.h>

#include "codec-json.h"
#include "fault.h"
#include "journal.h"
#include "macro.h"
#include "phase.h"
#include "properties-cache.h"

typedef struct chain_plugin {
    char *name;
    bool discovered;
    mpp_plugin_addr addr;
    mpp_client *client;
    bool have_patterns;
    bool patterns_cached; /* they came from the properties cache */
    mpp_pattern *patterns;
    size_t n_patterns;
    mpp_pattern_set *set; /* patterns compiled; borrows them */
} chain_plugin;

struct mpp_chain {
    mpp_config cfg;
    chain_plugin *plugins; /* the configured chain, then plugins met only in journals */
    size_t n_plugins;
    size_t n_configured;
    size_t consulted; /* plugins the last attach pass asked about a mount */
    mpp_chain_source_hook source_hook;
    void *source_hook_data;
};

DEFINE_TRIVIAL_CLEANUP_FUNC(mpp_journal *, mpp_journal_close)
DEFINE_TRIVIAL_CLEANUP_FUNC(mpp_mount_set *, mpp_mount_set_free)

static void chain_plugin_clear(chain_plugin *p)
{
    free(p->name);
    mpp_plugin_addr_clear(&p->addr);
    mpp_client_free(p->client);
    mpp_pattern_set_free(p->set);
    mpp_patterns_free(p->patterns, p->n_patterns);
    memset(p, 0, sizeof(*p));
}

void mpp_chain_free(mpp_chain *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n_plugins; i++)
        chain_plugin_clear(&c->plugins[i]);
    free(c->plugins);
    mpp_config_clear(&c->cfg);
    free(c);
}

DEFINE_TRIVIAL_CLEANUP_FUNC(mpp_chain *, mpp_chain_free)

static chain_plugin *chain_add_plugin(mpp_chain *c, const char *name)
{
    chain_plugin *np = realloc(c->plugins, (c->n_plugins + 1) * sizeof(*np));
    if (!np)
        return NULL;
    c->plugins = np;
    chain_plugin *p = &c->plugins[c->n_plugins];
    memset(p, 0, sizeof(*p));
    p->name = strdup(name);
    if (!p->name)
        return NULL;
    c->n_plugins++;
    return p;
}

static int config_copy(mpp_config *dst, const mpp_config *src)
{
    int fail = 0;
    memset(dst, 0, sizeof(*dst));
    dst->path = strdup_or_null(src->path, &fail);
    dst->digest = strdup_or_null(src->digest, &fail);
    dst->runtime = strdup_or_null(src->runtime, &fail);
    dst->state_dir = strdup_or_null(src->state_dir, &fail);
    dst->call_timeout_ms = src->call_timeout_ms;
    dst->detach_timeout_ms = src->detach_timeout_ms;
    dst->max_response_bytes = src->max_response_bytes;
    dst->plugin_dirs = calloc(src->n_plugin_dirs + 1, sizeof(char *));
    if (!dst->plugin_dirs)
        fail = 1;
    else
        for (size_t i = 0; i < src->n_plugin_dirs; i++) {
            dst->plugin_dirs[i] = strdup_or_null(src->plugin_dirs[i], &fail);
            dst->n_plugin_dirs = i + 1;
        }
    return fail ? -ENOMEM : 0;
}

int mpp_chain_new(const mpp_config *cfg, mpp_chain **out, mpp_error *err)
{
    _cleanup_(mpp_chain_freep) mpp_chain *c = calloc(1, sizeof(*c));
    if (!c || config_copy(&c->cfg, cfg) < 0)
        return mpp_error_set(err, -ENOMEM, "out of memory");
    if (isempty(c->cfg.state_dir))
        return mpp_error_set(err, -EINVAL, "configuration has no state_dir");
    /* Before any plugin is contacted: a user who can replace a directory on the way could
     * swap in pins or journals of their own. */
    int r = mpp_state_dir_check(c->cfg.state_dir, err);
    if (r < 0)
        return r;
    for (size_t i = 0; i < cfg->n_plugins; i++)
        if (!chain_add_plugin(c, cfg->plugins[i]))
            return mpp_error_set(err, -ENOMEM, "out of memory");
    c->n_configured = c->n_plugins;
    *out = TAKE_PTR(c);
    return 0;
}

static chain_plugin *chain_plugin_by_name(mpp_chain *c, const char *name, mpp_error *err)
{
    for (size_t i = 0; i < c->n_plugins; i++)
        if (strcmp(c->plugins[i].name, name) == 0)
            return &c->plugins[i];
    chain_plugin *p = chain_add_plugin(c, name);
    if (!p)
        mpp_error_set(err, -ENOMEM, "out of memory");
    return p;
}

/* Find the plugin's socket (the message of a failure names the plugin). */
static int plugin_discover(mpp_chain *c, chain_plugin *p, mpp_error *err)
{
    if (p->discovered)
        return 0;
    const char *left = mpp_phase_enter("discovery");
    int r = mpp_discover(p->name, c->cfg.plugin_dirs, c->cfg.n_plugin_dirs, &p->addr, err);
    mpp_phase_enter(left);
    if (r < 0)
        return r;
    p->discovered = true;
    return 0;
}

/* Find the plugin's socket and make a client; no round trip. */
static int plugin_connect(mpp_chain *c, chain_plugin *p, mpp_error *err)
{
    if (p->client)
        return 0;
    int r = plugin_discover(c, p, err);
    if (r < 0)
        return mpp_error_prefix(err, "mount point plugin \"%s\"", p->name);
    mpp_client_options o = {
        .timeout_ms = c->cfg.call_timeout_ms,
        .max_response_bytes = c->cfg.max_response_bytes,
    };
    const char *left = mpp_phase_enter("connect");
    r = mpp_client_new(&p->addr, &o, &p->client, err);
    mpp_phase_enter(left);
    return r;
}

/* The plugin's patterns from the properties cache, when it holds them for the plugin's current
 * identity and this configuration: 1 when loaded, 0 when the plugin must be asked. *identity
 * (heap) is what a new cache entry is stored under. */
static int plugin_cached_patterns(mpp_chain *c, chain_plugin *p, char **identity, mpp_error *err)
{
    int r = mpp_plugin_identity(&p->addr, identity, err);
    if (r < 0)
        return mpp_error_prefix(err, "mount point plugin \"%s\"", p->name);
    r = mpp_properties_cache_load(c->cfg.state_dir, p->name, *identity, c->cfg.digest, &p->patterns,
                                  &p->n_patterns);
    if (r <= 0)
        return 0;
    p->have_patterns = true;
    p->patterns_cached = true;
    return 1;
}

/* MountPointProperties, from an activated plugin. */
static int plugin_ask_patterns(chain_plugin *p, mpp_error *err)
{
    mpp_properties_response resp = {0};
    long status = 0;
    int r = mpp_client_properties(p->client, &resp, &status, err);
    if (r < 0)
        return r;
    if (!resp.success) {
        r = mpp_error_set(err, -EPROTO,
                          "mount point plugin \"%s\" failed to give its properties: %s", p->name,
                          isempty(resp.err) ? "no reason given" : resp.err);
        mpp_properties_response_clear(&resp);
        return r;
    }
    p->patterns = TAKE_PTR(resp.patterns);
    p->n_patterns = resp.n_patterns;
    resp.n_patterns = 0;
    mpp_properties_response_clear(&resp);
    p->have_patterns = true;
    p->patterns_cached = false;
    return 0;
}

/* The plugin's patterns: from the cache when it is valid for the plugin's current identity and
 * this configuration, else Activate + MountPointProperties, then cached. */
static int plugin_patterns_load(mpp_chain *c, chain_plugin *p, mpp_error *err)
{
    int r = plugin_connect(c, p, err);
    if (r < 0)
        return r;
    _cleanup_free_ char *identity = NULL;
    r = plugin_cached_patterns(c, p, &identity, err);
    if (r != 0)
        return r < 0 ? r : 0;

    r = mpp_client_activate(p->client, err);
    if (r < 0)
        return r;
    r = plugin_ask_patterns(p, err);
    if (r < 0)
        return r;
    /* A cache that cannot be written only costs round trips later. */
    mpp_properties_cache_store(c->cfg.state_dir, p->name, identity, c->cfg.digest, p->patterns,
                               p->n_patterns);
    return 0;
}

static int plugin_patterns(mpp_chain *c, chain_plugin *p, mpp_error *err)
{
    if (p->have_patterns)
        return 0;
    const char *left = mpp_phase_enter("properties");
    int r = plugin_patterns_load(c, p, err);
    mpp_phase_enter(left);
    return r;
}

/* Each record is written before the step it protects (the "attach" record before the call: a
 * plugin may act on it, so a teardown after a crash must know of it). Not synced: state_dir is
 * runtime state, see journal.h. */
static int journal_record(mpp_journal *j, json_t *rec, mpp_error *err)
{
    _cleanup_free_ char *text = NULL;
    if (!rec)
        return mpp_error_set(err, -ENOMEM, "out of memory");
    const char *left = mpp_phase_enter("journal");
    int r = mpp_json_dump(rec, &text, err);
    if (r >= 0)
        r = mpp_journal_append(j, text, err);
    mpp_phase_enter(left);
    return r;
}

static const char *mount_source(const mpp_mount *m)
{
    return !isempty(m->source) ? m->source : strempty(m->effective_source);
}

/* An EffectiveSource from a plugin is untrusted: it must be an absolute, clean path. */
static bool source_path_acceptable(const char *s)
{
    char clean[PATH_MAX];
    if (s[0] != '/')
        return false;
    int n = mpp_path_clean(s, clean, sizeof(clean));
    return n > 0 && strcmp(clean, s) == 0;
}

/* ---- The scope of emergency actions (begin) ----
 * A plugin's emergency Remove and Unmount may act only on what it made for this container: the
 * EffectiveSources it returned for the container's mounts, the StateDir its attach answer
 * declared, and what lies below them. Checked on the answer at attach, and again when the
 * actions run (against the journal's copy), where paths below a root are resolved from a
 * descriptor of the root without following any symlink. */

static bool scope_root_acceptable(const char *r)
{
    return !isempty(r) && source_path_acceptable(r) && strcmp(r, "/") != 0;
}

/* The shortest of roots that path (absolute and clean) is, or lies below: the one that leaves
 * the most of the path to be resolved without symlinks. NULL when none. */
static const char *scope_root_of(const char *path, const char *const *roots, size_t n_roots)
{
    const char *best = NULL;
    for (size_t i = 0; i < n_roots; i++) {
        size_t n = strlen(roots[i]);
        if (strncmp(path, roots[i], n) == 0 && (path[n] == '\0' || path[n] == '/') &&
            (!best || n < strlen(best)))
            best = roots[i];
    }
    return best;
}

static bool action_acts_on_path(const mpp_action *a)
{
    return a->kind == MPP_ACTION_REMOVE || a->kind == MPP_ACTION_UNMOUNT;
}

/* Whether an action's path is one it may act on, given the roots. */
static bool action_in_scope(const mpp_action *a, const char *const *roots, size_t n_roots)
{
    const char *path = strempty(a->arg);
    return !action_acts_on_path(a) || (source_path_acceptable(path) && strcmp(path, "/") != 0 &&
                                       scope_root_of(path, roots, n_roots));
}

/* ---- The scope of emergency actions (end of the attach side) ---- */

static int mount_apply_changes(mpp_mount *m, const char *plugin, const mpp_changes *ch)
{
    int fail = 0;
    if (!isempty(ch->effective_source)) {
        free(m->effective_source);
        m->effective_source = strdup_or_null(ch->effective_source, &fail);
    }
    if (!isempty(ch->effective_consistency)) {
        free(m->effective_consistency);
        m->effective_consistency = strdup_or_null(ch->effective_consistency, &fail);
    }
    mpp_applied *na = realloc(m->applied, (m->n_applied + 1) * sizeof(*na));
    if (!na)
        return -ENOMEM;
    m->applied = na;
    mpp_applied *a = &na[m->n_applied];
    memset(a, 0, sizeof(*a));
    if (asprintf(&a->name, "plugin:%s", plugin) < 0) {
        a->name = NULL;
        return -ENOMEM;
    }
    a->changes.effective_source = strdup_or_null(ch->effective_source, &fail);
    a->changes.effective_consistency = strdup_or_null(ch->effective_consistency, &fail);
    m->n_applied++;
    return fail ? -ENOMEM : 0;
}

static int unwind(mpp_chain *c, mpp_journal *j, const char *id, int exit_status, unsigned flags,
                  mpp_teardown *t, mpp_error *err);

static int journal_begin(mpp_chain *c, const char *id, size_t n_mounts, mpp_journal **out,
                         mpp_error *err)
{
    _cleanup_(mpp_journal_closep) mpp_journal *j = NULL;
    const char *left = mpp_phase_enter("journal");
    int r = mpp_journal_create(c->cfg.state_dir, id, &j, err);
    mpp_phase_enter(left);
    if (r < 0)
        return r;
    _cleanup_(json_decrefp) json_t *begin =
        json_pack("{s:s, s:s, s:I}", "op", "begin", "id", id, "mounts", (json_int_t)n_mounts);
    r = journal_record(j, begin, err);
    if (r < 0) {
        mpp_journal_remove(j, NULL);
        return r;
    }
    mpp_fault_point("begin");
    *out = TAKE_PTR(j);
    return 0;
}

/* The client's contract: -ENOENT, -ECONNREFUSED and -EAGAIN mean no connection was made and
 * nothing was sent; any other failure may come after the request reached the plugin. */
static bool request_may_have_arrived(int r)
{
    return r != -ENOENT && r != -ECONNREFUSED && r != -EAGAIN;
}

/* The mounts a plugin's patterns select: their indexes in sel[0..*n_sel), in order; with match,
 * match[i] is the pattern that selects mount i, or -1. No I/O: the patterns are known. */
static int plugin_select(chain_plugin *p, const mpp_mount_set *ms, size_t n_mounts, size_t *sel,
                         size_t *n_sel, int *match, mpp_error *err)
{
    if (!p->set) {
        int r = mpp_pattern_set_new(p->patterns, p->n_patterns, &p->set, err);
        if (r < 0)
            return mpp_error_prefix(err, "mount point plugin \"%s\"", p->name);
    }
    *n_sel = 0;
    for (size_t i = 0; i < n_mounts; i++) {
        int k = mpp_pattern_set_match(p->set, ms, i);
        if (match)
            match[i] = k;
        if (k >= 0)
            sel[(*n_sel)++] = i;
    }
    return 0;
}

/* One plugin's attach step. Returns 0 (attached or skipped), or negative with err set: the
 * container must fail. */
static int attach_one(mpp_chain *c, mpp_journal **jj, const char *id, chain_plugin *p,
                      unsigned clock, mpp_mount *mounts, const mpp_mount_set *ms, size_t n_mounts,
                      mpp_error *err)
{
    int r = plugin_patterns(c, p, err);
    if (r < 0)
        return r;
    _cleanup_free_ size_t *sel = calloc(n_mounts ? n_mounts : 1, sizeof(*sel));
    if (!sel)
        return mpp_error_set(err, -ENOMEM, "out of memory");
    size_t n_sel = 0;
    r = plugin_select(p, ms, n_mounts, sel, &n_sel, NULL, err);
    if (r < 0)
        return r;
    if (n_sel == 0)
        return 0; /* not selected: no round trip, no clock on any stack */
    c->consulted++;

    /* The journal exists from the first selected plugin on: a container that no plugin selects
     * costs no file. */
    if (!*jj) {
        r = journal_begin(c, id, n_mounts, jj, err);
        if (r < 0)
            return r;
    }
    mpp_journal *j = *jj;

    /* The request shares the mounts' storage; only the array is ours. */
    _cleanup_free_ mpp_mount *req_mounts = calloc(n_sel, sizeof(*req_mounts));
    _cleanup_(json_decrefp) json_t *rec =
        json_pack("{s:s, s:I, s:s, s:[], s:[]}", "op", "attach", "clock", (json_int_t)clock,
                  "plugin", p->name, "mounts", "sent");
    if (!req_mounts || !rec)
        return mpp_error_set(err, -ENOMEM, "out of memory");
    for (size_t k = 0; k < n_sel; k++) {
        req_mounts[k] = mounts[sel[k]];
        json_t *mj = mpp_mount_to_json(&mounts[sel[k]]);
        if (!mj ||
            json_array_append_new(json_object_get(rec, "mounts"),
                                  json_integer((json_int_t)sel[k])) < 0 ||
            json_array_append_new(json_object_get(rec, "sent"), mj) < 0)
            return mpp_error_set(err, -ENOMEM, "out of memory");
    }
    r = journal_record(j, rec, err);
    if (r < 0)
        return r;
    mpp_fault_point("attach-sent");

    const mpp_mount *first = &mounts[sel[0]];
    char what[PATH_MAX * 2 + 64];
    snprintf(what, sizeof(what), "%s -> %s%s", mount_source(first), strempty(first->destination),
             n_sel > 1 ? " (and other mounts)" : "");

    mpp_attach_request req = {.id = (char *)id, .mounts = req_mounts, .n_mounts = n_sel};
    mpp_attach_response resp = {0};
    long status = 0;
    mpp_error call_err = {0};
    const char *left = mpp_phase_enter("attach round trip");
    r = mpp_client_attach(p->client, &req, &resp, &status, &call_err);
    mpp_phase_enter(left);
    if (r < 0 || !resp.success) {
        /* Sent without a valid answer: the plugin may have done its work, so it stays
         * possibly attached (journaled as sent) and gets its detach; only a refusal it
         * answered, or a request that never left, is "refused". */
        bool unanswered = r < 0 && request_may_have_arrived(r);
        if (r < 0)
            r = mpp_error_set(err, r, "mount point plugin \"%s\" failed on %s: %s", p->name, what,
                              call_err.msg);
        else
            r = mpp_error_set(err, -EPERM, "mount point plugin \"%s\" denied %s: %s", p->name, what,
                              isempty(resp.err) ? "no reason given" : resp.err);
        mpp_attach_response_clear(&resp);
        json_t *ref = json_pack("{s:s, s:I, s:s}", "op", unanswered ? "unanswered" : "refused",
                                "clock", (json_int_t)clock, "error", err->msg);
        mpp_error jerr = {0};
        if (journal_record(j, ref, &jerr) == 0)
            mpp_fault_point(unanswered ? "attach-unanswered" : "attach-refused");
        json_decref(ref);
        return r;
    }

    /* Positional answers: element k answers the k-th selected mount; extras are ignored and a
     * missing element means "not attached". */
    _cleanup_(json_decrefp) json_t *done =
        json_pack("{s:s, s:I, s:[]}", "op", "attached", "clock", (json_int_t)clock, "entries");
    if (!done) {
        mpp_attach_response_clear(&resp);
        return mpp_error_set(err, -ENOMEM, "out of memory");
    }
    const char *bad = NULL;
    /* The roots its emergency actions may act on (see "The scope of emergency actions"). */
    _cleanup_free_ const char **roots = calloc(n_sel + 1, sizeof(*roots));
    size_t n_roots = 0;
    if (!roots) {
        mpp_attach_response_clear(&resp);
        return mpp_error_set(err, -ENOMEM, "out of memory");
    }
    if (scope_root_acceptable(resp.state_dir))
        roots[n_roots++] = resp.state_dir;
    if (!isempty(resp.state_dir) &&
        json_object_set_new(done, "state_dir", json_string(resp.state_dir)) < 0) {
        mpp_attach_response_clear(&resp);
        return mpp_error_set(err, -ENOMEM, "out of memory");
    }
    for (size_t k = 0; k < n_sel && k < resp.n_attachments; k++)
        if (resp.attachments[k].attach &&
            scope_root_acceptable(resp.attachments[k].changes.effective_source))
            roots[n_roots++] = resp.attachments[k].changes.effective_source;
    const mpp_action *bad_action = NULL;
    for (size_t k = 0; k < n_sel && k < resp.n_attachments; k++) {
        mpp_attachment *a = &resp.attachments[k];
        if (!a->attach)
            continue;
        for (size_t e = 0; e < a->n_emergency && !bad_action; e++)
            if (!action_in_scope(&a->emergency[e], roots, n_roots))
                bad_action = &a->emergency[e];
        if (!isempty(a->changes.effective_source) &&
            !source_path_acceptable(a->changes.effective_source) && !bad)
            bad = a->changes.effective_source;
        json_t *e = json_pack("{s:I, s:o, s:o}", "mount", (json_int_t)sel[k], "changes",
                              mpp_changes_to_json(&a->changes), "emergency",
                              mpp_actions_to_json(a->emergency, a->n_emergency));
        if (!e || json_array_append_new(json_object_get(done, "entries"), e) < 0) {
            mpp_attach_response_clear(&resp);
            return mpp_error_set(err, -ENOMEM, "out of memory");
        }
    }
    r = journal_record(j, done, err);
    if (r < 0) {
        mpp_attach_response_clear(&resp);
        return r;
    }
    mpp_fault_point("attach-answered");

    /* Recorded as attached even when the answer is unusable, so that it gets its detach. */
    if (bad) {
        r = mpp_error_set(err, -EINVAL,
                          "mount point plugin \"%s\" answered an invalid EffectiveSource \"%s\" "
                          "for %s: it must be an absolute, clean path",
                          p->name, bad, what);
        mpp_attach_response_clear(&resp);
        return r;
    }
    if (!isempty(resp.state_dir) && !scope_root_acceptable(resp.state_dir)) {
        r = mpp_error_set(err, -EINVAL,
                          "mount point plugin \"%s\" answered an invalid StateDir \"%s\" for %s: "
                          "it must be an absolute, clean path other than /",
                          p->name, resp.state_dir, what);
        mpp_attach_response_clear(&resp);
        return r;
    }
    if (bad_action) {
        r = mpp_error_set(err, -EPERM,
                          "mount point plugin \"%s\" answered an emergency %s of \"%s\" for %s: "
                          "refused, emergency actions may only act on the EffectiveSources the "
                          "plugin returned for this container, on its StateDir, and below them "
                          "(absolute, clean paths)",
                          p->name, mpp_action_kind_to_string(bad_action->kind),
                          strempty(bad_action->arg), what);
        mpp_attach_response_clear(&resp);
        return r;
    }
    for (size_t k = 0; k < n_sel && k < resp.n_attachments; k++) {
        if (!resp.attachments[k].attach)
            continue;
        r = mount_apply_changes(&mounts[sel[k]], p->name, &resp.attachments[k].changes);
        if (r < 0) {
            mpp_attach_response_clear(&resp);
            return mpp_error_set(err, r, "out of memory");
        }
        /* A new EffectiveSource is pinned before a later plugin judges it. */
        if (c->source_hook && !isempty(resp.attachments[k].changes.effective_source)) {
            r = c->source_hook(c->source_hook_data, sel[k], &mounts[sel[k]], p->name, err);
            if (r < 0) {
                mpp_attach_response_clear(&resp);
                return r;
            }
        }
    }
    mpp_attach_response_clear(&resp);
    return 0;
}

void mpp_chain_set_source_hook(mpp_chain *c, mpp_chain_source_hook hook, void *userdata)
{
    c->source_hook = hook;
    c->source_hook_data = userdata;
}

size_t mpp_chain_consulted(const mpp_chain *c)
{
    return c->consulted;
}

const mpp_config *mpp_chain_config(const mpp_chain *c)
{
    return &c->cfg;
}

/* Before matching: a mount's EffectiveSource starts as its Source. */
static int mounts_prepare(mpp_mount *mounts, size_t n_mounts, mpp_error *err)
{
    for (size_t i = 0; i < n_mounts; i++) {
        if (isempty(mounts[i].effective_source)) {
            free(mounts[i].effective_source);
            mounts[i].effective_source = strdup(strempty(mounts[i].source));
            if (!mounts[i].effective_source)
                return mpp_error_set(err, -ENOMEM, "out of memory");
        }
    }
    return 0;
}

int mpp_chain_attach(mpp_chain *c, const char *id, mpp_mount *mounts, size_t n_mounts,
                     mpp_error *err)
{
    /* Patterns first: a plugin that cannot be reached fails the start before anything is
     * journaled (it would be consulted for nothing when its cache is valid). */
    int r;
    c->consulted = 0;
    if (c->n_configured == 0)
        return 0;
    r = mounts_prepare(mounts, n_mounts, err);
    if (r < 0)
        return r;

    if (!mpp_container_id_valid(id))
        return mpp_error_set(err, -EINVAL,
                             "invalid container ID \"%.64s\": expected 1 to 1024 of "
                             "[A-Za-z0-9_.-]",
                             strempty(id));
    /* Leftover state under this ID would be overwritten: refuse, even if no plugin selects a
     * mount this time. */
    char path[PATH_MAX];
    mpp_container_state_path(c->cfg.state_dir, id, NULL, path, sizeof(path));
    if (access(path, F_OK) == 0)
        return mpp_error_set(err, -EEXIST,
                             "container %s already has mount point plugin state in %s (an "
                             "earlier teardown did not finish: run `mppctl recover %s`)",
                             id, path, id);
    /* No mount that any plugin could be shown (only /proc, /dev, /sys and the like): nothing
     * to ask, not even the patterns. */
    if (n_mounts == 0)
        return 0;

    for (size_t i = 0; i < c->n_configured; i++) {
        r = plugin_patterns(c, &c->plugins[i], err);
        if (r < 0)
            return r;
    }

    /* What matching needs of each mount, worked out once for every plugin. The array must
     * not move while ms lives: plugins change only the effective fields, in place. */
    _cleanup_(mpp_mount_set_freep) mpp_mount_set *ms = NULL;
    r = mpp_mount_set_new(mounts, n_mounts, &ms, err);
    if (r < 0)
        return r;
    _cleanup_(mpp_journal_closep) mpp_journal *j = NULL;
    for (size_t i = 0; i < c->n_configured; i++) {
        r = attach_one(c, &j, id, &c->plugins[i], (unsigned)(i + 1), mounts, ms, n_mounts, err);
        if (r < 0 && !j)
            return r;
        if (r < 0) {
            /* Unwind what is attached; the caller sees the attach error, with any teardown
             * error after it. */
            mpp_teardown t = {0};
            mpp_error uerr = {0};
            int u = unwind(c, j, id, -1, 0, &t, &uerr);
            if (u < 0 || t.failed) {
                char extra[MPP_ERROR_MSG_MAX];
                snprintf(extra, sizeof(extra), "%s",
                         u < 0 ? uerr.msg : (t.n_errors ? t.errors[0] : "teardown failed"));
                mpp_error_append(err, "; and tearing down: %s", extra);
            }
            if (u >= 0 && !t.complete) {
                size_t len = strlen(err->msg);
                snprintf(err->msg + len, sizeof(err->msg) - len,
                         " (the teardown is incomplete: run `mppctl recover %s`)", id);
            }
            mpp_teardown_clear(&t);
            return r;
        }
    }
    /* Asked but nothing attached: no teardown will be needed, so keep no state. */
    if (j) {
        mpp_phase_enter("journal");
        mpp_jstate st;
        r = mpp_jstate_load(j, &st, err);
        if (r < 0)
            return r;
        bool attached = mpp_jstate_next_detach(&st) != NULL;
        mpp_jstate_clear(&st);
        if (!attached)
            return mpp_journal_remove(j, err);
    }
    return 0;
}

/* ---- Dry run (mppctl): the chain's own discovery, patterns and selection, no Attach ---- */

void mpp_plugin_probe_clear(mpp_plugin_probe *p)
{
    if (!p)
        return;
    free(p->error);
    memset(p, 0, sizeof(*p));
}

void mpp_plugin_probes_free(mpp_plugin_probe *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        mpp_plugin_probe_clear(&v[i]);
    free(v);
}

/* The probe stops at the first failure, which it keeps. */
static int probe_stop(mpp_plugin_probe *out, const mpp_error *e, mpp_error *err)
{
    out->error = strdup(e->msg);
    return out->error ? 0 : mpp_error_set(err, -ENOMEM, "out of memory");
}

static void probe_patterns(mpp_plugin_probe *out, const chain_plugin *p)
{
    out->patterns_from = p->patterns_cached ? "cache" : "plugin";
    out->patterns = p->patterns;
    out->n_patterns = p->n_patterns;
}

int mpp_chain_probe(mpp_chain *c, size_t i, unsigned flags, mpp_plugin_probe *out, mpp_error *err)
{
    memset(out, 0, sizeof(*out));
    if (i >= c->n_configured)
        return mpp_error_set(err, -EINVAL, "the chain has %zu plugins, not %zu", c->n_configured,
                             i + 1);
    chain_plugin *p = &c->plugins[i];
    out->name = p->name;
    mpp_error e = {0};
    if (plugin_discover(c, p, &e) < 0)
        return probe_stop(out, &e, err);
    out->discovered = true;
    out->addr = &p->addr;

    /* As plugin_patterns() finds them, but nothing is stored: a dry run writes no state. A
     * plugin whose identity cannot be read has no valid cache entry: Activate says why. */
    _cleanup_free_ char *identity = NULL;
    if (!p->have_patterns)
        (void)plugin_cached_patterns(c, p, &identity, &e);
    if (p->have_patterns)
        probe_patterns(out, p);
    if (p->have_patterns && !(flags & MPP_PROBE_ACTIVATE))
        return 0;

    out->activated = true;
    if (plugin_connect(c, p, &e) < 0 || mpp_client_activate(p->client, &e) < 0)
        return probe_stop(out, &e, err);
    out->answers = true;
    if (!p->have_patterns) {
        if (plugin_ask_patterns(p, &e) < 0)
            return probe_stop(out, &e, err);
        probe_patterns(out, p);
    }
    return 0;
}

int mpp_chain_select(mpp_chain *c, mpp_mount *mounts, size_t n_mounts, unsigned flags,
                     mpp_plugin_probe **probes, size_t *n_probes, int **match, mpp_error *err)
{
    *probes = NULL;
    *n_probes = 0;
    *match = NULL;
    size_t n = c->n_configured;
    mpp_plugin_probe *pv = calloc(n ? n : 1, sizeof(*pv));
    _cleanup_free_ int *mv = calloc(n ? n : 1, (n_mounts ? n_mounts : 1) * sizeof(*mv));
    _cleanup_free_ size_t *sel = calloc(n_mounts ? n_mounts : 1, sizeof(*sel));
    if (!pv || !mv || !sel) {
        free(pv);
        return mpp_error_set(err, -ENOMEM, "out of memory");
    }
    /* From here on as mpp_chain_attach() up to its first Attach, for every plugin. */
    int r = mounts_prepare(mounts, n_mounts, err);
    _cleanup_(mpp_mount_set_freep) mpp_mount_set *ms = NULL;
    if (r >= 0)
        r = mpp_mount_set_new(mounts, n_mounts, &ms, err);
    for (size_t k = 0; r >= 0 && k < n; k++) {
        int *row = &mv[k * n_mounts];
        r = mpp_chain_probe(c, k, flags, &pv[k], err);
        if (r < 0)
            break;
        if (!pv[k].patterns_from) {
            for (size_t i = 0; i < n_mounts; i++)
                row[i] = -1;
            continue;
        }
        size_t n_sel = 0;
        r = plugin_select(&c->plugins[k], ms, n_mounts, sel, &n_sel, row, err);
    }
    if (r < 0) {
        mpp_plugin_probes_free(pv, n);
        return r;
    }
    *probes = pv;
    *n_probes = n;
    *match = TAKE_PTR(mv);
    return 0;
}

/* ---- The scope of emergency actions: the run side ---- */

static int openat2_fd(int dfd, const char *path, uint64_t flags, uint64_t resolve)
{
    struct open_how how = {.flags = flags | O_CLOEXEC, .resolve = resolve};
    int fd = (int)syscall(SYS_openat2, dfd, path, &how, sizeof(how));
    return fd < 0 ? -errno : fd;
}

#define SCOPE_RESOLVE (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)

/* Remove or unmount path, which is root or lies below it. Below root nothing is followed: the
 * path is resolved from a descriptor of root with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS, so a
 * symlink swapped into any component (e.g. by the container, which writes in its mounts) is
 * refused rather than followed. The way to root itself is resolved as any path: the plugin
 * named it, and a container sees only what lies below its mounts' sources. Returns 0 when done
 * or when there is nothing to do (absent; not a mount point), -ELOOP for a symlink on the way
 * or at the end, other negative errno on failure. */
static int scoped_action(mpp_action_kind kind, const char *root, const char *path)
{
    const char *rel = path + strlen(root);
    while (*rel == '/')
        rel++;
    char dir[PATH_MAX];
    const char *name;
    _cleanup_close_ int dfd = -1;
    if (*rel == '\0') {
        /* The root itself: found by its name in its parent, which is not followed. */
        const char *slash = strrchr(root, '/');
        name = slash + 1;
        size_t n = slash == root ? 1 : (size_t)(slash - root);
        if (n >= sizeof(dir))
            return -ENAMETOOLONG;
        memcpy(dir, root, n);
        dir[n] = '\0';
        dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
            return errno == ENOENT ? 0 : -errno;
    } else {
        _cleanup_close_ int rfd = open(root, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (rfd < 0)
            return errno == ENOENT ? 0 : -errno;
        const char *slash = strrchr(rel, '/');
        name = slash ? slash + 1 : rel;
        if (!slash) {
            dfd = TAKE_FD(rfd);
        } else {
            size_t n = (size_t)(slash - rel);
            if (n >= sizeof(dir))
                return -ENAMETOOLONG;
            memcpy(dir, rel, n);
            dir[n] = '\0';
            dfd = openat2_fd(rfd, dir, O_PATH | O_DIRECTORY, SCOPE_RESOLVE);
            if (dfd < 0)
                return dfd == -ENOENT ? 0 : dfd;
        }
    }

    if (kind == MPP_ACTION_REMOVE) {
        /* Not recursive: a plugin's answer must not make root delete a tree. unlinkat never
         * follows the last component. */
        int r = unlinkat(dfd, name, 0);
        if (r < 0 && errno == EISDIR)
            r = unlinkat(dfd, name, AT_REMOVEDIR);
        return r < 0 && errno != ENOENT ? -errno : 0;
    }

    /* Unmount exactly the mount found at that path: through its descriptor, so that nothing
     * swapped in after the lookup can redirect the unmount. */
    _cleanup_close_ int fd = openat2_fd(dfd, name, O_PATH | O_NOFOLLOW, SCOPE_RESOLVE);
    if (fd < 0)
        return fd == -ENOENT ? 0 : fd;
    struct statx stx;
    if (statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_TYPE, &stx) < 0)
        return -errno;
    if (S_ISLNK(stx.stx_mode))
        return -ELOOP;
    if (!(stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT))
        return -EOPNOTSUPP;
    if (!(stx.stx_attributes & STATX_ATTR_MOUNT_ROOT))
        return 0; /* not a mount point: nothing to unmount */
    char proc[64];
    snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
    if (umount2(proc, MNT_DETACH) < 0 && errno != EINVAL)
        return -errno;
    return 0;
}

/* Emergency actions (protocol §4.2), run when a plugin cannot be reached for its detach. roots are
 * what its Remove and Unmount may act on (see "The scope of emergency actions"). */
static int run_action(const mpp_action *a, const char *plugin, const char *const *roots,
                      size_t n_roots, bool *halt, char **error, char **warning)
{
    char *msg = NULL;
    int r = 0;
    switch (a->kind) {
    case MPP_ACTION_REMOVE:
    case MPP_ACTION_UNMOUNT: {
        const char *path = strempty(a->arg);
        const char *kind = a->kind == MPP_ACTION_REMOVE ? "removal" : "unmount";
        if (!source_path_acceptable(path) || strcmp(path, "/") == 0) {
            r = asprintf(&msg, "plugin \"%s\": emergency %s of invalid path \"%s\" refused", plugin,
                         mpp_action_kind_to_string(a->kind), path);
            break;
        }
        const char *root = scope_root_of(path, roots, n_roots);
        if (!root) {
            r = asprintf(&msg,
                         "plugin \"%s\": emergency %s of %s refused: it is neither an "
                         "EffectiveSource the plugin returned for this container nor its StateDir, "
                         "nor below one",
                         plugin, kind, path);
            break;
        }
        int rr = scoped_action(a->kind, root, path);
        if (rr == -ELOOP)
            r = asprintf(&msg,
                         "plugin \"%s\": emergency %s of %s refused: a symbolic link is on the way "
                         "below %s (or at its end)",
                         plugin, kind, path, root);
        else if (rr < 0)
            r = asprintf(&msg, "plugin \"%s\": emergency %s of %s failed: %s", plugin, kind, path,
                         strerror(-rr));
        break;
    }
    case MPP_ACTION_WARNING:
        if (asprintf(warning, "plugin \"%s\": %s", plugin, strempty(a->arg)) < 0)
            *warning = NULL;
        return 0;
    case MPP_ACTION_ERROR:
        r = asprintf(&msg, "plugin \"%s\": %s", plugin, strempty(a->arg));
        break;
    case MPP_ACTION_FATAL:
        r = asprintf(&msg, "plugin \"%s\": %s", plugin, strempty(a->arg));
        *halt = true;
        break;
    }
    if (r < 0)
        return -ENOMEM;
    if (msg) {
        if (*error) {
            char *joined = NULL;
            if (asprintf(&joined, "%s; %s", *error, msg) < 0) {
                free(msg);
                return -ENOMEM;
            }
            free(*error);
            free(msg);
            *error = joined;
        } else
            *error = msg;
    }
    return 0;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One Detach, retried within detach_timeout_ms while the plugin cannot be reached or answers
 * non-200. Returns 0 when the plugin answered (see resp), negative when it never did. */
static int detach_call(mpp_chain *c, chain_plugin *p, const mpp_detach_request *req,
                       mpp_detach_response *resp, mpp_error *err)
{
    long long deadline = now_ms() + c->cfg.detach_timeout_ms;
    unsigned backoff = 50;
    int r;
    for (;;) {
        mpp_detach_response_clear(resp);
        long status = 0;
        r = plugin_patterns(c, p, err); /* a restarted plugin is initialized first */
        if (r >= 0) /* the connection is dropped after each detach (see detach_one) */
            r = plugin_connect(c, p, err);
        const char *left = mpp_phase_enter("detach round trip");
        if (r >= 0)
            r = mpp_client_detach(p->client, req, resp, &status, err);
        mpp_phase_enter(left);
        if (r >= 0 && status == 200)
            return 0;
        if (r >= 0)
            r = mpp_error_set(err, -EPROTO, "plugin \"%s\" answered HTTP %ld to its detach: %s",
                              p->name, status, strempty(resp->err));
        /* Reconnect from scratch next time: the plugin may come back on a new socket. */
        mpp_client_free(p->client);
        p->client = NULL;
        p->discovered = false;
        mpp_plugin_addr_clear(&p->addr);
        p->have_patterns = false;
        mpp_pattern_set_free(p->set);
        p->set = NULL;
        mpp_patterns_free(p->patterns, p->n_patterns);
        p->patterns = NULL;
        p->n_patterns = 0;
        if (now_ms() + backoff >= deadline)
            return r;
        usleep(backoff * 1000u);
        if (backoff < 1000)
            backoff *= 2;
    }
}

/* Replace the heap string *s (NULL is fine) with its escaped, bounded form. */
static int escape_in_place(char **s)
{
    if (!*s)
        return 0;
    char *e = mpp_escape_dup(*s, MPP_ERROR_MSG_MAX);
    if (!e)
        return -ENOMEM;
    free(*s);
    *s = e;
    return 0;
}

static int teardown_warn(mpp_teardown *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int teardown_warn(mpp_teardown *t, const char *fmt, ...)
{
    char **v = realloc(t->warnings, (t->n_warnings + 1) * sizeof(*v));
    if (!v)
        return -ENOMEM;
    t->warnings = v;
    va_list ap;
    va_start(ap, fmt);
    _cleanup_free_ char *raw = NULL;
    int n = vasprintf(&raw, fmt, ap);
    va_end(ap);
    /* Quotes plugins: one line, escaped (escape.h). */
    if (n < 0 || !(v[t->n_warnings] = mpp_escape_dup(raw, MPP_ERROR_MSG_MAX)))
        return -ENOMEM;
    t->n_warnings++;
    return 0;
}

static int detach_one(mpp_chain *c, mpp_journal *j, mpp_jstate *st, mpp_jplugin *jp,
                      int exit_status, mpp_teardown *t, mpp_error *err)
{
    chain_plugin *p = chain_plugin_by_name(c, jp->name, err);
    if (!p)
        return err->code;

    _cleanup_(json_decrefp) json_t *rec =
        json_pack("{s:s, s:I}", "op", "detach", "clock", (json_int_t)jp->clock);
    int r = journal_record(j, rec, err);
    if (r < 0)
        return r;
    mpp_fault_point("detach-sent");

    /* The mounts it attached, as it saw them. */
    _cleanup_free_ mpp_mount *mounts = calloc(jp->n_entries ? jp->n_entries : 1, sizeof(*mounts));
    if (!mounts)
        return mpp_error_set(err, -ENOMEM, "out of memory");
    size_t n = 0;
    for (size_t e = 0; e < jp->n_entries; e++)
        for (size_t s = 0; s < jp->n_sent; s++)
            if (jp->sent_index[s] == jp->entries[e].mount) {
                mounts[n++] = jp->sent[s];
                break;
            }
    mpp_detach_request req = {
        .id = st->id,
        .mounts = mounts,
        .n_mounts = n,
        .has_exit_status = exit_status >= 0,
        .exit_status = exit_status,
    };
    mpp_detach_response resp = {0};
    mpp_error call_err = {0};
    const char *outcome = "ok";
    _cleanup_free_ char *error = NULL, *warning = NULL;
    bool halt = false, retry = false;
    _cleanup_free_ const char **roots = NULL;
    size_t n_roots = 0;

    r = detach_call(c, p, &req, &resp, &call_err);
    /* One detach per plugin per teardown: its connection is not kept, so that a chain of many
     * plugins holds one plugin descriptor at a time, and a teardown at the limit completes. */
    mpp_client_free(p->client);
    p->client = NULL;
    if (r == 0 && resp.success) {
        outcome = "ok";
    } else if (r == 0) {
        outcome = resp.recoverable ? "recoverable" : "fatal";
        halt = !resp.recoverable;
        if (asprintf(&error, "mount point plugin \"%s\" failed to detach: %s", p->name,
                     isempty(resp.err) ? "no reason given" : resp.err) < 0)
            error = NULL;
    } else {
        /* Unreachable: its emergency actions stand in for it, mount by mount, on what it made
         * for this container (checked again: the journal is only a file). */
        outcome = "emergency";
        roots = calloc(jp->n_entries + 1, sizeof(*roots));
        if (!roots)
            return mpp_error_set(err, -ENOMEM, "out of memory");
        if (scope_root_acceptable(jp->state_dir))
            roots[n_roots++] = jp->state_dir;
        for (size_t e = 0; e < jp->n_entries; e++)
            if (scope_root_acceptable(jp->entries[e].changes.effective_source))
                roots[n_roots++] = jp->entries[e].changes.effective_source;
        if (teardown_warn(t,
                          "mount point plugin \"%s\" could not be reached for its detach "
                          "(%s): its emergency actions ran in its place",
                          p->name, call_err.msg) < 0)
            return mpp_error_set(err, -ENOMEM, "out of memory");
        for (size_t e = 0; e < jp->n_entries && !halt; e++) {
            mpp_jentry *je = &jp->entries[e];
            if (je->n_emergency == 0) {
                char *msg = NULL;
                if (asprintf(&msg,
                             "mount point plugin \"%s\" could not be detached (%s) and left no "
                             "emergency actions",
                             p->name, call_err.msg) >= 0) {
                    free(error);
                    error = msg;
                }
                /* Nothing stood in for it: it still holds its mounts, and is the first to be
                 * asked again when the teardown is resumed (mppctl recover). */
                halt = retry = true;
                break;
            }
            for (size_t k = 0; k < je->n_emergency && !halt; k++) {
                char *w = NULL;
                if (run_action(&je->emergency[k], p->name, roots, n_roots, &halt, &error, &w) < 0)
                    return mpp_error_set(err, -ENOMEM, "out of memory");
                if (w) {
                    if (teardown_warn(t, "%s", w) < 0) {
                        free(w);
                        return mpp_error_set(err, -ENOMEM, "out of memory");
                    }
                    free(warning);
                    warning = w;
                }
            }
        }
    }
    mpp_detach_response_clear(&resp);
    /* They quote the plugin and are shown and logged as they are journaled: one line each. */
    if (escape_in_place(&error) < 0 || escape_in_place(&warning) < 0)
        return mpp_error_set(err, -ENOMEM, "out of memory");

    _cleanup_(json_decrefp) json_t *done =
        json_pack("{s:s, s:I, s:s, s:b, s:b}", "op", "detached", "clock", (json_int_t)jp->clock,
                  "outcome", outcome, "halt", halt, "retry", retry);
    if (!done || (error && json_object_set_new(done, "error", json_string(error)) < 0) ||
        (warning && json_object_set_new(done, "warning", json_string(warning)) < 0))
        return mpp_error_set(err, -ENOMEM, "out of memory");
    r = journal_record(j, done, err);
    if (r < 0)
        return r;
    mpp_fault_point("detach-answered");

    if (!retry) {
        jp->state = MPP_JP_DETACHED;
        t->detached++;
    }
    if (halt)
        st->halted = true;
    return 0;
}

static int unwind(mpp_chain *c, mpp_journal *j, const char *id, int exit_status, unsigned flags,
                  mpp_teardown *t, mpp_error *err)
{
    memset(t, 0, sizeof(*t));
    mpp_jstate st;
    int r = mpp_jstate_load(j, &st, err);
    if (r < 0)
        return r;
    if (st.halted && (flags & MPP_DETACH_RESUME)) {
        _cleanup_(json_decrefp) json_t *rec = json_pack("{s:s}", "op", "resume");
        r = journal_record(j, rec, err);
        if (r < 0)
            goto out;
        st.halted = false;
    }
    while (!st.halted) {
        mpp_jplugin *jp = mpp_jstate_next_detach(&st);
        if (!jp)
            break;
        r = detach_one(c, j, &st, jp, exit_status, t, err);
        if (r < 0)
            goto out;
    }
    /* Errors recorded by earlier processes count too: the verdict is the container's. */
    mpp_jstate st2;
    r = mpp_jstate_load(j, &st2, err);
    if (r < 0)
        goto out;
    t->complete = mpp_jstate_next_detach(&st2) == NULL;
    t->failed = st2.n_errors > 0 || !t->complete;
    t->errors = TAKE_PTR(st2.errors);
    t->n_errors = st2.n_errors;
    st2.n_errors = 0;
    mpp_jstate_clear(&st2);
    r = t->complete ? mpp_journal_remove(j, err) : 0;
out:
    (void)id;
    mpp_jstate_clear(&st);
    return r;
}

int mpp_chain_detach(mpp_chain *c, const char *id, int exit_status, unsigned flags, mpp_teardown *t,
                     mpp_error *err)
{
    memset(t, 0, sizeof(*t));
    _cleanup_(mpp_journal_closep) mpp_journal *j = NULL;
    const char *left = mpp_phase_enter("journal");
    int r = mpp_journal_open(c->cfg.state_dir, id, &j, err);
    if (r >= 0)
        r = unwind(c, j, id, exit_status, flags, t, err);
    mpp_phase_enter(left);
    return r;
}

void mpp_teardown_clear(mpp_teardown *t)
{
    if (!t)
        return;
    mpp_strv_free(t->errors, t->n_errors);
    mpp_strv_free(t->warnings, t->n_warnings);
    memset(t, 0, sizeof(*t));
}

int mpp_exit_status_after_teardown(int status, bool teardown_failed)
{
    return (status == 0 && teardown_failed) ? 129 : status;
}

/* A container with a regular journal file (not one a crashed create left half made). */
static bool has_journal(const char *state_dir, const char *id)
{
    char path[PATH_MAX];
    struct stat st;
    return mpp_container_state_path(state_dir, id, "journal", path, sizeof(path)) > 0 &&
           lstat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int mpp_chain_list(const char *state_dir, char ***ids, size_t *n, mpp_error *err)
{
    return mpp_state_ids(state_dir, "containers", has_journal, ids, n, err);
}
