/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "codec-json.h"
#include "journal.h"
#include "macro.h"
#include "properties-cache.h"

#define CACHE_MAX_BYTES (4u * 1024u * 1024u)

int mpp_properties_cache_load(const char *state_dir, const char *name, const char *identity,
                              const char *digest, mpp_pattern **patterns, size_t *n)
{
    char path[PATH_MAX];
    *patterns = NULL;
    *n = 0;
    if (snprintf(path, sizeof(path), "%s/plugins/%s.json", state_dir, name) >= (int)sizeof(path))
        return 0;
    _cleanup_close_ int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return 0;
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
        (st.st_mode & 077) || st.st_size <= 0 || (unsigned long long)st.st_size > CACHE_MAX_BYTES)
        return 0;
    _cleanup_free_ char *buf = malloc((size_t)st.st_size);
    if (!buf || read(fd, buf, (size_t)st.st_size) != st.st_size)
        return 0;
    _cleanup_(json_decrefp) json_t *doc = NULL;
    if (mpp_json_parse(buf, (size_t)st.st_size, path, &doc, NULL) < 0)
        return 0;
    const char *id = json_string_value(json_object_get(doc, "identity"));
    const char *dg = json_string_value(json_object_get(doc, "config"));
    json_t *ps = json_object_get(doc, "patterns");
    if (!id || !dg || !json_is_array(ps) || strcmp(id, identity) != 0 ||
        strcmp(dg, strempty(digest)) != 0)
        return 0;
    size_t count = json_array_size(ps);
    mpp_pattern *v = calloc(count ? count : 1, sizeof(*v));
    if (!v)
        return 0;
    for (size_t i = 0; i < count; i++) {
        if (mpp_pattern_from_json(json_array_get(ps, i), "", &v[i], NULL) < 0) {
            mpp_patterns_free(v, i);
            return 0;
        }
    }
    *patterns = v;
    *n = count;
    return 1;
}

void mpp_properties_cache_store(const char *state_dir, const char *name, const char *identity,
                                const char *digest, const mpp_pattern *patterns, size_t n)
{
    char dir[PATH_MAX], path[PATH_MAX], tmp[PATH_MAX + 32];
    if (mpp_state_dir_ensure(state_dir, NULL) < 0)
        return;
    if (snprintf(dir, sizeof(dir), "%s/plugins", state_dir) >= (int)sizeof(dir) ||
        snprintf(path, sizeof(path), "%s/%s.json", dir, name) >= (int)sizeof(path))
        return;
    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
        return;
    _cleanup_(json_decrefp) json_t *doc =
        json_pack("{s:s, s:s, s:[]}", "identity", identity, "config", strempty(digest), "patterns");
    if (!doc)
        return;
    for (size_t i = 0; i < n; i++)
        if (json_array_append_new(json_object_get(doc, "patterns"),
                                  mpp_pattern_to_json(&patterns[i])) < 0)
            return;
    _cleanup_free_ char *text = NULL;
    if (mpp_json_dump(doc, &text, NULL) < 0)
        return;
    snprintf(tmp, sizeof(tmp), "%s.%d.tmp", path, (int)getpid());
    _cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return;
    size_t len = strlen(text);
    if (write(fd, text, len) != (ssize_t)len || rename(tmp, path) < 0)
        unlink(tmp);
}
