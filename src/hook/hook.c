/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "hook.h"
#include "macro.h"

#define HOOK_MAX_INPUT (16u * 1024u * 1024u)

DEFINE_TRIVIAL_CLEANUP_FUNC(mpp_chain *, mpp_chain_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(mpp_bundle *, mpp_bundle_free)

char *hook_read_stdin(size_t *len, mpp_error *err)
{
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap + 1);
    if (!buf) {
        mpp_error_set(err, -ENOMEM, "out of memory");
        return NULL;
    }
    for (;;) {
        if (n == cap) {
            if (cap >= HOOK_MAX_INPUT) {
                free(buf);
                mpp_error_set(err, -E2BIG, "input on stdin is larger than %u bytes",
                              HOOK_MAX_INPUT);
                return NULL;
            }
            cap *= 2;
            char *nb = realloc(buf, cap + 1);
            if (!nb) {
                free(buf);
                mpp_error_set(err, -ENOMEM, "out of memory");
                return NULL;
            }
            buf = nb;
        }
        ssize_t r = read(STDIN_FILENO, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            free(buf);
            mpp_error_set(err, -errno, "cannot read stdin: %m");
            return NULL;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* Podman and CRI-O name the container's own files after its ID: .../<ID>/userdata/... */
static bool id_from_userdata(const char *path, char *out, size_t size)
{
    const char *u = strstr(path, "/userdata/");
    if (!u)
        return false;
    const char *start = u;
    while (start > path && start[-1] != '/')
        start--;
    size_t len = (size_t)(u - start);
    if (len == 0 || len >= size)
        return false;
    memcpy(out, start, len);
    out[len] = '\0';
    return mpp_container_id_valid(out);
}

static int find_id(const mpp_bundle *b, char *out, size_t size, mpp_error *err)
{
    const char *a = mpp_bundle_annotation(b, "io.kubernetes.cri-o.ContainerID");
    if (a && strlen(a) < size && mpp_container_id_valid(a)) {
        strcpy(out, a);
        return 0;
    }
    for (size_t i = 0; i < mpp_bundle_n_mounts(b); i++) {
        const char *src = mpp_bundle_mount_source(b, i);
        if (src && id_from_userdata(src, out, size))
            return 0;
    }
    return mpp_error_set(err, -EINVAL,
                         "precreate: cannot tell the container's ID from config.json; pass it "
                         "as an argument (mpp-hook precreate ID)");
}

/* The rewritten config.json goes to the engine whole or not at all: a failed write is an error. */
static int write_bundle(const mpp_bundle *b, FILE *out, mpp_error *err)
{
    _cleanup_free_ char *text = NULL;
    int r = mpp_bundle_dump(b, &text, err);
    if (r < 0)
        return r;
    errno = 0;
    if (fputs(text, out) < 0 || fflush(out) != 0) {
        if (errno == 0)
            errno = EIO;
        return mpp_error_set(err, -errno, "precreate: cannot write the rewritten config.json: %m");
    }
    return 0;
}

int hook_precreate(const mpp_config *cfg, const char *config_json, size_t len, const char *id,
                   FILE *out, mpp_error *err)
{
    _cleanup_(mpp_bundle_freep) mpp_bundle *b = NULL;
    int r = mpp_bundle_parse(config_json, len, "config.json on stdin", &b, err);
    if (r < 0)
        return r;
    if (cfg->n_plugins == 0)
        return write_bundle(b, out, err);
    char found[1025];
    if (!id) {
        r = find_id(b, found, sizeof(found), err);
        if (r < 0)
            return r;
        id = found;
    }
    _cleanup_(mpp_chain_freep) mpp_chain *chain = NULL;
    r = mpp_chain_new(cfg, &chain, err);
    if (r < 0)
        return r;
    mpp_adapter_options o = {.container_id = id};
    r = mpp_interpose_attach(chain, b, &o, NULL, NULL, err);
    if (r < 0)
        return r;
    r = write_bundle(b, out, err);
    if (r < 0) {
        /* The engine will not start the container, nor run its poststop hook. */
        mpp_teardown t = {0};
        mpp_chain_detach(chain, id, -1, 0, &t, NULL);
        mpp_teardown_clear(&t);
    }
    return r;
}

int hook_poststop(const mpp_config *cfg, const char *state_json, size_t len, mpp_error *err)
{
    json_error_t jerr;
    json_t *state = json_loadb(state_json, len, 0, &jerr);
    if (!state)
        return mpp_error_set(err, -EBADMSG, "poststop: the OCI state on stdin is not JSON: %s",
                             jerr.text);
    const char *sid = json_string_value(json_object_get(state, "id"));
    _cleanup_free_ char *id = sid ? strdup(sid) : NULL;
    json_decref(state);
    if (!id)
        return mpp_error_set(err, -EBADMSG, "poststop: the OCI state on stdin has no \"id\"");
    if (!mpp_container_id_valid(id))
        return mpp_error_set(err, -EINVAL, "poststop: invalid container ID in the OCI state");

    _cleanup_(mpp_chain_freep) mpp_chain *chain = NULL;
    int r = mpp_chain_new(cfg, &chain, err);
    if (r < 0)
        return r;
    mpp_teardown t = {0};
    r = mpp_chain_detach(chain, id, -1, 0, &t, err);
    if (r == -ENOENT)
        return 0;
    if (r < 0)
        return r;
    for (size_t i = 0; i < t.n_warnings; i++)
        fprintf(stderr, "mpp-hook: warning: teardown of container %s: %s\n", id, t.warnings[i]);
    for (size_t i = 0; i < t.n_errors; i++)
        fprintf(stderr, "mpp-hook: teardown of container %s: %s\n", id, t.errors[i]);
    bool failed = t.failed;
    mpp_teardown_clear(&t);
    return failed ? mpp_error_set(err, -EIO, "teardown of container %s failed", id) : 0;
}
