/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Attach, detach and resume of one container's watches, with their state on disk. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mpp/chain.h>

#include "audit.h"
#include "macro.h"
#include "plugin-util.h"

static void unlockp(pthread_mutex_t **m)
{
    if (*m)
        pthread_mutex_unlock(*m);
}

static pthread_mutex_t *lock(audit *a)
{
    pthread_mutex_lock(&a->lock);
    return &a->lock;
}

void audit_ctr_free(audit *a, audit_ctr *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n_watches; i++) {
        audit_fs_unref(a, c->watches[i].fs);
        if (c->watches[i].fd >= 0)
            close(c->watches[i].fd);
        free(c->watches[i].source);
        free(c->watches[i].dest);
    }
    free(c->watches);
    if (c->log && fclose(c->log) != 0)
        pu_log("error", "container %s: cannot write its log: %s", c->id, strerror(errno));
    free(c->id);
    free(c);
}

static void unlink_ctr(audit *a, audit_ctr *c)
{
    for (audit_ctr **p = &a->ctrs; *p; p = &(*p)->next)
        if (*p == c) {
            *p = c->next;
            return;
        }
}

static audit_ctr *find_ctr(audit *a, const char *id)
{
    for (audit_ctr *c = a->ctrs; c; c = c->next)
        if (strcmp(c->id, id) == 0)
            return c;
    return NULL;
}

static FILE *open_log(const char *path, mpp_error *err)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0640);
    if (fd < 0) {
        mpp_error_set(err, -errno, "cannot open the log %s: %s", path, strerror(errno));
        return NULL;
    }
    FILE *f = fdopen(fd, "ae");
    if (!f) {
        mpp_error_set(err, -errno, "cannot open the log %s: %s", path, strerror(errno));
        close(fd);
    }
    return f;
}

static int new_ctr(audit *a, const char *id, audit_ctr **out, mpp_error *err)
{
    audit_ctr *c = calloc(1, sizeof(*c));
    if (!c || !(c->id = strdup(id))) {
        free(c);
        return mpp_error_set(err, -ENOMEM, "out of memory");
    }
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s.jsonl", a->cfg.log_dir, id);
    c->log = open_log(path, err);
    if (!c->log) {
        audit_ctr_free(a, c);
        return err->code;
    }
    *out = c;
    return 0;
}

/* Watch source (as given) at dest for c. */
static int add_watch(audit *a, audit_ctr *c, const char *source, const char *dest, mpp_error *err)
{
    audit_watch *n = realloc(c->watches, (c->n_watches + 1) * sizeof(*n));
    if (!n)
        return mpp_error_set(err, -ENOMEM, "out of memory");
    c->watches = n;
    audit_watch *w = &n[c->n_watches];
    *w = (audit_watch){.fd = -1};
    c->n_watches++;
    /* Events name the canonical path: compare with the source's. */
    char canon[PATH_MAX];
    if (!realpath(source, canon))
        return mpp_error_set(err, -errno, "audit: %s -> %s: cannot resolve the source: %s", source,
                             dest, strerror(errno));
    w->source = strdup(canon);
    w->dest = strdup(dest);
    if (!w->source || !w->dest)
        return mpp_error_set(err, -ENOMEM, "out of memory");
    w->source_len = strlen(canon);
    /* Readable, not O_PATH: open_by_handle_at wants a real fd for its mount. */
    w->fd = open(canon, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_NOFOLLOW | O_CLOEXEC);
    if (w->fd < 0)
        return mpp_error_set(err, -errno, "audit: %s -> %s: cannot open the source: %s", canon,
                             dest, strerror(errno));
    struct stat st;
    if (fstat(w->fd, &st) < 0 || !(S_ISDIR(st.st_mode) || S_ISREG(st.st_mode)))
        return mpp_error_set(err, -EINVAL,
                             "audit: %s -> %s: the source is neither a directory nor a regular "
                             "file",
                             canon, dest);
    return audit_fs_ref(a, w->fd, canon, &w->fs, err);
}

static int finish(audit *a, audit_ctr *c, mpp_error *err);

int audit_attach(audit *a, const mpp_attach_request *req, mpp_attach_response *resp, mpp_error *err)
{
    const char *id = req->id;
    if (!mpp_container_id_valid(id) || strcmp(id, "audit") == 0)
        return pu_deny(resp, err, "audit: invalid container ID");

    _cleanup_(unlockp) pthread_mutex_t *locked = lock(a);
    audit_ctr *old = find_ctr(a, id);
    if (old) {
        /* Attached earlier and never detached: that container is gone. */
        pu_log("warning", "container %s: closing the audit of an earlier attach", id);
        mpp_error e = {0};
        if (finish(a, old, &e) < 0)
            pu_log("warning", "container %s: %s", id, e.msg);
    }

    size_t n = req->n_mounts;
    resp->attachments = calloc(n ? n : 1, sizeof(*resp->attachments));
    _cleanup_json_ json_t *state = json_pack("{s:s, s:[]}", "ID", id, "Mounts");
    _cleanup_json_ json_t *rec = json_pack("{s:s, s:[]}", "op", "attach", "mounts");
    if (!resp->attachments || !state || !rec)
        return mpp_error_set(err, -ENOMEM, "out of memory");
    resp->n_attachments = n;
    if (n == 0) {
        resp->success = true;
        return 0;
    }

    audit_ctr *c = NULL;
    mpp_error e = {0};
    int r = new_ctr(a, id, &c, &e);
    for (size_t i = 0; i < n && r >= 0; i++) {
        const mpp_mount *m = &req->mounts[i];
        const char *src = !isempty(m->effective_source) ? m->effective_source : m->source;
        if (isempty(src) || !pu_path_is_safe(src) || isempty(m->destination)) {
            r = mpp_error_set(&e, -EINVAL,
                              "audit: the source \"%s\" of %s is not a clean absolute path",
                              strempty(src), strempty(m->destination));
            break;
        }
        r = add_watch(a, c, src, m->destination, &e);
        if (r < 0)
            break;
        json_t *mr =
            json_pack("{s:s, s:s}", "Source", c->watches[i].source, "Destination", m->destination);
        json_t *lr =
            json_pack("{s:s, s:s}", "source", c->watches[i].source, "destination", m->destination);
        if (!mr || json_array_append_new(json_object_get(state, "Mounts"), mr) < 0 || !lr ||
            json_array_append_new(json_object_get(rec, "mounts"), lr) < 0)
            r = mpp_error_set(&e, -ENOMEM, "out of memory");
        mpp_attachment *at = &resp->attachments[i];
        at->attach = true;
        at->emergency = calloc(2, sizeof(*at->emergency));
        if (!at->emergency)
            r = mpp_error_set(&e, -ENOMEM, "out of memory");
        else {
            /* Without its state, a plugin started later does not resume this audit. */
            at->n_emergency = 2;
            at->emergency[0].kind = MPP_ACTION_REMOVE;
            at->emergency[1].kind = MPP_ACTION_WARNING;
            if (asprintf(&at->emergency[0].arg, "%s/%s.json", a->state_dir, id) < 0)
                at->emergency[0].arg = NULL;
            if (asprintf(&at->emergency[1].arg,
                         "audit: the plugin was gone at the teardown of container %s: its log "
                         "%s/%s.jsonl has no summary and may miss the last operations",
                         id, a->cfg.log_dir, id) < 0)
                at->emergency[1].arg = NULL;
            if (!at->emergency[0].arg || !at->emergency[1].arg)
                r = mpp_error_set(&e, -ENOMEM, "out of memory");
        }
    }
    if (r >= 0)
        r = pu_state_write(a->state_dir, id, state, &e);
    if (r < 0) {
        audit_ctr_free(a, c);
        for (size_t i = 0; i < n; i++)
            mpp_attachment_clear(&resp->attachments[i]);
        if (strncmp(e.msg, "audit: ", 7) == 0)
            return pu_deny(resp, err, "%s", e.msg);
        char msg[MPP_ERROR_MSG_MAX + 64];
        snprintf(msg, sizeof(msg), "audit: container %s: %s", id, e.msg);
        return pu_deny(resp, err, "%s", msg);
    }
    c->next = a->ctrs;
    a->ctrs = c;
    audit_log_record(a, c, json_incref(rec));
    audit_log_flush(a);
    pu_log("info", "container %s: auditing %zu mount%s", id, n, n == 1 ? "" : "s");
    resp->success = true;
    /* Where its emergency actions act: mpp refuses them anywhere else (without it, out of
     * memory, mpp refuses this answer, and detaches). */
    resp->state_dir = strdup(a->state_dir);
    return 0;
}

static int write_summary_file(const char *dir, const char *id, const json_t *summary,
                              mpp_error *err)
{
    char path[PATH_MAX], tmp[PATH_MAX + 8];
    snprintf(path, sizeof(path), "%s/%s.summary.json", dir, id);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    if (json_dump_file(summary, tmp, JSON_INDENT(2) | JSON_PRESERVE_ORDER) < 0 ||
        rename(tmp, path) < 0) {
        unlink(tmp);
        return mpp_error_set(err, -EIO, "cannot write %s", path);
    }
    return 0;
}

/* Stop watching, summarize, forget. Lock held; c is freed. */
static int finish(audit *a, audit_ctr *c, mpp_error *err)
{
    /* What the container did is queued already: log it before the marks go. */
    audit_fan_drain(a, true);
    unlink_ctr(a, c);
    audit_log_flush(a);
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s.jsonl", a->cfg.log_dir, c->id);
    _cleanup_json_ json_t *summary = NULL;
    int r = audit_summarize(path, c->id, a->cfg.top, &summary, err);
    if (r >= 0) {
        r = write_summary_file(a->cfg.log_dir, c->id, summary, err);
        audit_log_record(a, c, json_incref(summary));
        if (a->combined)
            fflush(a->combined);
    }
    if (r >= 0)
        r = pu_state_remove(a->state_dir, c->id, err);
    audit_ctr_free(a, c);
    return r;
}

int audit_detach(audit *a, const char *id, mpp_error *err)
{
    if (!mpp_container_id_valid(id))
        return 0; /* nothing of ours can exist under such an ID */
    _cleanup_(unlockp) pthread_mutex_t *locked = lock(a);
    audit_ctr *c = find_ctr(a, id);
    int r = c ? finish(a, c, err) : pu_state_remove(a->state_dir, id, err);
    if (r < 0)
        return mpp_error_prefix(err, "audit: container %s", id);
    if (c)
        pu_log("info", "container %s: audit closed, summary in %s/%s.summary.json", id,
               a->cfg.log_dir, id);
    return 0;
}

void audit_resume(audit *a)
{
    char **ids = NULL;
    size_t n = 0;
    mpp_error err = {0};
    if (pu_state_list(a->state_dir, &ids, &n, &err) < 0) {
        pu_log("warning", "cannot look for containers to resume: %s", err.msg);
        return;
    }
    _cleanup_(unlockp) pthread_mutex_t *locked = lock(a);
    for (size_t i = 0; i < n; i++) {
        _cleanup_json_ json_t *state = NULL;
        audit_ctr *c = NULL;
        mpp_error_clear(&err);
        int r = pu_state_read(a->state_dir, ids[i], &state, &err);
        if (r >= 0)
            r = new_ctr(a, ids[i], &c, &err);
        size_t k;
        json_t *m;
        json_array_foreach(json_object_get(state, "Mounts"), k, m)
        {
            const char *src = json_string_value(json_object_get(m, "Source"));
            const char *dst = json_string_value(json_object_get(m, "Destination"));
            if (r < 0)
                break;
            if (!src || !dst || !pu_path_is_safe(src))
                r = mpp_error_set(&err, -EINVAL, "%s/%s.json: Mounts[%zu]: bad entry", a->state_dir,
                                  ids[i], k);
            else
                r = add_watch(a, c, src, dst, &err);
        }
        if (r < 0) {
            pu_log("warning", "container %s: cannot resume its audit: %s", ids[i], err.msg);
            audit_ctr_free(a, c);
            continue;
        }
        c->next = a->ctrs;
        a->ctrs = c;
        audit_log_record(a, c,
                         json_pack("{s:s, s:s}", "op", "resumed", "note",
                                   "mpp-plugin-audit was restarted: operations made while it "
                                   "was not running are not recorded"));
        pu_log("info", "container %s: audit resumed", ids[i]);
    }
    audit_log_flush(a);
    pu_strv_free(ids, n);
}
