/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* OCI bundles: load, check, dump and atomically save config.json; write effective sources back;
 * check or create the effective sources. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include <mpp/codec.h>
#include <mpp/gate.h>
#include <mpp/oci.h>
#include <mpp/pattern.h>

#include "adapter.h"
#include "codec-json.h"
#include "macro.h"

struct mpp_bundle {
    json_t *root;
    char *dir;    /* NULL for a parsed bundle */
    char *path;   /* dir/config.json, or NULL */
    char *origin; /* names the document in messages */
    /* The files are held open, not remembered by inode number: a number is reused as soon as
     * its file is gone, and another mpp-runtime's rewrite of the same bundle would then pass
     * for the file read (and be kept as the original) or for our own (and be restored over). */
    int loaded_fd;   /* the file read, or -1 */
    bool was_pinned; /* mpp_bundle_unpin() found pins */
    int saved_fd;    /* the file mpp_bundle_save() put in place, or -1 */
};

void mpp_bundle_free(mpp_bundle *b)
{
    if (!b)
        return;
    json_decref(b->root);
    if (b->loaded_fd >= 0)
        close(b->loaded_fd);
    if (b->saved_fd >= 0)
        close(b->saved_fd);
    free(b->dir);
    free(b->path);
    free(b->origin);
    free(b);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(mpp_bundle *, mpp_bundle_free)

/* Only what mpp reads is checked; the rest of the document is the real runtime's business. A
 * null "mounts" or "annotations" is accepted as absent (Go encodes a nil slice or map so). */
static int bundle_validate(const json_t *root, const char *origin, mpp_error *err)
{
    if (!json_is_object(root))
        return mpp_error_set(err, -EBADMSG, "%s: expected a JSON object at the top level, got %s",
                             origin, mpp_json_type_name(root));

    const json_t *ann = json_object_get(root, "annotations");
    if (ann && !json_is_null(ann)) {
        if (!json_is_object(ann))
            return mpp_error_set(err, -EBADMSG, "%s: annotations: expected an object, got %s",
                                 origin, mpp_json_type_name(ann));
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)ann, k, v)
        {
            if (!json_is_string(v))
                return mpp_error_set(err, -EBADMSG, "%s: annotations.%s: expected a string, got %s",
                                     origin, k, mpp_json_type_name(v));
        }
    }

    const json_t *mounts = json_object_get(root, "mounts");
    if (!mounts || json_is_null(mounts))
        return 0;
    if (!json_is_array(mounts))
        return mpp_error_set(err, -EBADMSG, "%s: mounts: expected an array, got %s", origin,
                             mpp_json_type_name(mounts));
    size_t i;
    json_t *m;
    json_array_foreach(mounts, i, m)
    {
        if (!json_is_object(m))
            return mpp_error_set(err, -EBADMSG, "%s: mounts[%zu]: expected an object, got %s",
                                 origin, i, mpp_json_type_name(m));
        const json_t *dst = json_object_get(m, "destination");
        if (!dst)
            return mpp_error_set(err, -EBADMSG, "%s: mounts[%zu].destination: missing", origin, i);
        if (!json_is_string(dst))
            return mpp_error_set(err, -EBADMSG,
                                 "%s: mounts[%zu].destination: expected a string, got %s", origin,
                                 i, mpp_json_type_name(dst));
        if (json_string_length(dst) == 0)
            return mpp_error_set(err, -EBADMSG, "%s: mounts[%zu].destination: empty", origin, i);
        static const char *const strings[] = {"source", "type"};
        for (size_t s = 0; s < ELEMENTSOF(strings); s++) {
            const json_t *v = json_object_get(m, strings[s]);
            if (v && !json_is_string(v))
                return mpp_error_set(err, -EBADMSG, "%s: mounts[%zu].%s: expected a string, got %s",
                                     origin, i, strings[s], mpp_json_type_name(v));
        }
        const json_t *opts = json_object_get(m, "options");
        if (opts && !json_is_null(opts)) {
            if (!json_is_array(opts))
                return mpp_error_set(err, -EBADMSG,
                                     "%s: mounts[%zu].options: expected an array, got %s", origin,
                                     i, mpp_json_type_name(opts));
            size_t k;
            json_t *o;
            json_array_foreach(opts, k, o)
            {
                if (!json_is_string(o))
                    return mpp_error_set(err, -EBADMSG,
                                         "%s: mounts[%zu].options[%zu]: expected a string, got %s",
                                         origin, i, k, mpp_json_type_name(o));
            }
        }
    }
    return 0;
}

static int bundle_new(json_t *root, const char *origin, const char *dir, const char *path,
                      mpp_bundle **out, mpp_error *err)
{
    _cleanup_(mpp_bundle_freep) mpp_bundle *b = calloc(1, sizeof(*b));
    if (!b) {
        json_decref(root);
        return mpp_error_set(err, -ENOMEM, "out of memory");
    }
    b->root = root;
    b->loaded_fd = b->saved_fd = -1;
    int fail = 0;
    b->origin = strdup_or_null(origin, &fail);
    b->dir = strdup_or_null(dir, &fail);
    b->path = strdup_or_null(path, &fail);
    if (fail)
        return mpp_error_set(err, -ENOMEM, "out of memory");
    *out = TAKE_PTR(b);
    return 0;
}

int mpp_bundle_parse(const char *json, size_t len, const char *origin, mpp_bundle **out,
                     mpp_error *err)
{
    *out = NULL;
    if (!origin)
        origin = "config.json";
    json_t *root = NULL;
    int r = mpp_json_parse(json, len, origin, &root, err);
    if (r < 0)
        return r;
    r = bundle_validate(root, origin, err);
    if (r < 0) {
        json_decref(root);
        return r;
    }
    return bundle_new(root, origin, NULL, NULL, out, err);
}

static int open_json_file(const char *path, mpp_error *err)
{
    /* O_NONBLOCK: a FIFO put in place of the file must not hang us. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        if (errno == ELOOP)
            return mpp_error_set(err, -ELOOP, "cannot open %s: it is a symbolic link", path);
        return mpp_error_set(err, -errno, "cannot open %s: %m", path);
    }
    return fd;
}

static int json_load_fd(int fd, const char *path, size_t max, json_t **out, mpp_error *err)
{
    *out = NULL;
    struct stat st;
    if (fstat(fd, &st) < 0)
        return mpp_error_set(err, -errno, "cannot stat %s: %m", path);
    if (!S_ISREG(st.st_mode))
        return mpp_error_set(err, -EINVAL, "%s is not a regular file", path);
    if ((unsigned long long)st.st_size > max)
        return mpp_error_set(err, -E2BIG, "%s is too large (%lld bytes, at most %zu)", path,
                             (long long)st.st_size, max);

    /* The file may grow while we read: read at most max + 1 bytes and let that be an error. */
    size_t cap = (size_t)st.st_size + 1, len = 0;
    _cleanup_free_ char *buf = malloc(cap + 1);
    if (!buf)
        return mpp_error_set(err, -ENOMEM, "out of memory");
    for (;;) {
        if (len == cap) {
            if (cap > max)
                return mpp_error_set(err, -E2BIG, "%s is too large (more than %zu bytes)", path,
                                     max);
            size_t ncap = cap * 2 > max + 1 ? max + 1 : cap * 2;
            char *nbuf = realloc(buf, ncap + 1);
            if (!nbuf)
                return mpp_error_set(err, -ENOMEM, "out of memory");
            buf = nbuf;
            cap = ncap;
        }
        ssize_t k = read(fd, buf + len, cap - len);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return mpp_error_set(err, -errno, "cannot read %s: %m", path);
        }
        if (k == 0)
            break;
        len += (size_t)k;
    }
    if (len > max)
        return mpp_error_set(err, -E2BIG, "%s is too large (more than %zu bytes)", path, max);
    buf[len] = '\0';
    return mpp_json_parse(buf, len, path, out, err);
}

int mpp_json_load_file(const char *path, size_t max, json_t **out, mpp_error *err)
{
    *out = NULL;
    _cleanup_close_ int fd = open_json_file(path, err);
    if (fd < 0)
        return fd;
    return json_load_fd(fd, path, max, out, err);
}

/* The document at path, saved back (and kept) in dir, which holds it. */
static int bundle_load_at(const char *dir, const char *path, mpp_bundle **out, mpp_error *err)
{
    json_t *root = NULL;
    _cleanup_close_ int fd = open_json_file(path, err);
    if (fd < 0)
        return fd;
    int r = json_load_fd(fd, path, MPP_CODEC_MAX_INPUT, &root, err);
    if (r < 0)
        return r;
    r = bundle_validate(root, path, err);
    if (r < 0) {
        json_decref(root);
        return r;
    }
    r = bundle_new(root, path, dir, path, out, err);
    if (r >= 0)
        (*out)->loaded_fd = TAKE_FD(fd);
    return r;
}

int mpp_bundle_load(const char *bundle_dir, mpp_bundle **out, mpp_error *err)
{
    *out = NULL;
    if (isempty(bundle_dir))
        return mpp_error_set(err, -EINVAL, "no bundle directory given");
    _cleanup_free_ char *path = NULL;
    if (asprintf(&path, "%s/config.json", bundle_dir) < 0)
        return mpp_error_set(err, -ENOMEM, "out of memory");
    return bundle_load_at(bundle_dir, path, out, err);
}

int mpp_bundle_load_file(const char *path, mpp_bundle **out, mpp_error *err)
{
    *out = NULL;
    const char *slash = path ? strrchr(path, '/') : NULL;
    if (!slash || slash[1] == '\0')
        return mpp_error_set(err, -EINVAL, "config file %s: expected the path of a file",
                             path ? path : "(none)");
    _cleanup_free_ char *dir = slash == path ? strdup("/") : strndup(path, (size_t)(slash - path));
    if (!dir)
        return mpp_error_set(err, -ENOMEM, "out of memory");
    return bundle_load_at(dir, path, out, err);
}

int mpp_bundle_dump(const mpp_bundle *b, char **out, mpp_error *err)
{
    *out = NULL;
    int r = mpp_json_dump(b->root, out, err);
    if (r < 0)
        return mpp_error_prefix(err, "cannot encode %s", b->origin);
    return 0;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t k = write(fd, p, n);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Removes the temporary file unless it was renamed into place. */
typedef struct tmpfile_guard {
    char *path;
} tmpfile_guard;

static void tmpfile_guard_done(tmpfile_guard *g)
{
    if (g->path) {
        unlink(g->path);
        free(g->path);
    }
}

#define KEPT_NAME ".config.json.mpp-orig"

/* Whether path names the very file fd holds open. */
static bool is_file_at(int fd, const char *path)
{
    struct stat a, b;
    return fd >= 0 && fstat(fd, &a) == 0 && lstat(path, &b) == 0 && a.st_dev == b.st_dev &&
           a.st_ino == b.st_ino;
}

/* Keeping and restoring are each done under a lock on the bundle directory, so that one
 * mpp-runtime's restore never falls between another's keeping and saving. */
static int lock_bundle_dir(const mpp_bundle *b, mpp_error *err)
{
    int fd = open(b->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return mpp_error_set(err, -errno, "cannot open bundle directory %s: %m", b->dir);
    while (flock(fd, LOCK_EX) < 0)
        if (errno != EINTR) {
            int e = errno;
            close(fd);
            return mpp_error_set(err, -e, "cannot lock bundle directory %s: %s", b->dir,
                                 strerror(e));
        }
    return fd;
}

/* Whether the file fd holds says what the file read said: then it is the same document, put
 * back meanwhile by another mpp-runtime. */
static bool same_as_read(const mpp_bundle *b, int fd)
{
    mpp_error ignored = {0};
    _cleanup_(json_decrefp) json_t *now = NULL, *read = NULL;
    /* loaded_fd was read to its end once already. */
    if (json_load_fd(fd, b->path, MPP_CODEC_MAX_INPUT, &now, &ignored) < 0 || b->loaded_fd < 0 ||
        lseek(b->loaded_fd, 0, SEEK_SET) < 0 ||
        json_load_fd(b->loaded_fd, b->path, MPP_CODEC_MAX_INPUT, &read, &ignored) < 0)
        return false;
    return json_equal(now, read);
}

int mpp_bundle_save_keeping(mpp_bundle *b, const char *original, mpp_error *err)
{
    if (!b->path)
        return mpp_bundle_save(b, err);
    _cleanup_close_ int lock = lock_bundle_dir(b, err);
    if (lock < 0)
        return lock;
    _cleanup_free_ char *kept = NULL;
    if (asprintf(&kept, "%s/" KEPT_NAME, b->dir) < 0)
        return mpp_error_set(err, -ENOMEM, "out of memory");
    /* Linked under a name of ours, then renamed over whatever is there: a leftover of a run
     * that could not restore it is older than what the engine wrote, and another mpp-runtime
     * may be doing the same in this bundle right now. */
    _cleanup_free_ char *tmp = NULL;
    if (asprintf(&tmp, "%s.%d", kept, (int)getpid()) < 0)
        return mpp_error_set(err, -ENOMEM, "out of memory");
    unlink(tmp);
    /* What goes back when the runtime has read ours, byte for byte where possible:
     * - the file read, when it is still in place and was not another mpp-runtime's rewrite;
     * - else the one kept already, by another mpp-runtime whose rewrite is (or was) in place:
     *   a rewrite in place always has its original kept beside it;
     * - else, when the file changed since it was read, what is there now: with nothing kept,
     *   that is an original given back meanwhile;
     * - else (a rewrite left in place without its original) the text it stood for. */
    bool read_in_place = is_file_at(b->loaded_fd, b->path);
    _cleanup_close_ int opened = -1;
    int link_fd = -1;
    const char *text = NULL;
    if (!b->was_pinned && read_in_place)
        link_fd = b->loaded_fd;
    else if (access(kept, F_OK) == 0)
        ; /* that one stands */
    else if (!read_in_place) {
        opened = open_json_file(b->path, err);
        if (opened < 0)
            return opened;
        /* A rewrite read is gone with nothing kept: what replaced it is the original its
         * mpp-runtime gave back. Else it must say what was read. */
        if (!b->was_pinned && !same_as_read(b, opened))
            return mpp_error_set(err, -ESTALE, "%s changed since it was read", b->path);
        link_fd = opened;
    } else if (original)
        text = original;
    else
        return mpp_error_set(err, -ESTALE, "%s: no original of it is left to keep", b->path);
    bool keep = link_fd >= 0 || text;
    if (text) {
        _cleanup_close_ int fd =
            open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
        int w = fd < 0 ? -errno : write_all(fd, text, strlen(text));
        if (w < 0 || rename(tmp, kept) < 0) {
            int e = w < 0 ? -w : errno;
            unlink(tmp);
            return mpp_error_set(err, -e, "cannot keep the original of %s as %s: %s", b->path, kept,
                                 strerror(e));
        }
    } else if (link_fd >= 0 &&
               (linkat(link_fd, "", AT_FDCWD, tmp, AT_EMPTY_PATH) < 0 || rename(tmp, kept) < 0)) {
        int e = errno;
        unlink(tmp);
        return mpp_error_set(err, -e, "cannot keep %s as %s: %s", b->path, kept, strerror(e));
    }
    int r = mpp_bundle_save(b, err);
    if (r < 0 && keep)
        unlink(kept);
    return r;
}

int mpp_bundle_restore(mpp_bundle *b, mpp_error *err)
{
    if (!b->path)
        return 0;
    _cleanup_free_ char *kept = NULL;
    if (asprintf(&kept, "%s/" KEPT_NAME, b->dir) < 0)
        return mpp_error_set(err, -ENOMEM, "out of memory");
    _cleanup_close_ int lock = lock_bundle_dir(b, err);
    if (lock < 0)
        return lock;
    /* Another mpp-runtime started a container from this same bundle meanwhile and put its own
     * in place: its runtime may not have read it yet, so it is that one's to restore. */
    if (!is_file_at(b->saved_fd, b->path))
        return 0;
    if (rename(kept, b->path) < 0 && errno != ENOENT)
        return mpp_error_set(err, -errno, "cannot put %s back as %s: %m", kept, b->path);
    return 0;
}

int mpp_bundle_save(mpp_bundle *b, mpp_error *err)
{
    if (!b->path)
        return mpp_error_set(
            err, -EINVAL, "cannot save %s: it was not loaded from a bundle directory", b->origin);
    _cleanup_free_ char *text = NULL;
    int r = mpp_bundle_dump(b, &text, err);
    if (r < 0)
        return r;

    struct stat st;
    if (lstat(b->path, &st) < 0)
        return mpp_error_set(err, -errno, "cannot stat %s: %m", b->path);
    if (!S_ISREG(st.st_mode))
        return mpp_error_set(err, -EINVAL, "%s is no longer a regular file", b->path);

    _cleanup_(tmpfile_guard_done) tmpfile_guard tmp = {0};
    if (asprintf(&tmp.path, "%s/.config.json.mpp-XXXXXX", b->dir) < 0) {
        tmp.path = NULL;
        return mpp_error_set(err, -ENOMEM, "out of memory");
    }
    _cleanup_close_ int fd = mkostemp(tmp.path, O_CLOEXEC);
    if (fd < 0) {
        r = mpp_error_set(err, -errno, "cannot create a temporary file in %s: %m", b->dir);
        free(tmp.path);
        tmp.path = NULL;
        return r;
    }
    /* Keep the original's owner and mode: the real runtime, or a rootless engine, reads it. */
    if (fchown(fd, st.st_uid, st.st_gid) < 0 && errno != EPERM)
        return mpp_error_set(err, -errno, "cannot set the owner of %s: %m", tmp.path);
    if (fchmod(fd, st.st_mode & 07777) < 0)
        return mpp_error_set(err, -errno, "cannot set the mode of %s: %m", tmp.path);
    r = write_all(fd, text, strlen(text));
    if (r < 0)
        return mpp_error_set(err, r, "cannot write %s: %s", tmp.path, strerror(-r));
    if (fsync(fd) < 0)
        return mpp_error_set(err, -errno, "cannot sync %s: %m", tmp.path);
    if (rename(tmp.path, b->path) < 0)
        return mpp_error_set(err, -errno, "cannot rename %s to %s: %m", tmp.path, b->path);
    free(tmp.path);
    tmp.path = NULL;
    if (b->saved_fd >= 0)
        close(b->saved_fd);
    b->saved_fd = TAKE_FD(fd);

    _cleanup_close_ int dfd = open(b->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || fsync(dfd) < 0)
        return mpp_error_set(err, -errno, "cannot sync directory %s: %m", b->dir);
    return 0;
}

const char *mpp_bundle_annotation(const mpp_bundle *b, const char *key)
{
    if (!b || !key)
        return NULL;
    return json_string_value(json_object_get(json_object_get(b->root, "annotations"), key));
}

const char *mpp_bundle_origin(const mpp_bundle *b)
{
    return b->origin;
}

int mpp_bundle_describe(const mpp_bundle *b, const mpp_adapter_options *o, mpp_mount **mounts,
                        size_t **index, size_t *n, mpp_error *err)
{
    static const mpp_adapter_options none = {0};
    return mpp_adapter_describe(b->root, b->origin, o ? o : &none, mounts, index, n, err);
}

/* Mount flags that mean the same on a bind mount as on a tmpfs (the runtimes apply them with a
 * remount). Anything else on a tmpfs (size=, mode=, nr_inodes=, uid=, huge=, noswap, tmpcopyup,
 * ...) configures the tmpfs itself and is dropped when it becomes a bind mount. */
static const char *const bind_flags[] = {
    "ro",         "rw",       "nosuid", "suid",     "nodev",      "dev",         "noexec",
    "exec",       "noatime",  "atime",  "relatime", "norelatime", "strictatime", "nostrictatime",
    "nodiratime", "diratime", "sync",   "async",    "dirsync",    "private",     "rprivate",
    "shared",     "rshared",  "slave",  "rslave",   "unbindable", "runbindable",
};

static bool option_kept_on_bind(const char *opt)
{
    for (size_t i = 0; i < ELEMENTSOF(bind_flags); i++)
        if (strcmp(opt, bind_flags[i]) == 0)
            return true;
    return false;
}

static bool has_bind_option(const json_t *m)
{
    size_t i;
    json_t *o;
    json_array_foreach(json_object_get(m, "options"), i, o)
    {
        const char *s = json_string_value(o);
        if (s && (strcmp(s, "bind") == 0 || strcmp(s, "rbind") == 0))
            return true;
    }
    return false;
}

static bool is_tmpfs_mount(const json_t *m)
{
    const char *type = json_string_value(json_object_get(m, "type"));
    return type && strcmp(type, "tmpfs") == 0 && !has_bind_option(m);
}

static json_t *tmpfs_to_bind_options(const json_t *m)
{
    json_t *opts = json_array();
    if (!opts || json_array_append_new(opts, json_string("rbind")) < 0) {
        json_decref(opts);
        return NULL;
    }
    size_t i;
    json_t *o;
    json_array_foreach(json_object_get(m, "options"), i, o)
    {
        const char *s = json_string_value(o);
        if (s && option_kept_on_bind(s) && json_array_append(opts, o) < 0) {
            json_decref(opts);
            return NULL;
        }
    }
    return opts;
}

/* Whether a config.json destination is the one mpp_bundle_describe gave (its clean absolute
 * form). */
static bool same_destination(const char *raw, const char *described)
{
    char buf[PATH_MAX + 2], clean[PATH_MAX];
    if (!raw || !described)
        return false;
    int n = snprintf(buf, sizeof(buf), "%s%s", raw[0] == '/' ? "" : "/", raw);
    if (n < 0 || (size_t)n >= sizeof(buf) || mpp_path_clean(buf, clean, sizeof(clean)) < 0)
        return false;
    return strcmp(clean, described) == 0;
}

/* Whether the effective source replaces the config.json source. */
static bool source_changes(const mpp_mount *m, const json_t *jm)
{
    if (isempty(m->effective_source))
        return false;
    const char *src = json_string_value(json_object_get(jm, "source"));
    return !src || strcmp(src, m->effective_source) != 0;
}

int mpp_bundle_apply(mpp_bundle *b, const mpp_mount *mounts, const size_t *index, size_t n,
                     mpp_error *err)
{
    json_t *arr = json_object_get(b->root, "mounts");
    size_t size = json_is_array(arr) ? json_array_size(arr) : 0;

    /* Check everything first, so that a refused call leaves the document unchanged. */
    for (size_t k = 0; k < n; k++) {
        if (index[k] >= size)
            return mpp_error_set(err, -EINVAL,
                                 "%s: mount %zu (%s) refers to mounts[%zu], but there are %zu",
                                 b->origin, k, strempty(mounts[k].destination), index[k], size);
        const json_t *jm = json_array_get(arr, index[k]);
        const char *dst = json_string_value(json_object_get(jm, "destination"));
        if (!same_destination(dst, mounts[k].destination))
            return mpp_error_set(
                err, -EINVAL, "%s: mounts[%zu].destination is %s, not %s as described", b->origin,
                index[k], strempty(dst), strempty(mounts[k].destination));
        if (source_changes(&mounts[k], jm) && mounts[k].effective_source[0] != '/')
            return mpp_error_set(err, -EINVAL,
                                 "%s: mounts[%zu] (%s): effective source \"%s\" is not an "
                                 "absolute path",
                                 b->origin, index[k], dst, mounts[k].effective_source);
    }

    for (size_t k = 0; k < n; k++) {
        json_t *jm = json_array_get(arr, index[k]);
        if (!source_changes(&mounts[k], jm))
            continue;
        if (is_tmpfs_mount(jm)) {
            json_t *opts = tmpfs_to_bind_options(jm);
            if (!opts || json_object_set_new(jm, "options", opts) < 0 ||
                json_object_set_new(jm, "type", json_string("bind")) < 0)
                return mpp_error_set(err, -ENOMEM, "out of memory");
        }
        if (json_object_set_new(jm, "source", json_string(mounts[k].effective_source)) < 0)
            return mpp_error_set(err, -ENOMEM, "out of memory");
    }
    return 0;
}

int mpp_bundle_set_mount_source(mpp_bundle *b, size_t i, const char *source, const char *was,
                                mpp_error *err)
{
    json_t *jm = json_array_get(json_object_get(b->root, "mounts"), i);
    if (!json_is_object(jm))
        return mpp_error_set(err, -EINVAL, "%s: there is no mounts[%zu]", b->origin, i);
    if (json_object_set_new(jm, "source", json_string(source)) < 0)
        return mpp_error_set(err, -ENOMEM, "out of memory");
    if (!was)
        return 0;
    json_t *ann = json_object_get(b->root, "annotations");
    if (!ann) {
        ann = json_object();
        if (!ann || json_object_set_new(b->root, "annotations", ann) < 0)
            return mpp_error_set(err, -ENOMEM, "out of memory");
    }
    char key[64];
    snprintf(key, sizeof(key), MPP_PINNED_ANNOTATION "%zu", i);
    if (!json_is_object(ann) || json_object_set_new(ann, key, json_string(was)) < 0)
        return mpp_error_set(err, -ENOMEM, "%s: cannot record mounts[%zu]'s source", b->origin, i);
    return 0;
}

int mpp_bundle_unpin(mpp_bundle *b, const char *pin_dir, mpp_error *err)
{
    json_t *arr = json_object_get(b->root, "mounts");
    size_t dlen = strlen(pin_dir);
    int n = 0;
    for (size_t i = 0; i < json_array_size(arr); i++) {
        json_t *jm = json_array_get(arr, i);
        const char *src = json_string_value(json_object_get(jm, "source"));
        char key[64];
        snprintf(key, sizeof(key), MPP_PINNED_ANNOTATION "%zu", i);
        const char *was = mpp_bundle_annotation(b, key);
        /* Only a pinned source: an annotation alone changes nothing. */
        if (!src || !was || strncmp(src, pin_dir, dlen) != 0 || src[dlen] != '/')
            continue;
        if (json_object_set_new(jm, "source", json_string(was)) < 0)
            return mpp_error_set(err, -ENOMEM, "out of memory");
        n++;
    }
    if (n > 0)
        b->was_pinned = true;
    return n;
}

/* mkdir -p, each directory created with mode 0755 whatever the umask. */
static int mkdir_parents(const char *path, mpp_error *err)
{
    _cleanup_free_ char *p = strdup(path);
    if (!p)
        return mpp_error_set(err, -ENOMEM, "out of memory");
    for (char *s = p + 1;; s++) {
        if (*s != '/' && *s != '\0')
            continue;
        char saved = *s;
        *s = '\0';
        if (mkdir(p, 0755) == 0) {
            _cleanup_close_ int fd = open(p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (fd < 0 || fchmod(fd, 0755) < 0)
                return mpp_error_set(err, -errno, "cannot set the mode of %s: %m", p);
        } else if (errno != EEXIST) {
            return mpp_error_set(err, -errno, "cannot create directory %s: %m", p);
        }
        *s = saved;
        if (saved == '\0')
            break;
    }
    struct stat st;
    if (stat(path, &st) < 0)
        return mpp_error_set(err, -errno, "cannot create directory %s: %m", path);
    if (!S_ISDIR(st.st_mode))
        return mpp_error_set(err, -ENOTDIR, "cannot create directory %s: not a directory", path);
    return 0;
}

static bool tmpfs_unchanged(const mpp_mount *m)
{
    return m->type && strcmp(m->type, "tmpfs") == 0 &&
           (isempty(m->effective_source) || strcmp(m->effective_source, strempty(m->source)) == 0);
}

/* " given by plugin \"NAME\"" for the plugin that set the mount's effective source last. */
static void redirector(const mpp_mount *m, char *buf, size_t size)
{
    buf[0] = '\0';
    for (size_t i = m->n_applied; i-- > 0;) {
        const mpp_applied *a = &m->applied[i];
        if (isempty(a->changes.effective_source) || !a->name)
            continue;
        const char *name = strncmp(a->name, "plugin:", 7) == 0 ? a->name + 7 : a->name;
        snprintf(buf, size, " given by plugin \"%s\"", name);
        return;
    }
}

int mpp_sources_prepare(const mpp_mount *mounts, size_t n, mpp_error *err)
{
    for (size_t i = 0; i < n; i++) {
        const mpp_mount *m = &mounts[i];
        if (tmpfs_unchanged(m))
            continue;
        const char *eff = !isempty(m->effective_source) ? m->effective_source : m->source;
        const char *dst = strempty(m->destination);
        if (isempty(eff) || eff[0] != '/')
            return mpp_error_set(err, -EINVAL,
                                 "mount %s: effective source \"%s\" (original source %s) is not "
                                 "an absolute path",
                                 dst, strempty(eff), strempty(m->source));
        struct stat st;
        if (lstat(eff, &st) == 0) {
            if (S_ISLNK(st.st_mode) && stat(eff, &st) < 0)
                return mpp_error_set(err, -errno,
                                     "mount %s: effective source %s (original source %s) is a "
                                     "symbolic link that cannot be followed: %m",
                                     dst, eff, strempty(m->source));
            continue;
        }
        if (errno != ENOENT)
            return mpp_error_set(err, -errno,
                                 "mount %s: cannot check effective source %s (original source "
                                 "%s): %m",
                                 dst, eff, strempty(m->source));
        if (!m->create_source_if_missing) {
            char by[160];
            redirector(m, by, sizeof(by));
            return mpp_error_set(err, -ENOENT,
                                 "mount %s: effective source %s%s does not exist (original "
                                 "source %s), and this mount does not create a missing source",
                                 dst, eff, by, strempty(m->source));
        }
        int r = mkdir_parents(eff, err);
        if (r < 0)
            return mpp_error_prefix(err, "mount %s: creating effective source (original source %s)",
                                    dst, strempty(m->source));
    }
    return 0;
}

/* The exit gate: mpp-init (read-only) and the gate's directory are bind-mounted under /.mpp,
 * and mpp-init goes in front of the process's arguments. */
int mpp_bundle_inject_init(mpp_bundle *b, const char *init_path, const char *gate_dir,
                           mpp_error *err)
{
    json_t *process = json_object_get(b->root, "process");
    json_t *args = json_object_get(process, "args");
    json_t *mounts = json_object_get(b->root, "mounts");
    if (!json_is_array(args) || json_array_size(args) == 0)
        return mpp_error_set(err, -EINVAL,
                             "%s: process.args: expected a non-empty array to "
                             "put the exit gate's init in front of",
                             b->origin);
    if (!mounts) {
        mounts = json_array();
        if (!mounts || json_object_set_new(b->root, "mounts", mounts) < 0)
            return mpp_error_set(err, -ENOMEM, "out of memory");
    }
    json_t *m_init =
        json_pack("{s:s, s:s, s:s, s:[s,s,s,s]}", "destination", MPP_GATE_INIT_DEST, "type", "bind",
                  "source", init_path, "options", "bind", "ro", "nosuid", "nodev");
    json_t *m_gate =
        json_pack("{s:s, s:s, s:s, s:[s,s,s,s,s]}", "destination", MPP_GATE_DIR_DEST, "type",
                  "bind", "source", gate_dir, "options", "bind", "ro", "nosuid", "nodev", "noexec");
    json_t *prefix =
        json_pack("[s,s,s,s]", MPP_GATE_INIT_DEST, "--gate", MPP_GATE_SOCKET_DEST, "--");
    if (!m_init || !m_gate || !prefix || json_array_append_new(mounts, m_init) < 0 ||
        json_array_append_new(mounts, m_gate) < 0 || json_array_extend(prefix, args) < 0 ||
        json_object_set(process, "args", prefix) < 0) {
        json_decref(prefix);
        return mpp_error_set(err, -ENOMEM, "out of memory");
    }
    json_decref(prefix);
    return 0;
}

size_t mpp_bundle_n_mounts(const mpp_bundle *b)
{
    return json_array_size(json_object_get(b->root, "mounts"));
}

const char *mpp_bundle_mount_source(const mpp_bundle *b, size_t i)
{
    json_t *m = json_array_get(json_object_get(b->root, "mounts"), i);
    return json_string_value(json_object_get(m, "source"));
}
