/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>
#include <stdio.h>

#include <mpp/mpp.h>

char *hook_read_stdin(size_t *len, mpp_error *err);
/* Attaches the chain and writes the rewritten config.json to out; detaches if it cannot. */
int hook_precreate(const mpp_config *cfg, const char *config_json, size_t len, const char *id,
                   FILE *out, mpp_error *err);
int hook_poststop(const mpp_config *cfg, const char *state_json, size_t len, mpp_error *err);
