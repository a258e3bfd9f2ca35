/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Plugin discovery by name (protocol §1), with Docker's directory layout.
 *
 * mpp runs as root and hands plugins the power to redirect mounts, so every file discovery reads
 * or connects to must be root's: owned by uid 0, not writable by group or others, and never
 * reached through a symbolic link (opened with O_NOFOLLOW). */
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

#include <mpp/client.h>

#include "codec-json.h"
#include "macro.h"

#define SPEC_MAX_BYTES (64 * 1024)

void mpp_plugin_addr_clear(mpp_plugin_addr *a)
{
    if (!a)
        return;
    free(a->name);
    free(a->path);
    free(a->host_port);
    free(a->found_at);
    memset(a, 0, sizeof(*a));
}

static void addr_clearp(mpp_plugin_addr *a)
{
    mpp_plugin_addr_clear(a);
}

int mpp_plugin_addr_copy(mpp_plugin_addr *dst, const mpp_plugin_addr *src)
{
    int fail = 0;
    memset(dst, 0, sizeof(*dst));
    dst->kind = src->kind;
    dst->name = strdup_or_null(src->name, &fail);
    dst->path = strdup_or_null(src->path, &fail);
    dst->host_port = strdup_or_null(src->host_port, &fail);
    dst->found_at = strdup_or_null(src->found_at, &fail);
    if (fail) {
        mpp_plugin_addr_clear(dst);
        return -ENOMEM;
    }
    return 0;
}

/* Plugin names become file names here: no '/', no "..", no leading '-' or '.'. */
const char *mpp_plugin_name_problem(const char *name)
{
    size_t len = name ? strlen(name) : 0;
    if (len == 0)
        return "it is empty";
    if (len > 128)
        return "it is longer than 128 characters";
    if (name[0] == '.' || name[0] == '-')
        return "it starts with '.' or '-'";
    for (size_t i = 0; i < len; i++) {
        char ch = name[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '_' || ch == ':' || ch == '-'))
            return "only letters, digits and . _ : - are allowed";
    }
    return NULL;
}

static int check_trust(const char *name, const char *path, const struct stat *st, mpp_error *err)
{
    if (st->st_uid != 0 || (st->st_mode & 022) != 0)
        return mpp_error_set(err, -EPERM,
                             "plugin \"%s\": refusing %s: it is owned by uid %u with mode %04o, "
                             "but must be owned by root (uid 0) and not writable by group or "
                             "others",
                             name, path, (unsigned)st->st_uid, (unsigned)(st->st_mode & 07777));
    return 0;
}

/* Open path (relative to dirfd) without following a final symlink. Returns 1 with an O_PATH fd
 * and its stat when it exists, 0 when it does not, negative on error (a symlink is refused). */
static int probe(const char *name, int dirfd, const char *rel, const char *path, int *ret_fd,
                 struct stat *st, mpp_error *err)
{
    _cleanup_close_ int fd = openat(dirfd, rel, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return 0;
        return mpp_error_set(err, -errno, "plugin \"%s\": cannot open %s: %s", name, path,
                             strerror(errno));
    }
    if (fstat(fd, st) < 0)
        return mpp_error_set(err, -errno, "plugin \"%s\": cannot stat %s: %s", name, path,
                             strerror(errno));
    if (S_ISLNK(st->st_mode))
        return mpp_error_set(err, -EPERM,
                             "plugin \"%s\": refusing %s: it is a symbolic link (plugin sockets "
                             "and files must not be symbolic links)",
                             name, path);
    *ret_fd = TAKE_FD(fd);
    return 1;
}

/* The socket a .spec or .json file points to gets the same checks as a NAME.sock. */
static int check_socket_path(const char *name, const char *from, const char *sock, mpp_error *err)
{
    _cleanup_free_ char *desc = NULL;
    if (asprintf(&desc, "%s (named by %s)", sock, from) < 0)
        return mpp_error_set(err, -ENOMEM, "plugin \"%s\": out of memory", name);

    struct stat st;
    _cleanup_close_ int fd = -1;
    int r = probe(name, AT_FDCWD, sock, desc, &fd, &st, err);
    if (r < 0)
        return r;
    if (r == 0)
        return mpp_error_set(err, -ENOENT,
                             "plugin \"%s\": socket %s does not exist (is the plugin running?)",
                             name, desc);
    if (!S_ISSOCK(st.st_mode))
        return mpp_error_set(err, -ENOTSOCK, "plugin \"%s\": %s is not a socket", name, desc);
    return check_trust(name, desc, &st, err);
}

static bool host_char_ok(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '.' || ch == '-' || ch == '_';
}

/* "host:port" or "[v6]:port", nothing else: it is pasted into the URL the client requests. */
static bool host_port_ok(const char *s)
{
    const char *colon;
    if (s[0] == '[') {
        const char *end = strchr(s, ']');
        if (!end || end == s + 1 || end[1] != ':')
            return false;
        for (const char *p = s + 1; p < end; p++)
            if (!(strchr("0123456789abcdefABCDEF:.", *p)))
                return false;
        colon = end + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon || colon == s)
            return false;
        for (const char *p = s; p < colon; p++)
            if (!host_char_ok(*p))
                return false;
    }
    const char *port = colon + 1;
    size_t n = strlen(port);
    if (n == 0 || n > 5 || strspn(port, "0123456789") != n)
        return false;
    long v = strtol(port, NULL, 10);
    return v >= 1 && v <= 65535;
}

static int parse_url(const char *name, const char *from, const char *url, mpp_plugin_addr *a,
                     mpp_error *err)
{
    if (strncmp(url, "unix://", 7) == 0) {
        const char *sock = url + 7;
        if (sock[0] != '/')
            return mpp_error_set(err, -EINVAL,
                                 "plugin \"%s\": %s: \"%s\" does not name an absolute socket path "
                                 "(expected unix:///path)",
                                 name, from, url);
        int r = check_socket_path(name, from, sock, err);
        if (r < 0)
            return r;
        a->kind = MPP_ADDR_UNIX;
        a->path = strdup(sock);
        if (!a->path)
            return mpp_error_set(err, -ENOMEM, "plugin \"%s\": out of memory", name);
        return 0;
    }

    const char *hp = NULL;
    if (strncmp(url, "tcp://", 6) == 0)
        hp = url + 6;
    else if (strncmp(url, "http://", 7) == 0)
        hp = url + 7;
    if (hp) {
        _cleanup_free_ char *copy = strdup(hp);
        if (!copy)
            return mpp_error_set(err, -ENOMEM, "plugin \"%s\": out of memory", name);
        size_t n = strlen(copy);
        if (n > 0 && copy[n - 1] == '/')
            copy[n - 1] = '\0';
        if (!host_port_ok(copy))
            return mpp_error_set(err, -EINVAL,
                                 "plugin \"%s\": %s: \"%s\" is not a valid address (expected "
                                 "tcp://host:port)",
                                 name, from, url);
        a->kind = MPP_ADDR_TCP;
        a->host_port = TAKE_PTR(copy);
        return 0;
    }

    return mpp_error_set(err, -EINVAL,
                         "plugin \"%s\": %s: unsupported address \"%s\" (expected unix:///path or "
                         "tcp://host:port)",
                         name, from, url);
}

/* Read a regular file found as an O_PATH fd: re-open by name without following links and check
 * that it is still the same inode, so that what is read is what was checked. */
static int read_checked(const char *name, int dirfd, const char *rel, const char *path,
                        const struct stat *checked, char **out, size_t *out_len, mpp_error *err)
{
    _cleanup_close_ int fd =
        openat(dirfd, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return mpp_error_set(err, -errno, "plugin \"%s\": cannot open %s: %s", name, path,
                             strerror(errno));
    struct stat st;
    if (fstat(fd, &st) < 0)
        return mpp_error_set(err, -errno, "plugin \"%s\": cannot stat %s: %s", name, path,
                             strerror(errno));
    if (st.st_dev != checked->st_dev || st.st_ino != checked->st_ino)
        return mpp_error_set(err, -EAGAIN, "plugin \"%s\": %s was replaced while being read", name,
                             path);

    _cleanup_free_ char *buf = malloc(SPEC_MAX_BYTES + 1);
    if (!buf)
        return mpp_error_set(err, -ENOMEM, "plugin \"%s\": out of memory", name);
    size_t len = 0;
    for (;;) {
        ssize_t n = read(fd, buf + len, SPEC_MAX_BYTES + 1 - len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return mpp_error_set(err, -errno, "plugin \"%s\": cannot read %s: %s", name, path,
                                 strerror(errno));
        }
        if (n == 0)
            break;
        len += (size_t)n;
        if (len > SPEC_MAX_BYTES)
            return mpp_error_set(err, -EFBIG, "plugin \"%s\": %s is larger than %d bytes", name,
                                 path, SPEC_MAX_BYTES);
    }
    buf[len] = '\0';
    *out = TAKE_PTR(buf);
    *out_len = len;
    return 0;
}

static int parse_spec(const char *name, const char *path, char *text, size_t len,
                      mpp_plugin_addr *a, mpp_error *err)
{
    if (strlen(text) != len)
        return mpp_error_set(err, -EINVAL, "plugin \"%s\": %s contains a NUL byte", name, path);
    char *s = text;
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = '\0';
    if (n == 0)
        return mpp_error_set(err, -EINVAL, "plugin \"%s\": %s is empty (expected one line: a URL)",
                             name, path);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == ' ' || s[i] == 0x7f)
            return mpp_error_set(err, -EINVAL,
                                 "plugin \"%s\": %s: expected one line with a URL (unix:///path or "
                                 "tcp://host:port), without spaces",
                                 name, path);
    return parse_url(name, path, s, a, err);
}

static int parse_json(const char *name, const char *path, const char *text, size_t len,
                      mpp_plugin_addr *a, mpp_error *err)
{
    _cleanup_(json_decrefp) json_t *root = NULL;
    int r = mpp_json_parse(text, len, path, &root, err);
    if (r < 0) {
        mpp_error_prefix(err, "plugin \"%s\"", name);
        return r;
    }
    if (!json_is_object(root))
        return mpp_error_set(err, -EINVAL, "plugin \"%s\": %s: expected a JSON object", name, path);

    /* Docker's format; Name is ignored as Docker does (the file name is the plugin's name). */
    json_t *tls = json_object_get(root, "TLSConfig");
    if (tls && !json_is_null(tls))
        return mpp_error_set(err, -EOPNOTSUPP,
                             "plugin \"%s\": %s: TLSConfig is not supported (mpp talks plain HTTP "
                             "to plugins, over a unix socket or TCP)",
                             name, path);
    json_t *addr = json_object_get(root, "Addr");
    if (!json_is_string(addr))
        return mpp_error_set(err, -EINVAL, "plugin \"%s\": %s: \"Addr\": %s", name, path,
                             addr ? "expected a string" : "missing");
    _cleanup_free_ char *from = NULL;
    if (asprintf(&from, "%s: \"Addr\"", path) < 0)
        return mpp_error_set(err, -ENOMEM, "plugin \"%s\": out of memory", name);
    return parse_url(name, from, json_string_value(addr), a, err);
}

enum form { FORM_SOCK, FORM_SPEC, FORM_JSON };

/* One candidate: dirfd/rel. Returns 1 when found (a filled), 0 when absent, negative on error. */
static int try_candidate(const char *name, int dirfd, const char *rel, const char *path,
                         enum form form, mpp_plugin_addr *a, mpp_error *err)
{
    _cleanup_close_ int fd = -1;
    struct stat st;
    int r = probe(name, dirfd, rel, path, &fd, &st, err);
    if (r <= 0)
        return r;

    if (form == FORM_SOCK) {
        if (!S_ISSOCK(st.st_mode))
            return mpp_error_set(err, -ENOTSOCK, "plugin \"%s\": %s is not a socket", name, path);
        r = check_trust(name, path, &st, err);
        if (r < 0)
            return r;
        a->kind = MPP_ADDR_UNIX;
        a->path = strdup(path);
        if (!a->path)
            return mpp_error_set(err, -ENOMEM, "plugin \"%s\": out of memory", name);
        return 1;
    }

    if (!S_ISREG(st.st_mode))
        return mpp_error_set(err, -EINVAL, "plugin \"%s\": %s is not a regular file", name, path);
    r = check_trust(name, path, &st, err);
    if (r < 0)
        return r;
    _cleanup_free_ char *text = NULL;
    size_t len = 0;
    r = read_checked(name, dirfd, rel, path, &st, &text, &len, err);
    if (r < 0)
        return r;
    r = form == FORM_SPEC ? parse_spec(name, path, text, len, a, err)
                          : parse_json(name, path, text, len, a, err);
    return r < 0 ? r : 1;
}

/* Look in one directory. Returns 1 when found, 0 when not, negative on error. */
static int search_dir(const char *name, const char *dir, mpp_plugin_addr *a, mpp_error *err)
{
    static const struct {
        enum form form;
        const char *ext;
    } forms[] = {{FORM_SOCK, "sock"}, {FORM_SPEC, "spec"}, {FORM_JSON, "json"}};

    _cleanup_close_ int dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return 0;
        return mpp_error_set(err, -errno, "plugin \"%s\": cannot open directory %s: %s", name, dir,
                             strerror(errno));
    }

    /* NAME/ may hold the files; it is opened once and must not be a symlink either. */
    _cleanup_close_ int subfd = -1;
    _cleanup_free_ char *subpath = NULL;
    if (asprintf(&subpath, "%s/%s", dir, name) < 0)
        return mpp_error_set(err, -ENOMEM, "plugin \"%s\": out of memory", name);
    struct stat subst;
    int r = probe(name, dirfd, name, subpath, &subfd, &subst, err);
    if (r < 0)
        return r;
    if (r > 0 && !S_ISDIR(subst.st_mode)) {
        /* A NAME that is not a directory holds no NAME/NAME.* files. */
        close(TAKE_FD(subfd));
    }

    for (size_t i = 0; i < ELEMENTSOF(forms); i++) {
        _cleanup_free_ char *base = NULL, *path = NULL, *nested = NULL;
        if (asprintf(&base, "%s.%s", name, forms[i].ext) < 0 ||
            asprintf(&path, "%s/%s", dir, base) < 0 ||
            asprintf(&nested, "%s/%s", subpath, base) < 0)
            return mpp_error_set(err, -ENOMEM, "plugin \"%s\": out of memory", name);

        r = try_candidate(name, dirfd, base, path, forms[i].form, a, err);
        if (r != 0) {
            if (r > 0)
                a->found_at = TAKE_PTR(path);
            return r;
        }
        if (subfd >= 0) {
            r = try_candidate(name, subfd, base, nested, forms[i].form, a, err);
            if (r != 0) {
                if (r > 0)
                    a->found_at = TAKE_PTR(nested);
                return r;
            }
        }
    }
    return 0;
}

int mpp_discover(const char *name, char *const *dirs, size_t n_dirs, mpp_plugin_addr *out,
                 mpp_error *err)
{
    memset(out, 0, sizeof(*out));
    if (mpp_plugin_name_problem(name))
        return mpp_error_set(err, -EINVAL,
                             "invalid plugin name \"%s\" (1 to 128 of A-Z a-z 0-9 . _ : -, not "
                             "starting with '.' or '-')",
                             strempty(name));

    for (size_t i = 0; i < n_dirs; i++) {
        _cleanup_(addr_clearp) mpp_plugin_addr a = {0};
        int r = search_dir(name, dirs[i], &a, err);
        if (r < 0)
            return r;
        if (r > 0) {
            a.name = strdup(name);
            if (!a.name)
                return mpp_error_set(err, -ENOMEM, "plugin \"%s\": out of memory", name);
            *out = a;
            memset(&a, 0, sizeof(a));
            return 0;
        }
    }

    char list[MPP_ERROR_MSG_MAX] = "";
    size_t used = 0;
    for (size_t i = 0; i < n_dirs && used < sizeof(list); i++) {
        int n = snprintf(list + used, sizeof(list) - used, "%s%s", i ? ", " : "", dirs[i]);
        if (n < 0)
            break;
        used += (size_t)n;
    }
    return mpp_error_set(err, -ENOENT,
                         "plugin \"%s\" not found in %s (looked for %s.sock, %s.spec and %s.json, "
                         "also in a %s/ subdirectory)",
                         name, n_dirs ? list : "(no plugin directories configured)", name, name,
                         name, name);
}

int mpp_plugin_identity(const mpp_plugin_addr *a, char **out, mpp_error *err)
{
    *out = NULL;
    int r;
    if (a->kind == MPP_ADDR_TCP) {
        r = asprintf(out, "tcp:%s", strempty(a->host_port));
    } else {
        struct stat st;
        if (!a->path)
            return mpp_error_set(err, -EINVAL, "plugin \"%s\": no socket path", strempty(a->name));
        if (stat(a->path, &st) < 0)
            return mpp_error_set(err, -errno, "plugin \"%s\": cannot stat socket %s: %s",
                                 strempty(a->name), a->path, strerror(errno));
        long long mtime_ns = (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
        r = asprintf(out, "unix:%s:%ju:%ju:%lld", a->path, (uintmax_t)st.st_dev,
                     (uintmax_t)st.st_ino, mtime_ns);
    }
    if (r < 0) {
        *out = NULL;
        return mpp_error_set(err, -ENOMEM, "plugin \"%s\": out of memory", strempty(a->name));
    }
    return 0;
}
