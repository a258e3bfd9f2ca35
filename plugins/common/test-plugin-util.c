/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of the plugins' shared code (plugin-util.c). */
#include <errno.h>
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

#include <mpp/pattern.h>

#include "macro.h"
#include "plugin-util.h"

static char tmpdir[] = "/tmp/mpp-test-plugin-util-XXXXXX";

static int setup_dir(void **state)
{
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_dir(void **state)
{
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static char *write_file(const char *name, const char *text)
{
    char *path = NULL;
    assert_true(asprintf(&path, "%s/%s", tmpdir, name) > 0);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

/* Load text as a config and expect an error whose message contains want. */
static void expect_load_error(const char *text, const char *want)
{
    _cleanup_free_ char *path = write_file("c.json", text);
    json_t *j = (json_t *)1;
    mpp_error err = {0};
    assert_true(pu_config_load(path, &j, &err) < 0);
    assert_null(j);
    if (!strstr(err.msg, want) || strncmp(err.msg, path, strlen(path)) != 0)
        fail_msg("message \"%s\" lacks \"%s\" or the file name", err.msg, want);
}

static void test_config_load(void **state)
{
    expect_load_error("{\"a\": 1,\n \"b\": }", "line 2 column");
    expect_load_error("{\"a\": 1, \"a\": 2}", "duplicate");
    expect_load_error("[1]", "expected an object at the top level, got array");

    mpp_error err = {0};
    json_t *j = NULL;
    assert_int_equal(pu_config_load("/nonexistent/x.json", &j, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "/nonexistent/x.json: cannot open"));

    /* Over 1 MiB: refused before parsing. */
    char *big = malloc(PU_CONFIG_MAX + 16);
    assert_non_null(big);
    memset(big, ' ', PU_CONFIG_MAX + 8);
    memcpy(big, "{}", 2);
    big[PU_CONFIG_MAX + 8] = '\0';
    _cleanup_free_ char *path = write_file("big.json", big);
    free(big);
    assert_int_equal(pu_config_load(path, &j, &err), -E2BIG);
    assert_non_null(strstr(err.msg, "too large"));

    _cleanup_free_ char *ok = write_file("ok.json", "{\"k\": \"v\"}");
    assert_int_equal(pu_config_load(ok, &j, &err), 0);
    assert_string_equal(json_string_value(json_object_get(j, "k")), "v");
    json_decref(j);
}

static void test_getters(void **state)
{
    json_error_t jerr;
    _cleanup_json_ json_t *j =
        json_loads("{\"s\": \"x\", \"b\": true, \"u\": 7, \"neg\": -1, \"l\": [\"a\", \"b\"],"
                   " \"bad\": [1], \"n\": null}",
                   0, &jerr);
    assert_non_null(j);
    mpp_error err = {0};
    const char *s;
    bool b;
    uint64_t u;

    assert_int_equal(pu_get_string(j, "F", "s", "d", &s, &err), 0);
    assert_string_equal(s, "x");
    assert_int_equal(pu_get_string(j, "F", "missing", "d", &s, &err), 0);
    assert_string_equal(s, "d");
    assert_int_equal(pu_get_string(j, "F", "n", "d", &s, &err), 0); /* null = absent */
    assert_string_equal(s, "d");
    assert_true(pu_get_string(j, "F", "u", NULL, &s, &err) < 0);
    assert_string_equal(err.msg, "F: u: expected a string, got integer");

    assert_int_equal(pu_get_bool(j, "F", "b", false, &b, &err), 0);
    assert_true(b);
    assert_true(pu_get_bool(j, "F", "s", false, &b, &err) < 0);
    assert_string_equal(err.msg, "F: s: expected true or false, got string");

    assert_int_equal(pu_get_uint(j, "F", "u", 0, 10, &u, &err), 0);
    assert_int_equal(u, 7);
    assert_int_equal(pu_get_uint(j, "F", "u", 0, 5, &u, &err), -ERANGE);
    assert_int_equal(pu_get_uint(j, "F", "neg", 0, 5, &u, &err), -ERANGE);
    assert_non_null(strstr(err.msg, "F: neg: expected an integer from 0 to 5, got -1"));

    const char **l = NULL;
    size_t n = 0;
    assert_int_equal(pu_get_strings(j, "F", "l", &l, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(l[1], "b");
    free(l);
    assert_true(pu_get_strings(j, "F", "bad", &l, &n, &err) < 0);
    assert_string_equal(err.msg, "F: bad[0]: expected a string, got integer");

    static const char *const known[] = {"s", "b", "u", "neg", "l", "bad", NULL};
    assert_true(pu_check_keys(j, "F", known, &err) < 0);
    assert_string_equal(err.msg, "F: unknown key \"n\" (known keys: s, b, u, neg, l, bad)");
}

static void test_patterns(void **state)
{
    json_error_t jerr;
    _cleanup_json_ json_t *j =
        json_loads("{\"p\": [{\"Type\": \"bind\", \"Source\": [{\"PathPrefix\": \"/srv\"}]}],"
                   " \"bad\": [{\"Type\": 3}], \"obj\": {},"
                   " \"when\": [{\"Exists\": [{\"Key\": {\"Exactly\": \"team\"}}]}]}",
                   0, &jerr);
    assert_non_null(j);
    mpp_error err = {0};
    mpp_pattern *ps = NULL;
    size_t n = 0;
    assert_int_equal(pu_get_patterns(j, "F", "p", &ps, &n, &err), 1);
    assert_int_equal(n, 1);
    mpp_mount m = {.source = "/srv/x", .type = "bind"};
    assert_int_equal(mpp_patterns_match(ps, n, &m), 0);
    m.source = "/etc";
    assert_int_equal(mpp_patterns_match(ps, n, &m), -1);
    mpp_patterns_free(ps, n);

    assert_int_equal(pu_get_patterns(j, "F", "none", &ps, &n, &err), 0);
    assert_null(ps);
    assert_true(pu_get_patterns(j, "F", "bad", &ps, &n, &err) < 0);
    assert_true(strncmp(err.msg, "F: bad: ", 8) == 0);

    mpp_strmap_patterns when;
    assert_int_equal(pu_get_strmap_patterns(j, "F", "when", &when, &err), 1);
    assert_int_equal(when.n, 1);
    mpp_kv kv = {.key = "team", .value = "a"};
    mpp_strmap labels = {.items = &kv, .n = 1};
    assert_true(mpp_strmap_patterns_match(&when, &labels));
    labels.n = 0;
    assert_false(mpp_strmap_patterns_match(&when, &labels));
    pu_strmap_patterns_clear(&when);
    assert_true(pu_get_strmap_patterns(j, "F", "obj", &when, &err) < 0);
    assert_string_equal(err.msg, "F: obj: expected a list of StringMapPatterns, got object");
    assert_int_equal(pu_get_strmap_patterns(j, "F", "none", &when, &err), 0);
    assert_int_equal(when.n, 0);
}

static void test_state(void **state)
{
    char dir[256];
    snprintf(dir, sizeof(dir), "%s/a/state", tmpdir);
    mpp_error err = {0};
    assert_int_equal(pu_state_dir_ensure(dir, &err), 0);
    struct stat st;
    assert_int_equal(stat(dir, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0700);
    chmod(dir, 0755);
    assert_int_equal(pu_state_dir_ensure(dir, &err), 0);
    assert_int_equal(stat(dir, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0700);

    json_t *in = json_pack("{s:s}", "k", "v");
    assert_int_equal(pu_state_write(dir, "c1", in, &err), 0);
    json_decref(in);
    json_t *out = NULL;
    assert_int_equal(pu_state_read(dir, "c1", &out, &err), 0);
    assert_string_equal(json_string_value(json_object_get(out, "k")), "v");
    json_decref(out);

    char **ids = NULL;
    size_t n = 0;
    assert_int_equal(pu_state_list(dir, &ids, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(ids[0], "c1");
    pu_strv_free(ids, n);

    assert_int_equal(pu_state_read(dir, "c2", &out, &err), -ENOENT);
    assert_int_equal(pu_state_write(dir, "../evil", json_null(), &err), -EINVAL);
    assert_non_null(strstr(err.msg, "invalid container ID"));
    assert_int_equal(pu_state_remove(dir, "c1", &err), 0);
    assert_int_equal(pu_state_remove(dir, "c1", &err), 0);
    assert_int_equal(pu_state_read(dir, "c1", &out, &err), -ENOENT);

    /* A file in the way of the state directory. */
    _cleanup_free_ char *file = write_file("notadir", "");
    assert_int_equal(pu_state_dir_ensure(file, &err), -ENOTDIR);
}

static void test_paths_and_args(void **state)
{
    assert_true(pu_path_is_safe("/"));
    assert_true(pu_path_is_safe("/a/b"));
    assert_true(pu_path_is_safe("/a/b/"));
    assert_false(pu_path_is_safe("a/b"));
    assert_false(pu_path_is_safe("/a/../b"));
    assert_false(pu_path_is_safe("/a/./b"));
    assert_false(pu_path_is_safe("/a//b"));
    assert_false(pu_path_is_safe("/.."));
    assert_true(pu_path_is_safe("/a/..b"));

    pu_args a;
    char *argv1[] = {"x", "--config", "/c.json", "--state-dir", "/s", NULL};
    assert_int_equal(pu_parse_args(5, argv1, "demo", &a), 0);
    assert_string_equal(a.config, "/c.json");
    assert_string_equal(a.state_dir, "/s");
    assert_string_equal(a.socket, "/run/docker/plugins/demo.sock");
    char *argv2[] = {"x", NULL};
    assert_int_equal(pu_parse_args(1, argv2, "demo", &a), 0);
    assert_null(a.config);
    assert_string_equal(a.state_dir, "/var/lib/mpp-plugin-demo");

    /* Socket activation: no --socket means the passed socket (NULL for the SDK), but only when
     * LISTEN_PID names this process; an explicit --socket wins. */
    char pid[32];
    snprintf(pid, sizeof(pid), "%ld", (long)getpid());
    setenv("LISTEN_FDS", "1", 1);
    setenv("LISTEN_PID", pid, 1);
    assert_int_equal(pu_parse_args(1, argv2, "demo", &a), 0);
    assert_null(a.socket);
    assert_string_equal(pu_socket_name(&a), "the socket passed by socket activation");
    char *argv6[] = {"x", "--socket", "/s.sock", NULL};
    assert_int_equal(pu_parse_args(3, argv6, "demo", &a), 0);
    assert_string_equal(a.socket, "/s.sock");
    assert_string_equal(pu_socket_name(&a), "/s.sock");
    setenv("LISTEN_PID", "1", 1);
    assert_int_equal(pu_parse_args(1, argv2, "demo", &a), 0);
    assert_string_equal(a.socket, "/run/docker/plugins/demo.sock");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_PID");
    /* Errors go to stderr: silence them. */
    fflush(stderr);
    int saved = dup(2);
    assert_true(freopen("/dev/null", "w", stderr) != NULL);
    char *argv3[] = {"x", "--nope", NULL};
    int r3 = pu_parse_args(2, argv3, "demo", &a);
    char *argv4[] = {"x", "--socket", NULL};
    int r4 = pu_parse_args(2, argv4, "demo", &a);
    char *argv5[] = {"x", "extra", NULL};
    int r5 = pu_parse_args(2, argv5, "demo", &a);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    assert_int_equal(r3, -EINVAL);
    assert_int_equal(r4, -EINVAL);
    assert_int_equal(r5, -EINVAL);
}

/* The source check and the SDK's bounds on the command line (separate from the above, which
 * others edit). */
static void test_source_and_bounds(void **state)
{
    (void)state;
    assert_true(pu_source_acceptable("/srv/data"));
    assert_true(pu_source_acceptable("/a"));
    assert_false(pu_source_acceptable("/"));
    assert_false(pu_source_acceptable("//"));
    assert_false(pu_source_acceptable(""));
    assert_false(pu_source_acceptable(NULL));
    assert_false(pu_source_acceptable("srv"));
    assert_false(pu_source_acceptable("/srv/../"));
    assert_false(pu_source_acceptable("/./"));

    pu_args a;
    mpp_plugin_server_options o;
    char *argv1[] = {"x", "--socket", "/s.sock", NULL};
    assert_int_equal(pu_parse_args(3, argv1, "demo", &a), 0);
    pu_server_options(&a, &o);
    assert_string_equal(o.socket_path, "/s.sock");
    assert_int_equal(o.max_request_bytes, 0); /* the SDK's defaults */
    assert_int_equal(o.max_connections, 0);
    assert_int_equal(o.idle_timeout_s, 0);
    assert_false(o.attach_unselected);
    char *argv2[] = {"x",  "--max-request-bytes", "4096", "--max-connections",
                     "16", "--idle-timeout",      "3",    NULL};
    assert_int_equal(pu_parse_args(7, argv2, "demo", &a), 0);
    pu_server_options(&a, &o);
    assert_int_equal(o.max_request_bytes, 4096);
    assert_int_equal(o.max_connections, 16);
    assert_int_equal(o.idle_timeout_s, 3);

    fflush(stderr);
    int saved = dup(2);
    assert_true(freopen("/dev/null", "w", stderr) != NULL);
    static const char *const bad[][2] = {
        {"--max-request-bytes", "0"},
        {"--max-request-bytes", "-5"},
        {"--max-request-bytes", "16777217"},
        {"--max-connections", "3"},
        {"--idle-timeout", "0"},
        {"--idle-timeout", "1x"},
    };
    int rs[sizeof(bad) / sizeof(bad[0])];
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *argv[] = {"x", (char *)bad[i][0], (char *)bad[i][1], NULL};
        rs[i] = pu_parse_args(3, argv, "demo", &a);
    }
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(rs[i], -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_load),    cmocka_unit_test(test_getters),
        cmocka_unit_test(test_patterns),       cmocka_unit_test(test_state),
        cmocka_unit_test(test_paths_and_args), cmocka_unit_test(test_source_and_bounds),
    };
    return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
