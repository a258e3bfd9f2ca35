/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Plugins' properties cached under state_dir/plugins/NAME.json, keyed by the identity of the
 * running plugin (its socket's inode and time) and the configuration's digest, so that each new
 * mpp process (one per container start) matches patterns without asking the plugin. */

#include <stddef.h>

#include <mpp/types.h>

/* 1 when a valid entry was loaded into *patterns, 0 when there is none or it is stale or
 * unreadable (then the caller asks the plugin). */
int mpp_properties_cache_load(const char *state_dir, const char *name, const char *identity,
                              const char *digest, mpp_pattern **patterns, size_t *n);

/* Best effort: a cache that cannot be written only costs round trips later. */
void mpp_properties_cache_store(const char *state_dir, const char *name, const char *identity,
                                const char *digest, const mpp_pattern *patterns, size_t n);
