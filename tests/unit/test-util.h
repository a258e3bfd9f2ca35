/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What the unit tests share: temporary directories (made under /tmp, removed whole), and reading
 * a file. Include after <cmocka.h>. */

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A fresh directory /tmp/mpp-test-WHAT-XXXXXX in dir (size bytes). 0, or -1 with errno. */
static inline int test_tmpdir_make(char *dir, size_t size, const char *what)
{
    if ((size_t)snprintf(dir, size, "/tmp/mpp-test-%s-XXXXXX", what) >= size) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return mkdtemp(dir) ? 0 : -1;
}

static inline int test_tmpdir_remove_one(const char *path, const struct stat *st, int flag,
                                         struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    return (flag == FTW_DP ? rmdir(path) : unlink(path)) == 0 || errno == ENOENT ? 0 : -1;
}

/* Removes dir and everything below it (not following symbolic links, not crossing into other
 * file systems). 0, or -1 when something could not be removed. */
static inline int test_tmpdir_remove(const char *dir)
{
    if (!dir || !*dir)
        return 0;
    return nftw(dir, test_tmpdir_remove_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

/* A test group's own directory, tmpdir, made by setup_dir and removed by teardown_dir (its
 * cmocka group setup and teardown). */
#define DEFINE_TEST_TMPDIR(what)                                                                   \
    static char tmpdir[64];                                                                        \
    static int setup_dir(void **state)                                                             \
    {                                                                                              \
        (void)state;                                                                               \
        return test_tmpdir_make(tmpdir, sizeof(tmpdir), what);                                     \
    }                                                                                              \
    static int teardown_dir(void **state)                                                          \
    {                                                                                              \
        (void)state;                                                                               \
        return test_tmpdir_remove(tmpdir);                                                         \
    }

/* The whole content of path (heap, NUL-terminated; its length in *len when len is not NULL);
 * fails the test when it cannot be read. */
static inline char *test_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "re");
    if (!f)
        fail_msg("cannot open %s: %s", path, strerror(errno));
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
    if (len)
        *len = size;
    return buf;
}
