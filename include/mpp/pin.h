/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Source pinning: what the plugins judged is what the container gets.
 *
 * A mount's source is a path, and a path can be changed between the moment mpp and its plugins
 * look at it and the moment the runtime mounts it (a symbolic link swapped into one of its
 * components). mpp closes that window: each source is opened once, before the plugins are
 * asked, and the plugins see the canonical path of what was opened. After the chain, each
 * final source (that open, or a plugin's EffectiveSource opened then) is cloned as a detached
 * mount (open_tree). The runtime process then attaches the clones in a private mount namespace
 * under a directory only root can reach, and mounts them from there: the objects opened at
 * check time, whatever the paths have become since.
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
 * of what was opened. A source that is missing (it may be created later) or cannot be opened is
 * left as it is: if a plugin selects it, mpp_pins_take() opens it again, and fails. */
int mpp_pins_resolve(mpp_mount *mounts, size_t n, mpp_pins **out, mpp_error *err);

/* After the chain and mpp_sources_prepare(): takes the object each mount will get: the one
 * opened by mpp_pins_resolve() when its effective source is unchanged, else the effective
 * source opened now. With dir, each is cloned as a detached mount to be attached at dir/K by
 * mpp_pins_install(); without, an unchanged source whose path now names another object is an
 * error. */
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

#ifdef __cplusplus
}
#endif
