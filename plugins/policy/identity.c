/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What a path names, by identity: the object's (st_dev, st_ino), those of its ancestors, and its
 * path inside its own file system. Names lie (bind mounts, hard links, volumes that are binds of
 * host directories); identities do not. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/openat2.h>

#include <mpp/pin.h>

#include "macro.h"
#include "policy.h"

/* Deeper than any real tree; a loop in ".." would be a kernel bug, but stop anyway. */
#define MAX_DEPTH 4096

void policy_object_clear(policy_object *o)
{
    free(o->anc);
    free(o->fspath);
    *o = (policy_object){0};
}

static int add_ident(policy_object *o, const struct stat *st)
{
    if (o->n_anc % 16 == 0) {
        policy_ident *v = realloc(o->anc, (o->n_anc + 16) * sizeof(*v));
        if (!v)
            return -ENOMEM;
        o->anc = v;
    }
    o->anc[o->n_anc++] = (policy_ident){st->st_dev, st->st_ino};
    return 0;
}

/* The directory that holds a non-directory, which an O_PATH fd of the file cannot give (".."
 * of a file is ENOTDIR): by its path, checked to hold that very file. */
static int parent_of_file(int fd, const struct stat *st)
{
    char path[PATH_MAX];
    int r = mpp_fd_canonical_path(fd, path, sizeof(path));
    if (r < 0)
        return r;
    char *slash = strrchr(path, '/');
    char name[NAME_MAX + 1];
    if (snprintf(name, sizeof(name), "%s", slash + 1) >= (int)sizeof(name))
        return -ENAMETOOLONG;
    if (slash == path)
        path[1] = '\0';
    else
        *slash = '\0';
    struct open_how how = {.flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
                           .resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS};
    _cleanup_close_ int dfd = (int)syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof(how));
    if (dfd < 0)
        return -errno;
    struct stat in;
    if (fstatat(dfd, name, &in, AT_SYMLINK_NOFOLLOW) < 0)
        return errno == ENOENT ? -ESTALE : -errno;
    if (in.st_dev != st->st_dev || in.st_ino != st->st_ino)
        return -ESTALE; /* moved while we looked */
    return TAKE_FD(dfd);
}

static void unescape(char *s)
{
    char *w = s;
    for (char *p = s; *p;) {
        if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' &&
            p[3] >= '0' && p[3] <= '7') {
            *w++ = (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
            p += 4;
        } else {
            *w++ = *p++;
        }
    }
    *w = '\0';
}

void policy_mountinfo_clear(policy_mountinfo *mi)
{
    for (size_t i = 0; i < mi->n; i++) {
        free(mi->v[i].root);
        free(mi->v[i].point);
    }
    free(mi->v);
    *mi = (policy_mountinfo){0};
}

/* Each mount's ID, root (the directory of its file system that it shows) and mount point, from
 * /proc/self/mountinfo: "ID PARENT MAJ:MIN ROOT MOUNTPOINT ...". */
static int mountinfo_load(policy_mountinfo *mi)
{
    policy_mountinfo_clear(mi);
    _cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
    if (!f)
        return -errno;
    _cleanup_free_ char *line = NULL;
    size_t size = 0;
    while (getline(&line, &size, f) > 0) {
        char *save = NULL;
        char *fields[5];
        size_t n = 0;
        for (char *t = strtok_r(line, " \n", &save); t && n < 5; t = strtok_r(NULL, " \n", &save))
            fields[n++] = t;
        if (n < 5)
            continue;
        if (mi->n % 64 == 0) {
            void *v = realloc(mi->v, (mi->n + 64) * sizeof(*mi->v));
            if (!v)
                return -ENOMEM;
            mi->v = v;
        }
        unescape(fields[3]);
        unescape(fields[4]);
        mi->v[mi->n].id = strtoull(fields[0], NULL, 10);
        mi->v[mi->n].root = strdup(fields[3]);
        mi->v[mi->n].point = strdup(fields[4]);
        mi->n++;
        if (!mi->v[mi->n - 1].root || !mi->v[mi->n - 1].point)
            return -ENOMEM;
    }
    mi->loaded = true;
    return 0;
}

/* The root and mount point of mount id; the table is read once per decision, and again when
 * the mount is newer than it. */
static int mount_root(policy_mountinfo *mi, uint64_t id, const char **root, const char **point)
{
    for (int pass = 0; pass < 2; pass++) {
        if (!mi->loaded || pass == 1) {
            int r = mountinfo_load(mi);
            if (r < 0)
                return r;
        }
        for (size_t i = 0; i < mi->n; i++)
            if (mi->v[i].id == id) {
                *root = mi->v[i].root;
                *point = mi->v[i].point;
                return 0;
            }
    }
    return -ENOENT;
}

/* Where the object lies inside its file system: the root of its mount (a bind mount of
 * /etc/ssl shows /etc/ssl of the root file system) joined with its path below the mount point.
 * NULL when the kernel cannot tell (no STATX_MNT_ID); an error when it should and does not. */
static int fs_path(int fd, policy_mountinfo *mi, char **out)
{
    *out = NULL;
    struct statx stx;
    if (statx(fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_MNT_ID, &stx) < 0)
        return -errno;
    if (!(stx.stx_mask & STATX_MNT_ID))
        return 0; /* a kernel before 5.8: not told */
    char path[PATH_MAX];
    int r = mpp_fd_canonical_path(fd, path, sizeof(path));
    if (r < 0)
        return r;
    const char *root, *point;
    r = mount_root(mi, stx.stx_mnt_id, &root, &point);
    if (r < 0)
        return r;
    if (root[0] != '/')
        return 0; /* not a directory tree (nsfs...) */
    size_t n = strlen(point);
    const char *rel;
    if (strcmp(point, "/") == 0)
        rel = path;
    else if (strncmp(path, point, n) == 0 && (path[n] == '\0' || path[n] == '/'))
        rel = path + n;
    else
        return -EXDEV; /* not below its own mount point: moved while we looked */
    if (asprintf(out, "%s%s", strcmp(root, "/") == 0 && rel[0] ? "" : root, rel) < 0) {
        *out = NULL;
        return -ENOMEM;
    }
    return 0;
}

/* The object's identity and its ancestors', from fd. */
static int walk(policy_object *o, int fd, policy_mountinfo *mi)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return -errno;
    o->exists = true;
    o->is_dir = S_ISDIR(st.st_mode);
    o->nlink = st.st_nlink;
    o->dev = st.st_dev;
    o->ino = st.st_ino;
    int r = add_ident(o, &st);
    if (r >= 0)
        r = fs_path(fd, mi, &o->fspath);
    if (r < 0)
        return r;

    _cleanup_close_ int cur = o->is_dir ? fcntl(fd, F_DUPFD_CLOEXEC, 3) : parent_of_file(fd, &st);
    if (cur < 0)
        return o->is_dir ? -errno : cur;
    if (!o->is_dir) {
        if (fstat(cur, &st) < 0)
            return -errno;
        r = add_ident(o, &st);
        if (r < 0)
            return r;
    }
    /* Up by "..", which leaves a mount's root for the directory it is mounted on: the
     * ancestors as the host's tree has them, whatever name the source was given. */
    for (size_t depth = 0; depth < MAX_DEPTH; depth++) {
        int up = openat(cur, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (up < 0)
            return -errno;
        close(cur);
        cur = up;
        if (fstat(cur, &st) < 0)
            return -errno;
        const policy_ident *last = &o->anc[o->n_anc - 1];
        if (st.st_dev == last->dev && st.st_ino == last->ino)
            return 0; /* the root: its ".." is itself */
        r = add_ident(o, &st);
        if (r < 0)
            return r;
    }
    return -ELOOP;
}

int policy_object_open(const char *path, policy_mountinfo *mi, policy_object *o)
{
    *o = (policy_object){0};
    /* Links are followed as the runtime follows them; magic links never (as mpp's pinning). */
    struct open_how how = {.flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_NO_MAGICLINKS};
    _cleanup_close_ int fd = (int)syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof(how));
    if (fd < 0) {
        if (errno != ENOENT && errno != ENOTDIR)
            return -errno;
        /* Not there yet (mpp or the runtime may create it): it would lie inside its nearest
         * existing ancestor, which is what it is judged by. */
        char buf[PATH_MAX];
        if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
            return -ENAMETOOLONG;
        while (fd < 0) {
            char *slash = strrchr(buf, '/');
            if (!slash || strcmp(buf, "/") == 0)
                return 0;
            if (slash == buf)
                buf[1] = '\0';
            else
                *slash = '\0';
            fd = (int)syscall(SYS_openat2, AT_FDCWD, buf, &how, sizeof(how));
            if (fd < 0 && errno != ENOENT && errno != ENOTDIR)
                return -errno;
        }
        o->below = true;
    }
    int r = walk(o, fd, mi);
    if (r < 0)
        policy_object_clear(o);
    return r;
}

bool policy_object_has_ancestor(const policy_object *o, const policy_object *a)
{
    for (size_t i = 0; i < o->n_anc; i++)
        if (o->anc[i].dev == a->dev && o->anc[i].ino == a->ino)
            return true;
    return false;
}

bool policy_fspath_under(const policy_object *o, const policy_object *a)
{
    if (!o->fspath || !a->fspath || o->dev != a->dev)
        return false;
    if (strcmp(a->fspath, "/") == 0)
        return true;
    size_t n = strlen(a->fspath);
    return strncmp(o->fspath, a->fspath, n) == 0 && (o->fspath[n] == '\0' || o->fspath[n] == '/');
}
