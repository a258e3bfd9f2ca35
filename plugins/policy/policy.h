/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* mpp-plugin-policy: allow or deny bind and volume mounts by ordered rules. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <mpp/error.h>
#include <mpp/types.h>

typedef enum policy_kind {
    POLICY_PROTECT,
    POLICY_ALLOW_SOURCES,
    POLICY_READ_ONLY,
    POLICY_REQUIRE_EXISTING,
} policy_kind;

/* A configured path, clean, and its resolved form on the host when it exists and differs (a
 * protected /var/run/docker.sock is also /run/docker.sock where /var/run is a symlink). */
typedef struct policy_path {
    char *path;
    char *resolved; /* NULL when equal to path or not resolvable */
} policy_path;

typedef struct policy_rule {
    char *name;
    policy_kind kind;
    mpp_strmap_patterns when; /* on container labels; empty = always */
    policy_path *paths;       /* protect, allow_sources, read_only */
    size_t n_paths;
    bool deny_hard_links; /* protect, read_only: refuse a multiply linked file on the file
                             system of a protected directory */
} policy_rule;

typedef struct policy_config {
    char *origin; /* the file it came from, for messages */
    bool default_deny;
    policy_rule *rules;
    size_t n_rules;
    unsigned refs; /* owned by policy_state */
} policy_config;

/* config.c */
int policy_config_load(const char *path, policy_config **out, mpp_error *err);
void policy_config_free(policy_config *c);

typedef struct policy_cache policy_cache;

/* decide.c: the verdict on one mount. Returns 0 with *deny NULL (allowed) or a heap message
 * for the user (denied); negative on internal failure (ENOMEM). cache (or NULL) holds what the
 * decisions on the mounts of one request share. */
int policy_decide(const policy_config *c, policy_cache *cache, const mpp_mount *m, char **deny,
                  mpp_error *err);

/* The host path that path (clean, absolute) names once symlinks are followed; a path that does
 * not exist resolves through its longest existing ancestor. Heap string, NULL with errno set. */
char *policy_resolve(const char *path);

/* identity.c: what a path names, by identity rather than by name. */
typedef struct policy_ident {
    dev_t dev;
    ino_t ino;
} policy_ident;

typedef struct policy_object {
    bool exists; /* false: nothing to judge by identity (the name rules still apply) */
    bool below;  /* the path does not exist: the rest describes its nearest existing ancestor,
                    inside which it would be created */
    bool is_dir;
    nlink_t nlink;
    dev_t dev;
    ino_t ino;
    policy_ident *anc; /* the object, then each ancestor up to "/" by "..", across mounts */
    size_t n_anc;
    char *fspath; /* its path inside its file system (mountinfo root + path below the mount
                     point), or NULL when unknown */
} policy_object;

/* /proc/self/mountinfo as read once for a decision: {0} to start, cleared after. */
typedef struct policy_mountinfo {
    bool loaded;
    struct {
        uint64_t id;
        char *root, *point;
    } * v;
    size_t n;
} policy_mountinfo;
void policy_mountinfo_clear(policy_mountinfo *mi);

/* Open path (O_PATH, symbolic links followed, magic links never) and describe what it names.
 * When it does not exist, its nearest existing ancestor, with below set; 0 with exists false
 * when none can be opened; negative errno when it cannot be judged (-ESTALE:
 * it moved while being looked at). */
int policy_object_open(const char *path, policy_mountinfo *mi, policy_object *o);
void policy_object_clear(policy_object *o);
/* Whether a is o or one of o's ancestors, by (st_dev, st_ino). */
bool policy_object_has_ancestor(const policy_object *o, const policy_object *a);
/* Whether o lies at or under a inside the same file system (by fspath), whatever mount shows
 * them. */
bool policy_fspath_under(const policy_object *o, const policy_object *a);

/* What the decisions on the mounts of one request share: the mount table and the protected
 * objects, looked at once (a request's mounts are judged within milliseconds). {0} to start. */
typedef struct policy_cached {
    const char *path; /* the configuration's, which the request holds a reference on */
    int error;
    policy_object o;
} policy_cached;

struct policy_cache {
    policy_mountinfo mounts;
    policy_cached *v;
    size_t n;
};
void policy_cache_clear(policy_cache *c);

/* reload.c: the current configuration, replaced on SIGHUP. Readers take a reference. */
typedef struct policy_state policy_state;
int policy_state_new(const char *config_path, policy_state **out, mpp_error *err);
/* Block SIGHUP in the calling thread (before any other thread exists) and start the thread that
 * reloads on it. */
int policy_state_start_reloader(policy_state *s, mpp_error *err);
/* Stop and join the reloader; free everything. NULL is fine. */
void policy_state_free(policy_state *s);
policy_config *policy_state_get(policy_state *s);
void policy_state_put(policy_state *s, policy_config *c);
/* Reload now (what SIGHUP does). Returns 0 or a negative errno; on failure the old
 * configuration stays. */
int policy_state_reload(policy_state *s, mpp_error *err);
