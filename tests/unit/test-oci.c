/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of OCI bundle reading and rewriting (src/lib/oci.c, generic part of adapter.c). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include <mpp/oci.h>

#include "macro.h"
#include "test-util.h"

#define DOCKER_ID "3f4c2b9e8d7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e"
#define PODMAN_ID "c0ffeec0ffeec0ffeec0ffeec0ffeec0ffeec0ffeec0ffeec0ffeec0ffeec0ff"

DEFINE_TEST_TMPDIR("oci")

static char *fixture(const char *name, size_t *len)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/oci/%s", MPP_TEST_DATA, name);
    return test_read_file(path, len);
}

/* The directory that will hold path, or path itself as an empty file when it does not exist. */
static void make_parent(const char *path)
{
    _cleanup_free_ char *cmd = NULL;
    assert_true(asprintf(&cmd, "mkdir -p \"$(dirname '%s')\"", path) > 0);
    assert_int_equal(system(cmd), 0);
}

static void make_file(const char *path)
{
    _cleanup_free_ char *cmd = NULL;
    assert_true(asprintf(&cmd, "test -e '%s' || touch '%s'", path, path) > 0);
    assert_int_equal(system(cmd), 0);
}

/* The fixture with every from[k] replaced by to[k] (an engine root moved under tmpdir), and each
 * bind source under one of to made to exist: engine files are recognised only as what exists. */
static mpp_bundle *parse_fixture_rooted(const char *name, const char *const *from,
                                        const char *const *to, size_t n)
{
    size_t len;
    _cleanup_free_ char *text = fixture(name, &len);
    char *out = NULL;
    size_t size = 0;
    FILE *mem = open_memstream(&out, &size);
    assert_non_null(mem);
    for (const char *p = text; *p;) {
        size_t k = 0;
        for (; k < n; k++)
            if (strncmp(p, from[k], strlen(from[k])) == 0)
                break;
        if (k < n) {
            fputs(to[k], mem);
            p += strlen(from[k]);
        } else {
            fputc(*p++, mem);
        }
    }
    fclose(mem);
    json_t *doc = json_loads(out, 0, NULL);
    assert_non_null(doc);
    /* Directories first, so that a source that holds others is one. */
    for (int pass = 0; pass < 2; pass++) {
        size_t i;
        json_t *m;
        json_array_foreach(json_object_get(doc, "mounts"), i, m)
        {
            const char *src = json_string_value(json_object_get(m, "source"));
            for (size_t k = 0; src && k < n; k++) {
                if (strncmp(src, to[k], strlen(to[k])) != 0)
                    continue;
                if (pass == 0)
                    make_parent(src);
                else
                    make_file(src);
            }
        }
    }
    json_decref(doc);
    mpp_bundle *b = NULL;
    mpp_error err = {0};
    if (mpp_bundle_parse(out, size, name, &b, &err) < 0)
        fail_msg("%s: %s", name, err.msg);
    free(out);
    return b;
}

static mpp_bundle *parse_fixture(const char *name)
{
    size_t len;
    _cleanup_free_ char *text = fixture(name, &len);
    mpp_bundle *b = NULL;
    mpp_error err = {0};
    int r = mpp_bundle_parse(text, len, name, &b, &err);
    if (r < 0)
        fail_msg("%s: %s", name, err.msg);
    return b;
}

static void write_file(const char *path, const char *data, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    assert_true(fd >= 0);
    assert_int_equal(fchmod(fd, mode), 0);
    size_t len = strlen(data);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
}

/* A fresh bundle directory under tmpdir holding the fixture as config.json. */
static char *make_bundle(const char *sub, const char *name, mode_t mode)
{
    char *dir = NULL;
    assert_true(asprintf(&dir, "%s/%s", tmpdir, sub) > 0);
    assert_int_equal(mkdir(dir, 0755), 0);
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/config.json", dir);
    _cleanup_free_ char *text = fixture(name, NULL);
    write_file(path, text, mode);
    return dir;
}

typedef struct described {
    mpp_mount *mounts;
    size_t *index;
    size_t n;
} described;

static void described_clear(described *d)
{
    mpp_mounts_free(d->mounts, d->n);
    free(d->index);
    memset(d, 0, sizeof(*d));
}

static void describe_ok(const mpp_bundle *b, const mpp_adapter_options *o, described *d)
{
    mpp_error err = {0};
    int r = mpp_bundle_describe(b, o, &d->mounts, &d->index, &d->n, &err);
    if (r < 0)
        fail_msg("describe: %s", err.msg);
}

static const mpp_mount *find(const described *d, const char *dst)
{
    for (size_t i = 0; i < d->n; i++)
        if (strcmp(d->mounts[i].destination, dst) == 0)
            return &d->mounts[i];
    return NULL;
}

static json_t *bundle_json(const mpp_bundle *b)
{
    _cleanup_free_ char *text = NULL;
    mpp_error err = {0};
    assert_int_equal(mpp_bundle_dump(b, &text, &err), 0);
    json_error_t jerr;
    json_t *j = json_loads(text, 0, &jerr);
    assert_non_null(j);
    return j;
}

static void assert_str(const char *got, const char *want)
{
    if (!want) {
        if (got)
            fail_msg("expected NULL, got \"%s\"", got);
        return;
    }
    if (!got)
        fail_msg("expected \"%s\", got NULL", want);
    assert_string_equal(got, want);
}

/* Dump keeps every field, known or not, with its value. */
static void test_parse_dump_round_trip(void **state)
{
    (void)state;
    const char *names[] = {"runc-spec.json", "docker.json", "podman.json", "kubernetes.json"};
    for (size_t i = 0; i < ELEMENTSOF(names); i++) {
        _cleanup_free_ char *text = fixture(names[i], NULL);
        json_error_t jerr;
        json_t *orig = json_loads(text, 0, &jerr);
        assert_non_null(orig);
        mpp_bundle *b = parse_fixture(names[i]);
        json_t *dumped = bundle_json(b);
        assert_true(json_equal(orig, dumped));
        json_decref(orig);
        json_decref(dumped);
        mpp_bundle_free(b);
    }

    /* Spot checks on what mpp does not know. */
    mpp_bundle *b = parse_fixture("runc-spec.json");
    json_t *j = bundle_json(b);
    json_t *ext = json_object_get(j, "x-site-extension");
    assert_string_equal(json_string_value(json_object_get(ext, "unicode")),
                        "h\xc3\xa9llo \xe2\x98\x83");
    assert_int_equal(json_array_size(json_object_get(ext, "kept")), 5);
    assert_true(json_real_value(json_array_get(json_object_get(ext, "kept"), 1)) == 2.5);
    json_t *limit = json_object_get(
        json_object_get(json_object_get(json_object_get(j, "linux"), "resources"), "memory"),
        "limit");
    assert_true(json_integer_value(limit) == INT64_MAX);
    json_decref(j);
    mpp_bundle_free(b);
}

static void test_load_save_round_trip(void **state)
{
    (void)state;
    _cleanup_free_ char *dir = make_bundle("roundtrip", "podman.json", 0640);
    mpp_bundle *b = NULL;
    mpp_error err = {0};
    assert_int_equal(mpp_bundle_load(dir, &b, &err), 0);
    assert_non_null(strstr(mpp_bundle_origin(b), "roundtrip/config.json"));
    assert_int_equal(mpp_bundle_save(b, &err), 0);
    mpp_bundle_free(b);

    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/config.json", dir);
    _cleanup_free_ char *saved = test_read_file(path, NULL);
    _cleanup_free_ char *text = fixture("podman.json", NULL);
    json_t *a = json_loads(saved, 0, NULL), *want = json_loads(text, 0, NULL);
    assert_non_null(a);
    assert_true(json_equal(a, want));
    json_decref(a);
    json_decref(want);
}

static void test_describe_runc_spec(void **state)
{
    (void)state;
    mpp_bundle *b = parse_fixture("runc-spec.json");
    described d = {0};
    mpp_adapter_options o = {.container_id = "ctr1"};
    describe_ok(b, &o, &d);

    /* proc, /dev, /dev/pts, /dev/shm, mqueue, /sys, cgroup are not interposable. */
    assert_int_equal(d.n, 4);
    size_t want_index[] = {7, 8, 9, 10};
    const char *want_dst[] = {"/data", "/etc/ssl/certs", "/scratch", "/opt/tool"};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(d.index[i], want_index[i]);
        assert_string_equal(d.mounts[i].destination, want_dst[i]);
        assert_string_equal(d.mounts[i].container.id, "ctr1");
        assert_string_equal(d.mounts[i].container.engine, "oci");
        assert_false(d.mounts[i].create_source_if_missing);
        assert_str(d.mounts[i].mode, NULL);
        assert_str(d.mounts[i].consistency, NULL);
        assert_int_equal(d.mounts[i].container.annotations.n, 0);
        assert_int_equal(d.mounts[i].container.labels.n, 0);
        assert_int_equal(d.mounts[i].n_applied, 0);
    }
    const mpp_mount *m = &d.mounts[0];
    assert_string_equal(m->type, "bind");
    assert_string_equal(m->source, "/srv/data");
    assert_string_equal(m->effective_source, "/srv/data");
    assert_false(m->read_only);
    assert_string_equal(m->propagation, "rprivate");
    assert_str(m->volume.name, NULL);

    m = &d.mounts[1];
    assert_string_equal(m->type, "bind");
    assert_true(m->read_only);
    assert_string_equal(m->propagation, "rslave");

    m = &d.mounts[2];
    assert_string_equal(m->type, "tmpfs");
    assert_string_equal(m->source, "tmpfs");
    assert_false(m->read_only);
    assert_string_equal(m->propagation, "rprivate");

    /* type "none" with rbind is a bind mount. */
    m = &d.mounts[3];
    assert_string_equal(m->type, "bind");
    assert_string_equal(m->source, "/opt/tool");
    assert_true(m->read_only);
    assert_str(m->propagation, NULL);

    described_clear(&d);
    mpp_bundle_free(b);
}

static void test_describe_docker_style(void **state)
{
    (void)state;
    char root[PATH_MAX];
    snprintf(root, sizeof(root), "%s/docker-style", tmpdir);
    const char *from[] = {"/var/lib/docker"}, *to[] = {root};
    mpp_bundle *b = parse_fixture_rooted("docker.json", from, to, 1);
    described d = {0};
    /* No Docker records (config.v2.json): the generic description. */
    mpp_adapter_options o = {
        .container_id = DOCKER_ID,
        .runtime_root = "/var/run/docker/runtime-runc/moby",
        .docker_root = "/nonexistent/docker",
    };
    describe_ok(b, &o, &d);
    /* Under another Docker root, the files are not this container's: they reach plugins. */
    assert_int_equal(d.n, 7);
    described_clear(&d);

    o.docker_root = root;
    describe_ok(b, &o, &d);
    /* resolv.conf, hostname, hosts and /dev/shm are Docker's; a log collector's bind of
     * DOCKER_ROOT/containers itself is the user's. */
    assert_int_equal(d.n, 3);
    assert_string_equal(d.mounts[0].destination, "/b");
    assert_string_equal(d.mounts[1].destination, "/v");
    assert_string_equal(d.mounts[2].destination, "/logs");
    assert_int_equal(d.index[0], 6);
    assert_int_equal(d.index[1], 11);
    assert_int_equal(d.index[2], 12);

    const mpp_mount *m = find(&d, "/b");
    assert_string_equal(m->type, "bind");
    assert_true(m->read_only);

    m = find(&d, "/v");
    assert_string_equal(m->type, "volume");
    char vol[PATH_MAX + 32];
    snprintf(vol, sizeof(vol), "%s/volumes/vol/_data", root);
    assert_string_equal(m->source, vol);
    assert_string_equal(m->volume.name, "vol");
    assert_string_equal(m->volume.driver, "local");
    assert_string_equal(m->volume.scope, "local");

    m = find(&d, "/logs");
    assert_string_equal(m->type, "bind");
    assert_str(m->volume.name, NULL);
    described_clear(&d);
    mpp_bundle_free(b);
}

static void test_describe_podman(void **state)
{
    (void)state;
    /* Podman's storage root and run root, both moved to one root under tmpdir (the run root
     * /run/containers/storage cannot be moved: its rule is tested where the files exist). */
    char root[PATH_MAX];
    snprintf(root, sizeof(root), "%s/podman-storage", tmpdir);
    const char *from[] = {"/var/lib/containers/storage", "/run/containers/storage"},
               *to[] = {root, root};
    mpp_bundle *b = parse_fixture_rooted("podman.json", from, to, 2);
    described d = {0};
    mpp_adapter_options o = {.container_id = PODMAN_ID, .podman_root = root};
    describe_ok(b, &o, &d);

    /* hosts, shm, resolv.conf, hostname, .containerenv, secrets are Podman's. */
    assert_int_equal(d.n, 2);
    const mpp_mount *pv = &d.mounts[0], *src = &d.mounts[1];
    assert_string_equal(pv->destination, "/pv");
    assert_string_equal(src->destination, "/src");
    assert_int_equal(d.index[0], 5);
    assert_int_equal(d.index[1], 6);

    assert_string_equal(pv->type, "volume");
    assert_string_equal(pv->volume.name, "pvol");
    assert_string_equal(pv->volume.driver, "local");
    assert_string_equal(pv->container.engine, "podman");
    assert_str(pv->consistency, NULL);
    assert_string_equal(src->type, "bind");
    assert_string_equal(src->consistency, "cached");
    assert_false(src->create_source_if_missing);

    /* Annotations are Podman's labels, plus mpp.labels.*. */
    assert_int_equal(src->container.annotations.n, 9);
    assert_string_equal(mpp_strmap_get(&src->container.labels, "team"), "storage");
    assert_string_equal(mpp_strmap_get(&src->container.labels, "tier"), "db");
    assert_string_equal(mpp_strmap_get(&src->container.labels, "io.container.manager"), "libpod");
    assert_string_equal(mpp_strmap_get(&src->container.annotations, "mpp.labels.tier"), "db");
    described_clear(&d);
    mpp_bundle_free(b);
}

static void test_describe_kubernetes(void **state)
{
    (void)state;
    mpp_bundle *b = parse_fixture("kubernetes.json");
    described d = {0};
    mpp_adapter_options o = {
        .container_id = "8c2e1f7a",
        .bundle_dir = "/run/containerd/io.containerd.runtime.v2.task/k8s.io/8c2e1f7a",
    };
    describe_ok(b, &o, &d);
    /* Binds are never excluded by destination: containerd's sandbox files (hostname,
     * resolv.conf, /dev/shm) are the pod's, not this container's, and reach plugins. The
     * kubelet's (secrets, config maps, downward API, projected token, etc-hosts, termination
     * log) are recognised only as objects that exist under /var/lib/kubelet/pods, which the
     * fixture's do not on a test machine: they reach plugins here. */
    assert_int_equal(d.n, 11);
    assert_string_equal(d.mounts[0].destination, "/data");
    assert_string_equal(find(&d, "/host/logs")->source, "/var/log/app");
    assert_true(find(&d, "/host/logs")->read_only);
    assert_string_equal(find(&d, "/etc/hostname")->source,
                        "/var/lib/containerd/io.containerd.grpc.v1.cri/sandboxes/e7a9b3c1d5f2/"
                        "hostname");
    assert_string_equal(find(&d, "/dev/shm")->type, "bind");
    assert_string_equal(d.mounts[0].container.engine, "containerd");
    described_clear(&d);

    /* The CRI annotations alone tell containerd. */
    mpp_adapter_options o2 = {0};
    describe_ok(b, &o2, &d);
    assert_string_equal(d.mounts[0].container.engine, "containerd");
    assert_str(d.mounts[0].container.id, NULL);
    described_clear(&d);
    mpp_bundle_free(b);
}

static const char crio_config[] =
    "{\"mounts\":[{\"destination\":\"/x\",\"type\":\"bind\",\"source\":\"/srv/x\","
    "\"options\":[\"rbind\"]},"
    "{\"destination\":\"/etc/hostname\",\"type\":\"bind\",\"source\":\"/run/containers/storage/"
    "overlay-containers/abc/userdata/hostname\",\"options\":[\"rbind\"]}],"
    "\"annotations\":{\"io.kubernetes.cri-o.ContainerID\":\"abc\"}}";

static void test_describe_crio(void **state)
{
    (void)state;
    mpp_bundle *b = NULL;
    mpp_error err = {0};
    assert_int_equal(mpp_bundle_parse(crio_config, strlen(crio_config), "crio", &b, &err), 0);
    assert_string_equal(mpp_bundle_annotation(b, "io.kubernetes.cri-o.ContainerID"), "abc");
    assert_null(mpp_bundle_annotation(b, "nope"));
    described d = {0};
    describe_ok(b, NULL, &d);
    /* Without the container's ID, its run directory cannot be told (and on a test machine it
     * does not exist): the hostname reaches plugins. */
    assert_int_equal(d.n, 2);
    assert_string_equal(d.mounts[0].container.engine, "cri-o");
    described_clear(&d);
    mpp_bundle_free(b);
}

/* The policy table of protocol §3, one rule at a time, with near misses that must stay. */
static void test_exclusion_table(void **state)
{
    (void)state;
    /* @D@ and @P@ are a Docker and a Podman root under tmpdir, where the sources are made to
     * exist. */
    static const struct {
        const char *dst, *src, *type;
        bool kept;
    } cases[] = {
        /* Destinations of the runtime and the engine exclude what has no host source. */
        {"/proc/meminfo", "tmpfs", "tmpfs", false},
        {"/sys/fs/cgroup", "tmpfs", "tmpfs", false},
        {"/dev", "tmpfs", "tmpfs", false},
        {"/dev/shm", "shm", "tmpfs", false},
        {"/etc/resolv.conf", "tmpfs", "tmpfs", false},
        {"/etc/hosts", "tmpfs", "tmpfs", false},
        {"/etc//hosts", "tmpfs", "tmpfs", false},
        {"/etc/hostname", "tmpfs", "tmpfs", false},
        {"/run/.containerenv", "tmpfs", "tmpfs", false},
        {"/run/secrets", "tmpfs", "tmpfs", false},
        {"proc/sys", "tmpfs", "tmpfs", false},
        {"/x-proc", "proc", "proc", false},
        {"/x-overlay", "overlay", "overlay", false},
        /* ... never a bind: a user's bind there reaches plugins. */
        {"/proc/meminfo", "/srv/x", "bind", true},
        {"/sys/fs/cgroup", "/srv/x", "bind", true},
        {"/dev", "/srv/x", "bind", true},
        {"/dev/fuse", "/srv/x", "bind", true},
        {"/dev/termination-log", "/srv/x", "bind", true},
        {"/etc/resolv.conf", "/srv/x", "bind", true},
        {"/etc//hosts", "/srv/x", "bind", true},
        {"/run/secrets/token", "/srv/x", "bind", true},
        {"proc/sys", "/srv/x", "none", true},
        /* The engines' files of this container, as they are. */
        {"/s1", "@D@/containers/" DOCKER_ID "/hosts", "bind", false},
        {"/s2", "@D@/containers/" DOCKER_ID "/mounts/shm", "bind", false},
        {"/s3", "@P@/overlay-containers/" DOCKER_ID "/userdata/x", "bind", false},
        /* Near misses: the user's. */
        {"/procfs", "/srv/x", "bind", true},
        {"/k1", "@D@/containers", "bind", true},
        {"/k2", "@D@/containers/0ther/x", "bind", true},
        {"/k3", "@D@/containers/" DOCKER_ID "/../" DOCKER_ID "/y", "bind", true},
        {"/k4", "@D@/containers/" DOCKER_ID "//z", "bind", true},
        {"/k5", "@D@/containers/" DOCKER_ID "/missing", "bind", true},
        {"/k6", "@P@/overlay-containers/abc/userdata/x", "bind", true},
        {"/k7", "/run/containers/storage/overlay-containers/abc/userdata/x", "bind", true},
        {"/k8", "/run/libpod/x", "bind", true},
        {"/k9", "/srv/volumes/kubernetes.io~secret/s", "bind", true},
        {"/k10", "/srv/pods/u/etc-hosts", "bind", true},
        {"/k11", "/var/lib/kubelet/pods/u/volumes/kubernetes.io~empty-dir/x", "bind", true},
        {"/k12", "/var/lib/kubelet/pods/u/containers/app", "bind", true},
        /* The kubelet's files are recognised only as what exists (not on a test machine). */
        {"/k13", "/var/lib/kubelet/pods/u/volumes/kubernetes.io~secret/s", "bind", true},
        {"/k14", "/var/lib/kubelet/pods/u/etc-hosts", "bind", true},
        {"/k15", "/srv/x", "none", true},
        {"/k16", "tmpfs", "tmpfs", true},
    };
    char droot[PATH_MAX], proot[PATH_MAX];
    snprintf(droot, sizeof(droot), "%s/table-docker", tmpdir);
    snprintf(proot, sizeof(proot), "%s/table-podman", tmpdir);
    char srcs[ELEMENTSOF(cases)][2 * PATH_MAX];
    for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
        const char *s = cases[i].src;
        bool d = strncmp(s, "@D@", 3) == 0, p = strncmp(s, "@P@", 3) == 0;
        snprintf(srcs[i], sizeof(srcs[i]), "%s%s", d ? droot : p ? proot : "", d || p ? s + 3 : s);
        if (d || p)
            make_parent(srcs[i]);
    }
    for (size_t i = 0; i < ELEMENTSOF(cases); i++)
        if (srcs[i][0] == '/' && strncmp(srcs[i], tmpdir, strlen(tmpdir)) == 0 &&
            !strstr(srcs[i], "/missing"))
            make_file(srcs[i]);

    json_t *mounts = json_array();
    for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
        bool bind_opt = strcmp(cases[i].type, "none") == 0;
        assert_int_equal(
            json_array_append_new(mounts,
                                  json_pack("{s:s, s:s, s:s, s:[s]}", "destination", cases[i].dst,
                                            "source", srcs[i], "type", cases[i].type, "options",
                                            bind_opt ? "rbind" : "nosuid")),
            0);
    }
    json_t *doc = json_pack("{s:o}", "mounts", mounts);
    _cleanup_free_ char *text = json_dumps(doc, 0);
    json_decref(doc);
    mpp_bundle *b = NULL;
    mpp_error err = {0};
    assert_int_equal(mpp_bundle_parse(text, strlen(text), "table", &b, &err), 0);
    described d = {0};
    mpp_adapter_options o = {.container_id = DOCKER_ID, .docker_root = droot, .podman_root = proot};
    describe_ok(b, &o, &d);
    size_t k = 0;
    for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
        bool got = k < d.n && d.index[k] == i;
        if (got != cases[i].kept)
            fail_msg("%s from %s (%s): %s", cases[i].dst, srcs[i], cases[i].type,
                     got ? "described, should not be" : "left out, should be described");
        if (got)
            k++;
    }
    assert_int_equal(k, d.n);
    described_clear(&d);
    mpp_bundle_free(b);
}

static void test_describe_invalid_id(void **state)
{
    (void)state;
    mpp_bundle *b = parse_fixture("runc-spec.json");
    described d = {0};
    mpp_error err = {0};
    mpp_adapter_options o = {.container_id = "../../etc"};
    assert_int_equal(mpp_bundle_describe(b, &o, &d.mounts, &d.index, &d.n, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "invalid container ID"));
    assert_int_equal(d.n, 0);
    assert_null(d.mounts);
    mpp_bundle_free(b);
}

static void test_apply(void **state)
{
    (void)state;
    mpp_bundle *b = parse_fixture("runc-spec.json");
    json_t *before = bundle_json(b);
    described d = {0};
    describe_ok(b, NULL, &d);
    assert_int_equal(d.n, 4);

    /* A plugin redirected /data and gave /scratch a host directory. */
    mpp_mount *data = &d.mounts[0], *scratch = &d.mounts[2];
    free(data->effective_source);
    data->effective_source = strdup("/cache/data");
    free(scratch->effective_source);
    scratch->effective_source = strdup("/run/plugin/scratch");

    mpp_error err = {0};
    assert_int_equal(mpp_bundle_apply(b, d.mounts, d.index, d.n, &err), 0);
    json_t *after = bundle_json(b);
    json_t *ma = json_object_get(after, "mounts"), *mb = json_object_get(before, "mounts");
    assert_int_equal(json_array_size(ma), json_array_size(mb));

    json_t *m7 = json_array_get(ma, 7);
    assert_string_equal(json_string_value(json_object_get(m7, "source")), "/cache/data");
    assert_string_equal(json_string_value(json_object_get(m7, "type")), "bind");
    assert_true(json_equal(json_object_get(m7, "options"),
                           json_object_get(json_array_get(mb, 7), "options")));

    json_t *m9 = json_array_get(ma, 9);
    assert_string_equal(json_string_value(json_object_get(m9, "type")), "bind");
    assert_string_equal(json_string_value(json_object_get(m9, "source")), "/run/plugin/scratch");
    json_t *want = json_pack("[sssss]", "rbind", "nosuid", "nodev", "noexec", "rprivate");
    assert_true(json_equal(json_object_get(m9, "options"), want));
    json_decref(want);
    assert_string_equal(json_string_value(json_object_get(m9, "destination")), "/scratch");

    /* Everything else is untouched. */
    for (size_t i = 0; i < json_array_size(ma); i++)
        if (i != 7 && i != 9)
            assert_true(json_equal(json_array_get(ma, i), json_array_get(mb, i)));
    json_object_del(after, "mounts");
    json_object_del(before, "mounts");
    assert_true(json_equal(after, before));
    json_decref(after);
    json_decref(before);

    /* A subset of the mounts, by their own indices. */
    mpp_mount *tool = &d.mounts[3];
    free(tool->effective_source);
    tool->effective_source = strdup("/opt/tool-v2");
    assert_int_equal(mpp_bundle_apply(b, &d.mounts[3], &d.index[3], 1, &err), 0);
    after = bundle_json(b);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(after, "mounts"), 10), "source")),
                        "/opt/tool-v2");
    json_decref(after);

    described_clear(&d);
    mpp_bundle_free(b);
}

static void test_apply_tmpfs_unchanged(void **state)
{
    (void)state;
    mpp_bundle *b = parse_fixture("runc-spec.json");
    json_t *before = bundle_json(b);
    described d = {0};
    describe_ok(b, NULL, &d);
    mpp_error err = {0};
    /* No plugin changed anything: the document stays as it was. */
    assert_int_equal(mpp_bundle_apply(b, d.mounts, d.index, d.n, &err), 0);
    json_t *after = bundle_json(b);
    assert_true(json_equal(after, before));
    json_decref(after);
    json_decref(before);
    described_clear(&d);
    mpp_bundle_free(b);
}

static void test_apply_errors(void **state)
{
    (void)state;
    mpp_bundle *b = parse_fixture("runc-spec.json");
    json_t *before = bundle_json(b);
    described d = {0};
    describe_ok(b, NULL, &d);
    mpp_error err = {0};

    free(d.mounts[0].effective_source);
    d.mounts[0].effective_source = strdup("/moved");

    size_t bad_index[] = {7, 8, 9, 42};
    assert_int_equal(mpp_bundle_apply(b, d.mounts, bad_index, d.n, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "mounts[42]"));

    size_t swapped[] = {8, 7, 9, 10};
    assert_int_equal(mpp_bundle_apply(b, d.mounts, swapped, d.n, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "mounts[8].destination"));

    free(d.mounts[1].effective_source);
    d.mounts[1].effective_source = strdup("relative/dir");
    assert_int_equal(mpp_bundle_apply(b, d.mounts, d.index, d.n, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "relative/dir"));
    assert_non_null(strstr(err.msg, "absolute"));

    /* A refused call changed nothing, not even the mounts before the bad one. */
    json_t *after = bundle_json(b);
    assert_true(json_equal(after, before));
    json_decref(after);
    json_decref(before);
    described_clear(&d);
    mpp_bundle_free(b);
}

static size_t count_entries(const char *dir)
{
    DIR *dp = opendir(dir);
    assert_non_null(dp);
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(dp)))
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, ".."))
            n++;
    closedir(dp);
    return n;
}

static void test_save_atomic(void **state)
{
    (void)state;
    _cleanup_free_ char *dir = make_bundle("save", "runc-spec.json", 0640);
    mpp_bundle *b = NULL;
    mpp_error err = {0};
    assert_int_equal(mpp_bundle_load(dir, &b, &err), 0);
    described d = {0};
    describe_ok(b, NULL, &d);
    free(d.mounts[0].effective_source);
    d.mounts[0].effective_source = strdup("/cache/data");
    assert_int_equal(mpp_bundle_apply(b, d.mounts, d.index, d.n, &err), 0);
    described_clear(&d);

    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/config.json", dir);
    struct stat st0;
    assert_int_equal(stat(path, &st0), 0);
    assert_int_equal(mpp_bundle_save(b, &err), 0);
    mpp_bundle_free(b);

    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0640);
    assert_true(st.st_ino != st0.st_ino); /* replaced by rename, not rewritten in place */
    assert_int_equal(count_entries(dir), 1);

    assert_int_equal(mpp_bundle_load(dir, &b, &err), 0);
    describe_ok(b, NULL, &d);
    assert_string_equal(d.mounts[0].source, "/cache/data");
    described_clear(&d);

    /* A failed save (directory no longer writable) leaves the original and no temporary. */
    if (geteuid() != 0) {
        assert_int_equal(chmod(dir, 0555), 0);
        assert_true(mpp_bundle_save(b, &err) < 0);
        assert_int_equal(chmod(dir, 0755), 0);
        assert_int_equal(count_entries(dir), 1);
    }
    mpp_bundle_free(b);

    /* A parsed bundle has no file to replace. */
    b = parse_fixture("docker.json");
    assert_int_equal(mpp_bundle_save(b, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "docker.json"));
    mpp_bundle_free(b);
}

static void test_save_file_replaced(void **state)
{
    (void)state;
    _cleanup_free_ char *dir = make_bundle("replaced", "runc-spec.json", 0644);
    mpp_bundle *b = NULL;
    mpp_error err = {0};
    assert_int_equal(mpp_bundle_load(dir, &b, &err), 0);
    char path[PATH_MAX], target[PATH_MAX];
    snprintf(path, sizeof(path), "%s/config.json", dir);
    snprintf(target, sizeof(target), "%s/elsewhere", tmpdir);
    write_file(target, "{}", 0644);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(symlink(target, path), 0);
    assert_int_equal(mpp_bundle_save(b, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "regular file"));
    assert_int_equal(count_entries(dir), 1);
    mpp_bundle_free(b);
}

/* The runtime's bundle: a private directory per create, holding the judged document; the
 * bundle's own config.json is never touched. */
static void test_save_copy(void **state)
{
    (void)state;
    _cleanup_free_ char *dir = make_bundle("copy", "runc-spec.json", 0640);
    char path[PATH_MAX], sdir[PATH_MAX], copy[PATH_MAX], copy2[PATH_MAX], file[PATH_MAX + 32];
    snprintf(path, sizeof(path), "%s/config.json", dir);
    snprintf(sdir, sizeof(sdir), "%s/state", tmpdir);
    assert_int_equal(mkdir(sdir, 0700), 0);
    _cleanup_free_ char *given = test_read_file(path, NULL);
    mpp_bundle *b = NULL;
    mpp_error err = {0};
    assert_int_equal(mpp_bundle_load(dir, &b, &err), 0);
    assert_int_equal(mpp_bundle_set_mount_source(b, 0, "/run/mpp/pins/0", "/src", &err), 0);
    assert_false(mpp_bundle_has_copies(sdir, "c1"));
    assert_int_equal(mpp_bundle_copy_make(sdir, "c1", copy, sizeof(copy), &err), 0);
    assert_int_equal(mpp_bundle_copy_make(sdir, "c1", copy2, sizeof(copy2), &err), 0);
    assert_string_not_equal(copy, copy2);
    assert_true(mpp_bundle_has_copies(sdir, "c1"));
    assert_int_equal(mpp_bundle_save_copy(b, copy, &err), 0);
    snprintf(file, sizeof(file), "%s/config.json", copy);
    struct stat st;
    assert_int_equal(stat(copy, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0700);
    assert_int_equal(stat(file, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    _cleanup_free_ char *text = test_read_file(file, NULL);
    assert_non_null(strstr(text, "/run/mpp/pins/0"));
    /* root.path "rootfs" names the bundle's root file system from wherever the copy is. */
    char root[PATH_MAX + 32];
    snprintf(root, sizeof(root), "\"path\":\"%s/rootfs\"", dir);
    if (!strstr(text, root))
        fail_msg("%s lacks %s", text, root);
    /* The engine's bundle, for mppctl explain; nothing for a directory that is no copy. */
    _cleanup_free_ char *origin = NULL;
    assert_int_equal(mpp_bundle_copy_origin(sdir, copy, &origin), 1);
    assert_string_equal(origin, dir);
    char *none = NULL;
    assert_int_equal(mpp_bundle_copy_origin(sdir, dir, &none), 0);
    assert_null(none);
    _cleanup_free_ char *after = test_read_file(path, NULL);
    assert_string_equal(after, given);
    assert_int_equal(count_entries(dir), 1);
    mpp_bundle_free(b);

    /* An invalid ID never names a directory. */
    assert_int_equal(mpp_bundle_copy_make(sdir, "../x", copy2, sizeof(copy2), &err), -EINVAL);
    /* One copy goes, then all of the container's. */
    mpp_bundle_copy_remove(copy);
    assert_int_equal(access(copy, F_OK), -1);
    assert_true(mpp_bundle_has_copies(sdir, "c1"));
    assert_int_equal(mpp_bundle_copy_make(sdir, "c1", copy2, sizeof(copy2), &err), 0);
    mpp_bundle_copies_remove(sdir, "c1");
    assert_false(mpp_bundle_has_copies(sdir, "c1"));
    snprintf(file, sizeof(file), "%s/bundles", sdir);
    assert_int_equal(count_entries(file), 0);
}

/* crun's --config FILE: the document comes from FILE, the bundle stays the bundle directory (a
 * relative root.path and the copy's origin name it, not FILE's directory). */
static void test_load_file(void **state)
{
    (void)state;
    _cleanup_free_ char *dir = make_bundle("lf", "runc-spec.json", 0644);
    char fdir[PATH_MAX], file[PATH_MAX + 16], sdir[PATH_MAX], copy[PATH_MAX];
    char link[PATH_MAX + 16], cfile[PATH_MAX + 32], root[PATH_MAX + 32];
    snprintf(fdir, sizeof(fdir), "%s/lf-conf", tmpdir);
    snprintf(file, sizeof(file), "%s/alt.json", fdir);
    snprintf(sdir, sizeof(sdir), "%s/lf-state", tmpdir);
    assert_int_equal(mkdir(fdir, 0755), 0);
    assert_int_equal(mkdir(sdir, 0700), 0);
    _cleanup_free_ char *text = fixture("runc-spec.json", NULL);
    write_file(file, text, 0644);

    mpp_bundle *b = NULL;
    mpp_error err = {0};
    assert_int_equal(mpp_bundle_load_file(dir, file, &b, &err), 0);
    assert_string_equal(mpp_bundle_origin(b), file);
    assert_int_equal(mpp_bundle_copy_make(sdir, "c1", copy, sizeof(copy), &err), 0);
    assert_int_equal(mpp_bundle_save_copy(b, copy, &err), 0);
    snprintf(cfile, sizeof(cfile), "%s/config.json", copy);
    _cleanup_free_ char *saved = test_read_file(cfile, NULL);
    snprintf(root, sizeof(root), "\"path\":\"%s/rootfs\"", dir);
    if (!strstr(saved, root))
        fail_msg("%s lacks %s", saved, root);
    _cleanup_free_ char *origin = NULL;
    assert_int_equal(mpp_bundle_copy_origin(sdir, copy, &origin), 1);
    assert_string_equal(origin, dir);
    _cleanup_free_ char *after = test_read_file(file, NULL);
    assert_string_equal(after, text);

    /* mpp_bundle_save replaces FILE, its temporary file beside it, not in the bundle. */
    assert_int_equal(mpp_bundle_save(b, &err), 0);
    assert_int_equal(count_entries(fdir), 1);
    assert_int_equal(count_entries(dir), 1);
    mpp_bundle_free(b);

    /* The copies' IDs, as the journals' are listed. */
    char **ids = NULL;
    size_t n = 0;
    assert_int_equal(mpp_bundle_copies_list(sdir, &ids, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(ids[0], "c1");
    for (size_t i = 0; i < n; i++)
        free(ids[i]);
    free(ids);
    mpp_bundle_copies_remove(sdir, "c1");
    assert_int_equal(mpp_bundle_copies_list(sdir, &ids, &n, &err), 0);
    assert_int_equal(n, 0);
    free(ids);

    /* FILE itself must not be a symbolic link, as config.json; nor be missing. */
    snprintf(link, sizeof(link), "%s/link.json", fdir);
    assert_int_equal(symlink(file, link), 0);
    assert_int_equal(mpp_bundle_load_file(dir, link, &b, &err), -ELOOP);
    assert_null(b);
    assert_non_null(strstr(err.msg, "symbolic link"));
    snprintf(link, sizeof(link), "%s/none.json", fdir);
    assert_int_equal(mpp_bundle_load_file(dir, link, &b, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "none.json"));
    assert_int_equal(mpp_bundle_load_file("", file, &b, &err), -EINVAL);
    assert_int_equal(mpp_bundle_load_file(dir, NULL, &b, &err), -EINVAL);
}

static void test_unpin(void **state)
{
    (void)state;
    mpp_bundle *b = NULL;
    mpp_error err = {0};
    const char *json =
        "{\"ociVersion\": \"1.0.2\", \"root\": {\"path\": \"rootfs\"},"
        " \"process\": {\"args\": [\"/bin/true\"], \"cwd\": \"/\"},"
        " \"annotations\": {\"mpp.pinned-source.0\": \"/data/a\", \"mpp.pinned-source.1\": \"/x\","
        "                   \"mpp.pinned-source.2\": \"/data/c\"},"
        " \"mounts\": [{\"destination\": \"/a\", \"type\": \"bind\", \"source\": \"/p/pins/0\","
        "              \"options\": [\"rbind\"]},"
        "             {\"destination\": \"/b\", \"type\": \"bind\", \"source\": \"/elsewhere/1\","
        "              \"options\": [\"rbind\"]},"
        "             {\"destination\": \"/c\", \"type\": \"bind\", \"source\": \"/p/pinsX/2\","
        "              \"options\": [\"rbind\"]},"
        "             {\"destination\": \"/d\", \"type\": \"bind\", \"source\": \"/p/pins/3\","
        "              \"options\": [\"rbind\"]}]}";
    assert_int_equal(mpp_bundle_parse(json, strlen(json), "t", &b, &err), 0);
    /* Only a pinned source with its annotation changes; a look-alike directory does not, nor
     * does an annotation alone. */
    assert_int_equal(mpp_bundle_unpin(b, "/p/pins", &err), 1);
    assert_string_equal(mpp_bundle_mount_source(b, 0), "/data/a");
    assert_string_equal(mpp_bundle_mount_source(b, 1), "/elsewhere/1");
    assert_string_equal(mpp_bundle_mount_source(b, 2), "/p/pinsX/2");
    assert_string_equal(mpp_bundle_mount_source(b, 3), "/p/pins/3");
    assert_int_equal(mpp_bundle_unpin(b, "/p/pins", &err), 0);
    mpp_bundle_free(b);
}

static void expect_parse_error(const char *json, const char *what)
{
    mpp_bundle *b = NULL;
    mpp_error err = {0};
    int r = mpp_bundle_parse(json, strlen(json), "BUNDLE/config.json", &b, &err);
    if (r >= 0)
        fail_msg("accepted %s", json);
    assert_null(b);
    if (!strstr(err.msg, what) || !strstr(err.msg, "BUNDLE/config.json"))
        fail_msg("for %s: message \"%s\" lacks \"%s\"", json, err.msg, what);
}

/* Keys runc (Go's encoding/json) reads without their being what mpp reads. */
static void test_go_key_folding(void **state)
{
    (void)state;
#define M(x) "{\"mounts\": [{\"destination\": \"/d\", \"options\": [\"rbind\"], " x "}]}"
    expect_parse_error(M("\"Source\": \"/etc\", \"type\": \"bind\""),
                       "mounts[0]: key \"Source\" is not \"source\" (runc would read it as "
                       "\"source\")");
    expect_parse_error(M("\"source\": \"/etc\", \"TYPE\": \"bind\""),
                       "key \"TYPE\" is not \"type\"");
    /* U+017F LATIN SMALL LETTER LONG S folds to s, U+212A KELVIN SIGN to k. */
    expect_parse_error(M("\"\xc5\xbfource\": \"/etc\""), "key \"\xc5\xbfource\" is not \"source\"");
    expect_parse_error("{\"hoo\xe2\x84\xaas\": {}}", "key \"hoo\xe2\x84\xaas\" is not \"hooks\"");
    /* A key twice: Go takes the last, jansson too; refused all the same. */
    expect_parse_error(M("\"source\": \"/a\", \"source\": \"/etc\""), "a key appears twice");
    expect_parse_error("{\"mounts\": [], \"Mounts\": [{\"destination\": \"/d\"}]}",
                       "key \"Mounts\" is not \"mounts\"");
    expect_parse_error("{\"annotations\": {\"a\": \"1\", \"a\": \"2\"}}", "a key appears twice");
    expect_parse_error("{\"process\": {\"user\": {\"UID\": 0}}}",
                       "process.user: key \"UID\" is not \"uid\"");
    expect_parse_error("{\"linux\": {\"namespaces\": [{\"type\": \"pid\"}, {\"Path\": \"/x\"}]}}",
                       "linux.namespaces[1]: key \"Path\" is not \"path\"");
    expect_parse_error("{\"hooks\": {\"prestart\": [{\"PATH\": \"/x\"}]}}",
                       "hooks.prestart[0]: key \"PATH\" is not \"path\"");
    /* Unknown objects: two keys that are one to runc. */
    expect_parse_error("{\"linux\": {\"seccomp\": {\"x\": {\"abc\": 1, \"ABC\": 2}}}}",
                       "linux.seccomp.x: keys \"ABC\" and \"abc\" are one key to runc");
    expect_parse_error("{\"vendor\": {\"\xc5\xbf\": 1, \"S\": 2}}", "are one key to runc");
#undef M
    /* Accepted: exact keys; free-form maps keep keys that differ by case (Go maps are exact);
     * U+0130/U+0131 fold to no ASCII letter in Go; unknown keys folding to no field. */
    static const char *const ok[] = {
        "{\"mounts\": [{\"destination\": \"/d\", \"source\": \"/s\", \"type\": \"bind\"}]}",
        "{\"annotations\": {\"a\": \"1\", \"A\": \"2\"}, \"linux\": {\"sysctl\": {\"k\": \"1\", "
        "\"K\": \"2\"}}}",
        "{\"mounts\": [{\"destination\": \"/d\", \"\xc4\xb0\": \"x\", \"\xc4\xb1\": \"y\", "
        "\"i\": \"z\"}]}",
        "{\"process\": {\"args\": [\"/x\"], \"extension\": {\"a\": 1}}, \"x-Vendor\": 1}",
    };
    for (size_t i = 0; i < ELEMENTSOF(ok); i++) {
        mpp_bundle *b = NULL;
        mpp_error err = {0};
        if (mpp_bundle_parse(ok[i], strlen(ok[i]), "t", &b, &err) < 0)
            fail_msg("refused %s: %s", ok[i], err.msg);
        mpp_bundle_free(b);
    }
}

static void expect_describe_error(const char *json, const char *what)
{
    mpp_bundle *b = NULL;
    mpp_error err = {0};
    assert_int_equal(mpp_bundle_parse(json, strlen(json), "BUNDLE/config.json", &b, &err), 0);
    described d = {0};
    int r = mpp_bundle_describe(b, NULL, &d.mounts, &d.index, &d.n, &err);
    if (r >= 0)
        fail_msg("described %s", json);
    assert_int_equal(d.n, 0);
    if (!strstr(err.msg, what))
        fail_msg("for %s: message \"%s\" lacks \"%s\"", json, err.msg, what);
    mpp_bundle_free(b);
}

static void test_malformed(void **state)
{
    (void)state;
    expect_parse_error("[]", "expected a JSON object at the top level, got array");
    expect_parse_error("\"x\"", "top level");
    expect_parse_error("{\"mounts\": {}}", "mounts: expected an array, got object");
    expect_parse_error("{\"mounts\": [7]}", "mounts[0]: expected an object, got integer");
    expect_parse_error("{\"mounts\": [{\"destination\": \"/a\"}, {\"source\": \"/x\", \"type\": "
                       "\"bind\"}]}",
                       "mounts[1].destination: missing");
    expect_parse_error("{\"mounts\": [{\"destination\": 3}]}",
                       "mounts[0].destination: expected a string, got integer");
    expect_parse_error("{\"mounts\": [{\"destination\": \"\"}]}", "mounts[0].destination: empty");
    expect_parse_error("{\"mounts\": [{\"destination\": \"/a\", \"source\": [\"/x\"]}]}",
                       "mounts[0].source: expected a string, got array");
    expect_parse_error("{\"mounts\": [{\"destination\": \"/a\", \"type\": true}]}",
                       "mounts[0].type: expected a string, got boolean");
    expect_parse_error("{\"mounts\": [{\"destination\": \"/a\", \"options\": \"ro\"}]}",
                       "mounts[0].options: expected an array, got string");
    expect_parse_error("{\"mounts\": [{\"destination\": \"/a\", \"options\": [\"ro\", 1]}]}",
                       "mounts[0].options[1]: expected a string, got integer");
    expect_parse_error("{\"annotations\": {\"a\": 1}}", "annotations.a: expected a string");
    expect_parse_error("{\"annotations\": []}", "annotations: expected an object");
    expect_parse_error("{\"mounts\": [", "BUNDLE/config.json");

    expect_describe_error("{\"mounts\": [{\"destination\": \"/a\", \"type\": \"bind\", \"source\": "
                          "\"data/dir\", \"options\": [\"rbind\"]}]}",
                          "mounts[0].source: bind source \"data/dir\" (for /a) is a relative");
    expect_describe_error("{\"mounts\": [{\"destination\": \"/a\", \"type\": \"bind\"}]}",
                          "mounts[0].source: the bind mount on /a has no source");

    /* Null mounts and annotations are absent ones; a non-bind relative source is not ours. */
    const char *ok = "{\"mounts\": null, \"annotations\": null}";
    mpp_bundle *b = NULL;
    mpp_error err = {0};
    assert_int_equal(mpp_bundle_parse(ok, strlen(ok), NULL, &b, &err), 0);
    described d = {0};
    describe_ok(b, NULL, &d);
    assert_int_equal(d.n, 0);
    assert_null(d.mounts);
    assert_null(d.index);
    mpp_bundle_free(b);
}

static void test_load_errors(void **state)
{
    (void)state;
    mpp_bundle *b = NULL;
    mpp_error err = {0};
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/empty", tmpdir);
    assert_int_equal(mkdir(dir, 0755), 0);
    assert_int_equal(mpp_bundle_load(dir, &b, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "empty/config.json"));
    assert_null(b);

    /* config.json must not be a symbolic link. */
    char path[PATH_MAX], target[PATH_MAX];
    snprintf(path, sizeof(path), "%s/config.json", dir);
    snprintf(target, sizeof(target), "%s/real.json", tmpdir);
    write_file(target, "{}", 0644);
    assert_int_equal(symlink(target, path), 0);
    assert_int_equal(mpp_bundle_load(dir, &b, &err), -ELOOP);
    assert_non_null(strstr(err.msg, "symbolic link"));
    assert_int_equal(unlink(path), 0);

    /* Nor a directory. */
    assert_int_equal(mkdir(path, 0755), 0);
    assert_true(mpp_bundle_load(dir, &b, &err) < 0);
    assert_non_null(strstr(err.msg, "config.json"));
    assert_int_equal(rmdir(path), 0);

    write_file(path, "{\"mounts\": 5}", 0644);
    assert_int_equal(mpp_bundle_load(dir, &b, &err), -EBADMSG);
    assert_non_null(strstr(err.msg, "empty/config.json: mounts: expected an array"));

    assert_int_equal(mpp_bundle_load(NULL, &b, &err), -EINVAL);
}

static mpp_mount mount_of(const char *dst, const char *src, const char *eff, bool create)
{
    mpp_mount m = {0};
    m.destination = strdup(dst);
    m.source = strdup(src);
    m.effective_source = eff ? strdup(eff) : NULL;
    m.type = strdup("bind");
    m.create_source_if_missing = create;
    return m;
}

static void test_sources_prepare(void **state)
{
    (void)state;
    char base[512], file[1024], missing[PATH_MAX], dangling[PATH_MAX];
    snprintf(base, sizeof(base), "%s/sources", tmpdir);
    assert_int_equal(mkdir(base, 0755), 0);
    snprintf(file, sizeof(file), "%s/file", base);
    write_file(file, "x", 0644);
    snprintf(missing, sizeof(missing), "%s/new/deep/dir", base);
    snprintf(dangling, sizeof(dangling), "%s/dangling", base);
    assert_int_equal(symlink("/nonexistent/mpp-target", dangling), 0);
    mpp_error err = {0};

    /* Existing directory and file; a missing source created when allowed, with its parents,
     * mode 0755 whatever the umask. */
    mode_t old = umask(077);
    mpp_mount ms[3] = {
        mount_of("/a", "/orig/a", base, false),
        mount_of("/b", file, NULL, false),
        mount_of("/c", "/orig/c", missing, true),
    };
    assert_int_equal(mpp_sources_prepare(ms, 3, &err), 0);
    umask(old);
    struct stat st;
    assert_int_equal(stat(missing, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0755);
    char parent[PATH_MAX];
    snprintf(parent, sizeof(parent), "%s/new", base);
    assert_int_equal(stat(parent, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0755);
    for (size_t i = 0; i < 3; i++)
        mpp_mount_clear(&ms[i]);

    /* Not allowed: refused, naming the original and the effective source; nothing created. */
    char other[PATH_MAX];
    snprintf(other, sizeof(other), "%s/not-created", base);
    mpp_mount m = mount_of("/d", "/orig/d", other, false);
    assert_int_equal(mpp_sources_prepare(&m, 1, &err), -ENOENT);
    assert_non_null(strstr(err.msg, other));
    assert_non_null(strstr(err.msg, "/orig/d"));
    assert_non_null(strstr(err.msg, "/d"));
    assert_int_equal(access(other, F_OK), -1);
    mpp_mount_clear(&m);

    /* No effective source (no plugin ran): the original one is checked. */
    m = mount_of("/e", "/nonexistent/mpp-orig", NULL, false);
    assert_int_equal(mpp_sources_prepare(&m, 1, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "/nonexistent/mpp-orig"));
    mpp_mount_clear(&m);

    /* A dangling symbolic link is refused, even where creation is allowed. */
    m = mount_of("/f", "/orig/f", dangling, true);
    assert_int_equal(mpp_sources_prepare(&m, 1, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "symbolic link"));
    assert_non_null(strstr(err.msg, dangling));
    assert_non_null(strstr(err.msg, "/orig/f"));
    assert_int_equal(access("/nonexistent/mpp-target", F_OK), -1);
    mpp_mount_clear(&m);

    /* A symbolic link to a directory is fine. */
    char link[PATH_MAX];
    snprintf(link, sizeof(link), "%s/link", base);
    assert_int_equal(symlink(base, link), 0);
    m = mount_of("/g", "/orig/g", link, false);
    assert_int_equal(mpp_sources_prepare(&m, 1, &err), 0);
    mpp_mount_clear(&m);

    /* A relative effective source. */
    m = mount_of("/h", "/orig/h", "some/where", true);
    assert_int_equal(mpp_sources_prepare(&m, 1, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "some/where"));
    assert_non_null(strstr(err.msg, "/orig/h"));
    mpp_mount_clear(&m);

    /* A parent that is a file. */
    char under_file[PATH_MAX];
    snprintf(under_file, sizeof(under_file), "%s/sub", file);
    m = mount_of("/i", "/orig/i", under_file, true);
    assert_true(mpp_sources_prepare(&m, 1, &err) < 0);
    assert_non_null(strstr(err.msg, "/orig/i"));
    mpp_mount_clear(&m);

    /* A tmpfs that no plugin redirected has no host source. */
    m = mount_of("/tmp", "tmpfs", "tmpfs", false);
    free(m.type);
    m.type = strdup("tmpfs");
    assert_int_equal(mpp_sources_prepare(&m, 1, &err), 0);
    /* Redirected, its new source is checked like any other. */
    free(m.effective_source);
    m.effective_source = strdup("/nonexistent/mpp-tmpfs");
    assert_int_equal(mpp_sources_prepare(&m, 1, &err), -ENOENT);
    mpp_mount_clear(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_dump_round_trip),
        cmocka_unit_test(test_load_save_round_trip),
        cmocka_unit_test(test_describe_runc_spec),
        cmocka_unit_test(test_describe_docker_style),
        cmocka_unit_test(test_describe_podman),
        cmocka_unit_test(test_describe_kubernetes),
        cmocka_unit_test(test_describe_crio),
        cmocka_unit_test(test_exclusion_table),
        cmocka_unit_test(test_describe_invalid_id),
        cmocka_unit_test(test_apply),
        cmocka_unit_test(test_apply_tmpfs_unchanged),
        cmocka_unit_test(test_apply_errors),
        cmocka_unit_test(test_save_atomic),
        cmocka_unit_test(test_save_file_replaced),
        cmocka_unit_test(test_save_copy),
        cmocka_unit_test(test_load_file),
        cmocka_unit_test(test_go_key_folding),
        cmocka_unit_test(test_unpin),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_sources_prepare),
    };
    return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
