/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of plugin discovery (src/lib/discovery.c), on a real tree of files and listening
 * unix sockets. The trust checks need root (chown). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <mpp/client.h>

#include "macro.h"
#include "test-util.h"

#define MAX_SOCKS 32

typedef struct tree {
    char root[64];
    int socks[MAX_SOCKS];
    size_t n_socks;
} tree;

static int setup(void **state)
{
    tree *t = calloc(1, sizeof(*t));
    if (!t)
        return -1;
    if (test_tmpdir_make(t->root, sizeof(t->root), "disc") < 0) {
        free(t);
        return -1;
    }
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    tree *t = *state;
    for (size_t i = 0; i < t->n_socks; i++)
        close(t->socks[i]);
    int r = test_tmpdir_remove(t->root);
    free(t);
    return r;
}

/* A path under the tree root (heap). */
static char *P(tree *t, const char *rel)
{
    char *p = NULL;
    assert_true(asprintf(&p, "%s/%s", t->root, rel) > 0);
    return p;
}

static void mkdir_p(tree *t, const char *rel)
{
    _cleanup_free_ char *p = P(t, rel);
    assert_int_equal(mkdir(p, 0755), 0);
}

static int listen_unix(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    assert_true(strlen(path) < sizeof(sa.sun_path));
    strcpy(sa.sun_path, path);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(fd, 8), 0);
    return fd;
}

/* A real listening socket at rel; returns its path (heap). */
static char *make_sock(tree *t, const char *rel)
{
    char *p = P(t, rel);
    assert_true(t->n_socks < MAX_SOCKS);
    t->socks[t->n_socks++] = listen_unix(p);
    assert_int_equal(chmod(p, 0755), 0);
    return p;
}

static char *make_file(tree *t, const char *rel, const char *content, mode_t mode)
{
    char *p = P(t, rel);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    size_t len = strlen(content);
    assert_int_equal(write(fd, content, len), (ssize_t)len);
    close(fd);
    assert_int_equal(chmod(p, mode), 0);
    return p;
}

static char *make_spec(tree *t, const char *rel, const char *url)
{
    _cleanup_free_ char *line = NULL;
    assert_true(asprintf(&line, "%s\n", url) > 0);
    return make_file(t, rel, line, 0644);
}

static char *unix_url(const char *sock)
{
    char *u = NULL;
    assert_true(asprintf(&u, "unix://%s", sock) > 0);
    return u;
}

static int discover1(tree *t, const char *name, const char *dir_rel, mpp_plugin_addr *a,
                     mpp_error *err)
{
    _cleanup_free_ char *d = P(t, dir_rel);
    char *dirs[] = {d};
    return mpp_discover(name, dirs, 1, a, err);
}

static void expect_found_unix(tree *t, const char *dir_rel, const char *found_rel, const char *sock)
{
    mpp_plugin_addr a;
    mpp_error err = {0};
    int r = discover1(t, "p", dir_rel, &a, &err);
    if (r < 0)
        fail_msg("discover: %s", err.msg);
    _cleanup_free_ char *found = P(t, found_rel);
    assert_string_equal(a.name, "p");
    assert_int_equal(a.kind, MPP_ADDR_UNIX);
    assert_string_equal(a.path, sock);
    assert_null(a.host_port);
    assert_string_equal(a.found_at, found);
    mpp_plugin_addr_clear(&a);
}

static void expect_error(tree *t, const char *dir_rel, int code, const char *frag1,
                         const char *frag2)
{
    mpp_plugin_addr a;
    mpp_error err = {0};
    int r = discover1(t, "p", dir_rel, &a, &err);
    if (r >= 0) {
        mpp_plugin_addr_clear(&a);
        fail_msg("expected error %d, discovery succeeded", code);
    }
    if (r != code)
        fail_msg("expected %d, got %d: %s", code, r, err.msg);
    if (frag1 && !strstr(err.msg, frag1))
        fail_msg("message \"%s\" lacks \"%s\"", err.msg, frag1);
    if (frag2 && !strstr(err.msg, frag2))
        fail_msg("message \"%s\" lacks \"%s\"", err.msg, frag2);
    assert_non_null(strstr(err.msg, "plugin \"p\""));
    assert_null(a.name);
    assert_null(a.path);
}

static void test_each_form(void **state)
{
    tree *t = *state;
    _cleanup_free_ char *real = make_sock(t, "real.sock");
    _cleanup_free_ char *url = unix_url(real);
    _cleanup_free_ char *json = NULL;
    assert_true(asprintf(&json, "{\"Name\": \"p\", \"Addr\": \"%s\"}", url) > 0);

    mkdir_p(t, "f0");
    _cleanup_free_ char *s0 = make_sock(t, "f0/p.sock");
    expect_found_unix(t, "f0", "f0/p.sock", s0);

    mkdir_p(t, "f1");
    mkdir_p(t, "f1/p");
    _cleanup_free_ char *s1 = make_sock(t, "f1/p/p.sock");
    expect_found_unix(t, "f1", "f1/p/p.sock", s1);

    mkdir_p(t, "f2");
    free(make_spec(t, "f2/p.spec", url));
    expect_found_unix(t, "f2", "f2/p.spec", real);

    mkdir_p(t, "f3");
    mkdir_p(t, "f3/p");
    free(make_spec(t, "f3/p/p.spec", url));
    expect_found_unix(t, "f3", "f3/p/p.spec", real);

    mkdir_p(t, "f4");
    free(make_file(t, "f4/p.json", json, 0644));
    expect_found_unix(t, "f4", "f4/p.json", real);

    mkdir_p(t, "f5");
    mkdir_p(t, "f5/p");
    free(make_file(t, "f5/p/p.json", json, 0644));
    expect_found_unix(t, "f5", "f5/p/p.json", real);
}

static void test_precedence_in_dir(void **state)
{
    tree *t = *state;
    mkdir_p(t, "d");
    mkdir_p(t, "d/p");
    _cleanup_free_ char *s_spec = make_sock(t, "for-spec.sock");
    _cleanup_free_ char *s_nspec = make_sock(t, "for-nested-spec.sock");
    _cleanup_free_ char *s_json = make_sock(t, "for-json.sock");
    _cleanup_free_ char *s_njson = make_sock(t, "for-nested-json.sock");
    _cleanup_free_ char *u_spec = unix_url(s_spec), *u_nspec = unix_url(s_nspec);
    _cleanup_free_ char *j = NULL, *nj = NULL;
    assert_true(asprintf(&j, "{\"Addr\": \"unix://%s\"}", s_json) > 0);
    assert_true(asprintf(&nj, "{\"Addr\": \"unix://%s\"}", s_njson) > 0);

    _cleanup_free_ char *sock = make_sock(t, "d/p.sock");
    _cleanup_free_ char *nsock = make_sock(t, "d/p/p.sock");
    _cleanup_free_ char *spec = make_spec(t, "d/p.spec", u_spec);
    _cleanup_free_ char *nspec = make_spec(t, "d/p/p.spec", u_nspec);
    _cleanup_free_ char *jf = make_file(t, "d/p.json", j, 0644);
    _cleanup_free_ char *njf = make_file(t, "d/p/p.json", nj, 0644);

    /* Remove the winner each time: the next form in the spec's order must win. */
    expect_found_unix(t, "d", "d/p.sock", sock);
    assert_int_equal(unlink(sock), 0);
    expect_found_unix(t, "d", "d/p/p.sock", nsock);
    assert_int_equal(unlink(nsock), 0);
    expect_found_unix(t, "d", "d/p.spec", s_spec);
    assert_int_equal(unlink(spec), 0);
    expect_found_unix(t, "d", "d/p/p.spec", s_nspec);
    assert_int_equal(unlink(nspec), 0);
    expect_found_unix(t, "d", "d/p.json", s_json);
    assert_int_equal(unlink(jf), 0);
    expect_found_unix(t, "d", "d/p/p.json", s_njson);
    assert_int_equal(unlink(njf), 0);
    expect_error(t, "d", -ENOENT, "not found", NULL);
}

static void test_precedence_across_dirs(void **state)
{
    tree *t = *state;
    mkdir_p(t, "a");
    mkdir_p(t, "b");
    _cleanup_free_ char *real = make_sock(t, "real.sock");
    _cleanup_free_ char *j = NULL;
    assert_true(asprintf(&j, "{\"Addr\": \"unix://%s\"}", real) > 0);
    _cleanup_free_ char *jf = make_file(t, "a/p.json", j, 0644);
    _cleanup_free_ char *bsock = make_sock(t, "b/p.sock");

    /* A later directory's better form does not beat an earlier directory; a missing directory
     * is skipped. */
    _cleanup_free_ char *missing = P(t, "missing"), *a = P(t, "a"), *b = P(t, "b");
    char *dirs[] = {missing, a, b};
    mpp_plugin_addr addr;
    mpp_error err = {0};
    assert_int_equal(mpp_discover("p", dirs, 3, &addr, &err), 0);
    assert_string_equal(addr.found_at, jf);
    assert_string_equal(addr.path, real);
    mpp_plugin_addr_clear(&addr);

    char *dirs2[] = {b, a};
    assert_int_equal(mpp_discover("p", dirs2, 2, &addr, &err), 0);
    assert_string_equal(addr.found_at, bsock);
    assert_string_equal(addr.path, bsock);

    /* Copies are deep. */
    mpp_plugin_addr copy;
    assert_int_equal(mpp_plugin_addr_copy(&copy, &addr), 0);
    mpp_plugin_addr_clear(&addr);
    assert_string_equal(copy.name, "p");
    assert_string_equal(copy.path, bsock);
    assert_string_equal(copy.found_at, bsock);
    assert_int_equal(copy.kind, MPP_ADDR_UNIX);
    mpp_plugin_addr_clear(&copy);
    mpp_plugin_addr_clear(NULL);
}

static void expect_tcp(tree *t, const char *url, const char *host_port, const char *ext)
{
    _cleanup_free_ char *rel = NULL;
    assert_true(asprintf(&rel, "tcp/p.%s", ext) > 0);
    _cleanup_free_ char *f = NULL;
    if (strcmp(ext, "spec") == 0)
        f = make_spec(t, rel, url);
    else {
        _cleanup_free_ char *j = NULL;
        assert_true(asprintf(&j,
                             "{\"Name\": \"other\", \"Addr\": \"%s\", \"TLSConfig\": null, "
                             "\"Extra\": [1, 2]}",
                             url) > 0);
        f = make_file(t, rel, j, 0644);
    }
    mpp_plugin_addr a;
    mpp_error err = {0};
    int r = discover1(t, "p", "tcp", &a, &err);
    if (r < 0)
        fail_msg("%s: %s", url, err.msg);
    assert_int_equal(a.kind, MPP_ADDR_TCP);
    assert_string_equal(a.host_port, host_port);
    assert_null(a.path);
    assert_string_equal(a.found_at, f);
    assert_string_equal(a.name, "p"); /* the file's name, not the json's "Name" */

    _cleanup_free_ char *id = NULL, *want = NULL;
    assert_int_equal(mpp_plugin_identity(&a, &id, &err), 0);
    assert_true(asprintf(&want, "tcp:%s", host_port) > 0);
    assert_string_equal(id, want);
    mpp_plugin_addr_clear(&a);
    assert_int_equal(unlink(f), 0);
}

static void test_spec_and_json_tcp(void **state)
{
    tree *t = *state;
    mkdir_p(t, "tcp");
    expect_tcp(t, "tcp://127.0.0.1:8080", "127.0.0.1:8080", "spec");
    expect_tcp(t, "http://localhost:9000/", "localhost:9000", "spec");
    expect_tcp(t, "tcp://[::1]:7", "[::1]:7", "spec");
    expect_tcp(t, "tcp://plugin-host.example:65535", "plugin-host.example:65535", "json");
    expect_tcp(t, "http://10.0.0.1:1", "10.0.0.1:1", "json");

    /* Whitespace around the one line is fine. */
    free(make_file(t, "tcp/p.spec", "  tcp://127.0.0.1:81 \r\n\n", 0644));
    mpp_plugin_addr a;
    mpp_error err = {0};
    assert_int_equal(discover1(t, "p", "tcp", &a, &err), 0);
    assert_string_equal(a.host_port, "127.0.0.1:81");
    mpp_plugin_addr_clear(&a);
}

static void test_symlink_refused(void **state)
{
    tree *t = *state;
    _cleanup_free_ char *real = make_sock(t, "real.sock");

    mkdir_p(t, "l1");
    _cleanup_free_ char *link = P(t, "l1/p.sock");
    assert_int_equal(symlink(real, link), 0);
    expect_error(t, "l1", -EPERM, "symbolic link", link);

    /* A symlinked NAME/ directory is refused too. */
    mkdir_p(t, "elsewhere");
    free(make_sock(t, "elsewhere/p.sock"));
    mkdir_p(t, "l2");
    _cleanup_free_ char *ldir = P(t, "l2/p"), *target = P(t, "elsewhere");
    assert_int_equal(symlink(target, ldir), 0);
    expect_error(t, "l2", -EPERM, "symbolic link", ldir);

    /* A spec file that is a symlink, and a spec naming a symlink. */
    _cleanup_free_ char *url = unix_url(real);
    _cleanup_free_ char *spec = make_spec(t, "real.spec", url);
    mkdir_p(t, "l3");
    _cleanup_free_ char *lspec = P(t, "l3/p.spec");
    assert_int_equal(symlink(spec, lspec), 0);
    expect_error(t, "l3", -EPERM, "symbolic link", lspec);

    mkdir_p(t, "l4");
    _cleanup_free_ char *sock_link = P(t, "l4-sock-link");
    assert_int_equal(symlink(real, sock_link), 0);
    _cleanup_free_ char *lurl = unix_url(sock_link);
    _cleanup_free_ char *spec4 = make_spec(t, "l4/p.spec", lurl);
    expect_error(t, "l4", -EPERM, "symbolic link", sock_link);
}

static void test_untrusted_socket_mode(void **state)
{
    tree *t = *state;
    mkdir_p(t, "m");
    _cleanup_free_ char *s = make_sock(t, "m/p.sock");
    assert_int_equal(chmod(s, 0666), 0);
    expect_error(t, "m", -EPERM, s, "mode 0666");
    assert_int_equal(chmod(s, 0775), 0);
    expect_error(t, "m", -EPERM, "not writable by group or others", "0775");
    assert_int_equal(chmod(s, 0700), 0);
    expect_found_unix(t, "m", "m/p.sock", s);
}

static void test_untrusted_socket_owner(void **state)
{
    tree *t = *state;
    if (geteuid() != 0)
        skip();
    mkdir_p(t, "o");
    _cleanup_free_ char *s = make_sock(t, "o/p.sock");
    assert_int_equal(chown(s, 1000, 0), 0);
    expect_error(t, "o", -EPERM, "owned by uid 1000", s);

    /* A root-owned socket in a group other than root's is fine: the mode guards writes. */
    assert_int_equal(chown(s, 0, 1000), 0);
    expect_found_unix(t, "o", "o/p.sock", s);

    /* The same for a json file. */
    mkdir_p(t, "oj");
    _cleanup_free_ char *jf = make_file(t, "oj/p.json", "{\"Addr\": \"tcp://h:1\"}", 0644);
    assert_int_equal(chown(jf, 1000, 1000), 0);
    expect_error(t, "oj", -EPERM, "owned by uid 1000", jf);
}

static void test_spec_group_writable(void **state)
{
    tree *t = *state;
    _cleanup_free_ char *real = make_sock(t, "real.sock");
    _cleanup_free_ char *url = unix_url(real);
    mkdir_p(t, "g");
    _cleanup_free_ char *spec = make_spec(t, "g/p.spec", url);
    assert_int_equal(chmod(spec, 0664), 0);
    expect_error(t, "g", -EPERM, spec, "mode 0664");
    assert_int_equal(chmod(spec, 0646), 0);
    expect_error(t, "g", -EPERM, spec, "mode 0646");
    assert_int_equal(chmod(spec, 0600), 0);
    expect_found_unix(t, "g", "g/p.spec", real);
}

static void test_spec_to_untrusted_socket(void **state)
{
    tree *t = *state;
    _cleanup_free_ char *bad = make_sock(t, "bad.sock");
    assert_int_equal(chmod(bad, 0777), 0);
    _cleanup_free_ char *url = unix_url(bad);
    mkdir_p(t, "s");
    _cleanup_free_ char *spec = make_spec(t, "s/p.spec", url);
    expect_error(t, "s", -EPERM, bad, spec);

    if (geteuid() == 0) {
        assert_int_equal(chmod(bad, 0755), 0);
        assert_int_equal(chown(bad, 1000, 1000), 0);
        expect_error(t, "s", -EPERM, "owned by uid 1000", bad);
    }

    /* Through a json file too. */
    mkdir_p(t, "sj");
    _cleanup_free_ char *j = NULL;
    assert_true(asprintf(&j, "{\"Addr\": \"%s\"}", url) > 0);
    free(make_file(t, "sj/p.json", j, 0644));
    expect_error(t, "sj", -EPERM, bad, "Addr");

    /* A spec naming a socket that is gone, or something that is not a socket. */
    assert_int_equal(unlink(bad), 0);
    expect_error(t, "s", -ENOENT, bad, "does not exist");
    _cleanup_free_ char *reg = make_file(t, "regular", "x", 0644);
    _cleanup_free_ char *rurl = unix_url(reg);
    free(make_spec(t, "s/p.spec", rurl));
    expect_error(t, "s", -ENOTSOCK, reg, "not a socket");
}

static void test_tls_refused(void **state)
{
    tree *t = *state;
    mkdir_p(t, "t");
    _cleanup_free_ char *jf =
        make_file(t, "t/p.json",
                  "{\"Name\": \"p\", \"Addr\": \"tcp://127.0.0.1:443\", "
                  "\"TLSConfig\": {\"InsecureSkipVerify\": false, \"CAFile\": \"/ca.pem\"}}",
                  0644);
    expect_error(t, "t", -EOPNOTSUPP, "TLSConfig is not supported", jf);
}

static void test_garbage_refused(void **state)
{
    tree *t = *state;
    mkdir_p(t, "x");
    static const char *const specs[] = {
        "hello",
        "ftp://host:21",
        "unix://relative/path.sock",
        "unix:/one-slash.sock",
        "tcp://host",
        "tcp://host:",
        "tcp://:80",
        "tcp://host:0",
        "tcp://host:65536",
        "tcp://host:80/path",
        "tcp://user@host:80",
        "tcp://host:80?x=1",
        "tcp://[::1:80",
        "tcp://127.0.0.1:80\ntcp://127.0.0.1:81",
        "tcp://127.0.0.1 :80",
        "",
        "\n\n",
    };
    for (size_t i = 0; i < ELEMENTSOF(specs); i++) {
        _cleanup_free_ char *f = make_file(t, "x/p.spec", specs[i], 0644);
        expect_error(t, "x", -EINVAL, f, NULL);
    }

    mkdir_p(t, "y");
    static const char *const jsons[] = {
        "not json",      "[\"tcp://h:1\"]",           "{\"Name\": \"p\"}",
        "{\"Addr\": 5}", "{\"Addr\": \"ftp://h:1\"}", "{\"Addr\": \"tcp://h:1\"",
    };
    for (size_t i = 0; i < ELEMENTSOF(jsons); i++) {
        _cleanup_free_ char *f = make_file(t, "y/p.json", jsons[i], 0644);
        mpp_plugin_addr a;
        mpp_error err = {0};
        int r = discover1(t, "p", "y", &a, &err);
        if (r >= 0)
            fail_msg("accepted %s", jsons[i]);
        if (!strstr(err.msg, f) || !strstr(err.msg, "plugin \"p\""))
            fail_msg("message does not name the plugin and %s: %s", f, err.msg);
    }

    /* Wrong file types for their names. */
    mkdir_p(t, "z");
    _cleanup_free_ char *notsock = make_file(t, "z/p.sock", "", 0644);
    expect_error(t, "z", -ENOTSOCK, notsock, "not a socket");
    assert_int_equal(unlink(notsock), 0);
    mkdir_p(t, "z/p.spec");
    expect_error(t, "z", -EINVAL, "not a regular file", "z/p.spec");
}

static void test_not_found_lists_dirs(void **state)
{
    tree *t = *state;
    mkdir_p(t, "one");
    mkdir_p(t, "two");
    _cleanup_free_ char *one = P(t, "one"), *two = P(t, "two"), *three = P(t, "three");
    char *dirs[] = {one, two, three};
    mpp_plugin_addr a;
    mpp_error err = {0};
    assert_int_equal(mpp_discover("nope", dirs, 3, &a, &err), -ENOENT);
    _cleanup_free_ char *want = NULL;
    assert_true(asprintf(&want, "plugin \"nope\" not found in %s, %s, %s", one, two, three) > 0);
    if (strncmp(err.msg, want, strlen(want)) != 0)
        fail_msg("got \"%s\", want a message starting \"%s\"", err.msg, want);

    /* An empty NAME/ directory and files of other plugins do not count. */
    mkdir_p(t, "one/nope");
    free(make_sock(t, "one/nope2.sock"));
    free(make_file(t, "two/nope", "", 0644));
    assert_int_equal(mpp_discover("nope", dirs, 3, &a, &err), -ENOENT);
}

static void test_bad_names(void **state)
{
    tree *t = *state;
    mkdir_p(t, "n");
    static const char *const names[] = {"../x", "a/b", "", "-x", ".x", ".."};
    for (size_t i = 0; i < ELEMENTSOF(names); i++) {
        mpp_plugin_addr a;
        mpp_error err = {0};
        _cleanup_free_ char *d = P(t, "n");
        char *dirs[] = {d};
        assert_int_equal(mpp_discover(names[i], dirs, 1, &a, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "invalid plugin name"));
    }
}

static void test_identity(void **state)
{
    tree *t = *state;
    mkdir_p(t, "i");
    _cleanup_free_ char *s = make_sock(t, "i/p.sock");
    mpp_plugin_addr a;
    mpp_error err = {0};
    assert_int_equal(discover1(t, "p", "i", &a, &err), 0);

    _cleanup_free_ char *id1 = NULL, *id2 = NULL, *id3 = NULL;
    assert_int_equal(mpp_plugin_identity(&a, &id1, &err), 0);
    assert_int_equal(mpp_plugin_identity(&a, &id2, &err), 0);
    assert_string_equal(id1, id2);
    _cleanup_free_ char *prefix = NULL;
    assert_true(asprintf(&prefix, "unix:%s:", s) > 0);
    assert_true(strncmp(id1, prefix, strlen(prefix)) == 0);

    /* The plugin restarts: a new socket at the same path is a new identity. */
    struct timespec ts = {.tv_nsec = 20 * 1000 * 1000};
    nanosleep(&ts, NULL);
    close(t->socks[--t->n_socks]);
    assert_int_equal(unlink(s), 0);
    free(make_sock(t, "i/p.sock"));
    assert_int_equal(mpp_plugin_identity(&a, &id3, &err), 0);
    assert_string_not_equal(id1, id3);
    assert_true(strncmp(id3, prefix, strlen(prefix)) == 0);

    /* Gone: an error naming it. */
    close(t->socks[--t->n_socks]);
    assert_int_equal(unlink(s), 0);
    char *id4 = NULL;
    assert_int_equal(mpp_plugin_identity(&a, &id4, &err), -ENOENT);
    assert_null(id4);
    assert_non_null(strstr(err.msg, s));
    mpp_plugin_addr_clear(&a);
}

int main(void)
{
    umask(022);
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_each_form),
        T(test_precedence_in_dir),
        T(test_precedence_across_dirs),
        T(test_spec_and_json_tcp),
        T(test_symlink_refused),
        T(test_untrusted_socket_mode),
        T(test_untrusted_socket_owner),
        T(test_spec_group_writable),
        T(test_spec_to_untrusted_socket),
        T(test_tls_refused),
        T(test_garbage_refused),
        T(test_not_found_lists_dirs),
        T(test_bad_names),
        T(test_identity),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
