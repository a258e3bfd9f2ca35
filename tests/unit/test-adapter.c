/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of the engine adapters (src/lib/adapter*.c): a fake DOCKER_ROOT as Docker 20.10
 * writes it, a fake Podman storage root, and the generic annotations. */
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

#include <mpp/oci.h>

#include "macro.h"

#define ID "3f4c2b9e8d7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e"
#define IMAGE "5e1c7f0a9b8d7c6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e"
#define RUNTIME_ROOT "/var/run/docker/runtime-runc/moby"
#define BUNDLE_DIR "/run/containerd/io.containerd.runtime.v2.task/moby/" ID

static char tmpdir[] = "/tmp/mpp-test-adapter-XXXXXX";
static unsigned counter;

static int setup_dir(void **state)
{
    (void)state;
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_dir(void **state)
{
    (void)state;
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "re");
    if (!f)
        fail_msg("cannot open %s", path);
    char *buf = NULL;
    size_t size = 0;
    FILE *mem = open_memstream(&buf, &size);
    assert_non_null(mem);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        assert_int_equal(fwrite(chunk, 1, n, mem), n);
    fclose(f);
    fclose(mem);
    return buf;
}

/* The fixture with @ROOT@, @ID@ and @IMAGE@ replaced. */
static char *fixture(const char *name, const char *root)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/docker/%s", MPP_TEST_DATA, name);
    _cleanup_free_ char *text = read_all(path);
    char *out = NULL;
    size_t size = 0;
    FILE *mem = open_memstream(&out, &size);
    assert_non_null(mem);
    for (const char *p = text; *p;) {
        if (strncmp(p, "@ROOT@", 6) == 0) {
            fputs(root, mem);
            p += 6;
        } else if (strncmp(p, "@ID@", 4) == 0) {
            fputs(ID, mem);
            p += 4;
        } else if (strncmp(p, "@IMAGE@", 7) == 0) {
            fputs(IMAGE, mem);
            p += 7;
        } else {
            fputc(*p++, mem);
        }
    }
    fclose(mem);
    return out;
}

static void write_file(const char *path, const char *data)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        fail_msg("cannot create %s", path);
    size_t len = strlen(data);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
}

static void mkdirs(const char *path)
{
    char cmd[PATH_MAX + 32];
    snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", path);
    assert_int_equal(system(cmd), 0);
}

static void put(const char *root, const char *rel, const char *data)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    char *slash = strrchr(path, '/');
    *slash = '\0';
    mkdirs(path);
    *slash = '/';
    write_file(path, data);
}

static void put_fixture(const char *root, const char *rel, const char *name)
{
    _cleanup_free_ char *text = fixture(name, root);
    put(root, rel, text);
}

static void rm(const char *root, const char *rel)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    assert_int_equal(unlink(path), 0);
}

#define CONFIG_V2 "containers/" ID "/config.v2.json"
#define HOSTCONFIG "containers/" ID "/hostconfig.json"
#define IMAGE_CONFIG "image/overlay2/imagedb/content/sha256/" IMAGE

/* A DOCKER_ROOT as dockerd leaves it when it calls the runtime's create. */
static char *docker_root(void)
{
    char *root = NULL;
    assert_true(asprintf(&root, "%s/docker%u", tmpdir, counter++) > 0);
    put_fixture(root, CONFIG_V2, "config.v2.json");
    put_fixture(root, HOSTCONFIG, "hostconfig.json");
    put_fixture(root, IMAGE_CONFIG, "image-config.json");
    put_fixture(root, "image/overlay2/repositories.json", "vol-opts.json"); /* noise */
    put_fixture(root, "volumes/vol/opts.json", "vol-opts.json");
    put_fixture(root, "volumes/labeled/opts.json", "labeled-opts.json");
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/volumes/vol/_data", root);
    mkdirs(path);
    snprintf(path, sizeof(path), "%s/volumes/labeled/_data", root);
    mkdirs(path);
    /* Docker's own files for the container, which it binds into it. */
    put(root, "containers/" ID "/resolv.conf", "nameserver 10.0.0.1\n");
    put(root, "containers/" ID "/hostname", "3f4c2b9e8d7a\n");
    snprintf(path, sizeof(path), "%s/containers/" ID "/mounts/shm", root);
    mkdirs(path);
    return root;
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

static void describe_json(const char *json, const mpp_adapter_options *o, described *d)
{
    mpp_bundle *b = NULL;
    mpp_error err = {0};
    if (mpp_bundle_parse(json, strlen(json), "config.json", &b, &err) < 0)
        fail_msg("parse: %s", err.msg);
    if (mpp_bundle_describe(b, o, &d->mounts, &d->index, &d->n, &err) < 0)
        fail_msg("describe: %s", err.msg);
    mpp_bundle_free(b);
}

static void describe_docker(const char *root, described *d)
{
    _cleanup_free_ char *json = fixture("config.json", root);
    mpp_adapter_options o = {
        .container_id = ID,
        .docker_root = root,
        .runtime_root = RUNTIME_ROOT,
        .bundle_dir = BUNDLE_DIR,
    };
    describe_json(json, &o, d);
}

static const mpp_mount *find(const described *d, const char *dst)
{
    for (size_t i = 0; i < d->n; i++)
        if (strcmp(d->mounts[i].destination, dst) == 0)
            return &d->mounts[i];
    fail_msg("no mount on %s", dst);
    return NULL;
}

static bool has(const described *d, const char *dst)
{
    for (size_t i = 0; i < d->n; i++)
        if (strcmp(d->mounts[i].destination, dst) == 0)
            return true;
    return false;
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

static void assert_map(const mpp_strmap *m, const char *key, const char *value)
{
    const char *v = mpp_strmap_get(m, key);
    if (!v)
        fail_msg("no key %s", key);
    assert_string_equal(v, value);
}

static void test_docker(void **state)
{
    (void)state;
    _cleanup_free_ char *root = docker_root();
    described d = {0};
    describe_docker(root, &d);

    /* proc, /dev..., sysfs, cgroup are the runtime's; resolv.conf, hostname and /dev/shm are
     * Docker's. The user's -v on /etc/hosts is the user's, and reaches plugins. */
    assert_int_equal(d.n, 6);
    const char *order[] = {"/d", "/lv", "/b", "/v", "/run", "/etc/hosts"};
    size_t index[] = {6, 7, 8, 9, 10, 13};
    for (size_t i = 0; i < d.n; i++) {
        const mpp_mount *m = &d.mounts[i];
        assert_string_equal(m->destination, order[i]);
        assert_int_equal(d.index[i], index[i]);
        assert_string_equal(m->container.engine, "docker");
        assert_string_equal(m->container.id, ID);
        /* Container.Labels = Config.Labels; Image.Labels from the image config. */
        assert_int_equal(m->container.labels.n, 2);
        assert_map(&m->container.labels, "com.example.team", "storage");
        assert_map(&m->container.labels, "tier", "db");
        assert_int_equal(m->image.labels.n, 2);
        assert_map(&m->image.labels, "maintainer", "ops@example.com");
        assert_map(&m->image.labels, "org.opencontainers.image.title", "bb");
        assert_int_equal(m->container.annotations.n, 0);
        assert_string_equal(m->effective_source, m->source);
    }

    /* -v vol:/v */
    const mpp_mount *m = find(&d, "/v");
    assert_string_equal(m->type, "volume");
    assert_string_equal(m->volume.name, "vol");
    assert_string_equal(m->volume.driver, "local");
    assert_string_equal(m->volume.scope, "local");
    assert_int_equal(m->volume.options.n, 3);
    assert_map(&m->volume.options, "type", "nfs");
    assert_map(&m->volume.options, "o", "addr=10.0.0.5,rw,nfsvers=4");
    assert_map(&m->volume.options, "device", ":/export/vol");
    assert_int_equal(m->volume.labels.n, 0);
    assert_str(m->mode, NULL);
    assert_str(m->consistency, NULL);
    assert_false(m->create_source_if_missing);
    assert_false(m->read_only);

    /* -v /a:/b:ro,cached */
    m = find(&d, "/b");
    assert_string_equal(m->type, "bind");
    assert_string_equal(m->source, "/a");
    assert_string_equal(m->mode, "ro,cached");
    assert_string_equal(m->consistency, "cached");
    assert_true(m->create_source_if_missing);
    assert_true(m->read_only);
    assert_string_equal(m->propagation, "rprivate");
    assert_str(m->volume.name, NULL);

    /* --mount type=bind,src=/c,dst=/d,consistency=delegated */
    m = find(&d, "/d");
    assert_string_equal(m->type, "bind");
    assert_string_equal(m->consistency, "delegated");
    assert_false(m->create_source_if_missing);
    assert_str(m->mode, NULL);
    assert_false(m->read_only);

    /* --mount type=volume,src=labeled,dst=/lv,volume-label=owner=alice,volume-opt=... */
    m = find(&d, "/lv");
    assert_string_equal(m->type, "volume");
    assert_string_equal(m->volume.name, "labeled");
    assert_int_equal(m->volume.labels.n, 1);
    assert_map(&m->volume.labels, "owner", "alice");
    assert_int_equal(m->volume.driver_options.n, 2);
    assert_map(&m->volume.driver_options, "type", "tmpfs");
    assert_map(&m->volume.driver_options, "device", "tmpfs");
    /* opts.json with an empty MountOpts: no "o" option. */
    assert_int_equal(m->volume.options.n, 2);
    assert_null(mpp_strmap_get(&m->volume.options, "o"));
    assert_map(&m->volume.options, "type", "tmpfs");
    assert_false(m->create_source_if_missing);

    /* --tmpfs /run */
    m = find(&d, "/run");
    assert_string_equal(m->type, "tmpfs");
    assert_false(m->create_source_if_missing);

    /* -v /srv/hosts:/etc/hosts:ro */
    m = find(&d, "/etc/hosts");
    assert_string_equal(m->type, "bind");
    assert_string_equal(m->source, "/srv/hosts");
    assert_string_equal(m->mode, "ro");
    assert_str(m->consistency, NULL);
    assert_true(m->create_source_if_missing);
    described_clear(&d);
}

static void test_docker_missing_hostconfig(void **state)
{
    (void)state;
    _cleanup_free_ char *root = docker_root();
    rm(root, HOSTCONFIG);
    described d = {0};
    describe_docker(root, &d);
    assert_int_equal(d.n, 6);
    /* MountPoints still tell the consistency; the -v mode string and -v-ness are lost. */
    const mpp_mount *m = find(&d, "/b");
    assert_string_equal(m->consistency, "cached");
    assert_str(m->mode, NULL);
    assert_false(m->create_source_if_missing);
    m = find(&d, "/d");
    assert_string_equal(m->consistency, "delegated");
    assert_string_equal(find(&d, "/v")->volume.name, "vol");
    assert_int_equal(find(&d, "/lv")->volume.labels.n, 1);
    described_clear(&d);
}

static void test_docker_missing_config_v2(void **state)
{
    (void)state;
    _cleanup_free_ char *root = docker_root();
    rm(root, CONFIG_V2);
    described d = {0};
    describe_docker(root, &d);
    /* Not recognised as Docker: generic, and the engine is containerd, which ran it. Docker's
     * files are still told by their source; the user's bind on /etc/hosts reaches plugins. */
    assert_int_equal(d.n, 6);
    assert_string_equal(find(&d, "/etc/hosts")->source, "/srv/hosts");
    for (size_t i = 0; i < d.n; i++) {
        const mpp_mount *m = &d.mounts[i];
        assert_string_equal(m->container.engine, "containerd");
        assert_int_equal(m->container.labels.n, 0);
        assert_int_equal(m->image.labels.n, 0);
        assert_str(m->mode, NULL);
        assert_str(m->consistency, NULL);
        assert_false(m->create_source_if_missing);
    }
    /* A volume is still known by where it lives; its options are not read. */
    const mpp_mount *m = find(&d, "/v");
    assert_string_equal(m->type, "volume");
    assert_string_equal(m->volume.name, "vol");
    assert_string_equal(m->volume.driver, "local");
    assert_int_equal(m->volume.options.n, 0);
    described_clear(&d);
}

static void test_docker_malformed(void **state)
{
    (void)state;
    _cleanup_free_ char *root = docker_root();
    /* Truncated config.v2.json: still Docker's container, its contents ignored. */
    put(root, CONFIG_V2, "{\"Config\": {\"Labels\": {\"a\": \"b\"}, ");
    described d = {0};
    describe_docker(root, &d);
    const mpp_mount *m = find(&d, "/b");
    assert_string_equal(m->container.engine, "docker");
    assert_int_equal(m->container.labels.n, 0);
    assert_int_equal(m->image.labels.n, 0);
    /* hostconfig.json is fine and still used. */
    assert_string_equal(m->mode, "ro,cached");
    assert_string_equal(m->consistency, "cached");
    described_clear(&d);

    /* Wrong types everywhere. */
    put(root, CONFIG_V2,
        "{\"Config\": {\"Labels\": [1]}, \"Image\": 7, \"Driver\": {}, \"MountPoints\": "
        "{\"/v\": {\"Type\": 3, \"Name\": [], \"Spec\": \"x\"}, \"/b\": 5}}");
    put(root, HOSTCONFIG,
        "{\"Binds\": [\"/a:/b:ro:extra:parts\", 4, \"::\", \"/x\"], \"Mounts\": {\"a\": 1}}");
    describe_docker(root, &d);
    /* The bind on /etc/hosts reaches plugins by its source, whatever the records say. */
    assert_int_equal(d.n, 6);
    m = find(&d, "/v");
    assert_string_equal(m->container.engine, "docker");
    assert_string_equal(m->type, "volume"); /* by path */
    assert_string_equal(m->volume.name, "vol");
    m = find(&d, "/b");
    assert_str(m->mode, NULL);
    assert_str(m->consistency, NULL);
    assert_int_equal(m->container.labels.n, 0);
    described_clear(&d);

    /* Not objects at all. */
    put(root, CONFIG_V2, "[]");
    put(root, HOSTCONFIG, "null");
    put(root, "volumes/vol/opts.json", "\"nfs\"");
    describe_docker(root, &d);
    m = find(&d, "/v");
    assert_string_equal(m->container.engine, "docker");
    assert_int_equal(m->volume.options.n, 0);
    described_clear(&d);
}

static void test_docker_symlinks_not_followed(void **state)
{
    (void)state;
    _cleanup_free_ char *root = docker_root();
    char path[PATH_MAX], target[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", root, CONFIG_V2);
    snprintf(target, sizeof(target), "%s/elsewhere.json", root);
    assert_int_equal(rename(path, target), 0);
    assert_int_equal(symlink(target, path), 0);
    snprintf(path, sizeof(path), "%s/volumes/vol/opts.json", root);
    snprintf(target, sizeof(target), "%s/%s", MPP_TEST_DATA, "docker/vol-opts.json");
    assert_int_equal(unlink(path), 0);
    assert_int_equal(symlink(target, path), 0);

    described d = {0};
    describe_docker(root, &d);
    const mpp_mount *m = find(&d, "/v");
    assert_string_equal(m->container.engine, "docker");
    assert_int_equal(m->container.labels.n, 0);
    assert_int_equal(m->volume.options.n, 0);
    described_clear(&d);
}

static void test_docker_image_store(void **state)
{
    (void)state;
    _cleanup_free_ char *root = docker_root();
    /* The image config under another storage driver's directory is found too. */
    char from[PATH_MAX], to[PATH_MAX];
    snprintf(from, sizeof(from), "%s/%s", root, IMAGE_CONFIG);
    snprintf(to, sizeof(to), "%s/image/vfs/imagedb/content/sha256", root);
    mkdirs(to);
    snprintf(to, sizeof(to), "%s/image/vfs/imagedb/content/sha256/%s", root, IMAGE);
    assert_int_equal(rename(from, to), 0);
    described d = {0};
    describe_docker(root, &d);
    assert_int_equal(d.mounts[0].image.labels.n, 2);
    described_clear(&d);

    /* No image config anywhere: no image labels, the rest as before. */
    assert_int_equal(unlink(to), 0);
    describe_docker(root, &d);
    assert_int_equal(d.mounts[0].image.labels.n, 0);
    assert_int_equal(d.mounts[0].container.labels.n, 2);
    described_clear(&d);

    /* An Image value that is not a sha256 digest is not used to build a path. */
    put(root, "image/overlay2/imagedb/content/sha256/../../../../../escape",
        "{\"config\": {\"Labels\": {\"escaped\": \"yes\"}}}");
    _cleanup_free_ char *v2 = fixture("config.v2.json", root);
    char *img = strstr(v2, "sha256:" IMAGE);
    assert_non_null(img);
    char *patched = NULL;
    assert_true(asprintf(&patched, "%.*ssha256:../../../../../escape%s", (int)(img - v2), v2,
                         img + 7 + 64) > 0);
    put(root, CONFIG_V2, patched);
    free(patched);
    describe_docker(root, &d);
    assert_int_equal(d.mounts[0].image.labels.n, 0);
    described_clear(&d);
}

static void test_docker_volume_without_opts(void **state)
{
    (void)state;
    _cleanup_free_ char *root = docker_root();
    rm(root, "volumes/vol/opts.json");
    described d = {0};
    describe_docker(root, &d);
    const mpp_mount *m = find(&d, "/v");
    assert_string_equal(m->volume.name, "vol");
    assert_int_equal(m->volume.options.n, 0);
    described_clear(&d);
}

static void test_docker_needs_marker(void **state)
{
    (void)state;
    _cleanup_free_ char *root = docker_root();
    _cleanup_free_ char *json = fixture("config.json", root);
    /* Docker's files exist, but neither --root nor the bundle says moby. */
    mpp_adapter_options o = {.container_id = ID, .docker_root = root, .runtime_root = "/run/runc"};
    described d = {0};
    describe_json(json, &o, &d);
    assert_string_equal(d.mounts[0].container.engine, "oci");
    assert_int_equal(d.mounts[0].container.labels.n, 0);
    described_clear(&d);

    /* The bundle directory alone is enough. */
    o.runtime_root = NULL;
    o.bundle_dir = BUNDLE_DIR;
    describe_json(json, &o, &d);
    assert_string_equal(d.mounts[0].container.engine, "docker");
    described_clear(&d);

    /* Without a container ID nothing of Docker's is read. */
    o.container_id = NULL;
    describe_json(json, &o, &d);
    assert_string_equal(d.mounts[0].container.engine, "containerd");
    assert_null(d.mounts[0].container.id);
    described_clear(&d);
}

static const char podman_config[] =
    "{\"mounts\": ["
    "{\"destination\": \"/proc\", \"type\": \"proc\", \"source\": \"proc\"},"
    "{\"destination\": \"/pv\", \"type\": \"bind\", \"source\": \"@ROOT@/volumes/pvol/_data\","
    " \"options\": [\"rbind\", \"ro\"]},"
    "{\"destination\": \"/sub\", \"type\": \"bind\", \"source\": "
    "\"@ROOT@/volumes/pvol/_data/sub/dir\", \"options\": [\"rbind\"]},"
    "{\"destination\": \"/notvol\", \"type\": \"bind\", \"source\": \"@ROOT@/volumes/pvol/data\","
    " \"options\": [\"rbind\"]},"
    "{\"destination\": \"/home\", \"type\": \"bind\", \"source\": \"/home/u\", \"options\": "
    "[\"rbind\"]},"
    "{\"destination\": \"/etc/hosts\", \"type\": \"bind\", \"source\": "
    "\"@ROOT@/overlay-containers/abc/userdata/hosts\", \"options\": [\"rbind\"]},"
    "{\"destination\": \"/extra\", \"type\": \"bind\", \"source\": "
    "\"@ROOT@/overlay-containers/abc/userdata/extra\", \"options\": [\"rbind\"]}"
    "], \"annotations\": {\"io.container.manager\": \"libpod\", \"owner\": \"alice\", "
    "\"io.kubernetes.cri-o.TTY\": \"false\", \"mpp.labels.owner\": \"bob\"}}";

static char *subst_root(const char *text, const char *root)
{
    char *out = NULL;
    size_t size = 0;
    FILE *mem = open_memstream(&out, &size);
    assert_non_null(mem);
    for (const char *p = text; *p;) {
        if (strncmp(p, "@ROOT@", 6) == 0) {
            fputs(root, mem);
            p += 6;
        } else {
            fputc(*p++, mem);
        }
    }
    fclose(mem);
    return out;
}

static void test_podman(void **state)
{
    (void)state;
    char root[PATH_MAX];
    snprintf(root, sizeof(root), "%s/podman-storage", tmpdir);
    _cleanup_free_ char *json = subst_root(podman_config, root);
    put(root, "overlay-containers/abc/userdata/hosts", "127.0.0.1 localhost\n");
    put(root, "overlay-containers/abc/userdata/extra", "");
    mpp_adapter_options o = {.container_id = "abc", .podman_root = root};
    described d = {0};
    describe_json(json, &o, &d);

    /* Podman's own files (overlay-containers/) never reach plugins. */
    assert_int_equal(d.n, 4);
    assert_false(has(&d, "/etc/hosts"));
    assert_false(has(&d, "/extra"));
    for (size_t i = 0; i < d.n; i++) {
        const mpp_mount *m = &d.mounts[i];
        /* io.container.manager wins over the cri-o annotations Podman also writes. */
        assert_string_equal(m->container.engine, "podman");
        assert_int_equal(m->container.annotations.n, 4);
        /* Annotations are the labels; mpp.labels.* override them. */
        assert_map(&m->container.labels, "owner", "bob");
        assert_map(&m->container.labels, "io.container.manager", "libpod");
        assert_false(m->create_source_if_missing);
        assert_str(m->mode, NULL);
    }
    const mpp_mount *m = find(&d, "/pv");
    assert_string_equal(m->type, "volume");
    assert_string_equal(m->volume.name, "pvol");
    assert_string_equal(m->volume.driver, "local");
    assert_string_equal(m->volume.scope, "local");
    assert_true(m->read_only);
    m = find(&d, "/sub");
    assert_string_equal(m->type, "volume");
    assert_string_equal(m->volume.name, "pvol");
    m = find(&d, "/notvol");
    assert_string_equal(m->type, "bind");
    assert_str(m->volume.name, NULL);
    m = find(&d, "/home");
    assert_string_equal(m->type, "bind");
    described_clear(&d);
}

static const char generic_config[] =
    "{\"mounts\": ["
    "{\"destination\": \"/a\", \"type\": \"bind\", \"source\": \"/srv/a\"},"
    "{\"destination\": \"/b\", \"type\": \"bind\", \"source\": \"/srv/b\"},"
    "{\"destination\": \"/c/\", \"type\": \"bind\", \"source\": \"/srv//c/\"},"
    "{\"destination\": \"/t\", \"type\": \"tmpfs\", \"source\": \"tmpfs\"}"
    "], \"annotations\": {\"mpp.labels.team\": \"infra\", \"mpp.labels.\": \"ignored\", "
    "\"mpp.consistency\": \"cached\", \"mpp.consistency./b\": \"delegated\", "
    "\"mpp.consistency./c\": \"consistent\", \"org.example\": \"x\"}}";

static void test_generic_annotations(void **state)
{
    (void)state;
    mpp_adapter_options o = {.container_id = "generic-1"};
    described d = {0};
    describe_json(generic_config, &o, &d);
    assert_int_equal(d.n, 4);
    for (size_t i = 0; i < d.n; i++) {
        const mpp_mount *m = &d.mounts[i];
        assert_string_equal(m->container.engine, "oci");
        assert_string_equal(m->container.id, "generic-1");
        /* Only mpp.labels.KEY become labels here; every annotation is an annotation. */
        assert_int_equal(m->container.labels.n, 1);
        assert_map(&m->container.labels, "team", "infra");
        assert_int_equal(m->container.annotations.n, 6);
        assert_map(&m->container.annotations, "org.example", "x");
        assert_int_equal(m->image.labels.n, 0);
    }
    assert_string_equal(find(&d, "/a")->consistency, "cached");
    assert_string_equal(find(&d, "/b")->consistency, "delegated");
    /* Per destination in its clean form; the source is kept as config.json wrote it, the
     * destination is given clean (where the mount lands), so that patterns cannot be evaded. */
    const mpp_mount *c = find(&d, "/c");
    assert_string_equal(c->consistency, "consistent");
    assert_string_equal(c->source, "/srv//c/");
    const mpp_mount *t = find(&d, "/t");
    assert_string_equal(t->type, "tmpfs");
    assert_string_equal(t->consistency, "cached");
    described_clear(&d);

    /* No options at all: the defaults. */
    describe_json(generic_config, NULL, &d);
    assert_int_equal(d.n, 4);
    assert_null(d.mounts[0].container.id);
    described_clear(&d);
}

/* Binds are excluded by what their source is, after resolution, never by their destination:
 * only this container's own engine files, named as they are, stay away from plugins. */
static void test_exclusion_by_resolved_source(void **state)
{
    (void)state;
    _cleanup_free_ char *root = docker_root();
    char other[PATH_MAX], user[PATH_MAX], link[PATH_MAX], inner[PATH_MAX], prot[PATH_MAX],
        proot[PATH_MAX];
    snprintf(prot, sizeof(prot), "%s/protected", root);
    mkdirs(prot);
    put(root, "containers/" ID "/hosts", "127.0.0.1 localhost\n");
    put(root, "containers/0ther/hosts", "127.0.0.1 localhost\n");
    snprintf(other, sizeof(other), "%s/containers/0ther/hosts", root);
    /* A link in a directory a user owns, to this container's hosts file. */
    snprintf(user, sizeof(user), "%s/user", root);
    mkdirs(user);
    snprintf(link, sizeof(link), "%s/user/hosts-link", root);
    char target[PATH_MAX];
    snprintf(target, sizeof(target), "%s/containers/" ID "/hosts", root);
    assert_int_equal(symlink(target, link), 0);
    /* A link inside the container's directory (as if planted there) to the protected dir. */
    snprintf(inner, sizeof(inner), "%s/containers/" ID "/planted", root);
    assert_int_equal(symlink(prot, inner), 0);
    snprintf(proot, sizeof(proot), "%s/podman", root);
    put(proot, "overlay-containers/" ID "/userdata/hostname", "x\n");
    put(root, "user/volumes/kubernetes.io~secret/s/key", "k");

    char *json = NULL;
    assert_true(
        asprintf(&json,
                 "{\"mounts\": ["
                 "{\"destination\": \"/dev\", \"type\": \"tmpfs\", \"source\": \"tmpfs\"},"
                 "{\"destination\": \"/proc\", \"type\": \"proc\", \"source\": \"proc\"},"
                 "{\"destination\": \"/dev/hostetc\", \"type\": \"bind\", \"source\": \"%s\"},"
                 "{\"destination\": \"/dev/shm/x\", \"type\": \"bind\", \"source\": \"%s\"},"
                 "{\"destination\": \"/run/secrets/x\", \"type\": \"bind\", \"source\": \"%s\"},"
                 "{\"destination\": \"/etc/hosts\", \"type\": \"bind\", \"source\": \"%s\"},"
                 "{\"destination\": \"/etc/hostname\", \"type\": \"bind\", \"source\": "
                 "\"%s/containers/" ID "/hostname\"},"
                 "{\"destination\": \"/etc/resolv.conf\", \"type\": \"bind\", \"source\": "
                 "\"%s/containers/" ID "/resolv.conf\"},"
                 "{\"destination\": \"/dev/shm\", \"type\": \"bind\", \"source\": "
                 "\"%s/containers/" ID "/mounts/shm\"},"
                 "{\"destination\": \"/p/hostname\", \"type\": \"bind\", \"source\": "
                 "\"%s/overlay-containers/" ID "/userdata/hostname\"},"
                 "{\"destination\": \"/other\", \"type\": \"bind\", \"source\": \"%s\"},"
                 "{\"destination\": \"/dotdot\", \"type\": \"bind\", \"source\": "
                 "\"%s/containers/" ID "/../../protected\"},"
                 "{\"destination\": \"/dotdot2\", \"type\": \"bind\", \"source\": "
                 "\"%s/containers/" ID "/../" ID "/hostname\"},"
                 "{\"destination\": \"/linked\", \"type\": \"bind\", \"source\": \"%s\"},"
                 "{\"destination\": \"/planted\", \"type\": \"bind\", \"source\": \"%s\"},"
                 "{\"destination\": \"/missing\", \"type\": \"bind\", \"source\": "
                 "\"%s/containers/" ID "/missing\"},"
                 "{\"destination\": \"/kube\", \"type\": \"bind\", \"source\": "
                 "\"%s/user/volumes/kubernetes.io~secret/s\"}"
                 "]}",
                 prot, prot, prot, prot, root, root, root, proot, other, root, root, link, inner,
                 root, root) > 0);
    mpp_adapter_options o = {.container_id = ID, .docker_root = root, .podman_root = proot};
    described d = {0};
    describe_json(json, &o, &d);
    free(json);

    /* A user's bind at an engine's or the runtime's destination reaches plugins. */
    const char *reach[] = {"/dev/hostetc", "/dev/shm/x", "/run/secrets/x", "/etc/hosts",
                           "/other",       "/dotdot",    "/dotdot2",       "/linked",
                           "/planted",     "/missing",   "/kube"};
    for (size_t i = 0; i < ELEMENTSOF(reach); i++)
        if (!has(&d, reach[i]))
            fail_msg("the bind on %s was hidden from plugins", reach[i]);
    assert_string_equal(find(&d, "/dev/hostetc")->source, prot);
    /* The engine's own files of this very container do not; nor does the runtime's /dev. */
    const char *hidden[] = {"/etc/hostname", "/etc/resolv.conf", "/dev/shm", "/p/hostname", "/dev",
                            "/proc"};
    for (size_t i = 0; i < ELEMENTSOF(hidden); i++)
        if (has(&d, hidden[i]))
            fail_msg("the engine's mount on %s reached plugins", hidden[i]);
    assert_int_equal(d.n, ELEMENTSOF(reach));
    described_clear(&d);

    /* Without a container ID, no per-container file can be told: all reach plugins. */
    put(root, "noid.json", "");
    mpp_adapter_options noid = {.docker_root = root, .podman_root = proot};
    char *j2 = NULL;
    assert_true(asprintf(&j2,
                         "{\"mounts\": [{\"destination\": \"/etc/hostname\", \"type\": "
                         "\"bind\", \"source\": \"%s/containers/" ID "/hostname\"}]}",
                         root) > 0);
    describe_json(j2, &noid, &d);
    free(j2);
    assert_int_equal(d.n, 1);
    described_clear(&d);
}

/* Whichever engine claims the container (each is one entry of the adapters' table), every
 * engine's own files of this container stay hidden and every engine's local volumes are told by
 * their path: a claim can miss while the files are still the engine's. */
static void test_every_engine_whatever_the_claim(void **state)
{
    (void)state;
    _cleanup_free_ char *root = docker_root();
    char proot[PATH_MAX];
    snprintf(proot, sizeof(proot), "%s/podman", root);
    put(proot, "overlay-containers/" ID "/userdata/hostname", "x\n");
    put(proot, "volumes/pvol/_data/file", "x\n");

    static const struct {
        const char *annotations, *runtime_root, *bundle_dir, *engine;
    } claims[] = {
        {"{}", NULL, NULL, "oci"},
        {"{}", RUNTIME_ROOT, BUNDLE_DIR, "docker"},
        {"{\"io.container.manager\": \"libpod\"}", NULL, NULL, "podman"},
        {"{\"io.kubernetes.cri-o.TTY\": \"false\"}", NULL, NULL, "cri-o"},
        {"{\"io.kubernetes.cri.sandbox-id\": \"s\"}", NULL, NULL, "containerd"},
        {"{}", NULL, "/run/containerd/io.containerd.runtime.v2.task/k8s.io/" ID, "containerd"},
    };
    for (size_t c = 0; c < ELEMENTSOF(claims); c++) {
        char *json = NULL;
        assert_true(asprintf(&json,
                             "{\"mounts\": ["
                             "{\"destination\": \"/etc/hostname\", \"type\": \"bind\", "
                             "\"source\": \"%s/containers/" ID "/hostname\"},"
                             "{\"destination\": \"/p/hostname\", \"type\": \"bind\", "
                             "\"source\": \"%s/overlay-containers/" ID "/userdata/hostname\"},"
                             "{\"destination\": \"/v\", \"type\": \"bind\", "
                             "\"source\": \"%s/volumes/vol/_data\"},"
                             "{\"destination\": \"/pv\", \"type\": \"bind\", "
                             "\"source\": \"%s/volumes/pvol/_data\"},"
                             "{\"destination\": \"/srv\", \"type\": \"bind\", \"source\": \"/srv\"}"
                             "], \"annotations\": %s}",
                             root, proot, root, proot, claims[c].annotations) > 0);
        mpp_adapter_options o = {
            .container_id = ID,
            .docker_root = root,
            .podman_root = proot,
            .runtime_root = claims[c].runtime_root,
            .bundle_dir = claims[c].bundle_dir,
        };
        described d = {0};
        describe_json(json, &o, &d);
        free(json);
        assert_int_equal(d.n, 3);
        for (size_t i = 0; i < d.n; i++)
            if (strcmp(d.mounts[i].container.engine, claims[c].engine) != 0)
                fail_msg("claim %zu: engine %s, expected %s", c, d.mounts[i].container.engine,
                         claims[c].engine);
        assert_false(has(&d, "/etc/hostname"));
        assert_false(has(&d, "/p/hostname"));
        const mpp_mount *m = find(&d, "/v");
        assert_string_equal(m->type, "volume");
        assert_string_equal(m->volume.name, "vol");
        m = find(&d, "/pv");
        assert_string_equal(m->type, "volume");
        assert_string_equal(m->volume.name, "pvol");
        assert_string_equal(m->volume.driver, "local");
        assert_string_equal(find(&d, "/srv")->type, "bind");
        described_clear(&d);
    }
}

static void test_bad_roots(void **state)
{
    (void)state;
    mpp_bundle *b = NULL;
    mpp_error err = {0};
    assert_int_equal(
        mpp_bundle_parse(generic_config, strlen(generic_config), "config.json", &b, &err), 0);
    described d = {0};
    mpp_adapter_options o = {.docker_root = "var/lib/docker"};
    assert_int_equal(mpp_bundle_describe(b, &o, &d.mounts, &d.index, &d.n, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "Docker root \"var/lib/docker\""));
    mpp_adapter_options o2 = {.podman_root = ""};
    assert_int_equal(mpp_bundle_describe(b, &o2, &d.mounts, &d.index, &d.n, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "Podman root"));
    mpp_bundle_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_docker),
        cmocka_unit_test(test_docker_missing_hostconfig),
        cmocka_unit_test(test_docker_missing_config_v2),
        cmocka_unit_test(test_docker_malformed),
        cmocka_unit_test(test_docker_symlinks_not_followed),
        cmocka_unit_test(test_docker_image_store),
        cmocka_unit_test(test_docker_volume_without_opts),
        cmocka_unit_test(test_docker_needs_marker),
        cmocka_unit_test(test_podman),
        cmocka_unit_test(test_generic_annotations),
        cmocka_unit_test(test_bad_roots),
        cmocka_unit_test(test_every_engine_whatever_the_claim),
        cmocka_unit_test(test_exclusion_by_resolved_source),
    };
    return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
