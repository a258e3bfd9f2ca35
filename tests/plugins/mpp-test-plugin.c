/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpp-test-plugin: a real plugin process on libmpp-plugin whose behaviour is chosen on the
 * command line, for the system tests. Every call is logged as one JSON line. See usage(). */

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include <mpp/codec.h>
#include <mpp/mpp-plugin.h>

#include "macro.h"
#include "../../src/sdk/sdk-internal.h"

#define HANG_MS (3600u * 1000u)
#define MAX_FAULTS 32
#define MAX_HUGE_BYTES (1024ul * 1024ul * 1024ul)

typedef enum attach_mode {
    ATTACH_YES,
    ATTACH_NO,
    ATTACH_DENY,
    ATTACH_REDIRECT,
    ATTACH_REDIRECT_ID,
    ATTACH_CONSISTENCY,
} attach_mode;

typedef enum detach_mode {
    DETACH_OK,
    DETACH_RECOVERABLE,
    DETACH_FATAL,
} detach_mode;

typedef enum fault_kind {
    FAULT_HANG,
    FAULT_CRASH,
    FAULT_GARBAGE,
    FAULT_TOO_FEW,
    FAULT_TOO_MANY,
    FAULT_HTTP500,
    FAULT_SLOW,
    FAULT_HUGE,
    FAULT_NOT_MOUNTPOINT,
    FAULT_CRASH_AFTER,
    FAULT_DRIP,
    FAULT_DROP,
} fault_kind;

typedef struct fault {
    mpp_plugin_call phase;
    fault_kind kind;
    const char *arg;   /* http500: the message */
    unsigned long num; /* slow, drip: ms; huge: bytes */
} fault;

typedef struct plugin {
    const char *socket;
    const char *name;
    const char *log;
    const char *pidfile;
    const char *patterns; /* JSON, decoded afresh for every answer */
    attach_mode attach;
    const char *attach_arg;
    const char **only;         /* --attach-only destinations */
    const char *run_on_attach; /* shell command run before an attach is answered */
    size_t n_only;
    mpp_action *emergency;
    size_t n_emergency;
    const char *state_dir; /* StateDir of attach answers */
    detach_mode detach;
    const char *detach_arg;
    fault faults[MAX_FAULTS];
    size_t n_faults;

    pthread_mutex_t log_lock;
    int wake[2]; /* readable once the server stops: ends hangs */
} plugin;

static void usage(FILE *f)
{
    fputs("usage: mpp-test-plugin --socket PATH --name NAME [--log FILE] [options]\n"
          "  --log FILE           append one JSON line per call (without it, no log: the\n"
          "                       benchmarks' no-op plugins do not pay for one)\n"
          "  --patterns JSON      patterns answered by properties (default [{}])\n"
          "  --attach MODE        yes | no | deny:MSG | redirect:DIR | redirect-id:DIR |\n"
          "                       consistency:C (redirect-id: to DIR/ID, made if missing)\n"
          "  --attach-only DEST   attach only mounts with this Destination (repeatable)\n"
          "  --emergency JSON     EmergencyDetach array put on every attachment; the\n"
          "                       text EFFECTIVE in it stands for the attachment's\n"
          "                       EffectiveSource (e.g. with redirect-id)\n"
          "  --state-dir DIR      StateDir of every attach answer\n"
          "  --detach MODE        ok | recoverable:MSG | fatal:MSG\n"
          "  --fault PHASE:KIND   PHASE: activate|properties|attach|detach; KIND: hang | crash |\n"
          "                       crash-after | garbage | too-few | too-many | http500:MSG |\n"
          "                       slow:MS | drip:MS | huge:BYTES | not-mountpoint | drop\n"
          "                       (repeatable)\n"
          "                       crash: exit before answering; crash-after: answer in full,\n"
          "                       then exit; slow: wait before answering; drip: send the\n"
          "                       answer one byte every MS milliseconds; drop: close the\n"
          "                       connection without an answer, and go on serving\n"
          "  --run-on-attach CMD  run sh -c CMD (MPP_TEST_ID: the container) before answering an\n"
          "                       attach: a race made at a known step; if CMD fails, the\n"
          "                       attach is denied\n"
          "  --pidfile FILE       write the pid once listening\n"
          "Without --socket, the socket comes from socket activation.\n",
          f);
}

/* ---- the call log ---- */

/* One line per call, one write(): lines of concurrent calls (and of other plugin processes
 * sharing the file) never interleave. The file is opened per call because tests remove it. */
static void log_call(plugin *p, mpp_plugin_call call, const char *request_json)
{
    if (!p->log)
        return;
    json_t *req = request_json ? json_loads(request_json, 0, NULL) : json_object();
    json_t *rec = json_pack("{s:s, s:s, s:I, s:o}", "plugin", p->name, "call",
                            mpp_plugin_call_to_string(call), "pid", (json_int_t)getpid(), "request",
                            req ? req : json_object());
    _cleanup_free_ char *text = rec ? json_dumps(rec, JSON_COMPACT) : NULL;
    json_decref(rec);
    _cleanup_free_ char *line = NULL;
    if (!text || asprintf(&line, "%s\n", text) < 0) {
        fprintf(stderr, "mpp-test-plugin %s: cannot build the log line\n", p->name);
        return;
    }

    size_t len = strlen(line), off = 0;
    pthread_mutex_lock(&p->log_lock);
    _cleanup_close_ int fd = open(p->log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    while (fd >= 0 && off < len) {
        ssize_t n = write(fd, line + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    pthread_mutex_unlock(&p->log_lock);
    if (off < len)
        fprintf(stderr, "mpp-test-plugin %s: cannot write to %s: %s\n", p->name, p->log,
                strerror(errno));
}

/* ---- callbacks ---- */

static int on_properties(void *userdata, mpp_properties_response *resp, mpp_error *err)
{
    plugin *p = userdata;

    log_call(p, MPP_PLUGIN_CALL_PROPERTIES, NULL);
    int r = mpp_decode_patterns(p->patterns, strlen(p->patterns), &resp->patterns,
                                &resp->n_patterns, err);
    if (r < 0)
        return r;
    resp->success = true;
    return 0;
}

static bool eligible(const plugin *p, const mpp_mount *m)
{
    if (p->n_only == 0)
        return true;
    for (size_t i = 0; i < p->n_only; i++)
        if (m->destination && strcmp(m->destination, p->only[i]) == 0)
            return true;
    return false;
}

static bool has_fault(const plugin *p, mpp_plugin_call phase, fault_kind kind)
{
    for (size_t i = 0; i < p->n_faults; i++)
        if (p->faults[i].phase == phase && p->faults[i].kind == kind)
            return true;
    return false;
}

/* DIR/ID, made if missing: a directory of the container's own, as a caching or copy-on-write
 * plugin would give. */
static int container_dir(const plugin *p, const char *id, char **out)
{
    if (!id || !*id || strchr(id, '/') || strcmp(id, ".") == 0 || strcmp(id, "..") == 0)
        return -EINVAL;
    if (asprintf(out, "%s/%s", p->attach_arg, id) < 0) {
        *out = NULL;
        return -ENOMEM;
    }
    if (mkdir(*out, 0755) < 0 && errno != EEXIST)
        return -errno;
    return 0;
}

/* Replace each EFFECTIVE in *arg by the attachment's EffectiveSource. */
static int expand_effective(char **arg, const char *effective)
{
    static const char key[] = "EFFECTIVE";
    if (!*arg || !effective || !strstr(*arg, key))
        return 0;
    size_t n = 0;
    for (const char *q = strstr(*arg, key); q; q = strstr(q + strlen(key), key))
        n++;
    char *out = malloc(strlen(*arg) + n * strlen(effective) + 1);
    if (!out)
        return -ENOMEM;
    char *o = out;
    for (const char *q = *arg;;) {
        const char *hit = strstr(q, key);
        size_t len = hit ? (size_t)(hit - q) : strlen(q);
        memcpy(o, q, len);
        o += len;
        if (!hit)
            break;
        strcpy(o, effective);
        o += strlen(effective);
        q = hit + strlen(key);
    }
    *o = '\0';
    free(*arg);
    *arg = out;
    return 0;
}

static int fill_attachment(const plugin *p, const char *id, mpp_attachment *a)
{
    a->attach = true;
    if (p->attach == ATTACH_REDIRECT) {
        a->changes.effective_source = strdup(p->attach_arg);
        if (!a->changes.effective_source)
            return -ENOMEM;
    } else if (p->attach == ATTACH_REDIRECT_ID) {
        int r = container_dir(p, id, &a->changes.effective_source);
        if (r < 0)
            return r;
    } else if (p->attach == ATTACH_CONSISTENCY) {
        a->changes.effective_consistency = strdup(p->attach_arg);
        if (!a->changes.effective_consistency)
            return -ENOMEM;
    }
    if (p->n_emergency > 0) {
        a->emergency = calloc(p->n_emergency, sizeof(*a->emergency));
        if (!a->emergency)
            return -ENOMEM;
        for (size_t i = 0; i < p->n_emergency; i++) {
            int r = mpp_action_copy(&a->emergency[i], &p->emergency[i]);
            if (r < 0)
                return r;
            a->n_emergency = i + 1;
            r = expand_effective(&a->emergency[i].arg, a->changes.effective_source);
            if (r < 0)
                return r;
        }
    }
    return 0;
}

extern char **environ;

/* sh -c cmd, with MPP_TEST_ID set; 0 when it exits 0. */
static int run_command(const char *cmd, const char *id)
{
    _cleanup_free_ char *idvar = NULL;
    if (asprintf(&idvar, "MPP_TEST_ID=%s", id ? id : "") < 0)
        return -ENOMEM;
    size_t n = 0;
    while (environ[n])
        n++;
    _cleanup_free_ char **envp = calloc(n + 2, sizeof(*envp));
    if (!envp)
        return -ENOMEM;
    memcpy(envp, environ, n * sizeof(*envp));
    envp[n] = idvar;
    char *argv[] = {"/bin/sh", "-c", (char *)cmd, NULL};
    pid_t pid;
    int r = posix_spawn(&pid, "/bin/sh", NULL, NULL, argv, envp);
    if (r != 0)
        return -r;
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -errno;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -ECHILD;
}

static int on_attach(void *userdata, const mpp_attach_request *req, mpp_attach_response *resp,
                     mpp_error *err)
{
    plugin *p = userdata;

    if (p->log) {
        _cleanup_free_ char *json = NULL;
        int r = mpp_encode_attach_request(req, &json, err);
        if (r < 0)
            return r;
        log_call(p, MPP_PLUGIN_CALL_ATTACH, json);
    }

    if (p->run_on_attach && run_command(p->run_on_attach, req->id) < 0) {
        resp->success = false;
        resp->err = strdup("--run-on-attach command failed");
        return resp->err ? 0 : mpp_error_set(err, -ENOMEM, "out of memory");
    }

    bool any = false;
    for (size_t i = 0; i < req->n_mounts; i++)
        any = any || eligible(p, &req->mounts[i]);
    if (p->attach == ATTACH_DENY && any) {
        resp->success = false;
        resp->err = strdup(p->attach_arg);
        return resp->err ? 0 : mpp_error_set(err, -ENOMEM, "out of memory");
    }

    size_t n = req->n_mounts;
    if (has_fault(p, MPP_PLUGIN_CALL_ATTACH, FAULT_TOO_FEW) && n > 0)
        n--;
    if (has_fault(p, MPP_PLUGIN_CALL_ATTACH, FAULT_TOO_MANY))
        n++;
    resp->success = true;
    if (p->state_dir && !(resp->state_dir = strdup(p->state_dir)))
        return mpp_error_set(err, -ENOMEM, "out of memory");
    if (n == 0)
        return 0;
    resp->attachments = calloc(n, sizeof(*resp->attachments));
    if (!resp->attachments)
        return mpp_error_set(err, -ENOMEM, "out of memory");
    resp->n_attachments = n;

    for (size_t i = 0; i < n; i++) {
        mpp_attachment *a = &resp->attachments[i];
        if (i >= req->n_mounts) {
            /* The extra one: a client that used it would show this source. */
            a->attach = true;
            a->changes.effective_source = strdup("/nonexistent/too-many");
            if (!a->changes.effective_source)
                return mpp_error_set(err, -ENOMEM, "out of memory");
            continue;
        }
        if (p->attach == ATTACH_NO || p->attach == ATTACH_DENY || !eligible(p, &req->mounts[i]))
            continue;
        int r = fill_attachment(p, req->id, a);
        if (r < 0)
            return mpp_error_set(err, r, "cannot answer the attach of %s: %s", req->id,
                                 strerror(-r));
    }
    return 0;
}

static int on_detach(void *userdata, const mpp_detach_request *req, mpp_detach_response *resp,
                     mpp_error *err)
{
    plugin *p = userdata;

    if (p->log) {
        _cleanup_free_ char *json = NULL;
        int r = mpp_encode_detach_request(req, &json, err);
        if (r < 0)
            return r;
        log_call(p, MPP_PLUGIN_CALL_DETACH, json);
    }

    resp->success = p->detach == DETACH_OK;
    resp->recoverable = p->detach == DETACH_RECOVERABLE;
    if (p->detach != DETACH_OK) {
        resp->err = strdup(p->detach_arg);
        if (!resp->err)
            return mpp_error_set(err, -ENOMEM, "out of memory");
    }
    return 0;
}

/* ---- faults below the callbacks ---- */

/* Sleep ms, or less if the server stops. Returns true when woken by the stop. */
static bool wait_or_stop(plugin *p, unsigned long ms)
{
    struct pollfd pfd = {.fd = p->wake[0], .events = POLLIN};

    while (ms > 0) {
        int chunk = ms > 60000 ? 60000 : (int)ms;
        int r = poll(&pfd, 1, chunk);
        if (r > 0)
            return true;
        if (r == 0)
            ms -= (unsigned long)chunk;
        /* EINTR: try again with the same budget; good enough for a test plugin. */
    }
    return false;
}

static int set_body(char **body, char *new_body)
{
    if (!new_body)
        return -ENOMEM;
    free(*body);
    *body = new_body;
    return 0;
}

/* Adds an unknown field "Padding" of the given size: a lenient client ignores it, a bounded one
 * refuses the size. Spliced into the text rather than built with jansson, so that a 100 MB answer
 * costs one copy, not several. */
static int pad_body(char **body, unsigned long bytes)
{
    static const char key[] = "\"Padding\":\"";
    json_t *j = json_loads(*body, 0, NULL);
    bool object = json_is_object(j), empty = json_object_size(j) == 0;
    json_decref(j);
    if (!object)
        return -EBADMSG;

    /* The SDK's encoding of an object: everything up to its closing brace. */
    size_t len = strlen(*body);
    while (len > 0 && (*body)[len - 1] != '}')
        len--;
    if (len == 0)
        return -EBADMSG;
    len--;

    char *text = malloc(len + 1 + sizeof(key) + bytes + 2);
    if (!text)
        return -ENOMEM;
    size_t o = len;
    memcpy(text, *body, len);
    if (!empty)
        text[o++] = ',';
    memcpy(text + o, key, sizeof(key) - 1);
    o += sizeof(key) - 1;
    memset(text + o, 'x', bytes);
    o += bytes;
    memcpy(text + o, "\"}", 3);
    return set_body(body, text);
}

static int on_answer(void *userdata, mpp_plugin_call call, unsigned *status, char **body)
{
    plugin *p = userdata;

    if (call == MPP_PLUGIN_CALL_ACTIVATE) {
        log_call(p, call, NULL);
        if (has_fault(p, call, FAULT_NOT_MOUNTPOINT)) {
            char *implements[] = {(char *)"VolumeDriver"};
            mpp_activate_response resp = {.implements = implements, .n_implements = 1};
            char *text = NULL;
            if (mpp_encode_activate_response(&resp, &text, NULL) < 0 || set_body(body, text) < 0)
                return -ENOMEM;
        }
    }

    for (size_t i = 0; i < p->n_faults; i++) {
        const fault *f = &p->faults[i];
        if (f->phase != call)
            continue;
        switch (f->kind) {
        case FAULT_SLOW: {
            /* Not cut short by a stop: shows that a stop waits for the calls in progress. */
            struct timespec ts = {.tv_sec = (time_t)(f->num / 1000),
                                  .tv_nsec = (long)(f->num % 1000) * 1000000L};
            while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
            break;
        }
        case FAULT_HANG:
            if (wait_or_stop(p, HANG_MS))
                return -ECANCELED; /* stopping: no answer */
            break;
        case FAULT_CRASH:
            _exit(3);
        case FAULT_DROP:
            return -ECONNABORTED;
        case FAULT_GARBAGE:
            *status = 200;
            if (set_body(body, strdup("this is not json{")) < 0)
                return -ENOMEM;
            break;
        case FAULT_HTTP500: {
            char *text = NULL;
            if (mpp_encode_err_body(f->arg, &text, NULL) < 0 || set_body(body, text) < 0)
                return -ENOMEM;
            *status = 500;
            break;
        }
        case FAULT_HUGE:
            if (pad_body(body, f->num) < 0)
                return -ENOMEM;
            *status = 200;
            break;
        case FAULT_TOO_FEW:
        case FAULT_TOO_MANY:
        case FAULT_NOT_MOUNTPOINT:
            break; /* in the answer itself */
        case FAULT_CRASH_AFTER:
        case FAULT_DRIP:
            break; /* while and after it is sent */
        }
    }
    return 0;
}

static unsigned on_drip_ms(void *userdata, mpp_plugin_call call)
{
    plugin *p = userdata;

    for (size_t i = 0; i < p->n_faults; i++)
        if (p->faults[i].phase == call && p->faults[i].kind == FAULT_DRIP)
            return (unsigned)p->faults[i].num;
    return 0;
}

/* The whole answer has reached the socket: the client gets it, then finds the plugin gone. */
static void on_sent(void *userdata, mpp_plugin_call call)
{
    plugin *p = userdata;

    if (has_fault(p, call, FAULT_CRASH_AFTER))
        _exit(3);
}

static void on_stopping(void *userdata)
{
    plugin *p = userdata;
    ssize_t r = write(p->wake[1], "x", 1);
    (void)r;
}

/* ---- command line ---- */

static int parse_phase(const char *s, size_t len, mpp_plugin_call *out)
{
    static const mpp_plugin_call calls[] = {MPP_PLUGIN_CALL_ACTIVATE, MPP_PLUGIN_CALL_PROPERTIES,
                                            MPP_PLUGIN_CALL_ATTACH, MPP_PLUGIN_CALL_DETACH};
    for (size_t i = 0; i < ELEMENTSOF(calls); i++) {
        const char *name = mpp_plugin_call_to_string(calls[i]);
        if (strlen(name) == len && strncmp(s, name, len) == 0) {
            *out = calls[i];
            return 0;
        }
    }
    return -EINVAL;
}

static int parse_ulong(const char *s, unsigned long max, unsigned long *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end || *s == '-' || v > max)
        return -EINVAL;
    *out = v;
    return 0;
}

static int parse_fault(plugin *p, const char *spec)
{
    const char *colon = strchr(spec, ':');
    if (p->n_faults == MAX_FAULTS) {
        fprintf(stderr, "mpp-test-plugin: more than %d --fault options\n", MAX_FAULTS);
        return -E2BIG;
    }
    fault *f = &p->faults[p->n_faults];
    if (!colon || parse_phase(spec, (size_t)(colon - spec), &f->phase) < 0) {
        fprintf(stderr,
                "mpp-test-plugin: --fault %s: expected PHASE:KIND with PHASE one of "
                "activate, properties, attach, detach\n",
                spec);
        return -EINVAL;
    }
    const char *kind = colon + 1;
    const char *arg = strchr(kind, ':');
    size_t klen = arg ? (size_t)(arg - kind) : strlen(kind);
    if (arg)
        arg++;

    static const struct {
        const char *name;
        fault_kind kind;
        bool has_arg;
    } kinds[] = {
        {"hang", FAULT_HANG, false},
        {"crash", FAULT_CRASH, false},
        {"crash-after", FAULT_CRASH_AFTER, false},
        {"drip", FAULT_DRIP, true},
        {"garbage", FAULT_GARBAGE, false},
        {"too-few", FAULT_TOO_FEW, false},
        {"too-many", FAULT_TOO_MANY, false},
        {"http500", FAULT_HTTP500, true},
        {"slow", FAULT_SLOW, true},
        {"huge", FAULT_HUGE, true},
        {"not-mountpoint", FAULT_NOT_MOUNTPOINT, false},
        {"drop", FAULT_DROP, false},
    };
    size_t i;
    for (i = 0; i < ELEMENTSOF(kinds); i++)
        if (strlen(kinds[i].name) == klen && strncmp(kind, kinds[i].name, klen) == 0)
            break;
    if (i == ELEMENTSOF(kinds)) {
        fprintf(stderr, "mpp-test-plugin: --fault %s: unknown kind\n", spec);
        return -EINVAL;
    }
    if (kinds[i].has_arg != !!arg) {
        fprintf(stderr, "mpp-test-plugin: --fault %s: %s %s an argument (KIND:ARG)\n", spec,
                kinds[i].name, kinds[i].has_arg ? "needs" : "takes no");
        return -EINVAL;
    }
    f->kind = kinds[i].kind;
    f->arg = arg;
    if (f->kind == FAULT_SLOW && parse_ulong(arg, HANG_MS, &f->num) < 0) {
        fprintf(stderr, "mpp-test-plugin: --fault %s: slow needs milliseconds\n", spec);
        return -EINVAL;
    }
    if (f->kind == FAULT_DRIP && (parse_ulong(arg, 60000, &f->num) < 0 || f->num == 0)) {
        fprintf(stderr, "mpp-test-plugin: --fault %s: drip needs 1 to 60000 milliseconds\n", spec);
        return -EINVAL;
    }
    if (f->kind == FAULT_HUGE && parse_ulong(arg, MAX_HUGE_BYTES, &f->num) < 0) {
        fprintf(stderr, "mpp-test-plugin: --fault %s: huge needs a byte count up to %lu\n", spec,
                MAX_HUGE_BYTES);
        return -EINVAL;
    }
    if ((f->kind == FAULT_TOO_FEW || f->kind == FAULT_TOO_MANY) &&
        f->phase != MPP_PLUGIN_CALL_ATTACH) {
        fprintf(stderr, "mpp-test-plugin: --fault %s: only attach answers have attachments\n",
                spec);
        return -EINVAL;
    }
    if (f->kind == FAULT_NOT_MOUNTPOINT && f->phase != MPP_PLUGIN_CALL_ACTIVATE) {
        fprintf(stderr, "mpp-test-plugin: --fault %s: only for activate\n", spec);
        return -EINVAL;
    }
    p->n_faults++;
    return 0;
}

/* "KEY:ARG" → ARG when s starts with prefix "KEY:". */
static const char *after(const char *s, const char *prefix)
{
    size_t n = strlen(prefix);
    return strncmp(s, prefix, n) == 0 ? s + n : NULL;
}

static int parse_attach(plugin *p, const char *s)
{
    const char *arg;
    if (strcmp(s, "yes") == 0) {
        p->attach = ATTACH_YES;
    } else if (strcmp(s, "no") == 0) {
        p->attach = ATTACH_NO;
    } else if ((arg = after(s, "deny:"))) {
        p->attach = ATTACH_DENY;
        p->attach_arg = arg;
    } else if ((arg = after(s, "redirect:")) && *arg) {
        p->attach = ATTACH_REDIRECT;
        p->attach_arg = arg;
    } else if ((arg = after(s, "redirect-id:")) && *arg == '/') {
        p->attach = ATTACH_REDIRECT_ID;
        p->attach_arg = arg;
    } else if ((arg = after(s, "consistency:")) && *arg) {
        p->attach = ATTACH_CONSISTENCY;
        p->attach_arg = arg;
    } else {
        fprintf(stderr,
                "mpp-test-plugin: --attach %s: expected yes, no, deny:MSG, "
                "redirect:DIR, redirect-id:/DIR or consistency:C\n",
                s);
        return -EINVAL;
    }
    return 0;
}

static int parse_detach(plugin *p, const char *s)
{
    const char *arg;
    if (strcmp(s, "ok") == 0) {
        p->detach = DETACH_OK;
    } else if ((arg = after(s, "recoverable:"))) {
        p->detach = DETACH_RECOVERABLE;
        p->detach_arg = arg;
    } else if ((arg = after(s, "fatal:"))) {
        p->detach = DETACH_FATAL;
        p->detach_arg = arg;
    } else {
        fprintf(stderr,
                "mpp-test-plugin: --detach %s: expected ok, recoverable:MSG or "
                "fatal:MSG\n",
                s);
        return -EINVAL;
    }
    return 0;
}

/* The codec has no public decoder for a bare action list: wrap it in an attach answer. */
static int parse_emergency(plugin *p, const char *json)
{
    _cleanup_free_ char *doc = NULL;
    if (asprintf(&doc,
                 "{\"Success\":true,\"Attachments\":[{\"Attach\":true,"
                 "\"EmergencyDetach\":%s}]}",
                 json) < 0)
        return -ENOMEM;

    mpp_attach_response resp = {0};
    mpp_error err = {0};
    int r = mpp_decode_attach_response(doc, strlen(doc), &resp, &err);
    if (r < 0) {
        fprintf(stderr, "mpp-test-plugin: --emergency %s: %s\n", json, err.msg);
        return r;
    }
    p->emergency = resp.attachments[0].emergency;
    p->n_emergency = resp.attachments[0].n_emergency;
    resp.attachments[0].emergency = NULL;
    resp.attachments[0].n_emergency = 0;
    mpp_attach_response_clear(&resp);
    return 0;
}

static int parse_args(plugin *p, int argc, char **argv)
{
    enum {
        OPT_PATTERNS = 256,
        OPT_ATTACH,
        OPT_ATTACH_ONLY,
        OPT_EMERGENCY,
        OPT_DETACH,
        OPT_FAULT,
        OPT_PIDFILE,
        OPT_STATE_DIR,
        OPT_RUN_ON_ATTACH,
    };
    static const struct option options[] = {
        {"socket", required_argument, NULL, 's'},
        {"name", required_argument, NULL, 'n'},
        {"log", required_argument, NULL, 'l'},
        {"patterns", required_argument, NULL, OPT_PATTERNS},
        {"attach", required_argument, NULL, OPT_ATTACH},
        {"attach-only", required_argument, NULL, OPT_ATTACH_ONLY},
        {"emergency", required_argument, NULL, OPT_EMERGENCY},
        {"detach", required_argument, NULL, OPT_DETACH},
        {"fault", required_argument, NULL, OPT_FAULT},
        {"pidfile", required_argument, NULL, OPT_PIDFILE},
        {"state-dir", required_argument, NULL, OPT_STATE_DIR},
        {"run-on-attach", required_argument, NULL, OPT_RUN_ON_ATTACH},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    int c, r = 0;

    p->patterns = "[{}]";
    while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
        switch (c) {
        case 's':
            p->socket = optarg;
            break;
        case 'n':
            p->name = optarg;
            break;
        case 'l':
            p->log = optarg;
            break;
        case OPT_PATTERNS:
            p->patterns = optarg;
            break;
        case OPT_ATTACH:
            r = parse_attach(p, optarg);
            break;
        case OPT_ATTACH_ONLY: {
            const char **v = realloc(p->only, (p->n_only + 1) * sizeof(*v));
            if (!v)
                return -ENOMEM;
            v[p->n_only++] = optarg;
            p->only = v;
            break;
        }
        case OPT_EMERGENCY:
            if (p->emergency) {
                fprintf(stderr, "mpp-test-plugin: --emergency given twice\n");
                return -EINVAL;
            }
            r = parse_emergency(p, optarg);
            break;
        case OPT_DETACH:
            r = parse_detach(p, optarg);
            break;
        case OPT_FAULT:
            r = parse_fault(p, optarg);
            break;
        case OPT_PIDFILE:
            p->pidfile = optarg;
            break;
        case OPT_STATE_DIR:
            p->state_dir = optarg;
            break;
        case OPT_RUN_ON_ATTACH:
            p->run_on_attach = optarg;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            return -EINVAL;
        }
        if (r < 0)
            return r;
    }
    if (optind < argc || !p->name) {
        usage(stderr);
        return -EINVAL;
    }

    /* Refuse bad patterns now rather than at the first call. */
    mpp_pattern *pats = NULL;
    size_t n = 0;
    mpp_error err = {0};
    r = mpp_decode_patterns(p->patterns, strlen(p->patterns), &pats, &n, &err);
    if (r < 0) {
        fprintf(stderr, "mpp-test-plugin: --patterns %s: %s\n", p->patterns, err.msg);
        return r;
    }
    mpp_patterns_free(pats, n);
    return 0;
}

static int write_pidfile(const char *path)
{
    _cleanup_free_ char *tmp = NULL;
    if (asprintf(&tmp, "%s.tmp", path) < 0)
        return -ENOMEM;
    _cleanup_fclose_ FILE *f = fopen(tmp, "we");
    if (!f)
        return -errno;
    fprintf(f, "%ld\n", (long)getpid());
    if (fflush(f) != 0 || ferror(f))
        return -EIO;
    /* Renamed into place, so a reader never sees a partial pid. */
    if (rename(tmp, path) < 0)
        return -errno;
    return 0;
}

static void plugin_clear(plugin *p)
{
    free(p->only);
    for (size_t i = 0; i < p->n_emergency; i++)
        free(p->emergency[i].arg);
    free(p->emergency);
    for (int i = 0; i < 2; i++)
        if (p->wake[i] >= 0)
            close(p->wake[i]);
    pthread_mutex_destroy(&p->log_lock);
}

DEFINE_TRIVIAL_CLEANUP_FUNC(mpp_plugin_server *, mpp_plugin_server_free)

int main(int argc, char **argv)
{
    _cleanup_(plugin_clear) plugin p = {.wake = {-1, -1}};
    pthread_mutex_init(&p.log_lock, NULL);

    if (parse_args(&p, argc, argv) < 0)
        return 2;
    if (pipe2(p.wake, O_CLOEXEC) < 0) {
        perror("mpp-test-plugin: pipe");
        return 1;
    }

    static const mpp_plugin_ops ops = {
        .properties = on_properties,
        .attach = on_attach,
        .detach = on_detach,
    };
    mpp_plugin_server_options opts = {.socket_path = p.socket};
    _cleanup_(mpp_plugin_server_freep) mpp_plugin_server *s = NULL;
    mpp_error err = {0};
    if (mpp_plugin_server_new(&opts, &ops, &p, &s, &err) < 0) {
        fprintf(stderr, "mpp-test-plugin %s: %s\n", p.name, err.msg);
        return 1;
    }
    mpp_plugin_server_set_test_hooks(
        s,
        &(mpp_plugin_test_hooks){
            .answer = on_answer, .stopping = on_stopping, .drip_ms = on_drip_ms, .sent = on_sent},
        &p);

    if (p.pidfile) {
        int r = write_pidfile(p.pidfile);
        if (r < 0) {
            fprintf(stderr, "mpp-test-plugin %s: cannot write %s: %s\n", p.name, p.pidfile,
                    strerror(-r));
            return 1;
        }
    }
    if (mpp_plugin_server_run(s, &err) < 0) {
        fprintf(stderr, "mpp-test-plugin %s: %s\n", p.name, err.msg);
        return 1;
    }
    return 0;
}
