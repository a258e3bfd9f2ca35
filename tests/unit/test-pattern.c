/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of the pattern matcher (spec §5). Patterns and mounts are written as the JSON a
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

static bool pattern_matches(const char *pattern_json, const char *mount_json)
{
    mpp_pattern p;
    mpp_mount m = {0};
    decode_pattern(pattern_json, &p);
    decode_mount(mount_json, &m);
    bool r = mpp_pattern_match(&p, &m);
    mpp_pattern_clear(&p);
    mpp_mount_clear(&m);
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
        if (mpp_string_pattern_match(&sp_, v_) != (want))                                          \
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
        if (mpp_string_pattern_match(&SP(.path_prefix = p), v) != want_prefix)
            fail_msg("PathPrefix \"%s\" on \"%s\": expected %d", p, v, want_prefix);
        if (mpp_string_pattern_match(&SP(.not_ = true, .path_prefix = p), v) == want_prefix)
            fail_msg("Not PathPrefix \"%s\" on \"%s\": expected %d", p, v, !want_prefix);
        if (mpp_string_pattern_match(&SP(.path_contains = p), v) != want_contains)
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
    assert_true(mpp_pattern_match(&p, &m));
    p.read_only = MPP_FALSE;
    assert_false(mpp_pattern_match(&p, &m));
    p.read_only = MPP_TRUE;
    assert_true(mpp_pattern_match(&p, &m));
    p.create_source_if_missing = MPP_TRUE;
    assert_false(mpp_pattern_match(&p, &m));
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

/* [mpp extension] spec §3: a tmpfs mount reaches only patterns that name "Type": "tmpfs". */
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
