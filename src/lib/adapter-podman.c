/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The Podman adapter. Podman writes `--annotation` into config.json, so the annotations are the
 * container's labels here. Its `--label` values live in its database (libpod's bolt or sqlite
 * store), which a runtime or hook cannot read safely while podman holds it: they are left out;
 * users who need them in patterns add `--annotation mpp.labels.KEY=VALUE`. Volumes are found by
 * path (PODMAN_ROOT/volumes/NAME/_data) in the generic description; `:cached` and the like are
 * dropped by Podman before the runtime sees them. */
#include <errno.h>
#include <string.h>

#include "engine.h"
#include "macro.h"

static int podman_find_root(const mpp_adapter_ctx *ctx, char **root, mpp_error *err)
{
    return mpp_engine_root(ctx->options->podman_root, MPP_DEFAULT_PODMAN_ROOT, "Podman root", root,
                           err);
}

static int podman_claim(const mpp_adapter_ctx *ctx, mpp_engine_view *self)
{
    (void)self;
    const char *manager =
        json_string_value(json_object_get(ctx->annotations, "io.container.manager"));
    return manager && strcmp(manager, "libpod") == 0;
}

/* Podman's and CRI-O's files for this container (userdata/...), in the storage root and in the
 * run root of containers/storage, which both use (/var/run is how CRI-O writes it). */
static bool podman_is_engine_file(const mpp_adapter_ctx *ctx, const mpp_engine_view *self,
                                  const char *src, const char *src_clean)
{
    static const char *const run_roots[] = {
        "/run/containers/storage/overlay-containers",
        "/var/run/containers/storage/overlay-containers",
    };
    if (!ctx->id)
        return false;
    if (self->root &&
        mpp_engine_object_at(src, src_clean, self->root, "overlay-containers", ctx->id))
        return true;
    for (size_t i = 0; i < ELEMENTSOF(run_roots); i++)
        if (mpp_engine_object_at(src, src_clean, run_roots[i], NULL, ctx->id))
            return true;
    return false;
}

static int podman_volume_name(const mpp_adapter_ctx *ctx, const mpp_engine_view *self,
                              const char *src_clean, char **name)
{
    (void)ctx;
    *name = NULL;
    return self->root ? mpp_volume_name_from_path(src_clean, self->root, name) : 0;
}

/* Annotations are Podman's labels. */
static int podman_describe_mount(const mpp_adapter_ctx *ctx, const mpp_engine_view *self,
                                 const char *dst_clean, mpp_mount *m)
{
    (void)self;
    (void)dst_clean;
    if (!ctx->annotations)
        return 0;
    return mpp_strmap_from_object(&m->container.labels, ctx->annotations);
}

const mpp_engine_ops mpp_engine_podman = {
    .name = "podman",
    .find_root = podman_find_root,
    .claim = podman_claim,
    .is_engine_file = podman_is_engine_file,
    .volume_name = podman_volume_name,
    .describe_mount = podman_describe_mount,
};
