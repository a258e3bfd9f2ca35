/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <mpp/error.h>
#include <mpp/escape.h>

/* Messages carry text from plugins, bundles and engines: each is escaped to one line (see
 * escape.h) and, when cut to fit, cut at a character boundary with a visible marker. */
static void set_escaped(mpp_error *err, const char *text, int n, size_t size)
{
    /* text holds size - 1 bytes at most; a longer message was cut by snprintf already. */
    size_t len = n < 0 ? 0 : (size_t)n;
    bool cut = len > size - 1;
    if (cut)
        len = size - 1;
    mpp_escape_message(text, len, cut, err->msg, sizeof(err->msg));
}

int mpp_error_setv(mpp_error *err, int code, const char *fmt, va_list ap)
{
    if (code >= 0)
        code = -EINVAL;
    if (err) {
        err->code = code;
        /* One byte more than fits: an input of MPP_ERROR_MSG_MAX bytes cannot fit escaped, so
         * a cut input always ends with the marker. */
        char text[MPP_ERROR_MSG_MAX + 1];
        int n = vsnprintf(text, sizeof(text), fmt, ap);
        set_escaped(err, text, n, sizeof(text));
    }
    return code;
}

int mpp_error_set(mpp_error *err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    code = mpp_error_setv(err, code, fmt, ap);
    va_end(ap);
    return code;
}

int mpp_error_prefix(mpp_error *err, const char *fmt, ...)
{
    if (!err)
        return -EINVAL;
    if (err->code >= 0)
        err->code = -EINVAL;

    char prefix[MPP_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);

    /* The end of an overlong message is the least useful part: it is the part cut. */
    char joined[MPP_ERROR_MSG_MAX + 1];
    int n = snprintf(joined, sizeof(joined), "%s: %s", prefix, err->msg);
    set_escaped(err, joined, n, sizeof(joined));
    return err->code;
}

int mpp_error_append(mpp_error *err, const char *fmt, ...)
{
    if (!err)
        return -EINVAL;
    if (err->code >= 0)
        err->code = -EINVAL;

    char more[MPP_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(more, sizeof(more), fmt, ap);
    va_end(ap);

    char joined[MPP_ERROR_MSG_MAX + 1];
    int n = snprintf(joined, sizeof(joined), "%s%s", err->msg, more);
    set_escaped(err, joined, n, sizeof(joined));
    return err->code;
}

void mpp_error_clear(mpp_error *err)
{
    if (!err)
        return;
    err->code = 0;
    err->msg[0] = '\0';
}
