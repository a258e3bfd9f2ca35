/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Helpers shared by the engine adapters and their dispatcher (engine.h). They depend on no
 * engine and on nothing in adapter.c. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/openat2.h>

#include <jansson.h>

#include <mpp/chain.h>
#include <mpp/pattern.h>

#include "engine.h"
#include "macro.h"

int mpp_set_string(char **field, const char *value)
{
    char *copy = NULL;
    if (value && !(copy = strdup(value)))
        return -ENOMEM;
    free(*field);
    *field = copy;
    return 0;
}

int mpp_strmap_set(mpp_strmap *m, const char *key, const char *value)
{
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->items[i].key, key) == 0)
            return mpp_set_string(&m->items[i].value, strempty(value));
    return mpp_strmap_add(m, key, value);
}

int mpp_strmap_from_object(mpp_strmap *m, const json_t *obj)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v)
    {
        if (json_is_string(v) && mpp_strmap_set(m, k, json_string_value(v)) < 0)
            return -ENOMEM;
    }
    return 0;
}

bool mpp_path_is_under(const char *path, const char *root)
{
    if (strcmp(root, "/") == 0)
        return path[0] == '/';
    size_t n = strlen(root);
    return strncmp(path, root, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

int mpp_volume_name_from_path(const char *path, const char *root, char **name)
{
    *name = NULL;
    if (!mpp_path_is_under(path, root))
        return 0;
    const char *p = path + strlen(root);
    if (strcmp(root, "/") == 0)
        p = path;
    if (strncmp(p, "/volumes/", 9) != 0)
        return 0;
    p += 9;
    const char *slash = strchr(p, '/');
    if (!slash || strncmp(slash, "/_data", 6) != 0 || (slash[6] != '\0' && slash[6] != '/'))
        return 0;
    char *n = strndup(p, (size_t)(slash - p));
    if (!n)
        return -ENOMEM;
    if (!mpp_container_id_valid(n)) {
        free(n);
        return 0;
    }
    *name = n;
    return 1;
}

bool mpp_contains(const char *s, const char *needle)
{
    return s && strstr(s, needle);
}

bool mpp_annotation_prefix(const json_t *ann, const char *prefix)
{
    const char *k;
    json_t *v;
    size_t n = strlen(prefix);
    json_object_foreach((json_t *)ann, k, v)
    {
        if (strncmp(k, prefix, n) == 0)
            return true;
    }
    return false;
}

int mpp_engine_root(const char *given, const char *def, const char *what, char **out,
                    mpp_error *err)
{
    const char *p = given ? given : def;
    char buf[PATH_MAX];
    *out = NULL;
    if (p[0] != '/' || mpp_path_clean(p, buf, sizeof(buf)) < 0)
        return mpp_error_set(err, -EINVAL, "%s \"%s\" is not an absolute path", what, p);
    *out = strdup(buf);
    return *out ? 0 : mpp_error_set(err, -ENOMEM, "out of memory");
}

/* Whether the bind source is an object of the engine's, below root, inside prefix: written in
 * clean form (the runtime mounts the text as written) and reached from root through no symbolic
 * link. root itself (/var/run -> /run) is the administrator's; what lies below it is the
 * engine's, which no user can change. A source that only looks like an engine's file, or reaches
 * one through `..` or a link (that its owner could point elsewhere once mpp has looked), is not
 * the engine's: it reaches plugins. */
bool mpp_engine_object(const char *root, const char *prefix, const char *src, const char *src_clean)
{
    if (strcmp(src, src_clean) != 0 || !mpp_path_is_under(src_clean, prefix) ||
        !mpp_path_is_under(src_clean, root))
        return false;
    const char *rel = src_clean + strlen(root);
    while (*rel == '/')
        rel++;
    if (*rel == '\0')
        return false;
    _cleanup_close_ int dfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return false;
    struct open_how how = {
        .flags = O_PATH | O_CLOEXEC,
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
    };
    _cleanup_close_ int fd = (int)syscall(SYS_openat2, dfd, rel, &how, sizeof(how));
    return fd >= 0;
}

bool mpp_engine_object_at(const char *src, const char *src_clean, const char *root, const char *sub,
                          const char *id)
{
    char prefix[PATH_MAX];
    int n = sub ? snprintf(prefix, sizeof(prefix), "%s/%s/%s", root, sub, id)
                : snprintf(prefix, sizeof(prefix), "%s/%s", root, id);
    return n > 0 && (size_t)n < sizeof(prefix) && mpp_engine_object(root, prefix, src, src_clean);
}
