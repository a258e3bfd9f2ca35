/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The kernel side: a user namespace expressing the maps, and idmapped mounts through the new
 * mount API (open_tree, mount_setattr, move_mount). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/mount.h>

#include "idmap.h"
#include "macro.h"

static int write_map(pid_t pid, const char *file, const idmap_range *rg, size_t n, mpp_error *err)
{
    /* One write: the kernel takes a map in a single write only. */
    char buf[IDMAP_MAX_RANGES * 36 + 1];
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%u %u %u\n", rg[i].host,
                                rg[i].container, rg[i].count);
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
    _cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return mpp_error_set(err, -errno, "cannot open %s: %s", path, strerror(errno));
    ssize_t w = write(fd, buf, len);
    if (w < 0 || (size_t)w != len)
        return mpp_error_set(err, w < 0 ? -errno : -EIO, "cannot write %s: %s", path,
                             w < 0 ? strerror(errno) : "short write");
    return 0;
}

int idmap_userns_open(const idmap_rule *rule, int *out, mpp_error *err)
{
    int ready[2], done[2];
    if (pipe2(ready, O_CLOEXEC) < 0)
        return mpp_error_set(err, -errno, "pipe: %s", strerror(errno));
    if (pipe2(done, O_CLOEXEC) < 0) {
        int e = errno;
        close(ready[0]);
        close(ready[1]);
        return mpp_error_set(err, -e, "pipe: %s", strerror(e));
    }
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(ready[0]);
        close(ready[1]);
        close(done[0]);
        close(done[1]);
        return mpp_error_set(err, -e, "fork: %s", strerror(e));
    }
    if (pid == 0) {
        /* The child only holds the namespace while the parent writes its maps. */
        close(ready[0]);
        close(done[1]);
        char c = unshare(CLONE_NEWUSER) == 0 ? 'y' : 'n';
        if (write(ready[1], &c, 1) != 1)
            _exit(1);
        while (read(done[0], &c, 1) < 0 && errno == EINTR)
            ;
        _exit(0);
    }
    close(ready[1]);
    close(done[0]);
    char c = 0;
    ssize_t n;
    while ((n = read(ready[0], &c, 1)) < 0 && errno == EINTR)
        ;
    close(ready[0]);
    int r = 0;
    if (n != 1 || c != 'y')
        r = mpp_error_set(err, -EPERM, "cannot create a user namespace (unshare CLONE_NEWUSER)");
    if (r >= 0)
        r = write_map(pid, "uid_map", rule->uid, rule->n_uid, err);
    if (r >= 0)
        r = write_map(pid, "gid_map", rule->gid, rule->n_gid, err);
    if (r >= 0) {
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)pid);
        *out = open(path, O_RDONLY | O_CLOEXEC);
        if (*out < 0)
            r = mpp_error_set(err, -errno, "cannot open %s: %s", path, strerror(errno));
    }
    close(done[1]);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
    return r;
}

void idmap_fstype(int fd, char *buf, size_t size)
{
    snprintf(buf, size, "unknown");
    struct statx stx;
    if (statx(fd, "", AT_EMPTY_PATH, STATX_MNT_ID, &stx) < 0 || !(stx.stx_mask & STATX_MNT_ID))
        return;
    _cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
    if (!f)
        return;
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        unsigned long long id = strtoull(line, NULL, 10);
        if (id != stx.stx_mnt_id)
            continue;
        /* "ID PARENT MAJ:MIN ROOT POINT OPTIONS [TAGS...] - FSTYPE SOURCE SUPER" */
        char *sep = strstr(line, " - ");
        if (sep) {
            char *type = sep + 3;
            type[strcspn(type, " \n")] = '\0';
            snprintf(buf, size, "%s", type);
        }
        break;
    }
    free(line);
}

int idmap_mount(int src_fd, const char *src, int userns_fd, const char *target, mpp_error *err)
{
    _cleanup_close_ int tree =
        open_tree(src_fd, "", AT_EMPTY_PATH | OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
    if (tree < 0)
        return mpp_error_set(err, -errno, "idmap: cannot clone the mount of %s: %s", src,
                             strerror(errno));
    struct mount_attr attr = {.attr_set = MOUNT_ATTR_IDMAP, .userns_fd = (__u64)userns_fd};
    if (mount_setattr(tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof(attr)) < 0) {
        int e = errno;
        if (e == EINVAL || e == EOPNOTSUPP || e == ENOSYS) {
            char type[64];
            idmap_fstype(src_fd, type, sizeof(type));
            return mpp_error_set(
                err, -e, "idmap: %s is on %s, which does not support idmapped mounts", src, type);
        }
        return mpp_error_set(err, -e, "idmap: cannot idmap the mount of %s: %s", src, strerror(e));
    }
    if (move_mount(tree, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) < 0)
        return mpp_error_set(err, -errno, "idmap: cannot mount %s on %s: %s", src, target,
                             strerror(errno));
    return 0;
}

bool idmap_is_mount_root(const char *path)
{
    struct statx stx;
    return statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, 0, &stx) == 0 &&
           (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) &&
           (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT);
}

int idmap_unmount_all(const char *path, mpp_error *err)
{
    /* Bounded loop: something may have been stacked on our mount. Detached at once: the
     * container is gone, but a process of the host may still have a file open there. */
    for (int i = 0; i < 64; i++) {
        if (umount2(path, MNT_DETACH | UMOUNT_NOFOLLOW) == 0)
            continue;
        if (errno == EINVAL || errno == ENOENT)
            return 0;
        return mpp_error_set(err, -errno, "cannot unmount %s: %s", path, strerror(errno));
    }
    return mpp_error_set(err, -ELOOP, "cannot unmount %s: more than 64 mounts on it", path);
}
