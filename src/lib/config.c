/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpp's configuration file: a JSON object with optional keys, checked strictly (a typo or a wrong
 * type is an error naming the key and the file, never a silently ignored setting). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mpp/codec.h>
#include <mpp/client.h>
#include <mpp/config.h>

#include "codec-json.h"
#include "macro.h"

#define CONFIG_MAX_BYTES (1024 * 1024)
#define TIMEOUT_MAX_MS 3600000u

static const char *const default_plugin_dirs[] = {
    "/run/docker/plugins",
    "/etc/docker/plugins",
    "/usr/lib/docker/plugins",
};

static const char *const known_keys[] = {
    "runtime",         "plugins",           "plugin_dirs",        "state_dir",
    "call_timeout_ms", "detach_timeout_ms", "max_response_bytes", "exit_gate",
    "init_path",
};

static void strv_free(char **v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void mpp_config_clear(mpp_config *cfg)
{
    if (!cfg)
        return;
    free(cfg->path);
    free(cfg->digest);
    free(cfg->runtime);
    free(cfg->init_path);
    strv_free(cfg->plugins, cfg->n_plugins);
    strv_free(cfg->plugin_dirs, cfg->n_plugin_dirs);
    free(cfg->state_dir);
    memset(cfg, 0, sizeof(*cfg));
}

static void config_clearp(mpp_config *cfg)
{
    mpp_config_clear(cfg);
}

/* A cache key for the properties cache, so that editing the file invalidates it. FNV-1a is not a
 * cryptographic hash: nothing relies on it against an adversary (the file is root's). */
static char *digest_hex(const char *data, size_t len)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)data[i];
        h *= UINT64_C(0x100000001b3);
    }
    char *s = NULL;
    if (asprintf(&s, "%016" PRIx64, h) < 0)
        return NULL;
    return s;
}

static int strv_push(char ***v, size_t *n, const char *s)
{
    char *copy = strdup(s);
    if (!copy)
        return -ENOMEM;
    char **grown = realloc(*v, (*n + 1) * sizeof(**v));
    if (!grown) {
        free(copy);
        return -ENOMEM;
    }
    grown[(*n)++] = copy;
    *v = grown;
    return 0;
}

int mpp_config_defaults(mpp_config *cfg, mpp_error *err)
{
    _cleanup_(config_clearp) mpp_config c = {0};

    c.digest = digest_hex("", 0);
    c.state_dir = strdup(MPP_DEFAULT_STATE_DIR);
    if (!c.digest || !c.state_dir)
        return mpp_error_set(err, -ENOMEM, "configuration defaults: out of memory");
    for (size_t i = 0; i < ELEMENTSOF(default_plugin_dirs); i++)
        if (strv_push(&c.plugin_dirs, &c.n_plugin_dirs, default_plugin_dirs[i]) < 0)
            return mpp_error_set(err, -ENOMEM, "configuration defaults: out of memory");
    c.call_timeout_ms = MPP_DEFAULT_CALL_TIMEOUT_MS;
    c.detach_timeout_ms = MPP_DEFAULT_DETACH_TIMEOUT_MS;
    c.max_response_bytes = MPP_DEFAULT_MAX_RESPONSE_BYTES;

    *cfg = c;
    memset(&c, 0, sizeof(c));
    return 0;
}

/* Optimal string alignment distance (Levenshtein plus adjacent transpositions), on short keys. */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64)
        return SIZE_MAX;
    size_t d[65][65];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best)
                best = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < best)
                best = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    return d[la][lb];
}

static bool is_known_key(const char *key)
{
    for (size_t i = 0; i < ELEMENTSOF(known_keys); i++)
        if (strcmp(key, known_keys[i]) == 0)
            return true;
    return false;
}

static const char *closest_key(const char *key)
{
    const char *best = NULL;
    size_t best_d = 3; /* suggest only within distance 2 */
    for (size_t i = 0; i < ELEMENTSOF(known_keys); i++) {
        size_t dist = edit_distance(key, known_keys[i]);
        if (dist < best_d) {
            best_d = dist;
            best = known_keys[i];
        }
    }
    return best;
}

static int get_string(const json_t *v, const char *origin, const char *key, const char **out,
                      mpp_error *err)
{
    if (!json_is_string(v))
        return mpp_error_set(err, -EINVAL, "%s: \"%s\": expected a string, got %s", origin, key,
                             mpp_json_type_name(v));
    *out = json_string_value(v);
    return 0;
}

static int get_abs_path(const json_t *v, const char *origin, const char *key, char **out,
                        mpp_error *err)
{
    const char *s = NULL;
    int r = get_string(v, origin, key, &s, err);
    if (r < 0)
        return r;
    if (s[0] != '/')
        return mpp_error_set(err, -EINVAL, "%s: \"%s\": expected an absolute path, got \"%s\"",
                             origin, key, s);
    char *copy = strdup(s);
    if (!copy)
        return mpp_error_set(err, -ENOMEM, "%s: \"%s\": out of memory", origin, key);
    free(*out);
    *out = copy;
    return 0;
}

static int get_uint(const json_t *v, const char *origin, const char *key, json_int_t min,
                    json_int_t max, json_int_t *out, mpp_error *err)
{
    if (!json_is_integer(v))
        return mpp_error_set(err, -EINVAL, "%s: \"%s\": expected an integer, got %s", origin, key,
                             mpp_json_type_name(v));
    json_int_t n = json_integer_value(v);
    if (n < min || n > max)
        return mpp_error_set(err, -ERANGE,
                             "%s: \"%s\": %" JSON_INTEGER_FORMAT
                             " is out of range (%" JSON_INTEGER_FORMAT "..%" JSON_INTEGER_FORMAT
                             ")",
                             origin, key, n, min, max);
    *out = n;
    return 0;
}

static int get_plugins(const json_t *v, const char *origin, mpp_config *c, mpp_error *err)
{
    if (!json_is_array(v))
        return mpp_error_set(err, -EINVAL, "%s: \"plugins\": expected an array of strings, got %s",
                             origin, mpp_json_type_name(v));
    strv_free(c->plugins, c->n_plugins);
    c->plugins = NULL;
    c->n_plugins = 0;

    size_t i;
    json_t *e;
    json_array_foreach(v, i, e)
    {
        if (!json_is_string(e))
            return mpp_error_set(err, -EINVAL, "%s: \"plugins\"[%zu]: expected a string, got %s",
                                 origin, i, mpp_json_type_name(e));
        const char *name = json_string_value(e);
        const char *problem = mpp_plugin_name_problem(name);
        if (problem)
            return mpp_error_set(err, -EINVAL,
                                 "%s: \"plugins\"[%zu]: invalid plugin name \"%s\": %s", origin, i,
                                 name, problem);

        /* Protocol §2: a duplicate is dropped, the first occurrence keeps its place. */
        bool dup = false;
        for (size_t k = 0; k < c->n_plugins && !dup; k++)
            dup = strcmp(c->plugins[k], name) == 0;
        if (!dup && strv_push(&c->plugins, &c->n_plugins, name) < 0)
            return mpp_error_set(err, -ENOMEM, "%s: \"plugins\": out of memory", origin);
    }
    return 0;
}

static int get_plugin_dirs(const json_t *v, const char *origin, mpp_config *c, mpp_error *err)
{
    if (!json_is_array(v))
        return mpp_error_set(err, -EINVAL,
                             "%s: \"plugin_dirs\": expected an array of strings, got %s", origin,
                             mpp_json_type_name(v));
    strv_free(c->plugin_dirs, c->n_plugin_dirs);
    c->plugin_dirs = NULL;
    c->n_plugin_dirs = 0;

    size_t i;
    json_t *e;
    json_array_foreach(v, i, e)
    {
        if (!json_is_string(e))
            return mpp_error_set(err, -EINVAL,
                                 "%s: \"plugin_dirs\"[%zu]: expected a string, got %s", origin, i,
                                 mpp_json_type_name(e));
        const char *dir = json_string_value(e);
        if (dir[0] != '/')
            return mpp_error_set(err, -EINVAL,
                                 "%s: \"plugin_dirs\"[%zu]: expected an absolute path, got \"%s\"",
                                 origin, i, dir);
        if (strv_push(&c->plugin_dirs, &c->n_plugin_dirs, dir) < 0)
            return mpp_error_set(err, -ENOMEM, "%s: \"plugin_dirs\": out of memory", origin);
    }
    return 0;
}

static int apply_key(mpp_config *c, const char *key, const json_t *v, const char *origin,
                     mpp_error *err)
{
    json_int_t n;
    int r;

    if (strcmp(key, "runtime") == 0)
        return get_abs_path(v, origin, key, &c->runtime, err);
    if (strcmp(key, "plugins") == 0)
        return get_plugins(v, origin, c, err);
    if (strcmp(key, "plugin_dirs") == 0)
        return get_plugin_dirs(v, origin, c, err);
    if (strcmp(key, "state_dir") == 0)
        return get_abs_path(v, origin, key, &c->state_dir, err);
    if (strcmp(key, "init_path") == 0)
        return get_abs_path(v, origin, key, &c->init_path, err);
    if (strcmp(key, "exit_gate") == 0) {
        if (!json_is_boolean(v))
            return mpp_error_set(err, -EINVAL, "%s: \"exit_gate\": expected a boolean, got %s",
                                 origin, mpp_json_type_name(v));
        c->exit_gate = json_is_true(v);
        return 0;
    }
    if (strcmp(key, "call_timeout_ms") == 0) {
        r = get_uint(v, origin, key, 1, TIMEOUT_MAX_MS, &n, err);
        if (r >= 0)
            c->call_timeout_ms = (unsigned)n;
        return r;
    }
    if (strcmp(key, "detach_timeout_ms") == 0) {
        r = get_uint(v, origin, key, 1, TIMEOUT_MAX_MS, &n, err);
        if (r >= 0)
            c->detach_timeout_ms = (unsigned)n;
        return r;
    }
    if (strcmp(key, "max_response_bytes") == 0) {
        r = get_uint(v, origin, key, 1024, MPP_CODEC_MAX_INPUT, &n, err);
        if (r >= 0)
            c->max_response_bytes = (size_t)n;
        return r;
    }

    const char *hint = closest_key(key);
    if (hint)
        return mpp_error_set(err, -EINVAL, "%s: unknown key \"%s\" (did you mean \"%s\"?)", origin,
                             key, hint);
    return mpp_error_set(err, -EINVAL, "%s: unknown key \"%s\"", origin, key);
}

int mpp_config_parse(const char *json, size_t len, const char *origin, mpp_config *cfg,
                     mpp_error *err)
{
    _cleanup_(config_clearp) mpp_config c = {0};
    int r;

    memset(cfg, 0, sizeof(*cfg));
    if (!origin)
        origin = "configuration";

    r = mpp_config_defaults(&c, err);
    if (r < 0)
        return r;
    free(c.digest);
    c.digest = digest_hex(json, len);
    if (!c.digest)
        return mpp_error_set(err, -ENOMEM, "%s: out of memory", origin);

    if (len > CONFIG_MAX_BYTES)
        return mpp_error_set(err, -EFBIG, "%s: larger than %d bytes, refusing it", origin,
                             CONFIG_MAX_BYTES);
    _cleanup_(json_decrefp) json_t *root = NULL;
    r = mpp_json_parse_private(json, len, origin, JSON_DECODE_ANY, &root, err);
    if (r < 0)
        return r;
    if (!json_is_object(root))
        return mpp_error_set(err, -EINVAL, "%s: expected a JSON object at the top level, got %s",
                             origin, mpp_json_type_name(root));

    const char *key;
    json_t *v;
    json_object_foreach(root, key, v)
    {
        /* null means "not set": the default applies. */
        if (json_is_null(v) && is_known_key(key))
            continue;
        r = apply_key(&c, key, v, origin, err);
        if (r < 0)
            return r;
    }

    *cfg = c;
    memset(&c, 0, sizeof(c));
    return 0;
}

int mpp_config_read_file(const char *path, size_t max, char **out, size_t *out_len, mpp_error *err)
{
    *out = NULL;
    *out_len = 0;
    /* O_NOFOLLOW: a link would let whoever owns the directory it sits in choose what root
     * reads. O_NONBLOCK: opening a FIFO must not wait for a writer (fstat refuses it next). */
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) {
        if (errno == ELOOP)
            return mpp_error_set(
                err, -ELOOP, "%s: is a symbolic link: refusing it (name the file itself)", path);
        return mpp_error_set(err, -errno, "%s: cannot open: %s", path, strerror(errno));
    }

    struct stat st;
    if (fstat(fd, &st) < 0)
        return mpp_error_set(err, -errno, "%s: cannot stat: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode)) {
        const char *what = S_ISDIR(st.st_mode)    ? "a directory"
                           : S_ISFIFO(st.st_mode) ? "a FIFO"
                           : S_ISCHR(st.st_mode)  ? "a character device"
                           : S_ISBLK(st.st_mode)  ? "a block device"
                           : S_ISSOCK(st.st_mode) ? "a socket"
                                                  : "a special file";
        return mpp_error_set(err, S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL,
                             "%s: is %s, not a regular file: refusing it", path, what);
    }
    /* Whoever can write it chooses the plugins and the runtime that root runs. */
    if ((st.st_uid != 0 && st.st_uid != geteuid()) || (st.st_mode & (S_IWGRP | S_IWOTH)))
        return mpp_error_set(err, -EPERM,
                             "%s: is owned by uid %u with mode %04o: a configuration must be "
                             "owned by root and writable by no one else: refusing it",
                             path, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
    /* Back to blocking reads: a regular file never blocks, but say what we mean. */
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0)
        return mpp_error_set(err, -errno, "%s: cannot set up reading: %s", path, strerror(errno));

    /* Read at most max; one more byte tells that the file is too large (st_size may change
     * while we read). */
    _cleanup_free_ char *buf = malloc(max + 1);
    if (!buf)
        return mpp_error_set(err, -ENOMEM, "%s: out of memory", path);
    size_t len = 0;
    for (;;) {
        ssize_t n = read(fd, buf + len, max + 1 - len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return mpp_error_set(err, -errno, "%s: cannot read: %s", path, strerror(errno));
        }
        if (n == 0)
            break;
        len += (size_t)n;
        if (len > max)
            return mpp_error_set(err, -EFBIG, "%s: larger than %zu bytes, refusing it", path, max);
    }
    buf[len] = '\0';
    *out = TAKE_PTR(buf);
    *out_len = len;
    return 0;
}

int mpp_json_parse_private(const char *text, size_t len, const char *origin, size_t flags,
                           json_t **out, mpp_error *err)
{
    *out = NULL;
    json_error_t je;
    json_t *j = json_loadb(text, len, flags, &je);
    if (j) {
        *out = j;
        return 0;
    }
    /* je.text quotes the token it stopped at ("invalid token near 'root:$6$...'"): a file that
     * is not JSON (a link to /etc/shadow, say) must not reach a log through it. */
    const char *why;
    switch (json_error_code(&je)) {
    case json_error_out_of_memory:
        return mpp_error_set(err, -ENOMEM, "%s: out of memory", origin);
    case json_error_stack_overflow:
        why = "nested too deeply";
        break;
    case json_error_premature_end_of_input:
        why = "truncated JSON";
        break;
    case json_error_end_of_input_expected:
        why = "more text after the JSON value";
        break;
    case json_error_invalid_utf8:
        why = "invalid UTF-8";
        break;
    case json_error_null_character:
    case json_error_null_byte_in_key:
        why = "a NUL character";
        break;
    case json_error_numeric_overflow:
        why = "a number out of range";
        break;
    case json_error_duplicate_key:
        why = "a duplicate object key";
        break;
    case json_error_wrong_type:
        why = "not a JSON object or array";
        break;
    default:
        why = "invalid JSON";
        break;
    }
    return mpp_error_set(err, -EBADMSG, "%s: line %d column %d: %s", origin, je.line, je.column,
                         why);
}

int mpp_config_load(const char *path, mpp_config *cfg, mpp_error *err)
{
    bool is_default = false;
    const char *from_env = NULL;
    int r;

    memset(cfg, 0, sizeof(*cfg));
    if (!path) {
        /* An empty $MPP_CONFIG counts as unset, as with most environment overrides. */
        from_env = getenv("MPP_CONFIG");
        if (!isempty(from_env))
            path = from_env;
        else {
            from_env = NULL;
            path = MPP_DEFAULT_CONFIG;
            is_default = true;
        }
    }

    _cleanup_free_ char *text = NULL;
    size_t len = 0;
    r = mpp_config_read_file(path, CONFIG_MAX_BYTES, &text, &len, err);
    if (r == -ENOENT && is_default)
        return mpp_config_defaults(cfg, err);
    if (r < 0) {
        if (from_env)
            mpp_error_prefix(err, "configuration named by $MPP_CONFIG");
        return r;
    }

    _cleanup_(config_clearp) mpp_config c = {0};
    r = mpp_config_parse(text, len, path, &c, err);
    if (r < 0)
        return r;
    c.path = strdup(path);
    if (!c.path)
        return mpp_error_set(err, -ENOMEM, "%s: out of memory", path);

    *cfg = c;
    memset(&c, 0, sizeof(c));
    return 0;
}
