/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The interface between the adapter dispatcher (adapter.c) and the engines (internal).
 *
 * Each engine is one file that fills one const mpp_engine_ops and knows nothing of the others;
 * adapter.c knows the engines only through the table `engines[]`, and the engines call only the
 * helpers below (adapter-util.c), never adapter.c. Adding an engine (CRI-O's or containerd's own
 * records next) is one new adapter-NAME.c, one line in `engines[]` and one in meson.build. */

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include <mpp/error.h>
#include <mpp/oci.h>
#include <mpp/types.h>

#include "adapter.h"

typedef struct mpp_engine_ops mpp_engine_ops;

/* What the dispatcher knows about one container, the same for every engine. */
typedef struct mpp_adapter_ctx {
    const mpp_adapter_options *options; /* as the caller gave them (roots unchecked) */
    const json_t *config;               /* the validated config.json root */
    const char *id;                     /* validated, or NULL */
    const char *runtime_root;           /* may be NULL */
    const char *bundle_dir;             /* may be NULL */
    const json_t *annotations;          /* an object, or NULL */
    const mpp_engine_ops *engine;       /* the engine that claimed the container */
} mpp_adapter_ctx;

/* One engine's view of the container, owned by the dispatcher and handed to the engine's ops. */
typedef struct mpp_engine_view {
    char *root; /* the engine's data root for this container (clean, absolute), or NULL */
    void *data; /* the engine's records of the container, once it claimed it */
} mpp_engine_view;

/* Every op but name may be NULL (the engine has nothing to say there). */
struct mpp_engine_ops {
    /* Container.Engine. */
    const char *name;
    /* The engine's data root for this container: a heap string (clean, absolute) in *root, or
     * NULL when it keeps none. Asked of every engine first, because the exclusions and volumes
     * by path below hold whichever engine made the container. The root is per container, so
     * that it may be found from the container's own mounts; it must not depend on another
     * engine. 0, or negative errno with err filled. */
    int (*find_root)(const mpp_adapter_ctx *ctx, char **root, mpp_error *err);
    /* Whether this engine made the container: 1 (its records, if any, in self->data), 0, or
     * -ENOMEM. Asked in table order; the first engine to claim describes the container. The
     * engine's files are untrusted: unreadable or malformed ones are not an error. */
    int (*claim)(const mpp_adapter_ctx *ctx, mpp_engine_view *self);
    /* Free self->data. */
    void (*release)(void *data);
    /* Whether the bind source (as written, and its clean form) is this engine's own file for
     * this container (protocol §3): the mount then never reaches plugins. Asked of every engine,
     * not only the one that claimed: a claim can miss (Docker's records unreadable) while the
     * file is still the engine's. Use mpp_engine_object_at(), which fails closed. */
    bool (*is_engine_file)(const mpp_adapter_ctx *ctx, const mpp_engine_view *self, const char *src,
                           const char *src_clean);
    /* If the clean bind source is a named volume of the local driver kept by this engine, its
     * name in *name (heap) and 1; 0 when not; -ENOMEM. Asked of every engine in table order;
     * the first to know the path wins. */
    int (*volume_name)(const mpp_adapter_ctx *ctx, const mpp_engine_view *self,
                       const char *src_clean, char **name);
    /* Whether the user asked for a mount at this clean destination: a tmpfs that the runtime's
     * destination rules would hide then reaches plugins. Asked of the claiming engine only. */
    bool (*user_mount)(const mpp_adapter_ctx *ctx, const mpp_engine_view *self,
                       const char *dst_clean);
    /* Add what the engine knows to the generic description of the mount at dst_clean (before
     * the user's annotations override it). Asked of the claiming engine only. 0 or -ENOMEM. */
    int (*describe_mount)(const mpp_adapter_ctx *ctx, const mpp_engine_view *self,
                          const char *dst_clean, mpp_mount *m);
};

/* The engines (one file each). */
extern const mpp_engine_ops mpp_engine_docker; /* adapter-docker.c */
extern const mpp_engine_ops mpp_engine_podman; /* adapter-podman.c */
/* adapter-oci.c: engines known by their marks only, and plain OCI, which claims anything. */
extern const mpp_engine_ops mpp_engine_crio;
extern const mpp_engine_ops mpp_engine_containerd;
extern const mpp_engine_ops mpp_engine_oci;

/* Helpers for the engines and the dispatcher (adapter-util.c). */

/* The engine root to use: given (the caller's option) or else def, in clean absolute form, in
 * *out. -EINVAL naming what ("Docker root") when it is not absolute, -ENOMEM. */
int mpp_engine_root(const char *given, const char *def, const char *what, char **out,
                    mpp_error *err);

/* Whether the bind source is an object of the engine's below root, inside prefix: written in
 * clean form and reached from root through no symbolic link (see adapter-util.c). */
bool mpp_engine_object(const char *root, const char *prefix, const char *src,
                       const char *src_clean);
/* The same with prefix ROOT/SUB/ID (or ROOT/ID when sub is NULL). */
bool mpp_engine_object_at(const char *src, const char *src_clean, const char *root, const char *sub,
                          const char *id);

/* Whether s contains needle (false for NULL). */
bool mpp_contains(const char *s, const char *needle);

/* Whether an annotation (of an object, or NULL) has a key starting with prefix. */
bool mpp_annotation_prefix(const json_t *ann, const char *prefix);

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
