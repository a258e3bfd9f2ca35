/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Engine adapters (internal): which config.json mounts are interposable, their generic
 * description, and what each engine's own records add to it. The engines plug in through
 * engine.h. */

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include <mpp/error.h>
#include <mpp/oci.h>
#include <mpp/types.h>

/* Describe the interposable mounts of a validated config.json root (see mpp_bundle_describe). */
int mpp_adapter_describe(const json_t *root, const char *origin, const mpp_adapter_options *o,
                         mpp_mount **mounts, size_t **index, size_t *n, mpp_error *err);

/* Read a regular file (not through a final symbolic link) of at most max bytes and parse it
 * with mpp_json_parse's limits. -ENOENT when it does not exist. (oci.c) */
int mpp_json_load_file(const char *path, size_t max, json_t **out, mpp_error *err);
