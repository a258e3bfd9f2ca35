/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>

#include <mpp/error.h>
#include <mpp/pin.h>

/* mkdir -p of an absolute, clean path without following any symbolic link: each component is
 * opened (openat2 RESOLVE_NO_SYMLINKS) or created (mkdirat, mode 0755 whatever the umask)
 * relative to the descriptor of its parent, so what is created is under the path as it was
 * walked, whatever a racer swaps in. A symbolic link anywhere (even an existing one, even at the
 * leaf) or a component that is not a directory is refused: -ELOOP, -ENOTDIR. Returns a
 * descriptor (O_CLOEXEC) of the leaf directory. */
int mpp_mkdir_nofollow(const char *path, mpp_error *err);

/* mpp_pins_resolve() for a dry run (mpp_interpose_dry_run): the same sources, but a missing one
 * is never created, whatever CreateSourceIfMissing says. */
int mpp_pins_resolve_nocreate(mpp_mount *mounts, size_t n, mpp_pins **out, mpp_error *err);
