/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* OCI bundles: load, check, dump and atomically save config.json; write effective sources back;
 * check or create the effective sources. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include <mpp/chain.h>
#include <mpp/codec.h>
#include <mpp/gate.h>
#include <mpp/oci.h>
#include <mpp/pattern.h>

#include "adapter.h"
#include "journal.h"
#include "codec-json.h"
#include "macro.h"
#include "pin-internal.h"

struct mpp_bundle {
    json_t *root;
    char *dir;    /* NULL for a parsed bundle */
    char *path;   /* dir/config.json, or NULL */
    char *origin; /* names the document in messages */
};

void mpp_bundle_free(mpp_bundle *b)
{
    if (!b)
        return;
    json_decref(b->root);
    free(b->dir);
    free(b->path);
    free(b->origin);
    free(b);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(mpp_bundle *, mpp_bundle_free)

/* Keys as runc reads them. Go's encoding/json matches an object key to a struct field ignoring
 * case, by Unicode simple case folding, and when several keys match one field the last wins;
 * crun and jansson read exact keys. So {"Source": "/etc"} or a "source" after another is mounted
 * by runc and never seen by a plugin. Of the simple folds (Go's unicode.SimpleFold orbits), only
 * two reach an ASCII letter: U+017F LATIN SMALL LETTER LONG S (s) and U+212A KELVIN SIGN (k);
 * U+0130 and U+0131 (Turkish dotted/dotless i) fold to nothing in Go. Every OCI field name is
 * ASCII, so folding ASCII case and those two is all that can make a key reach a field. */
static char *go_fold(const char *key)
{
    size_t len = strlen(key);
    char *out = malloc(len + 1), *o = out;
    if (!out)
        return NULL;
    for (const unsigned char *p = (const unsigned char *)key; *p;) {
        if (p[0] == 0xc5 && p[1] == 0xbf) { /* ſ */
            *o++ = 's';
            p += 2;
        } else if (p[0] == 0xe2 && p[1] == 0x84 && p[2] == 0xaa) { /* K */
            *o++ = 'k';
            p += 3;
        } else {
            *o++ = (char)(*p >= 'A' && *p <= 'Z' ? *p + ('a' - 'A') : *p);
            p++;
        }
    }
    *o = '\0';
    return out;
}

/* The objects of the OCI runtime spec whose fields mpp or a runtime reads, and the free-form
 * maps (Go map[string]string: exact keys, where case differences are distinct keys). */
typedef struct schema schema;
typedef struct schema_child {
    const char *key;
    const schema *s;
    bool array; /* an array of such objects */
} schema_child;
struct schema {
    const char *const *keys; /* NULL: any key (still no two that fold together) */
    const schema_child *children;
    bool free_form;
};

static const schema free_form = {.free_form = true};
static const char *const mapping_keys[] = {"containerID", "hostID", "size", NULL};
static const schema mapping = {.keys = mapping_keys};
static const char *const mount_keys[] = {"destination", "type",        "source", "options",
                                         "uidMappings", "gidMappings", NULL};
static const schema_child mount_children[] = {
    {"uidMappings", &mapping, true}, {"gidMappings", &mapping, true}, {NULL, NULL, false}};
static const schema mount = {.keys = mount_keys, .children = mount_children};
static const char *const root_keys[] = {"path", "readonly", NULL};
static const schema root_s = {.keys = root_keys};
static const char *const user_keys[] = {"uid", "gid", "umask", "additionalGids", "username", NULL};
static const schema user_s = {.keys = user_keys};
static const char *const caps_keys[] = {"bounding",  "effective", "inheritable",
                                        "permitted", "ambient",   NULL};
static const schema caps_s = {.keys = caps_keys};
static const char *const rlimit_keys[] = {"type", "hard", "soft", NULL};
static const schema rlimit_s = {.keys = rlimit_keys};
static const char *const process_keys[] = {"terminal",
                                           "consoleSize",
                                           "user",
                                           "args",
                                           "commandLine",
                                           "env",
                                           "cwd",
                                           "capabilities",
                                           "rlimits",
                                           "noNewPrivileges",
                                           "apparmorProfile",
                                           "oomScoreAdj",
                                           "selinuxLabel",
                                           "ioPriority",
                                           "scheduler",
                                           "execCPUAffinity",
                                           NULL};
static const schema_child process_children[] = {{"user", &user_s, false},
                                                {"capabilities", &caps_s, false},
                                                {"rlimits", &rlimit_s, true},
                                                {NULL, NULL, false}};
static const schema process_s = {.keys = process_keys, .children = process_children};
static const char *const hook_keys[] = {"path", "args", "env", "timeout", NULL};
static const schema hook_s = {.keys = hook_keys};
static const char *const hooks_keys[] = {
    "prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop",
    NULL};
static const schema_child hooks_children[] = {{"prestart", &hook_s, true},
                                              {"createRuntime", &hook_s, true},
                                              {"createContainer", &hook_s, true},
                                              {"startContainer", &hook_s, true},
                                              {"poststart", &hook_s, true},
                                              {"poststop", &hook_s, true},
                                              {NULL, NULL, false}};
static const schema hooks_s = {.keys = hooks_keys, .children = hooks_children};
static const char *const namespace_keys[] = {"type", "path", NULL};
static const schema namespace_s = {.keys = namespace_keys};
static const char *const device_keys[] = {"type",     "path", "major", "minor",
                                          "fileMode", "uid",  "gid",   NULL};
static const schema device_s = {.keys = device_keys};
static const schema_child resources_children[] = {{"unified", &free_form, false},
                                                  {NULL, NULL, false}};
static const schema resources_s = {.children = resources_children};
static const char *const linux_keys[] = {
    "namespaces", "uidMappings",       "gidMappings", "timeOffsets", "devices",     "cgroupsPath",
    "resources",  "rootfsPropagation", "seccomp",     "sysctl",      "maskedPaths", "readonlyPaths",
    "mountLabel", "intelRdt",          "personality", NULL};
static const schema_child linux_children[] = {{"namespaces", &namespace_s, true},
                                              {"uidMappings", &mapping, true},
                                              {"gidMappings", &mapping, true},
                                              {"devices", &device_s, true},
                                              {"resources", &resources_s, false},
                                              {"sysctl", &free_form, false},
                                              {NULL, NULL, false}};
static const schema linux_s = {.keys = linux_keys, .children = linux_children};
static const char *const top_keys[] = {
    "ociVersion",  "process", "root",    "hostname", "domainname", "mounts", "hooks",
    "annotations", "linux",   "solaris", "windows",  "vm",         "zos",    NULL};
static const schema_child top_children[] = {{"process", &process_s, false},
                                            {"root", &root_s, false},
                                            {"mounts", &mount, true},
                                            {"hooks", &hooks_s, false},
                                            {"annotations", &free_form, false},
                                            {"linux", &linux_s, false},
                                            {NULL, NULL, false}};
static const schema top = {.keys = top_keys, .children = top_children};

typedef struct folded_key {
    const char *key;
    char *fold;
} folded_key;

static int folded_cmp(const void *a, const void *b)
{
    const folded_key *x = a, *y = b;
    int c = strcmp(x->fold, y->fold);
    return c ? c : strcmp(x->key, y->key);
}

typedef struct folded_keys {
    folded_key *v;
    size_t n;
} folded_keys;

static void folded_keys_done(folded_keys *f)
{
    for (size_t i = 0; i < f->n; i++)
        free(f->v[i].fold);
    free(f->v);
}

static int check_keys(const json_t *obj, const schema *s, const char *origin, const char *where,
                      mpp_error *err)
{
    size_t n = json_object_size(obj);
    if (n == 0 || s->free_form)
        return 0; /* exact duplicates were refused when parsing */
    _cleanup_(folded_keys_done) folded_keys f = {.v = calloc(n, sizeof(folded_key))};
    if (!f.v)
        return mpp_error_set(err, -ENOMEM, "out of memory");
    const char *k;
    json_t *val;
    json_object_foreach((json_t *)obj, k, val)
    {
        f.v[f.n].key = k;
        if (!(f.v[f.n++].fold = go_fold(k)))
            return mpp_error_set(err, -ENOMEM, "out of memory");
    }
    const char *sep = *where ? ": " : "";
    for (size_t i = 0; s->keys && i < n; i++)
        for (const char *const *known = s->keys; *known; known++) {
            if (strcmp(f.v[i].key, *known) == 0)
                break;
            _cleanup_free_ char *kf = go_fold(*known);
            if (!kf)
                return mpp_error_set(err, -ENOMEM, "out of memory");
            if (strcmp(kf, f.v[i].fold) == 0)
                return mpp_error_set(err, -EBADMSG,
                                     "%s: %s%skey \"%s\" is not \"%s\" (runc would read it as "
                                     "\"%s\")",
                                     origin, where, sep, f.v[i].key, *known, *known);
        }
    qsort(f.v, n, sizeof(*f.v), folded_cmp);
    for (size_t i = 1; i < n; i++)
        if (strcmp(f.v[i - 1].fold, f.v[i].fold) == 0)
            return mpp_error_set(err, -EBADMSG,
                                 "%s: %s%skeys \"%s\" and \"%s\" are one key to runc (it ignores "
                                 "case)",
                                 origin, where, sep, f.v[i - 1].key, f.v[i].key);
    return 0;
}

/* Every object of the document, with where it is ("mounts[2]", "process.user"). */
static int check_folds(const json_t *j, const schema *s, const char *origin, char *where,
                       size_t size, mpp_error *err)
{
    size_t len = strlen(where);
    if (json_is_array(j)) {
        size_t i;
        json_t *e;
        json_array_foreach(j, i, e)
        {
            snprintf(where + len, size - len, "[%zu]", i);
            int r = check_folds(e, s, origin, where, size, err);
            where[len] = '\0';
            if (r < 0)
                return r;
        }
        return 0;
    }
    if (!json_is_object(j))
        return 0;
    static const schema any = {0};
    if (!s)
        s = &any;
    int r = check_keys(j, s, origin, where, err);
    if (r < 0)
        return r;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)j, k, v)
    {
        const schema_child *c = s->children;
        while (c && c->key && strcmp(c->key, k) != 0)
            c++;
        const schema *cs = c && c->key ? c->s : s->free_form ? &free_form : NULL;
        /* An array of objects is checked element by element with the element's schema. */
        if (c && c->key && !c->array && json_is_array(v))
            cs = NULL;
        snprintf(where + len, size - len, "%s%s", len ? "." : "", k);
        r = check_folds(v, cs, origin, where, size, err);
        where[len] = '\0';
        if (r < 0)
            return r;
    }
    return 0;
}

/* Only what mpp reads is checked; the rest of the document is the real runtime's business. A
 * null "mounts" or "annotations" is accepted as absent (Go encodes a nil slice or map so). */
static int bundle_validate(const json_t *root, const char *origin, mpp_error *err)
{
    if (!json_is_object(root))
        return mpp_error_set(err, -EBADMSG, "%s: expected a JSON object at the top level, got %s",
                             origin, mpp_json_type_name(root));
    char where[512] = "";
    int r = check_folds(root, &top, origin, where, sizeof(where), err);
    if (r < 0)
        return r;

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
    int r = mpp_json_parse_unique(json, len, origin, &root, err);
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

static int json_load_fd(int fd, const char *path, size_t max, bool unique, json_t **out,
                        mpp_error *err)
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
    return unique ? mpp_json_parse_unique(buf, len, path, out, err)
                  : mpp_json_parse(buf, len, path, out, err);
}

int mpp_json_load_file(const char *path, size_t max, json_t **out, mpp_error *err)
{
    *out = NULL;
    _cleanup_close_ int fd = open_json_file(path, err);
    if (fd < 0)
        return fd;
    return json_load_fd(fd, path, max, false, out, err);
}

/* The document at path, of the bundle directory dir (which need not hold it). */
static int bundle_load_at(const char *dir, const char *path, mpp_bundle **out, mpp_error *err)
{
    json_t *root = NULL;
    _cleanup_close_ int fd = open_json_file(path, err);
    if (fd < 0)
        return fd;
    int r = json_load_fd(fd, path, MPP_CODEC_MAX_INPUT, true, &root, err);
    if (r < 0)
        return r;
    r = bundle_validate(root, path, err);
    if (r < 0) {
        json_decref(root);
        return r;
    }
    return bundle_new(root, path, dir, path, out, err);
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

int mpp_bundle_load_file(const char *bundle_dir, const char *path, mpp_bundle **out, mpp_error *err)
{
    *out = NULL;
    if (isempty(bundle_dir))
        return mpp_error_set(err, -EINVAL, "no bundle directory given");
    if (isempty(path))
        return mpp_error_set(err, -EINVAL, "bundle %s: no config file given", bundle_dir);
    return bundle_load_at(bundle_dir, path, out, err);
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

    /* Beside the file it replaces (a --config file need not be in the bundle directory). */
    const char *slash = strrchr(b->path, '/');
    int dir_len = slash ? (int)(slash - b->path) : 1;
    const char *dir = slash ? b->path : ".";
    _cleanup_(tmpfile_guard_done) tmpfile_guard tmp = {0};
    if (asprintf(&tmp.path, "%.*s/.config.json.mpp-XXXXXX", dir_len, dir) < 0) {
        tmp.path = NULL;
        return mpp_error_set(err, -ENOMEM, "out of memory");
    }
    _cleanup_close_ int fd = mkostemp(tmp.path, O_CLOEXEC);
    if (fd < 0) {
        r = mpp_error_set(err, -errno, "cannot create a temporary file %s: %m", tmp.path);
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
    /* Not synced: a power loss ends the container, and engines write the bundle anew. */
    if (rename(tmp.path, b->path) < 0)
        return mpp_error_set(err, -errno, "cannot rename %s to %s: %m", tmp.path, b->path);
    free(tmp.path);
    tmp.path = NULL;
    return 0;
}

static int copies_dir(const char *state_dir, const char *id, char *buf, size_t size)
{
    if (!mpp_container_id_valid(id))
        return -EINVAL;
    int n = snprintf(buf, size, "%s/bundles/%s", state_dir, id);
    return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* A directory of ours that no one else can enter. */
static int private_dir(const char *dir, mpp_error *err)
{
    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
        return mpp_error_set(err, -errno, "cannot create %s: %m", dir);
    struct stat st;
    if (lstat(dir, &st) < 0)
        return mpp_error_set(err, -errno, "cannot check %s: %m", dir);
    if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 0077))
        return mpp_error_set(err, -EPERM,
                             "%s must be a directory of ours that no one else can enter "
                             "(mode 0700)",
                             dir);
    return 0;
}

int mpp_bundle_copy_make(const char *state_dir, const char *id, char *dir, size_t size,
                         mpp_error *err)
{
    char bundles[PATH_MAX], per_id[PATH_MAX];
    int r = copies_dir(state_dir, id, per_id, sizeof(per_id));
    if (r < 0 || snprintf(dir, size, "%s/XXXXXX", per_id) >= (int)size)
        return mpp_error_set(err, r < 0 ? r : -ENAMETOOLONG,
                             "container %s: no place for the runtime's bundle under %s",
                             strempty(id), state_dir);
    snprintf(bundles, sizeof(bundles), "%s/bundles", state_dir);
    r = mpp_state_dir_ensure(bundles, err);
    if (r < 0)
        return r;
    r = private_dir(per_id, err);
    if (r < 0)
        return r;
    /* One per create: two creates of one ID (one of which the runtime refuses) never share. */
    if (!mkdtemp(dir))
        return mpp_error_set(err, -errno, "cannot create a directory in %s: %m", per_id);
    return 0;
}

/* The bundle directory as an absolute path (as the runtime would have made it). */
static int absolute_dir(const mpp_bundle *b, char **out, mpp_error *err)
{
    char cwd[PATH_MAX];
    if (b->dir[0] != '/' && !getcwd(cwd, sizeof(cwd)))
        return mpp_error_set(err, -errno, "cannot get the working directory: %m");
    if (asprintf(out, "%s%s%s", b->dir[0] == '/' ? "" : cwd, b->dir[0] == '/' ? "" : "/", b->dir) <
        0) {
        *out = NULL;
        return mpp_error_set(err, -ENOMEM, "out of memory");
    }
    return 0;
}

/* A relative root.path is relative to the bundle: the copy lives elsewhere, so it names the
 * bundle's root file system by its absolute path. */
static int absolute_root(mpp_bundle *b, const char *dir, mpp_error *err)
{
    json_t *root = json_object_get(b->root, "root");
    const char *path = json_string_value(json_object_get(root, "path"));
    if (!path || path[0] == '/')
        return 0;
    _cleanup_free_ char *abs = NULL;
    if (asprintf(&abs, "%s/%s", dir, path) < 0)
        return mpp_error_set(err, -ENOMEM, "out of memory");
    if (json_object_set_new(root, "path", json_string(abs)) < 0)
        return mpp_error_set(err, -ENOMEM, "out of memory");
    return 0;
}

/* dir/name, whole or not at all. */
static int write_at(int dfd, const char *dir, const char *name, const char *text, mpp_error *err)
{
    char tmp[64];
    snprintf(tmp, sizeof(tmp), "%s.%d", name, (int)getpid());
    unlinkat(dfd, tmp, 0);
    _cleanup_close_ int fd =
        openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return mpp_error_set(err, -errno, "cannot create %s/%s: %m", dir, tmp);
    int r = write_all(fd, text, strlen(text));
    if (r < 0 || renameat(dfd, tmp, dfd, name) < 0) {
        int e = r < 0 ? -r : errno;
        unlinkat(dfd, tmp, 0);
        return mpp_error_set(err, -e, "cannot write %s/%s: %s", dir, name, strerror(e));
    }
    return 0;
}

int mpp_bundle_save_copy(mpp_bundle *b, const char *dir, mpp_error *err)
{
    _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (dfd < 0 || fstat(dfd, &st) < 0)
        return mpp_error_set(err, -errno, "cannot open %s: %m", dir);
    if (st.st_uid != geteuid() || (st.st_mode & 0077))
        return mpp_error_set(err, -EPERM,
                             "%s must be a directory of ours that no one else can enter "
                             "(mode 0700)",
                             dir);
    _cleanup_free_ char *bundle_dir = NULL;
    _cleanup_free_ char *text = NULL;
    if (!b->dir)
        return mpp_error_set(err, -EINVAL, "%s was not loaded from a bundle directory", b->origin);
    int r = absolute_dir(b, &bundle_dir, err);
    if (r >= 0)
        r = absolute_root(b, bundle_dir, err);
    if (r >= 0)
        r = mpp_bundle_dump(b, &text, err);
    /* Written whole, then renamed into place: a runtime never reads half of it. "origin" names
     * the engine's bundle, for mppctl explain. */
    if (r >= 0)
        r = write_at(dfd, dir, "origin", bundle_dir, err);
    if (r >= 0)
        r = write_at(dfd, dir, "config.json", text, err);
    return r;
}

int mpp_bundle_copy_origin(const char *state_dir, const char *dir, char **origin)
{
    *origin = NULL;
    char bundles[PATH_MAX];
    int n = snprintf(bundles, sizeof(bundles), "%s/bundles/", state_dir);
    if (n < 0 || (size_t)n >= sizeof(bundles) || strncmp(dir, bundles, (size_t)n) != 0)
        return 0;
    _cleanup_free_ char *path = NULL;
    if (asprintf(&path, "%s/origin", dir) < 0)
        return -ENOMEM;
    _cleanup_close_ int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return 0;
    char buf[PATH_MAX];
    ssize_t k = read(fd, buf, sizeof(buf) - 1);
    if (k <= 0)
        return 0;
    buf[k] = '\0';
    *origin = strdup(buf);
    return *origin ? 1 : -ENOMEM;
}

static void remove_copy_at(int pfd, const char *name)
{
    _cleanup_close_ int dfd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd >= 0) {
        unlinkat(dfd, "config.json", 0);
        unlinkat(dfd, "origin", 0);
    }
    unlinkat(pfd, name, AT_REMOVEDIR);
}

void mpp_bundle_copy_remove(const char *dir)
{
    char parent[PATH_MAX];
    const char *slash = strrchr(dir, '/');
    if (!slash || snprintf(parent, sizeof(parent), "%.*s", (int)(slash - dir), dir) < 0)
        return;
    _cleanup_close_ int pfd = open(parent, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (pfd < 0)
        return;
    remove_copy_at(pfd, slash + 1);
    rmdir(parent); /* fails while another create of the same ID has one */
}

bool mpp_bundle_has_copies(const char *state_dir, const char *id)
{
    char dir[PATH_MAX];
    return copies_dir(state_dir, id, dir, sizeof(dir)) == 0 && access(dir, F_OK) == 0;
}

void mpp_bundle_copies_remove(const char *state_dir, const char *id)
{
    char dir[PATH_MAX];
    if (copies_dir(state_dir, id, dir, sizeof(dir)) < 0)
        return;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return;
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            remove_copy_at(dirfd(d), e->d_name);
    closedir(d);
    rmdir(dir);
}

int mpp_bundle_copies_list(const char *state_dir, char ***ids, size_t *n, mpp_error *err)
{
    return mpp_state_ids(state_dir, "bundles", NULL, ids, n, err);
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
    return n;
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
        /* Never through a symbolic link: see pin.h. */
        int fd = mpp_mkdir_nofollow(eff, err);
        if (fd < 0)
            return mpp_error_prefix(err, "mount %s: creating effective source (original source %s)",
                                    dst, strempty(m->source));
        close(fd);
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
