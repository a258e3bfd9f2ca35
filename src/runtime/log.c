/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include <mpp/escape.h>

#include "log.h"
#include "macro.h"

static const char *log_path;
static bool log_json = true;

void runtime_log_open(const char *path, const char *format)
{
    log_path = path;
    log_json = !format || strcmp(format, "text") != 0;
}

static void now_rfc3339(char *buf, size_t size)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, size - n, ".%09ldZ", ts.tv_nsec);
}

void runtime_log(const char *level, const char *fmt, ...)
{
    /* Messages quote plugins and bundles: one line each, control characters and invalid
     * UTF-8 escaped (valid UTF-8 is also what the JSON line needs), cut visibly. */
    char text[4096 + 1], msg[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    size_t len = n < 0 ? 0 : (size_t)n;
    bool cut = len > sizeof(text) - 1;
    mpp_escape_message(text, cut ? sizeof(text) - 1 : len, cut, msg, sizeof(msg));

    fprintf(stderr, "mpp-runtime: %s\n", msg);
    if (!log_path)
        return;

    char when[64];
    now_rfc3339(when, sizeof(when));
    char *line = NULL;
    if (log_json) {
        json_t *o = json_pack("{s:s, s:s, s:s}", "level", level, "msg", msg, "time", when);
        char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
        json_decref(o);
        if (s && asprintf(&line, "%s\n", s) < 0)
            line = NULL;
        free(s);
    } else {
        json_t *q = json_string(msg); /* logrus quotes the message as a Go string */
        char *s = q ? json_dumps(q, JSON_ENCODE_ANY) : NULL;
        json_decref(q);
        if (s && asprintf(&line, "time=\"%s\" level=%s msg=%s\n", when, level, s) < 0)
            line = NULL;
        free(s);
    }
    if (!line)
        return;
    _cleanup_close_ int fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0 && write(fd, line, strlen(line)) < 0) {
        /* nothing more to do: stderr has the message */
    }
    free(line);
}
