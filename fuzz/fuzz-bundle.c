/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The config.json rewrite as the runtime does it: parse, describe the interposable mounts, give
 * every other one a new effective source (a tmpfs one becomes a bind mount), apply, dump, then
 * put the exit gate in. Every document mpp writes must parse again and describe the same
 * number of mounts. No engine files are read (no container ID): fuzz-adapter does those. */
#include <stdio.h>

#include <mpp/oci.h>

#include "fuzz.h"
#include "macro.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(mpp_bundle *, mpp_bundle_free)

static const mpp_adapter_options opts = {
    .docker_root = "/nonexistent/docker",
    .podman_root = "/nonexistent/containers/storage",
};

static size_t describe_count(const char *json)
{
    _cleanup_(mpp_bundle_freep) mpp_bundle *b = NULL;
    mpp_error err = {0};
    FUZZ_ASSERT(mpp_bundle_parse(json, strlen(json), "dump", &b, &err) == 0);
    mpp_mount *ms = NULL;
    _cleanup_free_ size_t *index = NULL;
    size_t n = 0;
    FUZZ_ASSERT(mpp_bundle_describe(b, &opts, &ms, &index, &n, &err) == 0);
    mpp_mounts_free(ms, n);
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    _cleanup_(mpp_bundle_freep) mpp_bundle *b = NULL;
    mpp_error err = {0};
    if (mpp_bundle_parse((const char *)data, size, "fuzz/config.json", &b, &err) < 0) {
        FUZZ_ASSERT(err.msg[0] != '\0');
        return 0;
    }
    (void)mpp_bundle_annotation(b, "mpp.exit-gate");
    /* A bundle naming pins, with annotations for them, as mpp-runtime reads it back. */
    int unpinned = mpp_bundle_unpin(b, "/run/mpp/pins", &err);
    FUZZ_ASSERT(unpinned >= 0 || err.msg[0] != '\0');
    if (unpinned < 0)
        return 0;

    mpp_mount *ms = NULL;
    _cleanup_free_ size_t *index = NULL;
    size_t n = 0;
    if (mpp_bundle_describe(b, &opts, &ms, &index, &n, &err) < 0) {
        FUZZ_ASSERT(err.msg[0] != '\0');
        return 0;
    }
    for (size_t k = 0; k < n; k += 2) {
        char eff[64];
        snprintf(eff, sizeof(eff), "/var/lib/mpp/fuzz/%zu", k);
        free(ms[k].effective_source);
        ms[k].effective_source = strdup(eff);
        FUZZ_ASSERT(ms[k].effective_source);
    }
    int r = mpp_bundle_apply(b, ms, index, n, &err);
    mpp_mounts_free(ms, n);
    FUZZ_ASSERT(r == 0);

    _cleanup_free_ char *out = NULL;
    FUZZ_ASSERT(mpp_bundle_dump(b, &out, &err) == 0);
    FUZZ_ASSERT(describe_count(out) == n);

    if (mpp_bundle_inject_init(b, "/usr/libexec/mpp/mpp-init", "/run/mpp/gates/fuzz", &err) == 0) {
        _cleanup_free_ char *gated = NULL;
        FUZZ_ASSERT(mpp_bundle_dump(b, &gated, &err) == 0);
        (void)describe_count(gated);
    } else {
        FUZZ_ASSERT(err.msg[0] != '\0');
    }
    return 0;
}
