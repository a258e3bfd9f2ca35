/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The JSON-lines logs and the summary made at detach. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "audit.h"
#include "macro.h"
#include "plugin-util.h"

static json_t *now_string(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char buf[64], date[40];
    strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, sizeof(buf), "%s.%06ldZ", date, ts.tv_nsec / 1000);
    return json_string(buf);
}

static void put(FILE *f, const char *line, const char *what)
{
    if (f && (fputs(line, f) < 0 || fputc('\n', f) < 0))
        pu_log("error", "cannot write to %s: %s", what, strerror(errno));
}

void audit_log_record(audit *a, audit_ctr *c, json_t *rec)
{
    if (json_object_set_new(rec, "time", now_string()) < 0 ||
        json_object_set_new(rec, "container", json_string(c->id)) < 0) {
        json_decref(rec);
        return;
    }
    _cleanup_free_ char *line = json_dumps(rec, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(rec);
    if (!line) {
        pu_log("error", "container %s: out of memory for a record", c->id);
        return;
    }
    put(c->log, line, c->id);
    put(a->combined, line, "the combined log");
}

void audit_log_flush(audit *a)
{
    for (audit_ctr *c = a->ctrs; c; c = c->next)
        if (c->log && fflush(c->log) != 0)
            pu_log("error", "container %s: cannot write its log: %s", c->id, strerror(errno));
    if (a->combined && fflush(a->combined) != 0)
        pu_log("error", "cannot write the combined log: %s", strerror(errno));
}

static int cmp_top(const void *x, const void *y)
{
    const json_t *a = *(json_t *const *)x, *b = *(json_t *const *)y;
    json_int_t na = json_integer_value(json_object_get(a, "writes"));
    json_int_t nb = json_integer_value(json_object_get(b, "writes"));
    if (na != nb)
        return na > nb ? -1 : 1;
    return strcmp(json_string_value(json_object_get(a, "path")),
                  json_string_value(json_object_get(b, "path")));
}

int audit_summarize(const char *log_path, const char *id, uint64_t top, json_t **out,
                    mpp_error *err)
{
    _cleanup_fclose_ FILE *f = fopen(log_path, "re");
    if (!f && errno != ENOENT)
        return mpp_error_set(err, -errno, "%s: %s", log_path, strerror(errno));
    _cleanup_json_ json_t *writes = json_object(); /* path -> count, bounded */
    json_int_t counts[4] = {0}, other = 0, bad = 0, overflows = 0;
    static const char *const ops[] = {"write", "create", "delete", "rename"};
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    if (!writes)
        return mpp_error_set(err, -ENOMEM, "out of memory");
    while (f && (len = getline(&line, &cap, f)) > 0) {
        json_t *rec = json_loadb(line, (size_t)len, 0, NULL);
        const char *op = json_string_value(json_object_get(rec, "op"));
        if (!op) {
            bad++; /* e.g. a line cut short by a crash */
        } else if (strcmp(op, "attach") == 0) {
            /* A new container of the same ID: count from here. */
            memset(counts, 0, sizeof(counts));
            json_object_clear(writes);
            other = overflows = bad = 0;
        } else if (strcmp(op, "overflow") == 0) {
            overflows++;
        } else {
            for (size_t k = 0; k < ELEMENTSOF(ops); k++)
                if (strcmp(op, ops[k]) == 0)
                    counts[k]++;
            const char *path = json_string_value(json_object_get(rec, "path"));
            if (strcmp(op, "write") == 0 && path) {
                json_t *n = json_object_get(writes, path);
                if (n)
                    json_integer_set(n, json_integer_value(n) + 1);
                else if (json_object_size(writes) < AUDIT_TOP_MAX_PATHS)
                    json_object_set_new(writes, path, json_integer(1));
                else
                    other++;
            }
        }
        json_decref(rec);
    }
    free(line);

    size_t n = json_object_size(writes), i = 0;
    _cleanup_free_ json_t **v = calloc(n ? n : 1, sizeof(*v));
    _cleanup_json_ json_t *list = json_array();
    if (!v || !list)
        return mpp_error_set(err, -ENOMEM, "out of memory");
    const char *k;
    json_t *val;
    json_object_foreach(writes, k, val)
    {
        v[i] = json_pack("{s:s, s:I}", "path", k, "writes", json_integer_value(val));
        if (!v[i]) {
            while (i > 0)
                json_decref(v[--i]);
            return mpp_error_set(err, -ENOMEM, "out of memory");
        }
        i++;
    }
    qsort(v, n, sizeof(*v), cmp_top);
    for (i = 0; i < n; i++) {
        if (i < top)
            json_array_append(list, v[i]);
        json_decref(v[i]);
    }
    *out = json_pack("{s:s, s:s, s:{s:I, s:I, s:I, s:I}, s:I, s:O, s:b}", "op", "summary",
                     "container", id, "counts", "write", counts[0], "create", counts[1], "delete",
                     counts[2], "rename", counts[3], "overflows", overflows, "top_written", list,
                     "top_exact", other == 0);
    if (!*out)
        return mpp_error_set(err, -ENOMEM, "out of memory");
    if (bad)
        json_object_set_new(*out, "unreadable_lines", json_integer(bad));
    return 0;
}
