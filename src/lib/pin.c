/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Source pinning: the objects opened at check time are what the runtime mounts. See pin.h. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/openat2.h>

#include <mpp/pattern.h>
#include <mpp/pin.h>

#include "macro.h"
#include "pin-internal.h"

typedef struct pin {
    int fd;       /* the object judged (O_PATH, or a directory mpp created), or -1 */
    int error;    /* when fd is -1 and judged is set: why (-ENOENT: missing) */
    char *failed; /* with error: what failed, when it says more than strerror */
    int tree;     /* detached clone of fd, to be attached at path */
    bool is_dir;
    char *judged; /* the path the plugins were last given for this mount: what fd stands for */
    char *by;     /* the plugin whose EffectiveSource that is; NULL for the source */
    char *path;
    char *given; /* the source as written, when it was not canonical */
} pin;

struct mpp_pins {
    pin *v;
    size_t n;
    char *dir;
};

static int open_source(const char *path)
{
    /* Symbolic links are followed as the runtime would follow them; a magic link (/proc/PID/fd)
     * would let a path name an object that no path names. */
    struct open_how how = {.flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_NO_MAGICLINKS};
    int fd = (int)syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof(how));
    return fd < 0 ? -errno : fd;
}

/* One existing component, never through a symbolic link. */
static int open_component(int dfd, const char *name, int flags)
{
    /* No O_NOFOLLOW: RESOLVE_NO_SYMLINKS refuses a link (ELOOP), and says so. */
    struct open_how how = {.flags = (uint64_t)flags | O_DIRECTORY | O_CLOEXEC,
                           .resolve =
                               RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_BENEATH};
    int fd = (int)syscall(SYS_openat2, dfd, name, &how, sizeof(how));
    return fd < 0 ? -errno : fd;
}

int mpp_mkdir_nofollow(const char *path, mpp_error *err)
{
    char clean[PATH_MAX];
    if (!path || path[0] != '/' || mpp_path_clean(path, clean, sizeof(clean)) < 0 ||
        strcmp(clean, path) != 0)
        return mpp_error_set(err, -EINVAL,
                             "cannot create directory %s: not an absolute, clean path",
                             strempty(path));
    _cleanup_close_ int dfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return mpp_error_set(err, -errno, "cannot open /: %m");
    for (const char *p = path + 1; *p;) {
        size_t len = strcspn(p, "/");
        int at = (int)(p - path + (ptrdiff_t)len); /* the prefix walked so far, for messages */
        char name[NAME_MAX + 1];
        if (len > NAME_MAX)
            return mpp_error_set(err, -ENAMETOOLONG,
                                 "cannot create directory %s: %.*s: name too long", path, at, path);
        memcpy(name, p, len);
        name[len] = '\0';
        p += len + (p[len] == '/');

        int fd = open_component(dfd, name, O_PATH);
        if (fd == -ENOENT) {
            bool made = mkdirat(dfd, name, 0755) == 0;
            if (!made && errno != EEXIST)
                return mpp_error_set(err, -errno, "cannot create directory %.*s: %m", at, path);
            /* Readable, to set the mode of what we made; whatever a racer put there instead is
             * refused unless it is a directory reached without a link. */
            fd = open_component(dfd, name, O_RDONLY);
            if (fd >= 0 && made && fchmod(fd, 0755) < 0) {
                int e = -errno;
                close(fd);
                return mpp_error_set(err, e, "cannot set the mode of %.*s: %s", at, path,
                                     strerror(-e));
            }
        }
        if (fd == -ELOOP)
            return mpp_error_set(err, -ELOOP,
                                 "cannot create directory %s: %.*s is a symbolic link (a missing "
                                 "source is only created through real directories)",
                                 path, at, path);
        if (fd == -ENOTDIR)
            return mpp_error_set(err, -ENOTDIR,
                                 "cannot create directory %s: %.*s is not a directory", path, at,
                                 path);
        if (fd < 0)
            return mpp_error_set(err, fd, "cannot create directory %s: cannot open %.*s: %s", path,
                                 at, path, strerror(-fd));
        close(dfd);
        dfd = fd;
    }
    return TAKE_FD(dfd);
}

static bool is_tmpfs(const mpp_mount *m)
{
    return m->type && strcmp(m->type, "tmpfs") == 0;
}

int mpp_fd_canonical_path(int fd, char *buf, size_t size)
{
    char proc[64];
    snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
    ssize_t len = readlink(proc, buf, size - 1);
    if (len < 0)
        return -errno;
    if ((size_t)len >= size - 1)
        return -ENAMETOOLONG;
    buf[len] = '\0';
    /* An object with no path left ("/x (deleted)") or outside our root has no canonical path. */
    return buf[0] == '/' ? 0 : -ENOENT;
}

void mpp_pins_free(mpp_pins *p)
{
    if (!p)
        return;
    for (size_t k = 0; k < p->n; k++) {
        if (p->v[k].fd >= 0)
            close(p->v[k].fd);
        if (p->v[k].tree >= 0)
            close(p->v[k].tree);
        free(p->v[k].failed);
        free(p->v[k].judged);
        free(p->v[k].by);
        free(p->v[k].path);
        free(p->v[k].given);
    }
    free(p->v);
    free(p->dir);
    free(p);
}

DEFINE_TRIVIAL_CLEANUP_FUNC(mpp_pins *, mpp_pins_free)

/* Pin what path names now, for a mount whose source (by NULL) or EffectiveSource (given by
 * plugin by) it is: the object is opened once, and *canon (heap) is the path that names it, for
 * the plugins to judge. A path that cannot be opened is recorded as such, never opened again: a
 * missing one is created first when the mount says CreateSourceIfMissing, without following
 * any link; a failure to create it is returned for an EffectiveSource (the plugin that gave it
 * is asked to make sense), and recorded for a source (the mount may be selected by no plugin). */
static int pin_path(pin *pn, const mpp_mount *m, const char *path, const char *by, bool create,
                    char **canon, mpp_error *err)
{
    const char *dst = strempty(m->destination);
    *canon = NULL;
    if (pn->fd >= 0)
        close(pn->fd);
    pn->fd = -1;
    pn->error = 0;
    free(pn->failed);
    free(pn->judged);
    free(pn->by);
    pn->failed = pn->judged = pn->by = NULL;
    if (!(pn->judged = strdup(path)) || (by && !(pn->by = strdup(by))))
        return mpp_error_set(err, -ENOMEM, "out of memory");

    int fd = open_source(path);
    /* Out of descriptors is no property of the path: fail now, not once the plugins attached. */
    if (fd == -EMFILE || fd == -ENFILE)
        return mpp_error_set(err, fd, "mount %s: cannot open %ssource %s: %s", dst,
                             by ? "effective " : "", path, strerror(-fd));
    if (fd == -ENOENT && create) {
        mpp_error cerr = {0};
        fd = mpp_mkdir_nofollow(path, &cerr);
        if (fd < 0 && by)
            return mpp_error_set(err, fd,
                                 "mount %s: effective source %s given by plugin \"%s\": %s", dst,
                                 path, by, cerr.msg);
        if (fd < 0 && !(pn->failed = strdup(cerr.msg)))
            return mpp_error_set(err, -ENOMEM, "out of memory");
    }
    if (fd < 0) {
        pn->error = fd;
        return 0;
    }
    pn->fd = fd;

    char buf[PATH_MAX];
    int r = mpp_fd_canonical_path(fd, buf, sizeof(buf));
    if (r < 0)
        return mpp_error_set(err, r, "mount %s: %ssource %s has no canonical path: %s", dst,
                             by ? "effective " : "", path, strerror(-r));
    if (strcmp(buf, path) != 0) {
        free(pn->judged);
        if (!(pn->judged = strdup(buf)) || !(*canon = strdup(buf)))
            return mpp_error_set(err, -ENOMEM, "out of memory");
    }
    return 0;
}

static int pins_resolve(mpp_mount *mounts, size_t n, bool create, mpp_pins **out, mpp_error *err)
{
    _cleanup_(mpp_pins_freep) mpp_pins *p = calloc(1, sizeof(*p));
    if (!p || !(p->v = calloc(n ? n : 1, sizeof(*p->v))))
        return mpp_error_set(err, -ENOMEM, "out of memory");
    p->n = n;
    for (size_t k = 0; k < n; k++)
        p->v[k].fd = p->v[k].tree = -1;

    for (size_t k = 0; k < n; k++) {
        mpp_mount *m = &mounts[k];
        if (is_tmpfs(m) || isempty(m->source) || m->source[0] != '/')
            continue; /* not a path: mpp_pins_take() refuses what must be one */
        /* Missing, or unopenable (a magic link, say): a mount no plugin selects is none of
         * mpp's business, and one that is selected fails in mpp_pins_take(). */
        char *canon = NULL;
        int r = pin_path(&p->v[k], m, m->source, NULL, create && m->create_source_if_missing,
                         &canon, err);
        if (r < 0)
            return r;
        if (!canon)
            continue;
        /* The plugins judge the path that names the object, not one of its aliases: a policy
         * on /etc must see /etc when the source is a link to it. */
        char *e = strdup(canon);
        if (!e) {
            free(canon);
            return mpp_error_set(err, -ENOMEM, "out of memory");
        }
        free(m->effective_source);
        p->v[k].given = m->source;
        m->source = canon;
        m->effective_source = e;
    }
    *out = TAKE_PTR(p);
    return 0;
}

int mpp_pins_resolve(mpp_mount *mounts, size_t n, mpp_pins **out, mpp_error *err)
{
    return pins_resolve(mounts, n, true, out, err);
}

int mpp_pins_resolve_nocreate(mpp_mount *mounts, size_t n, mpp_pins **out, mpp_error *err)
{
    /* A missing source that would be created (a directory, through no link) is named by its
     * own path once created: leaving it missing gives the plugins the same path. */
    return pins_resolve(mounts, n, false, out, err);
}

int mpp_pins_effective(mpp_pins *p, size_t k, mpp_mount *m, const char *plugin, mpp_error *err)
{
    if (!p || k >= p->n)
        return mpp_error_set(err, -EINVAL, "mount %s: no pin for mount %zu",
                             strempty(m->destination), k);
    pin *pn = &p->v[k];
    const char *eff = m->effective_source;
    if (isempty(eff) || eff[0] != '/')
        return mpp_error_set(err, -EINVAL,
                             "mount %s: effective source \"%s\" given by plugin \"%s\" is not an "
                             "absolute path",
                             strempty(m->destination), strempty(eff), strempty(plugin));
    /* The same path again: what was pinned under it is what was judged. */
    if (pn->fd >= 0 && pn->judged && strcmp(pn->judged, eff) == 0)
        return 0;
    char *canon = NULL;
    int r = pin_path(pn, m, eff, strempty(plugin), m->create_source_if_missing, &canon, err);
    if (r < 0 || !canon)
        return r;
    free(m->effective_source);
    m->effective_source = canon;
    return 0;
}

/* Whether path names the object fd holds, resolved as the runtime will resolve it. */
static bool still_names(int fd, const char *path)
{
    _cleanup_close_ int now = open_source(path);
    struct stat a, b;
    return now >= 0 && fstat(fd, &a) == 0 && fstat(now, &b) == 0 && a.st_dev == b.st_dev &&
           a.st_ino == b.st_ino;
}

static int ensure_pin_dir(const char *dir, mpp_error *err)
{
    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
        return mpp_error_set(err, -errno, "cannot create the pin directory %s: %m", dir);
    struct stat st;
    if (lstat(dir, &st) < 0)
        return mpp_error_set(err, -errno, "cannot check the pin directory %s: %m", dir);
    if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 0077))
        return mpp_error_set(err, -EPERM,
                             "pin directory %s must be a directory of ours that no one else "
                             "can enter (mode 0700)",
                             dir);
    return 0;
}

int mpp_pins_take(mpp_pins *p, const mpp_mount *mounts, size_t n, const char *dir, mpp_error *err)
{
    if (n != p->n)
        return mpp_error_set(err, -EINVAL, "pinning %zu mounts, but %zu were resolved", n, p->n);
    if (dir) {
        int r = ensure_pin_dir(dir, err);
        if (r < 0)
            return r;
        if (!(p->dir = strdup(dir)))
            return mpp_error_set(err, -ENOMEM, "out of memory");
    }
    for (size_t k = 0; k < n; k++) {
        const mpp_mount *m = &mounts[k];
        pin *pn = &p->v[k];
        const char *dst = strempty(m->destination);
        const char *eff = !isempty(m->effective_source) ? m->effective_source : m->source;
        bool unchanged = eff && m->source && strcmp(eff, m->source) == 0;
        const char *what = unchanged ? "source" : "effective source";
        if (is_tmpfs(m) && unchanged)
            continue;
        if (isempty(eff) || eff[0] != '/')
            return mpp_error_set(err, -EINVAL,
                                 "mount %s: effective source \"%s\" is not an "
                                 "absolute path",
                                 dst, strempty(eff));
        /* Never opened here: only what was pinned when the plugins were given it. */
        if (!pn->judged || strcmp(pn->judged, eff) != 0)
            return mpp_error_set(err, -ESTALE,
                                 "mount %s: %s %s is not what was pinned when the plugins judged "
                                 "it: refusing to mount it",
                                 dst, what, eff);
        if (pn->fd < 0 && pn->failed)
            return mpp_error_set(err, pn->error, "mount %s: %s", dst, pn->failed);
        if (pn->fd < 0 && pn->error == -ENOENT)
            return mpp_error_set(err, -ENOENT,
                                 "mount %s: effective source %s%s%s%s does not exist (original "
                                 "source %s), and this mount does not create a missing source",
                                 dst, eff, pn->by ? " given by plugin \"" : "", strempty(pn->by),
                                 pn->by ? "\"" : "", strempty(m->source));
        if (pn->fd < 0)
            return mpp_error_set(err, pn->error, "mount %s: cannot open %s %s: %s", dst, what, eff,
                                 strerror(-pn->error));
        if (!dir && !still_names(pn->fd, eff))
            return mpp_error_set(err, -ESTALE,
                                 "mount %s: %s %s was replaced while the plugins were "
                                 "consulted: refusing to mount what they did not see",
                                 dst, what, eff);
        struct stat st;
        if (fstat(pn->fd, &st) < 0)
            return mpp_error_set(err, -errno, "mount %s: cannot check %s %s: %m", dst, what, eff);
        pn->is_dir = S_ISDIR(st.st_mode);
        if (!dir)
            continue;

        /* Recursive: the runtime's own bind or rbind of the clone then takes what it would
         * have taken of the source. */
        pn->tree = (int)open_tree(
            pn->fd, "", AT_EMPTY_PATH | AT_RECURSIVE | OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
        if (pn->tree < 0)
            return mpp_error_set(err, -errno, "mount %s: cannot clone the mount of %s %s: %m", dst,
                                 what, eff);
        /* The clone holds the object now: one descriptor per mount, not two. */
        close(pn->fd);
        pn->fd = -1;
        if (asprintf(&pn->path, "%s/%zu", dir, k) < 0) {
            pn->path = NULL;
            return mpp_error_set(err, -ENOMEM, "out of memory");
        }
    }
    return 0;
}

const char *mpp_pins_given(const mpp_pins *p, size_t k)
{
    return p && k < p->n ? p->v[k].given : NULL;
}

const char *mpp_pins_path(const mpp_pins *p, size_t k)
{
    return p && k < p->n && p->v[k].tree >= 0 ? p->v[k].path : NULL;
}

size_t mpp_pins_count(const mpp_pins *p)
{
    size_t c = 0;
    for (size_t k = 0; p && k < p->n; k++)
        c += p->v[k].tree >= 0;
    return c;
}

int mpp_pins_install(mpp_pins *p, mpp_error *err)
{
    if (mpp_pins_count(p) == 0)
        return 0;
    if (unshare(CLONE_NEWNS) < 0)
        return mpp_error_set(err, -errno, "cannot enter a private mount namespace: %m");
    if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
        return mpp_error_set(err, -errno, "cannot stop mount propagation to the host: %m");
    if (mount("mpp-pins", p->dir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0700,size=64k") <
        0)
        return mpp_error_set(err, -errno, "cannot mount a tmpfs on %s: %m", p->dir);
    _cleanup_close_ int dfd = open(p->dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0)
        return mpp_error_set(err, -errno, "cannot open %s: %m", p->dir);
    for (size_t k = 0; k < p->n; k++) {
        pin *pn = &p->v[k];
        if (pn->tree < 0)
            continue;
        const char *name = strrchr(pn->path, '/') + 1;
        if (pn->is_dir) {
            if (mkdirat(dfd, name, 0700) < 0)
                return mpp_error_set(err, -errno, "cannot create %s: %m", pn->path);
        } else {
            int fd = openat(dfd, name, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
            if (fd < 0)
                return mpp_error_set(err, -errno, "cannot create %s: %m", pn->path);
            close(fd);
        }
        if (move_mount(pn->tree, "", dfd, name, MOVE_MOUNT_F_EMPTY_PATH) < 0)
            return mpp_error_set(err, -errno, "cannot attach the pinned source at %s: %m",
                                 pn->path);
    }
    return 0;
}
