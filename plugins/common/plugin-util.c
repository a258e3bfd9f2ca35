/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mpp/chain.h>
#include <mpp/codec.h>
#include <mpp/mpp-plugin.h>
#include <mpp/pattern.h>

#include "../../src/lib/codec-json.h" /* the plugins link libmpp: one type namer */
#include "macro.h"
#include "plugin-util.h"

int pu_config_load(const char *path, json_t **out, mpp_error *err)
{
    *out = NULL;
    _cleanup_free_ char *text = NULL;
    size_t len = 0;
    int r = pu_config_read(path, &text, &len, err);
    if (r < 0)
        return r;
    _cleanup_json_ json_t *j = NULL;
    r = mpp_json_parse_private(text, len, path, JSON_REJECT_DUPLICATES, &j, err);
    if (r < 0)
        return r;
    if (!json_is_object(j))
        return mpp_error_set(err, -EBADMSG, "%s: expected an object at the top level, got %s", path,
                             mpp_json_type_name(j));
    *out = TAKE_PTR(j);
    return 0;
}

int pu_config_read(const char *path, char **out, size_t *len, mpp_error *err)
{
    int r = mpp_config_read_file(path, PU_CONFIG_MAX, out, len, err);
    if (r == -EFBIG) /* the plugins' wording since their first release */
        return mpp_error_set(err, -E2BIG, "%s: too large (more than %d bytes)", path,
                             PU_CONFIG_MAX);
    return r;
}

int pu_check_keys(const json_t *obj, const char *origin, const char *const *known, mpp_error *err)
{
    if (!json_is_object(obj))
        return mpp_error_set(err, -EBADMSG, "%s: expected an object, got %s", origin,
                             obj ? mpp_json_type_name(obj) : "nothing");
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v)
    {
        bool found = false;
        for (size_t i = 0; known[i]; i++)
            if (strcmp(key, known[i]) == 0) {
                found = true;
                break;
            }
        if (found)
            continue;
        char list[512] = "";
        size_t len = 0;
        for (size_t i = 0; known[i] && len < sizeof(list); i++) {
            int w = snprintf(list + len, sizeof(list) - len, "%s%s", i ? ", " : "", known[i]);
            if (w < 0)
                break;
            len += (size_t)w;
        }
        return mpp_error_set(err, -EBADMSG, "%s: unknown key \"%s\" (known keys: %s)", origin, key,
                             list);
    }
    return 0;
}

static int get_value(const json_t *obj, const char *key, json_t **out)
{
    json_t *v = json_object_get(obj, key);
    *out = json_is_null(v) ? NULL : v;
    return 0;
}

int pu_get_string(const json_t *obj, const char *origin, const char *key, const char *def,
                  const char **out, mpp_error *err)
{
    json_t *v;
    get_value(obj, key, &v);
    if (!v) {
        *out = def;
        return 0;
    }
    if (!json_is_string(v))
        return mpp_error_set(err, -EBADMSG, "%s: %s: expected a string, got %s", origin, key,
                             mpp_json_type_name(v));
    *out = json_string_value(v);
    return 0;
}

int pu_get_bool(const json_t *obj, const char *origin, const char *key, bool def, bool *out,
                mpp_error *err)
{
    json_t *v;
    get_value(obj, key, &v);
    if (!v) {
        *out = def;
        return 0;
    }
    if (!json_is_boolean(v))
        return mpp_error_set(err, -EBADMSG, "%s: %s: expected true or false, got %s", origin, key,
                             mpp_json_type_name(v));
    *out = json_is_true(v);
    return 0;
}

int pu_get_uint(const json_t *obj, const char *origin, const char *key, uint64_t def, uint64_t max,
                uint64_t *out, mpp_error *err)
{
    json_t *v;
    get_value(obj, key, &v);
    if (!v) {
        *out = def;
        return 0;
    }
    if (!json_is_integer(v))
        return mpp_error_set(err, -EBADMSG, "%s: %s: expected an integer, got %s", origin, key,
                             mpp_json_type_name(v));
    json_int_t i = json_integer_value(v);
    if (i < 0 || (uint64_t)i > max)
        return mpp_error_set(err, -ERANGE, "%s: %s: expected an integer from 0 to %llu, got %lld",
                             origin, key, (unsigned long long)max, (long long)i);
    *out = (uint64_t)i;
    return 0;
}

int pu_get_strings(const json_t *obj, const char *origin, const char *key, const char ***out,
                   size_t *n, mpp_error *err)
{
    *out = NULL;
    *n = 0;
    json_t *v;
    get_value(obj, key, &v);
    if (!v)
        return 0;
    if (!json_is_array(v))
        return mpp_error_set(err, -EBADMSG, "%s: %s: expected a list of strings, got %s", origin,
                             key, mpp_json_type_name(v));
    size_t count = json_array_size(v);
    _cleanup_free_ const char **items = calloc(count ? count : 1, sizeof(*items));
    if (!items)
        return mpp_error_set(err, -ENOMEM, "out of memory");
    for (size_t i = 0; i < count; i++) {
        json_t *e = json_array_get(v, i);
        if (!json_is_string(e))
            return mpp_error_set(err, -EBADMSG, "%s: %s[%zu]: expected a string, got %s", origin,
                                 key, i, mpp_json_type_name(e));
        items[i] = json_string_value(e);
    }
    *out = TAKE_PTR(items);
    *n = count;
    return 0;
}

int pu_get_patterns(const json_t *obj, const char *origin, const char *key, mpp_pattern **out,
                    size_t *n, mpp_error *err)
{
    *out = NULL;
    *n = 0;
    json_t *v;
    get_value(obj, key, &v);
    if (!v)
        return 0;
    if (!json_is_array(v))
        return mpp_error_set(err, -EBADMSG, "%s: %s: expected a list of patterns, got %s", origin,
                             key, mpp_json_type_name(v));
    _cleanup_free_ char *text = json_dumps(v, JSON_COMPACT);
    if (!text)
        return mpp_error_set(err, -ENOMEM, "out of memory");
    int r = mpp_decode_patterns(text, strlen(text), out, n, err);
    if (r < 0)
        return mpp_error_prefix(err, "%s: %s", origin, key);
    return 1;
}

int pu_get_strmap_patterns(const json_t *obj, const char *origin, const char *key,
                           mpp_strmap_patterns *out, mpp_error *err)
{
    *out = (mpp_strmap_patterns){0};
    json_t *v;
    get_value(obj, key, &v);
    if (!v)
        return 0;
    if (!json_is_array(v))
        return mpp_error_set(err, -EBADMSG, "%s: %s: expected a list of StringMapPatterns, got %s",
                             origin, key, mpp_json_type_name(v));
    /* The codec decodes StringMapPatterns as part of a Pattern: wrap the list as the container
     * labels of one, then take them out. */
    _cleanup_json_ json_t *wrap = json_pack("{s:{s:O}}", "Container", "Labels", v);
    if (!wrap)
        return mpp_error_set(err, -ENOMEM, "out of memory");
    _cleanup_free_ char *text = json_dumps(wrap, JSON_COMPACT);
    if (!text)
        return mpp_error_set(err, -ENOMEM, "out of memory");
    mpp_pattern p;
    mpp_pattern_init(&p);
    int r = mpp_decode_pattern(text, strlen(text), &p, err);
    if (r < 0) {
        mpp_pattern_clear(&p);
        return mpp_error_prefix(err, "%s: %s", origin, key);
    }
    *out = p.container_labels;
    p.container_labels = (mpp_strmap_patterns){0};
    mpp_pattern_clear(&p);
    return 1;
}

void pu_strmap_patterns_clear(mpp_strmap_patterns *ps)
{
    if (!ps)
        return;
    /* Reuse the pattern destructor, which owns the freeing of these. */
    mpp_pattern p;
    mpp_pattern_init(&p);
    p.container_labels = *ps;
    mpp_pattern_clear(&p);
    *ps = (mpp_strmap_patterns){0};
}

int pu_mkdir_p(const char *path, mode_t mode, mpp_error *err)
{
    if (!path || path[0] != '/')
        return mpp_error_set(err, -EINVAL, "%s: not an absolute path", strempty(path));
    char buf[PATH_MAX];
    if (strlen(path) >= sizeof(buf))
        return mpp_error_set(err, -ENAMETOOLONG, "%s: path too long", path);
    strcpy(buf, path);
    size_t len = strlen(buf);
    while (len > 1 && buf[len - 1] == '/')
        buf[--len] = '\0';

    for (char *p = buf + 1;; p++) {
        bool last = *p == '\0';
        if (*p != '/' && !last)
            continue;
        char saved = *p;
        *p = '\0';
        if (p > buf && p[-1] != '/') {
            if (mkdir(buf, last ? mode : 0755) < 0 && errno != EEXIST)
                return mpp_error_set(err, -errno, "cannot create directory %s: %s", buf,
                                     strerror(errno));
            struct stat st;
            if (lstat(buf, &st) < 0)
                return mpp_error_set(err, -errno, "cannot stat %s: %s", buf, strerror(errno));
            if (!S_ISDIR(st.st_mode))
                return mpp_error_set(err, -ENOTDIR, "%s: exists and is not a directory%s", buf,
                                     S_ISLNK(st.st_mode) ? " (a symlink)" : "");
        }
        *p = saved;
        if (last)
            break;
    }
    return 0;
}

int pu_state_dir_ensure(const char *dir, mpp_error *err)
{
    int r = pu_mkdir_p(dir, 0700, err);
    if (r < 0)
        return mpp_error_prefix(err, "state directory %s", dir);
    /* An existing directory may have been created with a wider mode: state holds paths of
     * other users' containers. */
    if (chmod(dir, 0700) < 0)
        return mpp_error_set(err, -errno, "state directory %s: chmod: %s", dir, strerror(errno));
    return 0;
}

static int state_path(const char *dir, const char *id, char *buf, size_t size, mpp_error *err)
{
    if (!mpp_container_id_valid(id))
        return mpp_error_set(err, -EINVAL,
                             "invalid container ID \"%.64s\": expected 1 to 1024 of "
                             "[A-Za-z0-9_.-]",
                             strempty(id));
    int n = snprintf(buf, size, "%s/%s.json", dir, id);
    if (n < 0 || (size_t)n >= size)
        return mpp_error_set(err, -ENAMETOOLONG, "state file of %s in %s: path too long", id, dir);
    return 0;
}

static int fsync_dir(const char *dir)
{
    _cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) < 0)
        return -errno;
    return 0;
}

int pu_state_write(const char *dir, const char *id, const json_t *state, mpp_error *err)
{
    char path[PATH_MAX], tmp[PATH_MAX + 16];
    int r = state_path(dir, id, path, sizeof(path), err);
    if (r < 0)
        return r;
    snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path);

    _cleanup_free_ char *text = json_dumps(state, JSON_COMPACT);
    if (!text)
        return mpp_error_set(err, -ENOMEM, "state of %s: cannot encode", id);
    _cleanup_close_ int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0)
        return mpp_error_set(err, -errno, "state of %s: cannot create %s: %s", id, tmp,
                             strerror(errno));
    size_t len = strlen(text), off = 0;
    while (off < len) {
        ssize_t w = write(fd, text + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            r = w < 0 ? -errno : -EIO;
            unlink(tmp);
            return mpp_error_set(err, r, "state of %s: cannot write %s: %s", id, tmp, strerror(-r));
        }
        off += (size_t)w;
    }
    if (fsync(fd) < 0 || rename(tmp, path) < 0) {
        r = -errno;
        unlink(tmp);
        return mpp_error_set(err, r, "state of %s: cannot store %s: %s", id, path, strerror(-r));
    }
    r = fsync_dir(dir);
    if (r < 0)
        return mpp_error_set(err, r, "state of %s: cannot sync %s: %s", id, dir, strerror(-r));
    return 0;
}

int pu_state_read(const char *dir, const char *id, json_t **out, mpp_error *err)
{
    *out = NULL;
    char path[PATH_MAX];
    int r = state_path(dir, id, path, sizeof(path), err);
    if (r < 0)
        return r;
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return mpp_error_set(err, -errno, "state of %s: %s: %s", id, path, strerror(errno));
    json_error_t jerr;
    json_t *j = json_loadfd(fd, JSON_REJECT_DUPLICATES, &jerr);
    if (!j)
        return mpp_error_set(err, -EBADMSG, "state of %s: %s: line %d column %d: %s", id, path,
                             jerr.line, jerr.column, jerr.text);
    *out = j;
    return 0;
}

int pu_state_remove(const char *dir, const char *id, mpp_error *err)
{
    char path[PATH_MAX];
    int r = state_path(dir, id, path, sizeof(path), err);
    if (r < 0)
        return r;
    if (unlink(path) < 0 && errno != ENOENT)
        return mpp_error_set(err, -errno, "state of %s: cannot remove %s: %s", id, path,
                             strerror(errno));
    r = fsync_dir(dir);
    if (r < 0 && r != -ENOENT)
        return mpp_error_set(err, r, "state of %s: cannot sync %s: %s", id, dir, strerror(-r));
    return 0;
}

void pu_strv_free(char **v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static void closedirp(DIR **d)
{
    if (*d)
        closedir(*d);
}

int pu_state_list(const char *dir, char ***ids, size_t *n, mpp_error *err)
{
    *ids = NULL;
    *n = 0;
    _cleanup_(closedirp) DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT)
            return 0;
        return mpp_error_set(err, -errno, "state directory %s: %s", dir, strerror(errno));
    }
    char **v = NULL;
    size_t count = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t len = strlen(de->d_name);
        if (len <= 5 || strcmp(de->d_name + len - 5, ".json") != 0)
            continue;
        char *id = strndup(de->d_name, len - 5);
        if (!id) {
            pu_strv_free(v, count);
            return mpp_error_set(err, -ENOMEM, "out of memory");
        }
        if (!mpp_container_id_valid(id)) {
            free(id);
            continue;
        }
        char **nv = realloc(v, (count + 1) * sizeof(*v));
        if (!nv) {
            free(id);
            pu_strv_free(v, count);
            return mpp_error_set(err, -ENOMEM, "out of memory");
        }
        v = nv;
        v[count++] = id;
    }
    *ids = v;
    *n = count;
    return 0;
}

static void usage(FILE *f, const char *name)
{
    fprintf(f,
            "usage: mpp-plugin-%s [--config FILE] [--socket PATH] [--state-dir DIR]\n"
            "  --config FILE     JSON configuration (see the plugin's README)\n"
            "  --socket PATH     unix socket to serve on (default: the socket passed by socket\n"
            "                    activation if any, else /run/docker/plugins/%s.sock)\n"
            "  --state-dir DIR   per-container state (default /var/lib/mpp-plugin-%s)\n"
            "  --max-request-bytes N  refuse a request body over N bytes (HTTP 413; default "
            "%u)\n"
            "  --max-connections N    at most N open connections (default %u)\n"
            "  --idle-timeout S       close a connection idle for S seconds (default %u)\n"
            "  --help            show this help\n",
            name, name, name, MPP_PLUGIN_DEFAULT_MAX_REQUEST, MPP_PLUGIN_DEFAULT_MAX_CONNECTIONS,
            MPP_PLUGIN_DEFAULT_IDLE_TIMEOUT_S);
}

/* LISTEN_PID is this process and LISTEN_FDS is set (sd_listen_fds(3)'s convention). */
static bool socket_activated(void)
{
    const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
    if (!pid || !fds || !*fds)
        return false;
    char *end;
    errno = 0;
    unsigned long p = strtoul(pid, &end, 10);
    return errno == 0 && end != pid && *end == '\0' && p == (unsigned long)getpid();
}

const char *pu_socket_name(const pu_args *args)
{
    return args->socket ? args->socket : "the socket passed by socket activation";
}

/* One of the SDK's bounds (--max-request-bytes, --max-connections, --idle-timeout): a positive
 * integer within what the SDK accepts. */
static int pu_parse_limit(const char *name, const struct option *opts, int c, const char *arg,
                          pu_args *out)
{
    const char *opt = "";
    for (const struct option *o = opts; o->name; o++)
        if (o->val == c)
            opt = o->name;
    unsigned long long min = c == 'C' ? 4 : 1;
    unsigned long long max = c == 'R' ? MPP_CODEC_MAX_INPUT : c == 'C' ? 65536 : 24ull * 3600;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(arg, &end, 10);
    if (errno || end == arg || *end || arg[0] == '-' || v < min || v > max) {
        fprintf(stderr, "mpp-plugin-%s: --%s: expected an integer from %llu to %llu, got %s\n",
                name, opt, min, max, arg);
        return -EINVAL;
    }
    if (c == 'R')
        out->max_request_bytes = (size_t)v;
    else if (c == 'C')
        out->max_connections = (unsigned)v;
    else
        out->idle_timeout_s = (unsigned)v;
    return 0;
}

int pu_parse_args(int argc, char **argv, const char *name, pu_args *out)
{
    static char def_socket[PATH_MAX], def_state[PATH_MAX];
    snprintf(def_socket, sizeof(def_socket), "/run/docker/plugins/%s.sock", name);
    snprintf(def_state, sizeof(def_state), "/var/lib/mpp-plugin-%s", name);
    *out = (pu_args){.config = NULL, .socket = def_socket, .state_dir = def_state};

    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"socket", required_argument, NULL, 's'},
        {"state-dir", required_argument, NULL, 'd'},
        {"max-request-bytes", required_argument, NULL, 'R'},
        {"max-connections", required_argument, NULL, 'C'},
        {"idle-timeout", required_argument, NULL, 'T'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    optind = 1;
    opterr = 0;
    bool socket_given = false;
    int c;
    while ((c = getopt_long(argc, argv, "+:", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            out->config = optarg;
            break;
        case 's':
            out->socket = optarg;
            socket_given = true;
            break;
        case 'd':
            out->state_dir = optarg;
            break;
        case 'R':
        case 'C':
        case 'T':
            if (pu_parse_limit(name, opts, c, optarg, out) < 0) {
                usage(stderr, name);
                return -EINVAL;
            }
            break;
        case 'h':
            usage(stdout, name);
            return 1;
        case ':':
            fprintf(stderr, "mpp-plugin-%s: option %s needs a value\n", name, argv[optind - 1]);
            usage(stderr, name);
            return -EINVAL;
        default:
            fprintf(stderr, "mpp-plugin-%s: unknown option %s\n", name, argv[optind - 1]);
            usage(stderr, name);
            return -EINVAL;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "mpp-plugin-%s: unexpected argument %s\n", name, argv[optind]);
        usage(stderr, name);
        return -EINVAL;
    }
    /* Started by a .socket unit: serve the socket systemd passed (the SDK takes it when the
     * path is NULL) rather than create another one at the default path. */
    if (!socket_given && socket_activated())
        out->socket = NULL;
    if (out->state_dir[0] != '/') {
        fprintf(stderr, "mpp-plugin-%s: --state-dir must be an absolute path, got %s\n", name,
                out->state_dir);
        return -EINVAL;
    }
    return 0;
}

bool pu_path_is_safe(const char *path)
{
    if (!path || path[0] != '/' || strlen(path) >= PATH_MAX)
        return false;
    const char *p = path + 1;
    while (*p) {
        const char *end = strchrnul(p, '/');
        size_t len = (size_t)(end - p);
        if (len == 0 && *end == '/')
            return false; /* "//" */
        if ((len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
            return false;
        p = *end ? end + 1 : end;
    }
    return true;
}

static const char *log_name = "mpp-plugin";

void pu_log_init(const char *name)
{
    log_name = name;
}

void pu_log(const char *level, const char *fmt, ...)
{
    char line[4096];
    int n = snprintf(line, sizeof(line), "%s: %s: ", log_name, level);
    if (n < 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (m < 0)
        return;
    size_t len = strlen(line);
    line[len++] = '\n';
    /* One write so that lines of concurrent callbacks do not interleave. */
    ssize_t w _unused_ = write(STDERR_FILENO, line, len);
}

int pu_state_dir_arg(const char *plugin, const char *arg, char *buf, size_t size)
{
    if (strlen(arg) > 2048 || mpp_path_clean(arg, buf, size) < 0) {
        fprintf(stderr, "mpp-plugin-%s: --state-dir %s: path too long (at most 2048 bytes)\n",
                plugin, arg);
        return -1;
    }
    return 0;
}

int pu_answer_patterns(const mpp_pattern *patterns, size_t n, mpp_properties_response *resp,
                       mpp_error *err)
{
    resp->patterns = calloc(n ? n : 1, sizeof(mpp_pattern));
    if (!resp->patterns)
        return mpp_error_set(err, -ENOMEM, "out of memory");
    /* Copied through the codec: one deep copy that cannot drift from the data model. */
    for (size_t i = 0; i < n; i++) {
        char *text = NULL;
        int r = mpp_encode_pattern(&patterns[i], &text, err);
        if (r >= 0)
            r = mpp_decode_pattern(text, strlen(text), &resp->patterns[i], err);
        free(text);
        resp->n_patterns = i + 1;
        if (r < 0)
            return r;
    }
    resp->success = true;
    return 0;
}

int pu_answer_detach(int r, const mpp_error *e, mpp_detach_response *resp, mpp_error *err)
{
    if (r >= 0) {
        resp->success = true;
        return 0;
    }
    pu_log("error", "%s", e->msg);
    resp->success = false;
    resp->recoverable = true;
    resp->err = strdup(e->msg);
    return resp->err ? 0 : mpp_error_set(err, -ENOMEM, "out of memory");
}

int pu_add_action(mpp_attachment *a, mpp_action_kind kind, const char *fmt, ...)
{
    mpp_action *n = realloc(a->emergency, (a->n_emergency + 1) * sizeof(*n));
    if (!n)
        return -ENOMEM;
    a->emergency = n;
    va_list ap;
    va_start(ap, fmt);
    int r = vasprintf(&n[a->n_emergency].arg, fmt, ap);
    va_end(ap);
    if (r < 0)
        return -ENOMEM;
    n[a->n_emergency++].kind = kind;
    return 0;
}

int pu_deny(mpp_attach_response *resp, mpp_error *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = vasprintf(&resp->err, fmt, ap);
    va_end(ap);
    if (r < 0) {
        resp->err = NULL;
        return mpp_error_set(err, -ENOMEM, "out of memory");
    }
    pu_log("info", "%s", resp->err);
    resp->success = false;
    return 0;
}

void pu_close_all(int *fds, size_t n)
{
    for (size_t i = 0; fds && i < n; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    free(fds);
}

void pu_server_options(const pu_args *args, mpp_plugin_server_options *opts)
{
    *opts = (mpp_plugin_server_options){
        .socket_path = args->socket,
        .max_request_bytes = args->max_request_bytes,
        .max_connections = args->max_connections,
        .idle_timeout_s = args->idle_timeout_s,
    };
}

bool pu_source_acceptable(const char *path)
{
    if (!pu_path_is_safe(path))
        return false;
    /* "/" (or "//..."), the whole host: no container needs a plugin to act on it. */
    return path[strspn(path, "/")] != '\0';
}
