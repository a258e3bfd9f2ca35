/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The engine adapters' file parsing. The input is up to five documents separated by FUZZ_SEP:
 *   config.v2.json, hostconfig.json, volumes/vol/opts.json, the image config, config.json
 * The first four are written into a temporary Docker root (dockerd's layout, as
 * tests/unit/test-adapter.c builds it); the config.json part (or, when absent or not a bundle,
 * the Docker fixture) has @ROOT@ and @ID@ replaced. The bundle is then described twice: as a
 * Docker container (runtime root under /moby) and as a Podman one (io.container.manager=libpod
 * with the Podman root set to the same directory). */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include <mpp/oci.h>
#include <mpp/pattern.h>

#include "fuzz.h"
#include "macro.h"

#define ID "3f4c2b9e8d7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e"
#define IMAGE "5e1c7f0a9b8d7c6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e"

DEFINE_TRIVIAL_CLEANUP_FUNC(mpp_bundle *, mpp_bundle_free)

/* A small Docker config.json: a -v bind, a named volume, a tmpfs and Docker's own files. */
static const char default_config[] =
    "{\"mounts\":["
    "{\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\"},"
    "{\"destination\":\"/d\",\"type\":\"bind\",\"source\":\"/c\",\"options\":[\"rbind\"]},"
    "{\"destination\":\"/b\",\"type\":\"bind\",\"source\":\"/a\",\"options\":[\"rbind\",\"ro\"]},"
    "{\"destination\":\"/v\",\"type\":\"bind\",\"source\":\"@ROOT@/volumes/vol/_data\","
    "\"options\":[\"rbind\"]},"
    "{\"destination\":\"/run\",\"type\":\"tmpfs\",\"source\":\"tmpfs\",\"options\":[\"size=1k\"]},"
    "{\"destination\":\"/etc/hosts\",\"type\":\"bind\","
    "\"source\":\"@ROOT@/containers/@ID@/hosts\",\"options\":[\"rbind\"]}],"
    "\"annotations\":{\"owner\":\"alice\"}}";

/* Short, so that every path built under it fits in PATH_MAX. */
static char root[256];

static void mkdir_p(const char *rel)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    for (char *p = path + strlen(root) + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            (void)mkdir(path, 0755);
            *p = '/';
        }
    (void)mkdir(path, 0755);
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    (void)remove(path);
    return 0;
}

static void remove_root(void)
{
    (void)nftw(root, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(root, sizeof(root), "%s/mpp-fuzz-adapter-XXXXXX", base);
    if (!mkdtemp(root))
        abort();
    atexit(remove_root);
    mkdir_p("containers/" ID);
    mkdir_p("volumes/vol/_data");
    mkdir_p("image/overlay2/imagedb/content/sha256");
    return 0;
}

static void put(const char *rel, const uint8_t *data, size_t len, bool present)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    if (!present) {
        (void)unlink(path);
        return;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        abort();
    while (len > 0) {
        ssize_t w = write(fd, data, len);
        if (w <= 0)
            abort();
        data += w;
        len -= (size_t)w;
    }
    close(fd);
}

/* text with @ROOT@ and @ID@ replaced; NULL on ENOMEM. */
static char *subst(const char *text, size_t len)
{
    char *out = NULL;
    size_t size = 0;
    FILE *mem = open_memstream(&out, &size);
    if (!mem)
        return NULL;
    for (size_t i = 0; i < len;) {
        if (len - i >= 6 && memcmp(text + i, "@ROOT@", 6) == 0) {
            fputs(root, mem);
            i += 6;
        } else if (len - i >= 4 && memcmp(text + i, "@ID@", 4) == 0) {
            fputs(ID, mem);
            i += 4;
        } else {
            fputc(text[i++], mem);
        }
    }
    fclose(mem);
    return out;
}

static void describe(mpp_bundle *b, const mpp_adapter_options *o)
{
    mpp_mount *ms = NULL;
    _cleanup_free_ size_t *index = NULL;
    size_t n = 0;
    mpp_error err = {0};
    if (mpp_bundle_describe(b, o, &ms, &index, &n, &err) == 0) {
        for (size_t k = 0; k < n; k++) {
            /* Patterns see where the mount lands: a clean absolute path. */
            char clean[PATH_MAX];
            FUZZ_ASSERT(ms[k].destination && ms[k].destination[0] == '/');
            FUZZ_ASSERT(mpp_path_clean(ms[k].destination, clean, sizeof(clean)) > 0 &&
                        strcmp(clean, ms[k].destination) == 0);
            FUZZ_ASSERT(k == 0 || index[k] > index[k - 1]);
        }
        mpp_mounts_free(ms, n);
    } else {
        FUZZ_ASSERT(err.msg[0] != '\0');
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *part[5];
    size_t len[5];
    size_t np = fuzz_split(data, size, part, len, 5);
    put("containers/" ID "/config.v2.json", part[0], len[0], true);
    put("containers/" ID "/hostconfig.json", np > 1 ? part[1] : NULL, np > 1 ? len[1] : 0, np > 1);
    put("volumes/vol/opts.json", np > 2 ? part[2] : NULL, np > 2 ? len[2] : 0, np > 2);
    put("image/overlay2/imagedb/content/sha256/" IMAGE, np > 3 ? part[3] : NULL,
        np > 3 ? len[3] : 0, np > 3);

    mpp_error err = {0};
    _cleanup_(mpp_bundle_freep) mpp_bundle *b = NULL;
    if (np > 4) {
        _cleanup_free_ char *text = subst((const char *)part[4], len[4]);
        if (text && mpp_bundle_parse(text, strlen(text), "fuzz/config.json", &b, &err) < 0)
            b = NULL;
    }
    if (!b) {
        _cleanup_free_ char *text = subst(default_config, strlen(default_config));
        FUZZ_ASSERT(text);
        FUZZ_ASSERT(mpp_bundle_parse(text, strlen(text), "fixture", &b, &err) == 0);
    }

    const mpp_adapter_options docker = {
        .container_id = ID,
        .docker_root = root,
        .podman_root = "/nonexistent/containers/storage",
        .runtime_root = "/run/docker/runtime-runc/moby",
    };
    describe(b, &docker);

    /* Podman: the same mounts with libpod's annotation; its root is the temporary directory. */
    _cleanup_free_ char *dumped = NULL;
    FUZZ_ASSERT(mpp_bundle_dump(b, &dumped, &err) == 0);
    json_t *j = json_loads(dumped, 0, NULL);
    if (!j)
        return 0;
    json_t *ann = json_object_get(j, "annotations");
    if (!json_is_object(ann)) {
        ann = json_object();
        json_object_set_new(j, "annotations", ann);
    }
    json_object_set_new(ann, "io.container.manager", json_string("libpod"));
    _cleanup_free_ char *podman_text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    FUZZ_ASSERT(podman_text);
    _cleanup_(mpp_bundle_freep) mpp_bundle *pb = NULL;
    if (mpp_bundle_parse(podman_text, strlen(podman_text), "fuzz/podman.json", &pb, &err) == 0) {
        const mpp_adapter_options podman = {
            .container_id = "abc",
            .docker_root = "/nonexistent/docker",
            .podman_root = root,
        };
        describe(pb, &podman);
    }
    return 0;
}
