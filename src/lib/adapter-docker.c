/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The Docker adapter. The runtime cannot ask dockerd (it waits for our `create` to return), so
 * it reads what dockerd wrote before calling it, under DOCKER_ROOT:
 *   containers/ID/config.v2.json   Config.Labels, Image, Driver, MountPoints{dst: {Source,
 *                                  Destination, RW, Name, Driver, Type, Propagation, Spec}}
 *   containers/ID/hostconfig.json  Binds ["src:dst[:mode]"] (-v), Mounts [{Type, Source,
 *                                  Target, ReadOnly, Consistency, VolumeOptions}] (--mount)
 *   image/DRIVER/imagedb/content/sha256/HEX   the image config: config.Labels
 *   volumes/NAME/opts.json         the local driver's options: MountType, MountOpts, MountDevice
 *
 * These files are untrusted input: they are opened without following a final symbolic link,
 * size-limited, parsed with the codec's limits, and no path is built from their contents without
 * checking it (the image digest must be hex, names must be plain names). Anything missing,
 * unreadable or malformed is ignored silently, field by field: the mount keeps what the generic
 * description says, and the container is never failed because of Docker's files. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <mpp/chain.h>
#include <mpp/codec.h>
#include <mpp/pattern.h>

#include "engine.h"
#include "macro.h"

/* Docker's own files are small; an image config is the largest, still far below this. */
#define DOCKER_FILE_MAX MPP_CODEC_MAX_INPUT
/* Storage-driver directories tried for the image config (image/DRIVER/imagedb). */
#define DOCKER_MAX_DRIVERS 32

/* What Docker wrote about one container (the engine's self->data). */
typedef struct mpp_docker {
    char *root;
    json_t *config;     /* config.v2.json, or NULL */
    json_t *hostconfig; /* hostconfig.json, or NULL */
    mpp_strmap image_labels;
} mpp_docker;

static void mpp_docker_free(mpp_docker *d)
{
    if (!d)
        return;
    free(d->root);
    json_decref(d->config);
    json_decref(d->hostconfig);
    mpp_strmap_clear(&d->image_labels);
    free(d);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(mpp_docker *, mpp_docker_free)

/* A JSON object from a file, or NULL (and 0) when it is missing or unusable. */
static int load_object(const char *path, json_t **out, bool *exists)
{
    mpp_error err = {0};
    json_t *j = NULL;
    int r = mpp_json_load_file(path, DOCKER_FILE_MAX, &j, &err);
    *out = NULL;
    if (exists)
        *exists = r != -ENOENT && r != -ENOTDIR;
    if (r == -ENOMEM)
        return r;
    if (r < 0)
        return 0;
    if (!json_is_object(j)) {
        json_decref(j);
        return 0;
    }
    *out = j;
    return 0;
}

static bool hex_digest(const char *s)
{
    if (strlen(s) != 64)
        return false;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return false;
    return true;
}

static int image_labels_from(mpp_docker *d, const char *driver, const char *hex, bool *found)
{
    char path[PATH_MAX];
    int n =
        snprintf(path, sizeof(path), "%s/image/%s/imagedb/content/sha256/%s", d->root, driver, hex);
    if (n < 0 || (size_t)n >= sizeof(path))
        return 0;
    json_t *img = NULL;
    int r = load_object(path, &img, NULL);
    if (r < 0 || !img)
        return r;
    *found = true;
    const json_t *labels = json_object_get(json_object_get(img, "config"), "Labels");
    r = json_is_object(labels) ? mpp_strmap_from_object(&d->image_labels, labels) : 0;
    json_decref(img);
    return r;
}

static int load_image_labels(mpp_docker *d)
{
    const char *image = json_string_value(json_object_get(d->config, "Image"));
    if (!image || strncmp(image, "sha256:", 7) != 0 || !hex_digest(image + 7))
        return 0;
    const char *hex = image + 7;
    bool found = false;

    /* The container's storage driver first, then any other image store. */
    const char *driver = json_string_value(json_object_get(d->config, "Driver"));
    if (driver && mpp_container_id_valid(driver)) {
        int r = image_labels_from(d, driver, hex, &found);
        if (r < 0 || found)
            return r;
    }
    char dir[PATH_MAX];
    int n = snprintf(dir, sizeof(dir), "%s/image", d->root);
    if (n < 0 || (size_t)n >= sizeof(dir))
        return 0;
    DIR *dp = opendir(dir);
    if (!dp)
        return 0;
    int r = 0, tried = 0;
    struct dirent *de;
    while (!found && r >= 0 && tried < DOCKER_MAX_DRIVERS && (de = readdir(dp))) {
        if (!mpp_container_id_valid(de->d_name) || (driver && strcmp(de->d_name, driver) == 0))
            continue;
        tried++;
        r = image_labels_from(d, de->d_name, hex, &found);
    }
    closedir(dp);
    return r;
}

/* Load DOCKER_ROOT/containers/ID: -ENOENT when config.v2.json does not exist (not a Docker
 * container), 0 otherwise, even when the files are unreadable or malformed (they are then
 * ignored), -ENOMEM. */
static int mpp_docker_load(const char *docker_root, const char *id, mpp_docker **out)
{
    *out = NULL;
    if (!mpp_container_id_valid(id))
        return -ENOENT;
    _cleanup_(mpp_docker_freep) mpp_docker *d = calloc(1, sizeof(*d));
    if (!d || !(d->root = strdup(docker_root)))
        return -ENOMEM;

    char path[PATH_MAX];
    int n = snprintf(path, sizeof(path), "%s/containers/%s/config.v2.json", docker_root, id);
    if (n < 0 || (size_t)n >= sizeof(path))
        return -ENOENT;
    bool exists = false;
    int r = load_object(path, &d->config, &exists);
    if (r < 0)
        return r;
    if (!exists)
        return -ENOENT;

    n = snprintf(path, sizeof(path), "%s/containers/%s/hostconfig.json", docker_root, id);
    if (n > 0 && (size_t)n < sizeof(path)) {
        r = load_object(path, &d->hostconfig, NULL);
        if (r < 0)
            return r;
    }
    if (d->config) {
        r = load_image_labels(d);
        if (r < 0)
            return r;
    }
    *out = TAKE_PTR(d);
    return 0;
}

static bool same_destination(const char *a, const char *dst_clean)
{
    char buf[PATH_MAX];
    return a && a[0] == '/' && mpp_path_clean(a, buf, sizeof(buf)) > 0 &&
           strcmp(buf, dst_clean) == 0;
}

static const json_t *find_mount_point(const mpp_docker *d, const char *dst_clean)
{
    const char *key;
    json_t *mp;
    json_object_foreach(json_object_get(d->config, "MountPoints"), key, mp)
    {
        if (!json_is_object(mp))
            continue;
        const char *dst = json_string_value(json_object_get(mp, "Destination"));
        if (same_destination(dst ? dst : key, dst_clean))
            return mp;
    }
    return NULL;
}

/* One -v entry, split as Docker's Linux parser does: "dst", "src:dst" or "src:dst:mode". */
typedef struct bind_spec {
    char src[PATH_MAX];
    char dst[PATH_MAX];
    char mode[256];
} bind_spec;

static bool split_bind(const char *raw, bind_spec *b)
{
    const char *parts[3] = {raw, NULL, NULL};
    size_t lens[3] = {0};
    int count = 1;
    for (const char *p = raw; *p; p++) {
        if (*p != ':')
            continue;
        if (count == 3)
            return false;
        lens[count - 1] = (size_t)(p - parts[count - 1]);
        parts[count++] = p + 1;
    }
    lens[count - 1] = strlen(parts[count - 1]);
    b->src[0] = b->dst[0] = b->mode[0] = '\0';
    const size_t sizes[3] = {sizeof(b->src), sizeof(b->dst), sizeof(b->mode)};
    char *outs[3] = {b->src, b->dst, b->mode};
    /* A lone "dst" is an anonymous volume. */
    int first = count == 1 ? 1 : 0;
    for (int i = 0; i < count; i++) {
        if (lens[i] >= sizes[first + i])
            return false;
        memcpy(outs[first + i], parts[i], lens[i]);
        outs[first + i][lens[i]] = '\0';
    }
    return true;
}

static bool find_bind(const mpp_docker *d, const char *dst_clean, bind_spec *out)
{
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(d->hostconfig, "Binds"), i, v)
    {
        const char *raw = json_string_value(v);
        if (raw && split_bind(raw, out) && same_destination(out->dst, dst_clean))
            return true;
    }
    return false;
}

static const json_t *find_mount(const mpp_docker *d, const char *dst_clean)
{
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(d->hostconfig, "Mounts"), i, v)
    {
        if (same_destination(json_string_value(json_object_get(v, "Target")), dst_clean))
            return v;
    }
    return NULL;
}

/* Whether the user asked for a mount at this (clean) destination: -v, --mount or a volume. */
static bool mpp_docker_user_mount(const mpp_docker *d, const char *dst_clean)
{
    bind_spec b;
    return find_mount_point(d, dst_clean) || find_bind(d, dst_clean, &b) ||
           find_mount(d, dst_clean);
}

/* The consistency word of a -v mode string ("ro,cached"), or NULL. */
static const char *mode_consistency(const char *mode, char *buf, size_t size)
{
    static const char *const words[] = {"consistent", "cached", "delegated"};
    const char *p = mode;
    while (*p) {
        size_t len = strcspn(p, ",");
        for (size_t i = 0; i < ELEMENTSOF(words); i++)
            if (strlen(words[i]) == len && strncmp(p, words[i], len) == 0) {
                snprintf(buf, size, "%s", words[i]);
                return buf;
            }
        p += len;
        if (*p == ',')
            p++;
    }
    return NULL;
}

static int set_nonempty(char **field, const json_t *v)
{
    const char *s = json_string_value(v);
    return isempty(s) ? 0 : mpp_set_string(field, s);
}

/* VolumeOptions of a mount spec: {Labels, DriverConfig: {Name, Options}}. */
static int volume_options(mpp_mount *m, const json_t *vo)
{
    const json_t *labels = json_object_get(vo, "Labels");
    const json_t *dopts = json_object_get(json_object_get(vo, "DriverConfig"), "Options");
    if (json_is_object(labels) && mpp_strmap_from_object(&m->volume.labels, labels) < 0)
        return -ENOMEM;
    if (json_is_object(dopts) && mpp_strmap_from_object(&m->volume.driver_options, dopts) < 0)
        return -ENOMEM;
    return 0;
}

/* The local driver's options for a named volume, as `docker volume create -o` gave them. */
static int volume_opts_file(const mpp_docker *d, mpp_mount *m)
{
    if (!m->volume.name || !mpp_container_id_valid(m->volume.name) ||
        (m->volume.driver && strcmp(m->volume.driver, "local") != 0))
        return 0;
    char path[PATH_MAX];
    int n = snprintf(path, sizeof(path), "%s/volumes/%s/opts.json", d->root, m->volume.name);
    if (n < 0 || (size_t)n >= sizeof(path))
        return 0;
    json_t *opts = NULL;
    int r = load_object(path, &opts, NULL);
    if (r < 0 || !opts)
        return r;
    static const struct {
        const char *field, *option;
    } map[] = {{"MountType", "type"}, {"MountOpts", "o"}, {"MountDevice", "device"}};
    for (size_t i = 0; i < ELEMENTSOF(map) && r >= 0; i++) {
        const char *v = json_string_value(json_object_get(opts, map[i].field));
        if (!isempty(v))
            r = mpp_strmap_set(&m->volume.options, map[i].option, v);
    }
    json_decref(opts);
    return r;
}

static int describe_mount_point(mpp_mount *m, const json_t *mp)
{
    const char *type = json_string_value(json_object_get(mp, "Type"));
    const json_t *spec = json_object_get(mp, "Spec");
    if (type &&
        (strcmp(type, "bind") == 0 || strcmp(type, "volume") == 0 || strcmp(type, "tmpfs") == 0)) {
        /* Only a tmpfs stays a tmpfs: the config.json mount kind decides that. */
        bool was_tmpfs = strcmp(m->type, "tmpfs") == 0;
        if (was_tmpfs == (strcmp(type, "tmpfs") == 0) && mpp_set_string(&m->type, type) < 0)
            return -ENOMEM;
    }
    if (strcmp(m->type, "bind") == 0) {
        /* A -v of a volume's directory by path: Docker says bind, so it is not a volume. */
        free(m->volume.name);
        free(m->volume.driver);
        free(m->volume.scope);
        m->volume.name = m->volume.driver = m->volume.scope = NULL;
    }
    if (strcmp(m->type, "volume") == 0) {
        const char *name = json_string_value(json_object_get(mp, "Name"));
        const char *driver = json_string_value(json_object_get(mp, "Driver"));
        if (!isempty(name) && mpp_set_string(&m->volume.name, name) < 0)
            return -ENOMEM;
        if (!isempty(driver)) {
            if (mpp_set_string(&m->volume.driver, driver) < 0 ||
                mpp_set_string(&m->volume.scope, strcmp(driver, "local") == 0 ? "local" : NULL) < 0)
                return -ENOMEM;
        }
        if (volume_options(m, json_object_get(spec, "VolumeOptions")) < 0)
            return -ENOMEM;
    }
    return set_nonempty(&m->consistency, json_object_get(spec, "Consistency"));
}

/* Fill what Docker knows about the mount at dst_clean: type, volume, mode, consistency,
 * CreateSourceIfMissing, container and image labels. 0 or -ENOMEM. */
static int mpp_docker_describe(const mpp_docker *d, const char *dst_clean, mpp_mount *m)
{
    int r;
    const json_t *mp = find_mount_point(d, dst_clean);
    if (mp && (r = describe_mount_point(m, mp)) < 0)
        return r;

    bind_spec b;
    const json_t *mnt;
    if (find_bind(d, dst_clean, &b)) {
        char word[16];
        const char *c = mode_consistency(b.mode, word, sizeof(word));
        if ((b.mode[0] && mpp_set_string(&m->mode, b.mode) < 0) ||
            (c && mpp_set_string(&m->consistency, c) < 0))
            return -ENOMEM;
        /* -v creates a missing host directory; a volume's directory is Docker's business. */
        m->create_source_if_missing = b.src[0] == '/';
    } else if ((mnt = find_mount(d, dst_clean))) {
        if (set_nonempty(&m->consistency, json_object_get(mnt, "Consistency")) < 0)
            return -ENOMEM;
        if (!mp && strcmp(m->type, "volume") == 0 &&
            volume_options(m, json_object_get(mnt, "VolumeOptions")) < 0)
            return -ENOMEM;
        m->create_source_if_missing = false;
    }

    if (strcmp(m->type, "volume") == 0 && (r = volume_opts_file(d, m)) < 0)
        return r;

    const json_t *labels = json_object_get(json_object_get(d->config, "Config"), "Labels");
    if (json_is_object(labels) && mpp_strmap_from_object(&m->container.labels, labels) < 0)
        return -ENOMEM;
    for (size_t i = 0; i < d->image_labels.n; i++)
        if (mpp_strmap_set(&m->image.labels, d->image_labels.items[i].key,
                           d->image_labels.items[i].value) < 0)
            return -ENOMEM;
    return 0;
}

static int docker_find_root(const mpp_adapter_ctx *ctx, char **root, mpp_error *err)
{
    return mpp_engine_root(ctx->options->docker_root, MPP_DEFAULT_DOCKER_ROOT, "Docker root", root,
                           err);
}

static int docker_claim(const mpp_adapter_ctx *ctx, mpp_engine_view *self)
{
    /* containerd runs every Docker container in its "moby" namespace. */
    if (!ctx->id || !self->root ||
        !(mpp_contains(ctx->runtime_root, "/moby") || mpp_contains(ctx->bundle_dir, "/moby/")))
        return 0;
    mpp_docker *d = NULL;
    int r = mpp_docker_load(self->root, ctx->id, &d);
    if (r == -ENOENT)
        return 0;
    if (r < 0)
        return r;
    self->data = d;
    return 1;
}

static void docker_release(void *data)
{
    mpp_docker_free(data);
}

/* Docker's own files for this container (resolv.conf, hosts, hostname, mounts/shm...). Only this
 * container's: log collectors bind DOCKER_ROOT/containers itself. */
static bool docker_is_engine_file(const mpp_adapter_ctx *ctx, const mpp_engine_view *self,
                                  const char *src, const char *src_clean)
{
    return ctx->id && self->root &&
           mpp_engine_object_at(src, src_clean, self->root, "containers", ctx->id);
}

static int docker_volume_name(const mpp_adapter_ctx *ctx, const mpp_engine_view *self,
                              const char *src_clean, char **name)
{
    (void)ctx;
    *name = NULL;
    return self->root ? mpp_volume_name_from_path(src_clean, self->root, name) : 0;
}

static bool docker_user_mount(const mpp_adapter_ctx *ctx, const mpp_engine_view *self,
                              const char *dst_clean)
{
    (void)ctx;
    return self->data && mpp_docker_user_mount(self->data, dst_clean);
}

static int docker_describe_mount(const mpp_adapter_ctx *ctx, const mpp_engine_view *self,
                                 const char *dst_clean, mpp_mount *m)
{
    (void)ctx;
    return self->data ? mpp_docker_describe(self->data, dst_clean, m) : 0;
}

const mpp_engine_ops mpp_engine_docker = {
    .name = "docker",
    .find_root = docker_find_root,
    .claim = docker_claim,
    .release = docker_release,
    .is_engine_file = docker_is_engine_file,
    .volume_name = docker_volume_name,
    .user_mount = docker_user_mount,
    .describe_mount = docker_describe_mount,
};
