/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Attach and detach of one container: its idmapped mounts under state_dir/ID and their state
 * on disk. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/openat2.h>
#include <sys/syscall.h>

#include <mpp/chain.h>

#include "idmap.h"
#include "macro.h"
#include "plugin-util.h"

static void unlockp(pthread_mutex_t **m)
{
    if (*m)
        pthread_mutex_unlock(*m);
}

static pthread_mutex_t *lock(idmap *im)
{
    pthread_mutex_lock(&im->lock);
    return &im->lock;
}

static void closedirp(DIR **d)
{
    if (*d)
        closedir(*d);
}

static bool is_index(const char *s)
{
    if (!*s || strlen(s) > 9)
        return false;
    for (const char *p = s; *p; p++)
        if (*p < '0' || *p > '9')
            return false;
    return true;
}

/* Unmount and remove state_dir/ID/N for every N, then ID and its state. Lock held. */
static int teardown(idmap *im, const char *id, mpp_error *err)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s/%s", im->state_dir, id);
    int first = 0;
    {
        _cleanup_(closedirp) DIR *d = opendir(dir);
        if (!d && errno != ENOENT)
            return mpp_error_set(err, -errno, "%s: %s", dir, strerror(errno));
        struct dirent *de;
        while (d && (de = readdir(d))) {
            if (!is_index(de->d_name))
                continue;
            char path[PATH_MAX + 256];
            mpp_error e = {0};
            snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
            int r = idmap_unmount_all(path, &e);
            /* A mountpoint is an empty directory or an empty file of ours. */
            if (r >= 0 && unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR) < 0) {
                int rr = errno == ENOTDIR ? unlinkat(dirfd(d), de->d_name, 0) : -1;
                if (rr < 0 && errno != ENOENT)
                    r = mpp_error_set(&e, -errno, "cannot remove %s: %s", path, strerror(errno));
            }
            if (r < 0 && first == 0) {
                first = r;
                *err = e;
            }
        }
    }
    if (first < 0)
        return first; /* the state stays, for a later detach or start to finish */
    if (rmdir(dir) < 0 && errno != ENOENT)
        return mpp_error_set(err, -errno, "cannot remove %s: %s", dir, strerror(errno));
    return pu_state_remove(im->state_dir, id, err);
}

/* The source, opened once (no magic links: /proc/PID/fd/N cannot stand in for a path); the
 * mount is cloned from this very file. */
static int open_source(const char *path)
{
    struct open_how how = {.flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_NO_MAGICLINKS};
    int fd = (int)syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof(how));
    return fd < 0 ? -errno : fd;
}

static int make_mountpoint(const char *path, bool dir, mpp_error *err)
{
    if (dir ? mkdir(path, 0700) : mknod(path, S_IFREG | 0600, 0))
        return mpp_error_set(err, -errno, "cannot create %s: %s", path, strerror(errno));
    return 0;
}

int idmap_attach(idmap *im, const mpp_attach_request *req, mpp_attach_response *resp,
                 mpp_error *err)
{
    const char *id = req->id;
    if (!mpp_container_id_valid(id))
        return pu_deny(resp, err, "idmap: invalid container ID \"%.64s\"", strempty(id));

    _cleanup_(unlockp) pthread_mutex_t *locked = lock(im);
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s/%s", im->state_dir, id);
    struct stat st;
    if (lstat(dir, &st) == 0) {
        /* The same ID attached earlier and never detached: that container is gone (mpp does
         * not reuse an ID with a teardown pending). */
        pu_log("warning", "container %s: removing what is left of an earlier attach", id);
        mpp_error e = {0};
        if (teardown(im, id, &e) < 0)
            return pu_deny(resp, err,
                           "idmap: container %s: cannot remove what is left of an earlier attach: "
                           "%s",
                           id, e.msg);
    }

    size_t n = req->n_mounts;
    int *fds = malloc((n ? n : 1) * sizeof(int));
    const idmap_rule **rules = calloc(n ? n : 1, sizeof(*rules));
    _cleanup_json_ json_t *state = json_pack("{s:s, s:[]}", "ID", id, "Mounts");
    resp->attachments = calloc(n ? n : 1, sizeof(*resp->attachments));
    if (!fds || !rules || !state || !resp->attachments) {
        free(fds);
        free(rules);
        return mpp_error_set(err, -ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++)
        fds[i] = -1;
    resp->n_attachments = n;

    /* Check every mount before changing anything. */
    size_t selected = 0, last = 0;
    int r = 0;
    for (size_t i = 0; i < n && r == 0 && !resp->err; i++) {
        const mpp_mount *m = &req->mounts[i];
        rules[i] = idmap_config_find(&im->cfg, m);
        if (!rules[i])
            continue; /* selected by a pattern of the user's, but no mapping applies */
        const char *src = !isempty(m->effective_source) ? m->effective_source : m->source;
        if (isempty(src) || !pu_path_is_safe(src)) {
            r = pu_deny(resp, err, "idmap: the source \"%s\" of %s is not a clean absolute path",
                        strempty(src), strempty(m->destination));
            break;
        }
        fds[i] = open_source(src);
        if (fds[i] < 0) {
            r = pu_deny(resp, err, "idmap: %s -> %s: cannot open the source: %s", src,
                        strempty(m->destination), strerror(-fds[i]));
            break;
        }
        json_t *rec =
            json_pack("{s:I, s:s, s:s, s:s}", "Index", (json_int_t)i, "Source", strempty(m->source),
                      "Lower", src, "Destination", strempty(m->destination));
        if (!rec || json_array_append_new(json_object_get(state, "Mounts"), rec) < 0)
            r = mpp_error_set(err, -ENOMEM, "out of memory");
        selected++;
        last = i;
    }
    if (r < 0 || resp->err || selected == 0) {
        pu_close_all(fds, n);
        free(rules);
        if (r == 0 && !resp->err)
            resp->success = true;
        return r;
    }

    /* State first: a plugin killed from here on still finds what to tear down. */
    mpp_error e = {0};
    if (mkdir(dir, 0700) < 0)
        r = mpp_error_set(&e, -errno, "cannot create %s: %s", dir, strerror(errno));
    if (r >= 0)
        r = pu_state_write(im->state_dir, id, state, &e);
    for (size_t i = 0; i < n && r >= 0; i++) {
        if (fds[i] < 0)
            continue;
        const mpp_mount *m = &req->mounts[i];
        const char *src = !isempty(m->effective_source) ? m->effective_source : m->source;
        char target[PATH_MAX + 32];
        snprintf(target, sizeof(target), "%s/%zu", dir, i);
        if (fstat(fds[i], &st) < 0)
            r = mpp_error_set(&e, -errno, "%s: %s", src, strerror(errno));
        if (r >= 0)
            r = make_mountpoint(target, S_ISDIR(st.st_mode), &e);
        if (r >= 0)
            r = idmap_mount(fds[i], src, rules[i]->userns_fd, target, &e);
        if (r < 0)
            break;
        mpp_attachment *a = &resp->attachments[i];
        a->attach = true;
        a->changes.effective_source = strdup(target);
        /* mpp's Remove is not recursive: the directory and the state go with the last one. */
        if (!a->changes.effective_source ||
            pu_add_action(a, MPP_ACTION_UNMOUNT, "%s", target) < 0 ||
            pu_add_action(a, MPP_ACTION_REMOVE, "%s", target) < 0 ||
            (i == last &&
             (pu_add_action(a, MPP_ACTION_REMOVE, "%s", dir) < 0 ||
              pu_add_action(a, MPP_ACTION_REMOVE, "%s/%s.json", im->state_dir, id) < 0)))
            r = mpp_error_set(&e, -ENOMEM, "out of memory");
    }
    pu_close_all(fds, n);
    free(rules);
    if (r < 0) {
        /* Not attached: no detach will come, so undo now. */
        mpp_error te = {0};
        if (teardown(im, id, &te) < 0)
            pu_log("error", "container %s: cleanup after a failed attach: %s", id, te.msg);
        for (size_t i = 0; i < n; i++)
            mpp_attachment_clear(&resp->attachments[i]);
        if (strncmp(e.msg, "idmap: ", 7) == 0)
            return pu_deny(resp, err, "%s", e.msg);
        return pu_deny(resp, err, "idmap: container %s: %s", id, e.msg);
    }
    pu_log("info", "container %s: %zu idmapped mount%s", id, selected, selected == 1 ? "" : "s");
    resp->success = true;
    /* Where its emergency actions act: mpp refuses them anywhere else (without it, out of
     * memory, mpp refuses this answer, and detaches). */
    resp->state_dir = strdup(im->state_dir);
    return 0;
}

int idmap_detach(idmap *im, const char *id, mpp_error *err)
{
    if (!mpp_container_id_valid(id))
        return 0; /* nothing of ours can exist under such an ID */
    _cleanup_(unlockp) pthread_mutex_t *locked = lock(im);
    int r = teardown(im, id, err);
    if (r < 0)
        return mpp_error_prefix(err, "idmap: container %s", id);
    return 0;
}

static bool any_mounted(const idmap *im, const char *id)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s/%s", im->state_dir, id);
    _cleanup_(closedirp) DIR *d = opendir(dir);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        char path[PATH_MAX + 256];
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        if (is_index(de->d_name) && idmap_is_mount_root(path))
            return true;
    }
    return false;
}

void idmap_collect_orphans(idmap *im)
{
    char **ids = NULL;
    size_t n = 0;
    mpp_error err = {0};
    if (pu_state_list(im->state_dir, &ids, &n, &err) < 0) {
        pu_log("warning", "cannot look for orphans: %s", err.msg);
        return;
    }
    _cleanup_(unlockp) pthread_mutex_t *locked = lock(im);
    for (size_t i = 0; i < n; i++) {
        /* Still mounted: the container may be alive; its detach is still to come. */
        if (any_mounted(im, ids[i]))
            continue;
        pu_log("info", "container %s: finishing the teardown of a detach this plugin missed",
               ids[i]);
        mpp_error_clear(&err);
        if (teardown(im, ids[i], &err) < 0)
            pu_log("warning", "container %s: %s", ids[i], err.msg);
    }
    pu_strv_free(ids, n);
}
