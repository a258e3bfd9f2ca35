/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The data model of the mount point plugin protocol (protocol §4 and §5). Every string and array
 * is heap-owned by the struct that holds it; the *_clear functions free them and accept zeroed
 * structs. An absent string is NULL; an absent array has n == 0 (and items may be NULL). */

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A string→string map, in the order the JSON object gave it. */
typedef struct mpp_kv {
    char *key;
    char *value;
} mpp_kv;

typedef struct mpp_strmap {
    mpp_kv *items;
    size_t n;
} mpp_strmap;

/* Changes a plugin made to a mount (Changes, protocol §4.2). NULL or "" = unchanged. */
typedef struct mpp_changes {
    char *effective_source;
    char *effective_consistency;
} mpp_changes;

/* One AppliedMiddleware entry: {"Name": "plugin:NAME", "Changes": {...}}. */
typedef struct mpp_applied {
    char *name;
    mpp_changes changes;
} mpp_applied;

typedef struct mpp_volume {
    char *name;
    char *driver;
    char *id;
    mpp_strmap labels;
    mpp_strmap driver_options;
    mpp_strmap options;
    char *scope; /* "local" | "global" | NULL */
} mpp_volume;

typedef struct mpp_container_info {
    mpp_strmap labels;
    char *id;               /* [mpp extension] */
    char *engine;           /* [mpp extension] docker, podman, containerd, cri-o, oci */
    mpp_strmap annotations; /* [mpp extension] */
} mpp_container_info;

typedef struct mpp_image_info {
    mpp_strmap labels;
} mpp_image_info;

/* MountPoint. */
typedef struct mpp_mount {
    char *effective_source;
    char *effective_consistency;
    mpp_volume volume;
    mpp_container_info container;
    mpp_image_info image;
    char *source;
    char *destination;
    bool read_only;
    char *type; /* "bind", "volume", [mpp extension] "tmpfs" */
    char *mode;
    char *propagation;
    bool create_source_if_missing;
    mpp_applied *applied; /* AppliedMiddleware, earliest first */
    size_t n_applied;
    char *consistency;
} mpp_mount;

/* Patterns (protocol §5). */

/* StringPattern: every predicate that is set must hold; not_ negates each predicate on its own.
 * A NULL string predicate is unset; empty is set when true. */
typedef struct mpp_string_pattern {
    bool not_;
    bool empty;
    char *prefix;
    char *path_prefix;
    char *suffix;
    char *path_contains;
    char *exactly;
    char *contains;
} mpp_string_pattern;

/* A list of StringPatterns: matches when every element matches (an empty list matches). */
typedef struct mpp_string_patterns {
    mpp_string_pattern *items;
    size_t n;
} mpp_string_patterns;

typedef struct mpp_kv_pattern {
    mpp_string_pattern key;
    mpp_string_pattern value;
} mpp_kv_pattern;

typedef struct mpp_strmap_pattern {
    bool not_;
    mpp_kv_pattern *exists;
    size_t n_exists;
    mpp_kv_pattern *all;
    size_t n_all;
} mpp_strmap_pattern;

typedef struct mpp_strmap_patterns {
    mpp_strmap_pattern *items;
    size_t n;
} mpp_strmap_patterns;

/* Tri-state for pointer-like booleans: absent means "don't care". */
typedef enum mpp_tristate {
    MPP_UNSET = -1,
    MPP_FALSE = 0,
    MPP_TRUE = 1,
} mpp_tristate;

typedef struct mpp_applied_pattern {
    mpp_string_patterns name;
    mpp_string_patterns changes_effective_source;
    char *changes_effective_consistency; /* NULL or "" = don't care */
} mpp_applied_pattern;

typedef struct mpp_applied_patterns {
    mpp_applied_pattern *items;
    size_t n;
} mpp_applied_patterns;

/* AppliedMiddlewareStackPattern: each key and its Not… twin. */
typedef enum mpp_stack_op {
    MPP_STACK_EXISTS,
    MPP_STACK_ALL,
    MPP_STACK_ANY_SEQUENCE,
    MPP_STACK_TOP_SEQUENCE,
    MPP_STACK_BOTTOM_SEQUENCE,
    MPP_STACK_RELATIVE_ORDER,
    _MPP_STACK_OP_MAX,
} mpp_stack_op;

typedef struct mpp_stack_pattern {
    mpp_applied_patterns op[_MPP_STACK_OP_MAX];
    mpp_applied_patterns not_op[_MPP_STACK_OP_MAX];
} mpp_stack_pattern;

typedef struct mpp_volume_pattern {
    mpp_string_patterns name;
    mpp_string_patterns driver;
    mpp_string_patterns id;
    mpp_strmap_patterns labels;
    mpp_strmap_patterns driver_options;
    mpp_strmap_patterns options;
    char *scope; /* NULL = don't care */
} mpp_volume_pattern;

/* Pattern: every field that is set must match. */
typedef struct mpp_pattern {
    mpp_string_patterns effective_source;
    char *effective_consistency;
    mpp_volume_pattern volume;
    mpp_strmap_patterns container_labels;
    mpp_strmap_patterns image_labels;
    mpp_string_patterns source;
    mpp_string_patterns destination;
    mpp_tristate read_only;
    char *type;
    mpp_string_patterns mode;
    char *propagation;
    mpp_tristate create_source_if_missing;
    mpp_stack_pattern applied_middleware;
    char *consistency;
} mpp_pattern;

/* Messages (protocol §4). */

typedef struct mpp_activate_response {
    char **implements;
    size_t n_implements;
} mpp_activate_response;

typedef struct mpp_properties_response {
    bool success;
    mpp_pattern *patterns;
    size_t n_patterns;
    char *err;
} mpp_properties_response;

typedef struct mpp_attach_request {
    char *id;
    mpp_mount *mounts;
    size_t n_mounts;
} mpp_attach_request;

typedef enum mpp_action_kind {
    MPP_ACTION_REMOVE,
    MPP_ACTION_UNMOUNT,
    MPP_ACTION_WARNING,
    MPP_ACTION_ERROR,
    MPP_ACTION_FATAL,
} mpp_action_kind;

/* An emergency detach action: one of {"Remove": p}, {"Unmount": p}, {"Warning": m}, … */
typedef struct mpp_action {
    mpp_action_kind kind;
    char *arg;
} mpp_action;

typedef struct mpp_attachment {
    bool attach;
    mpp_changes changes; /* v1 NewMountPoint decodes into changes.effective_source */
    mpp_action *emergency;
    size_t n_emergency;
} mpp_attachment;

typedef struct mpp_attach_response {
    bool success;
    mpp_attachment *attachments;
    size_t n_attachments;
    char *err;
    /* [mpp extension] StateDir: an absolute directory the plugin keeps its state under. Its
     * emergency Remove and Unmount actions may act on the EffectiveSources it returned, on
     * this directory, and below them; on nothing else. */
    char *state_dir;
} mpp_attach_response;

typedef struct mpp_detach_request {
    char *id;
    mpp_mount *mounts; /* [mpp extension] */
    size_t n_mounts;
    bool has_exit_status; /* [mpp extension] ExitStatus present */
    int exit_status;
} mpp_detach_request;

typedef struct mpp_detach_response {
    bool success;
    bool recoverable;
    char *err;
} mpp_detach_response;

/* Destructors: free what the struct owns and zero it; NULL is fine. */
void mpp_strmap_clear(mpp_strmap *m);
void mpp_changes_clear(mpp_changes *c);
void mpp_mount_clear(mpp_mount *m);
void mpp_mounts_free(mpp_mount *mounts, size_t n);
void mpp_string_pattern_clear(mpp_string_pattern *p);
void mpp_pattern_clear(mpp_pattern *p);
void mpp_patterns_free(mpp_pattern *patterns, size_t n);
void mpp_activate_response_clear(mpp_activate_response *r);
void mpp_properties_response_clear(mpp_properties_response *r);
void mpp_attach_request_clear(mpp_attach_request *r);
void mpp_attachment_clear(mpp_attachment *a);
void mpp_attach_response_clear(mpp_attach_response *r);
void mpp_detach_request_clear(mpp_detach_request *r);
void mpp_detach_response_clear(mpp_detach_response *r);

/* Deep copies. Return 0 or -ENOMEM (dst is left zeroed on failure). */
int mpp_strmap_copy(mpp_strmap *dst, const mpp_strmap *src);
int mpp_mount_copy(mpp_mount *dst, const mpp_mount *src);
int mpp_action_copy(mpp_action *dst, const mpp_action *src);

/* Add a key/value (copied) to a map. Returns 0 or -ENOMEM. */
int mpp_strmap_add(mpp_strmap *m, const char *key, const char *value);
const char *mpp_strmap_get(const mpp_strmap *m, const char *key);

/* Initialise a pattern to "match everything" ({}), with tri-states unset. */
void mpp_pattern_init(mpp_pattern *p);

const char *mpp_action_kind_to_string(mpp_action_kind k); /* "Remove", "Unmount", … */

#ifdef __cplusplus
}
#endif
