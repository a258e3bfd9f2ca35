/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Engine adapters (internal): which config.json mounts are interposable, their generic
 * description, and what each engine's own records add to it. */

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include <mpp/error.h>
#include <mpp/oci.h>
#include <mpp/types.h>

typedef enum mpp_engine {
    MPP_ENGINE_OCI,
    MPP_ENGINE_DOCKER,
    MPP_ENGINE_PODMAN,
    MPP_ENGINE_CONTAINERD,
    MPP_ENGINE_CRIO,
} mpp_engine;

const char *mpp_engine_name(mpp_engine e);

typedef struct mpp_docker mpp_docker;

/* What the adapters know about one container. */
typedef struct mpp_adapter_ctx {
    const char *id;    /* validated, or NULL */
    char *docker_root; /* cleaned, defaults applied */
    char *podman_root;
    const char *runtime_root;  /* may be NULL */
    const char *bundle_dir;    /* may be NULL */
    const json_t *annotations; /* an object, or NULL */
    mpp_engine engine;
    mpp_docker *docker; /* Docker's records, when engine is Docker */
} mpp_adapter_ctx;

/* Describe the interposable mounts of a validated config.json root (see mpp_bundle_describe). */
int mpp_adapter_describe(const json_t *root, const char *origin, const mpp_adapter_options *o,
                         mpp_mount **mounts, size_t **index, size_t *n, mpp_error *err);

/* Docker (adapter-docker.c). Load DOCKER_ROOT/containers/ID: -ENOENT when config.v2.json does
 * not exist (not a Docker container), 0 otherwise, even when the files are unreadable or
 * malformed (they are then ignored), -ENOMEM. */
int mpp_docker_load(const char *docker_root, const char *id, mpp_docker **out);
void mpp_docker_free(mpp_docker *d);
/* Whether the user asked for a mount at this (clean) destination: -v, --mount or a volume. */
bool mpp_docker_user_mount(const mpp_docker *d, const char *dst_clean);
/* Fill what Docker knows about the mount at dst_clean: type, volume, mode, consistency,
 * CreateSourceIfMissing, container and image labels. 0 or -ENOMEM. */
int mpp_docker_describe(const mpp_adapter_ctx *ctx, const char *dst_clean, mpp_mount *m);

/* Podman (adapter-podman.c): annotations are its labels. 0 or -ENOMEM. */
int mpp_podman_describe(const mpp_adapter_ctx *ctx, mpp_mount *m);

/* Helpers shared by the adapters (oci.c and adapter.c). */

/* Read a regular file (not through a final symbolic link) of at most max bytes and parse it
 * with mpp_json_parse's limits. -ENOENT when it does not exist. */
int mpp_json_load_file(const char *path, size_t max, json_t **out, mpp_error *err);

/* Whether path (clean, absolute) is root or lies below it, component-wise. */
bool mpp_path_is_under(const char *path, const char *root);

/* If path is ROOT/volumes/NAME/_data (or below), return a heap copy of NAME in *name. 0 when it
 * is not, 1 when it is, -ENOMEM. */
int mpp_volume_name_from_path(const char *path, const char *root, char **name);

/* Add or replace key in a map. 0 or -ENOMEM. */
int mpp_strmap_set(mpp_strmap *m, const char *key, const char *value);

/* Copy every string member of a JSON object into a map (other values skipped). -ENOMEM. */
int mpp_strmap_from_object(mpp_strmap *m, const json_t *obj);

/* Replace *field with a copy of value. 0 or -ENOMEM. */
int mpp_set_string(char **field, const char *value);
