/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* mpp-plugin-idmap: sources presented with their owners mapped, through idmapped mounts.
 * Layout of the state directory:
 *   ID.json   what was attached for container ID (pu_state_*)
 *   ID/N      the idmapped mount of the container's N-th selected mount (the EffectiveSource) */

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mpp/error.h>
#include <mpp/types.h>

/* Kernel limit on the lines of a uid_map or gid_map. */
#define IDMAP_MAX_RANGES 340

typedef struct idmap_range {
    uint32_t host, container, count;
} idmap_range;

/* One entry of "mappings": which mounts it applies to, and the id maps. */
typedef struct idmap_rule {
    char *source_prefix; /* clean absolute path; NULL: any source */
    mpp_strmap labels;   /* container labels that must all be equal */
    idmap_range *uid, *gid;
    size_t n_uid, n_gid;
    int userns_fd; /* a user namespace expressing the maps, made at start */
} idmap_rule;

typedef struct idmap_config {
    idmap_rule *rules;
    size_t n_rules;
    mpp_pattern *patterns;
    size_t n_patterns;
} idmap_config;

/* config.c */
int idmap_config_load(const char *path, idmap_config *out, mpp_error *err);
void idmap_config_clear(idmap_config *c);
/* The first rule that applies to m, or NULL. */
const idmap_rule *idmap_config_find(const idmap_config *c, const mpp_mount *m);

/* kernel.c */
/* A user namespace whose uid_map and gid_map are the rule's ranges, written "HOST CONTAINER
 * COUNT": an idmapped mount shows an on-disk id k as the id k maps to in the namespace. */
int idmap_userns_open(const idmap_rule *rule, int *out, mpp_error *err);
/* Clone the tree at src_fd (an O_PATH fd of src), idmap it with userns_fd and mount it on
 * target (an existing directory or file). */
int idmap_mount(int src_fd, const char *src, int userns_fd, const char *target, mpp_error *err);
/* Unmount everything on path; nothing mounted is fine. */
int idmap_unmount_all(const char *path, mpp_error *err);
bool idmap_is_mount_root(const char *path);
/* The type of the filesystem of fd, from /proc/self/mountinfo ("unknown" if not found). */
void idmap_fstype(int fd, char *buf, size_t size);

typedef struct idmap {
    idmap_config cfg;
    char *state_dir;      /* clean, absolute */
    pthread_mutex_t lock; /* one attach or detach at a time */
} idmap;

/* container.c */
int idmap_attach(idmap *im, const mpp_attach_request *req, mpp_attach_response *resp,
                 mpp_error *err);
/* Unmount and remove what was attached for id. An unknown id is not an error. */
int idmap_detach(idmap *im, const char *id, mpp_error *err);
/* At start: finish the teardowns of containers whose mounts are gone (mpp ran the emergency
 * actions while the plugin was down). */
void idmap_collect_orphans(idmap *im);
