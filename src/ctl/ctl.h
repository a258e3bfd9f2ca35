/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <mpp/config.h>
#include <mpp/error.h>

/* Exit codes. */
enum {
    CTL_OK = 0,
    CTL_FAILED = 1,
    CTL_USAGE = 2,
};

typedef struct ctl {
    bool json;
    bool all;
    const char *config_path; /* NULL: $MPP_CONFIG, else the default file */
    const char *root;        /* explain --root: the real runtime's root, NULL for its default */
    char **args;             /* the command's operands */
    size_t n_args;
} ctl;

int ctl_plugins(const ctl *c);
int ctl_ps(const ctl *c);
int ctl_explain(const ctl *c);
int ctl_recover(const ctl *c);
int ctl_check_config(const ctl *c);

/* The bundle directory of container id, from `RUNTIME [--root ROOT] state ID` with the
 * configuration's real runtime; checked to still hold a config.json. *bundle is heap. */
int ctl_runtime_bundle(const mpp_config *cfg, const char *root, const char *id, char **bundle,
                       mpp_error *err);
