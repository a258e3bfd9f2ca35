/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of the configuration file (src/lib/config.c). */
#include <errno.h>
#include <fcntl.h>
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

#include <mpp/codec.h>
#include <mpp/config.h>

#include "macro.h"
#include "test-util.h"

DEFINE_TEST_TMPDIR("config")

static char *write_file(const char *name, const char *data, size_t len)
{
    char *path = NULL;
    assert_true(asprintf(&path, "%s/%s", tmpdir, name) > 0);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(fd, data + off, len - off);
        assert_true(n > 0);
        off += (size_t)n;
    }
    close(fd);
    return path;
}

/* An independent FNV-1a 64, to check the digest the library computes. */
static void fnv1a_hex(const char *data, size_t len, char out[17])
{
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)data[i];
        h *= 1099511628211ull;
    }
    snprintf(out, 17, "%016llx", (unsigned long long)h);
}

static void parse_ok(const char *json, mpp_config *cfg)
{
    mpp_error err = {0};
    int r = mpp_config_parse(json, strlen(json), "test.json", cfg, &err);
    if (r < 0)
        fail_msg("unexpected error %d: %s", r, err.msg);
}

/* Expect an error with code (0 = any negative) whose message contains each given fragment. */
static void parse_fails(const char *json, int code, const char *frag1, const char *frag2)
{
    mpp_config cfg;
    mpp_error err = {0};
    memset(&cfg, 0xAA, sizeof(cfg));
    int r = mpp_config_parse(json, strlen(json), "/etc/mpp/test.json", &cfg, &err);
    if (r >= 0) {
        mpp_config_clear(&cfg);
        fail_msg("expected an error for %s", json);
    }
    if (code)
        assert_int_equal(r, code);
    assert_int_equal(err.code, r);
    /* Messages start with the origin. */
    if (strncmp(err.msg, "/etc/mpp/test.json", strlen("/etc/mpp/test.json")) != 0)
        fail_msg("message does not start with the origin: %s", err.msg);
    if (frag1 && !strstr(err.msg, frag1))
        fail_msg("message \"%s\" lacks \"%s\"", err.msg, frag1);
    if (frag2 && !strstr(err.msg, frag2))
        fail_msg("message \"%s\" lacks \"%s\"", err.msg, frag2);
    /* On failure the output is left zeroed (clear is safe). */
    assert_null(cfg.plugins);
    assert_null(cfg.digest);
    mpp_config_clear(&cfg);
}

static void check_defaults(const mpp_config *c)
{
    assert_null(c->runtime);
    assert_int_equal(c->n_plugins, 0);
    assert_int_equal(c->n_plugin_dirs, 3);
    assert_string_equal(c->plugin_dirs[0], "/run/docker/plugins");
    assert_string_equal(c->plugin_dirs[1], "/etc/docker/plugins");
    assert_string_equal(c->plugin_dirs[2], "/usr/lib/docker/plugins");
    assert_string_equal(c->state_dir, "/run/mpp");
    assert_int_equal(c->call_timeout_ms, MPP_DEFAULT_CALL_TIMEOUT_MS);
    assert_int_equal(c->detach_timeout_ms, MPP_DEFAULT_DETACH_TIMEOUT_MS);
    assert_int_equal(c->max_response_bytes, MPP_DEFAULT_MAX_RESPONSE_BYTES);
}

static void test_defaults(void **state)
{
    (void)state;
    mpp_config c;
    mpp_error err = {0};
    assert_int_equal(mpp_config_defaults(&c, &err), 0);
    check_defaults(&c);
    assert_null(c.path);
    /* FNV-1a 64 of the empty string is its offset basis. */
    assert_string_equal(c.digest, "cbf29ce484222325");
    mpp_config_clear(&c);
    mpp_config_clear(&c); /* idempotent */
    mpp_config_clear(NULL);

    /* An empty object also gives the defaults. */
    parse_ok("{}", &c);
    check_defaults(&c);
    char want[17];
    fnv1a_hex("{}", 2, want);
    assert_string_equal(c.digest, want);
    mpp_config_clear(&c);

    /* null means "use the default". */
    parse_ok("{\"runtime\": null, \"plugins\": null, \"plugin_dirs\": null, \"state_dir\": null,"
             " \"call_timeout_ms\": null, \"detach_timeout_ms\": null,"
             " \"max_response_bytes\": null}",
             &c);
    check_defaults(&c);
    mpp_config_clear(&c);
}

static const char full_json[] = "{\n"
                                "  \"runtime\": \"/usr/bin/crun\",\n"
                                "  \"plugins\": [\"policy\", \"audit\", \"x:y.z_1-2\"],\n"
                                "  \"plugin_dirs\": [\"/opt/plugins\", \"/run/docker/plugins\"],\n"
                                "  \"state_dir\": \"/var/run/mpp-state\",\n"
                                "  \"call_timeout_ms\": 2500,\n"
                                "  \"detach_timeout_ms\": 60000,\n"
                                "  \"max_response_bytes\": 65536\n"
                                "}\n";

static void check_full(const mpp_config *c)
{
    assert_string_equal(c->runtime, "/usr/bin/crun");
    assert_int_equal(c->n_plugins, 3);
    assert_string_equal(c->plugins[0], "policy");
    assert_string_equal(c->plugins[1], "audit");
    assert_string_equal(c->plugins[2], "x:y.z_1-2");
    assert_int_equal(c->n_plugin_dirs, 2);
    assert_string_equal(c->plugin_dirs[0], "/opt/plugins");
    assert_string_equal(c->plugin_dirs[1], "/run/docker/plugins");
    assert_string_equal(c->state_dir, "/var/run/mpp-state");
    assert_int_equal(c->call_timeout_ms, 2500);
    assert_int_equal(c->detach_timeout_ms, 60000);
    assert_int_equal(c->max_response_bytes, 65536);
    char want[17];
    fnv1a_hex(full_json, strlen(full_json), want);
    assert_string_equal(c->digest, want);
}

static void test_full_file(void **state)
{
    (void)state;
    mpp_config c;
    parse_ok(full_json, &c);
    check_full(&c);
    assert_null(c.path);
    mpp_config_clear(&c);

    _cleanup_free_ char *path = write_file("full.json", full_json, strlen(full_json));
    mpp_error err = {0};
    int r = mpp_config_load(path, &c, &err);
    if (r < 0)
        fail_msg("load: %s", err.msg);
    check_full(&c);
    assert_string_equal(c.path, path);
    mpp_config_clear(&c);

    /* Any change to the bytes changes the digest (a cache key). */
    mpp_config c2;
    parse_ok("{ }", &c);
    parse_ok("{}", &c2);
    assert_string_not_equal(c.digest, c2.digest);
    mpp_config_clear(&c);
    mpp_config_clear(&c2);
}

static void test_wrong_types(void **state)
{
    (void)state;
    static const struct {
        const char *json;
        const char *frag1, *frag2;
    } cases[] = {
        {"{\"runtime\": 5}", "\"runtime\": expected a string, got integer", NULL},
        {"{\"runtime\": [\"/x\"]}", "\"runtime\"", "got array"},
        {"{\"plugins\": \"policy\"}", "\"plugins\"", "got string"},
        {"{\"plugins\": {}}", "\"plugins\"", "got object"},
        {"{\"plugins\": [\"a\", \"b\", 7]}", "\"plugins\"[2]: expected a string, got integer",
         NULL},
        {"{\"plugins\": [null]}", "\"plugins\"[0]: expected a string, got null", NULL},
        {"{\"plugin_dirs\": \"/run\"}", "\"plugin_dirs\"", "got string"},
        {"{\"plugin_dirs\": [\"/a\", true]}", "\"plugin_dirs\"[1]: expected a string, got boolean",
         NULL},
        {"{\"state_dir\": false}", "\"state_dir\": expected a string, got boolean", NULL},
        {"{\"call_timeout_ms\": \"10\"}", "\"call_timeout_ms\": expected an integer, got string",
         NULL},
        {"{\"call_timeout_ms\": 1.5}", "\"call_timeout_ms\": expected an integer", "real"},
        {"{\"detach_timeout_ms\": []}", "\"detach_timeout_ms\": expected an integer, got array",
         NULL},
        {"{\"max_response_bytes\": {}}", "\"max_response_bytes\": expected an integer, got object",
         NULL},
    };
    for (size_t i = 0; i < ELEMENTSOF(cases); i++)
        parse_fails(cases[i].json, -EINVAL, cases[i].frag1, cases[i].frag2);
}

static void test_unknown_key(void **state)
{
    (void)state;
    parse_fails("{\"plugin\": []}", -EINVAL, "unknown key \"plugin\" (did you mean \"plugins\"?)",
                NULL);
    parse_fails("{\"statedir\": \"/x\"}", -EINVAL,
                "unknown key \"statedir\" (did you mean \"state_dir\"?)", NULL);
    parse_fails("{\"Runtime\": \"/x\"}", -EINVAL, "(did you mean \"runtime\"?)", NULL);
    parse_fails("{\"pluigns\": []}", -EINVAL, "(did you mean \"plugins\"?)", NULL);
    /* Distance 2 is still suggested; distance 3 is not. */
    parse_fails("{\"statedr\": \"/x\"}", -EINVAL, "(did you mean \"state_dir\"?)", NULL);
    parse_fails("{\"xruntimex\": \"/x\"}", -EINVAL, "(did you mean \"runtime\"?)", NULL);
    mpp_config c0;
    mpp_error e0 = {0};
    const char *j3 = "{\"rntm\": \"/x\"}";
    assert_int_equal(mpp_config_parse(j3, strlen(j3), "o", &c0, &e0), -EINVAL);
    assert_string_equal(e0.msg, "o: unknown key \"rntm\"");
    /* Nothing within distance 2: no suggestion. */
    mpp_config c;
    mpp_error err = {0};
    const char *j = "{\"verbose\": true}";
    assert_int_equal(mpp_config_parse(j, strlen(j), "o", &c, &err), -EINVAL);
    assert_string_equal(err.msg, "o: unknown key \"verbose\"");
    /* An unknown key is an error even when its value is null. */
    parse_fails("{\"plugns\": null}", -EINVAL, "unknown key \"plugns\"", "plugins");
}

static void test_duplicates_dropped(void **state)
{
    (void)state;
    mpp_config c;
    parse_ok("{\"plugins\": [\"a\", \"b\", \"a\", \"c\", \"b\", \"a\"]}", &c);
    assert_int_equal(c.n_plugins, 3);
    assert_string_equal(c.plugins[0], "a");
    assert_string_equal(c.plugins[1], "b");
    assert_string_equal(c.plugins[2], "c");
    mpp_config_clear(&c);

    parse_ok("{\"plugins\": []}", &c);
    assert_int_equal(c.n_plugins, 0);
    mpp_config_clear(&c);
}

static void test_relative_paths(void **state)
{
    (void)state;
    parse_fails("{\"runtime\": \"crun\"}", -EINVAL, "\"runtime\": expected an absolute path",
                "\"crun\"");
    parse_fails("{\"runtime\": \"\"}", -EINVAL, "\"runtime\": expected an absolute path", NULL);
    parse_fails("{\"state_dir\": \"run/mpp\"}", -EINVAL, "\"state_dir\": expected an absolute path",
                NULL);
    parse_fails("{\"plugin_dirs\": [\"/ok\", \"rel/dir\"]}", -EINVAL,
                "\"plugin_dirs\"[1]: expected an absolute path", "rel/dir");
}

static void test_plugin_names(void **state)
{
    (void)state;
    static const char *const bad[] = {"../x", "a/b", "", "-x", ".x", "..", "a b", "x\\u00e9"};
    for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
        _cleanup_free_ char *j = NULL;
        assert_true(asprintf(&j, "{\"plugins\": [\"ok\", \"%s\"]}", bad[i]) > 0);
        parse_fails(j, -EINVAL, "\"plugins\"[1]: invalid plugin name", NULL);
    }

    char name[130];
    memset(name, 'n', 128);
    name[128] = '\0';
    _cleanup_free_ char *j128 = NULL, *j129 = NULL;
    assert_true(asprintf(&j128, "{\"plugins\": [\"%s\"]}", name) > 0);
    mpp_config c;
    parse_ok(j128, &c);
    assert_int_equal(strlen(c.plugins[0]), 128);
    mpp_config_clear(&c);
    name[128] = 'n';
    name[129] = '\0';
    assert_true(asprintf(&j129, "{\"plugins\": [\"%s\"]}", name) > 0);
    parse_fails(j129, -EINVAL, "\"plugins\"[0]: invalid plugin name", "128");

    parse_ok("{\"plugins\": [\"a\", \"Z9\", \"p.q\", \"p_q\", \"p:q\", \"p-q\", \"a..b\"]}", &c);
    assert_int_equal(c.n_plugins, 7);
    mpp_config_clear(&c);
}

static void test_integer_bounds(void **state)
{
    (void)state;
    static const char *const keys[] = {"call_timeout_ms", "detach_timeout_ms"};
    for (size_t k = 0; k < ELEMENTSOF(keys); k++) {
        _cleanup_free_ char *lo = NULL, *hi = NULL, *zero = NULL, *over = NULL, *neg = NULL;
        assert_true(asprintf(&lo, "{\"%s\": 1}", keys[k]) > 0);
        assert_true(asprintf(&hi, "{\"%s\": 3600000}", keys[k]) > 0);
        assert_true(asprintf(&zero, "{\"%s\": 0}", keys[k]) > 0);
        assert_true(asprintf(&over, "{\"%s\": 3600001}", keys[k]) > 0);
        assert_true(asprintf(&neg, "{\"%s\": -5}", keys[k]) > 0);
        mpp_config c;
        parse_ok(lo, &c);
        assert_int_equal(k ? c.detach_timeout_ms : c.call_timeout_ms, 1);
        mpp_config_clear(&c);
        parse_ok(hi, &c);
        assert_int_equal(k ? c.detach_timeout_ms : c.call_timeout_ms, 3600000);
        mpp_config_clear(&c);
        parse_fails(zero, -ERANGE, keys[k], "out of range (1..3600000)");
        parse_fails(over, -ERANGE, keys[k], "3600001");
        parse_fails(neg, -ERANGE, keys[k], "-5");
    }

    mpp_config c;
    parse_ok("{\"max_response_bytes\": 1024}", &c);
    assert_int_equal(c.max_response_bytes, 1024);
    mpp_config_clear(&c);
    _cleanup_free_ char *max = NULL, *over = NULL;
    assert_true(asprintf(&max, "{\"max_response_bytes\": %u}", MPP_CODEC_MAX_INPUT) > 0);
    assert_true(asprintf(&over, "{\"max_response_bytes\": %u}", MPP_CODEC_MAX_INPUT + 1) > 0);
    parse_ok(max, &c);
    assert_int_equal(c.max_response_bytes, MPP_CODEC_MAX_INPUT);
    mpp_config_clear(&c);
    parse_fails("{\"max_response_bytes\": 1023}", -ERANGE, "\"max_response_bytes\"", "1023");
    parse_fails(over, -ERANGE, "\"max_response_bytes\"", "out of range");
    parse_fails("{\"max_response_bytes\": 99999999999999999999}", 0, NULL, NULL);
}

static void test_missing_explicit_file(void **state)
{
    (void)state;
    _cleanup_free_ char *path = NULL;
    assert_true(asprintf(&path, "%s/does-not-exist.json", tmpdir) > 0);
    mpp_config c;
    mpp_error err = {0};
    assert_int_equal(mpp_config_load(path, &c, &err), -ENOENT);
    assert_non_null(strstr(err.msg, path));

    /* $MPP_CONFIG naming a missing file is an error too, not the defaults. */
    setenv("MPP_CONFIG", path, 1);
    mpp_error_clear(&err);
    assert_int_equal(mpp_config_load(NULL, &c, &err), -ENOENT);
    assert_non_null(strstr(err.msg, path));
    assert_non_null(strstr(err.msg, "MPP_CONFIG"));

    /* $MPP_CONFIG naming a good file is loaded. */
    _cleanup_free_ char *good = write_file("env.json", full_json, strlen(full_json));
    setenv("MPP_CONFIG", good, 1);
    assert_int_equal(mpp_config_load(NULL, &c, &err), 0);
    check_full(&c);
    assert_string_equal(c.path, good);
    mpp_config_clear(&c);

    /* An explicit path wins over $MPP_CONFIG. */
    mpp_error_clear(&err);
    assert_int_equal(mpp_config_load(path, &c, &err), -ENOENT);
    unsetenv("MPP_CONFIG");
}

static void test_missing_default(void **state)
{
    (void)state;
    unsetenv("MPP_CONFIG");
    if (access(MPP_DEFAULT_CONFIG, F_OK) == 0 || errno != ENOENT)
        skip(); /* this machine has a real configuration: nothing to assert about defaults */
    mpp_config c;
    mpp_error err = {0};
    int r = mpp_config_load(NULL, &c, &err);
    if (r < 0)
        fail_msg("load of missing default: %s", err.msg);
    check_defaults(&c);
    assert_null(c.path);
    assert_string_equal(c.digest, "cbf29ce484222325");
    mpp_config_clear(&c);

    /* An empty $MPP_CONFIG counts as unset. */
    setenv("MPP_CONFIG", "", 1);
    assert_int_equal(mpp_config_load(NULL, &c, &err), 0);
    check_defaults(&c);
    mpp_config_clear(&c);
    unsetenv("MPP_CONFIG");
}

static void test_oversize_file(void **state)
{
    (void)state;
    const size_t mib = 1024 * 1024;
    char *buf = malloc(mib + 2);
    assert_non_null(buf);
    memset(buf, ' ', mib + 1);
    buf[0] = '{';
    buf[mib - 1] = '}';

    /* Exactly 1 MiB is accepted. */
    _cleanup_free_ char *ok = write_file("one-mib.json", buf, mib);
    mpp_config c;
    mpp_error err = {0};
    int r = mpp_config_load(ok, &c, &err);
    if (r < 0)
        fail_msg("1 MiB file: %s", err.msg);
    mpp_config_clear(&c);

    /* One byte more is refused. */
    buf[mib - 1] = ' ';
    buf[mib] = '}';
    _cleanup_free_ char *big = write_file("big.json", buf, mib + 1);
    free(buf);
    assert_int_equal(mpp_config_load(big, &c, &err), -EFBIG);
    assert_non_null(strstr(err.msg, big));
    assert_non_null(strstr(err.msg, "larger than"));
}

static void test_not_an_object(void **state)
{
    (void)state;
    parse_fails("[]", -EINVAL, "expected a JSON object", "array");
    parse_fails("\"plugins\"", -EINVAL, "expected a JSON object", "string");
    parse_fails("42", -EINVAL, "expected a JSON object", "integer");
}

static void test_truncated_json(void **state)
{
    (void)state;
    parse_fails("{\"plugins\": [\"a\"", -EBADMSG, NULL, NULL);
    parse_fails("", -EBADMSG, NULL, NULL);
    parse_fails("{\"plugins\": [\"a\"]} trailing", -EBADMSG, NULL, NULL);

    _cleanup_free_ char *path = write_file("trunc.json", "{\"state_dir\": \"/x", 17);
    mpp_config c;
    mpp_error err = {0};
    assert_int_equal(mpp_config_load(path, &c, &err), -EBADMSG);
    assert_true(strncmp(err.msg, path, strlen(path)) == 0);
}

static void test_file_errors_name_the_file(void **state)
{
    (void)state;
    const char *j = "{\"plugins\": [\"ok\", 3]}";
    _cleanup_free_ char *path = write_file("bad-type.json", j, strlen(j));
    mpp_config c;
    mpp_error err = {0};
    assert_int_equal(mpp_config_load(path, &c, &err), -EINVAL);
    _cleanup_free_ char *want = NULL;
    assert_true(asprintf(&want, "%s: \"plugins\"[1]: expected a string, got integer", path) > 0);
    assert_string_equal(err.msg, want);

    /* A directory is not a configuration file. */
    mpp_error_clear(&err);
    assert_true(mpp_config_load(tmpdir, &c, &err) < 0);
    assert_non_null(strstr(err.msg, tmpdir));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_full_file),
        cmocka_unit_test(test_wrong_types),
        cmocka_unit_test(test_unknown_key),
        cmocka_unit_test(test_duplicates_dropped),
        cmocka_unit_test(test_relative_paths),
        cmocka_unit_test(test_plugin_names),
        cmocka_unit_test(test_integer_bounds),
        cmocka_unit_test(test_missing_explicit_file),
        cmocka_unit_test(test_missing_default),
        cmocka_unit_test(test_oversize_file),
        cmocka_unit_test(test_not_an_object),
        cmocka_unit_test(test_truncated_json),
        cmocka_unit_test(test_file_errors_name_the_file),
    };
    return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
