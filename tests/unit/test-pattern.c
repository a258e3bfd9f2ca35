/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of the pattern matcher (protocol §5). Patterns and mounts are written as the JSON a
 * plugin or the engine would send, with ' for " to keep them readable, and decoded with the
 * codec; string patterns and path cleaning are also exercised on structs directly. */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <mpp/mpp.h>

/* ---- helpers ---- */

/* JSON with ' in place of " (no value in these tests needs an apostrophe). */
static char *json(const char *text)
{
    char *s = strdup(text);
    assert_non_null(s);
    for (char *c = s; *c; c++)
        if (*c == '\'')
            *c = '"';
    return s;
}

static void decode_pattern(const char *text, mpp_pattern *p)
{
    char *s = json(text);
    mpp_error err = {0};
    int r = mpp_decode_pattern(s, strlen(s), p, &err);
    free(s);
    if (r < 0)
        fail_msg("cannot decode pattern %s: %s", text, err.msg);
}

static void decode_mount(const char *text, mpp_mount *m)
{
    char *s = json(text);
    mpp_error err = {0};
    int r = mpp_decode_mount(s, strlen(s), m, &err);
    free(s);
    if (r < 0)
        fail_msg("cannot decode mount %s: %s", text, err.msg);
}

/* A plugin's whole properties answer, as it comes over the wire. */
static void decode_properties(const char *text, mpp_properties_response *resp)
{
    char *s = json(text);
    mpp_error err = {0};
    int r = mpp_decode_properties_response(s, strlen(s), resp, &err);
    free(s);
    if (r < 0)
        fail_msg("cannot decode properties %s: %s", text, err.msg);
}

/* The compiled way (mpp_pattern_set, mpp_mount_set): the index mpp_pattern_set_match gives
 * for mount i of ms[0..n_ms) against ps[0..n). */
static int set_match(const mpp_pattern *ps, size_t n, const mpp_mount *ms, size_t n_ms, size_t i)
{
    mpp_pattern_set *set = NULL;
    mpp_mount_set *mset = NULL;
    mpp_error err = {0};
    if (mpp_pattern_set_new(ps, n, &set, &err) < 0)
        fail_msg("mpp_pattern_set_new: %s", err.msg);
    if (mpp_mount_set_new(ms, n_ms, &mset, &err) < 0)
        fail_msg("mpp_mount_set_new: %s", err.msg);
    int r = mpp_pattern_set_match(set, mset, i);
    mpp_mount_set_free(mset);
    mpp_pattern_set_free(set);
    return r;
}

/* mpp_pattern_match, checked against the compiled way: every test of the plain matcher below
 * tests the compiled one too. */
static bool both_match(const mpp_pattern *p, const mpp_mount *m)
{
    bool r = mpp_pattern_match(p, m);
    bool c = set_match(p, 1, m, 1, 0) == 0;
    if (r != c)
        fail_msg("mpp_pattern_match says %d, the compiled sets %d", r, c);
    return r;
}

static bool pattern_matches(const char *pattern_json, const char *mount_json)
{
    mpp_pattern p;
    mpp_mount m = {0};
    decode_pattern(pattern_json, &p);
    decode_mount(mount_json, &m);
    bool r = both_match(&p, &m);
    mpp_pattern_clear(&p);
    mpp_mount_clear(&m);
    return r;
}

/* mpp_string_pattern_match on s, checked against the compiled way with sp as the only
 * Destination pattern and s as the mount's Destination, and as a label's value. */
static bool sp_matches(const mpp_string_pattern *sp, const char *s)
{
    bool r = mpp_string_pattern_match(sp, s);

    mpp_string_pattern copy = *sp;
    mpp_pattern p;
    mpp_pattern_init(&p);
    p.destination = (mpp_string_patterns){&copy, 1};
    mpp_mount m = {.destination = (char *)s};
    if ((set_match(&p, 1, &m, 1, 0) == 0) != r)
        fail_msg("on \"%s\": mpp_string_pattern_match says %d, a compiled Destination %d",
                 s ? s : "(null)", r, !r);

    mpp_kv_pattern kv = {.key = {.exactly = "k"}, .value = *sp};
    mpp_strmap_pattern mp = {.exists = &kv, .n_exists = 1};
    mpp_pattern_init(&p);
    p.container_labels = (mpp_strmap_patterns){&mp, 1};
    mpp_kv entry = {"k", (char *)s};
    m = (mpp_mount){.container.labels = {&entry, 1}};
    if ((set_match(&p, 1, &m, 1, 0) == 0) != r)
        fail_msg("on \"%s\": mpp_string_pattern_match says %d, a compiled label value %d",
                 s ? s : "(null)", r, !r);
    return r;
}

#define EXPECT_PATTERN(want, pattern_json, mount_json)                                             \
    do {                                                                                           \
        if (pattern_matches(pattern_json, mount_json) != (want))                                   \
            fail_msg("pattern %s on mount %s: expected %s", pattern_json, mount_json,              \
                     (want) ? "a match" : "no match");                                             \
    } while (0)

#define EXPECT_SP(want, sp, value)                                                                 \
    do {                                                                                           \
        mpp_string_pattern sp_ = sp;                                                               \
        const char *v_ = (value);                                                                  \
        if (sp_matches(&sp_, v_) != (want))                                                        \
            fail_msg("%s on \"%s\": expected %s", #sp, v_ ? v_ : "(null)",                         \
                     (want) ? "a match" : "no match");                                             \
    } while (0)

#define SP(...) ((mpp_string_pattern){__VA_ARGS__})

/* ---- mpp_path_clean ---- */

static void test_path_clean_table(void **state)
{
    static const struct {
        const char *in, *out;
    } table[] = {
        {"", "."},
        {".", "."},
        {"..", ".."},
        {"/", "/"},
        {"//", "/"},
        {"///", "/"},
        {"a", "a"},
        {"a/", "a"},
        {"abc", "abc"},
        {"abc/def", "abc/def"},
        {"a/b/c", "a/b/c"},
        {"//a//b/", "/a/b"},
        {"/abc//def//ghi", "/abc/def/ghi"},
        {"/../a", "/a"},
        {"/..", "/"},
        {"/../..", "/"},
        {"a/../..", ".."},
        {"../a/..", ".."},
        {"../../a", "../../a"},
        {"a/b/../../..", ".."},
        {"/a/b/../../..", "/"},
        {"/a/./b/..", "/a"},
        {"./", "."},
        {"./a", "a"},
        {"a/.", "a"},
        {"a/./b", "a/b"},
        {"abc/def/../ghi", "abc/ghi"},
        {"abc/./../def", "def"},
        {"abc//./../def", "def"},
        {"abc/../../././../def", "../../def"},
        {"/a/b/../c", "/a/c"},
        {"...", "..."},
        {".../a", ".../a"},
        {"/..a/b", "/..a/b"},
        {"/a.b/.c", "/a.b/.c"},
        {"a/..", "."},
        {"/a/..", "/"},
    };

    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        char out[64];
        int r = mpp_path_clean(table[i].in, out, sizeof(out));
        if (r < 0 || strcmp(out, table[i].out) != 0 || (size_t)r != strlen(table[i].out))
            fail_msg("clean(\"%s\") = %d \"%s\", expected \"%s\"", table[i].in, r, r < 0 ? "" : out,
                     table[i].out);
    }

    char out[8];
    assert_int_equal(mpp_path_clean(NULL, out, sizeof(out)), 1);
    assert_string_equal(out, ".");
}

static void test_path_clean_bounds(void **state)
{
    char out[8];

    /* The result and its NUL must fit. */
    assert_int_equal(mpp_path_clean("/abc", out, 5), 4);
    assert_string_equal(out, "/abc");
    assert_int_equal(mpp_path_clean("/abc", out, 4), -ENAMETOOLONG);
    assert_int_equal(mpp_path_clean("", out, 1), -ENAMETOOLONG);
    assert_int_equal(mpp_path_clean("", out, 2), 1);
    assert_int_equal(mpp_path_clean("/a", out, 0), -ENAMETOOLONG);

    /* What counts is the cleaned length, not the input's. */
    assert_int_equal(mpp_path_clean("/a/bcdefghijklmnop/../b", out, sizeof(out)), 4);
    assert_string_equal(out, "/a/b");
}

/* Go's path.Clean as Go writes it, left to right with a stack of components, in a buffer
 * big enough for any intermediate state: the reference the library's version must agree with. */
static void ref_clean(const char *p, char *out)
{
    size_t n = strlen(p), r = 0, w = 0, dotdot = 0;
    bool rooted = n > 0 && p[0] == '/';
    if (rooted) {
        out[w++] = '/';
        r = dotdot = 1;
    }
    while (r < n) {
        if (p[r] == '/') {
            r++;
        } else if (p[r] == '.' && (r + 1 == n || p[r + 1] == '/')) {
            r++;
        } else if (p[r] == '.' && p[r + 1] == '.' && (r + 2 == n || p[r + 2] == '/')) {
            r += 2;
            if (w > dotdot) {
                w--;
                while (w > dotdot && out[w] != '/')
                    w--;
            } else if (!rooted) {
                if (w > 0)
                    out[w++] = '/';
                out[w++] = '.';
                out[w++] = '.';
                dotdot = w;
            }
        } else {
            if ((rooted && w != 1) || (!rooted && w != 0))
                out[w++] = '/';
            for (; r < n && p[r] != '/'; r++)
                out[w++] = p[r];
        }
    }
    if (w == 0)
        out[w++] = '.';
    out[w] = '\0';
}

/* No empty component, no ".", and ".." only leading a relative path. */
static bool looks_clean(const char *s)
{
    if (strcmp(s, "/") == 0 || strcmp(s, ".") == 0)
        return true;
    bool rooted = s[0] == '/', leading = !rooted;
    const char *c = rooted ? s + 1 : s;
    for (;;) {
        size_t len = strcspn(c, "/");
        if (len == 0 || (len == 1 && c[0] == '.'))
            return false;
        if (len == 2 && c[0] == '.' && c[1] == '.') {
            if (!leading)
                return false;
        } else {
            leading = false;
        }
        if (c[len] == '\0')
            return true;
        c += len + 1;
    }
}

/* On random inputs over a small alphabet (which hits the corners): the same result as Go's
 * own algorithm, a result that looks clean, idempotence, rootedness kept, and a buffer of
 * exactly the result's size is enough. */
static void test_path_clean_properties(void **state)
{
    static const char alphabet[] = "/./a.b/..";
    unsigned seed = 12345;

    for (int iter = 0; iter < 20000; iter++) {
        char in[24], out[32], again[32];
        seed = seed * 1103515245u + 12345u;
        size_t len = (seed >> 16) % (sizeof(in) - 1);
        for (size_t i = 0; i < len; i++) {
            seed = seed * 1103515245u + 12345u;
            in[i] = alphabet[(seed >> 16) % (sizeof(alphabet) - 1)];
        }
        in[len] = '\0';

        int r = mpp_path_clean(in, out, sizeof(out));
        assert_true(r > 0);
        char ref[64];
        ref_clean(in, ref);
        if (strcmp(out, ref) != 0)
            fail_msg("clean(\"%s\") = \"%s\", Go's algorithm gives \"%s\"", in, out, ref);
        /* The buffer only has to hold the result. */
        char tight[32];
        assert_int_equal(mpp_path_clean(in, tight, (size_t)r + 1), r);
        assert_string_equal(tight, out);
        assert_int_equal(mpp_path_clean(in, tight, (size_t)r), -ENAMETOOLONG);
        assert_int_equal(mpp_path_clean(out, again, sizeof(again)), r);
        if (strcmp(out, again) != 0)
            fail_msg("clean(\"%s\") = \"%s\" is not idempotent (\"%s\")", in, out, again);
        if (!looks_clean(out))
            fail_msg("clean(\"%s\") = \"%s\" is not clean", in, out);
        if ((in[0] == '/') != (out[0] == '/'))
            fail_msg("clean(\"%s\") = \"%s\" changed rootedness", in, out);
    }
}

/* ---- StringPattern ---- */

static void test_string_plain_predicates(void **state)
{
    EXPECT_SP(true, SP(.empty = true), "");
    EXPECT_SP(true, SP(.empty = true), NULL); /* NULL is "" */
    EXPECT_SP(false, SP(.empty = true), "x");
    EXPECT_SP(false, SP(.not_ = true, .empty = true), "");
    EXPECT_SP(true, SP(.not_ = true, .empty = true), "x");

    EXPECT_SP(true, SP(.exactly = "bind"), "bind");
    EXPECT_SP(false, SP(.exactly = "bind"), "binds");
    EXPECT_SP(false, SP(.exactly = "bind"), "Bind");
    EXPECT_SP(false, SP(.exactly = "bind"), NULL);
    EXPECT_SP(false, SP(.not_ = true, .exactly = "bind"), "bind");
    EXPECT_SP(true, SP(.not_ = true, .exactly = "bind"), "bin");

    EXPECT_SP(true, SP(.prefix = "/a"), "/a");
    EXPECT_SP(true, SP(.prefix = "/a"), "/abc"); /* plain string test, not a path one */
    EXPECT_SP(false, SP(.prefix = "/a"), "/b/a");
    EXPECT_SP(false, SP(.prefix = "/a"), "/");
    EXPECT_SP(false, SP(.not_ = true, .prefix = "/a"), "/abc");
    EXPECT_SP(true, SP(.not_ = true, .prefix = "/a"), "/b");

    EXPECT_SP(true, SP(.suffix = ".sock"), "/run/docker.sock");
    EXPECT_SP(true, SP(.suffix = ".sock"), ".sock");
    EXPECT_SP(false, SP(.suffix = ".sock"), "sock");
    EXPECT_SP(false, SP(.suffix = ".sock"), "/run/docker.sock/x");
    EXPECT_SP(false, SP(.not_ = true, .suffix = ".sock"), "/run/docker.sock");
    EXPECT_SP(true, SP(.not_ = true, .suffix = ".sock"), "/run/docker");

    EXPECT_SP(true, SP(.contains = "bind"), "rbind,ro");
    EXPECT_SP(true, SP(.contains = "bind"), "bind");
    EXPECT_SP(false, SP(.contains = "bind"), "ro,nosuid");
    EXPECT_SP(false, SP(.contains = "bind"), NULL);
    EXPECT_SP(false, SP(.not_ = true, .contains = "bind"), "rbind");
    EXPECT_SP(true, SP(.not_ = true, .contains = "bind"), "ro");
}

static void test_string_all_empty(void **state)
{
    /* No predicate: matches anything; with Not there is nothing to negate, so still a match. */
    EXPECT_SP(true, SP(0), "/anything");
    EXPECT_SP(true, SP(0), "");
    EXPECT_SP(true, SP(0), NULL);
    EXPECT_SP(true, SP(.not_ = true), "/anything");
    EXPECT_SP(true, SP(.not_ = true), "");
    /* An empty string predicate is unset, as the codec decodes it. */
    EXPECT_SP(true, SP(.prefix = "", .exactly = ""), "x");
    EXPECT_SP(true, SP(.not_ = true, .prefix = "", .contains = ""), "x");
    assert_true(mpp_string_pattern_match(NULL, "x"));
}

static void test_string_multi_predicate(void **state)
{
    /* Every set predicate must hold. */
    mpp_string_pattern both = SP(.prefix = "/a", .suffix = "z");
    EXPECT_SP(true, both, "/abz");
    EXPECT_SP(true, both, "/az");
    EXPECT_SP(false, both, "/abc");
    EXPECT_SP(false, both, "xyz");

    /* Not negates each: does not start with /a AND does not end with z. */
    mpp_string_pattern neither = SP(.not_ = true, .prefix = "/a", .suffix = "z");
    EXPECT_SP(false, neither, "/abz");
    EXPECT_SP(false, neither, "/abc");
    EXPECT_SP(false, neither, "xyz");
    EXPECT_SP(true, neither, "xyc");

    /* A mix of plain and path predicates. */
    mpp_string_pattern mixed = SP(.path_prefix = "/srv", .suffix = ".db", .empty = false);
    EXPECT_SP(true, mixed, "/srv/data/main.db");
    EXPECT_SP(false, mixed, "/srvx/main.db");
    EXPECT_SP(false, mixed, "/srv/data/main.txt");

    mpp_string_pattern not_mixed = SP(.not_ = true, .path_prefix = "/etc", .empty = true);
    EXPECT_SP(true, not_mixed, "/srv");
    EXPECT_SP(false, not_mixed, "/etc/passwd");
    EXPECT_SP(false, not_mixed, ""); /* empty, so "not empty" fails */
}

static void test_string_path_prefix(void **state)
{
    mpp_string_pattern ab = SP(.path_prefix = "/a/b");
    EXPECT_SP(true, ab, "/a/b");
    EXPECT_SP(true, ab, "/a/b/");
    EXPECT_SP(true, ab, "/a/b/c");
    EXPECT_SP(true, ab, "/a/b/c/d/e");
    EXPECT_SP(true, ab, "//a//b//c");
    EXPECT_SP(true, ab, "/a/./b/c");
    EXPECT_SP(false, ab, "/a/bc");
    EXPECT_SP(false, ab, "/a/bc/d");
    EXPECT_SP(false, ab, "/a");
    EXPECT_SP(false, ab, "/");
    EXPECT_SP(false, ab, "a/b"); /* relative is not under absolute */
    EXPECT_SP(false, ab, "");
    EXPECT_SP(false, ab, NULL);
    /* ".." is resolved before comparing: these are not under /a/b. */
    EXPECT_SP(false, ab, "/a/b/../c");
    EXPECT_SP(false, ab, "/a/b/..");
    EXPECT_SP(true, ab, "/a/x/../b/y");

    /* "/a/b/../c" is /a/c. */
    EXPECT_SP(true, SP(.path_prefix = "/a/c"), "/a/b/../c");
    EXPECT_SP(true, SP(.path_prefix = "/a/c"), "/a/b/../c/d");

    /* The pattern is cleaned too: trailing slash, "..", ".", doubled slashes. */
    EXPECT_SP(true, SP(.path_prefix = "/a/b/"), "/a/b");
    EXPECT_SP(true, SP(.path_prefix = "/a/b/"), "/a/b/c");
    EXPECT_SP(false, SP(.path_prefix = "/a/b/"), "/a/bc");
    EXPECT_SP(true, SP(.path_prefix = "/x/../a/b"), "/a/b/c");
    EXPECT_SP(false, SP(.path_prefix = "/x/../a/b"), "/x/a/b");
    EXPECT_SP(true, SP(.path_prefix = "//a/./b"), "/a/b/c");

    /* "/" is above every absolute path, and only those. */
    mpp_string_pattern root = SP(.path_prefix = "/");
    EXPECT_SP(true, root, "/");
    EXPECT_SP(true, root, "/a");
    EXPECT_SP(true, root, "/a/b/c");
    EXPECT_SP(true, root, "/..");
    EXPECT_SP(false, root, "a");
    EXPECT_SP(false, root, "");

    /* Relative paths compare component-wise as well. */
    EXPECT_SP(true, SP(.path_prefix = "a"), "a/b");
    EXPECT_SP(false, SP(.path_prefix = "a"), "ab");

    /* Not. */
    mpp_string_pattern not_ab = SP(.not_ = true, .path_prefix = "/a/b");
    EXPECT_SP(false, not_ab, "/a/b");
    EXPECT_SP(false, not_ab, "/a/b/c");
    EXPECT_SP(true, not_ab, "/a/bc");
    EXPECT_SP(true, not_ab, "/a/b/../c");
    EXPECT_SP(true, not_ab, "/a");
}

static void test_string_path_contains(void **state)
{
    mpp_string_pattern ab = SP(.path_contains = "/a/b");
    EXPECT_SP(true, ab, "/");
    EXPECT_SP(true, ab, "/a");
    EXPECT_SP(true, ab, "/a/");
    EXPECT_SP(true, ab, "/a/b");
    EXPECT_SP(true, ab, "/a/b/");
    EXPECT_SP(true, ab, "//a/./b");
    EXPECT_SP(true, ab, "/a/c/..");
    EXPECT_SP(true, ab, "/x/../a");
    EXPECT_SP(false, ab, "/a/bc");
    EXPECT_SP(false, ab, "/a/b/c");
    EXPECT_SP(false, ab, "/b");
    EXPECT_SP(false, ab, "/ab");
    EXPECT_SP(false, ab, "a");
    EXPECT_SP(false, ab, "");

    /* The pattern is cleaned as well. */
    EXPECT_SP(true, SP(.path_contains = "/a/b/../c/"), "/a/c");
    EXPECT_SP(false, SP(.path_contains = "/a/b/../c/"), "/a/b");
    EXPECT_SP(true, SP(.path_contains = "/"), "/");
    EXPECT_SP(false, SP(.path_contains = "/"), "/a");

    /* The use it exists for: refuse mounts that expose /var/run/docker.sock. */
    mpp_string_pattern exposes = SP(.path_contains = "/var/run/docker.sock");
    EXPECT_SP(true, exposes, "/var/run");
    EXPECT_SP(true, exposes, "/var");
    EXPECT_SP(true, exposes, "/");
    EXPECT_SP(false, exposes, "/var/run/docker");
    EXPECT_SP(false, exposes, "/var/lib");

    mpp_string_pattern safe = SP(.not_ = true, .path_contains = "/var/run/docker.sock");
    EXPECT_SP(false, safe, "/var/run");
    EXPECT_SP(false, safe, "/");
    EXPECT_SP(true, safe, "/var/lib");
    EXPECT_SP(true, safe, "/var/run/docker.sock.d");
}

/* A path that does not fit PATH_MAX matches no path predicate, negated or not; the plain
 * predicates still work on it. */
static void test_string_path_too_long(void **state)
{
    size_t n = PATH_MAX + 10;
    char *big = malloc(n + 1);
    assert_non_null(big);
    big[0] = '/';
    memset(big + 1, 'x', n - 1);
    big[n] = '\0';

    EXPECT_SP(false, SP(.path_prefix = "/"), big);
    EXPECT_SP(false, SP(.not_ = true, .path_prefix = "/y"), big);
    EXPECT_SP(false, SP(.path_contains = "/x"), big);
    EXPECT_SP(false, SP(.not_ = true, .path_contains = "/y"), big);
    EXPECT_SP(true, SP(.prefix = "/xx"), big);
    EXPECT_SP(false, SP(.path_prefix = big), "/x");
    free(big);
}

/* The matcher skips cleaning for paths that are already clean: check that shortcut against
 * the definition (clean both, compare component-wise) on random paths. */
static bool ref_under(const char *v, const char *p)
{
    char cv[64], cp[64];
    assert_true(mpp_path_clean(v, cv, sizeof(cv)) >= 0);
    assert_true(mpp_path_clean(p, cp, sizeof(cp)) >= 0);
    size_t n = strlen(cp);
    if (strcmp(cv, cp) == 0)
        return true;
    if (strcmp(cp, "/") == 0)
        return cv[0] == '/';
    return strncmp(cv, cp, n) == 0 && cv[n] == '/';
}

static void random_path(unsigned *seed, char *out, size_t size)
{
    static const char *parts[] = {"/", "a", "b", ".", "..", "ab", "/", "."};
    size_t w = 0;
    *seed = *seed * 1103515245u + 12345u;
    int k = (int)((*seed >> 16) % 8);
    for (int i = 0; i < k; i++) {
        *seed = *seed * 1103515245u + 12345u;
        const char *part = parts[(*seed >> 16) % 8];
        size_t len = strlen(part);
        if (w + len + 1 >= size)
            break;
        memcpy(out + w, part, len);
        w += len;
    }
    out[w] = '\0';
}

static void test_string_path_random(void **state)
{
    unsigned seed = 42;
    for (int iter = 0; iter < 20000; iter++) {
        char v[32], p[32];
        random_path(&seed, v, sizeof(v));
        random_path(&seed, p, sizeof(p));
        if (p[0] == '\0')
            continue; /* "" is an unset predicate */
        bool want_prefix = ref_under(v, p), want_contains = ref_under(p, v);
        if (sp_matches(&SP(.path_prefix = p), v) != want_prefix)
            fail_msg("PathPrefix \"%s\" on \"%s\": expected %d", p, v, want_prefix);
        if (sp_matches(&SP(.not_ = true, .path_prefix = p), v) == want_prefix)
            fail_msg("Not PathPrefix \"%s\" on \"%s\": expected %d", p, v, !want_prefix);
        if (sp_matches(&SP(.path_contains = p), v) != want_contains)
            fail_msg("PathContains \"%s\" on \"%s\": expected %d", p, v, want_contains);
    }
}

static void test_string_patterns_list(void **state)
{
    mpp_string_pattern items[] = {SP(.path_prefix = "/srv"), SP(.not_ = true, .suffix = ".tmp")};
    mpp_string_patterns list = {items, 2};
    assert_true(mpp_string_patterns_match(&list, "/srv/data"));
    assert_false(mpp_string_patterns_match(&list, "/srv/data.tmp"));
    assert_false(mpp_string_patterns_match(&list, "/opt/data"));

    mpp_string_patterns none = {NULL, 0};
    assert_true(mpp_string_patterns_match(&none, "/whatever"));
    assert_true(mpp_string_patterns_match(&none, NULL));
}

/* ---- StringMapPattern, through Volume.Options and Container.Labels ---- */

#define VOL_BIND_OPTS                                                                              \
    "{'Type':'volume','Source':'/var/lib/docker/volumes/web/_data','Destination':'/web',"          \
    "'Volume':{'Name':'web','Driver':'local','Scope':'local',"                                     \
    "'Options':{'type':'none','o':'rbind,ro','device':'/srv/web'}}}"
#define VOL_ANON                                                                                   \
    "{'Type':'volume','Source':'/var/lib/docker/volumes/3f0c/_data','Destination':'/cache',"       \
    "'Volume':{'Name':'3f0c','Driver':'local','Scope':'local','Options':null}}"
#define VOL_TMPFS_OPTS                                                                             \
    "{'Type':'volume','Source':'/var/lib/docker/volumes/scratch/_data','Destination':'/tmp',"      \
    "'Volume':{'Name':'scratch','Driver':'local','Options':{'type':'tmpfs','device':'tmpfs',"      \
    "'o':'size=100m'}}}"
#define VOL_LABELS                                                                                 \
    "{'Type':'volume','Volume':{'Name':'l','Labels':{'tier':'db','backup':'daily',"                \
    "'team':'db-admins'}}}"

static void test_strmap_exists(void **state)
{
    /* Key only. */
    EXPECT_PATTERN(true, "{'Volume':{'Options':[{'Exists':[{'Key':{'Exactly':'o'}}]}]}}",
                   VOL_BIND_OPTS);
    EXPECT_PATTERN(false, "{'Volume':{'Options':[{'Exists':[{'Key':{'Exactly':'o'}}]}]}}",
                   VOL_ANON);
    /* Key and value must hold on the same entry. */
    EXPECT_PATTERN(true,
                   "{'Volume':{'Options':[{'Exists':[{'Key':{'Exactly':'o'},"
                   "'Value':{'Contains':'bind'}}]}]}}",
                   VOL_BIND_OPTS);
    EXPECT_PATTERN(false,
                   "{'Volume':{'Options':[{'Exists':[{'Key':{'Exactly':'o'},"
                   "'Value':{'Contains':'bind'}}]}]}}",
                   VOL_TMPFS_OPTS);
    EXPECT_PATTERN(false,
                   "{'Volume':{'Options':[{'Exists':[{'Key':{'Exactly':'type'},"
                   "'Value':{'Contains':'bind'}}]}]}}",
                   VOL_BIND_OPTS);
    /* Every Exists element must hold. */
    EXPECT_PATTERN(true,
                   "{'Volume':{'Options':[{'Exists':[{'Key':{'Exactly':'type'},"
                   "'Value':{'Exactly':'none'}},{'Key':{'Exactly':'device'},"
                   "'Value':{'PathPrefix':'/srv'}}]}]}}",
                   VOL_BIND_OPTS);
    EXPECT_PATTERN(false,
                   "{'Volume':{'Options':[{'Exists':[{'Key':{'Exactly':'type'},"
                   "'Value':{'Exactly':'none'}},{'Key':{'Exactly':'device'},"
                   "'Value':{'PathPrefix':'/opt'}}]}]}}",
                   VOL_BIND_OPTS);
    /* Exists on an empty or absent map never holds. */
    EXPECT_PATTERN(false, "{'Volume':{'Labels':[{'Exists':[{}]}]}}", VOL_ANON);
    EXPECT_PATTERN(true, "{'Volume':{'Labels':[{'Exists':[{}]}]}}", VOL_LABELS);
}

static void test_strmap_not_exists(void **state)
{
    /* The spec's example: none of the keys o, device, type: an anonymous local volume. */
    const char *anon = "{'Volume':{'Options':[{'Not':true,'Exists':[{'Key':{'Exactly':'o'}},"
                       "{'Key':{'Exactly':'device'}},{'Key':{'Exactly':'type'}}]}]}}";
    EXPECT_PATTERN(true, anon, VOL_ANON);
    EXPECT_PATTERN(false, anon, VOL_BIND_OPTS);
    EXPECT_PATTERN(false, anon, VOL_TMPFS_OPTS);
    /* Each element is negated on its own: one of the three keys is enough to fail. */
    EXPECT_PATTERN(false, anon,
                   "{'Type':'volume','Volume':{'Name':'x','Options':{'device':'/dev/sdb1'}}}");
    EXPECT_PATTERN(true, anon, "{'Type':'volume','Volume':{'Name':'x','Options':{'size':'10G'}}}");
}

static void test_strmap_all(void **state)
{
    /* Every entry whose key matches Key has a value matching Value. */
    const char *dbs = "{'Volume':{'Labels':[{'All':[{'Key':{'Prefix':'t'},"
                      "'Value':{'Prefix':'db'}}]}]}}";
    EXPECT_PATTERN(true, dbs, VOL_LABELS); /* tier=db, team=db-admins */
    EXPECT_PATTERN(false, dbs, "{'Volume':{'Labels':{'tier':'db','team':'web','backup':'daily'}}}");
    EXPECT_PATTERN(true, dbs, "{'Volume':{'Labels':{'backup':'daily'}}}"); /* no such key */
    EXPECT_PATTERN(true, dbs, "{'Volume':{'Labels':null}}");

    /* With no Value, every key of the map must match Key. */
    const char *keys = "{'Volume':{'Labels':[{'All':[{'Key':{'Prefix':'com.example.'}}]}]}}";
    EXPECT_PATTERN(true, keys, "{'Volume':{'Labels':{'com.example.a':'1','com.example.b':''}}}");
    EXPECT_PATTERN(false, keys, "{'Volume':{'Labels':{'com.example.a':'1','org.other':'2'}}}");
    EXPECT_PATTERN(true, keys, "{'Volume':{'Labels':{}}}"); /* vacuous */

    /* Not inverts: some key outside com.example. */
    const char *not_keys =
        "{'Volume':{'Labels':[{'Not':true,'All':[{'Key':{'Prefix':'com.example.'}}]}]}}";
    EXPECT_PATTERN(false, not_keys, "{'Volume':{'Labels':{'com.example.a':'1'}}}");
    EXPECT_PATTERN(true, not_keys, "{'Volume':{'Labels':{'com.example.a':'1','org.other':'2'}}}");
    EXPECT_PATTERN(false, not_keys, "{'Volume':{'Labels':{}}}");

    /* Not on All with a Value: some matching key has a value that does not match. */
    const char *not_dbs = "{'Volume':{'Labels':[{'Not':true,'All':[{'Key':{'Prefix':'t'},"
                          "'Value':{'Prefix':'db'}}]}]}}";
    EXPECT_PATTERN(false, not_dbs, VOL_LABELS);
    EXPECT_PATTERN(true, not_dbs, "{'Volume':{'Labels':{'tier':'web'}}}");
}

static void test_strmap_exists_and_all(void **state)
{
    /* Both kinds must hold; Not applies to each element individually. */
    const char *p = "{'Volume':{'Labels':[{'Exists':[{'Key':{'Exactly':'tier'}}],"
                    "'All':[{'Key':{'Exactly':'backup'},'Value':{'Exactly':'daily'}}]}]}}";
    EXPECT_PATTERN(true, p, VOL_LABELS);
    EXPECT_PATTERN(false, p, "{'Volume':{'Labels':{'tier':'db','backup':'never'}}}");
    EXPECT_PATTERN(false, p, "{'Volume':{'Labels':{'backup':'daily'}}}");

    const char *np = "{'Volume':{'Labels':[{'Not':true,'Exists':[{'Key':{'Exactly':'tier'}}],"
                     "'All':[{'Key':{'Exactly':'backup'},'Value':{'Exactly':'daily'}}]}]}}";
    EXPECT_PATTERN(false, np, VOL_LABELS);
    EXPECT_PATTERN(true, np, "{'Volume':{'Labels':{'backup':'never'}}}");
    EXPECT_PATTERN(false, np, "{'Volume':{'Labels':{'tier':'x','backup':'never'}}}");

    /* A list of map patterns: every element must match. */
    const char *list = "{'Volume':{'Labels':[{'Exists':[{'Key':{'Exactly':'tier'}}]},"
                       "{'Not':true,'Exists':[{'Key':{'Exactly':'secret'}}]}]}}";
    EXPECT_PATTERN(true, list, VOL_LABELS);
    EXPECT_PATTERN(false, list, "{'Volume':{'Labels':{'tier':'db','secret':'1'}}}");

    /* An empty StringMapPattern matches anything, also with Not. */
    EXPECT_PATTERN(true, "{'Volume':{'Labels':[{}]}}", VOL_LABELS);
    EXPECT_PATTERN(true, "{'Volume':{'Labels':[{'Not':true}]}}", VOL_LABELS);
}

static void test_strmap_direct(void **state)
{
    /* Through the API directly, with NULL values in the map treated as "". */
    mpp_kv items[] = {{"a", NULL}, {"b", "x"}};
    mpp_strmap m = {items, 2};
    mpp_kv_pattern exists_empty_a = {SP(.exactly = "a"), SP(.empty = true)};
    mpp_strmap_pattern p = {.exists = &exists_empty_a, .n_exists = 1};
    assert_true(mpp_strmap_pattern_match(&p, &m));
    p.not_ = true;
    assert_false(mpp_strmap_pattern_match(&p, &m));
    assert_true(mpp_strmap_pattern_match(&p, NULL)); /* no map: no entry exists */
    p.not_ = false;
    assert_false(mpp_strmap_pattern_match(&p, NULL));
    assert_true(mpp_strmap_pattern_match(NULL, &m));

    mpp_strmap_patterns none = {NULL, 0};
    assert_true(mpp_strmap_patterns_match(&none, &m));
}

/* ---- AppliedMiddleware stack patterns ---- */

/* A stack of three plugins, first applied first. */
#define STACK3                                                                                     \
    "{'Type':'bind','Source':'/data','EffectiveSource':'/cow/data','AppliedMiddleware':["          \
    "{'Name':'plugin:audit','Changes':{}},"                                                        \
    "{'Name':'plugin:cache','Changes':{'EffectiveSource':'/cache/data',"                           \
    "'EffectiveConsistency':'cached'}},"                                                           \
    "{'Name':'plugin:cow','Changes':{'EffectiveSource':'/cow/data'}}]}"
#define STACK0 "{'Type':'bind','Source':'/data','AppliedMiddleware':[]}"

#define N(name) "{'Name':[{'Exactly':'plugin:" name "'}]}"

static void expect_stack(const char *key, const char *list, bool on3, bool on0)
{
    char p[512], np[512];
    snprintf(p, sizeof(p), "{'AppliedMiddleware':{'%s':%s}}", key, list);
    snprintf(np, sizeof(np), "{'AppliedMiddleware':{'Not%s':%s}}", key, list);
    if (pattern_matches(p, STACK3) != on3)
        fail_msg("%s on the 3-stack: expected %d", p, on3);
    if (pattern_matches(np, STACK3) == on3)
        fail_msg("%s on the 3-stack: expected %d", np, !on3);
    if (pattern_matches(p, STACK0) != on0)
        fail_msg("%s on the empty stack: expected %d", p, on0);
    if (pattern_matches(np, STACK0) == on0)
        fail_msg("%s on the empty stack: expected %d", np, !on0);
}

static void test_stack_exists(void **state)
{
    expect_stack("Exists", "[" N("cache") "]", true, false);
    expect_stack("Exists", "[" N("cow") "," N("audit") "]", true, false);
    expect_stack("Exists", "[" N("cow") "," N("policy") "]", false, false);
    expect_stack("Exists", "[{'Name':[{'Prefix':'plugin:c'}]}]", true, false);
    expect_stack("Exists", "[{}]", true, false); /* any entry at all */
}

static void test_stack_all(void **state)
{
    expect_stack("All", "[{'Name':[{'Prefix':'plugin:'}]}]", true, true);
    expect_stack("All", "[" N("cache") "]", false, true);
    expect_stack("All", "[{'Name':[{'Prefix':'plugin:'}]}," N("cow") "]", false, true);
    /* Every plugin left the consistency alone? cache did not. */
    expect_stack("All", "[{'Name':[{'Not':true,'Exactly':'plugin:cache'}]}]", false, true);
}

static void test_stack_any_sequence(void **state)
{
    expect_stack("AnySequence", "[" N("audit") "," N("cache") "]", true, false);
    expect_stack("AnySequence", "[" N("cache") "," N("cow") "]", true, false);
    expect_stack("AnySequence", "[" N("cache") "]", true, false);
    expect_stack("AnySequence", "[" N("audit") "," N("cache") "," N("cow") "]", true, false);
    expect_stack("AnySequence", "[" N("audit") "," N("cow") "]", false, false);   /* gap */
    expect_stack("AnySequence", "[" N("cache") "," N("audit") "]", false, false); /* order */
    /* Longer than the stack: no match, so the Not twin holds. */
    expect_stack("AnySequence", "[{},{},{},{}]", false, false);
}

static void test_stack_top_sequence(void **state)
{
    /* Top = the first applied entries, from index 0. */
    expect_stack("TopSequence", "[" N("audit") "]", true, false);
    expect_stack("TopSequence", "[" N("audit") "," N("cache") "]", true, false);
    expect_stack("TopSequence", "[" N("audit") "," N("cache") "," N("cow") "]", true, false);
    expect_stack("TopSequence", "[" N("cache") "]", false, false);
    expect_stack("TopSequence", "[" N("cow") "]", false, false);
    expect_stack("TopSequence", "[" N("audit") "," N("cow") "]", false, false);
    expect_stack("TopSequence", "[" N("audit") "," N("cache") "," N("cow") ",{}]", false, false);
}

static void test_stack_bottom_sequence(void **state)
{
    /* Bottom = the last entries, ending at the most recent. */
    expect_stack("BottomSequence", "[" N("cow") "]", true, false);
    expect_stack("BottomSequence", "[" N("cache") "," N("cow") "]", true, false);
    expect_stack("BottomSequence", "[" N("audit") "," N("cache") "," N("cow") "]", true, false);
    expect_stack("BottomSequence", "[" N("audit") "]", false, false);
    expect_stack("BottomSequence", "[" N("cache") "]", false, false);
    expect_stack("BottomSequence", "[" N("cow") "," N("cache") "]", false, false);
    expect_stack("BottomSequence", "[{},{},{},{}]", false, false);
}

static void test_stack_relative_order(void **state)
{
    expect_stack("RelativeOrder", "[" N("audit") "," N("cow") "]", true, false);
    expect_stack("RelativeOrder", "[" N("audit") "," N("cache") "," N("cow") "]", true, false);
    expect_stack("RelativeOrder", "[" N("cache") "]", true, false);
    expect_stack("RelativeOrder", "[" N("cow") "," N("audit") "]", false, false);
    expect_stack("RelativeOrder", "[" N("cache") "," N("cache") "]", false, false);
    expect_stack("RelativeOrder", "[{},{},{},{}]", false, false);
    /* A greedy match must not consume an entry a later element needs. */
    expect_stack("RelativeOrder", "[{'Name':[{'Prefix':'plugin:c'}]}," N("cow") "]", true, false);
}

static void test_stack_changes(void **state)
{
    /* The element's Changes: EffectiveSource patterns and EffectiveConsistency equality. */
    expect_stack("Exists", "[{'Changes':{'EffectiveSource':[{'PathPrefix':'/cache'}]}}]", true,
                 false);
    expect_stack("Exists", "[{'Changes':{'EffectiveConsistency':'cached'}}]", true, false);
    expect_stack("Exists", "[{'Changes':{'EffectiveConsistency':'delegated'}}]", false, false);
    expect_stack("Exists",
                 "[{'Name':[{'Exactly':'plugin:cow'}],'Changes':{'EffectiveConsistency':"
                 "'cached'}}]",
                 false, false);
    expect_stack("BottomSequence",
                 "[{'Changes':{'EffectiveSource':[{'Empty':true,'Not':true}]}},"
                 "{'Changes':{'EffectiveSource':[{'Suffix':'/data'}]}}]",
                 true, false);
    expect_stack("All", "[{'Changes':{'EffectiveSource':[{'Not':true,'Empty':true}]}}]", false,
                 true);
}

static void test_stack_empty_lists_and_combination(void **state)
{
    /* Empty or null lists are not evaluated, for an op and for its Not twin. */
    const char *empties = "{'AppliedMiddleware':{'Exists':[],'NotExists':[],'All':null,"
                          "'NotAll':[],'AnySequence':[],'NotAnySequence':[],'TopSequence':[],"
                          "'NotTopSequence':[],'BottomSequence':[],'NotBottomSequence':[],"
                          "'RelativeOrder':[],'NotRelativeOrder':[]}}";
    EXPECT_PATTERN(true, empties, STACK3);
    EXPECT_PATTERN(true, empties, STACK0);
    EXPECT_PATTERN(true, "{'AppliedMiddleware':{}}", STACK0);

    /* Several keys: all must hold. "Not yet seen by cow, and audit went first". */
    const char *both =
        "{'AppliedMiddleware':{'NotExists':[" N("cow") "],"
                                                       "'TopSequence':[" N("audit") "]}}";
    EXPECT_PATTERN(false, both, STACK3);
    EXPECT_PATTERN(true, both,
                   "{'Source':'/d','AppliedMiddleware':[{'Name':'plugin:audit'},"
                   "{'Name':'plugin:cache'}]}");
    EXPECT_PATTERN(false, both, STACK0);

    /* Directly, with a NULL stack. */
    mpp_stack_pattern sp = {0};
    assert_true(mpp_stack_pattern_match(&sp, NULL, 0));
    assert_true(mpp_stack_pattern_match(NULL, NULL, 0));
}

/* ---- scalar fields ---- */

static void test_tristates(void **state)
{
    const char *ro = "{'Source':'/a','ReadOnly':true}";
    const char *rw = "{'Source':'/a','ReadOnly':false}";
    const char *rw_absent = "{'Source':'/a'}";
    EXPECT_PATTERN(true, "{'ReadOnly':true}", ro);
    EXPECT_PATTERN(false, "{'ReadOnly':true}", rw);
    EXPECT_PATTERN(false, "{'ReadOnly':true}", rw_absent);
    EXPECT_PATTERN(false, "{'ReadOnly':false}", ro);
    EXPECT_PATTERN(true, "{'ReadOnly':false}", rw);
    EXPECT_PATTERN(true, "{'ReadOnly':false}", rw_absent);
    EXPECT_PATTERN(true, "{}", ro);
    EXPECT_PATTERN(true, "{}", rw);

    const char *v = "{'Source':'/a','CreateSourceIfMissing':true}";
    const char *mnt = "{'Source':'/a','CreateSourceIfMissing':false}";
    EXPECT_PATTERN(true, "{'CreateSourceIfMissing':true}", v);
    EXPECT_PATTERN(false, "{'CreateSourceIfMissing':true}", mnt);
    EXPECT_PATTERN(false, "{'CreateSourceIfMissing':false}", v);
    EXPECT_PATTERN(true, "{'CreateSourceIfMissing':false}", mnt);
    EXPECT_PATTERN(true, "{'CreateSourceIfMissing':null}", v); /* null = absent */

    /* A hand-built pattern: MPP_UNSET is don't care. */
    mpp_pattern p;
    mpp_pattern_init(&p);
    mpp_mount m = {.read_only = true};
    assert_true(both_match(&p, &m));
    p.read_only = MPP_FALSE;
    assert_false(both_match(&p, &m));
    p.read_only = MPP_TRUE;
    assert_true(both_match(&p, &m));
    p.create_source_if_missing = MPP_TRUE;
    assert_false(both_match(&p, &m));
}

static void test_string_fields(void **state)
{
    const char *m = "{'Type':'bind','Source':'/a','Propagation':'rslave','Consistency':"
                    "'cached','EffectiveConsistency':'delegated','Volume':{'Scope':'local'}}";
    EXPECT_PATTERN(true, "{'Type':'bind'}", m);
    EXPECT_PATTERN(false, "{'Type':'volume'}", m);
    EXPECT_PATTERN(false, "{'Type':'bin'}", m);
    EXPECT_PATTERN(true, "{'Type':''}", m); /* "" = don't care */
    EXPECT_PATTERN(false, "{'Type':'bind'}", "{'Source':'/a'}");
    EXPECT_PATTERN(true, "{'Propagation':'rslave'}", m);
    EXPECT_PATTERN(false, "{'Propagation':'slave'}", m);
    EXPECT_PATTERN(true, "{'Volume':{'Scope':'local'}}", m);
    EXPECT_PATTERN(false, "{'Volume':{'Scope':'global'}}", m);
    EXPECT_PATTERN(true, "{'Consistency':'cached'}", m);
    EXPECT_PATTERN(false, "{'Consistency':'default'}", m);
    EXPECT_PATTERN(true, "{'EffectiveConsistency':'delegated'}", m);
    EXPECT_PATTERN(false, "{'EffectiveConsistency':'cached'}", m);

    /* Unset consistencies count as "default". */
    const char *plain = "{'Type':'bind','Source':'/a'}";
    EXPECT_PATTERN(true, "{'Consistency':'default'}", plain);
    EXPECT_PATTERN(false, "{'Consistency':'cached'}", plain);
    EXPECT_PATTERN(true, "{'EffectiveConsistency':'default'}", plain);
    EXPECT_PATTERN(false, "{'EffectiveConsistency':'consistent'}", plain);
    EXPECT_PATTERN(true, "{'EffectiveConsistency':'default'}",
                   "{'Source':'/a','EffectiveConsistency':''}");
}

/* Each [StringPattern] and [StringMapPattern] field looks at its own mount field. */
static void test_field_routing(void **state)
{
    const char *m = "{'EffectiveSource':'/eff','Source':'/src','Destination':'/dst','Mode':'ro,z',"
                    "'Volume':{'Name':'vname','Driver':'vdriver','ID':'vid','Labels':{'vl':'1'},"
                    "'DriverOptions':{'vdo':'1'},'Options':{'vo':'1'}},"
                    "'Container':{'Labels':{'cl':'1'},'ID':'c0ffee','Engine':'docker'},"
                    "'Image':{'Labels':{'il':'1'}}}";
    static const char *const fields[][2] = {
        /* pattern that matches, pattern that does not */
        {"{'EffectiveSource':[{'Exactly':'/eff'}]}", "{'EffectiveSource':[{'Exactly':'/src'}]}"},
        {"{'Source':[{'Exactly':'/src'}]}", "{'Source':[{'Exactly':'/eff'}]}"},
        {"{'Destination':[{'Exactly':'/dst'}]}", "{'Destination':[{'Exactly':'/src'}]}"},
        {"{'Mode':[{'Contains':'ro'}]}", "{'Mode':[{'Contains':'rw'}]}"},
        {"{'Volume':{'Name':[{'Exactly':'vname'}]}}", "{'Volume':{'Name':[{'Exactly':'vid'}]}}"},
        {"{'Volume':{'Driver':[{'Exactly':'vdriver'}]}}",
         "{'Volume':{'Driver':[{'Exactly':'vname'}]}}"},
        {"{'Volume':{'ID':[{'Exactly':'vid'}]}}", "{'Volume':{'ID':[{'Exactly':'vname'}]}}"},
        {"{'Volume':{'Labels':[{'Exists':[{'Key':{'Exactly':'vl'}}]}]}}",
         "{'Volume':{'Labels':[{'Exists':[{'Key':{'Exactly':'vo'}}]}]}}"},
        {"{'Volume':{'DriverOptions':[{'Exists':[{'Key':{'Exactly':'vdo'}}]}]}}",
         "{'Volume':{'DriverOptions':[{'Exists':[{'Key':{'Exactly':'vo'}}]}]}}"},
        {"{'Volume':{'Options':[{'Exists':[{'Key':{'Exactly':'vo'}}]}]}}",
         "{'Volume':{'Options':[{'Exists':[{'Key':{'Exactly':'vdo'}}]}]}}"},
        {"{'Container':{'Labels':[{'Exists':[{'Key':{'Exactly':'cl'}}]}]}}",
         "{'Container':{'Labels':[{'Exists':[{'Key':{'Exactly':'il'}}]}]}}"},
        {"{'Image':{'Labels':[{'Exists':[{'Key':{'Exactly':'il'}}]}]}}",
         "{'Image':{'Labels':[{'Exists':[{'Key':{'Exactly':'cl'}}]}]}}"},
    };
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        EXPECT_PATTERN(true, fields[i][0], m);
        EXPECT_PATTERN(false, fields[i][1], m);
    }

    /* Before any plugin changed it, the effective source is the source. */
    EXPECT_PATTERN(true, "{'EffectiveSource':[{'PathPrefix':'/srv'}]}", "{'Source':'/srv/x'}");
    EXPECT_PATTERN(false, "{'EffectiveSource':[{'PathPrefix':'/srv'}]}",
                   "{'Source':'/srv/x','EffectiveSource':'/cow/x'}");

    /* Fields AND together. */
    EXPECT_PATTERN(true, "{'Source':[{'Exactly':'/src'}],'Destination':[{'Exactly':'/dst'}]}", m);
    EXPECT_PATTERN(false, "{'Source':[{'Exactly':'/src'}],'Destination':[{'Exactly':'/x'}]}", m);
}

/* ---- realistic filters on realistic mounts ---- */

/* What Docker would describe, as a plugin receives it. */
static const char *const docker_mounts[] = {
    /* 0: docker run -v /srv/site:/usr/share/nginx/html:ro */
    "{'EffectiveSource':'/srv/site','Volume':{},'Container':{'Labels':{'app':'web'}},"
    "'Image':{'Labels':{'maintainer':'NGINX'}},'Source':'/srv/site',"
    "'Destination':'/usr/share/nginx/html','ReadOnly':true,'Type':'bind','Mode':'ro',"
    "'Propagation':'rprivate','CreateSourceIfMissing':true,'AppliedMiddleware':[],"
    "'Consistency':'default'}",
    /* 1: --mount type=bind,source=/etc/ssl,target=/etc/ssl */
    "{'EffectiveSource':'/etc/ssl','Volume':{},'Container':{'Labels':{'app':'web'}},"
    "'Image':{'Labels':null},'Source':'/etc/ssl','Destination':'/etc/ssl','Type':'bind',"
    "'Propagation':'rprivate','AppliedMiddleware':null}",
    /* 2: -v pgdata:/var/lib/postgresql/data (named local volume) */
    "{'EffectiveSource':'/var/lib/docker/volumes/pgdata/_data','Volume':{'Name':'pgdata',"
    "'Driver':'local','Scope':'local','Labels':null,'Options':null},"
    "'Container':{'Labels':{'app':'db','allow':'yes'}},'Image':{'Labels':{}},"
    "'Source':'/var/lib/docker/volumes/pgdata/_data','Destination':'/var/lib/postgresql/data',"
    "'Type':'volume','Mode':'z','CreateSourceIfMissing':false,'AppliedMiddleware':[]}",
    /* 3: anonymous volume (VOLUME /cache in the image) */
    "{'EffectiveSource':'/var/lib/docker/volumes/8c1e2f/_data','Volume':{'Name':'8c1e2f',"
    "'Driver':'local','Scope':'local'},'Container':{'Labels':{}},'Image':{'Labels':null},"
    "'Source':'/var/lib/docker/volumes/8c1e2f/_data','Destination':'/cache','Type':'volume'}",
    /* 4: local volume created with -o type=none -o o=bind -o device=/srv/shared */
    "{'EffectiveSource':'/var/lib/docker/volumes/shared/_data','Volume':{'Name':'shared',"
    "'Driver':'local','Scope':'local','Options':{'type':'none','o':'bind','device':"
    "'/srv/shared'}},'Container':{'Labels':null},'Image':{},"
    "'Source':'/var/lib/docker/volumes/shared/_data','Destination':'/shared','Type':'volume'}",
    /* 5: a volume from a plugin driver */
    "{'EffectiveSource':'/var/lib/docker/plugins/abc/propagated-mount/vol1','Volume':{"
    "'Name':'vol1','Driver':'rexray/ebs','Scope':'global','Options':{'size':'10'}},"
    "'Container':{'Labels':{'allow':''}},"
    "'Source':'/var/lib/docker/plugins/abc/propagated-mount/vol1','Destination':'/ebs',"
    "'Type':'volume'}",
};
#define N_DOCKER_MOUNTS (sizeof(docker_mounts) / sizeof(docker_mounts[0]))

/* Which of docker_mounts a plugin's properties answer selects, as a bit set. */
static unsigned selected(const char *properties_json)
{
    mpp_properties_response resp = {0};
    decode_properties(properties_json, &resp);
    unsigned bits = 0;
    for (size_t i = 0; i < N_DOCKER_MOUNTS; i++) {
        mpp_mount m = {0};
        decode_mount(docker_mounts[i], &m);
        int k = mpp_patterns_match(resp.patterns, resp.n_patterns, &m);
        assert_true(k >= -1 && k < (int)resp.n_patterns);
        assert_int_equal(set_match(resp.patterns, resp.n_patterns, &m, 1, 0), k);
        if (k >= 0)
            bits |= 1u << i;
        mpp_mount_clear(&m);
    }
    mpp_properties_response_clear(&resp);
    return bits;
}

#define BIT(i) (1u << (i))

static void test_realistic(void **state)
{
    /* Only -v bind mounts. */
    assert_int_equal(
        selected("{'Success':true,'Patterns':[{'Type':'bind','CreateSourceIfMissing':true}]}"),
        BIT(0));

    /* Bind mounts plus all local volumes: two patterns, OR'd. */
    assert_int_equal(selected("{'Success':true,'Patterns':[{'Type':'bind'},"
                              "{'Type':'volume','Volume':{'Driver':[{'Exactly':'local'}]}}]}"),
                     BIT(0) | BIT(1) | BIT(2) | BIT(3) | BIT(4));

    /* Local volumes whose option o contains bind. */
    assert_int_equal(selected("{'Success':true,'Patterns':[{'Type':'volume','Volume':{"
                              "'Driver':[{'Exactly':'local'}],'Options':[{'Exists':[{"
                              "'Key':{'Exactly':'o'},'Value':{'Contains':'bind'}}]}]}}]}"),
                     BIT(4));

    /* Anonymous local volumes: none of o, device, type. */
    assert_int_equal(selected("{'Success':true,'Patterns':[{'Type':'volume','Volume':{"
                              "'Driver':[{'Exactly':'local'}],'Options':[{'Not':true,"
                              "'Exists':[{'Key':{'Exactly':'o'}},{'Key':{'Exactly':'device'}},"
                              "{'Key':{'Exactly':'type'}}]}]}}]}"),
                     BIT(2) | BIT(3));

    /* Every mount of a container that lacks the label allow (an empty value still counts). */
    assert_int_equal(selected("{'Success':true,'Patterns':[{'Container':{'Labels':[{'Not':true,"
                              "'Exists':[{'Key':{'Exactly':'allow'}}]}]}}]}"),
                     BIT(0) | BIT(1) | BIT(3) | BIT(4));

    /* Binds that expose /etc, read-write: a policy plugin's deny filter. */
    assert_int_equal(selected("{'Success':true,'Patterns':[{'Type':'bind','ReadOnly':false,"
                              "'Source':[{'PathPrefix':'/etc'}]}]}"),
                     BIT(1));

    /* [{}] selects every mount; an empty or null list selects none. */
    assert_int_equal(selected("{'Success':true,'Patterns':[{}]}"), (1u << N_DOCKER_MOUNTS) - 1);
    assert_int_equal(selected("{'Success':true,'Patterns':[]}"), 0);
    assert_int_equal(selected("{'Success':true,'Patterns':null}"), 0);
    assert_int_equal(selected("{'Success':true}"), 0);
}

static void test_patterns_match_index(void **state)
{
    mpp_properties_response resp = {0};
    decode_properties("{'Success':true,'Patterns':[{'Type':'volume'},{'Type':'bind'},{}]}", &resp);
    mpp_mount m = {0};
    decode_mount(docker_mounts[0], &m);
    /* The first pattern that matches. */
    assert_int_equal(mpp_patterns_match(resp.patterns, resp.n_patterns, &m), 1);
    assert_int_equal(mpp_patterns_match(resp.patterns, 1, &m), -1);
    assert_int_equal(mpp_patterns_match(resp.patterns, 0, &m), -1);
    assert_int_equal(mpp_patterns_match(NULL, 0, &m), -1);
    mpp_mount_clear(&m);
    decode_mount(docker_mounts[2], &m);
    assert_int_equal(mpp_patterns_match(resp.patterns, resp.n_patterns, &m), 0);
    mpp_mount_clear(&m);

    /* {} matches every mount, even one with nothing set. */
    mpp_mount bare = {0};
    assert_int_equal(mpp_patterns_match(&resp.patterns[2], 1, &bare), 0);
    mpp_properties_response_clear(&resp);
}

/* [mpp extension] protocol §3: a tmpfs mount reaches only patterns that name "Type": "tmpfs". */
static void test_tmpfs_only_when_named(void **state)
{
    const char *tmpfs = "{'Type': 'tmpfs', 'Destination': '/scratch', 'Source': 'tmpfs'}";
    assert_false(pattern_matches("{}", tmpfs));
    assert_false(pattern_matches("{'Destination': [{'Exactly': '/scratch'}]}", tmpfs));
    assert_false(pattern_matches("{'Type': 'bind'}", tmpfs));
    assert_true(pattern_matches("{'Type': 'tmpfs'}", tmpfs));
    assert_true(pattern_matches("{'Type': 'tmpfs', 'Destination': [{'Prefix': '/scr'}]}", tmpfs));
    /* Binds and volumes are unaffected. */
    assert_true(pattern_matches("{}", "{'Type': 'bind', 'Source': '/a', 'Destination': '/b'}"));
    assert_false(pattern_matches("{'Type': 'tmpfs'}", "{'Type': 'bind', 'Source': '/a'}"));
}

/* ---- compiled sets (mpp_pattern_set, mpp_mount_set) ---- */

static void test_set_index_and_edges(void **state)
{
    mpp_properties_response resp = {0};
    decode_properties("{'Success':true,'Patterns':[{'Type':'volume'},{'Type':'bind'},{}]}", &resp);
    mpp_mount ms[N_DOCKER_MOUNTS] = {0};
    for (size_t i = 0; i < N_DOCKER_MOUNTS; i++)
        decode_mount(docker_mounts[i], &ms[i]);

    mpp_error err = {0};
    mpp_pattern_set *set = NULL, *first = NULL, *none = NULL;
    mpp_mount_set *mset = NULL, *empty = NULL;
    assert_int_equal(mpp_pattern_set_new(resp.patterns, resp.n_patterns, &set, &err), 0);
    assert_int_equal(mpp_pattern_set_new(resp.patterns, 1, &first, &err), 0);
    assert_int_equal(mpp_pattern_set_new(NULL, 0, &none, &err), 0);
    assert_int_equal(mpp_mount_set_new(ms, N_DOCKER_MOUNTS, &mset, &err), 0);
    assert_int_equal(mpp_mount_set_new(NULL, 0, &empty, &err), 0);

    /* One set of each, reused for every pair, as a chain does; the first match's index. */
    for (size_t i = 0; i < N_DOCKER_MOUNTS; i++) {
        assert_int_equal(mpp_pattern_set_match(set, mset, i),
                         mpp_patterns_match(resp.patterns, resp.n_patterns, &ms[i]));
        assert_int_equal(mpp_pattern_set_match(first, mset, i),
                         mpp_patterns_match(resp.patterns, 1, &ms[i]));
        assert_int_equal(mpp_pattern_set_match(none, mset, i), -1);
    }
    assert_int_equal(mpp_pattern_set_match(set, mset, 0), 1); /* a bind mount */
    assert_int_equal(mpp_pattern_set_match(set, mset, 2), 0); /* a volume */

    /* Out of range and missing arguments select nothing. */
    assert_int_equal(mpp_pattern_set_match(set, mset, N_DOCKER_MOUNTS), -1);
    assert_int_equal(mpp_pattern_set_match(set, empty, 0), -1);
    assert_int_equal(mpp_pattern_set_match(NULL, mset, 0), -1);
    assert_int_equal(mpp_pattern_set_match(set, NULL, 0), -1);

    /* Refused input, with a message. */
    mpp_pattern_set *bad = NULL;
    mpp_mount_set *bad_m = NULL;
    assert_int_equal(mpp_pattern_set_new(NULL, 2, &bad, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "patterns"));
    assert_null(bad);
    mpp_error_clear(&err);
    assert_int_equal(mpp_mount_set_new(NULL, 1, &bad_m, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "mounts"));
    assert_null(bad_m);
    assert_int_equal(mpp_pattern_set_new(resp.patterns, 1, NULL, NULL), -EINVAL);

    mpp_pattern_set_free(set);
    mpp_pattern_set_free(first);
    mpp_pattern_set_free(none);
    mpp_pattern_set_free(NULL);
    mpp_mount_set_free(mset);
    mpp_mount_set_free(empty);
    mpp_mount_set_free(NULL);
    for (size_t i = 0; i < N_DOCKER_MOUNTS; i++)
        mpp_mount_clear(&ms[i]);
    mpp_properties_response_clear(&resp);
}

/* Compiled sets clean PathPrefix and PathContains once, and mount sets clean the mounts' paths
 * once: patterns and mounts with "..", ".", trailing and doubled slashes, relative paths, in
 * Source, Destination and EffectiveSource, against the definition (clean both, compare
 * component-wise). */
static void test_set_precleaned_paths(void **state)
{
    static const char *const pats[] = {
        "/a/b", "/a/b/", "/x/../a/b", "//a/./b", "/a/b/.", "/a/b/c/../..", "/", "/..",
        "//",   "a",     "a/",        "./a",     "../a",   "a/..",         ".", "/a/bc",
    };
    static char *const vals[] = {
        "/a/b",  "/a/b/c", "//a//b//c/", "/a/./b/../b/c", "/a/bc",   "/a", "/",  "/..",
        "a/b",   "a",      "./a/x",      "../a/x",        "../../a", "",   NULL, "/x/../a/b/",
        "/a/b/", ".",
    };
    enum { N_VALS = sizeof(vals) / sizeof(vals[0]) };
    mpp_mount ms[N_VALS] = {0};
    for (size_t i = 0; i < N_VALS; i++)
        ms[i] = (mpp_mount){.source = vals[i],
                            .destination = vals[i],
                            /* EffectiveSource set differently from Source: it is what counts. */
                            .effective_source = vals[i] ? vals[i] : "",
                            .type = "bind"};
    mpp_mount_set *mset = NULL;
    mpp_error err = {0};
    assert_int_equal(mpp_mount_set_new(ms, N_VALS, &mset, &err), 0);

    for (size_t k = 0; k < sizeof(pats) / sizeof(pats[0]); k++) {
        for (int not_ = 0; not_ <= 1; not_++) {
            mpp_string_pattern pp = {.not_ = not_, .path_prefix = (char *)pats[k]};
            mpp_string_pattern pc = {.not_ = not_, .path_contains = (char *)pats[k]};
            /* Each predicate in each [StringPattern] field that takes a path. */
            mpp_pattern ps[6];
            for (size_t f = 0; f < 6; f++)
                mpp_pattern_init(&ps[f]);
            ps[0].source = (mpp_string_patterns){&pp, 1};
            ps[1].destination = (mpp_string_patterns){&pp, 1};
            ps[2].effective_source = (mpp_string_patterns){&pp, 1};
            ps[3].source = (mpp_string_patterns){&pc, 1};
            ps[4].destination = (mpp_string_patterns){&pc, 1};
            ps[5].effective_source = (mpp_string_patterns){&pc, 1};
            for (size_t f = 0; f < 6; f++) {
                mpp_pattern_set *set = NULL;
                assert_int_equal(mpp_pattern_set_new(&ps[f], 1, &set, &err), 0);
                for (size_t i = 0; i < N_VALS; i++) {
                    const char *v = vals[i] ? vals[i] : "";
                    bool want = f < 3 ? ref_under(v, pats[k]) : ref_under(pats[k], v);
                    if (not_)
                        want = !want;
                    bool got = mpp_pattern_set_match(set, mset, i) == 0;
                    if (got != want || mpp_pattern_match(&ps[f], &ms[i]) != want)
                        fail_msg("%s%s \"%s\" in field %zu on \"%s\": expected %d",
                                 not_ ? "Not " : "", f < 3 ? "PathPrefix" : "PathContains", pats[k],
                                 f % 3, v, want);
                }
                mpp_pattern_set_free(set);
            }
        }
    }
    mpp_mount_set_free(mset);
}

/* Paths that do not fit PATH_MAX, in a compiled pattern or a prepared mount: the same answers
 * as the plain matcher (no path predicate holds, Not or not), unless the path cleans to
 * something that fits. */
static void test_set_long_paths(void **state)
{
    size_t n = PATH_MAX + 10;
    char *big = malloc(n + 1);
    assert_non_null(big);
    big[0] = '/';
    memset(big + 1, 'x', n - 1);
    big[n] = '\0';
    /* "/a" followed by "/." until it is longer than PATH_MAX: cleans to "/a". */
    char *dots = malloc(n + 3);
    assert_non_null(dots);
    strcpy(dots, "/a");
    for (size_t i = 2; i + 2 <= n; i += 2)
        memcpy(dots + i, "/.", 3);

    mpp_mount ms[] = {{.destination = big}, {.destination = dots}, {.destination = "/x"}};
    mpp_mount_set *mset = NULL;
    assert_int_equal(mpp_mount_set_new(ms, 3, &mset, NULL), 0);

    struct {
        mpp_string_pattern sp;
        bool want[3];
    } cases[] = {
        {{.path_prefix = "/"}, {false, true, true}},
        {{.not_ = true, .path_prefix = "/y"}, {false, true, true}},
        {{.path_prefix = "/a"}, {false, true, false}},
        {{.path_contains = "/a/b"}, {false, true, false}},
        {{.not_ = true, .path_contains = "/y"}, {false, true, true}},
        {{.prefix = "/xx"}, {true, false, false}},
        {{.path_prefix = big}, {false, false, false}},
        {{.not_ = true, .path_prefix = big}, {false, false, false}},
        {{.path_contains = big}, {false, false, false}},
        {{.path_prefix = dots}, {false, true, false}}, /* "/a" */
        {{.path_contains = dots}, {false, true, false}},
    };
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        mpp_pattern p;
        mpp_pattern_init(&p);
        p.destination = (mpp_string_patterns){&cases[k].sp, 1};
        mpp_pattern_set *set = NULL;
        assert_int_equal(mpp_pattern_set_new(&p, 1, &set, NULL), 0);
        for (size_t i = 0; i < 3; i++) {
            bool got = mpp_pattern_set_match(set, mset, i) == 0;
            if (got != cases[k].want[i] || mpp_pattern_match(&p, &ms[i]) != cases[k].want[i])
                fail_msg("case %zu on mount %zu: expected %d", k, i, cases[k].want[i]);
        }
        mpp_pattern_set_free(set);
    }
    mpp_mount_set_free(mset);
    free(big);
    free(dots);
}

/* A mount set is made once for a whole chain: what plugins change between two matches
 * (EffectiveSource, EffectiveConsistency, AppliedMiddleware) is read from the mount each time. */
static void test_set_live_fields(void **state)
{
    mpp_properties_response resp = {0};
    decode_properties("{'Success':true,'Patterns':["
                      "{'EffectiveSource':[{'PathPrefix':'/cow'}]},"
                      "{'EffectiveConsistency':'cached'},"
                      "{'AppliedMiddleware':{'Exists':[{'Name':[{'Exactly':'plugin:x'}]}]}},"
                      "{'EffectiveSource':[{'PathPrefix':'/srv'}],'Source':[{'Exactly':'/srv'}]}"
                      "]}",
                      &resp);
    mpp_mount m = {0};
    decode_mount("{'Type':'bind','Source':'/srv','Destination':'/data'}", &m);
    mpp_pattern_set *set = NULL;
    mpp_mount_set *mset = NULL;
    assert_int_equal(mpp_pattern_set_new(resp.patterns, resp.n_patterns, &set, NULL), 0);
    assert_int_equal(mpp_mount_set_new(&m, 1, &mset, NULL), 0);

    /* Nothing changed yet: the effective source is the source. */
    assert_int_equal(mpp_pattern_set_match(set, mset, 0), 3);

    /* What the chain does when a plugin answers (mount_apply_changes). */
    free(m.effective_source);
    m.effective_source = strdup("/cow/srv");
    assert_non_null(m.effective_source);
    assert_int_equal(mpp_pattern_set_match(set, mset, 0), 0);
    assert_int_equal(mpp_pattern_set_match(set, mset, 0),
                     mpp_patterns_match(resp.patterns, resp.n_patterns, &m));

    free(m.effective_source);
    m.effective_source = strdup("/elsewhere");
    m.effective_consistency = strdup("cached");
    assert_true(m.effective_source && m.effective_consistency);
    assert_int_equal(mpp_pattern_set_match(set, mset, 0), 1);

    free(m.effective_consistency);
    m.effective_consistency = NULL;
    m.applied = calloc(1, sizeof(mpp_applied));
    assert_non_null(m.applied);
    m.applied[0].name = strdup("plugin:x");
    m.n_applied = 1;
    assert_int_equal(mpp_pattern_set_match(set, mset, 0), 2);
    assert_int_equal(mpp_pattern_set_match(set, mset, 0),
                     mpp_patterns_match(resp.patterns, resp.n_patterns, &m));

    mpp_pattern_set_free(set);
    mpp_mount_set_free(mset);
    mpp_mount_clear(&m);
    mpp_properties_response_clear(&resp);
}

/* Type, Propagation, Consistency and Scope are compared as codes in compiled sets: values
 * outside the known ones must still compare as strings, and unset ones as before. */
static void test_set_enum_fields(void **state)
{
    EXPECT_PATTERN(true, "{'Type':'npipe'}", "{'Type':'npipe'}");
    EXPECT_PATTERN(false, "{'Type':'npipe'}", "{'Type':'npipe2'}");
    EXPECT_PATTERN(false, "{'Type':'npipe'}", "{'Type':'bind'}");
    EXPECT_PATTERN(false, "{'Type':'bind'}", "{'Type':'npipe'}");
    EXPECT_PATTERN(false, "{'Type':'npipe'}", "{}");
    EXPECT_PATTERN(true, "{'Type':'volume'}", "{'Type':'volume'}");
    EXPECT_PATTERN(false, "{'Type':'Volume'}", "{'Type':'volume'}");

    EXPECT_PATTERN(true, "{'Propagation':'rshared'}", "{'Propagation':'rshared'}");
    EXPECT_PATTERN(false, "{'Propagation':'rshared'}", "{'Propagation':'shared'}");
    EXPECT_PATTERN(true, "{'Propagation':'odd'}", "{'Propagation':'odd'}");
    EXPECT_PATTERN(false, "{'Propagation':'odd'}", "{'Propagation':'odder'}");
    EXPECT_PATTERN(false, "{'Propagation':'rprivate'}", "{}");

    EXPECT_PATTERN(true, "{'Consistency':'weird'}", "{'Consistency':'weird'}");
    EXPECT_PATTERN(false, "{'Consistency':'weird'}", "{'Consistency':'odd'}");
    EXPECT_PATTERN(false, "{'Consistency':'weird'}", "{}");
    EXPECT_PATTERN(true, "{'Consistency':'default'}", "{}");
    EXPECT_PATTERN(true, "{'Consistency':'default'}", "{'Consistency':'default'}");
    EXPECT_PATTERN(false, "{'Consistency':'default'}", "{'Consistency':'delegated'}");
    EXPECT_PATTERN(true, "{'EffectiveConsistency':'weird'}", "{'EffectiveConsistency':'weird'}");
    EXPECT_PATTERN(false, "{'EffectiveConsistency':'weird'}", "{'EffectiveConsistency':'odd'}");
    EXPECT_PATTERN(true, "{'EffectiveConsistency':'default'}", "{}");

    EXPECT_PATTERN(true, "{'Volume':{'Scope':'cluster'}}", "{'Volume':{'Scope':'cluster'}}");
    EXPECT_PATTERN(false, "{'Volume':{'Scope':'cluster'}}", "{'Volume':{'Scope':'global'}}");
    EXPECT_PATTERN(false, "{'Volume':{'Scope':'local'}}", "{'Volume':{}}");

    /* Several at once, with the tri-states: all must hold. */
    const char *m = "{'Type':'volume','Propagation':'odd','Consistency':'cached',"
                    "'ReadOnly':true,'Volume':{'Scope':'global'}}";
    EXPECT_PATTERN(true,
                   "{'Type':'volume','Propagation':'odd','Consistency':'cached',"
                   "'ReadOnly':true,'CreateSourceIfMissing':false,'Volume':{'Scope':'global'}}",
                   m);
    EXPECT_PATTERN(false, "{'Type':'volume','Propagation':'odd','ReadOnly':false}", m);
    EXPECT_PATTERN(false, "{'Type':'volume','Propagation':'odd','CreateSourceIfMissing':true}", m);
    EXPECT_PATTERN(false, "{'Type':'volume','Propagation':'od'}", m);
}

/* ---- compiled sets against the plain matcher, on random patterns and mounts ---- */

/* Everything a random case points to lives here, reset for each case. */
static char arena[1 << 16];
static size_t arena_used;

static void *arena_alloc(size_t n)
{
    n = (n + 15) & ~(size_t)15;
    assert_true(arena_used + n <= sizeof(arena));
    void *p = arena + arena_used;
    arena_used += n;
    memset(p, 0, n);
    return p;
}

static unsigned rnd(unsigned *seed, unsigned n)
{
    *seed = *seed * 1103515245u + 12345u;
    return (*seed >> 16) % n;
}

static char *pick(unsigned *seed, const char *const *pool, size_t n)
{
    return (char *)pool[rnd(seed, (unsigned)n)];
}
#define PICK(seed, pool) pick(seed, pool, sizeof(pool) / sizeof(pool[0]))

static const char *const r_paths[] = {NULL,     "",        "/",       "/a",  "/a/b", "/a/b/",
                                      "//a//b", "/a/./b",  "/a/../b", "a/b", "/ab",  "..",
                                      "/a/b/c", "/x/../a", ".",       "a"};
static const char *const r_strs[] = {NULL, "", "a", "ab", "b", "bind", "x.ro", ".ro", "/a"};
static const char *const r_types[] = {NULL, "", "bind", "volume", "tmpfs", "npipe", "npipe2"};
static const char *const r_props[] = {NULL, "", "rprivate", "shared", "odd"};
static const char *const r_cons[] = {NULL, "", "default", "cached", "delegated", "odd"};
static const char *const r_scopes[] = {NULL, "local", "global", "cluster"};

static void random_sp(unsigned *seed, mpp_string_pattern *sp)
{
    sp->not_ = rnd(seed, 3) == 0;
    sp->empty = rnd(seed, 6) == 0;
    if (rnd(seed, 4) == 0)
        sp->exactly = PICK(seed, r_strs);
    if (rnd(seed, 4) == 0)
        sp->prefix = PICK(seed, r_strs);
    if (rnd(seed, 5) == 0)
        sp->suffix = PICK(seed, r_strs);
    if (rnd(seed, 5) == 0)
        sp->contains = PICK(seed, r_strs);
    if (rnd(seed, 3) == 0)
        sp->path_prefix = PICK(seed, r_paths);
    if (rnd(seed, 4) == 0)
        sp->path_contains = PICK(seed, r_paths);
}

static mpp_string_patterns random_sps(unsigned *seed)
{
    size_t n = 1 + rnd(seed, 2);
    mpp_string_patterns l = {n ? arena_alloc(n * sizeof(mpp_string_pattern)) : NULL, n};
    for (size_t i = 0; i < n; i++)
        random_sp(seed, &l.items[i]);
    return l;
}

static mpp_strmap_patterns random_maps(unsigned *seed)
{
    mpp_strmap_patterns l = {arena_alloc(sizeof(mpp_strmap_pattern)), 1};
    mpp_strmap_pattern *p = l.items;
    p->not_ = rnd(seed, 3) == 0;
    p->n_exists = rnd(seed, 3);
    p->n_all = rnd(seed, 2);
    p->exists = arena_alloc((p->n_exists + 1) * sizeof(mpp_kv_pattern));
    p->all = arena_alloc((p->n_all + 1) * sizeof(mpp_kv_pattern));
    for (size_t i = 0; i < p->n_exists; i++) {
        random_sp(seed, &p->exists[i].key);
        random_sp(seed, &p->exists[i].value);
    }
    for (size_t i = 0; i < p->n_all; i++) {
        random_sp(seed, &p->all[i].key);
        if (rnd(seed, 2))
            random_sp(seed, &p->all[i].value);
    }
    return l;
}

static mpp_tristate random_tristate(unsigned *seed)
{
    return (mpp_tristate)((int)rnd(seed, 3) - 1);
}

/* A pattern with a few of its fields set, so that both outcomes are common. */
static void random_pattern(unsigned *seed, mpp_pattern *p)
{
    mpp_pattern_init(p);
    for (unsigned n = rnd(seed, 4); n > 0; n--) {
        switch (rnd(seed, 20)) {
        case 0:
        case 1:
            p->type = PICK(seed, r_types);
            break;
        case 2:
            p->propagation = PICK(seed, r_props);
            break;
        case 3:
            p->consistency = PICK(seed, r_cons);
            break;
        case 4:
            p->effective_consistency = PICK(seed, r_cons);
            break;
        case 5:
            p->volume.scope = PICK(seed, r_scopes);
            break;
        case 6:
            p->read_only = random_tristate(seed);
            break;
        case 7:
            p->create_source_if_missing = random_tristate(seed);
            break;
        case 8:
            p->source = random_sps(seed);
            break;
        case 9:
            p->destination = random_sps(seed);
            break;
        case 10:
            p->effective_source = random_sps(seed);
            break;
        case 11:
            p->mode = random_sps(seed);
            break;
        case 12:
            p->volume.name = random_sps(seed);
            p->volume.driver = random_sps(seed);
            p->volume.id = random_sps(seed);
            break;
        case 13:
            p->volume.labels = random_maps(seed);
            break;
        case 14:
            p->volume.options = random_maps(seed);
            p->volume.driver_options = random_maps(seed);
            break;
        case 15:
        case 16:
            p->container_labels = random_maps(seed);
            break;
        case 17:
            p->image_labels = random_maps(seed);
            break;
        default: {
            mpp_applied_patterns *l =
                rnd(seed, 2) ? &p->applied_middleware.op[rnd(seed, _MPP_STACK_OP_MAX)]
                             : &p->applied_middleware.not_op[rnd(seed, _MPP_STACK_OP_MAX)];
            l->n = 1;
            l->items = arena_alloc(sizeof(mpp_applied_pattern));
            l->items[0].name = random_sps(seed);
            l->items[0].changes_effective_source = random_sps(seed);
            break;
        }
        }
    }
}

static mpp_strmap random_map(unsigned *seed)
{
    size_t n = rnd(seed, 4);
    mpp_strmap m = {n ? arena_alloc(n * sizeof(mpp_kv)) : NULL, n};
    for (size_t i = 0; i < n; i++) {
        m.items[i].key = PICK(seed, r_strs);
        m.items[i].key = m.items[i].key ? m.items[i].key : "k";
        m.items[i].value = rnd(seed, 2) ? PICK(seed, r_paths) : PICK(seed, r_strs);
    }
    return m;
}

static void random_mount(unsigned *seed, mpp_mount *m)
{
    *m = (mpp_mount){0};
    m->type = PICK(seed, r_types);
    m->propagation = PICK(seed, r_props);
    m->consistency = PICK(seed, r_cons);
    m->effective_consistency = PICK(seed, r_cons);
    m->volume.scope = PICK(seed, r_scopes);
    m->read_only = rnd(seed, 2);
    m->create_source_if_missing = rnd(seed, 2);
    m->source = PICK(seed, r_paths);
    m->destination = PICK(seed, r_paths);
    m->effective_source = PICK(seed, r_paths);
    m->mode = PICK(seed, r_strs);
    m->volume.name = PICK(seed, r_strs);
    m->volume.driver = PICK(seed, r_strs);
    m->volume.id = PICK(seed, r_paths);
    m->volume.labels = random_map(seed);
    m->volume.options = random_map(seed);
    m->volume.driver_options = random_map(seed);
    m->container.labels = random_map(seed);
    m->image.labels = random_map(seed);
    m->n_applied = rnd(seed, 3);
    m->applied = m->n_applied ? arena_alloc(m->n_applied * sizeof(mpp_applied)) : NULL;
    for (size_t i = 0; i < m->n_applied; i++) {
        m->applied[i].name = PICK(seed, r_strs);
        m->applied[i].changes.effective_source = PICK(seed, r_paths);
    }
}

static void test_set_random(void **state)
{
    enum { N_PATTERNS = 4, N_MOUNTS = 6, CASES = 3000 };
    unsigned seed = 7;
    size_t matched = 0;
    /* The plain matcher is the reference here: its own tests are above. */
    for (int c = 0; c < CASES; c++) {
        arena_used = 0;
        mpp_pattern ps[N_PATTERNS];
        mpp_mount ms[N_MOUNTS];
        for (size_t k = 0; k < N_PATTERNS; k++)
            random_pattern(&seed, &ps[k]);
        for (size_t i = 0; i < N_MOUNTS; i++)
            random_mount(&seed, &ms[i]);

        mpp_pattern_set *set = NULL, *one[N_PATTERNS] = {0};
        mpp_mount_set *mset = NULL;
        assert_int_equal(mpp_pattern_set_new(ps, N_PATTERNS, &set, NULL), 0);
        for (size_t k = 0; k < N_PATTERNS; k++)
            assert_int_equal(mpp_pattern_set_new(&ps[k], 1, &one[k], NULL), 0);
        assert_int_equal(mpp_mount_set_new(ms, N_MOUNTS, &mset, NULL), 0);
        for (int round = 0; round < 2; round++) {
            for (size_t i = 0; i < N_MOUNTS; i++) {
                int want = mpp_patterns_match(ps, N_PATTERNS, &ms[i]);
                int got = mpp_pattern_set_match(set, mset, i);
                if (got != want)
                    fail_msg("case %d, mount %zu: compiled %d, plain %d", c, i, got, want);
                for (size_t k = 0; k < N_PATTERNS; k++) {
                    bool w = mpp_pattern_match(&ps[k], &ms[i]);
                    if ((mpp_pattern_set_match(one[k], mset, i) == 0) != w)
                        fail_msg("case %d, pattern %zu, mount %zu: plain %d", c, k, i, w);
                    matched += w;
                }
                /* Between rounds, what a plugin changes. */
                ms[i].effective_source = PICK(&seed, r_paths);
                ms[i].effective_consistency = PICK(&seed, r_cons);
                ms[i].n_applied = ms[i].n_applied ? ms[i].n_applied - 1 : 0;
            }
        }
        mpp_mount_set_free(mset);
        for (size_t k = 0; k < N_PATTERNS; k++)
            mpp_pattern_set_free(one[k]);
        mpp_pattern_set_free(set);
    }
    /* The generator must produce both outcomes in quantity, or this tests little. */
    size_t total = (size_t)CASES * 2 * N_MOUNTS * N_PATTERNS;
    assert_true(matched > total / 50);
    assert_true(matched < total - total / 50);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_path_clean_table),
        cmocka_unit_test(test_path_clean_bounds),
        cmocka_unit_test(test_path_clean_properties),
        cmocka_unit_test(test_string_plain_predicates),
        cmocka_unit_test(test_string_all_empty),
        cmocka_unit_test(test_string_multi_predicate),
        cmocka_unit_test(test_string_path_prefix),
        cmocka_unit_test(test_string_path_contains),
        cmocka_unit_test(test_string_path_too_long),
        cmocka_unit_test(test_string_path_random),
        cmocka_unit_test(test_string_patterns_list),
        cmocka_unit_test(test_strmap_exists),
        cmocka_unit_test(test_strmap_not_exists),
        cmocka_unit_test(test_strmap_all),
        cmocka_unit_test(test_strmap_exists_and_all),
        cmocka_unit_test(test_strmap_direct),
        cmocka_unit_test(test_stack_exists),
        cmocka_unit_test(test_stack_all),
        cmocka_unit_test(test_stack_any_sequence),
        cmocka_unit_test(test_stack_top_sequence),
        cmocka_unit_test(test_stack_bottom_sequence),
        cmocka_unit_test(test_stack_relative_order),
        cmocka_unit_test(test_stack_changes),
        cmocka_unit_test(test_stack_empty_lists_and_combination),
        cmocka_unit_test(test_tristates),
        cmocka_unit_test(test_string_fields),
        cmocka_unit_test(test_field_routing),
        cmocka_unit_test(test_realistic),
        cmocka_unit_test(test_patterns_match_index),
        cmocka_unit_test(test_tmpfs_only_when_named),
        cmocka_unit_test(test_set_index_and_edges),
        cmocka_unit_test(test_set_precleaned_paths),
        cmocka_unit_test(test_set_long_paths),
        cmocka_unit_test(test_set_live_fields),
        cmocka_unit_test(test_set_enum_fields),
        cmocka_unit_test(test_set_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
