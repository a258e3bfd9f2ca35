/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of the journal (src/lib/journal.c): the file (its place, its modes, one per
 * container), the replay of its records, and its tail: nothing is synced, so what a reader may
 * find at the end of a journal is a record cut short or a run of zeroes; neither is a record,
 * and the records before them replay as written. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../src/lib/journal.h"
#include "macro.h"
#include "test-util.h"

#define BEGIN "{\"op\":\"begin\",\"id\":\"c1\",\"mounts\":1}"
#define ATTACH                                                                                     \
    "{\"op\":\"attach\",\"clock\":1,\"plugin\":\"p0\",\"mounts\":[0],\"sent\":[{\"Source\":"       \
    "\"/src\",\"EffectiveSource\":\"/src\",\"Destination\":\"/dst\",\"Type\":\"bind\"}]}"
#define ATTACHED "{\"op\":\"attached\",\"clock\":1,\"entries\":[{\"mount\":0,\"changes\":{}}]}"

typedef struct fixture {
    char dir[64];
    char path[PATH_MAX];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    if (test_tmpdir_make(f->dir, sizeof(f->dir), "journal") < 0) {
        free(f);
        return -1;
    }
    snprintf(f->path, sizeof(f->path), "%s/containers/c1/journal", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    int r = test_tmpdir_remove(f->dir);
    free(f);
    return r;
}

/* A journal with begin and attach, as a create leaves it while the plugin is being called. */
static void write_journal(fixture *f)
{
    mpp_journal *j = NULL;
    mpp_error err = {0};
    if (mpp_journal_create(f->dir, "c1", &j, &err) < 0)
        fail_msg("create: %s", err.msg);
    assert_int_equal(mpp_journal_append(j, BEGIN, &err), 0);
    assert_int_equal(mpp_journal_append(j, ATTACH, &err), 0);
    mpp_journal_close(j);
}

static void append_raw(fixture *f, const void *data, size_t len)
{
    int fd = open(f->path, O_WRONLY | O_APPEND | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
}

static off_t size_of(fixture *f)
{
    struct stat st;
    assert_int_equal(stat(f->path, &st), 0);
    return st.st_size;
}

/* What the tail leaves, read without the lock (an inspector) and with it (a teardown, which
 * also trims the tail so that its own records start on a clean line). */
static void check_tail_ignored(fixture *f, off_t clean_size)
{
    mpp_error err = {0};
    mpp_journal *j = NULL;
    bool busy = true;
    if (mpp_journal_open_readonly(f->dir, "c1", &j, &busy, &err) < 0)
        fail_msg("open read-only: %s", err.msg);
    assert_false(busy);
    char **lines = NULL;
    size_t n = 0;
    assert_int_equal(mpp_journal_lines(j, &lines, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(lines[0], BEGIN);
    assert_string_equal(lines[1], ATTACH);
    mpp_strv_free(lines, n);
    mpp_jstate st;
    if (mpp_jstate_load(j, &st, &err) < 0)
        fail_msg("replay, read-only: %s", err.msg);
    assert_int_equal(st.n_plugins, 1);
    assert_int_equal(st.plugins[0].state, MPP_JP_SENT); /* possibly attached */
    mpp_jstate_clear(&st);
    mpp_journal_close(j);
    assert_true(size_of(f) > clean_size); /* a reader changes nothing */

    if (mpp_journal_open(f->dir, "c1", &j, &err) < 0)
        fail_msg("open: %s", err.msg);
    assert_int_equal(size_of(f), clean_size);
    assert_int_equal(mpp_journal_append(j, ATTACHED, &err), 0);
    if (mpp_jstate_load(j, &st, &err) < 0)
        fail_msg("replay after the trim: %s", err.msg);
    assert_int_equal(st.n_plugins, 1);
    assert_int_equal(st.plugins[0].state, MPP_JP_ATTACHED);
    assert_int_equal(st.plugins[0].n_entries, 1);
    mpp_jstate_clear(&st);
    assert_int_equal(mpp_journal_remove(j, &err), 0);
    mpp_journal_close(j);
}

static void test_torn_record(void **state)
{
    fixture *f = *state;
    write_journal(f);
    off_t clean = size_of(f);
    const char *cut = "{\"op\":\"attached\",\"clock\":1,\"entr";
    append_raw(f, cut, strlen(cut));
    check_tail_ignored(f, clean);
}

static void test_zeroed_tail(void **state)
{
    fixture *f = *state;
    write_journal(f);
    off_t clean = size_of(f);
    char zeroes[8192] = {0};
    append_raw(f, zeroes, sizeof(zeroes));
    check_tail_ignored(f, clean);
}

static void test_record_cut_then_zeroes(void **state)
{
    fixture *f = *state;
    write_journal(f);
    off_t clean = size_of(f);
    const char *cut = "{\"op\":\"attached\",\"clo";
    append_raw(f, cut, strlen(cut));
    char zeroes[100] = {0};
    append_raw(f, zeroes, sizeof(zeroes));
    check_tail_ignored(f, clean);
}

/* A whole record that turned to zeroes up to and with its newline is no record either; the
 * reader fails closed on it rather than skipping what it cannot read. */
static void test_zeroes_inside_is_an_error(void **state)
{
    fixture *f = *state;
    write_journal(f);
    char zeroes[16] = {0};
    append_raw(f, zeroes, sizeof(zeroes));
    append_raw(f, "\n" ATTACHED "\n", strlen(ATTACHED) + 2);
    mpp_error err = {0};
    mpp_journal *j = NULL;
    if (mpp_journal_open(f->dir, "c1", &j, &err) < 0)
        fail_msg("open: %s", err.msg);
    mpp_jstate st;
    assert_true(mpp_jstate_load(j, &st, &err) < 0);
    assert_non_null(strstr(err.msg, f->path));
    mpp_jstate_clear(&st);
    assert_int_equal(mpp_journal_remove(j, &err), 0);
    mpp_journal_close(j);
}

/* ---- The file: where it is, who may read it, one per container, gone when done ---- */

static void test_create_open_remove(void **state)
{
    fixture *f = *state;
    mpp_error err = {0};
    mpp_journal *j = NULL;
    assert_int_equal(mpp_journal_open(f->dir, "c1", &j, &err), -ENOENT);
    assert_false(mpp_container_has_state(f->dir, "c1"));
    if (mpp_journal_create(f->dir, "c1", &j, &err) < 0)
        fail_msg("create: %s", err.msg);
    assert_string_equal(mpp_journal_path(j), f->path);
    assert_true(mpp_container_has_state(f->dir, "c1"));
    struct stat st;
    assert_int_equal(stat(f->path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s/containers/c1", f->dir);
    assert_int_equal(stat(dir, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0700);
    /* One journal per container. */
    mpp_journal *again = NULL;
    mpp_error err2 = {0};
    assert_int_equal(mpp_journal_create(f->dir, "c1", &again, &err2), -EEXIST);
    assert_null(again);

    assert_int_equal(mpp_journal_append(j, BEGIN, &err), 0);
    assert_int_equal(mpp_journal_append(j, ATTACH, &err), 0);
    char **lines = NULL;
    size_t n = 0;
    assert_int_equal(mpp_journal_lines(j, &lines, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(lines[0], BEGIN);
    assert_string_equal(lines[1], ATTACH);
    mpp_strv_free(lines, n);

    /* A reader does not wait for the holder; it sees that it is busy. */
    mpp_journal *ro = NULL;
    bool busy = false;
    if (mpp_journal_open_readonly(f->dir, "c1", &ro, &busy, &err) < 0)
        fail_msg("open read-only: %s", err.msg);
    assert_true(busy);
    mpp_journal_close(ro);

    assert_int_equal(mpp_journal_remove(j, &err), 0);
    mpp_journal_close(j);
    assert_false(mpp_container_has_state(f->dir, "c1"));
    assert_int_equal(stat(dir, &st), -1);
    assert_int_equal(mpp_journal_open(f->dir, "c1", &j, &err), -ENOENT);
}

/* ---- Replay: which plugins still hold something, and who detaches next ---- */

#define SENT(clock, name)                                                                          \
    "{\"op\":\"attach\",\"clock\":" #clock ",\"plugin\":\"" name "\",\"mounts\":[0],\"sent\":"     \
    "[{\"Source\":\"/src\",\"EffectiveSource\":\"/src\",\"Destination\":\"/dst\",\"Type\":"        \
    "\"bind\"}]}"

static void replay(fixture *f, const char *const *records, mpp_jstate *st)
{
    mpp_error err = {0};
    mpp_journal *j = NULL;
    if (mpp_journal_create(f->dir, "c1", &j, &err) < 0)
        fail_msg("create: %s", err.msg);
    for (size_t i = 0; records[i]; i++)
        if (mpp_journal_append(j, records[i], &err) < 0)
            fail_msg("append: %s", err.msg);
    if (mpp_jstate_load(j, st, &err) < 0)
        fail_msg("replay: %s", err.msg);
    assert_int_equal(mpp_journal_remove(j, &err), 0);
    mpp_journal_close(j);
}

static void test_replay_states_and_detach_order(void **state)
{
    fixture *f = *state;
    static const char *const records[] = {
        BEGIN,
        SENT(1, "p0"),
        "{\"op\":\"attached\",\"clock\":1,\"entries\":[{\"mount\":0,\"changes\":"
        "{\"EffectiveSource\":\"/elsewhere\"}}]}",
        SENT(2, "p1"),
        "{\"op\":\"refused\",\"clock\":2,\"error\":\"no\"}",
        SENT(3, "p2"),
        "{\"op\":\"unanswered\",\"clock\":3,\"error\":\"timed out\"}",
        NULL,
    };
    mpp_jstate st;
    replay(f, records, &st);
    assert_string_equal(st.id, "c1");
    assert_int_equal(st.n_mounts, 1);
    assert_int_equal(st.n_plugins, 3);
    assert_string_equal(st.plugins[0].name, "p0");
    assert_int_equal(st.plugins[0].state, MPP_JP_ATTACHED);
    assert_int_equal(st.plugins[0].n_entries, 1);
    assert_string_equal(st.plugins[0].entries[0].changes.effective_source, "/elsewhere");
    assert_int_equal(st.plugins[1].state, MPP_JP_REFUSED);
    /* No answer: counted as attached to everything it was sent. */
    assert_int_equal(st.plugins[2].state, MPP_JP_SENT);
    assert_int_equal(st.plugins[2].n_entries, 1);
    assert_false(st.halted);
    /* The last to attach detaches first; a refusal holds nothing. */
    mpp_jplugin *next = mpp_jstate_next_detach(&st);
    assert_non_null(next);
    assert_string_equal(next->name, "p2");
    next->state = MPP_JP_DETACHED;
    next = mpp_jstate_next_detach(&st);
    assert_non_null(next);
    assert_string_equal(next->name, "p0");
    next->state = MPP_JP_DETACHED;
    assert_null(mpp_jstate_next_detach(&st));
    mpp_jstate_clear(&st);
}

static void test_replay_detach_outcomes(void **state)
{
    fixture *f = *state;
    static const char *const records[] = {
        BEGIN,
        SENT(1, "p0"),
        ATTACHED,
        SENT(2, "p1"),
        "{\"op\":\"attached\",\"clock\":2,\"entries\":[{\"mount\":0,\"changes\":{}}]}",
        "{\"op\":\"detach\",\"clock\":2}",
        "{\"op\":\"detached\",\"clock\":2,\"outcome\":\"fatal\",\"halt\":true,\"retry\":false,"
        "\"error\":\"p1 failed\"}",
        "{\"op\":\"detach\",\"clock\":1}",
        NULL,
    };
    mpp_jstate st;
    replay(f, records, &st);
    assert_int_equal(st.plugins[1].state, MPP_JP_DETACHED);
    assert_true(st.plugins[1].detach_was_sent);
    /* Sent, no outcome: it is sent again. */
    assert_int_equal(st.plugins[0].state, MPP_JP_DETACHING);
    assert_true(st.halted);
    assert_int_equal(st.n_errors, 1);
    assert_string_equal(st.errors[0], "p1 failed");
    mpp_jstate_clear(&st);

    /* A resume lifts the halt. */
    static const char *const resumed[] = {
        BEGIN,
        SENT(1, "p0"),
        ATTACHED,
        "{\"op\":\"detach\",\"clock\":1}",
        "{\"op\":\"detached\",\"clock\":1,\"outcome\":\"fatal\",\"halt\":true,\"retry\":true}",
        "{\"op\":\"resume\"}",
        NULL,
    };
    replay(f, resumed, &st);
    assert_false(st.halted);
    /* retry: it could not be reached; still attached. */
    assert_int_equal(st.plugins[0].state, MPP_JP_DETACHING);
    mpp_jstate_clear(&st);
}

static void test_replay_refuses_what_it_cannot_trust(void **state)
{
    fixture *f = *state;
    static const char *const bad[][4] = {
        {SENT(1, "p0"), NULL, NULL, "does not start with begin"},
        {BEGIN, "{\"op\":\"attached\",\"clock\":7,\"entries\":[]}", NULL, "unknown clock 7"},
        {BEGIN, SENT(1, "p0"), "{\"op\":\"frobnicate\",\"clock\":1}", "unknown record"},
    };
    for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
        mpp_error err = {0};
        mpp_journal *j = NULL;
        if (mpp_journal_create(f->dir, "c1", &j, &err) < 0)
            fail_msg("create: %s", err.msg);
        for (size_t k = 0; k < 3 && bad[i][k]; k++)
            assert_int_equal(mpp_journal_append(j, bad[i][k], &err), 0);
        mpp_jstate st;
        assert_int_equal(mpp_jstate_load(j, &st, &err), -EBADMSG);
        if (!strstr(err.msg, bad[i][3]))
            fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err.msg, bad[i][3]);
        assert_int_equal(mpp_journal_remove(j, &err), 0);
        mpp_journal_close(j);
    }
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_torn_record),
        T(test_zeroed_tail),
        T(test_record_cut_then_zeroes),
        T(test_zeroes_inside_is_an_error),
        T(test_create_open_remove),
        T(test_replay_states_and_detach_order),
        T(test_replay_detach_outcomes),
        T(test_replay_refuses_what_it_cannot_trust),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
