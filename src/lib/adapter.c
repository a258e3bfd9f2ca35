/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Which config.json mounts reach plugins (protocol §3), their generic description, and the
 * dispatch to the adapter of the engine that made the container, through the table of engines
 * (engine.h). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <mpp/chain.h>
#include <mpp/oci.h>
#include <mpp/pattern.h>

#include "adapter.h"
#include "engine.h"
#include "macro.h"

/* The engines, in the order they are asked to claim a container: the most specific marks
 * first, plain OCI (which claims anything) last. A new engine is one line here. */
static const mpp_engine_ops *const engines[] = {
    &mpp_engine_docker,     &mpp_engine_podman, &mpp_engine_crio,
    &mpp_engine_containerd, &mpp_engine_oci,
};

/* What mpp never shows to plugins (protocol §3): what the runtime and the engine mount on their
 * own account, as opposed to what the user asked for. This is policy; keep it a table.
 *
 * A bind mount is excluded by its source only, never by its destination: a user's
 * `-v /etc:/dev/hostetc` or `-v /etc:/etc/hosts` reaches plugins on every engine. And a source is
 * the engine's only when it is the very object the runtime will mount, inside the engine's
 * directory for this container (mpp_engine_object()). Destination rules hold for tmpfs mounts,
 * which have no host source (the runtime's /dev), except for a mount the user asked for (an
 * engine's user_mount op: Docker's --tmpfs). Each engine's own files are its is_engine_file op;
 * this table holds what belongs to no engine: the runtime's and the kubelet's. */
typedef enum rule_kind {
    DEST_IS,     /* tmpfs: the destination is this path */
    DEST_UNDER,  /* tmpfs: the destination is this path or below it */
    SRC_KUBE,    /* the source is under KUBELET_PODS/UID/volumes/kubernetes.io~<path>/ */
    SRC_KUBELET, /* the source is a kubelet pod file: KUBELET_PODS/UID/etc-hosts or
                    KUBELET_PODS/UID/containers/NAME/ID (the termination log) */
} rule_kind;

typedef struct exclusion {
    rule_kind kind;
    const char *path;
} exclusion;

/* The kubelet's default --root-dir. */
#define KUBELET_PODS "/var/lib/kubelet/pods"

static const exclusion exclusions[] = {
    /* Kernel and runtime filesystems; the runtime's /dev, /dev/shm... */
    {DEST_UNDER, "/proc"},
    {DEST_UNDER, "/sys"},
    {DEST_UNDER, "/dev"},
    {DEST_IS, "/etc/resolv.conf"},
    {DEST_IS, "/etc/hosts"},
    {DEST_IS, "/etc/hostname"},
    {DEST_IS, "/run/.containerenv"},
    {DEST_UNDER, "/run/secrets"},
    /* Kubernetes volumes that the kubelet fills from the API server. */
    {SRC_KUBE, "secret"},
    {SRC_KUBE, "configmap"},
    {SRC_KUBE, "projected"},
    {SRC_KUBE, "downward-api"},
    {SRC_KUBELET, NULL},
};

/* rel (below KUBELET_PODS) is UID/etc-hosts or UID/containers/NAME/ID, exactly. */
static bool kubelet_pod_file(const char *rel)
{
    const char *end = strchr(rel, '/');
    if (!end || end == rel)
        return false;
    if (strcmp(end, "/etc-hosts") == 0)
        return true;
    if (strncmp(end, "/containers/", 12) != 0)
        return false;
    const char *name = end + 12;
    const char *s = strchr(name, '/');
    return s && s != name && s[1] != '\0' && !strchr(s + 1, '/');
}

/* rel (below KUBELET_PODS) is UID/volumes/kubernetes.io~KIND/... */
static bool kubelet_volume(const char *rel, const char *kind)
{
    const char *end = strchr(rel, '/');
    char want[64];
    int n = snprintf(want, sizeof(want), "/volumes/kubernetes.io~%s/", kind);
    return end && end != rel && n > 0 && strncmp(end, want, (size_t)n) == 0;
}

typedef enum verdict {
    KEEP,
    EXCLUDED_BY_DESTINATION,
    EXCLUDED_BY_SOURCE,
} verdict;

static verdict destination_verdict(const char *dst)
{
    for (size_t i = 0; i < ELEMENTSOF(exclusions); i++) {
        const exclusion *e = &exclusions[i];
        if ((e->kind == DEST_IS && strcmp(dst, e->path) == 0) ||
            (e->kind == DEST_UNDER && mpp_path_is_under(dst, e->path)))
            return EXCLUDED_BY_DESTINATION;
    }
    return KEEP;
}

/* src is the source as written, src_clean its clean form. */
static verdict source_verdict(const mpp_adapter_ctx *ctx, const mpp_engine_view *views,
                              const char *src, const char *src_clean)
{
    const char *kube_rel = NULL;
    if (mpp_path_is_under(src_clean, KUBELET_PODS) && src_clean[strlen(KUBELET_PODS)] == '/')
        kube_rel = src_clean + strlen(KUBELET_PODS) + 1;
    for (size_t i = 0; i < ELEMENTSOF(exclusions); i++) {
        const exclusion *e = &exclusions[i];
        bool hit = false;
        switch (e->kind) {
        case DEST_IS:
        case DEST_UNDER:
            break;
        case SRC_KUBE:
            hit = kube_rel && kubelet_volume(kube_rel, e->path) &&
                  mpp_engine_object(KUBELET_PODS, KUBELET_PODS, src, src_clean);
            break;
        case SRC_KUBELET:
            hit = kube_rel && kubelet_pod_file(kube_rel) &&
                  mpp_engine_object(KUBELET_PODS, KUBELET_PODS, src, src_clean);
            break;
        }
        if (hit)
            return EXCLUDED_BY_SOURCE;
    }
    /* Every engine's own files, not only the claiming engine's (see is_engine_file). */
    for (size_t i = 0; i < ELEMENTSOF(engines); i++)
        if (engines[i]->is_engine_file &&
            engines[i]->is_engine_file(ctx, &views[i], src, src_clean))
            return EXCLUDED_BY_SOURCE;
    return KEEP;
}

typedef enum mount_kind {
    KIND_OTHER,
    KIND_BIND,
    KIND_TMPFS,
} mount_kind;

static bool has_option(const json_t *m, const char *opt)
{
    size_t i;
    json_t *o;
    json_array_foreach(json_object_get(m, "options"), i, o)
    {
        if (strcmp(strempty(json_string_value(o)), opt) == 0)
            return true;
    }
    return false;
}

static mount_kind kind_of(const json_t *m)
{
    const char *type = json_string_value(json_object_get(m, "type"));
    if ((type && strcmp(type, "bind") == 0) || has_option(m, "bind") || has_option(m, "rbind"))
        return KIND_BIND;
    if (type && strcmp(type, "tmpfs") == 0)
        return KIND_TMPFS;
    return KIND_OTHER;
}

static const char *const propagations[] = {"rprivate", "private", "rshared",
                                           "shared",   "rslave",  "slave"};

/* The generic description: what config.json and the annotations tell, whatever the engine. */
static int describe_generic(const mpp_adapter_ctx *ctx, const mpp_engine_view *views,
                            const json_t *jm, mount_kind kind, const char *src_clean,
                            const char *dst_clean, mpp_mount *m)
{
    const char *src = json_string_value(json_object_get(jm, "source"));
    int fail = 0;
    m->source = strdup(strempty(src));
    m->effective_source = strdup(strempty(src));
    /* The clean absolute form, so that patterns see where the mount really lands: a relative
     * "etc" or "/x/../etc" must not slip past a Destination pattern on "/etc". */
    m->destination = strdup(dst_clean);
    m->type = strdup(kind == KIND_TMPFS ? "tmpfs" : "bind");
    m->container.id = strdup_or_null(ctx->id, &fail);
    m->container.engine = strdup(ctx->engine->name);
    if (fail || !m->source || !m->effective_source || !m->destination || !m->type ||
        !m->container.engine)
        return -ENOMEM;

    size_t i;
    json_t *o;
    json_array_foreach(json_object_get(jm, "options"), i, o)
    {
        const char *s = json_string_value(o);
        if (strcmp(s, "ro") == 0)
            m->read_only = true;
        else if (strcmp(s, "rw") == 0)
            m->read_only = false;
        for (size_t p = 0; p < ELEMENTSOF(propagations); p++)
            if (strcmp(s, propagations[p]) == 0 && mpp_set_string(&m->propagation, s) < 0)
                return -ENOMEM;
    }

    if (ctx->annotations && mpp_strmap_from_object(&m->container.annotations, ctx->annotations) < 0)
        return -ENOMEM;
    const char *c = json_string_value(json_object_get(ctx->annotations, "mpp.consistency"));
    if (!isempty(c) && mpp_set_string(&m->consistency, c) < 0)
        return -ENOMEM;

    if (kind != KIND_BIND)
        return 0;
    /* A volume of the local driver, recognised by where it lives. */
    static const char *const local = "local";
    for (size_t e = 0; e < ELEMENTSOF(engines); e++) {
        if (!engines[e]->volume_name)
            continue;
        char *name = NULL;
        int k = engines[e]->volume_name(ctx, &views[e], src_clean, &name);
        if (k < 0)
            return -ENOMEM;
        if (k == 0)
            continue;
        m->volume.name = name;
        if (mpp_set_string(&m->type, "volume") < 0 ||
            mpp_set_string(&m->volume.driver, local) < 0 ||
            mpp_set_string(&m->volume.scope, local) < 0)
            return -ENOMEM;
        break;
    }
    return 0;
}

/* What only the user can say, through annotations, overrides what the engine said. */
static int describe_annotations(const mpp_adapter_ctx *ctx, const char *dst, const char *dst_clean,
                                mpp_mount *m)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)ctx->annotations, k, v)
    {
        if (strncmp(k, "mpp.labels.", 11) == 0 && k[11] != '\0' &&
            mpp_strmap_set(&m->container.labels, k + 11, json_string_value(v)) < 0)
            return -ENOMEM;
    }
    /* Per destination, as written in config.json, else in its clean form. */
    const char *dsts[] = {dst, dst_clean};
    for (size_t i = 0; i < ELEMENTSOF(dsts); i++) {
        _cleanup_free_ char *key = NULL;
        if (asprintf(&key, "mpp.consistency.%s", dsts[i]) < 0)
            return -ENOMEM;
        const char *c = json_string_value(json_object_get(ctx->annotations, key));
        if (!isempty(c))
            return mpp_set_string(&m->consistency, c);
    }
    return 0;
}

/* One description of the container: the facts, and each engine's view (views[i] is
 * engines[i]'s). */
typedef struct adapter_run {
    mpp_adapter_ctx ctx;
    mpp_engine_view views[ELEMENTSOF(engines)];
    size_t claimed; /* the index of ctx.engine */
} adapter_run;

static void run_done(adapter_run *run)
{
    for (size_t i = 0; i < ELEMENTSOF(engines); i++) {
        if (run->views[i].data && engines[i]->release)
            engines[i]->release(run->views[i].data);
        free(run->views[i].root);
    }
}

/* Every engine's root first (exclusions and volumes need them all), then the first claim. */
static int run_start(adapter_run *run, mpp_error *err)
{
    for (size_t i = 0; i < ELEMENTSOF(engines); i++) {
        if (!engines[i]->find_root)
            continue;
        int r = engines[i]->find_root(&run->ctx, &run->views[i].root, err);
        if (r < 0)
            return r;
    }
    for (size_t i = 0; i < ELEMENTSOF(engines); i++) {
        int r = engines[i]->claim ? engines[i]->claim(&run->ctx, &run->views[i]) : 0;
        if (r < 0)
            return mpp_error_set(err, r, "out of memory");
        if (r > 0) {
            run->ctx.engine = engines[i];
            run->claimed = i;
            return 0;
        }
    }
    /* Plain OCI, last in the table, claims anything. */
    return mpp_error_set(err, -EINVAL, "no engine adapter claims the container");
}

/* A destination in clean absolute form (a relative one is relative to the container's root). */
static int clean_destination(const char *dst, char *out, size_t size)
{
    char buf[PATH_MAX + 2];
    int n = snprintf(buf, sizeof(buf), "%s%s", dst[0] == '/' ? "" : "/", dst);
    if (n < 0 || (size_t)n >= sizeof(buf))
        return -ENAMETOOLONG;
    return mpp_path_clean(buf, out, size);
}

static int describe_one(const adapter_run *run, const json_t *jm, size_t i, const char *origin,
                        mpp_mount *m, bool *keep, mpp_error *err)
{
    const mpp_adapter_ctx *ctx = &run->ctx;
    const mpp_engine_ops *engine = ctx->engine;
    const mpp_engine_view *self = &run->views[run->claimed];
    *keep = false;
    mount_kind kind = kind_of(jm);
    if (kind == KIND_OTHER)
        return 0;

    const char *dst = json_string_value(json_object_get(jm, "destination"));
    char dst_clean[PATH_MAX];
    if (clean_destination(dst, dst_clean, sizeof(dst_clean)) < 0)
        return mpp_error_set(err, -ENAMETOOLONG, "%s: mounts[%zu].destination: path too long",
                             origin, i);
    if (kind == KIND_TMPFS && destination_verdict(dst_clean) != KEEP &&
        !(engine->user_mount && engine->user_mount(ctx, self, dst_clean)))
        return 0;

    const char *src = json_string_value(json_object_get(jm, "source"));
    char src_clean[PATH_MAX] = "";
    if (kind == KIND_BIND) {
        if (isempty(src))
            return mpp_error_set(err, -EINVAL,
                                 "%s: mounts[%zu].source: the bind mount on %s has no source",
                                 origin, i, dst);
        if (src[0] != '/')
            return mpp_error_set(err, -EINVAL,
                                 "%s: mounts[%zu].source: bind source \"%s\" (for %s) is a "
                                 "relative path; mount point plugins need an absolute one",
                                 origin, i, src, dst);
        if (mpp_path_clean(src, src_clean, sizeof(src_clean)) < 0)
            return mpp_error_set(err, -ENAMETOOLONG, "%s: mounts[%zu].source: path too long",
                                 origin, i);
        if (source_verdict(ctx, run->views, src, src_clean) != KEEP)
            return 0;
    }

    int r = describe_generic(ctx, run->views, jm, kind, src_clean, dst_clean, m);
    if (r >= 0 && engine->describe_mount)
        r = engine->describe_mount(ctx, self, dst_clean, m);
    if (r >= 0)
        r = describe_annotations(ctx, dst, dst_clean, m);
    if (r < 0)
        return mpp_error_set(err, r, "out of memory");
    *keep = true;
    return 0;
}

int mpp_adapter_describe(const json_t *root, const char *origin, const mpp_adapter_options *o,
                         mpp_mount **mounts, size_t **index, size_t *n, mpp_error *err)
{
    *mounts = NULL;
    *index = NULL;
    *n = 0;
    if (o->container_id && !mpp_container_id_valid(o->container_id))
        return mpp_error_set(err, -EINVAL,
                             "invalid container ID \"%.64s\": expected 1 to 1024 of "
                             "[A-Za-z0-9_.-]",
                             o->container_id);

    const json_t *ann = json_object_get(root, "annotations");
    _cleanup_(run_done) adapter_run run = {
        .ctx =
            {
                .options = o,
                .config = root,
                .id = o->container_id,
                .runtime_root = o->runtime_root,
                .bundle_dir = o->bundle_dir,
                .annotations = json_is_object(ann) ? ann : NULL,
            },
    };
    int r = run_start(&run, err);
    if (r < 0)
        return r;

    const json_t *arr = json_object_get(root, "mounts");
    size_t size = json_is_array(arr) ? json_array_size(arr) : 0;
    if (size == 0)
        return 0;
    mpp_mount *ms = calloc(size, sizeof(*ms));
    _cleanup_free_ size_t *idx = calloc(size, sizeof(*idx));
    if (!ms || !idx) {
        free(ms);
        return mpp_error_set(err, -ENOMEM, "out of memory");
    }
    size_t count = 0;
    for (size_t i = 0; i < size; i++) {
        bool keep;
        r = describe_one(&run, json_array_get(arr, i), i, origin, &ms[count], &keep, err);
        if (r < 0) {
            mpp_mounts_free(ms, count + 1);
            return r;
        }
        if (keep)
            idx[count++] = i;
    }
    if (count == 0) {
        free(ms);
        return 0;
    }
    *mounts = ms;
    *index = TAKE_PTR(idx);
    *n = count;
    return 0;
}
