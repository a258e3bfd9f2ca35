/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <mpp/error.h>

int mpp_error_setv(mpp_error *err, int code, const char *fmt, va_list ap)
{
    if (code >= 0)
        code = -EINVAL;
    if (err) {
        err->code = code;
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
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

    /* Truncation is fine: the end of an overlong message is the least useful part. */
    char joined[2 * MPP_ERROR_MSG_MAX + 4];
    snprintf(joined, sizeof(joined), "%s: %s", prefix, err->msg);
    joined[sizeof(err->msg) - 1] = '\0';
    memcpy(err->msg, joined, sizeof(err->msg));
    return err->code;
}

void mpp_error_clear(mpp_error *err)
{
    if (!err)
        return;
    err->code = 0;
    err->msg[0] = '\0';
}
