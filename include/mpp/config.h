/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* mpp's configuration file (every key is in mpp.json(5), docs/man/mpp.json.5). Unknown keys are
 * refused, so that a typo is an error rather than a silently ignored setting. */

#include <stdbool.h>
#include <stddef.h>

#include <mpp/error.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MPP_DEFAULT_CONFIG "/etc/mpp/mpp.json"
#define MPP_DEFAULT_STATE_DIR "/run/mpp"
#ifndef MPP_DEFAULT_INIT_PATH
#define MPP_DEFAULT_INIT_PATH "/usr/local/libexec/mpp/mpp-init"
#endif
#define MPP_DEFAULT_CALL_TIMEOUT_MS 10000u
#define MPP_DEFAULT_DETACH_TIMEOUT_MS 30000u
#define MPP_DEFAULT_MAX_RESPONSE_BYTES (4u * 1024u * 1024u)

typedef struct mpp_config {
    char *path;     /* the file it came from; NULL when built from defaults */
    char *digest;   /* hex digest of the file's bytes: part of the properties cache key */
    char *runtime;  /* NULL = choose crun where it works, else runc */
    char **plugins; /* chain order, duplicates dropped (first occurrence kept) */
    size_t n_plugins;
    char **plugin_dirs;
    size_t n_plugin_dirs;
    char *state_dir;
    unsigned call_timeout_ms;   /* per call: activate, properties, attach, one detach try */
    unsigned detach_timeout_ms; /* bound on all detach retries of one plugin */
    size_t max_response_bytes;  /* a larger answer is refused */
    bool exit_gate;             /* inject mpp-init so teardown blocks the exit report (annotation
                                 * mpp.exit-gate=true|false overrides it per container) */
    char *init_path;            /* mpp-init; NULL = MPP_DEFAULT_INIT_PATH */
} mpp_config;

/* Fill defaults (no plugins, the three Docker plugin directories, /run/mpp). */
int mpp_config_defaults(mpp_config *cfg, mpp_error *err);

/* Parse a configuration from memory; origin names it in errors. */
int mpp_config_parse(const char *json, size_t len, const char *origin, mpp_config *cfg,
                     mpp_error *err);

/* Load path; when path is NULL: $MPP_CONFIG, else MPP_DEFAULT_CONFIG, and a missing default file
 * means the defaults. A missing file that was named explicitly is an error. */
int mpp_config_load(const char *path, mpp_config *cfg, mpp_error *err);

/* Read a configuration file of at most max bytes into a NUL-terminated heap buffer. Only a
 * regular file is read: a symbolic link (not followed), a FIFO (never waited on), a device, a
 * socket or a directory is refused with a message naming path and what it is; so is a file
 * that another user owns or that group or others may write. */
int mpp_config_read_file(const char *path, size_t max, char **out, size_t *out_len, mpp_error *err);

void mpp_config_clear(mpp_config *cfg);

#ifdef __cplusplus
}
#endif
