/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The chain engine (protocol §2 and §6) and its journal.
 *
 * mpp_chain_attach runs the attach pass for one container: for each plugin in chain order it
 * selects the mounts its patterns match (no I/O: properties come from a cache under state_dir),
 * sends one Attach with all of them, and applies the answers. Every step is written to the
 * container's journal (state_dir/containers/ID/journal, one write() each, not synced: see
 * journal.h) before its effect can matter, so that a teardown in any later process, after a
 * crash at any point, detaches exactly the plugins that attached (or may have: an Attach sent
 * without a recorded answer counts as attached, protocol §6.3).
 *
 * mpp_chain_detach unwinds from the journal: highest clock first, one Detach per plugin.
 * Plugins must accept a Detach for a container ID they do not know (they may have crashed before
 * recording the attach, or never received it). */

#include <stdbool.h>
#include <stddef.h>

#include <mpp/client.h>
#include <mpp/config.h>
#include <mpp/error.h>
#include <mpp/types.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mpp_chain mpp_chain;

/* Prepare the chain of cfg. Contacts no plugin: properties are loaded lazily, from the cache
 * when it is valid for the plugin's current identity and this configuration. */
int mpp_chain_new(const mpp_config *cfg, mpp_chain **out, mpp_error *err);
void mpp_chain_free(mpp_chain *c);

/* Attach pass for container id. mounts are the interposable mounts (protocol §3), in a stable
 * order; on success their effective_source, effective_consistency and applied stacks are
 * filled. On a denial, or any failure, every plugin already attached is detached (reverse
 * order; an Attach that went out and got no valid answer counts as attached: the plugin may
 * have acted on it) before returning -EPERM (denied) or another negative errno; the message names
 * the plugin and carries its Err, e.g.
 *   mount point plugin "policy" denied /etc -> /host-etc: path /etc is protected */
int mpp_chain_attach(mpp_chain *c, const char *id, mpp_mount *mounts, size_t n_mounts,
                     mpp_error *err);

/* Called by mpp_chain_attach once for each mount whose EffectiveSource a plugin has just set,
 * after the plugin's answer is recorded and applied and before any later plugin is asked: the
 * moment to pin what the path names (mpp/pin.h). index is the mount's position in mounts; the
 * hook may replace m->effective_source (with the canonical path of what it pinned, say), which is
 * then what later plugins see and match. A negative return fails the attach pass like a refused
 * Attach (every attached plugin, this one included, is detached); err says why. */
typedef int (*mpp_chain_source_hook)(void *userdata, size_t index, mpp_mount *m, const char *plugin,
                                     mpp_error *err);

/* Install (or, with NULL, remove) the hook for the following attach passes. */
void mpp_chain_set_source_hook(mpp_chain *c, mpp_chain_source_hook hook, void *userdata);

/* How many plugins the last attach pass asked about a mount (whether or not they attached):
 * when not 0, the mounts were judged and their sources must be what the runtime mounts. */
size_t mpp_chain_consulted(const mpp_chain *c);

/* The configuration the chain was made with. */
const mpp_config *mpp_chain_config(const mpp_chain *c);

/* Dry run (for mppctl): what the chain would do, found by the chain's own code, without doing
 * it. Nothing is written (no journal, no properties cache) and no Attach is sent; a plugin may be
 * asked Plugin.Activate and MountPointProperties, as a real attach pass asks it. */

/* One configured plugin, reached as the chain reaches it. It stops at the first failure. */
typedef struct mpp_plugin_probe {
    const char *name;
    bool discovered;             /* found (and trusted) in plugin_dirs: addr is set */
    const mpp_plugin_addr *addr; /* owned by the chain */
    bool activated;              /* Plugin.Activate was tried */
    bool answers;                /* and answered */
    const char *patterns_from;   /* "cache" (the properties cache), "plugin", NULL: unknown */
    const mpp_pattern *patterns; /* owned by the chain; valid until the next chain call */
    size_t n_patterns;
    /* Why it stopped: at discovery when !discovered, else at Activate when activated and not
     * answers, else at MountPointProperties. */
    char *error;
} mpp_plugin_probe;

/* Flags of mpp_chain_probe and mpp_chain_select. */
enum {
    /* Ask Plugin.Activate (its health) even when the properties cache makes it unnecessary. */
    MPP_PROBE_ACTIVATE = 1u << 0,
};

/* Probe the chain's plugin i (from 0, in chain order). Returns 0 whatever the plugin did (see
 * out), negative only when out of memory or i is not in the chain. */
int mpp_chain_probe(mpp_chain *c, size_t i, unsigned flags, mpp_plugin_probe *out, mpp_error *err);
void mpp_plugin_probe_clear(mpp_plugin_probe *p);
void mpp_plugin_probes_free(mpp_plugin_probe *v, size_t n);

/* The selection step of mpp_chain_attach for every configured plugin, stopping before any
 * Attach: mounts as mpp_chain_attach takes them (pinned: see mpp_interpose_dry_run); their
 * EffectiveSource is filled as the chain fills it. *probes (*n_probes: one per configured plugin,
 * in chain order; free with mpp_plugin_probes_free) says how each plugin was reached; (*match)[k *
 * n_mounts + i] (heap) is the pattern of plugin k that selects mount i, or -1 (also when the
 * plugin's patterns are unknown). Every plugin sees the mounts as no plugin changed them: the
 * EffectiveSource and AppliedMiddleware an earlier plugin's answer would set are not known
 * without its Attach. Does not check the container ID or its state (a running container can be
 * explained). */
int mpp_chain_select(mpp_chain *c, mpp_mount *mounts, size_t n_mounts, unsigned flags,
                     mpp_plugin_probe **probes, size_t *n_probes, int **match, mpp_error *err);

typedef struct mpp_teardown {
    bool failed;   /* an error was recorded: the exit status rule applies */
    bool complete; /* every stack is empty (false after a Recoverable: false stop) */
    char **errors; /* the recorded errors, in order */
    size_t n_errors;
    unsigned detached; /* plugins detached by this call */
    char **warnings;   /* by this call: unreachable plugins, Warning actions (protocol §4.2) */
    size_t n_warnings;
} mpp_teardown;

void mpp_teardown_clear(mpp_teardown *t);

/* Teardown of container id from its journal. exit_status < 0 = unknown. Returns 0 when the
 * journal was processed (see t->failed and t->complete), -ENOENT when there is no journal
 * (nothing attached, or already torn down), other negative errno when the journal could not be
 * read or locked. When complete, the container's state directory is removed. Safe to call from
 * several processes at once: one does the work under a lock, the others see -ENOENT after. */
int mpp_chain_detach(mpp_chain *c, const char *id, int exit_status, unsigned flags, mpp_teardown *t,
                     mpp_error *err);

/* Flags of mpp_chain_detach. */
enum {
    /* A teardown halted by a detach answered Recoverable: false (or a Fatal emergency action)
     * stays halted, so that repeated deletes do not detach the plugins below it; an
     * administrator's recover resumes it. */
    MPP_DETACH_RESUME = 1u << 0,
};

/* Layout of state_dir: containers/ID/journal (one per container with attached plugins),
 * plugins/NAME.json (the properties cache), gates/ID/ (the exit gate's socket). */

/* state_dir/containers/ID, or state_dir/containers/ID/LEAF when leaf is not NULL. Returns the
 * length, or -ENAMETOOLONG. */
int mpp_container_state_path(const char *state_dir, const char *id, const char *leaf, char *buf,
                             size_t size);

/* Whether container id has a journal (a teardown to do). One access() call. */
bool mpp_container_has_state(const char *state_dir, const char *id);

/* The state directory and each of its ancestors, as far as they exist, must be directories
 * owned by root (or the caller's uid), with no write permission for group or others, except
 * that an ancestor may be sticky (/tmp). Walked from / with O_PATH|O_NOFOLLOW descriptors:
 * a symbolic link on the way is refused. -EPERM (or -ELOOP, -ENOTDIR) with a message naming
 * the offending directory, its owner and mode. mpp_chain_new checks this. */
int mpp_state_dir_check(const char *path, mpp_error *err);

/* A container ID usable as a directory name: 1..1024 of [A-Za-z0-9_.-], not "." or "..". */
bool mpp_container_id_valid(const char *id);

/* Protocol §6: a failed teardown turns 0 into 129; any other status is kept. */
int mpp_exit_status_after_teardown(int status, bool teardown_failed);

/* Containers with a journal under state_dir (for recover and ps). *ids is a heap array. */
int mpp_chain_list(const char *state_dir, char ***ids, size_t *n, mpp_error *err);
void mpp_strv_free(char **v, size_t n);

/* Read-only inspection of a container's journal (for mppctl ps and recover): what each plugin
 * holds, mount by mount. Takes no lock and writes nothing, so it neither waits for nor disturbs a
 * teardown in progress; records are appended whole, and a torn last line is ignored. */

typedef enum mpp_plugin_hold {
    MPP_HOLD_SENT,      /* attach sent, no recorded answer: counts as attached */
    MPP_HOLD_ATTACHED,  /* attached at least one mount */
    MPP_HOLD_REFUSED,   /* denied, failed, or attached nothing: nothing to detach */
    MPP_HOLD_DETACHING, /* detach sent, no recorded outcome: will be sent again */
    MPP_HOLD_DETACHED,
} mpp_plugin_hold;

const char *mpp_plugin_hold_to_string(mpp_plugin_hold h); /* "sent", "attached", … */

typedef enum mpp_teardown_state {
    MPP_TEARDOWN_NOT_STARTED, /* no detach recorded: the container may still be running */
    MPP_TEARDOWN_DETACHING,   /* begun, not finished (a teardown is running, or was killed) */
    MPP_TEARDOWN_HALTED,      /* stopped by Recoverable: false or a Fatal action: needs recover */
    MPP_TEARDOWN_DONE,        /* nothing left attached, state not yet removed */
} mpp_teardown_state;

const char *mpp_teardown_state_to_string(mpp_teardown_state s); /* "attached", "detaching", … */

typedef struct mpp_plugin_record {
    unsigned clock; /* position in the chain when attached, from 1 */
    char *plugin;
    mpp_plugin_hold hold;
} mpp_plugin_record;

/* One plugin on one mount's stack. */
typedef struct mpp_stack_entry {
    unsigned clock;
    char *plugin;
    mpp_plugin_hold hold;
    mpp_changes changes; /* empty for a plugin that was sent the mount but never answered */
} mpp_stack_entry;

typedef struct mpp_mount_stack {
    size_t index; /* position in the container's interposable mounts */
    char *source; /* as the first plugin was sent it */
    char *destination;
    mpp_stack_entry *entries; /* lowest clock (bottom) first */
    size_t n_entries;
} mpp_mount_stack;

typedef struct mpp_container_state {
    char *id;
    char *journal; /* its path */
    bool busy;     /* another process holds the journal's lock right now */
    mpp_teardown_state teardown;
    size_t n_mounts;            /* interposable mounts of the container when it was created */
    mpp_plugin_record *plugins; /* every plugin that was sent an attach, by clock */
    size_t n_plugins;
    mpp_mount_stack *mounts; /* the mounts some plugin was sent, by index */
    size_t n_mount_stacks;
    char **errors; /* recorded teardown errors, in order */
    size_t n_errors;
    char **warnings;
    size_t n_warnings;
} mpp_container_state;

/* Describe container id's journal under state_dir. -ENOENT when it has none; -EBADMSG naming the
 * journal line when it cannot be replayed. */
int mpp_container_describe(const char *state_dir, const char *id, mpp_container_state *out,
                           mpp_error *err);
void mpp_container_state_clear(mpp_container_state *s);

#ifdef __cplusplus
}
#endif
