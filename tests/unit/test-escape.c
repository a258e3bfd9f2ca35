/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of the escaping of untrusted text (escape.h) and of the messages of mpp_error, which
 * quote plugins: one line, control characters and invalid UTF-8 as \xNN, cut at a character
 * boundary with a marker. */
#include <errno.h>
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

#define MARKER MPP_ESCAPE_CUT_MARKER

static char *esc(const char *in, size_t len, bool cut, size_t outsz)
{
    char *out = malloc(outsz);
    assert_non_null(out);
    memset(out, 'Z', outsz);
    size_t n = mpp_escape_message(in, len, cut, out, outsz);
    assert_int_equal(n, strlen(out));
    assert_true(n < outsz);
    return out;
}

/* Valid UTF-8, one line, no byte below 0x20 nor DEL, no C1 character. */
static void assert_one_clean_line(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; p[i]; i++) {
        assert_true(p[i] >= 0x20 && p[i] != 0x7f);
        if (p[i] == 0xc2)
            assert_true(p[i + 1] >= 0xa0);
    }
    assert_true(mpp_escape_is_clean(s, strlen(s)));
}

static void test_every_control_char(void **state)
{
    (void)state;
    for (unsigned c = 1; c < 0x20; c++) {
        char in[8], want[16];
        snprintf(in, sizeof(in), "a%cb", (char)c);
        snprintf(want, sizeof(want), "a\\x%02xb", c);
        char *out = esc(in, strlen(in), false, 64);
        assert_string_equal(out, want);
        free(out);
    }
    char *out = esc("a\x7f"
                    "b",
                    3, false, 64);
    assert_string_equal(out, "a\\x7fb");
    free(out);
    /* NUL inside the given length is a control character too. */
    out = esc("a\0b", 3, false, 64);
    assert_string_equal(out, "a\\x00b");
    free(out);
}

static void test_c1_chars(void **state)
{
    (void)state;
    for (unsigned c = 0x80; c <= 0x9f; c++) {
        char in[8], want[32];
        snprintf(in, sizeof(in), "a%c%cb", 0xc2, (char)c);
        snprintf(want, sizeof(want), "a\\xc2\\x%02xb", c);
        char *out = esc(in, strlen(in), false, 64);
        assert_string_equal(out, want);
        free(out);
    }
    /* U+00A0 and above are printable: kept. */
    char *out = esc("\xc2\xa0\xc3\xa9", 4, false, 64);
    assert_string_equal(out, "\xc2\xa0\xc3\xa9");
    free(out);
}

static void test_separators_and_bidi(void **state)
{
    (void)state;
    char *out = esc("a\xe2\x80\xa8"
                    "b\xe2\x80\xae"
                    "c\xe2\x81\xa6",
                    12, false, 128);
    assert_string_equal(out, "a\\xe2\\x80\\xa8b\\xe2\\x80\\xaec\\xe2\\x81\\xa6");
    free(out);
    /* Neighbours are kept. */
    out = esc("\xe2\x80\xa7\xe2\x80\xaf", 6, false, 64);
    assert_string_equal(out, "\xe2\x80\xa7\xe2\x80\xaf");
    free(out);
}

static void test_forged_line(void **state)
{
    (void)state;
    const char *in = "denied\nmpp-runtime: ok\r\x1b[2J\x1b]0;title\x07";
    char *out = esc(in, strlen(in), false, 256);
    assert_string_equal(out, "denied\\x0ampp-runtime: ok\\x0d\\x1b[2J\\x1b]0;title\\x07");
    assert_one_clean_line(out);
    free(out);
}

static void test_valid_utf8_kept(void **state)
{
    (void)state;
    const char *in = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\xb3 \xe4\xb8\xad\\x0a";
    char *out = esc(in, strlen(in), false, 256);
    assert_string_equal(out, in); /* backslashes too: escaping twice changes nothing */
    free(out);
}

static void test_invalid_utf8(void **state)
{
    (void)state;
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"\xff", "\\xff"},
        {"\xfe", "\\xfe"},
        {"\x80", "\\x80"},                            /* lone continuation */
        {"\xc3", "\\xc3"},                            /* truncated at the end */
        {"\xc3(", "\\xc3("},                          /* bad continuation */
        {"\xc0\xaf", "\\xc0\\xaf"},                   /* overlong "/" */
        {"\xe0\x80\xaf", "\\xe0\\x80\\xaf"},          /* overlong */
        {"\xed\xa0\x80", "\\xed\\xa0\\x80"},          /* surrogate */
        {"\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80"}, /* above U+10FFFF */
        {"\xf5\x80\x80\x80", "\\xf5\\x80\\x80\\x80"},
        {"\xe2\x82", "\\xe2\\x82"},
        {"a\xe2\x82"
         "b",
         "a\\xe2\\x82b"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *out = esc(cases[i].in, strlen(cases[i].in), false, 64);
        assert_string_equal(out, cases[i].want);
        assert_one_clean_line(out);
        free(out);
    }
}

static void test_idempotent(void **state)
{
    (void)state;
    unsigned char in[256];
    for (unsigned i = 0; i < 256; i++)
        in[i] = (unsigned char)(255 - i);
    char *once = esc((const char *)in, sizeof(in), false, 2048);
    char *twice = esc(once, strlen(once), false, 2048);
    assert_string_equal(once, twice);
    assert_one_clean_line(once);
    free(once);
    free(twice);
}

/* A cut never splits a character or an escape, and ends with the marker. */
static void test_cut_at_boundary(void **state)
{
    (void)state;
    /* "é" (2 bytes) repeated: every output size falls on or beside a boundary. */
    char in[200];
    for (size_t i = 0; i < 100; i++)
        memcpy(in + 2 * i, "\xc3\xa9", 2);
    size_t mlen = strlen(MARKER);
    for (size_t outsz = mlen + 1; outsz < 60; outsz++) {
        char *out = esc(in, sizeof(in), false, outsz);
        size_t n = strlen(out);
        assert_true(n >= mlen);
        assert_string_equal(out + n - mlen, MARKER);
        size_t body = n - mlen;
        assert_int_equal(body % 2, 0);
        assert_true(body + 2 > outsz - 1 - mlen); /* as much as fits */
        for (size_t i = 0; i < body; i += 2)
            assert_memory_equal(out + i, "\xc3\xa9", 2);
        free(out);
    }
    /* 4-byte characters. */
    char fish[40];
    for (size_t i = 0; i < 10; i++)
        memcpy(fish + 4 * i, "\xf0\x9f\x90\x9f", 4);
    for (size_t outsz = mlen + 1; outsz < 40; outsz++) {
        char *out = esc(fish, sizeof(fish), false, outsz);
        size_t body = strlen(out) - mlen;
        assert_int_equal(body % 4, 0);
        assert_string_equal(out + body, MARKER);
        free(out);
    }
    /* Escapes are not split either. */
    char ctl[30];
    memset(ctl, '\n', sizeof(ctl));
    for (size_t outsz = mlen + 1; outsz < 60; outsz++) {
        char *out = esc(ctl, sizeof(ctl), false, outsz);
        size_t body = strlen(out) - mlen;
        assert_int_equal(body % 4, 0);
        for (size_t i = 0; i < body; i += 4)
            assert_memory_equal(out + i, "\\x0a", 4);
        free(out);
    }
    /* What fits exactly is not cut. */
    char *out = esc("\xc3\xa9\xc3\xa9", 4, false, 5);
    assert_string_equal(out, "\xc3\xa9\xc3\xa9");
    free(out);
}

/* An input cut by its producer in the middle of a character: that half character is dropped,
 * not shown as invalid bytes, and the marker says it was cut. */
static void test_input_cut(void **state)
{
    (void)state;
    char *out = esc("ab\xf0\x9f\x90", 5, true, 64);
    assert_string_equal(out, "ab" MARKER);
    free(out);
    out = esc("ab\xc3", 3, true, 64);
    assert_string_equal(out, "ab" MARKER);
    free(out);
    out = esc("ab\xc3\xa9", 4, true, 64);
    assert_string_equal(out, "ab\xc3\xa9" MARKER);
    free(out);
    /* Not cut: the same bytes are invalid. */
    out = esc("ab\xc3", 3, false, 64);
    assert_string_equal(out, "ab\\xc3");
    free(out);
}

static void test_dup(void **state)
{
    (void)state;
    char *s = mpp_escape_dup("a\nb", 0);
    assert_string_equal(s, "a\\x0ab");
    free(s);
    s = mpp_escape_dup(NULL, 0);
    assert_string_equal(s, "");
    free(s);
    s = mpp_escape_dup("0123456789abcdefghijklmnopqrstuvwxyz", 20);
    assert_string_equal(s, "01234567" MARKER);
    free(s);
}

/* mpp_error: what a plugin says reaches the message escaped, and a long message is cut at a
 * character boundary with the marker. */
static void test_error_set(void **state)
{
    (void)state;
    mpp_error err = {0};
    assert_int_equal(mpp_error_set(&err, -EPERM, "plugin \"p\" denied: %s",
                                   "no\nmpp-runtime: ok\x1b[2J\xc2\x9b"),
                     -EPERM);
    assert_string_equal(err.msg, "plugin \"p\" denied: no\\x0ampp-runtime: ok\\x1b[2J\\xc2\\x9b");

    /* 3000 "€" (3 bytes each): cut at a character, with the marker. */
    size_t len = 3 * 3000;
    char *big = malloc(len + 1);
    assert_non_null(big);
    for (size_t i = 0; i < 3000; i++)
        memcpy(big + 3 * i, "\xe2\x82\xac", 3);
    big[len] = '\0';
    for (size_t lead = 0; lead < 3; lead++) {
        mpp_error_set(&err, -EPERM, "%.*sdenied: %s", (int)lead, "xx", big);
        size_t n = strlen(err.msg), mlen = strlen(MARKER);
        assert_true(n < MPP_ERROR_MSG_MAX);
        assert_true(n > MPP_ERROR_MSG_MAX - 16);
        assert_string_equal(err.msg + n - mlen, MARKER);
        const char *body = err.msg + lead + strlen("denied: ");
        size_t blen = n - mlen - lead - strlen("denied: ");
        assert_int_equal(blen % 3, 0);
        for (size_t i = 0; i < blen; i += 3)
            assert_memory_equal(body + i, "\xe2\x82\xac", 3);
        assert_true(mpp_escape_is_clean(err.msg, n));
    }

    /* A message of exactly MPP_ERROR_MSG_MAX - 1 bytes fits whole; one more byte is cut. */
    memset(big, 'a', MPP_ERROR_MSG_MAX);
    big[MPP_ERROR_MSG_MAX - 1] = '\0';
    mpp_error_set(&err, -EIO, "%s", big);
    assert_int_equal(strlen(err.msg), MPP_ERROR_MSG_MAX - 1);
    assert_null(strstr(err.msg, MARKER));
    big[MPP_ERROR_MSG_MAX - 1] = 'a';
    big[MPP_ERROR_MSG_MAX] = '\0';
    mpp_error_set(&err, -EIO, "%s", big);
    assert_non_null(strstr(err.msg, MARKER));
    free(big);
}

static void test_error_prefix_append(void **state)
{
    (void)state;
    mpp_error err = {0};
    mpp_error_set(&err, -EIO, "inner\n");
    mpp_error_prefix(&err, "plugin %s", "p\r");
    assert_string_equal(err.msg, "plugin p\\x0d: inner\\x0a");
    mpp_error_append(&err, "; and %s", "x\ty");
    assert_string_equal(err.msg, "plugin p\\x0d: inner\\x0a; and x\\x09y");
    assert_int_equal(err.code, -EIO);

    char big[3000];
    memset(big, 'b', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    mpp_error_append(&err, "%s", big);
    size_t n = strlen(err.msg);
    assert_true(n < MPP_ERROR_MSG_MAX);
    assert_string_equal(err.msg + n - strlen(MARKER), MARKER);
    assert_true(strncmp(err.msg, "plugin p", 8) == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_control_char),  cmocka_unit_test(test_c1_chars),
        cmocka_unit_test(test_separators_and_bidi), cmocka_unit_test(test_forged_line),
        cmocka_unit_test(test_valid_utf8_kept),     cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_idempotent),          cmocka_unit_test(test_cut_at_boundary),
        cmocka_unit_test(test_input_cut),           cmocka_unit_test(test_dup),
        cmocka_unit_test(test_error_set),           cmocka_unit_test(test_error_prefix_append),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
