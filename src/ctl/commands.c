/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mppctl's commands. Each builds one JSON document for --json, or prints text as it goes. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include <mpp/mpp.h>

#include "ctl.h"
#include "macro.h"
#include "properties-cache.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(mpp_chain *, mpp_chain_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(mpp_bundle *, mpp_bundle_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(mpp_config *, mpp_config_clear)

static void emit(json_t *doc)
{
    _cleanup_free_ char *s = json_dumps(doc, JSON_INDENT(2));
    if (s)
        printf("%s\n", s);
    else
        fputs("mppctl: out of memory\n", stderr);
}

/* A failure before any output: the message on stderr, and {"error": …} for --json. */
static int fail(const ctl *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(const ctl *c, const char *fmt, ...)
{
    char msg[MPP_ERROR_MSG_MAX + 256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(stderr, "mppctl: %s\n", msg);
    if (c->json) {
        _cleanup_(json_decrefp) json_t *doc = json_pack("{s:s}", "error", msg);
        if (doc)
            emit(doc);
    }
    return CTL_FAILED;
}

static int load_config(const ctl *c, const char *path, mpp_config *cfg)
{
    mpp_error err = {0};
    if (mpp_config_load(path, cfg, &err) < 0) {
        fail(c, "%s", err.msg);
        return -1;
    }
    return 0;
}

static json_t *jstr(const char *s)
{
    return s ? json_string(s) : json_null();
}

static json_t *strv_json(char **v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

static json_t *pattern_json(const mpp_pattern *p)
{
    _cleanup_free_ char *text = NULL;
    if (mpp_encode_pattern(p, &text, NULL) < 0)
        return json_null();
    json_t *j = json_loads(text, 0, NULL);
    return j ? j : json_null();
}

/* What a plugin of the chain looks like from here: discovery, health, filters. */
typedef struct probe {
    const char *name;
    bool discovered;
    mpp_plugin_addr addr;
    char *discovery_error;
    bool activated; /* Plugin.Activate was tried */
    bool answers;
    char *activate_error;
    const char *from; /* "cache", "plugin", or NULL when the patterns are unknown */
    mpp_pattern *patterns;
    size_t n_patterns;
    char *patterns_error;
} probe;

static void probe_clear(probe *p)
{
    mpp_plugin_addr_clear(&p->addr);
    free(p->discovery_error);
    free(p->activate_error);
    free(p->patterns_error);
    mpp_patterns_free(p->patterns, p->n_patterns);
    memset(p, 0, sizeof(*p));
}

static void probes_free(probe *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        probe_clear(&v[i]);
    free(v);
}

/* always_activate: check health even when the properties cache makes asking unnecessary. */
static void probe_run(const mpp_config *cfg, probe *p, bool always_activate)
{
    mpp_error err = {0};
    const char *bad = mpp_plugin_name_problem(p->name);
    if (bad) {
        if (asprintf(&p->discovery_error, "invalid plugin name \"%s\": %s", p->name, bad) < 0)
            p->discovery_error = NULL;
        return;
    }
    if (mpp_discover(p->name, cfg->plugin_dirs, cfg->n_plugin_dirs, &p->addr, &err) < 0) {
        p->discovery_error = strdup(err.msg);
        return;
    }
    p->discovered = true;

    _cleanup_free_ char *identity = NULL;
    if (mpp_plugin_identity(&p->addr, &identity, NULL) >= 0 &&
        mpp_properties_cache_load(cfg->state_dir, p->name, identity, cfg->digest, &p->patterns,
                                  &p->n_patterns) > 0)
        p->from = "cache";
    if (p->from && !always_activate)
        return;

    mpp_client_options o = {
        .timeout_ms = cfg->call_timeout_ms,
        .max_response_bytes = cfg->max_response_bytes,
    };
    mpp_client *client = NULL;
    p->activated = true;
    if (mpp_client_new(&p->addr, &o, &client, &err) < 0 || mpp_client_activate(client, &err) < 0) {
        p->activate_error = strdup(err.msg);
        mpp_client_free(client);
        return;
    }
    p->answers = true;
    if (!p->from) {
        mpp_properties_response resp = {0};
        long status = 0;
        if (mpp_client_properties(client, &resp, &status, &err) < 0) {
            p->patterns_error = strdup(err.msg);
        } else if (!resp.success) {
            if (asprintf(&p->patterns_error, "plugin \"%s\" failed to give its properties: %s",
                         p->name, isempty(resp.err) ? "no reason given" : resp.err) < 0)
                p->patterns_error = NULL;
        } else {
            p->patterns = TAKE_PTR(resp.patterns);
            p->n_patterns = resp.n_patterns;
            resp.n_patterns = 0;
            p->from = "plugin";
        }
        mpp_properties_response_clear(&resp);
    }
    mpp_client_free(client);
}

static probe *probe_chain(const mpp_config *cfg, bool always_activate)
{
    probe *v = calloc(cfg->n_plugins ? cfg->n_plugins : 1, sizeof(*v));
    for (size_t i = 0; v && i < cfg->n_plugins; i++) {
        v[i].name = cfg->plugins[i];
        probe_run(cfg, &v[i], always_activate);
    }
    return v;
}

static json_t *addr_json(const probe *p)
{
    if (!p->discovered)
        return json_null();
    return p->addr.kind == MPP_ADDR_UNIX
               ? json_pack("{s:s, s:s?, s:s?}", "kind", "unix", "path", p->addr.path, "found_at",
                           p->addr.found_at)
               : json_pack("{s:s, s:s?, s:s?}", "kind", "tcp", "host_port", p->addr.host_port,
                           "found_at", p->addr.found_at);
}

static void addr_text(const probe *p, char *buf, size_t size)
{
    if (p->addr.kind == MPP_ADDR_UNIX)
        snprintf(buf, size, "unix:%s", strempty(p->addr.path));
    else
        snprintf(buf, size, "tcp:%s", strempty(p->addr.host_port));
    if (p->addr.found_at && (!p->addr.path || strcmp(p->addr.found_at, p->addr.path) != 0)) {
        size_t len = strlen(buf);
        snprintf(buf + len, size - len, " (from %s)", p->addr.found_at);
    }
}

/* plugins */

int ctl_plugins(const ctl *c)
{
    _cleanup_(mpp_config_clearp) mpp_config *cfg = &(mpp_config){0};
    if (load_config(c, c->config_path, cfg) < 0)
        return CTL_FAILED;
    probe *probes = probe_chain(cfg, true);
    if (!probes)
        return fail(c, "out of memory");

    int ret = CTL_OK;
    _cleanup_(json_decrefp) json_t *doc = json_pack("{s:s?, s:[]}", "config", cfg->path, "plugins");
    if (!c->json && cfg->n_plugins == 0)
        printf("no plugins configured (%s)\n", cfg->path ? cfg->path : "default configuration");
    for (size_t i = 0; i < cfg->n_plugins; i++) {
        probe *p = &probes[i];
        if (!p->answers)
            ret = CTL_FAILED;
        const char *problem = p->discovery_error ? p->discovery_error : p->activate_error;
        if (c->json) {
            json_t *pats = json_array();
            for (size_t k = 0; pats && k < p->n_patterns; k++)
                json_array_append_new(pats, pattern_json(&p->patterns[k]));
            json_t *o =
                json_pack("{s:I, s:s, s:o, s:b, s:s?, s:s?, s:o, s:s?}", "position",
                          (json_int_t)(i + 1), "name", p->name, "address", addr_json(p), "answers",
                          p->answers, "error", problem, "filters_from", p->from, "filters",
                          p->from ? pats : json_null(), "filters_error", p->patterns_error);
            if (!p->from)
                json_decref(pats);
            json_array_append_new(json_object_get(doc, "plugins"), o);
            continue;
        }
        printf("%zu. %s\n", i + 1, p->name);
        if (p->discovered) {
            char addr[PATH_MAX * 2 + 64];
            addr_text(p, addr, sizeof(addr));
            printf("   address: %s\n", addr);
        } else {
            printf("   address: not found: %s\n", p->discovery_error);
        }
        if (p->activated)
            printf("   answers: %s\n", p->answers ? "yes" : "no");
        if (p->activate_error)
            printf("   error:   %s\n", p->activate_error);
        if (p->from) {
            printf("   filters (%zu, from %s):%s\n", p->n_patterns,
                   strcmp(p->from, "cache") == 0 ? "the properties cache" : "the plugin",
                   p->n_patterns == 0 ? " none, it is never consulted" : "");
            for (size_t k = 0; k < p->n_patterns; k++) {
                _cleanup_free_ char *text = NULL;
                mpp_encode_pattern(&p->patterns[k], &text, NULL);
                printf("     #%zu %s%s\n", k, strempty(text),
                       text && strcmp(text, "{}") == 0 ? " (every mount)" : "");
            }
        } else if (p->patterns_error) {
            printf("   filters: unknown: %s\n", p->patterns_error);
        } else if (p->discovered) {
            printf("   filters: unknown (not cached, and the plugin does not answer)\n");
        }
    }
    if (c->json)
        emit(doc);
    probes_free(probes, cfg->n_plugins);
    return ret;
}

/* ps */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static json_t *container_json(const mpp_container_state *s)
{
    json_t *plugins = json_array(), *mounts = json_array();
    for (size_t i = 0; plugins && i < s->n_plugins; i++)
        json_array_append_new(plugins,
                              json_pack("{s:I, s:s, s:s}", "clock", (json_int_t)s->plugins[i].clock,
                                        "plugin", s->plugins[i].plugin, "state",
                                        mpp_plugin_hold_to_string(s->plugins[i].hold)));
    for (size_t i = 0; mounts && i < s->n_mount_stacks; i++) {
        const mpp_mount_stack *m = &s->mounts[i];
        json_t *stack = json_array();
        for (size_t k = 0; stack && k < m->n_entries; k++) {
            const mpp_stack_entry *e = &m->entries[k];
            json_array_append_new(
                stack, json_pack("{s:I, s:s, s:s, s:{s:s?, s:s?}}", "clock", (json_int_t)e->clock,
                                 "plugin", e->plugin, "state", mpp_plugin_hold_to_string(e->hold),
                                 "changes", "EffectiveSource", e->changes.effective_source,
                                 "EffectiveConsistency", e->changes.effective_consistency));
        }
        json_array_append_new(mounts,
                              json_pack("{s:I, s:o, s:o, s:o}", "index", (json_int_t)m->index,
                                        "source", jstr(m->source), "destination",
                                        jstr(m->destination), "stack", stack));
    }
    return json_pack("{s:s, s:s, s:s, s:b, s:I, s:o, s:o, s:o, s:o}", "id", s->id, "journal",
                     s->journal, "teardown", mpp_teardown_state_to_string(s->teardown), "busy",
                     s->busy, "n_mounts", (json_int_t)s->n_mounts, "plugins", plugins, "mounts",
                     mounts, "errors", strv_json(s->errors, s->n_errors), "warnings",
                     strv_json(s->warnings, s->n_warnings));
}

static void container_text(const mpp_container_state *s)
{
    size_t held = 0;
    for (size_t i = 0; i < s->n_plugins; i++)
        held += s->plugins[i].hold == MPP_HOLD_SENT || s->plugins[i].hold == MPP_HOLD_ATTACHED ||
                s->plugins[i].hold == MPP_HOLD_DETACHING;
    printf("%s  teardown: %s%s  (%zu of %zu plugins still attached)\n", s->id,
           mpp_teardown_state_to_string(s->teardown), s->busy ? ", in progress" : "", held,
           s->n_plugins);
    for (size_t i = 0; i < s->n_mount_stacks; i++) {
        const mpp_mount_stack *m = &s->mounts[i];
        printf("  mount %zu: %s -> %s\n", m->index, strempty(m->source), strempty(m->destination));
        for (size_t k = 0; k < m->n_entries; k++) {
            const mpp_stack_entry *e = &m->entries[k];
            printf("    %u %-16s %-10s", e->clock, e->plugin, mpp_plugin_hold_to_string(e->hold));
            if (!isempty(e->changes.effective_source))
                printf(" EffectiveSource=%s", e->changes.effective_source);
            if (!isempty(e->changes.effective_consistency))
                printf(" EffectiveConsistency=%s", e->changes.effective_consistency);
            putchar('\n');
        }
    }
    for (size_t i = 0; i < s->n_plugins; i++)
        if (s->plugins[i].hold == MPP_HOLD_REFUSED)
            printf("  %u %s refused or attached nothing\n", s->plugins[i].clock,
                   s->plugins[i].plugin);
    for (size_t i = 0; i < s->n_errors; i++)
        printf("  error: %s\n", s->errors[i]);
    for (size_t i = 0; i < s->n_warnings; i++)
        printf("  warning: %s\n", s->warnings[i]);
    if (s->teardown == MPP_TEARDOWN_HALTED)
        printf("  halted: run `mppctl recover %s` once the failing plugin is fixed\n", s->id);
}

int ctl_ps(const ctl *c)
{
    _cleanup_(mpp_config_clearp) mpp_config *cfg = &(mpp_config){0};
    if (load_config(c, c->config_path, cfg) < 0)
        return CTL_FAILED;
    mpp_error err = {0};
    char **ids = NULL;
    size_t n = 0;
    if (mpp_chain_list(cfg->state_dir, &ids, &n, &err) < 0)
        return fail(c, "%s", err.msg);
    if (n > 1)
        qsort(ids, n, sizeof(*ids), cmp_str);

    const char *only = c->n_args ? c->args[0] : NULL;
    if (only && !mpp_container_has_state(cfg->state_dir, only)) {
        mpp_strv_free(ids, n);
        return fail(c, "container %s has no mount point plugin state in %s", only, cfg->state_dir);
    }
    int ret = CTL_OK;
    _cleanup_(json_decrefp) json_t *doc =
        json_pack("{s:s, s:[]}", "state_dir", cfg->state_dir, "containers");
    size_t shown = 0;
    for (size_t i = 0; i < n; i++) {
        if (only && strcmp(ids[i], only) != 0)
            continue;
        mpp_container_state s;
        int r = mpp_container_describe(cfg->state_dir, ids[i], &s, &err);
        if (r == -ENOENT)
            continue; /* torn down since it was listed */
        shown++;
        if (r < 0) {
            ret = CTL_FAILED;
            if (c->json)
                json_array_append_new(json_object_get(doc, "containers"),
                                      json_pack("{s:s, s:s}", "id", ids[i], "error", err.msg));
            else
                printf("%s  error: %s\n", ids[i], err.msg);
            fprintf(stderr, "mppctl: %s\n", err.msg);
            continue;
        }
        if (c->json)
            json_array_append_new(json_object_get(doc, "containers"), container_json(&s));
        else
            container_text(&s);
        mpp_container_state_clear(&s);
    }
    if (c->json)
        emit(doc);
    else if (shown == 0)
        printf("no containers with mount point plugin state in %s\n", cfg->state_dir);
    mpp_strv_free(ids, n);
    return ret;
}

/* explain */

/* A path (container IDs have no '/') or a directory holding config.json is a bundle; anything
 * else is taken for a container ID. */
static bool is_bundle_arg(const char *arg)
{
    char path[PATH_MAX];
    struct stat st;
    if (strchr(arg, '/'))
        return true;
    return snprintf(path, sizeof(path), "%s/config.json", arg) < (int)sizeof(path) &&
           stat(path, &st) == 0;
}

int ctl_explain(const ctl *c)
{
    const char *arg = c->args[0];
    _cleanup_(mpp_config_clearp) mpp_config *cfg = &(mpp_config){0};
    if (load_config(c, c->config_path, cfg) < 0)
        return CTL_FAILED;

    mpp_error err = {0};
    _cleanup_free_ char *from_runtime = NULL;
    const char *bundle_dir = arg, *id = NULL;
    char tmp[PATH_MAX];
    if (is_bundle_arg(arg)) {
        /* Engines name the bundle directory after the container: the adapters can then find
         * the engine's records of it. */
        snprintf(tmp, sizeof(tmp), "%s", arg);
        const char *base = basename(tmp);
        id = mpp_container_id_valid(base) ? base : NULL;
    } else {
        if (!mpp_container_id_valid(arg))
            return fail(c, "explain: %s is neither a bundle directory nor a container ID", arg);
        if (ctl_runtime_bundle(cfg, c->root, arg, &from_runtime, &err) < 0)
            return fail(c, "explain: %s", err.msg);
        bundle_dir = from_runtime;
        id = arg;
    }

    _cleanup_(mpp_bundle_freep) mpp_bundle *bundle = NULL;
    if (mpp_bundle_load(bundle_dir, &bundle, &err) < 0)
        return fail(c, "%s", err.msg);
    /* A bundle mpp-runtime already ran names its pinned sources: explain the ones they were. */
    char pin_dir[PATH_MAX];
    snprintf(pin_dir, sizeof(pin_dir), "%s/pins", cfg->state_dir);
    if (mpp_bundle_unpin(bundle, pin_dir, &err) < 0)
        return fail(c, "%s", err.msg);
    mpp_adapter_options o = {
        .container_id = id,
        .runtime_root = c->root,
        .bundle_dir = bundle_dir,
    };
    mpp_mount *mounts = NULL;
    _cleanup_free_ size_t *index = NULL;
    size_t n = 0;
    if (mpp_bundle_describe(bundle, &o, &mounts, &index, &n, &err) < 0)
        return fail(c, "%s", err.msg);
    /* As the chain does before matching. */
    for (size_t i = 0; i < n; i++)
        if (isempty(mounts[i].effective_source)) {
            free(mounts[i].effective_source);
            mounts[i].effective_source = strdup(strempty(mounts[i].source));
        }

    probe *probes = probe_chain(cfg, false);
    if (!probes) {
        mpp_mounts_free(mounts, n);
        return fail(c, "out of memory");
    }
    int ret = CTL_OK;
    _cleanup_(json_decrefp) json_t *doc =
        json_pack("{s:s, s:s?, s:[], s:[]}", "bundle", mpp_bundle_origin(bundle), "container",
                  o.container_id, "mounts", "plugins");
    if (!c->json)
        printf("%s: %zu interposable mount%s, %zu plugin%s in the chain\n",
               mpp_bundle_origin(bundle), n, n == 1 ? "" : "s", cfg->n_plugins,
               cfg->n_plugins == 1 ? "" : "s");

    _cleanup_free_ size_t *hits = calloc(cfg->n_plugins ? cfg->n_plugins : 1, sizeof(*hits));
    for (size_t i = 0; i < n && hits; i++) {
        const mpp_mount *m = &mounts[i];
        json_t *reach = json_array();
        if (!c->json)
            printf("mount %zu (mounts[%zu]): %s %s -> %s\n", i, index[i], strempty(m->type),
                   strempty(m->source), strempty(m->destination));
        for (size_t k = 0; k < cfg->n_plugins; k++) {
            probe *p = &probes[k];
            int match = p->from ? mpp_patterns_match(p->patterns, p->n_patterns, m) : -1;
            if (match >= 0)
                hits[k]++;
            if (c->json) {
                if (match >= 0)
                    json_array_append_new(
                        reach, json_pack("{s:s, s:i}", "plugin", p->name, "pattern", match));
                continue;
            }
            if (!p->from)
                printf("  %-16s unknown: its filters cannot be read\n", p->name);
            else if (match >= 0)
                printf("  %-16s consulted: pattern #%d matches\n", p->name, match);
            else
                printf("  %-16s not consulted: none of its %zu patterns matches\n", p->name,
                       p->n_patterns);
        }
        if (c->json)
            json_array_append_new(json_object_get(doc, "mounts"),
                                  json_pack("{s:I, s:I, s:o, s:o, s:o, s:o}", "mount",
                                            (json_int_t)i, "index", (json_int_t)index[i], "type",
                                            jstr(m->type), "source", jstr(m->source), "destination",
                                            jstr(m->destination), "plugins", reach));
        else
            json_decref(reach);
    }
    for (size_t k = 0; k < cfg->n_plugins; k++) {
        probe *p = &probes[k];
        const char *problem = p->discovery_error  ? p->discovery_error
                              : p->patterns_error ? p->patterns_error
                                                  : p->activate_error;
        if (!p->from) {
            ret = CTL_FAILED;
            fprintf(stderr, "mppctl: plugin \"%s\": %s\n", p->name, strempty(problem));
        }
        if (c->json)
            json_array_append_new(
                json_object_get(doc, "plugins"),
                json_pack("{s:s, s:s?, s:b, s:I, s:s?}", "name", p->name, "filters_from", p->from,
                          "consulted", hits && hits[k] > 0, "mounts",
                          (json_int_t)(hits ? hits[k] : 0), "error", p->from ? NULL : problem));
    }
    if (c->json)
        emit(doc);
    else
        printf("(patterns on AppliedMiddleware and EffectiveSource are matched as if no plugin "
               "before had changed the mount: mppctl does not call Attach)\n");
    probes_free(probes, cfg->n_plugins);
    mpp_mounts_free(mounts, n);
    return hits ? ret : fail(c, "out of memory");
}

/* recover */

/* Returns false when the container's teardown was not finished. */
static bool recover_one(const ctl *c, mpp_chain *chain, const char *id, json_t *list)
{
    mpp_teardown t = {0};
    mpp_error err = {0};
    int r = mpp_chain_detach(chain, id, -1, MPP_DETACH_RESUME, &t, &err);
    const char *result = r == -ENOENT ? "none"
                         : r < 0      ? "error"
                         : t.complete ? "complete"
                                      : "halted";
    if (c->json) {
        json_array_append_new(list, json_pack("{s:s, s:s, s:I, s:b, s:o, s:o, s:s?}", "id", id,
                                              "result", result, "detached", (json_int_t)t.detached,
                                              "failed", r >= 0 && t.failed, "errors",
                                              strv_json(t.errors, t.n_errors), "warnings",
                                              strv_json(t.warnings, t.n_warnings), "error",
                                              r < 0 && r != -ENOENT ? err.msg : NULL));
    } else if (r == -ENOENT) {
        printf("%s: nothing to recover (no mount point plugin state)\n", id);
    } else if (r < 0) {
        printf("%s: error: %s\n", id, err.msg);
    } else {
        printf("%s: teardown %s, %u plugin%s detached%s\n", id,
               t.complete ? "complete" : "halted again", t.detached, t.detached == 1 ? "" : "s",
               t.failed ? ", with errors:" : "");
        for (size_t i = 0; i < t.n_warnings; i++)
            printf("  warning: %s\n", t.warnings[i]);
        for (size_t i = 0; i < t.n_errors; i++)
            printf("  error: %s\n", t.errors[i]);
    }
    if (r < 0 && r != -ENOENT)
        fprintf(stderr, "mppctl: %s\n", err.msg);
    bool ok = r == -ENOENT || (r >= 0 && t.complete);
    mpp_teardown_clear(&t);
    return ok;
}

int ctl_recover(const ctl *c)
{
    if (c->all == (c->n_args == 1)) {
        fputs("mppctl: recover: give one container ID or --all\n", stderr);
        return CTL_USAGE;
    }
    if (!c->all && !mpp_container_id_valid(c->args[0])) {
        fprintf(stderr, "mppctl: recover: invalid container ID \"%s\"\n", c->args[0]);
        return CTL_USAGE;
    }
    _cleanup_(mpp_config_clearp) mpp_config *cfg = &(mpp_config){0};
    if (load_config(c, c->config_path, cfg) < 0)
        return CTL_FAILED;
    mpp_error err = {0};
    _cleanup_(mpp_chain_freep) mpp_chain *chain = NULL;
    if (mpp_chain_new(cfg, &chain, &err) < 0)
        return fail(c, "%s", err.msg);

    _cleanup_(json_decrefp) json_t *doc = json_pack("{s:[], s:[]}", "containers", "skipped");
    if (!c->all) {
        bool ok = recover_one(c, chain, c->args[0], json_object_get(doc, "containers"));
        if (c->json)
            emit(doc);
        return ok ? CTL_OK : CTL_FAILED;
    }

    char **ids = NULL;
    size_t n = 0;
    if (mpp_chain_list(cfg->state_dir, &ids, &n, &err) < 0)
        return fail(c, "%s", err.msg);
    if (n > 1)
        qsort(ids, n, sizeof(*ids), cmp_str);
    bool ok = true;
    size_t done = 0;
    for (size_t i = 0; i < n; i++) {
        /* A teardown never begun may belong to a running container: only an explicit ID
         * tears that down. */
        mpp_container_state s;
        int r = mpp_container_describe(cfg->state_dir, ids[i], &s, &err);
        if (r == -ENOENT)
            continue;
        bool running = r >= 0 && s.teardown == MPP_TEARDOWN_NOT_STARTED;
        mpp_container_state_clear(&s);
        if (running) {
            if (c->json)
                json_array_append_new(json_object_get(doc, "skipped"), json_string(ids[i]));
            else
                printf("%s: skipped: its teardown has not begun (the container may be running; "
                       "`mppctl recover %s` forces it)\n",
                       ids[i], ids[i]);
            continue;
        }
        done++;
        ok &= recover_one(c, chain, ids[i], json_object_get(doc, "containers"));
    }
    if (c->json)
        emit(doc);
    else if (done == 0)
        printf("no container left to recover in %s\n", cfg->state_dir);
    mpp_strv_free(ids, n);
    return ok ? CTL_OK : CTL_FAILED;
}

/* check-config */

typedef struct checks {
    const ctl *c;
    json_t *list;
    unsigned problems;
} checks;

static void check(checks *k, const char *what, bool ok, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void check(checks *k, const char *what, bool ok, const char *fmt, ...)
{
    char msg[MPP_ERROR_MSG_MAX + 256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (!ok)
        k->problems++;
    if (k->c->json)
        json_array_append_new(
            k->list, json_pack("{s:s, s:b, s:s}", "check", what, "ok", ok, "message", msg));
    else if (ok)
        printf("ok      %s: %s\n", what, msg);
    else
        printf("FAILED  %s: %s\n", what, msg);
}

/* What root reads or trusts must be root's alone: owned by uid 0 (or ours) and writable by no
 * group or other user. Returns a problem, or NULL. */
static const char *ownership_problem(const struct stat *st, char *buf, size_t size)
{
    if ((st->st_uid == 0 || st->st_uid == geteuid()) && !(st->st_mode & (S_IWGRP | S_IWOTH)))
        return NULL;
    snprintf(buf, size,
             "is owned by uid %u with mode %04o: it must be owned by root and writable by no "
             "one else",
             (unsigned)st->st_uid, (unsigned)(st->st_mode & 07777));
    return buf;
}

static void check_plugin_dirs(checks *k, const mpp_config *cfg)
{
    for (size_t i = 0; i < cfg->n_plugin_dirs; i++) {
        const char *dir = cfg->plugin_dirs[i];
        char buf[256];
        struct stat st;
        _cleanup_close_ int fd = open(dir, O_PATH | O_CLOEXEC);
        if (fd < 0 && errno == ENOENT)
            check(k, "plugin_dirs", true, "%s does not exist", dir);
        else if (fd < 0 || fstat(fd, &st) < 0)
            check(k, "plugin_dirs", false, "cannot check %s: %s", dir, strerror(errno));
        else if (!S_ISDIR(st.st_mode))
            check(k, "plugin_dirs", false, "%s is not a directory", dir);
        else if (ownership_problem(&st, buf, sizeof(buf)))
            check(k, "plugin_dirs", false, "%s %s (anyone who can write there can name a plugin)",
                  dir, buf);
        else
            check(k, "plugin_dirs", true, "%s", dir);
    }
}

static void check_state_dir(checks *k, const char *dir)
{
    struct stat st;
    mpp_error err = {0};
    if (!dir || dir[0] != '/') {
        check(k, "state_dir", false, "\"%s\" is not an absolute path", strempty(dir));
    } else if (mpp_state_dir_check(dir, &err) < 0) {
        check(k, "state_dir", false, "%s", err.msg);
    } else if (lstat(dir, &st) < 0) {
        if (errno == ENOENT)
            check(k, "state_dir", true, "%s does not exist yet (it is created with mode 0700)",
                  dir);
        else
            check(k, "state_dir", false, "cannot stat %s: %s", dir, strerror(errno));
    } else if (!S_ISDIR(st.st_mode)) {
        check(k, "state_dir", false, "%s is not a directory", dir);
    } else if (st.st_uid != geteuid() || (st.st_mode & 077)) {
        check(k, "state_dir", false,
              "%s must be owned by uid %u with mode 0700 (it is uid %u, mode %04o)", dir,
              (unsigned)geteuid(), (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
    } else {
        check(k, "state_dir", true, "%s", dir);
    }
}

int ctl_check_config(const ctl *c)
{
    const char *path = c->n_args ? c->args[0] : c->config_path;
    _cleanup_(mpp_config_clearp) mpp_config *cfg = &(mpp_config){0};
    mpp_error err = {0};
    _cleanup_(json_decrefp) json_t *doc = json_pack("{s:[]}", "checks");
    checks k = {.c = c, .list = json_object_get(doc, "checks")};

    if (mpp_config_load(path, cfg, &err) < 0) {
        check(&k, "config", false, "%s", err.msg);
    } else {
        check(&k, "config", true, "%s",
              cfg->path ? cfg->path : "no configuration file: the defaults apply");
        check_plugin_dirs(&k, cfg);
        if (cfg->n_plugins == 0)
            check(&k, "plugins", true, "no plugins configured: mpp-runtime is the real runtime");
        for (size_t i = 0; i < cfg->n_plugins; i++) {
            char what[256];
            snprintf(what, sizeof(what), "plugin \"%s\"", cfg->plugins[i]);
            probe p = {.name = cfg->plugins[i]};
            const char *bad = mpp_plugin_name_problem(p.name);
            if (bad) {
                check(&k, what, false, "invalid name: %s", bad);
                continue;
            }
            if (mpp_discover(p.name, cfg->plugin_dirs, cfg->n_plugin_dirs, &p.addr, &err) < 0) {
                check(&k, what, false, "%s", err.msg);
                continue;
            }
            p.discovered = true;
            char addr[PATH_MAX * 2 + 64];
            addr_text(&p, addr, sizeof(addr));
            check(&k, what, true, "found and trusted: %s", addr);
            probe_clear(&p);
        }
        check_state_dir(&k, cfg->state_dir);
        _cleanup_free_ char *rt = NULL;
        if (mpp_real_runtime(cfg, &rt, &err) < 0)
            check(&k, "runtime", false, "%s", err.msg);
        else
            check(&k, "runtime", true, "%s", rt);
    }
    if (c->json) {
        json_object_set_new(doc, "ok", json_boolean(k.problems == 0));
        emit(doc);
    }
    if (k.problems)
        fprintf(stderr, "mppctl: check-config: %u problem%s found\n", k.problems,
                k.problems == 1 ? "" : "s");
    return k.problems ? CTL_FAILED : CTL_OK;
}
