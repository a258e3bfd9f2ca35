/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The per-container journal: JSON lines in order, and their replay into the attached stacks. */
#include <dirent.h>
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

#include "codec-json.h"
#include "journal.h"
#include "macro.h"

#define JOURNAL_MAX_BYTES (64u * 1024u * 1024u)

struct mpp_journal {
    int fd;
    int dir_fd;
    char *dir;
    char *path;
};

int mpp_container_state_path(const char *state_dir, const char *id, const char *leaf, char *buf,
                             size_t size)
{
    int n = leaf ? snprintf(buf, size, "%s/containers/%s/%s", state_dir, id, leaf)
                 : snprintf(buf, size, "%s/containers/%s", state_dir, id);
    return (n < 0 || (size_t)n >= size) ? -ENAMETOOLONG : n;
}

bool mpp_container_has_state(const char *state_dir, const char *id)
{
    char path[PATH_MAX];
    return mpp_container_id_valid(id) &&
           mpp_container_state_path(state_dir, id, "journal", path, sizeof(path)) > 0 &&
           access(path, F_OK) == 0;
}

bool mpp_container_id_valid(const char *id)
{
    if (!id || !*id || strlen(id) > 1024 || strcmp(id, ".") == 0 || strcmp(id, "..") == 0)
        return false;
    for (const char *p = id; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '.' || *p == '-'))
            return false;
    return true;
}

int mpp_state_ids(const char *state_dir, const char *sub,
                  bool (*keep)(const char *state_dir, const char *id), char ***ids, size_t *n,
                  mpp_error *err)
{
    *ids = NULL;
    *n = 0;
    char dir[PATH_MAX];
    if (snprintf(dir, sizeof(dir), "%s/%s", state_dir, sub) >= (int)sizeof(dir))
        return mpp_error_set(err, -ENAMETOOLONG, "state directory path too long");
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : mpp_error_set(err, -errno, "cannot read %s: %m", dir);
    char **v = NULL;
    size_t count = 0;
    struct dirent *e;
    int r = 0;
    while ((e = readdir(d))) {
        if (!mpp_container_id_valid(e->d_name) || (keep && !keep(state_dir, e->d_name)))
            continue;
        char **nv = realloc(v, (count + 1) * sizeof(*nv));
        if (!nv || !(nv[count] = strdup(e->d_name))) {
            v = nv ? nv : v;
            r = mpp_error_set(err, -ENOMEM, "out of memory");
            break;
        }
        v = nv;
        count++;
    }
    closedir(d);
    if (r < 0) {
        mpp_strv_free(v, count);
        return r;
    }
    *ids = v;
    *n = count;
    return 0;
}

int mpp_state_dir_ensure(const char *path, mpp_error *err)
{
    if (!path || path[0] != '/')
        return mpp_error_set(err, -EINVAL, "state directory \"%s\" is not an absolute path",
                             strempty(path));
    char buf[PATH_MAX];
    if (strlen(path) >= sizeof(buf))
        return mpp_error_set(err, -ENAMETOOLONG, "state directory path too long");
    strcpy(buf, path);
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char saved = *p;
            *p = '\0';
            if (mkdir(buf, 0700) < 0 && errno != EEXIST)
                return mpp_error_set(err, -errno, "cannot create state directory %s: %m", buf);
            *p = saved;
            if (saved == '\0')
                break;
        }
    }
    struct stat st;
    if (lstat(path, &st) < 0)
        return mpp_error_set(err, -errno, "cannot stat state directory %s: %m", path);
    if (!S_ISDIR(st.st_mode))
        return mpp_error_set(err, -ENOTDIR, "state directory %s is not a directory", path);
    if (st.st_uid != geteuid() || (st.st_mode & 077))
        return mpp_error_set(err, -EPERM,
                             "state directory %s must be owned by uid %u with mode 0700 "
                             "(it is uid %u, mode %04o)",
                             path, (unsigned)geteuid(), (unsigned)st.st_uid,
                             (unsigned)(st.st_mode & 07777));
    return 0;
}

static bool trusted_owner(uid_t uid)
{
    return uid == 0 || uid == geteuid();
}

/* One directory on the way to the state directory: a directory of root's (or ours) that no one
 * else can write to. An ancestor may be sticky (/tmp): there others can add entries but not
 * rename or remove root's. The state directory itself may not: its entries are mpp's alone. */
static int check_state_component(int fd, const char *path, const char *name, bool last,
                                 mpp_error *err)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return mpp_error_set(err, -errno, "state directory %s: cannot check %s: %m", path, name);
    const char *role = last ? "the state directory" : "its ancestor";
    if (S_ISLNK(st.st_mode))
        return mpp_error_set(err, -ELOOP,
                             "state directory %s: %s %s is a symbolic link (uid %u): name the "
                             "directory it points to",
                             path, role, name, (unsigned)st.st_uid);
    if (!S_ISDIR(st.st_mode))
        return mpp_error_set(err, -ENOTDIR, "state directory %s: %s %s is not a directory", path,
                             role, name);
    bool writable = st.st_mode & (S_IWGRP | S_IWOTH);
    if (!trusted_owner(st.st_uid) || (writable && (last || !(st.st_mode & S_ISVTX))))
        return mpp_error_set(err, -EPERM,
                             "state directory %s: %s %s is owned by uid %u with mode %04o: every "
                             "directory up to the state directory must be owned by root and "
                             "writable by no one else (an ancestor may be sticky, like /tmp), "
                             "or another user could swap what mpp keeps there",
                             path, role, name, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
    return 0;
}

int mpp_state_dir_check(const char *path, mpp_error *err)
{
    if (!path || path[0] != '/')
        return mpp_error_set(err, -EINVAL, "state directory \"%s\" is not an absolute path",
                             strempty(path));
    char walked[PATH_MAX];
    if (strlen(path) >= sizeof(walked))
        return mpp_error_set(err, -ENAMETOOLONG, "state directory %s: path too long", path);

    /* Walked from / one component at a time through descriptors, links not followed: each
     * directory checked is the one the next name is looked up in. */
    _cleanup_close_ int fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return mpp_error_set(err, -errno, "state directory %s: cannot open /: %m", path);
    strcpy(walked, "/");
    const char *p = path;
    while (*p == '/')
        p++;
    int r = check_state_component(fd, path, "/", *p == '\0', err);
    if (r < 0)
        return r;
    while (*p) {
        const char *end = strchrnul(p, '/');
        size_t len = (size_t)(end - p);
        char name[NAME_MAX + 1];
        if (len > NAME_MAX)
            return mpp_error_set(err, -ENAMETOOLONG, "state directory %s: a name is too long",
                                 path);
        memcpy(name, p, len);
        name[len] = '\0';
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
            return mpp_error_set(
                err, -EINVAL, "state directory %s: \".\" and \"..\" are not allowed in it", path);
        size_t wl = strlen(walked);
        snprintf(walked + wl, sizeof(walked) - wl, "%s%s", wl > 1 ? "/" : "", name);
        while (*end == '/')
            end++;
        bool last = *end == '\0';

        int next = openat(fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (next < 0) {
            /* What does not exist yet is created by mpp (0700) in a directory checked here. */
            if (errno == ENOENT)
                return 0;
            return mpp_error_set(err, -errno, "state directory %s: cannot open %s: %m", path,
                                 walked);
        }
        close(fd);
        fd = next;
        r = check_state_component(fd, path, walked, last, err);
        if (r < 0)
            return r;
        p = end;
    }
    return 0;
}

static void journal_free(mpp_journal *j)
{
    if (!j)
        return;
    if (j->fd >= 0)
        close(j->fd);
    if (j->dir_fd >= 0)
        close(j->dir_fd);
    free(j->dir);
    free(j->path);
    free(j);
}

void mpp_journal_close(mpp_journal *j)
{
    journal_free(j); /* closing the fd releases the flock */
}

DEFINE_TRIVIAL_CLEANUP_FUNC(mpp_journal *, mpp_journal_close)

const char *mpp_journal_path(const mpp_journal *j)
{
    return j->path;
}

static int journal_alloc(const char *state_dir, const char *id, mpp_journal **out, mpp_error *err)
{
    if (!mpp_container_id_valid(id))
        return mpp_error_set(err, -EINVAL,
                             "invalid container ID \"%.64s\": expected 1 to 1024 of "
                             "[A-Za-z0-9_.-]",
                             strempty(id));
    mpp_journal *j = calloc(1, sizeof(*j));
    if (!j)
        return mpp_error_set(err, -ENOMEM, "out of memory");
    j->fd = j->dir_fd = -1;
    if (asprintf(&j->dir, "%s/containers/%s", state_dir, id) < 0 ||
        asprintf(&j->path, "%s/containers/%s/journal", state_dir, id) < 0) {
        j->dir = j->path = NULL;
        journal_free(j);
        return mpp_error_set(err, -ENOMEM, "out of memory");
    }
    *out = j;
    return 0;
}

int mpp_journal_create(const char *state_dir, const char *id, mpp_journal **out, mpp_error *err)
{
    _cleanup_(mpp_journal_closep) mpp_journal *j = NULL;
    int r = journal_alloc(state_dir, id, &j, err);
    if (r < 0)
        return r;
    char containers[PATH_MAX];
    if (snprintf(containers, sizeof(containers), "%s/containers", state_dir) >=
        (int)sizeof(containers))
        return mpp_error_set(err, -ENAMETOOLONG, "state directory path too long");
    r = mpp_state_dir_ensure(containers, err);
    if (r < 0)
        return r;
    if (mkdir(j->dir, 0700) < 0) {
        if (errno == EEXIST)
            return mpp_error_set(err, -EEXIST,
                                 "container %s already has mount point plugin state in %s "
                                 "(an earlier teardown did not finish: run `mppctl recover %s`)",
                                 id, j->dir, id);
        return mpp_error_set(err, -errno, "cannot create %s: %m", j->dir);
    }
    j->fd = open(j->path, O_RDWR | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (j->fd < 0) {
        r = mpp_error_set(err, -errno, "cannot create journal %s: %m", j->path);
        rmdir(j->dir);
        return r;
    }
    if (flock(j->fd, LOCK_EX) < 0)
        return mpp_error_set(err, -errno, "cannot lock journal %s: %m", j->path);
    *out = TAKE_PTR(j);
    return 0;
}

/* Drop a torn last line (a write cut short, or a tail of zeroes: whatever has no newline after
 * it) so that appends start on a clean line. */
static int journal_trim(mpp_journal *j, mpp_error *err)
{
    struct stat st;
    if (fstat(j->fd, &st) < 0)
        return mpp_error_set(err, -errno, "cannot stat journal %s: %m", j->path);
    if (st.st_size == 0)
        return 0;
    if ((unsigned long long)st.st_size > JOURNAL_MAX_BYTES)
        return mpp_error_set(err, -EFBIG, "journal %s is larger than %u bytes", j->path,
                             JOURNAL_MAX_BYTES);
    off_t end = st.st_size;
    char c;
    while (end > 0) {
        if (pread(j->fd, &c, 1, end - 1) != 1)
            return mpp_error_set(err, -EIO, "cannot read journal %s: %m", j->path);
        if (c == '\n')
            break;
        end--;
    }
    if (end != st.st_size && ftruncate(j->fd, end) < 0)
        return mpp_error_set(err, -errno, "cannot trim torn record in journal %s: %m", j->path);
    return 0;
}

int mpp_journal_open(const char *state_dir, const char *id, mpp_journal **out, mpp_error *err)
{
    _cleanup_(mpp_journal_closep) mpp_journal *j = NULL;
    int r = journal_alloc(state_dir, id, &j, err);
    if (r < 0)
        return r;
    j->fd = open(j->path, O_RDWR | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
    if (j->fd < 0) {
        if (errno == ENOENT)
            return mpp_error_set(err, -ENOENT, "container %s has no mount point plugin state", id);
        return mpp_error_set(err, -errno, "cannot open journal %s: %m", j->path);
    }
    if (flock(j->fd, LOCK_EX) < 0)
        return mpp_error_set(err, -errno, "cannot lock journal %s: %m", j->path);
    /* Another process may have finished the teardown and removed it while we waited. */
    struct stat st;
    if (fstat(j->fd, &st) < 0)
        return mpp_error_set(err, -errno, "cannot stat journal %s: %m", j->path);
    if (st.st_nlink == 0)
        return mpp_error_set(err, -ENOENT, "container %s has no mount point plugin state", id);
    if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077))
        return mpp_error_set(err, -EPERM, "journal %s must be a private regular file", j->path);
    r = journal_trim(j, err);
    if (r < 0)
        return r;
    *out = TAKE_PTR(j);
    return 0;
}

int mpp_journal_open_readonly(const char *state_dir, const char *id, mpp_journal **out, bool *busy,
                              mpp_error *err)
{
    _cleanup_(mpp_journal_closep) mpp_journal *j = NULL;
    int r = journal_alloc(state_dir, id, &j, err);
    if (r < 0)
        return r;
    j->fd = open(j->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (j->fd < 0) {
        if (errno == ENOENT)
            return mpp_error_set(err, -ENOENT, "container %s has no mount point plugin state", id);
        return mpp_error_set(err, -errno, "cannot open journal %s: %m", j->path);
    }
    struct stat st;
    if (fstat(j->fd, &st) < 0)
        return mpp_error_set(err, -errno, "cannot stat journal %s: %m", j->path);
    if (st.st_nlink == 0)
        return mpp_error_set(err, -ENOENT, "container %s has no mount point plugin state", id);
    if (!S_ISREG(st.st_mode))
        return mpp_error_set(err, -EPERM, "journal %s is not a regular file", j->path);
    /* Probe only: a shared lock held while reading would make a teardown wait for us. */
    if (busy) {
        *busy = flock(j->fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK;
        if (!*busy)
            flock(j->fd, LOCK_UN);
    }
    *out = TAKE_PTR(j);
    return 0;
}

int mpp_journal_append(mpp_journal *j, const char *record, mpp_error *err)
{
    size_t len = strlen(record);
    _cleanup_free_ char *line = malloc(len + 2);
    if (!line)
        return mpp_error_set(err, -ENOMEM, "out of memory");
    memcpy(line, record, len);
    line[len] = '\n';
    size_t done = 0;
    while (done < len + 1) {
        ssize_t w = write(j->fd, line + done, len + 1 - done);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return mpp_error_set(err, -errno, "cannot write journal %s: %m", j->path);
        }
        done += (size_t)w;
    }
    return 0;
}

void mpp_strv_free(char **v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

int mpp_journal_lines(mpp_journal *j, char ***lines, size_t *n, mpp_error *err)
{
    *lines = NULL;
    *n = 0;
    struct stat st;
    if (fstat(j->fd, &st) < 0)
        return mpp_error_set(err, -errno, "cannot stat journal %s: %m", j->path);
    if ((unsigned long long)st.st_size > JOURNAL_MAX_BYTES)
        return mpp_error_set(err, -EFBIG, "journal %s is too large", j->path);
    size_t size = (size_t)st.st_size;
    _cleanup_free_ char *buf = malloc(size + 1);
    if (!buf)
        return mpp_error_set(err, -ENOMEM, "out of memory");
    size_t got = 0;
    while (got < size) {
        ssize_t r = pread(j->fd, buf + got, size - got, (off_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return mpp_error_set(err, r < 0 ? -errno : -EIO, "cannot read journal %s", j->path);
        got += (size_t)r;
    }
    buf[size] = '\0';

    char **v = NULL;
    size_t count = 0;
    char *p = buf;
    for (;;) {
        char *nl = memchr(p, '\n', (size_t)(buf + size - p));
        if (!nl)
            break; /* a torn tail is not a record */
        *nl = '\0';
        if (nl > p) {
            char **nv = realloc(v, (count + 1) * sizeof(*nv));
            char *s = nv ? strdup(p) : NULL;
            if (!nv || !s) {
                free(s);
                mpp_strv_free(nv ? nv : v, count);
                return mpp_error_set(err, -ENOMEM, "out of memory");
            }
            v = nv;
            v[count++] = s;
        }
        p = nl + 1;
    }
    *lines = v;
    *n = count;
    return 0;
}

int mpp_journal_remove(mpp_journal *j, mpp_error *err)
{
    if (unlink(j->path) < 0 && errno != ENOENT)
        return mpp_error_set(err, -errno, "cannot remove journal %s: %m", j->path);
    if (rmdir(j->dir) < 0 && errno != ENOENT)
        return mpp_error_set(err, -errno, "cannot remove state directory %s: %m", j->dir);
    return 0;
}

/* Replay. */

static void jplugin_clear(mpp_jplugin *p)
{
    free(p->name);
    free(p->state_dir);
    for (size_t i = 0; i < p->n_entries; i++) {
        mpp_changes_clear(&p->entries[i].changes);
        for (size_t k = 0; k < p->entries[i].n_emergency; k++)
            free(p->entries[i].emergency[k].arg);
        free(p->entries[i].emergency);
    }
    free(p->entries);
    mpp_mounts_free(p->sent, p->n_sent);
    free(p->sent_index);
    memset(p, 0, sizeof(*p));
}

void mpp_jstate_clear(mpp_jstate *st)
{
    if (!st)
        return;
    free(st->id);
    for (size_t i = 0; i < st->n_plugins; i++)
        jplugin_clear(&st->plugins[i]);
    free(st->plugins);
    mpp_strv_free(st->errors, st->n_errors);
    mpp_strv_free(st->warnings, st->n_warnings);
    memset(st, 0, sizeof(*st));
}

static mpp_jplugin *jstate_find(mpp_jstate *st, unsigned clock)
{
    for (size_t i = 0; i < st->n_plugins; i++)
        if (st->plugins[i].clock == clock)
            return &st->plugins[i];
    return NULL;
}

static int strv_push(char ***v, size_t *n, const char *s)
{
    char **nv = realloc(*v, (*n + 1) * sizeof(*nv));
    if (!nv)
        return -ENOMEM;
    *v = nv;
    nv[*n] = strdup(s ? s : "");
    if (!nv[*n])
        return -ENOMEM;
    (*n)++;
    return 0;
}

static int replay_attach(mpp_jstate *st, json_t *rec, unsigned clock, const char *where,
                         mpp_error *err)
{
    const char *name = json_string_value(json_object_get(rec, "plugin"));
    json_t *idx = json_object_get(rec, "mounts");
    json_t *sent = json_object_get(rec, "sent");
    if (!name || !json_is_array(idx) || !json_is_array(sent) ||
        json_array_size(idx) != json_array_size(sent))
        return mpp_error_set(err, -EBADMSG, "%s: malformed attach record", where);
    if (jstate_find(st, clock))
        return mpp_error_set(err, -EBADMSG, "%s: clock %u recorded twice", where, clock);
    mpp_jplugin *np = realloc(st->plugins, (st->n_plugins + 1) * sizeof(*np));
    if (!np)
        return mpp_error_set(err, -ENOMEM, "out of memory");
    st->plugins = np;
    mpp_jplugin *p = &st->plugins[st->n_plugins++];
    memset(p, 0, sizeof(*p));
    p->clock = clock;
    p->state = MPP_JP_SENT;
    p->name = strdup(name);
    size_t n = json_array_size(idx);
    p->sent = calloc(n ? n : 1, sizeof(*p->sent));
    p->sent_index = calloc(n ? n : 1, sizeof(*p->sent_index));
    if (!p->name || !p->sent || !p->sent_index)
        return mpp_error_set(err, -ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(idx, i);
        if (!json_is_integer(v) || json_integer_value(v) < 0 ||
            (size_t)json_integer_value(v) >= st->n_mounts)
            return mpp_error_set(err, -EBADMSG, "%s: mount index out of range", where);
        p->sent_index[i] = (size_t)json_integer_value(v);
        int r = mpp_mount_from_json(json_array_get(sent, i), where, &p->sent[i], err);
        if (r < 0)
            return r;
        p->n_sent = i + 1;
    }
    return 0;
}

static int replay_attached(mpp_jplugin *p, json_t *rec, const char *where, mpp_error *err)
{
    json_t *entries = json_object_get(rec, "entries");
    if (!json_is_array(entries))
        return mpp_error_set(err, -EBADMSG, "%s: malformed attached record", where);
    size_t n = json_array_size(entries);
    p->state = n > 0 ? MPP_JP_ATTACHED : MPP_JP_REFUSED;
    json_t *sd = json_object_get(rec, "state_dir");
    if (sd && !json_is_string(sd))
        return mpp_error_set(err, -EBADMSG, "%s: malformed state_dir", where);
    if (sd && !(p->state_dir = strdup(json_string_value(sd))))
        return mpp_error_set(err, -ENOMEM, "out of memory");
    if (n == 0)
        return 0;
    p->entries = calloc(n, sizeof(*p->entries));
    if (!p->entries)
        return mpp_error_set(err, -ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(entries, i);
        json_t *m = json_object_get(e, "mount");
        if (!json_is_integer(m) || json_integer_value(m) < 0)
            return mpp_error_set(err, -EBADMSG, "%s: malformed attached entry", where);
        mpp_jentry *je = &p->entries[i];
        p->n_entries = i + 1;
        je->mount = (size_t)json_integer_value(m);
        int r = mpp_changes_from_json(json_object_get(e, "changes"), where, &je->changes, err);
        if (r < 0)
            return r;
        r = mpp_actions_from_json(json_object_get(e, "emergency"), where, &je->emergency,
                                  &je->n_emergency, err);
        if (r < 0)
            return r;
    }
    return 0;
}

/* An attach with no recorded answer: the plugin may hold every mount it was sent. */
static int entries_from_sent(mpp_jplugin *p, mpp_error *err)
{
    if (p->n_sent == 0)
        return 0;
    p->entries = calloc(p->n_sent, sizeof(*p->entries));
    if (!p->entries)
        return mpp_error_set(err, -ENOMEM, "out of memory");
    for (size_t i = 0; i < p->n_sent; i++)
        p->entries[i].mount = p->sent_index[i];
    p->n_entries = p->n_sent;
    return 0;
}

int mpp_jstate_load(mpp_journal *j, mpp_jstate *st, mpp_error *err)
{
    memset(st, 0, sizeof(*st));
    char **lines = NULL;
    size_t n = 0;
    int r = mpp_journal_lines(j, &lines, &n, err);
    if (r < 0)
        return r;

    for (size_t i = 0; i < n && r >= 0; i++) {
        char where[PATH_MAX + 32];
        snprintf(where, sizeof(where), "%s:%zu", j->path, i + 1);
        json_t *rec = NULL;
        r = mpp_json_parse(lines[i], strlen(lines[i]), where, &rec, err);
        if (r < 0)
            break;
        const char *op = json_string_value(json_object_get(rec, "op"));
        json_t *jc = json_object_get(rec, "clock");
        unsigned clock = json_is_integer(jc) ? (unsigned)json_integer_value(jc) : 0;
        mpp_jplugin *p = clock ? jstate_find(st, clock) : NULL;

        if (!op) {
            r = mpp_error_set(err, -EBADMSG, "%s: record without \"op\"", where);
        } else if (strcmp(op, "begin") == 0) {
            json_t *m = json_object_get(rec, "mounts");
            const char *id = json_string_value(json_object_get(rec, "id"));
            if (i != 0 || !id || !json_is_integer(m) || json_integer_value(m) < 0)
                r = mpp_error_set(err, -EBADMSG, "%s: malformed begin record", where);
            else {
                st->n_mounts = (size_t)json_integer_value(m);
                st->id = strdup(id);
                if (!st->id)
                    r = mpp_error_set(err, -ENOMEM, "out of memory");
            }
        } else if (i == 0) {
            r = mpp_error_set(err, -EBADMSG, "%s: journal does not start with begin", where);
        } else if (strcmp(op, "attach") == 0) {
            r = clock ? replay_attach(st, rec, clock, where, err)
                      : mpp_error_set(err, -EBADMSG, "%s: attach without clock", where);
        } else if (strcmp(op, "resume") == 0) {
            st->halted = false;
        } else if (!p) {
            r = mpp_error_set(err, -EBADMSG, "%s: \"%s\" for unknown clock %u", where, op, clock);
        } else if (strcmp(op, "attached") == 0) {
            r = replay_attached(p, rec, where, err);
        } else if (strcmp(op, "refused") == 0) {
            p->state = MPP_JP_REFUSED;
        } else if (strcmp(op, "unanswered") == 0) {
            /* The call failed after it may have reached the plugin: still possibly attached. */
            if (p->state != MPP_JP_SENT)
                r = mpp_error_set(err, -EBADMSG, "%s: unanswered after an answer", where);
        } else if (strcmp(op, "detach") == 0) {
            if (p->state == MPP_JP_SENT)
                r = entries_from_sent(p, err);
            p->state = MPP_JP_DETACHING;
            p->detach_was_sent = true;
        } else if (strcmp(op, "detached") == 0) {
            /* retry: it could not be reached and nothing stood in for it; still attached. */
            p->state =
                json_is_true(json_object_get(rec, "retry")) ? MPP_JP_DETACHING : MPP_JP_DETACHED;
            const char *e = json_string_value(json_object_get(rec, "error"));
            const char *w = json_string_value(json_object_get(rec, "warning"));
            if (e && strv_push(&st->errors, &st->n_errors, e) < 0)
                r = mpp_error_set(err, -ENOMEM, "out of memory");
            if (w && strv_push(&st->warnings, &st->n_warnings, w) < 0)
                r = mpp_error_set(err, -ENOMEM, "out of memory");
            if (json_is_true(json_object_get(rec, "halt")))
                st->halted = true;
        } else {
            r = mpp_error_set(err, -EBADMSG, "%s: unknown record \"%s\"", where, op);
        }
        json_decref(rec);
    }
    if (r >= 0 && n == 0)
        r = mpp_error_set(err, -EBADMSG, "%s: empty journal", j->path);
    /* Sent without an answer: possibly attached to everything it was sent. */
    for (size_t i = 0; r >= 0 && i < st->n_plugins; i++)
        if (st->plugins[i].state == MPP_JP_SENT)
            r = entries_from_sent(&st->plugins[i], err);
    mpp_strv_free(lines, n);
    if (r < 0)
        mpp_jstate_clear(st);
    return r;
}

mpp_jplugin *mpp_jstate_next_detach(mpp_jstate *st)
{
    mpp_jplugin *best = NULL;
    for (size_t i = 0; i < st->n_plugins; i++) {
        mpp_jplugin *p = &st->plugins[i];
        if (p->state != MPP_JP_SENT && p->state != MPP_JP_ATTACHED && p->state != MPP_JP_DETACHING)
            continue;
        if (!best || p->clock > best->clock)
            best = p;
    }
    return best;
}
