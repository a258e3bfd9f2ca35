/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Attach and detach of one container: the overlays of its selected mounts, their state on
 * disk, and the kept diffs. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <mpp/chain.h>
#include <mpp/pattern.h>

#include "cow.h"
#include "macro.h"
#include "plugin-util.h"

static void unlockp(pthread_mutex_t **m)
{
    if (*m)
        pthread_mutex_unlock(*m);
}

static pthread_mutex_t *lock(cow *c)
{
    pthread_mutex_lock(&c->lock);
    return &c->lock;
}

/* state_dir/ID/N/LEAF (LEAF may be NULL). */
static void mount_path(const cow *c, const char *id, long k, const char *leaf, char *buf,
                       size_t size)
{
    snprintf(buf, size, "%s/%s/%ld%s%s", c->state_dir, id, k, leaf ? "/" : "", leaf ? leaf : "");
}

static bool is_index(const char *s, long *out)
{
    if (!*s || strlen(s) > 9)
        return false;
    for (const char *p = s; *p; p++)
        if (*p < '0' || *p > '9')
            return false;
    *out = strtol(s, NULL, 10);
    return true;
}

static void closedirp(DIR **d)
{
    if (*d)
        closedir(*d);
}

/* The state's record of mount k, or NULL. */
static json_t *state_mount(json_t *state, long k)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(state, "Mounts"), i, e)
    {
        if (json_integer_value(json_object_get(e, "Index")) == k)
            return e;
    }
    return NULL;
}

static int keep_upper(const cow *c, const char *id, long k, json_t *rec, mpp_error *err)
{
    char kept_dir[PATH_MAX], target[PATH_MAX + 32], upper[PATH_MAX], name[32];
    snprintf(kept_dir, sizeof(kept_dir), "%s/kept/%s", c->state_dir, id);
    snprintf(target, sizeof(target), "%s/%ld", kept_dir, k);
    mount_path(c, id, k, "upper", upper, sizeof(upper));
    char kept_root[PATH_MAX];
    snprintf(kept_root, sizeof(kept_root), "%s/kept", c->state_dir);
    int r = pu_mkdir_p(kept_root, 0700, err);
    if (r >= 0)
        r = pu_mkdir_p(kept_dir, 0700, err);
    if (r < 0)
        return r;
    struct stat st;
    if (lstat(target, &st) == 0) {
        /* Only a reused container ID gets here. */
        pu_log("warning", "container %s: replacing the changes kept earlier in %s", id, target);
        r = cow_rm_rf(target, err);
        if (r < 0)
            return r;
    }
    if (rename(upper, target) < 0)
        return mpp_error_set(err, -errno, "cannot keep %s as %s: %s", upper, target,
                             strerror(errno));
    _cleanup_json_ json_t *info = json_deep_copy(rec);
    char when[64];
    time_t now = time(NULL);
    struct tm tm;
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
    if (!info || json_object_set_new(info, "ID", json_string(id)) < 0 ||
        json_object_set_new(info, "Kept", json_string(when)) < 0 ||
        json_object_set_new(info, "Diff", json_string(target)) < 0)
        return mpp_error_set(err, -ENOMEM, "out of memory");
    json_object_del(info, "Index");
    snprintf(name, sizeof(name), "%ld", k);
    r = pu_state_write(kept_dir, name, info, err);
    if (r < 0)
        return r;
    pu_log("info", "container %s: kept the changes to %s in %s", id,
           json_string_value(json_object_get(rec, "Source")), target);
    return 0;
}

/* Unmount, keep or discard, remove. Called with the lock held. */
static int teardown(cow *c, const char *id, bool allow_keep, mpp_error *err)
{
    _cleanup_json_ json_t *state = NULL;
    mpp_error rerr = {0};
    int r = pu_state_read(c->state_dir, id, &state, &rerr);
    if (r < 0 && r != -ENOENT)
        pu_log("warning", "container %s: %s; discarding its changes", id, rerr.msg);
    bool keep = allow_keep && json_is_true(json_object_get(state, "Keep"));

    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s/%s", c->state_dir, id);
    int first = 0;
    {
        _cleanup_(closedirp) DIR *d = opendir(dir);
        if (!d && errno != ENOENT)
            return mpp_error_set(err, -errno, "%s: %s", dir, strerror(errno));
        struct dirent *de;
        while (d && (de = readdir(d))) {
            long k;
            if (!is_index(de->d_name, &k))
                continue;
            char path[PATH_MAX];
            mpp_error e = {0};
            mount_path(c, id, k, "merged", path, sizeof(path));
            r = cow_unmount_all(path, &e);
            json_t *rec = state_mount(state, k);
            if (r >= 0 && keep && rec)
                r = keep_upper(c, id, k, rec, &e);
            if (r >= 0) {
                mount_path(c, id, k, NULL, path, sizeof(path));
                r = cow_rm_rf(path, &e);
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
    return pu_state_remove(c->state_dir, id, err);
}

static int emergency_actions(const cow *c, const char *id, long k, const char *source,
                             mpp_attachment *a)
{
    char dir[PATH_MAX];
    mount_path(c, id, k, NULL, dir, sizeof(dir));
    /* mpp's Remove is not recursive: the upper dir (the container's changes) cannot go this
     * way; the plugin removes it at its next start. */
    if (pu_add_action(a, MPP_ACTION_UNMOUNT, "%s/merged", dir) < 0 ||
        pu_add_action(a, MPP_ACTION_REMOVE, "%s/merged", dir) < 0 ||
        pu_add_action(a, MPP_ACTION_REMOVE, "%s/work/work", dir) < 0 ||
        pu_add_action(a, MPP_ACTION_REMOVE, "%s/work", dir) < 0 ||
        pu_add_action(a, MPP_ACTION_WARNING,
                      "cow: the changes of container %s to %s remain in %s/upper (and its state in "
                      "%s/%s.json); mpp-plugin-cow removes them when it starts again",
                      id, source, dir, c->state_dir, id) < 0)
        return -ENOMEM;
    return 0;
}

static int mkdirs(const char *dir, mpp_error *err)
{
    static const char *const leaves[] = {"upper", "work", "merged"};
    if (mkdir(dir, 0700) < 0)
        return mpp_error_set(err, -errno, "cannot create %s: %s", dir, strerror(errno));
    for (size_t i = 0; i < ELEMENTSOF(leaves); i++) {
        char p[PATH_MAX + 16];
        snprintf(p, sizeof(p), "%s/%s", dir, leaves[i]);
        if (mkdir(p, 0700) < 0)
            return mpp_error_set(err, -errno, "cannot create %s: %s", p, strerror(errno));
    }
    return 0;
}

int cow_attach(cow *c, const mpp_attach_request *req, mpp_attach_response *resp, mpp_error *err)
{
    const char *id = req->id;
    if (!mpp_container_id_valid(id) || strcmp(id, "kept") == 0)
        return pu_deny(resp, err, "cow: invalid container ID \"%.64s\"", strempty(id));

    _cleanup_(unlockp) pthread_mutex_t *locked = lock(c);
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s/%s", c->state_dir, id);
    struct stat st;
    if (lstat(dir, &st) == 0) {
        /* A container of the same ID whose detach never came (mpp refuses to reuse an ID with
         * a teardown pending, so this one is gone). */
        pu_log("warning", "container %s: removing what is left of an earlier attach", id);
        mpp_error e = {0};
        if (teardown(c, id, true, &e) < 0)
            return pu_deny(resp, err,
                           "cow: container %s: cannot remove what is left of an earlier "
                           "attach: %s",
                           id, e.msg);
    }

    bool keep = c->cfg.keep;
    for (size_t i = 0; i < req->n_mounts; i++) {
        const char *v = mpp_strmap_get(&req->mounts[i].container.labels, COW_KEEP_LABEL);
        if (v && strcmp(v, "true") == 0)
            keep = true;
    }

    size_t n = req->n_mounts;
    int *fds = malloc((n ? n : 1) * sizeof(int));
    if (!fds)
        return mpp_error_set(err, -ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        fds[i] = -1;
    _cleanup_json_ json_t *state = json_pack("{s:s, s:b, s:[]}", "ID", id, "Keep", keep, "Mounts");
    resp->attachments = calloc(n ? n : 1, sizeof(*resp->attachments));
    if (!state || !resp->attachments) {
        pu_close_all(fds, n);
        return mpp_error_set(err, -ENOMEM, "out of memory");
    }
    resp->n_attachments = n;

    /* Check every mount before changing anything. */
    size_t selected = 0;
    int r = 0;
    for (size_t i = 0; i < n && r == 0 && !resp->err; i++) {
        const mpp_mount *m = &req->mounts[i];
        if (m->read_only)
            continue; /* the host source is safe already: no overlay needed */
        const char *lower = !isempty(m->effective_source) ? m->effective_source : m->source;
        char clean[PATH_MAX];
        if (isempty(lower) || lower[0] != '/' || mpp_path_clean(lower, clean, sizeof(clean)) < 0 ||
            strcmp(clean, lower) != 0) {
            r = pu_deny(resp, err, "cow: the source \"%s\" of %s is not a clean absolute path",
                        strempty(lower), strempty(m->destination));
            break;
        }
        /* Opened once: the overlay is built on this very directory. */
        fds[i] = open(lower, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fds[i] < 0) {
            int e = errno;
            if (e == ENOTDIR)
                r = pu_deny(
                    resp, err,
                    "cow: %s -> %s: the source is not a directory; copy-on-write works on "
                    "directories only: mount it read-only, or without the label mpp.cow=true",
                    lower, strempty(m->destination));
            else
                r = pu_deny(resp, err, "cow: %s -> %s: cannot open the source: %s%s", lower,
                            strempty(m->destination), strerror(e),
                            e == ENOENT ? " (create it first: an empty copy-on-write source makes "
                                          "no sense)"
                                        : "");
            break;
        }
        json_t *rec =
            json_pack("{s:I, s:s, s:s, s:s}", "Index", (json_int_t)i, "Source", strempty(m->source),
                      "Lower", lower, "Destination", strempty(m->destination));
        if (!rec || json_array_append_new(json_object_get(state, "Mounts"), rec) < 0)
            r = mpp_error_set(err, -ENOMEM, "out of memory");
        selected++;
    }
    if (r < 0 || resp->err || selected == 0) {
        pu_close_all(fds, n);
        if (r == 0 && !resp->err)
            resp->success = true;
        return r;
    }

    /* State first: a plugin killed from here on still finds what to tear down. */
    mpp_error e = {0};
    if (mkdir(dir, 0700) < 0)
        r = mpp_error_set(&e, -errno, "cannot create %s: %s", dir, strerror(errno));
    if (r >= 0)
        r = pu_state_write(c->state_dir, id, state, &e);
    for (size_t i = 0; i < n && r >= 0; i++) {
        if (fds[i] < 0)
            continue;
        const mpp_mount *m = &req->mounts[i];
        const char *lower = !isempty(m->effective_source) ? m->effective_source : m->source;
        char kdir[PATH_MAX], merged[PATH_MAX];
        mount_path(c, id, (long)i, NULL, kdir, sizeof(kdir));
        mount_path(c, id, (long)i, "merged", merged, sizeof(merged));
        r = mkdirs(kdir, &e);
        if (r >= 0)
            r = cow_overlay_mount(fds[i], lower, kdir, &e);
        if (r < 0)
            break;
        mpp_attachment *a = &resp->attachments[i];
        a->attach = true;
        a->changes.effective_source = strdup(merged);
        if (!a->changes.effective_source ||
            emergency_actions(c, id, (long)i, strempty(m->source), a) < 0)
            r = mpp_error_set(&e, -ENOMEM, "out of memory");
    }
    pu_close_all(fds, n);
    if (r < 0) {
        /* Not attached: no detach will come, so undo now. */
        mpp_error te = {0};
        if (teardown(c, id, false, &te) < 0)
            pu_log("error", "container %s: cleanup after a failed attach: %s", id, te.msg);
        for (size_t i = 0; i < n; i++)
            mpp_attachment_clear(&resp->attachments[i]);
        return pu_deny(resp, err, "cow: container %s: %s", id, e.msg);
    }
    pu_log("info", "container %s: %zu copy-on-write mount%s%s", id, selected,
           selected == 1 ? "" : "s", keep ? " (changes kept at detach)" : "");
    resp->success = true;
    /* Where its emergency actions act: mpp refuses them anywhere else (without it, out of
     * memory, mpp refuses this answer, and detaches). */
    resp->state_dir = strdup(c->state_dir);
    return 0;
}

int cow_detach(cow *c, const char *id, mpp_error *err)
{
    if (!mpp_container_id_valid(id) || strcmp(id, "kept") == 0)
        return 0; /* nothing of ours can exist under such an ID */
    _cleanup_(unlockp) pthread_mutex_t *locked = lock(c);
    int r = teardown(c, id, true, err);
    if (r < 0)
        return mpp_error_prefix(err, "cow: container %s", id);
    return 0;
}

static bool any_mounted(const cow *c, const char *id)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s/%s", c->state_dir, id);
    _cleanup_(closedirp) DIR *d = opendir(dir);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        long k;
        if (!is_index(de->d_name, &k))
            continue;
        char merged[PATH_MAX];
        mount_path(c, id, k, "merged", merged, sizeof(merged));
        struct statx stx;
        if (statx(AT_FDCWD, merged, AT_SYMLINK_NOFOLLOW, 0, &stx) == 0 &&
            (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) &&
            (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT))
            return true;
    }
    return false;
}

void cow_collect_orphans(cow *c)
{
    char **ids = NULL;
    size_t n = 0;
    mpp_error err = {0};
    if (pu_state_list(c->state_dir, &ids, &n, &err) < 0) {
        pu_log("warning", "cannot look for orphans: %s", err.msg);
        return;
    }
    _cleanup_(unlockp) pthread_mutex_t *locked = lock(c);
    for (size_t i = 0; i < n; i++) {
        /* Still mounted: the container may be alive, its detach is still to come. */
        if (strcmp(ids[i], "kept") == 0 || any_mounted(c, ids[i]))
            continue;
        pu_log("info", "container %s: finishing the teardown of a detach this plugin missed",
               ids[i]);
        mpp_error_clear(&err);
        if (teardown(c, ids[i], true, &err) < 0)
            pu_log("warning", "container %s: %s", ids[i], err.msg);
    }
    pu_strv_free(ids, n);
}
