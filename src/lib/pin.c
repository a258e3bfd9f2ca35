/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Source pinning: the objects opened at check time are what the runtime mounts. See pin.h. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/openat2.h>

#include <mpp/pin.h>

#include "macro.h"

typedef struct pin {
    int fd;   /* O_PATH: the object judged */
    int tree; /* detached clone of it, to be attached at path */
    bool is_dir;
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

static bool is_tmpfs(const mpp_mount *m)
{
    return m->type && strcmp(m->type, "tmpfs") == 0;
}

static int canonical_path(int fd, char *buf, size_t size)
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
        free(p->v[k].path);
        free(p->v[k].given);
    }
    free(p->v);
    free(p->dir);
    free(p);
}

DEFINE_TRIVIAL_CLEANUP_FUNC(mpp_pins *, mpp_pins_free)

int mpp_pins_resolve(mpp_mount *mounts, size_t n, mpp_pins **out, mpp_error *err)
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
            continue; /* not a path; mpp_sources_prepare() refuses what must be one */
        int fd = open_source(m->source);
        if (fd == -EMFILE || fd == -ENFILE)
            return mpp_error_set(err, fd, "mount %s: cannot open source %s: %s",
                                 strempty(m->destination), m->source, strerror(-fd));
        /* Missing: it may be created once the plugins have answered. Unopenable (a magic
         * link, say): a mount no plugin selects is none of mpp's business, and one that is
         * selected fails in mpp_pins_take(). */
        if (fd < 0)
            continue;
        p->v[k].fd = fd;

        char canon[PATH_MAX];
        int r = canonical_path(fd, canon, sizeof(canon));
        if (r < 0)
            return mpp_error_set(err, r, "mount %s: source %s has no canonical path: %s",
                                 strempty(m->destination), m->source, strerror(-r));
        if (strcmp(canon, m->source) == 0)
            continue;
        /* The plugins judge the path that names the object, not one of its aliases: a policy
         * on /etc must see /etc when the source is a link to it. */
        char *s = strdup(canon), *e = strdup(canon);
        if (!s || !e) {
            free(s);
            free(e);
            return mpp_error_set(err, -ENOMEM, "out of memory");
        }
        free(m->effective_source);
        p->v[k].given = m->source;
        m->source = s;
        m->effective_source = e;
    }
    *out = TAKE_PTR(p);
    return 0;
}

static bool same_object(int fd, const char *path)
{
    struct stat a, b;
    return fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev &&
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
        if (is_tmpfs(m) && unchanged)
            continue;
        if (isempty(eff) || eff[0] != '/')
            return mpp_error_set(err, -EINVAL,
                                 "mount %s: effective source \"%s\" is not an "
                                 "absolute path",
                                 dst, strempty(eff));
        if (!unchanged || pn->fd < 0) {
            /* Redirected by a plugin, or created since resolve: open what the path names now. */
            if (pn->fd >= 0)
                close(pn->fd);
            pn->fd = open_source(eff);
            if (pn->fd < 0)
                return mpp_error_set(err, pn->fd, "mount %s: cannot open %ssource %s: %s", dst,
                                     unchanged ? "" : "effective ", eff, strerror(-pn->fd));
        } else if (!dir && !same_object(pn->fd, eff)) {
            return mpp_error_set(err, -ESTALE,
                                 "mount %s: source %s was replaced while the plugins were "
                                 "consulted: refusing to mount what they did not see",
                                 dst, eff);
        }
        struct stat st;
        if (fstat(pn->fd, &st) < 0)
            return mpp_error_set(err, -errno, "mount %s: cannot check source %s: %m", dst, eff);
        pn->is_dir = S_ISDIR(st.st_mode);
        if (!dir)
            continue;

        /* Recursive: the runtime's own bind or rbind of the clone then takes what it would
         * have taken of the source. */
        pn->tree = (int)open_tree(
            pn->fd, "", AT_EMPTY_PATH | AT_RECURSIVE | OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
        if (pn->tree < 0)
            return mpp_error_set(err, -errno, "mount %s: cannot clone the mount of source %s: %m",
                                 dst, eff);
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
