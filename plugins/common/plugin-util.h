/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Shared code of the mpp-plugin-* daemons: configuration files, per-container state files, the
 * common command line and a few path and logging helpers. Functions that can fail return a
 * negative errno and fill err with a message naming the file and key (or path) concerned. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <mpp/error.h>
#include <mpp/mpp-plugin.h>
#include <mpp/types.h>

/* jansson's own NULL-safe json_decrefp. */
#define _cleanup_json_ __attribute__((cleanup(json_decrefp)))

#define PU_CONFIG_MAX (1024 * 1024) /* bytes */

/* Load a JSON config file (at most PU_CONFIG_MAX bytes, duplicate keys refused). The top level
 * must be an object. Errors: "FILE: line L column C: ..." or "FILE: expected ...". *out is a
 * new reference. */
int pu_config_load(const char *path, json_t **out, mpp_error *err);
/* The safe reader under pu_config_load: a regular file only (no symbolic link, FIFO, device or
 * directory), at most PU_CONFIG_MAX bytes, NUL-terminated heap text. Parse errors of the
 * loader never quote the text (the file may be a link to a secret). */
int pu_config_read(const char *path, char **out, size_t *len, mpp_error *err);

/* Refuse keys of obj that are not in known (NULL-terminated): "ORIGIN: unknown key "k" (known
 * keys: a, b)". Also refuses a non-object: "ORIGIN: expected an object, got array". */
int pu_check_keys(const json_t *obj, const char *origin, const char *const *known, mpp_error *err);

/* Typed getters. An absent key or JSON null gives the default. A wrong type gives
 * "ORIGIN: KEY: expected a string, got integer". *out of pu_get_string points into obj. */
int pu_get_string(const json_t *obj, const char *origin, const char *key, const char *def,
                  const char **out, mpp_error *err);
int pu_get_bool(const json_t *obj, const char *origin, const char *key, bool def, bool *out,
                mpp_error *err);
/* A non-negative integer, at most max. */
int pu_get_uint(const json_t *obj, const char *origin, const char *key, uint64_t def, uint64_t max,
                uint64_t *out, mpp_error *err);
/* A list of strings (absent: *out NULL, *n 0). *out is a heap array of pointers into obj. */
int pu_get_strings(const json_t *obj, const char *origin, const char *key, const char ***out,
                   size_t *n, mpp_error *err);

/* Patterns (protocol §5) from a config value, an array of Pattern objects, through the codec.
 * Returns 0 when the key is absent (*out NULL, *n 0), 1 when present (even if empty). */
int pu_get_patterns(const json_t *obj, const char *origin, const char *key, mpp_pattern **out,
                    size_t *n, mpp_error *err);
/* A StringMapPattern list (e.g. conditions on container labels), same return convention.
 * Free with pu_strmap_patterns_clear. */
int pu_get_strmap_patterns(const json_t *obj, const char *origin, const char *key,
                           mpp_strmap_patterns *out, mpp_error *err);
void pu_strmap_patterns_clear(mpp_strmap_patterns *ps);

/* Per-container state files DIR/ID.json under a private (0700) directory. IDs are checked
 * with mpp_container_id_valid. Writes are atomic (temporary file, fsync, rename, fsync of the
 * directory), so a plugin killed at any point leaves either the old or the new state. */
int pu_state_dir_ensure(const char *dir, mpp_error *err);
int pu_state_write(const char *dir, const char *id, const json_t *state, mpp_error *err);
/* -ENOENT (with a message) when there is no state for id. */
int pu_state_read(const char *dir, const char *id, json_t **out, mpp_error *err);
/* Absent state is not an error. */
int pu_state_remove(const char *dir, const char *id, mpp_error *err);
/* IDs that have a state file in dir (heap array of heap strings; free with pu_strv_free). */
int pu_state_list(const char *dir, char ***ids, size_t *n, mpp_error *err);
void pu_strv_free(char **v, size_t n);

/* mkdir -p; the last component gets mode, parents 0755. An existing directory is accepted (its
 * mode is not changed); a symlink or non-directory in the way is an error. */
int pu_mkdir_p(const char *path, mode_t mode, mpp_error *err);

/* Common command line: --config FILE --socket PATH --state-dir DIR (default
 * /var/lib/mpp-plugin-NAME), the SDK's bounds --max-request-bytes N, --max-connections N and
 * --idle-timeout SECONDS (0 in pu_args when not given: the SDK's defaults), --help. Without
 * --socket, socket is NULL when the process was socket-activated (LISTEN_PID is this process,
 * LISTEN_FDS set: the SDK serves the passed socket), else /run/docker/plugins/NAME.sock. Returns 0
 * to go on, 1 when the usage was printed for --help (exit 0), -EINVAL after printing an error and
 * the usage to stderr (exit 2). The strings point into argv or static storage. */
typedef struct pu_args {
    const char *config, *socket, *state_dir;
    size_t max_request_bytes;
    unsigned max_connections, idle_timeout_s;
} pu_args;
int pu_parse_args(int argc, char **argv, const char *name, pu_args *out);
/* args->socket, or words saying the socket came from socket activation: for log lines. */
const char *pu_socket_name(const pu_args *args);

/* An absolute path with no "." or ".." component and no empty component ("//"), at most
 * PATH_MAX - 1 bytes. A trailing "/" is accepted. */
bool pu_path_is_safe(const char *path);

/* Logging of the daemons, to stderr: "mpp-plugin-NAME: LEVEL: message". Thread-safe (one write
 * per line). */
void pu_log_init(const char *name);
void pu_log(const char *level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* --state-dir, cleaned into buf (PATH_MAX). At most 2048 bytes, so that a container ID (up to
 * 1024) and the leaves below it fit in PATH_MAX. Prints the error itself and returns -1. */
int pu_state_dir_arg(const char *plugin, const char *arg, char *buf, size_t size);

/* A MountPointProperties answer holding a deep copy of the configured patterns (the SDK frees
 * the answer). */
int pu_answer_patterns(const mpp_pattern *patterns, size_t n, mpp_properties_response *resp,
                       mpp_error *err);

/* A MountPointDetach answer from the plugin's own teardown: r < 0 (with e) is logged and
 * answered Success false, Recoverable true, so that mpp records it and unwinds the rest. */
int pu_answer_detach(int r, const mpp_error *e, mpp_detach_response *resp, mpp_error *err);

/* Append an emergency detach action (protocol §4.2) to an attachment. 0 or -ENOMEM. */
int pu_add_action(mpp_attachment *a, mpp_action_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Deny an attach: Success false with a message for the user (also logged). 0 or -ENOMEM. */
int pu_deny(mpp_attach_response *resp, mpp_error *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Close each of n descriptors (skipping -1) and free the array; NULL is fine. */
void pu_close_all(int *fds, size_t n);

/* The SDK's options from the command line: the socket and the bounds on what a client can make
 * the plugin hold. */
void pu_server_options(const pu_args *args, mpp_plugin_server_options *opts);

/* A source a plugin may act on (overlay, idmap, watch): pu_path_is_safe, and not "/". mpp checks
 * sources, but a client that talks to the plugin's socket directly is checked only here. */
bool pu_source_acceptable(const char *path);
