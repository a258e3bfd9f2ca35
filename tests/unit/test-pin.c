/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of source pinning (src/lib/pin.c): creating a missing source without following a
 * link, and pins that are never opened again by path. */
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

#include <mpp/pin.h>
#include <mpp/types.h>

#include "../../src/lib/pin-internal.h"
#include "macro.h"
#include "test-util.h"

DEFINE_TEST_TMPDIR("pin")

/* tmpdir/NAME, made fresh for each test. */
static void base(const char *name, char *out, size_t size)
{
    snprintf(out, size, "%s/%s", tmpdir, name);
    assert_int_equal(mkdir(out, 0755), 0);
}

static void join(char *out, size_t size, const char *a, const char *b)
{
    assert_true((size_t)snprintf(out, size, "%s/%s", a, b) < size);
}

static bool exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

static void assert_same(int fd, const char *path)
{
    struct stat a, b;
    assert_int_equal(fstat(fd, &a), 0);
    assert_int_equal(stat(path, &b), 0);
    assert_true(a.st_dev == b.st_dev && a.st_ino == b.st_ino);
}

static void test_mkdir_creates_parents_0755(void **state)
{
    (void)state;
    char b[PATH_MAX], deep[PATH_MAX], mid[PATH_MAX];
    base("parents", b, sizeof(b));
    join(mid, sizeof(mid), b, "new");
    join(deep, sizeof(deep), mid, "deep/dir");
    mpp_error err = {0};
    mode_t old = umask(077);
    int fd = mpp_mkdir_nofollow(deep, &err);
    umask(old);
    assert_true(fd >= 0);
    assert_same(fd, deep);
    close(fd);
    struct stat st;
    const char *made[] = {mid, deep};
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(lstat(made[i], &st), 0);
        assert_true(S_ISDIR(st.st_mode));
        assert_int_equal(st.st_mode & 07777, 0755);
    }
    /* Existing all the way: the same directory, its mode left alone. */
    assert_int_equal(chmod(deep, 0700), 0);
    fd = mpp_mkdir_nofollow(deep, &err);
    assert_true(fd >= 0);
    assert_same(fd, deep);
    close(fd);
    assert_int_equal(lstat(deep, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0700);
}

static void test_mkdir_refuses_a_link_in_a_component(void **state)
{
    (void)state;
    char b[PATH_MAX], target[PATH_MAX], link[PATH_MAX], path[PATH_MAX], outside[PATH_MAX];
    base("component", b, sizeof(b));
    join(target, sizeof(target), b, "target");
    assert_int_equal(mkdir(target, 0755), 0);
    join(link, sizeof(link), b, "link");
    assert_int_equal(symlink(target, link), 0);
    join(path, sizeof(path), link, "new/leaf");
    join(outside, sizeof(outside), target, "new");
    mpp_error err = {0};
    assert_int_equal(mpp_mkdir_nofollow(path, &err), -ELOOP);
    assert_false(exists(outside));
    char want[PATH_MAX * 2 + 64];
    snprintf(want, sizeof(want), "cannot create directory %s: %s is a symbolic link", path, link);
    assert_non_null(strstr(err.msg, want));

    /* Even a link to a directory that exists (here the leaf's parent). */
    char leaf[PATH_MAX];
    join(leaf, sizeof(leaf), link, "x");
    assert_int_equal(mpp_mkdir_nofollow(leaf, &err), -ELOOP);
    join(outside, sizeof(outside), target, "x");
    assert_false(exists(outside));
}

static void test_mkdir_refuses_a_link_at_the_leaf(void **state)
{
    (void)state;
    char b[PATH_MAX], dangling[PATH_MAX], target[PATH_MAX], link[PATH_MAX];
    base("leaf", b, sizeof(b));
    /* Dangling: following it would create its target. */
    join(target, sizeof(target), b, "made-through-the-link");
    join(dangling, sizeof(dangling), b, "dangling");
    assert_int_equal(symlink(target, dangling), 0);
    mpp_error err = {0};
    assert_int_equal(mpp_mkdir_nofollow(dangling, &err), -ELOOP);
    assert_false(exists(target));
    assert_non_null(strstr(err.msg, "symbolic link"));
    assert_non_null(strstr(err.msg, dangling));

    /* To an existing directory: still a link, still refused. */
    assert_int_equal(mkdir(target, 0755), 0);
    join(link, sizeof(link), b, "link");
    assert_int_equal(symlink(target, link), 0);
    assert_int_equal(mpp_mkdir_nofollow(link, &err), -ELOOP);
}

static void test_mkdir_refuses_a_file(void **state)
{
    (void)state;
    char b[PATH_MAX], file[PATH_MAX], below[PATH_MAX];
    base("file", b, sizeof(b));
    join(file, sizeof(file), b, "file");
    int fd = open(file, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    close(fd);
    mpp_error err = {0};
    assert_int_equal(mpp_mkdir_nofollow(file, &err), -ENOTDIR);
    assert_non_null(strstr(err.msg, "is not a directory"));
    join(below, sizeof(below), file, "sub");
    assert_int_equal(mpp_mkdir_nofollow(below, &err), -ENOTDIR);
    struct stat st;
    assert_int_equal(lstat(file, &st), 0);
    assert_true(S_ISREG(st.st_mode));
}

static void test_mkdir_refuses_an_unclean_path(void **state)
{
    (void)state;
    mpp_error err = {0};
    assert_int_equal(mpp_mkdir_nofollow("relative/dir", &err), -EINVAL);
    assert_int_equal(mpp_mkdir_nofollow("/tmp/../tmp/x", &err), -EINVAL);
    assert_int_equal(mpp_mkdir_nofollow("/tmp//x", &err), -EINVAL);
}

static mpp_mount bind_of(const char *src, bool create)
{
    mpp_mount m = {0};
    m.destination = strdup("/data");
    m.source = strdup(src);
    m.type = strdup("bind");
    m.create_source_if_missing = create;
    assert_non_null(m.destination);
    assert_non_null(m.source);
    return m;
}

static void set_effective(mpp_mount *m, const char *path)
{
    free(m->effective_source);
    m->effective_source = strdup(path);
    assert_non_null(m->effective_source);
}

static void test_missing_source_stays_missing(void **state)
{
    (void)state;
    char b[PATH_MAX], missing[PATH_MAX];
    base("missing", b, sizeof(b));
    join(missing, sizeof(missing), b, "missing");
    mpp_mount m = bind_of(missing, false);
    mpp_pins *p = NULL;
    mpp_error err = {0};
    assert_int_equal(mpp_pins_resolve(&m, 1, &p, &err), 0);
    /* Something appears at the path once it was judged missing: never opened. */
    assert_int_equal(symlink(b, missing), 0);
    assert_int_equal(mpp_pins_take(p, &m, 1, NULL, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "does not create a missing source"));
    mpp_pins_free(p);
    mpp_mount_clear(&m);
}

static void test_missing_source_created_before_the_chain(void **state)
{
    (void)state;
    char b[PATH_MAX], ok[PATH_MAX], target[PATH_MAX], link[PATH_MAX], bad[PATH_MAX],
        outside[PATH_MAX];
    base("create", b, sizeof(b));
    join(ok, sizeof(ok), b, "vol/new");
    join(target, sizeof(target), b, "target");
    assert_int_equal(mkdir(target, 0755), 0);
    join(link, sizeof(link), b, "link");
    assert_int_equal(symlink(target, link), 0);
    join(bad, sizeof(bad), link, "new");
    join(outside, sizeof(outside), target, "new");

    mpp_mount ms[2] = {bind_of(ok, true), bind_of(bad, true)};
    mpp_pins *p = NULL;
    mpp_error err = {0};
    assert_int_equal(mpp_pins_resolve(ms, 2, &p, &err), 0);
    /* Created as it was pinned, i.e. before any plugin sees it; the other not at all. */
    struct stat st;
    assert_int_equal(lstat(ok, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_false(exists(outside));
    /* Refused once anything is judged, naming the link; still nothing created. */
    assert_int_equal(mpp_pins_take(p, ms, 2, NULL, &err), -ELOOP);
    assert_non_null(strstr(err.msg, "mount /data: cannot create directory"));
    assert_non_null(strstr(err.msg, link));
    assert_false(exists(outside));
    mpp_pins_free(p);

    /* Redirected elsewhere by a plugin: the failed source does not matter. */
    assert_int_equal(mpp_pins_resolve(&ms[1], 1, &p, &err), 0);
    set_effective(&ms[1], ok);
    assert_int_equal(mpp_pins_effective(p, 0, &ms[1], "p0", &err), 0);
    assert_int_equal(mpp_pins_take(p, &ms[1], 1, NULL, &err), 0);
    mpp_pins_free(p);
    for (size_t i = 0; i < 2; i++)
        mpp_mount_clear(&ms[i]);
}

static void test_effective_source_pinned_when_given(void **state)
{
    (void)state;
    char b[PATH_MAX], src[PATH_MAX], red[PATH_MAX], target[PATH_MAX], link[PATH_MAX],
        moved[PATH_MAX];
    base("effective", b, sizeof(b));
    join(src, sizeof(src), b, "src");
    join(red, sizeof(red), b, "red");
    join(target, sizeof(target), b, "target");
    join(link, sizeof(link), b, "link");
    join(moved, sizeof(moved), b, "red.orig");
    assert_int_equal(mkdir(src, 0755), 0);
    assert_int_equal(mkdir(red, 0755), 0);
    assert_int_equal(mkdir(target, 0755), 0);
    assert_int_equal(symlink(target, link), 0);

    mpp_mount m = bind_of(src, false);
    mpp_pins *p = NULL;
    mpp_error err = {0};
    assert_int_equal(mpp_pins_resolve(&m, 1, &p, &err), 0);

    /* A redirect to a link: the next plugin is given where it leads. */
    set_effective(&m, link);
    assert_int_equal(mpp_pins_effective(p, 0, &m, "p0", &err), 0);
    assert_string_equal(m.effective_source, target);

    /* A redirect swapped for a link once pinned: the final check refuses it. */
    set_effective(&m, red);
    assert_int_equal(mpp_pins_effective(p, 0, &m, "p1", &err), 0);
    assert_string_equal(m.effective_source, red);
    assert_int_equal(rename(red, moved), 0);
    assert_int_equal(symlink(target, red), 0);
    /* The same path given again keeps what was pinned under it. */
    assert_int_equal(mpp_pins_effective(p, 0, &m, "p2", &err), 0);
    assert_int_equal(mpp_pins_take(p, &m, 1, NULL, &err), -ESTALE);
    assert_non_null(strstr(err.msg, "was replaced while the plugins were consulted"));

    /* An effective source changed behind the pins' back is refused, not opened. */
    set_effective(&m, target);
    assert_int_equal(mpp_pins_take(p, &m, 1, NULL, &err), -ESTALE);
    assert_non_null(strstr(err.msg, "is not what was pinned"));
    mpp_pins_free(p);
    mpp_mount_clear(&m);
}

/* The plugins judge what the path names: the source through a link becomes its target, and
 * what the user wrote is kept for messages. */
static void test_source_through_a_link_is_judged_as_its_target(void **state)
{
    (void)state;
    char b[PATH_MAX], target[PATH_MAX], link[PATH_MAX];
    base("canonical", b, sizeof(b));
    join(target, sizeof(target), b, "target");
    join(link, sizeof(link), b, "link");
    assert_int_equal(mkdir(target, 0755), 0);
    assert_int_equal(symlink(target, link), 0);
    mpp_mount ms[2] = {bind_of(link, false), bind_of(target, false)};
    free(ms[1].type);
    ms[1].type = strdup("tmpfs"); /* no host source: never pinned */
    mpp_pins *p = NULL;
    mpp_error err = {0};
    assert_int_equal(mpp_pins_resolve(ms, 2, &p, &err), 0);
    assert_string_equal(ms[0].source, target);
    assert_string_equal(ms[0].effective_source, target);
    assert_string_equal(mpp_pins_given(p, 0), link);
    assert_null(mpp_pins_given(p, 1));
    /* Taken for the runtime: each pinned object is handed over from the pin directory. */
    char pins[PATH_MAX];
    join(pins, sizeof(pins), b, "pins");
    assert_int_equal(mpp_pins_take(p, ms, 2, pins, &err), 0);
    assert_non_null(mpp_pins_path(p, 0));
    assert_int_equal(strncmp(mpp_pins_path(p, 0), pins, strlen(pins)), 0);
    assert_int_equal(mpp_pins_path(p, 0)[strlen(pins)], '/');
    assert_null(mpp_pins_path(p, 1));
    mpp_pins_free(p);
    for (size_t i = 0; i < 2; i++)
        mpp_mount_clear(&ms[i]);
}

/* A magic link (/proc/PID/root/...) is never followed: refused once anything is judged. */
static void test_magic_link_source_is_refused(void **state)
{
    (void)state;
    char b[PATH_MAX], magic[PATH_MAX];
    base("magic", b, sizeof(b));
    assert_true((size_t)snprintf(magic, sizeof(magic), "/proc/%d/root%s", (int)getpid(), b) <
                sizeof(magic));
    mpp_mount m = bind_of(magic, false);
    mpp_pins *p = NULL;
    mpp_error err = {0};
    assert_int_equal(mpp_pins_resolve(&m, 1, &p, &err), 0);
    assert_true(mpp_pins_take(p, &m, 1, NULL, &err) < 0);
    if (!strstr(err.msg, "mount /data: cannot open source") || !strstr(err.msg, magic))
        fail_msg("unexpected error: %s", err.msg);
    mpp_pins_free(p);
    mpp_mount_clear(&m);
}

/* A source swapped for a link after it was pinned: mpp-hook, which cannot hand the pinned
 * object to the runtime, refuses the path that no longer names it. */
static void test_source_swapped_after_pinning_is_refused(void **state)
{
    (void)state;
    char b[PATH_MAX], src[PATH_MAX], other[PATH_MAX], moved[PATH_MAX];
    base("swapped", b, sizeof(b));
    join(src, sizeof(src), b, "src");
    join(other, sizeof(other), b, "other");
    join(moved, sizeof(moved), b, "src.orig");
    assert_int_equal(mkdir(src, 0755), 0);
    assert_int_equal(mkdir(other, 0755), 0);
    mpp_mount m = bind_of(src, false);
    mpp_pins *p = NULL;
    mpp_error err = {0};
    assert_int_equal(mpp_pins_resolve(&m, 1, &p, &err), 0);
    assert_int_equal(rename(src, moved), 0);
    assert_int_equal(symlink(other, src), 0);
    assert_int_equal(mpp_pins_take(p, &m, 1, NULL, &err), -ESTALE);
    assert_non_null(strstr(err.msg, src));
    mpp_pins_free(p);
    mpp_mount_clear(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mkdir_creates_parents_0755),
        cmocka_unit_test(test_mkdir_refuses_a_link_in_a_component),
        cmocka_unit_test(test_mkdir_refuses_a_link_at_the_leaf),
        cmocka_unit_test(test_mkdir_refuses_a_file),
        cmocka_unit_test(test_mkdir_refuses_an_unclean_path),
        cmocka_unit_test(test_missing_source_stays_missing),
        cmocka_unit_test(test_missing_source_created_before_the_chain),
        cmocka_unit_test(test_effective_source_pinned_when_given),
        cmocka_unit_test(test_source_through_a_link_is_judged_as_its_target),
        cmocka_unit_test(test_magic_link_source_is_refused),
        cmocka_unit_test(test_source_swapped_after_pinning_is_refused),
    };
    return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
