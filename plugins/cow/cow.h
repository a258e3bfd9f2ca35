/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* mpp-plugin-cow: copy-on-write bind mounts. Layout of the state directory:
 *   ID.json            what was attached for container ID (pu_state_*)
 *   ID/N/{upper,work,merged}   the overlay of the container's N-th selected mount
 *   kept/ID/N/ and kept/ID/N.json   the changes kept at detach (keep mode) */

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include <mpp/error.h>
#include <mpp/types.h>

#define COW_KEEP_LABEL "mpp.cow.keep"
#define COW_DEFAULT_PATTERNS                                                                       \
    "[{\"Type\": \"bind\", \"Container\": {\"Labels\": [{\"Exists\": [{\"Key\": {\"Exactly\": "    \
    "\"mpp.cow\"}, \"Value\": {\"Exactly\": \"true\"}}]}]}}]"

typedef struct cow_config {
    mpp_pattern *patterns;
    size_t n_patterns;
    bool keep;
} cow_config;

/* config.c: path may be NULL (all defaults). */
int cow_config_load(const char *path, cow_config *out, mpp_error *err);
void cow_config_clear(cow_config *c);

typedef struct cow {
    cow_config cfg;
    char *state_dir;      /* clean, absolute */
    pthread_mutex_t lock; /* one attach or detach at a time */
} cow;

/* overlay.c: the kernel side. */
/* Mount an overlay of lower (an open directory) on DIR/merged with DIR/upper and DIR/work,
 * in the host mount namespace. */
int cow_overlay_mount(int lower_fd, const char *lower, const char *dir, mpp_error *err);
/* Unmount everything mounted on path (no error if nothing is). */
int cow_unmount_all(const char *path, mpp_error *err);
/* Remove a tree without following symlinks or crossing into another mount. Absent is fine. */
int cow_rm_rf(const char *path, mpp_error *err);

/* container.c: the protocol side. */
int cow_attach(cow *c, const mpp_attach_request *req, mpp_attach_response *resp, mpp_error *err);
/* Tear down what was attached for id: unmount, keep or discard the changes, remove the state.
 * An unknown id is not an error. */
int cow_detach(cow *c, const char *id, mpp_error *err);
/* At start: finish the teardowns of containers whose overlays are no longer mounted (the
 * plugin was down at their detach and mpp ran the emergency actions). */
void cow_collect_orphans(cow *c);
