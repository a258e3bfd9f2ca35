/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Errors as runc reports them, so that engines show them: a JSON line
 * {"level":"error","msg":...,"time":...} appended to the --log file when it is given with
 * --log-format json (containerd's shim reads the last error from it), a logrus text line for
 * --log-format text, and always the message on stderr. */

void runtime_log_open(const char *log_path, const char *log_format);
void runtime_log(const char *level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define runtime_error(...) runtime_log("error", __VA_ARGS__)
#define runtime_warning(...) runtime_log("warning", __VA_ARGS__)
