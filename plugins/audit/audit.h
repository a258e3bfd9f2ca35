/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* mpp-plugin-audit: every write, create, delete and rename under the selected mounts' sources,
 * as JSON lines, from fanotify.
 *
 * One fanotify group for the whole plugin (FAN_REPORT_DFID_NAME), one FAN_MARK_FILESYSTEM mark
 * per filesystem that holds a watched source, shared by every container watching it (reference
 * counts), and one reader thread. State directory: ID.json per attached container. Logs:
 * LOG_DIR/ID.jsonl, LOG_DIR/audit.jsonl (every container), LOG_DIR/ID.summary.json. */

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include <mpp/error.h>
#include <mpp/types.h>

#define AUDIT_DEFAULT_LOG_DIR "/var/log/mpp-audit"
#define AUDIT_DEFAULT_PATTERNS                                                                     \
    "[{\"Container\": {\"Labels\": [{\"Exists\": [{\"Key\": {\"Exactly\": \"mpp.audit\"}, "        \
    "\"Value\": {\"Exactly\": \"true\"}}]}]}}]"
/* Distinct paths counted exactly for the summary's most written paths; beyond, "other". */
#define AUDIT_TOP_MAX_PATHS 65536

typedef struct audit_config {
    mpp_pattern *patterns;
    size_t n_patterns;
    char *log_dir;
    uint64_t top; /* how many most-written paths the summary lists */
} audit_config;

/* config.c */
int audit_config_load(const char *path, audit_config *out, mpp_error *err);
void audit_config_clear(audit_config *c);

/* A filesystem with our mark on it. */
typedef struct audit_fs {
    uint32_t fsid[2];
    int fd; /* a directory or file on it, for unmarking */
    unsigned refs;
    struct audit_fs *next;
} audit_fs;

/* One watched source of one container. */
typedef struct audit_watch {
    char *source; /* canonical host path */
    size_t source_len;
    char *dest; /* in the container */
    int fd;     /* the source, open: resolves handles through its mount */
    audit_fs *fs;
} audit_watch;

typedef struct audit_ctr {
    char *id;
    FILE *log; /* LOG_DIR/ID.jsonl */
    audit_watch *watches;
    size_t n_watches;
    uint64_t overflows; /* kernel queue overflows seen while watching */
    struct audit_ctr *next;
} audit_ctr;

typedef struct audit {
    audit_config cfg;
    char *state_dir;
    pthread_mutex_t lock; /* everything below, and reading the group */
    int fan_fd;
    int stop_fd; /* eventfd: stops the reader */
    pthread_t reader;
    bool reader_started;
    FILE *combined; /* LOG_DIR/audit.jsonl */
    audit_fs *fss;
    audit_ctr *ctrs;
    uint64_t overflows;
    char *buf; /* AUDIT_READ_BUF bytes for read() */
} audit;

/* fan.c: the fanotify group. */
int audit_fan_open(audit *a, mpp_error *err);
void audit_fan_close(audit *a);
/* Mark the filesystem of fd (once per filesystem). */
int audit_fs_ref(audit *a, int fd, const char *path, audit_fs **out, mpp_error *err);
void audit_fs_unref(audit *a, audit_fs *fs);
/* Read and log the queued events: all of them, or one batch unless there is a backlog; true
 * if there was any. Lock held. */
bool audit_fan_drain(audit *a, bool all);
int audit_reader_start(audit *a, mpp_error *err);
void audit_reader_stop(audit *a);

/* log.c: records. */
/* Append one record (a JSON object, consumed) to the container's log and the combined log,
 * with "time" and "container" set. */
void audit_log_record(audit *a, audit_ctr *c, json_t *rec);
void audit_log_flush(audit *a);
/* Count the records of the container's log since its last "attach" record (so the counts
 * survive a restart of the plugin). *out: the summary record. */
int audit_summarize(const char *log_path, const char *id, uint64_t top, json_t **out,
                    mpp_error *err);

/* container.c */
int audit_attach(audit *a, const mpp_attach_request *req, mpp_attach_response *resp,
                 mpp_error *err);
int audit_detach(audit *a, const char *id, mpp_error *err);
/* At start: watch again the containers whose state survived a restart. */
void audit_resume(audit *a);
void audit_ctr_free(audit *a, audit_ctr *c);
