/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Source pinning: what the plugins judged is what the container gets.
 *
 * A mount's source is a path, and a path can be changed between the moment mpp and its plugins
 * look at it and the moment the runtime mounts it (a symbolic link swapped into one of its
 * components). mpp closes that window: each source is opened once, before the plugins are
 * asked, and each EffectiveSource a plugin returns is opened once, as soon as it is returned,
 * before a later plugin is asked (mpp_pins_effective, the chain's source hook); the plugins see
 * the canonical path of what was opened. A path is never opened twice: one that was missing
 * stays missing, whatever appears there later. After the chain, each final object is cloned as
 * a detached mount (open_tree). The runtime process then attaches the clones in a private mount
 * namespace under a directory only root can reach, and mounts them from there: the objects
 * opened at check time, whatever the paths have become since.
 *
 * A missing source, or a missing EffectiveSource, is created (as a directory, mode 0755) only
 * when the mount says CreateSourceIfMissing, and only at the moment it is pinned, i.e. before
 * any plugin judges it, component by component relative to the parent's descriptor, never
 * through a symbolic link (not even an existing one): mpp must not make a directory where a
 * link points. A plugin's EffectiveSource is a path the plugin says it made; mpp completes it on
 * the same terms, and fails the start if that cannot be done safely.
 *
 * Where mpp cannot run the runtime itself (mpp-hook), the clones are not installed; the final
 * check still refuses a source whose path no longer names the object that was judged. */

#include <stdbool.h>
#include <stddef.h>

#include <mpp/error.h>
#include <mpp/types.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mpp_pins mpp_pins;

/* Opens the source of every bind and volume mount (symbolic links followed as the runtime would
 * follow them, magic links never) and makes its source and effective source the canonical path
 * of what was opened. A missing source is first created when the mount says
 * CreateSourceIfMissing (see above). A source that is missing, cannot be created or cannot be
 * opened is left as it is, and recorded so: if anything is judged, mpp_pins_take() refuses it
 * (unless a plugin redirected the mount elsewhere); it is never opened again. */
int mpp_pins_resolve(mpp_mount *mounts, size_t n, mpp_pins **out, mpp_error *err);

/* Plugin plugin just set mounts[k]'s EffectiveSource (m): pin what it names now, created first
 * if missing and the mount says CreateSourceIfMissing, and make m->effective_source the
 * canonical path of what was opened. The same path as the one pinned keeps that pin. A path
 * that cannot be opened is recorded (refused by mpp_pins_take() unless a later plugin redirects
 * again); one that cannot be created is an error now. Meant as the chain's source hook
 * (mpp_chain_set_source_hook). */
int mpp_pins_effective(mpp_pins *p, size_t k, mpp_mount *m, const char *plugin, mpp_error *err);

/* After the chain: takes the object each mount will get, the one pinned for its final effective
 * source (never opened again here; an effective source that was not pinned, a missing or
 * unopenable one is an error naming the mount). With dir, each is cloned as a detached mount to
 * be attached at dir/K by mpp_pins_install(); without (mpp-hook), a path that no longer names
 * the pinned object is an error. */
int mpp_pins_take(mpp_pins *p, const mpp_mount *mounts, size_t n, const char *dir, mpp_error *err);

/* Mount k's source as it was written, when mpp_pins_resolve() replaced it; else NULL. */
const char *mpp_pins_given(const mpp_pins *p, size_t k);

/* The path mount k is to be mounted from, or NULL if it is not pinned. */
const char *mpp_pins_path(const mpp_pins *p, size_t k);

size_t mpp_pins_count(const mpp_pins *p);

/* In the process that goes on to execute the runtime: enters a private mount namespace (host
 * mounts still propagate in, nothing propagates out), mounts a root-only tmpfs on dir and
 * attaches each clone there. Nothing outlives the namespace. */
int mpp_pins_install(mpp_pins *p, mpp_error *err);

void mpp_pins_free(mpp_pins *p);

/* The canonical path of what fd names, as mpp shows pinned sources to plugins: 0, -ENOENT when
 * the object has no path left ("/x (deleted)") or lies outside our root, -ENAMETOOLONG, or
 * readlink's error. For plugins that judge an object the way mpp pinned it. */
int mpp_fd_canonical_path(int fd, char *buf, size_t size);

#ifdef __cplusplus
}
#endif
