/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The verdict on one mount: rules in order, the first that decides wins; then the allow-lists
 * that applied, then the default. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <mpp/pattern.h>

#include "macro.h"
#include "policy.h"

/* Whether path is p or lies under it, component-wise. Both are clean. */
static bool path_under(const char *path, const char *p)
{
    if (strcmp(p, "/") == 0)
        return true;
    size_t n = strlen(p);
    return strncmp(path, p, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* The host path that path names once symlinks are followed. A path that does not exist yet
 * (mpp may create it) resolves through its longest existing ancestor: /link/new with /link ->
 * /etc is /etc/new. */
char *policy_resolve(const char *path)
{
    char *r = realpath(path, NULL);
    if (r || (errno != ENOENT && errno != ENOTDIR))
        return r;
    char buf[PATH_MAX];
    snprintf(buf, sizeof(buf), "%s", path);
    for (;;) {
        char *slash = strrchr(buf, '/');
        if (!slash || slash == buf)
            return strdup(path); /* only "/" exists: nothing to resolve */
        *slash = '\0';
        _cleanup_free_ char *base = realpath(buf, NULL);
        if (!base) {
            if (errno == ENOENT || errno == ENOTDIR)
                continue;
            return NULL;
        }
        char *out = NULL;
        const char *rest = path + (slash - buf);
        if (asprintf(&out, "%s%s", strcmp(base, "/") == 0 ? "" : base, rest) < 0)
            return NULL;
        return out;
    }
}

typedef struct candidate {
    const char *path;
    const char *via; /* the path it was resolved from, or NULL */
} candidate;

/* A source judged by identity, opened on first use. */
typedef struct source_object {
    const char *path; /* clean; NULL when there is none */
    bool opened;
    int error; /* from policy_object_open */
    policy_object o;
} source_object;

typedef struct verdict {
    const mpp_mount *m;
    const char *src;
    const char *dst;
    char **deny;
    source_object objs[2]; /* Source, EffectiveSource */
    policy_cache *cache;
} verdict;

static void verdict_clear(verdict *v)
{
    for (size_t i = 0; i < ELEMENTSOF(v->objs); i++)
        policy_object_clear(&v->objs[i].o);
}

void policy_cache_clear(policy_cache *c)
{
    for (size_t i = 0; i < c->n; i++)
        policy_object_clear(&c->v[i].o);
    free(c->v);
    policy_mountinfo_clear(&c->mounts);
    *c = (policy_cache){0};
}

/* The protected object at path, opened once per request: NULL with *error set, or (with
 * *error 0) the object, which may not exist. */
static const policy_object *protected_get(policy_cache *c, const char *path, int *error)
{
    for (size_t i = 0; i < c->n; i++)
        if (c->v[i].path == path || strcmp(c->v[i].path, path) == 0) {
            *error = c->v[i].error;
            return *error < 0 ? NULL : &c->v[i].o;
        }
    policy_cached *v = realloc(c->v, (c->n + 1) * sizeof(*v));
    if (!v) {
        *error = -ENOMEM;
        return NULL;
    }
    c->v = v;
    policy_cached *e = &c->v[c->n];
    *e = (policy_cached){.path = path};
    e->error = policy_object_open(path, &c->mounts, &e->o);
    if (e->error == -ENOMEM) {
        *error = e->error;
        return NULL; /* not kept: a later mount may try again */
    }
    c->n++;
    *error = e->error;
    return *error < 0 ? NULL : &e->o;
}

static int deny(verdict *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int deny(verdict *v, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = vasprintf(v->deny, fmt, ap);
    va_end(ap);
    if (r < 0) {
        *v->deny = NULL;
        return -ENOMEM;
    }
    return 1;
}

static void resolved_note(char *buf, size_t size, const candidate *c)
{
    if (c->via)
        snprintf(buf, size, " (%s resolves to %s)", c->via, c->path);
    else
        buf[0] = '\0';
}

typedef enum relation {
    UNRELATED,
    SAME,      /* the very object, under another name (bind mount, hard link) */
    INSIDE,    /* below it: one of the source's ancestors is it */
    EXPOSES,   /* the source is one of its ancestors, under another name */
    INSIDE_FS, /* below it in their file system: the source's mount shows a part of it */
    EXPOSES_FS,
    HARD_LINK,  /* a multiply linked file on its file system (deny_hard_links) */
    NEW_INSIDE, /* missing, and would be created inside it (its nearest ancestor is in it) */
} relation;

static relation relate(const policy_rule *r, const policy_object *s, const policy_object *p)
{
    if (!s->exists || !p->exists)
        return UNRELATED;
    if (s->below)
        return policy_object_has_ancestor(s, p) || policy_fspath_under(s, p) ? NEW_INSIDE
                                                                             : UNRELATED;
    if (s->dev == p->dev && s->ino == p->ino)
        return SAME;
    if (policy_object_has_ancestor(s, p))
        return INSIDE;
    if (policy_object_has_ancestor(p, s))
        return EXPOSES;
    if (policy_fspath_under(s, p))
        return INSIDE_FS;
    if (policy_fspath_under(p, s))
        return EXPOSES_FS;
    /* A hard link to a file inside a protected directory has no ancestry in it: it can only be
     * refused wholesale, by its link count. */
    if (r->deny_hard_links && p->is_dir && !s->is_dir && s->nlink > 1 && s->dev == p->dev)
        return HARD_LINK;
    return UNRELATED;
}

static const char *relation_text(relation rel)
{
    switch (rel) {
    case SAME:
        return "is the same file system object under another name (a bind mount or hard link)";
    case INSIDE:
        return "lies inside it, reached under another name (through a bind mount of it)";
    case EXPOSES:
        return "is one of its ancestor directories under another name (a bind mount), which "
               "exposes it";
    case INSIDE_FS:
        return "lies inside it on its file system (its mount is a bind mount of a directory "
               "inside it)";
    case EXPOSES_FS:
        return "is one of its ancestor directories on its file system (a bind mount), which "
               "exposes it";
    case HARD_LINK:
        return "is a file with several hard links on its file system, and a hard link may name "
               "a file inside it";
    case NEW_INSIDE:
        return "does not exist yet and would be created inside it, reached under another name";
    case UNRELATED:
        break;
    }
    return "";
}

/* Open the source (or effective source) i of the verdict on first use. */
static const policy_object *source_object_get(verdict *v, size_t i, int *error)
{
    source_object *so = &v->objs[i];
    *error = 0;
    if (!so->path)
        return NULL;
    if (!so->opened) {
        so->error = policy_object_open(so->path, &v->cache->mounts, &so->o);
        so->opened = true;
    }
    *error = so->error;
    return so->error < 0 ? NULL : &so->o;
}

/* The identity checks of a protect or read_only rule on n_objs sources: 1 (denied), 0, or a
 * negative errno (ENOMEM). */
static int rule_identity(verdict *v, const policy_rule *r, size_t n_objs, bool read_only_rule)
{
    for (size_t i = 0; i < n_objs; i++) {
        int e;
        const policy_object *s = source_object_get(v, i, &e);
        if (e == -ENOMEM)
            return e;
        if (e < 0)
            /* Fail closed: what cannot be identified cannot be shown not to be protected. */
            return deny(v,
                        "policy rule \"%s\" denies %s -> %s: cannot tell what %s is: %s; "
                        "retry, or mount a path that can be opened",
                        r->name, v->src, v->dst, v->objs[i].path,
                        e == -ESTALE ? "it was moved while being checked" : strerror(-e));
        if (!s)
            continue;
        for (size_t k = 0; k < r->n_paths; k++) {
            int k2;
            const policy_object *p = protected_get(v->cache, r->paths[k].path, &k2);
            if (k2 == -ENOMEM)
                return k2;
            if (k2 < 0)
                return deny(v,
                            "policy rule \"%s\" denies %s -> %s: cannot tell what the protected "
                            "%s is: %s",
                            r->name, v->src, v->dst, r->paths[k].path, strerror(-k2));
            if (p->below)
                continue; /* not there: judged by name only */
            relation rel = relate(r, s, p);
            if (rel == UNRELATED)
                continue;
            if (read_only_rule)
                return deny(v,
                            "policy rule \"%s\" denies the read-write mount %s -> %s: %s may "
                            "only be mounted read-only, and %s %s; add :ro (-v %s:%s:ro) or "
                            "readonly (--mount ...,readonly)",
                            r->name, v->src, v->dst, r->paths[k].path, v->objs[i].path,
                            relation_text(rel), v->src, v->dst);
            bool exposes = rel == EXPOSES || rel == EXPOSES_FS;
            return deny(v,
                        "policy rule \"%s\" denies %s -> %s: %s %s the protected %s: %s %s; "
                        "mount %s instead",
                        r->name, v->src, v->dst, v->objs[i].path,
                        exposes ? "exposes" : "is, or lies inside,", r->paths[k].path,
                        v->objs[i].path, relation_text(rel),
                        exposes ? "a subdirectory that holds no protected path"
                                : "a path outside it");
        }
    }
    return 0;
}

static int rule_protect(verdict *v, const policy_rule *r, const candidate *cs, size_t n)
{
    char note[2 * PATH_MAX + 32];
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < r->n_paths; k++) {
            const char *forms[] = {r->paths[k].path, r->paths[k].resolved};
            for (size_t f = 0; f < ELEMENTSOF(forms); f++) {
                const char *p = forms[f];
                if (!p)
                    continue;
                resolved_note(note, sizeof(note), &cs[i]);
                if (path_under(p, cs[i].path))
                    return deny(v,
                                "policy rule \"%s\" denies %s -> %s: it exposes %s%s; mount a "
                                "subdirectory that holds no protected path instead",
                                r->name, v->src, v->dst, r->paths[k].path, note);
                if (path_under(cs[i].path, p))
                    return deny(v,
                                "policy rule \"%s\" denies %s -> %s: %s is inside the protected "
                                "%s%s; mount a path outside it instead",
                                r->name, v->src, v->dst, cs[i].path, r->paths[k].path, note);
            }
        }
    return rule_identity(v, r, ELEMENTSOF(v->objs), false);
}

static bool under_any(const char *path, const policy_rule *r)
{
    for (size_t k = 0; k < r->n_paths; k++)
        if (path_under(path, r->paths[k].path) ||
            (r->paths[k].resolved && path_under(path, r->paths[k].resolved)))
            return true;
    return false;
}

static int rule_read_only(verdict *v, const policy_rule *r, const candidate *cs, size_t n)
{
    if (v->m->read_only)
        return 0;
    char note[2 * PATH_MAX + 32];
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < r->n_paths; k++) {
            const char *p = r->paths[k].path, *res = r->paths[k].resolved;
            bool hit = path_under(cs[i].path, p) || path_under(p, cs[i].path) ||
                       (res && (path_under(cs[i].path, res) || path_under(res, cs[i].path)));
            if (!hit)
                continue;
            resolved_note(note, sizeof(note), &cs[i]);
            return deny(v,
                        "policy rule \"%s\" denies the read-write mount %s -> %s: %s may only be "
                        "mounted read-only%s; add :ro (-v %s:%s:ro) or readonly (--mount "
                        "...,readonly)",
                        r->name, v->src, v->dst, p, note, v->src, v->dst);
        }
    return rule_identity(v, r, 1, true);
}

static int rule_require_existing(verdict *v, const policy_rule *r)
{
    struct stat st;
    if (stat(v->src, &st) == 0)
        return 0;
    if (errno != ENOENT && errno != ENOTDIR)
        return deny(v, "policy rule \"%s\" denies %s -> %s: cannot check that %s exists: %s",
                    r->name, v->src, v->dst, v->src, strerror(errno));
    return deny(v,
                "policy rule \"%s\" denies %s -> %s: %s does not exist and this host does not "
                "let mounts create their source; create it first or correct the path",
                r->name, v->src, v->dst, v->src);
}

int policy_decide(const policy_config *c, policy_cache *cache, const mpp_mount *m, char **deny_msg,
                  mpp_error *err)
{
    _cleanup_(policy_cache_clear) policy_cache local = {0};
    *deny_msg = NULL;
    char src[PATH_MAX], es[PATH_MAX];
    const char *raw_src = !isempty(m->source) ? m->source : m->effective_source;
    if (isempty(raw_src) || raw_src[0] != '/' || mpp_path_clean(raw_src, src, sizeof(src)) < 0)
        return asprintf(deny_msg,
                        "policy denies the mount to %s: its source \"%s\" is not an "
                        "absolute path",
                        strempty(m->destination), strempty(raw_src)) < 0
                   ? mpp_error_set(err, -ENOMEM, "out of memory")
                   : 0;
    bool has_es = !isempty(m->effective_source) && m->effective_source[0] == '/' &&
                  mpp_path_clean(m->effective_source, es, sizeof(es)) > 0 && strcmp(es, src) != 0;

    _cleanup_free_ char *src_res = policy_resolve(src);
    _cleanup_free_ char *es_res = has_es ? policy_resolve(es) : NULL;
    if (!src_res || (has_es && !es_res))
        return mpp_error_set(err, -errno ?: -ENOMEM, "cannot resolve %s: %s", src,
                             strerror(errno ?: ENOMEM));

    /* Source and effective source, as given and as the host resolves them. */
    candidate all[4];
    size_t n_all = 0;
    all[n_all++] = (candidate){src, NULL};
    if (strcmp(src_res, src) != 0)
        all[n_all++] = (candidate){src_res, src};
    size_t n_src = n_all;
    if (has_es) {
        all[n_all++] = (candidate){es, NULL};
        if (strcmp(es_res, es) != 0)
            all[n_all++] = (candidate){es_res, es};
    }

    _cleanup_(verdict_clear) verdict v = {.m = m,
                                          .src = src,
                                          .dst = strempty(m->destination),
                                          .deny = deny_msg,
                                          .objs = {{.path = src}, {.path = has_es ? es : NULL}},
                                          .cache = cache ? cache : &local};
    char allow_names[1024] = "", allow_paths[2048] = "";
    size_t an = 0, ap = 0;
    bool allow_applied = false;
    for (size_t i = 0; i < c->n_rules; i++) {
        const policy_rule *r = &c->rules[i];
        if (r->when.n > 0 && !mpp_strmap_patterns_match(&r->when, &m->container.labels))
            continue;
        int k = 0;
        switch (r->kind) {
        case POLICY_PROTECT:
            k = rule_protect(&v, r, all, n_all);
            break;
        case POLICY_READ_ONLY:
            k = rule_read_only(&v, r, all, n_src);
            break;
        case POLICY_REQUIRE_EXISTING:
            k = rule_require_existing(&v, r);
            break;
        case POLICY_ALLOW_SOURCES:
            /* Both the path as written and where it leads must be allowed: a symlink under an
             * allowed prefix must not lead elsewhere. */
            if (under_any(src, r) && under_any(src_res, r))
                return 0;
            allow_applied = true;
            if (an < sizeof(allow_names))
                an += (size_t)snprintf(allow_names + an, sizeof(allow_names) - an, "%s\"%s\"",
                                       an ? ", " : "", r->name);
            for (size_t p = 0; p < r->n_paths && ap < sizeof(allow_paths); p++)
                ap += (size_t)snprintf(allow_paths + ap, sizeof(allow_paths) - ap, "%s%s",
                                       ap ? ", " : "", r->paths[p].path);
            break;
        }
        if (k < 0)
            return mpp_error_set(err, k, "out of memory");
        if (k > 0)
            return 0;
    }

    int r = 0;
    if (allow_applied)
        r = deny(&v,
                 "policy rule%s %s denies %s -> %s: %s is outside the allowed sources (%s); mount "
                 "a path under one of them",
                 strchr(allow_names, ',') ? "s" : "", allow_names, src, v.dst,
                 strcmp(src_res, src) != 0 ? src_res : src, allow_paths);
    else if (c->default_deny)
        r = deny(&v,
                 "policy denies %s -> %s: no rule allows it and the default is \"deny\"; ask the "
                 "administrator for an allow_sources rule that covers it",
                 src, v.dst);
    return r < 0 ? mpp_error_set(err, r, "out of memory") : 0;
}
