/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Errors: functions that can fail return a negative errno and fill an mpp_error whose message
 * says what failed and on what (plugin, path, container, JSON field). The library never prints. */

#include <stdarg.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MPP_ERROR_MSG_MAX 2048

typedef struct mpp_error {
    int code; /* negative errno, 0 when no error */
    char msg[MPP_ERROR_MSG_MAX];
} mpp_error;

/* Set the error (err may be NULL). Returns code, which must be negative. The message is escaped
 * to one line (mpp_escape_message, escape.h: it often quotes a plugin, a bundle or an engine) and,
 * when longer than MPP_ERROR_MSG_MAX - 1 bytes, cut at a character boundary and ended with
 * MPP_ESCAPE_CUT_MARKER; the same holds for mpp_error_prefix and mpp_error_append. */
int mpp_error_set(mpp_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int mpp_error_setv(mpp_error *err, int code, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/* Prepend context ("while doing X: <old message>"). Returns err->code (or -EINVAL if unset). */
int mpp_error_prefix(mpp_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Append text ("; and then: Y"). Returns err->code (or -EINVAL if unset). */
int mpp_error_append(mpp_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void mpp_error_clear(mpp_error *err);

#ifdef __cplusplus
}
#endif
