/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Overlay mounts through the new mount API, and a careful recursive removal. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cow.h"
#include "macro.h"

/* The kernel explains a failed fsconfig in messages read from the fs context. */
static void fs_log(int fs, char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = '\0';
    for (;;) {
        char line[512];
        ssize_t n = read(fs, line, sizeof(line) - 1);
        if (n <= 0)
            break;
        line[n] = '\0';
        if (len < size)
            len += (size_t)snprintf(buf + len, size - len, "%s%s", len ? "; " : " (", line);
    }
    if (len && len < size - 1)
        snprintf(buf + len, size - len, ")");
}

static int set_string(int fs, const char *key, const char *value, const char *lower, mpp_error *err)
{
    if (fsconfig(fs, FSCONFIG_SET_STRING, key, value, 0) == 0)
        return 0;
    int e = errno;
    char log[1024];
    fs_log(fs, log, sizeof(log));
    return mpp_error_set(err, -e, "overlay of %s: %s=%s: %s%s", lower, key, value, strerror(e),
                         log);
}

int cow_overlay_mount(int lower_fd, const char *lower, const char *dir, mpp_error *err)
{
    char path[PATH_MAX];
    _cleanup_close_ int dir_fd = open(dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dir_fd < 0)
        return mpp_error_set(err, -errno, "%s: %s", dir, strerror(errno));
    /* Our own directories, opened without following symlinks, then named through
     * /proc/self/fd: the paths the kernel parses cannot be swapped, and hold no ',' or ':'. */
    _cleanup_close_ int upper =
        openat(dir_fd, "upper", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    _cleanup_close_ int work =
        openat(dir_fd, "work", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    _cleanup_close_ int merged =
        openat(dir_fd, "merged", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (upper < 0 || work < 0 || merged < 0)
        return mpp_error_set(err, -errno, "%s: cannot open upper, work or merged: %s", dir,
                             strerror(errno));

    /* The root of the merged view takes its owner and mode from the upper dir: make them the
     * source's, so that the container sees the same permissions as without cow. */
    struct stat st;
    if (fstat(lower_fd, &st) < 0)
        return mpp_error_set(err, -errno, "%s: %s", lower, strerror(errno));
    if (fchown(upper, st.st_uid, st.st_gid) < 0 || fchmod(upper, st.st_mode & 07777) < 0)
        return mpp_error_set(err, -errno, "%s/upper: cannot copy the owner and mode of %s: %s", dir,
                             lower, strerror(errno));

    _cleanup_close_ int fs = fsopen("overlay", FSOPEN_CLOEXEC);
    if (fs < 0)
        return mpp_error_set(err, -errno, "cannot create an overlay (fsopen): %s", strerror(errno));
    int r;
    snprintf(path, sizeof(path), "/proc/self/fd/%d", lower_fd);
    if ((r = set_string(fs, "source", "mpp-cow", lower, err)) < 0 ||
        (r = set_string(fs, "lowerdir", path, lower, err)) < 0)
        return r;
    snprintf(path, sizeof(path), "/proc/self/fd/%d", upper);
    if ((r = set_string(fs, "upperdir", path, lower, err)) < 0)
        return r;
    snprintf(path, sizeof(path), "/proc/self/fd/%d", work);
    if ((r = set_string(fs, "workdir", path, lower, err)) < 0)
        return r;
    /* Independent of the kernel's defaults: no index (the same source may back several
     * containers), no metacopy nor redirects (the diff kept at detach must hold whole files and
     * plain names). */
    if ((r = set_string(fs, "index", "off", lower, err)) < 0 ||
        (r = set_string(fs, "redirect_dir", "off", lower, err)) < 0 ||
        (r = set_string(fs, "metacopy", "off", lower, err)) < 0)
        return r;
    if (fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) {
        int e = errno;
        char log[1024];
        fs_log(fs, log, sizeof(log));
        return mpp_error_set(err, -e, "overlay of %s on %s/merged: %s%s", lower, dir, strerror(e),
                             log);
    }
    _cleanup_close_ int mnt = fsmount(fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NODEV);
    if (mnt < 0)
        return mpp_error_set(err, -errno, "overlay of %s: fsmount: %s", lower, strerror(errno));
    if (move_mount(mnt, "", merged, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
        return mpp_error_set(err, -errno, "overlay of %s: cannot mount it on %s/merged: %s", lower,
                             dir, strerror(errno));
    return 0;
}

int cow_unmount_all(const char *path, mpp_error *err)
{
    /* Loop: a mount may have been stacked on ours. Bounded, in case of a pathological stack. */
    for (int i = 0; i < 64; i++) {
        if (umount2(path, UMOUNT_NOFOLLOW) == 0)
            continue;
        if (errno == EINVAL || errno == ENOENT)
            return 0; /* not (or no longer) a mount point */
        if (errno != EBUSY)
            return mpp_error_set(err, -errno, "cannot unmount %s: %s", path, strerror(errno));
        /* Busy: still used by some process. Detach it so that it goes when they let go. */
        if (umount2(path, MNT_DETACH | UMOUNT_NOFOLLOW) < 0)
            return mpp_error_set(err, -errno, "cannot unmount %s: %s", path, strerror(errno));
    }
    return mpp_error_set(err, -ELOOP, "cannot unmount %s: more than 64 mounts on it", path);
}

static int rm_rf_children(int fd, dev_t dev, const char *path, mpp_error *err)
{
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return mpp_error_set(err, -errno, "%s: %s", path, strerror(errno));
    }
    int r = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        struct stat st;
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
            if (errno == ENOENT)
                continue;
            r = mpp_error_set(err, -errno, "%s/%s: %s", path, de->d_name, strerror(errno));
            break;
        }
        if (S_ISDIR(st.st_mode)) {
            if (st.st_dev != dev) {
                r = mpp_error_set(err, -EBUSY, "%s/%s: a mount point, not removed", path,
                                  de->d_name);
                break;
            }
            int sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub < 0) {
                r = mpp_error_set(err, -errno, "%s/%s: %s", path, de->d_name, strerror(errno));
                break;
            }
            char subpath[PATH_MAX];
            snprintf(subpath, sizeof(subpath), "%s/%s", path, de->d_name);
            r = rm_rf_children(sub, dev, subpath, err);
            if (r < 0)
                break;
            if (unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR) < 0 && errno != ENOENT) {
                r = mpp_error_set(err, -errno, "%s: %s", subpath, strerror(errno));
                break;
            }
        } else if (unlinkat(dirfd(d), de->d_name, 0) < 0 && errno != ENOENT) {
            r = mpp_error_set(err, -errno, "%s/%s: %s", path, de->d_name, strerror(errno));
            break;
        }
    }
    closedir(d);
    return r;
}

int cow_rm_rf(const char *path, mpp_error *err)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        if (errno == ENOTDIR || errno == ELOOP) {
            if (unlink(path) < 0 && errno != ENOENT)
                return mpp_error_set(err, -errno, "%s: %s", path, strerror(errno));
            return 0;
        }
        return mpp_error_set(err, -errno, "%s: %s", path, strerror(errno));
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int e = errno;
        close(fd);
        return mpp_error_set(err, -e, "%s: %s", path, strerror(e));
    }
    struct stat parent;
    if (fstatat(fd, "..", &parent, 0) == 0 && parent.st_dev != st.st_dev) {
        close(fd);
        return mpp_error_set(err, -EBUSY, "%s: a mount point, not removed", path);
    }
    int r = rm_rf_children(fd, st.st_dev, path, err);
    if (r < 0)
        return r;
    if (rmdir(path) < 0 && errno != ENOENT)
        return mpp_error_set(err, -errno, "%s: %s", path, strerror(errno));
    return 0;
}
