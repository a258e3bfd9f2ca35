/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Which config.json mounts reach plugins (spec §3), their generic description, and the dispatch
 * to the adapter of the engine that made the container. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/openat2.h>

#include <jansson.h>

#include <mpp/oci.h>
#include <mpp/pattern.h>

#include "adapter.h"
#include "journal.h"
#include "macro.h"

const char *mpp_engine_name(mpp_engine e)
{
    switch (e) {
    case MPP_ENGINE_DOCKER:
        return "docker";
    case MPP_ENGINE_PODMAN:
        return "podman";
    case MPP_ENGINE_CONTAINERD:
        return "containerd";
    case MPP_ENGINE_CRIO:
        return "cri-o";
    case MPP_ENGINE_OCI:
        break;
    }
    return "oci";
}

int mpp_set_string(char **field, const char *value)
{
    char *copy = NULL;
    if (value && !(copy = strdup(value)))
        return -ENOMEM;
    free(*field);
    *field = copy;
    return 0;
}

int mpp_strmap_set(mpp_strmap *m, const char *key, const char *value)
{
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->items[i].key, key) == 0)
            return mpp_set_string(&m->items[i].value, strempty(value));
    return mpp_strmap_add(m, key, value);
}

int mpp_strmap_from_object(mpp_strmap *m, const json_t *obj)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v)
    {
        if (json_is_string(v) && mpp_strmap_set(m, k, json_string_value(v)) < 0)
            return -ENOMEM;
    }
    return 0;
}

bool mpp_path_is_under(const char *path, const char *root)
{
    if (strcmp(root, "/") == 0)
        return path[0] == '/';
    size_t n = strlen(root);
    return strncmp(path, root, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

int mpp_volume_name_from_path(const char *path, const char *root, char **name)
{
    *name = NULL;
    if (!mpp_path_is_under(path, root))
        return 0;
    const char *p = path + strlen(root);
    if (strcmp(root, "/") == 0)
        p = path;
    if (strncmp(p, "/volumes/", 9) != 0)
        return 0;
    p += 9;
    const char *slash = strchr(p, '/');
    if (!slash || strncmp(slash, "/_data", 6) != 0 || (slash[6] != '\0' && slash[6] != '/'))
        return 0;
    char *n = strndup(p, (size_t)(slash - p));
    if (!n)
        return -ENOMEM;
    if (!mpp_container_id_valid(n)) {
        free(n);
        return 0;
    }
    *name = n;
    return 1;
}

/* What mpp never shows to plugins (spec §3): what the runtime and the engine mount on their own
 * account, as opposed to what the user asked for. This is policy; keep it a table.
 *
 * A bind mount is excluded by its source only, never by its destination: a user's
 * `-v /etc:/dev/hostetc` or `-v /etc:/etc/hosts` reaches plugins on every engine. And a source is
 * the engine's only when it is the very object the runtime will mount, inside the engine's
 * directory for this container (engine_object()). Destination rules hold for tmpfs mounts, which
 * have no host source (the runtime's /dev), except, on Docker, for a user's --tmpfs. */
typedef enum rule_kind {
    DEST_IS,      /* tmpfs: the destination is this path */
    DEST_UNDER,   /* tmpfs: the destination is this path or below it */
    SRC_DOCKER,   /* the source is under DOCKER_ROOT/<path>/ID */
    SRC_PODMAN,   /* the source is under PODMAN_ROOT/<path>/ID */
    SRC_UNDER_ID, /* the source is under <path>/ID (an absolute path) */
    SRC_KUBE,     /* the source is under KUBELET_PODS/UID/volumes/kubernetes.io~<path>/ */
    SRC_KUBELET,  /* the source is a kubelet pod file: KUBELET_PODS/UID/etc-hosts or
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
    /* Docker's own files for this container (resolv.conf, hosts, hostname, mounts/shm...). */
    {SRC_DOCKER, "containers"},
    /* Podman's and CRI-O's files for this container (userdata/...), in the storage root and in
     * the run root (/var/run is how CRI-O writes it). */
    {SRC_PODMAN, "overlay-containers"},
    {SRC_UNDER_ID, "/run/containers/storage/overlay-containers"},
    {SRC_UNDER_ID, "/var/run/containers/storage/overlay-containers"},
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

/* Whether the bind source is an object of the engine's, below root, inside prefix: written in
 * clean form (the runtime mounts the text as written) and reached from root through no symbolic
 * link. root itself (/var/run -> /run) is the administrator's; what lies below it is the
 * engine's, which no user can change. A source that only looks like an engine's file, or reaches
 * one through `..` or a link (that its owner could point elsewhere once mpp has looked), is not
 * the engine's: it reaches plugins. */
static bool engine_object(const char *root, const char *prefix, const char *src,
                          const char *src_clean)
{
    if (strcmp(src, src_clean) != 0 || !mpp_path_is_under(src_clean, prefix) ||
        !mpp_path_is_under(src_clean, root))
        return false;
    const char *rel = src_clean + strlen(root);
    while (*rel == '/')
        rel++;
    if (*rel == '\0')
        return false;
    _cleanup_close_ int dfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return false;
    struct open_how how = {
        .flags = O_PATH | O_CLOEXEC,
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
    };
    _cleanup_close_ int fd = (int)syscall(SYS_openat2, dfd, rel, &how, sizeof(how));
    return fd >= 0;
}

static bool engine_object_at(const char *src, const char *src_clean, const char *root,
                             const char *sub, const char *id)
{
    char prefix[PATH_MAX];
    int n = sub ? snprintf(prefix, sizeof(prefix), "%s/%s/%s", root, sub, id)
                : snprintf(prefix, sizeof(prefix), "%s/%s", root, id);
    return n > 0 && (size_t)n < sizeof(prefix) && engine_object(root, prefix, src, src_clean);
}

/* src is the source as written, src_clean its clean form. */
static verdict source_verdict(const mpp_adapter_ctx *ctx, const char *src, const char *src_clean)
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
        case SRC_DOCKER:
            /* Only this container's: log collectors bind DOCKER_ROOT/containers itself. */
            hit = ctx->id && engine_object_at(src, src_clean, ctx->docker_root, e->path, ctx->id);
            break;
        case SRC_PODMAN:
            hit = ctx->id && engine_object_at(src, src_clean, ctx->podman_root, e->path, ctx->id);
            break;
        case SRC_UNDER_ID:
            hit = ctx->id && engine_object_at(src, src_clean, e->path, NULL, ctx->id);
            break;
        case SRC_KUBE:
            hit = kube_rel && kubelet_volume(kube_rel, e->path) &&
                  engine_object(KUBELET_PODS, KUBELET_PODS, src, src_clean);
            break;
        case SRC_KUBELET:
            hit = kube_rel && kubelet_pod_file(kube_rel) &&
                  engine_object(KUBELET_PODS, KUBELET_PODS, src, src_clean);
            break;
        }
        if (hit)
            return EXCLUDED_BY_SOURCE;
    }
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
static int describe_generic(const mpp_adapter_ctx *ctx, const json_t *jm, mount_kind kind,
                            const char *src_clean, const char *dst_clean, mpp_mount *m)
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
    m->container.engine = strdup(mpp_engine_name(ctx->engine));
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
    const char *roots[] = {ctx->docker_root, ctx->podman_root};
    for (size_t r = 0; r < ELEMENTSOF(roots); r++) {
        char *name = NULL;
        int k = mpp_volume_name_from_path(src_clean, roots[r], &name);
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

static bool any_annotation_prefix(const json_t *ann, const char *prefix)
{
    const char *k;
    json_t *v;
    size_t n = strlen(prefix);
    json_object_foreach((json_t *)ann, k, v)
    {
        if (strncmp(k, prefix, n) == 0)
            return true;
    }
    return false;
}

static bool contains(const char *s, const char *needle)
{
    return s && strstr(s, needle);
}

static int detect_engine(mpp_adapter_ctx *ctx)
{
    /* containerd runs every Docker container in its "moby" namespace. */
    if (ctx->id && (contains(ctx->runtime_root, "/moby") || contains(ctx->bundle_dir, "/moby/"))) {
        int r = mpp_docker_load(ctx->docker_root, ctx->id, &ctx->docker);
        if (r == 0) {
            ctx->engine = MPP_ENGINE_DOCKER;
            return 0;
        }
        if (r != -ENOENT)
            return r;
    }
    const char *manager =
        json_string_value(json_object_get(ctx->annotations, "io.container.manager"));
    if (manager && strcmp(manager, "libpod") == 0)
        ctx->engine = MPP_ENGINE_PODMAN;
    else if (any_annotation_prefix(ctx->annotations, "io.kubernetes.cri-o."))
        ctx->engine = MPP_ENGINE_CRIO;
    else if (contains(ctx->bundle_dir, "io.containerd.runtime") ||
             any_annotation_prefix(ctx->annotations, "io.kubernetes.cri."))
        ctx->engine = MPP_ENGINE_CONTAINERD;
    else
        ctx->engine = MPP_ENGINE_OCI;
    return 0;
}

static int clean_root(const char *given, const char *def, const char *what, char **out,
                      mpp_error *err)
{
    const char *p = given ? given : def;
    char buf[PATH_MAX];
    if (p[0] != '/' || mpp_path_clean(p, buf, sizeof(buf)) < 0)
        return mpp_error_set(err, -EINVAL, "%s \"%s\" is not an absolute path", what, p);
    *out = strdup(buf);
    return *out ? 0 : mpp_error_set(err, -ENOMEM, "out of memory");
}

static void ctx_done(mpp_adapter_ctx *ctx)
{
    free(ctx->docker_root);
    free(ctx->podman_root);
    mpp_docker_free(ctx->docker);
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

static int describe_one(const mpp_adapter_ctx *ctx, const json_t *jm, size_t i, const char *origin,
                        mpp_mount *m, bool *keep, mpp_error *err)
{
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
        !(ctx->docker && mpp_docker_user_mount(ctx->docker, dst_clean)))
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
        if (source_verdict(ctx, src, src_clean) != KEEP)
            return 0;
    }

    int r = describe_generic(ctx, jm, kind, src_clean, dst_clean, m);
    if (r >= 0 && ctx->engine == MPP_ENGINE_DOCKER)
        r = mpp_docker_describe(ctx, dst_clean, m);
    else if (r >= 0 && ctx->engine == MPP_ENGINE_PODMAN)
        r = mpp_podman_describe(ctx, m);
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

    _cleanup_(ctx_done) mpp_adapter_ctx ctx = {
        .id = o->container_id,
        .runtime_root = o->runtime_root,
        .bundle_dir = o->bundle_dir,
    };
    int r =
        clean_root(o->docker_root, MPP_DEFAULT_DOCKER_ROOT, "Docker root", &ctx.docker_root, err);
    if (r >= 0)
        r = clean_root(o->podman_root, MPP_DEFAULT_PODMAN_ROOT, "Podman root", &ctx.podman_root,
                       err);
    if (r < 0)
        return r;
    const json_t *ann = json_object_get(root, "annotations");
    ctx.annotations = json_is_object(ann) ? ann : NULL;
    r = detect_engine(&ctx);
    if (r < 0)
        return mpp_error_set(err, r, "out of memory");

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
        r = describe_one(&ctx, json_array_get(arr, i), i, origin, &ms[count], &keep, err);
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
