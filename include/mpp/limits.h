/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* File descriptor limits: a container with many mounts needs descriptors for its pins (pin.h),
 * and the engine's soft RLIMIT_NOFILE is often far below its hard one. */

#include <stddef.h>

#include <mpp/error.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Descriptors kept free beside the pins: plugin connections, the journal and its directory,
 * the bundle, libcurl, the exit gate. */
#define MPP_NOFILE_MARGIN 32u

/* Raise the soft RLIMIT_NOFILE of the process to its hard limit, remembering the soft limit
 * found (once per process) for mpp_nofile_restore. Returns 0, or a negative errno when the
 * limit cannot be read or changed (the process goes on with the limit it has). */
int mpp_nofile_raise(void);

/* Put back the soft limit that mpp_nofile_raise found, so that a program about to be executed
 * (the real runtime, and through it the container) inherits what the engine set. A no-op when
 * nothing was raised. Async-signal-safe: callable between fork and exec. */
void mpp_nofile_restore(void);

/* Whether `need` more descriptors fit under the soft limit, with MPP_NOFILE_MARGIN to spare,
 * given those already open. -EMFILE with a message "WHAT: needs about N file descriptors
 * (M open, limit L)...". */
int mpp_nofile_check(size_t need, const char *what, mpp_error *err);

#ifdef __cplusplus
}
#endif
