/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libmpp-plugin: serves the mount point plugin protocol (protocol §1, §4) on a unix socket with
 * libmicrohttpd, and hands decoded requests to the plugin's callbacks. */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <microhttpd.h>

#include <mpp/codec.h>
#include <mpp/mpp-plugin.h>
#include <mpp/pattern.h>

#include "macro.h"
#include "sdk-internal.h"

#define MEDIA_TYPE "application/vnd.docker.plugins.v1.2+json"
#define LISTEN_BACKLOG 128
#define DEFAULT_THREADS 4u
/* With fewer, keeping one connection free to evict for would leave too few to serve. (The idle
 * timeout closes idle keep-alive and stalled connections; a suspended one, whose call runs,
 * never times out.) */
#define MIN_CONNECTIONS 4u
#define LISTEN_FDS_START 3

#ifndef MHD_HTTP_CONTENT_TOO_LARGE
#define MHD_HTTP_CONTENT_TOO_LARGE 413
#endif

struct mpp_plugin_server {
    mpp_plugin_ops ops;
    void *userdata;

    struct MHD_Daemon *daemon;
    char *socket_path; /* set only for a socket we created (and must remove) */
    dev_t socket_dev;
    ino_t socket_ino;

    int signal_fd;
    int stop_fd; /* eventfd written by mpp_plugin_server_stop() */
    sigset_t old_mask;
    bool mask_saved;
    bool ran;

    pthread_t *workers;
    unsigned n_workers;

    size_t max_request;
    unsigned max_connections;
    unsigned idle_timeout_s;
    bool attach_unselected;

    /* Open connections, least recently active first. Touched only by MHD's polling thread. */
    struct conn_slot *conns_head, *conns_tail;

    pthread_mutex_t lock; /* guards what follows */
    pthread_cond_t idle;
    pthread_cond_t work;
    unsigned in_flight; /* requests the handler has seen and MHD has not completed */
    struct request *queue_head, *queue_tail;
    bool quit; /* workers exit once the queue is empty */
#ifdef MPP_SDK_TEST_HOOKS
    mpp_plugin_test_hooks hooks;
    void *hooks_userdata;
#endif
    /* The patterns of the last properties answer (what mpp matches with), for the attach
     * check. */
    mpp_pattern *served;
    size_t n_served;
    bool have_served;
    char mhd_msg[256]; /* last libmicrohttpd message, for start errors */
};

/* An answer: HTTP status and a heap JSON body. */
typedef struct answer {
    unsigned status;
    char *body;
    bool decoded;     /* the request decoded: the test hooks may see the answer */
    unsigned drip_ms; /* test hook: send the body a byte at a time, this far apart */
} answer;

/* One HTTP request. Its connection is suspended while a worker runs the call, so that a slow
 * callback holds up nothing but its own request. */
typedef struct request {
    int call;      /* mpp_plugin_call, or -1 when the answer was decided from the headers */
    answer reply;  /* decided from the headers, or made by a worker */
    bool ready;    /* a worker made reply (or decided to drop the connection) */
    bool drop;     /* close the connection without an answer */
    bool answered; /* an answer was queued: ignore the rest */
    char *body;
    size_t len;
    size_t cap;
    bool too_large;
    long long started_ms; /* when the headers arrived: the body must follow within the timeout */
    struct MHD_Connection *conn;
    struct request *next; /* in the work queue */
} request;

/* One open connection, for the connection limit: which to close when all are taken. */
typedef struct conn_slot {
    int fd;
    bool busy;    /* a call of its runs or is being answered: not evicted */
    bool evicted; /* shut down, MHD closes it next */
    struct conn_slot *prev, *next;
} conn_slot;

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const struct {
    const char *path;
    mpp_plugin_call call;
} routes[] = {
    {"/Plugin.Activate", MPP_PLUGIN_CALL_ACTIVATE},
    {"/MountPointPlugin.MountPointProperties", MPP_PLUGIN_CALL_PROPERTIES},
    {"/MountPointPlugin.MountPointAttach", MPP_PLUGIN_CALL_ATTACH},
    {"/MountPointPlugin.MountPointDetach", MPP_PLUGIN_CALL_DETACH},
};

/* The test hooks (sdk-internal.h) exist only in the SDK's test build (MPP_SDK_TEST_HOOKS, linked
 * by the test plugin): the installed library has none, and hooks_get() returns none. */
static mpp_plugin_test_hooks hooks_get(mpp_plugin_server *s, void **userdata)
{
#ifdef MPP_SDK_TEST_HOOKS
    pthread_mutex_lock(&s->lock);
    mpp_plugin_test_hooks hooks = s->hooks;
    *userdata = s->hooks_userdata;
    pthread_mutex_unlock(&s->lock);
    return hooks;
#else
    *userdata = NULL;
    return (mpp_plugin_test_hooks){0};
#endif
}

#ifdef MPP_SDK_TEST_HOOKS
const char *mpp_plugin_call_to_string(mpp_plugin_call c)
{
    switch (c) {
    case MPP_PLUGIN_CALL_ACTIVATE:
        return "activate";
    case MPP_PLUGIN_CALL_PROPERTIES:
        return "properties";
    case MPP_PLUGIN_CALL_ATTACH:
        return "attach";
    case MPP_PLUGIN_CALL_DETACH:
        return "detach";
    }
    return "unknown";
}

void mpp_plugin_server_set_test_hooks(mpp_plugin_server *s, const mpp_plugin_test_hooks *hooks,
                                      void *userdata)
{
    pthread_mutex_lock(&s->lock);
    s->hooks = hooks ? *hooks : (mpp_plugin_test_hooks){0};
    s->hooks_userdata = userdata;
    pthread_mutex_unlock(&s->lock);
}
#endif

/* ---- answers ---- */

static void answer_clear(answer *a)
{
    free(a->body);
    a->body = NULL;
}

/* {"Err": msg} with the given status. Only fails on ENOMEM. */
static int answer_err(answer *a, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int answer_err(answer *a, unsigned status, const char *fmt, ...)
{
    char msg[MPP_ERROR_MSG_MAX + 128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    mpp_error e = {0};
    answer_clear(a);
    int r = mpp_encode_err_body(msg, &a->body, &e);
    if (r < 0)
        return r;
    a->status = status;
    return 0;
}

static int callback_failed(answer *a, const char *what, int r, const mpp_error *err)
{
    if (err->msg[0])
        return answer_err(a, MHD_HTTP_INTERNAL_SERVER_ERROR, "%s", err->msg);
    return answer_err(a, MHD_HTTP_INTERNAL_SERVER_ERROR, "%s callback failed: %s", what,
                      strerror(r == INT_MIN ? EINVAL : -r));
}

static int encode_failed(answer *a, const char *what, const mpp_error *err)
{
    return answer_err(a, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot encode the %s answer: %s", what,
                      err->msg);
}

static int handle_activate(answer *a)
{
    a->decoded = true; /* the body of an activation is not read */
    char *implements[] = {(char *)"mountpoint"};
    mpp_activate_response resp = {.implements = implements, .n_implements = 1};
    mpp_error err = {0};

    if (mpp_encode_activate_response(&resp, &a->body, &err) < 0)
        return encode_failed(a, "activate", &err);
    a->status = MHD_HTTP_OK;
    return 0;
}

/* The properties request is "{}": anything but an object (or nothing) is a client error. */
static int check_properties_request(const char *body, size_t len, answer *a, bool *ok)
{
    size_t i = 0;
    while (i < len && strchr(" \t\r\n", body[i]))
        i++;
    *ok = true;
    if (i == len)
        return 0;

    json_error_t jerr;
    json_t *j = json_loadb(body, len, 0, &jerr);
    if (!j) {
        *ok = false;
        return answer_err(a, MHD_HTTP_BAD_REQUEST, "properties request: line %d column %d: %s",
                          jerr.line, jerr.column, jerr.text);
    }
    bool is_object = json_is_object(j);
    json_decref(j);
    if (!is_object) {
        *ok = false;
        return answer_err(a, MHD_HTTP_BAD_REQUEST, "properties request: expected an object");
    }
    return 0;
}

/* Keep the patterns of a properties answer as the client will read them (decoded from the very
 * body sent). Returns whether there are patterns to check with (false: out of memory, or an
 * answer that is not a success). */
static bool remember_patterns(mpp_plugin_server *s, const char *body)
{
    mpp_properties_response got = {0};
    mpp_error err = {0};
    if (mpp_decode_properties_response(body, strlen(body), &got, &err) < 0)
        return false;
    if (!got.success) {
        mpp_properties_response_clear(&got);
        return false;
    }
    pthread_mutex_lock(&s->lock);
    mpp_patterns_free(s->served, s->n_served);
    s->served = TAKE_PTR(got.patterns);
    s->n_served = got.n_patterns;
    got.n_patterns = 0;
    s->have_served = true;
    pthread_mutex_unlock(&s->lock);
    mpp_properties_response_clear(&got);
    return true;
}

static int handle_properties(mpp_plugin_server *s, const request *rq, answer *a)
{
    bool ok;
    int r = check_properties_request(rq->body, rq->len, a, &ok);
    if (r < 0 || !ok)
        return r;
    a->decoded = true;

    _cleanup_(mpp_properties_response_clear) mpp_properties_response resp = {0};
    mpp_error err = {0};
    if (s->ops.properties) {
        r = s->ops.properties(s->userdata, &resp, &err);
        if (r < 0)
            return callback_failed(a, "properties", r, &err);
    } else {
        resp.success = true; /* no patterns: selects nothing */
    }
    if (mpp_encode_properties_response(&resp, &a->body, &err) < 0)
        return encode_failed(a, "properties", &err);
    a->status = MHD_HTTP_OK;
    remember_patterns(s, a->body);
    return 0;
}

/* A denial (HTTP 200, Success false) with a message. */
static int answer_attach_denied(answer *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int answer_attach_denied(answer *a, const char *fmt, ...)
{
    char msg[MPP_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    mpp_attach_response resp = {.success = false, .err = msg};
    mpp_error err = {0};
    answer_clear(a);
    if (mpp_encode_attach_response(&resp, &a->body, &err) < 0)
        return encode_failed(a, "attach", &err);
    a->status = MHD_HTTP_OK;
    return 0;
}

/* mpp sends an attach only the mounts the plugin's patterns select: any other came from a client
 * talking to the socket directly, and the plugin must not act on it (an overlay of "/", say).
 * The patterns are those of the last properties answer, which mpp matched with; when none was
 * given yet by this process (mpp may have cached an earlier process's answer: a socket-activated
 * plugin restarts on the same socket), the properties callback is asked. *ok is false when the
 * answer (a refusal) is made. */
static int check_selected(mpp_plugin_server *s, const mpp_attach_request *req, answer *a, bool *ok)
{
    *ok = false;
    pthread_mutex_lock(&s->lock);
    bool have = s->have_served;
    pthread_mutex_unlock(&s->lock);
    if (!have) {
        _cleanup_(mpp_properties_response_clear) mpp_properties_response props = {0};
        _cleanup_free_ char *body = NULL;
        mpp_error err = {0};
        if (s->ops.properties) {
            int r = s->ops.properties(s->userdata, &props, &err);
            if (r < 0)
                return callback_failed(a, "properties", r, &err);
        } else {
            props.success = true; /* no patterns: selects nothing */
        }
        if (!props.success)
            return answer_attach_denied(
                a, "attach refused: the plugin cannot tell which mounts it selects: %s",
                props.err ? props.err : "no reason given");
        if (mpp_encode_properties_response(&props, &body, &err) < 0)
            return encode_failed(a, "properties", &err);
        if (!remember_patterns(s, body))
            return answer_err(a, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    }

    size_t bad = SIZE_MAX;
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < req->n_mounts && bad == SIZE_MAX; i++)
        if (mpp_patterns_match(s->served, s->n_served, &req->mounts[i]) < 0)
            bad = i;
    pthread_mutex_unlock(&s->lock);
    if (bad != SIZE_MAX) {
        const mpp_mount *m = &req->mounts[bad];
        return answer_attach_denied(
            a,
            "attach refused: mount %zu (%s -> %s) is not one this plugin's patterns select "
            "(mpp sends a plugin only those)",
            bad, !isempty(m->source) ? m->source : strempty(m->effective_source),
            strempty(m->destination));
    }
    *ok = true;
    return 0;
}

static int handle_attach(mpp_plugin_server *s, const request *rq, answer *a)
{
    _cleanup_(mpp_attach_request_clear) mpp_attach_request req = {0};
    mpp_error err = {0};
    int r = mpp_decode_attach_request(rq->body, rq->len, &req, &err);
    if (r < 0)
        return answer_err(a, MHD_HTTP_BAD_REQUEST, "%s", err.msg);
    a->decoded = true;

    if (s->ops.attach && !s->attach_unselected) {
        bool ok;
        r = check_selected(s, &req, a, &ok);
        if (r < 0 || !ok)
            return r;
    }

    _cleanup_(mpp_attach_response_clear) mpp_attach_response resp = {0};
    if (s->ops.attach) {
        r = s->ops.attach(s->userdata, &req, &resp, &err);
        if (r < 0)
            return callback_failed(a, "attach", r, &err);
    } else {
        resp.success = true; /* attach nothing */
    }
    if (mpp_encode_attach_response(&resp, &a->body, &err) < 0)
        return encode_failed(a, "attach", &err);
    a->status = MHD_HTTP_OK;
    return 0;
}

static int handle_detach(mpp_plugin_server *s, const request *rq, answer *a)
{
    _cleanup_(mpp_detach_request_clear) mpp_detach_request req = {0};
    mpp_error err = {0};
    int r = mpp_decode_detach_request(rq->body, rq->len, &req, &err);
    if (r < 0)
        return answer_err(a, MHD_HTTP_BAD_REQUEST, "%s", err.msg);
    a->decoded = true;

    _cleanup_(mpp_detach_response_clear) mpp_detach_response resp = {0};
    if (s->ops.detach) {
        r = s->ops.detach(s->userdata, &req, &resp, &err);
        if (r < 0)
            return callback_failed(a, "detach", r, &err);
    } else {
        resp.success = true;
    }
    if (mpp_encode_detach_response(&resp, &a->body, &err) < 0)
        return encode_failed(a, "detach", &err);
    a->status = MHD_HTTP_OK;
    return 0;
}

/* A dripped answer (test hook): the body, handed to MHD one byte per read. */
typedef struct drip {
    char *body;
    size_t len;
    unsigned ms;
} drip;

static ssize_t drip_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    drip *d = cls;
    if (pos >= d->len)
        return MHD_CONTENT_READER_END_OF_STREAM;
    if (max == 0)
        return 0;
    if (pos > 0) {
        struct timespec ts = {.tv_sec = d->ms / 1000, .tv_nsec = (long)(d->ms % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
            ;
    }
    buf[0] = d->body[pos];
    return 1;
}

static void drip_free(void *cls)
{
    drip *d = cls;
    free(d->body);
    free(d);
}

static struct MHD_Response *make_response(answer *a)
{
    size_t len = strlen(a->body);
    if (a->drip_ms == 0) {
        struct MHD_Response *resp =
            MHD_create_response_from_buffer(len, a->body, MHD_RESPMEM_MUST_FREE);
        if (resp)
            a->body = NULL; /* the response owns it now */
        return resp;
    }
    drip *d = malloc(sizeof(*d));
    if (!d)
        return NULL;
    *d = (drip){.body = a->body, .len = len, .ms = a->drip_ms};
    struct MHD_Response *resp = MHD_create_response_from_callback(len, 1, drip_read, d, drip_free);
    if (!resp) {
        free(d);
        return NULL;
    }
    a->body = NULL;
    return resp;
}

/* Queue a; takes its body. */
static enum MHD_Result queue_answer(struct MHD_Connection *conn, answer *a)
{
    struct MHD_Response *resp = make_response(a);
    if (!resp)
        return MHD_NO;

    enum MHD_Result ret = MHD_NO;
    if (MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, MEDIA_TYPE) == MHD_YES &&
        (a->status != MHD_HTTP_METHOD_NOT_ALLOWED ||
         MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, MHD_HTTP_METHOD_POST) == MHD_YES))
        ret = MHD_queue_response(conn, a->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* Decide an error answer from the headers; it is sent when the body has been read. */
static int set_pending_err(request *rq, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int set_pending_err(request *rq, unsigned status, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    rq->call = -1;
    return answer_err(&rq->reply, status, "%s", msg);
}

/* In a worker: run the call and leave its answer in rq->reply. */
static void run_call(mpp_plugin_server *s, request *rq)
{
    answer *a = &rq->reply;
    int r = 0;

    switch ((mpp_plugin_call)rq->call) {
    case MPP_PLUGIN_CALL_ACTIVATE:
        r = handle_activate(a);
        break;
    case MPP_PLUGIN_CALL_PROPERTIES:
        r = handle_properties(s, rq, a);
        break;
    case MPP_PLUGIN_CALL_ATTACH:
        r = handle_attach(s, rq, a);
        break;
    case MPP_PLUGIN_CALL_DETACH:
        r = handle_detach(s, rq, a);
        break;
    }
    if (r < 0) {
        rq->drop = true; /* out of memory even for an error body */
        return;
    }

    void *hooks_userdata;
    mpp_plugin_test_hooks hooks = hooks_get(s, &hooks_userdata);
    if (hooks.answer && a->decoded &&
        hooks.answer(hooks_userdata, (mpp_plugin_call)rq->call, &a->status, &a->body) < 0)
        rq->drop = true;
    if (!a->body)
        rq->drop = true;
    if (hooks.drip_ms && a->decoded && !rq->drop)
        a->drip_ms = hooks.drip_ms(hooks_userdata, (mpp_plugin_call)rq->call);
}

static void *worker_main(void *arg)
{
    mpp_plugin_server *s = arg;

    for (;;) {
        pthread_mutex_lock(&s->lock);
        while (!s->queue_head && !s->quit)
            pthread_cond_wait(&s->work, &s->lock);
        request *rq = s->queue_head;
        if (rq) {
            s->queue_head = rq->next;
            if (!s->queue_head)
                s->queue_tail = NULL;
        }
        pthread_mutex_unlock(&s->lock);
        if (!rq)
            return NULL;

        run_call(s, rq);
        rq->ready = true;
        /* Last touch: once resumed, MHD answers and may free rq at any time. */
        MHD_resume_connection(rq->conn);
    }
}

static void enqueue(mpp_plugin_server *s, request *rq)
{
    pthread_mutex_lock(&s->lock);
    rq->next = NULL;
    if (s->queue_tail)
        s->queue_tail->next = rq;
    else
        s->queue_head = rq;
    s->queue_tail = rq;
    pthread_cond_signal(&s->work);
    pthread_mutex_unlock(&s->lock);
}

static int route_lookup(const char *url)
{
    for (size_t i = 0; i < ELEMENTSOF(routes); i++)
        if (strcmp(url, routes[i].path) == 0)
            return (int)routes[i].call;
    return -1;
}

static void append_body(request *rq, size_t max, const char *data, size_t n)
{
    if (rq->too_large)
        return;
    if (rq->len > max || n > max - rq->len) {
        /* Keep reading (MHD can only answer once the upload is over), but store nothing. */
        rq->too_large = true;
        free(rq->body);
        rq->body = NULL;
        rq->len = rq->cap = 0;
        return;
    }
    if (rq->len + n + 1 > rq->cap) {
        size_t cap = rq->cap ? rq->cap : 4096;
        while (cap < rq->len + n + 1)
            cap *= 2;
        if (cap > max + 1)
            cap = max + 1; /* len + n <= max */
        char *b = realloc(rq->body, cap);
        if (!b) {
            /* Answered as too large: the body cannot be held. */
            rq->too_large = true;
            free(rq->body);
            rq->body = NULL;
            rq->len = rq->cap = 0;
            return;
        }
        rq->body = b;
        rq->cap = cap;
    }
    memcpy(rq->body + rq->len, data, n);
    rq->len += n;
    rq->body[rq->len] = '\0';
}

/* ---- connections ---- */

static void conn_unlink(mpp_plugin_server *s, conn_slot *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns_head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        s->conns_tail = c->prev;
    c->prev = c->next = NULL;
}

static void conn_append(mpp_plugin_server *s, conn_slot *c)
{
    c->prev = s->conns_tail;
    c->next = NULL;
    if (s->conns_tail)
        s->conns_tail->next = c;
    else
        s->conns_head = c;
    s->conns_tail = c;
}

/* The connection was active: the last to be evicted. */
static void conn_touch(mpp_plugin_server *s, conn_slot *c)
{
    if (!c)
        return;
    conn_unlink(s, c);
    conn_append(s, c);
}

static conn_slot *conn_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

/* Keep a connection free for the next client: when all but one are taken, the one idle the
 * longest (no call of its running, no request waiting to be read) is shut down, and MHD closes it
 * when it reads the end of the stream. Otherwise clients that connect and say nothing would lock
 * everyone out until the idle timeout. A client of mpp's whose idle keep-alive connection this
 * closes reconnects. When every connection is busy, MHD accepts no more until one is done: a new
 * client waits in the listen backlog (or, once that is full, gets EAGAIN from connect()). */
static void make_room(mpp_plugin_server *s, const conn_slot *fresh)
{
    unsigned live = 0;
    for (conn_slot *c = s->conns_head; c; c = c->next)
        live += !c->evicted;
    if (live + 1 < s->max_connections)
        return;
    for (conn_slot *c = s->conns_head; c; c = c->next) {
        if (c == fresh || c->busy || c->evicted || c->fd < 0)
            continue;
        /* Not idle: its request has come, MHD has not read it yet. */
        int unread = 0;
        if (ioctl(c->fd, FIONREAD, &unread) == 0 && unread > 0)
            continue;
        c->evicted = true;
        shutdown(c->fd, SHUT_RDWR);
        return;
    }
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    mpp_plugin_server *s = cls;

    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        conn_slot *c = calloc(1, sizeof(*c));
        if (!c)
            return; /* not tracked: never evicted */
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        c->fd = ci ? ci->connect_fd : -1;
        conn_append(s, c);
        *socket_context = c;
        make_room(s, c);
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        conn_slot *c = *socket_context;
        if (!c)
            return;
        conn_unlink(s, c);
        free(c);
        *socket_context = NULL;
    }
}

/* ---- requests ---- */

/* 413 for a body over the limit, queued now: MHD discards the rest of the body (and closes the
 * connection after the answer). */
static enum MHD_Result answer_too_large(mpp_plugin_server *s, struct MHD_Connection *conn,
                                        request *rq)
{
    if (answer_err(&rq->reply, MHD_HTTP_CONTENT_TOO_LARGE,
                   "request body over this plugin's limit of %zu bytes", s->max_request) < 0)
        return MHD_NO;
    rq->answered = true;
    return queue_answer(conn, &rq->reply);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    mpp_plugin_server *s = cls;
    request *rq = *con_cls;

    if (!rq) {
        /* First call: headers only. Refuse what we can before the body is read. */
        rq = calloc(1, sizeof(*rq));
        if (!rq)
            return MHD_NO;
        *con_cls = rq;
        rq->started_ms = now_ms();
        conn_touch(s, conn_of(conn));
        pthread_mutex_lock(&s->lock);
        s->in_flight++;
        pthread_mutex_unlock(&s->lock);

        int r = 0;
        rq->call = route_lookup(url);
        if (rq->call < 0)
            r = set_pending_err(rq, MHD_HTTP_NOT_FOUND, "unknown endpoint %s", url);
        else if (strcmp(method, MHD_HTTP_METHOD_POST) != 0)
            r = set_pending_err(rq, MHD_HTTP_METHOD_NOT_ALLOWED,
                                "method %s not allowed on %s: use POST", method, url);
        if (r < 0)
            return MHD_NO;
        if (rq->call < 0)
            return MHD_YES;

        const char *cl =
            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl) {
            char *end;
            errno = 0;
            unsigned long long n = strtoull(cl, &end, 10);
            if (errno == 0 && end != cl && n > s->max_request)
                rq->too_large = true;
        }
        /* Answered before a byte of the body is read. */
        if (rq->too_large)
            return answer_too_large(s, conn, rq);
        return MHD_YES;
    }

    if (*upload_data_size > 0) {
        /* Idle timeouts do not stop a client that sends a byte now and then: the whole request
         * must arrive within the timeout. */
        if (now_ms() - rq->started_ms > (long long)s->idle_timeout_s * 1000)
            return MHD_NO;
        if (rq->call >= 0 && !rq->answered) {
            bool was_too_large = rq->too_large;
            append_body(rq, s->max_request, upload_data, *upload_data_size);
            /* A chunked body: refused as soon as the count passes the limit. If MHD cannot
             * answer in the middle of a body, the rest is counted, not kept, and the answer
             * goes when it ends. */
            if (!was_too_large && rq->too_large && answer_too_large(s, conn, rq) != MHD_YES)
                rq->answered = false;
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    /* The body is complete. */
    if (rq->answered)
        return MHD_YES;
    if (rq->ready || rq->call < 0) {
        rq->answered = true;
        return rq->drop ? MHD_NO : queue_answer(conn, &rq->reply);
    }
    if (rq->too_large)
        return answer_too_large(s, conn, rq);
    if (!rq->body) {
        append_body(rq, s->max_request, "", 0);
        if (!rq->body)
            return MHD_NO;
    }

    /* Suspended before a worker can see it, so that the worker's resume always finds it so.
     * MHD calls us again once resumed, with rq->ready set. Not evicted meanwhile. */
    conn_slot *slot = conn_of(conn);
    if (slot)
        slot->busy = true;
    rq->conn = conn;
    MHD_suspend_connection(conn);
    enqueue(s, rq);
    return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    mpp_plugin_server *s = cls;
    request *rq = *con_cls;

    if (!rq)
        return;
    *con_cls = NULL;
    conn_slot *slot = conn_of(conn);
    if (slot) {
        slot->busy = false;
        conn_touch(s, slot);
        /* All taken by calls in progress: MHD accepts no one until a connection closes, and
         * idle ones, this one now included, are the ones to close. */
        make_room(s, NULL);
    }
    if (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK && rq->call >= 0 && rq->reply.decoded &&
        !rq->drop) {
        void *hooks_userdata;
        mpp_plugin_test_hooks hooks = hooks_get(s, &hooks_userdata);
        if (hooks.sent)
            hooks.sent(hooks_userdata, (mpp_plugin_call)rq->call);
    }
    answer_clear(&rq->reply);
    free(rq->body);
    free(rq);

    pthread_mutex_lock(&s->lock);
    if (--s->in_flight == 0)
        pthread_cond_broadcast(&s->idle);
    pthread_mutex_unlock(&s->lock);
}

__attribute__((format(printf, 2, 0))) static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    mpp_plugin_server *s = cls;

    pthread_mutex_lock(&s->lock);
    vsnprintf(s->mhd_msg, sizeof(s->mhd_msg), fmt, ap);
    size_t n = strlen(s->mhd_msg);
    while (n > 0 && s->mhd_msg[n - 1] == '\n')
        s->mhd_msg[--n] = '\0';
    pthread_mutex_unlock(&s->lock);
}

/* ---- sockets ---- */

/* A socket at path that accepts connections belongs to a running server. */
static bool socket_is_live(const struct sockaddr_un *sa, socklen_t salen)
{
    _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return false;
    if (connect(fd, (const struct sockaddr *)sa, salen) == 0)
        return true;
    /* A full backlog also means someone is listening. */
    return errno == EAGAIN || errno == EINPROGRESS;
}

/* Removes the temporary name a socket was bound under (an empty string: nothing). */
static void unlink_stagedp(char **p)
{
    if (*p && **p)
        unlink(*p);
    free(*p);
}

static int create_socket(mpp_plugin_server *s, const char *path, int *ret_fd, mpp_error *err)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t len = strlen(path);

    if (len == 0)
        return mpp_error_set(err, -EINVAL, "plugin socket path is empty");
    if (len >= sizeof(sa.sun_path))
        return mpp_error_set(err, -ENAMETOOLONG,
                             "plugin socket path %s is too long (%zu bytes, at most %zu)", path,
                             len, sizeof(sa.sun_path) - 1);
    memcpy(sa.sun_path, path, len);
    socklen_t salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);

    struct stat st;
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode))
            return mpp_error_set(err, -EEXIST,
                                 "%s exists and is not a socket: refusing to replace it", path);
        if (socket_is_live(&sa, salen))
            return mpp_error_set(err, -EADDRINUSE,
                                 "another process is serving on %s: refusing to replace it", path);
        if (unlink(path) < 0 && errno != ENOENT)
            return mpp_error_set(err, -errno, "cannot remove the stale socket %s: %s", path,
                                 strerror(errno));
    } else if (errno != ENOENT) {
        return mpp_error_set(err, -errno, "cannot stat %s: %s", path, strerror(errno));
    }

    _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return mpp_error_set(err, -errno, "cannot create a unix socket: %s", strerror(errno));

    /* bind() makes the file before listen() makes it answer, and a client that finds the file in
     * between is refused. So the socket is bound under a name of its own beside the path and
     * linked into place once it listens; link(), like bind(), will not replace a socket another
     * server put there meanwhile. (A path with no room for the suffix is bound in place.) */
    struct sockaddr_un tsa = {.sun_family = AF_UNIX};
    int n = snprintf(tsa.sun_path, sizeof(tsa.sun_path), "%s.%ld~", path, (long)getpid());
    bool staged = n > 0 && (size_t)n < sizeof(tsa.sun_path);
    if (!staged)
        tsa = sa;
    socklen_t tsalen =
        (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(tsa.sun_path) + 1);
    if (staged)
        unlink(tsa.sun_path); /* left by a process that had our pid and died */

    /* Born 0600: no window in which another user could connect. */
    mode_t old_umask = umask(0177);
    int r = bind(fd, (const struct sockaddr *)&tsa, tsalen);
    int bind_errno = errno;
    umask(old_umask);
    if (r < 0)
        return mpp_error_set(err, -bind_errno, "cannot bind %s: %s", tsa.sun_path,
                             strerror(bind_errno));
    _cleanup_(unlink_stagedp) char *bound = strdup(tsa.sun_path);
    if (!bound) {
        unlink(tsa.sun_path);
        return mpp_error_set(err, -ENOMEM, "out of memory");
    }
    if (chmod(bound, 0600) < 0 || stat(bound, &st) < 0)
        return mpp_error_set(err, -errno, "cannot set the mode of %s: %s", bound, strerror(errno));
    if (listen(fd, LISTEN_BACKLOG) < 0)
        return mpp_error_set(err, -errno, "cannot listen on %s: %s", bound, strerror(errno));
    if (staged && link(bound, path) < 0) {
        if (errno == EEXIST)
            return mpp_error_set(err, -EADDRINUSE,
                                 "another process created %s meanwhile: refusing to replace it",
                                 path);
        /* A file system without hard links: moved instead, which would replace a socket made
         * since the check above. */
        if (rename(bound, path) < 0)
            return mpp_error_set(err, -errno, "cannot move %s to %s: %s", bound, path,
                                 strerror(errno));
        bound[0] = '\0';
    }
    if (!staged)
        bound[0] = '\0'; /* the socket's own path: kept, and removed at the end */

    s->socket_path = strdup(path);
    if (!s->socket_path) {
        unlink(path);
        return mpp_error_set(err, -ENOMEM, "out of memory");
    }
    s->socket_dev = st.st_dev;
    s->socket_ino = st.st_ino;

    *ret_fd = TAKE_FD(fd);
    return 0;
}

/* sd_listen_fds(3)'s protocol, which is all the SDK needs of libsystemd. */
static int activated_fd(int *ret_fd, mpp_error *err)
{
    const char *pid_s = getenv("LISTEN_PID");
    const char *fds_s = getenv("LISTEN_FDS");

    if (!pid_s || !fds_s)
        return mpp_error_set(err, -ENOENT,
                             "no socket path given and no socket passed by socket activation "
                             "(LISTEN_FDS/LISTEN_PID)");

    char *end;
    errno = 0;
    unsigned long pid = strtoul(pid_s, &end, 10);
    if (errno || end == pid_s || *end)
        return mpp_error_set(err, -EINVAL, "socket activation: invalid LISTEN_PID=%s", pid_s);
    if (pid != (unsigned long)getpid())
        return mpp_error_set(err, -ENOENT,
                             "socket activation: LISTEN_PID=%s is not this process (%ld)", pid_s,
                             (long)getpid());
    errno = 0;
    unsigned long n = strtoul(fds_s, &end, 10);
    if (errno || end == fds_s || *end)
        return mpp_error_set(err, -EINVAL, "socket activation: invalid LISTEN_FDS=%s", fds_s);
    if (n != 1)
        return mpp_error_set(err, -EINVAL,
                             "socket activation passed %lu sockets, expected exactly one", n);

    /* Children must not think the socket is theirs. */
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");

    int flags = fcntl(LISTEN_FDS_START, F_GETFD);
    if (flags < 0 || fcntl(LISTEN_FDS_START, F_SETFD, flags | FD_CLOEXEC) < 0)
        return mpp_error_set(err, -errno, "socket activation: fd %d: %s", LISTEN_FDS_START,
                             strerror(errno));
    *ret_fd = LISTEN_FDS_START;
    return 0;
}

static int check_activated_fd(int fd, mpp_error *err)
{
    int type = 0, listening = 0;
    socklen_t l1 = sizeof(type), l2 = sizeof(listening);

    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &l1) < 0)
        return mpp_error_set(err, -errno, "socket activation: fd %d is not a socket: %s", fd,
                             strerror(errno));
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &l2) < 0)
        return mpp_error_set(err, -errno, "socket activation: fd %d: %s", fd, strerror(errno));
    if (type != SOCK_STREAM || !listening)
        return mpp_error_set(err, -EINVAL,
                             "socket activation: fd %d is not a listening stream socket", fd);

    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
        return mpp_error_set(err, -errno, "socket activation: fd %d: %s", fd, strerror(errno));
    return 0;
}

/* Remove the socket we created, unless someone replaced it since. */
static void remove_socket(mpp_plugin_server *s)
{
    struct stat st;

    if (!s->socket_path)
        return;
    if (lstat(s->socket_path, &st) == 0 && st.st_dev == s->socket_dev && st.st_ino == s->socket_ino)
        unlink(s->socket_path);
    free(s->socket_path);
    s->socket_path = NULL;
}

/* ---- lifecycle ---- */

DEFINE_TRIVIAL_CLEANUP_FUNC(mpp_plugin_server *, mpp_plugin_server_free)

int mpp_plugin_server_new(const mpp_plugin_server_options *opts, const mpp_plugin_ops *ops,
                          void *userdata, mpp_plugin_server **out, mpp_error *err)
{
    if (!out)
        return mpp_error_set(err, -EINVAL, "mpp_plugin_server_new: out is NULL");
    *out = NULL;

    _cleanup_(mpp_plugin_server_freep) mpp_plugin_server *s = calloc(1, sizeof(*s));
    if (!s)
        return mpp_error_set(err, -ENOMEM, "out of memory");
    s->signal_fd = s->stop_fd = -1;
    if (ops)
        s->ops = *ops;
    s->userdata = userdata;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->idle, NULL);
    pthread_cond_init(&s->work, NULL);

    unsigned threads = opts && opts->threads ? opts->threads : DEFAULT_THREADS;
    const char *path = opts ? opts->socket_path : NULL;
    s->max_request =
        opts && opts->max_request_bytes ? opts->max_request_bytes : MPP_PLUGIN_DEFAULT_MAX_REQUEST;
    s->max_connections =
        opts && opts->max_connections ? opts->max_connections : MPP_PLUGIN_DEFAULT_MAX_CONNECTIONS;
    s->idle_timeout_s =
        opts && opts->idle_timeout_s ? opts->idle_timeout_s : MPP_PLUGIN_DEFAULT_IDLE_TIMEOUT_S;
    s->attach_unselected = opts && opts->attach_unselected;
    if (s->max_request > MPP_CODEC_MAX_INPUT)
        return mpp_error_set(err, -EINVAL,
                             "the request size limit of %zu bytes is over what the codec reads "
                             "(%u bytes)",
                             s->max_request, MPP_CODEC_MAX_INPUT);
    if (s->max_connections < MIN_CONNECTIONS)
        return mpp_error_set(err, -EINVAL,
                             "a connection limit of %u leaves no room: at least %u are needed",
                             s->max_connections, MIN_CONNECTIONS);

    /* Before any thread starts, so that all inherit the mask and signals come to run(). */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    int r = pthread_sigmask(SIG_BLOCK, &set, &s->old_mask);
    if (r != 0)
        return mpp_error_set(err, -r, "cannot block SIGTERM and SIGINT: %s", strerror(r));
    s->mask_saved = true;
    /* A client hanging up must not kill the plugin. */
    struct sigaction ign = {.sa_handler = SIG_IGN};
    sigemptyset(&ign.sa_mask);
    if (sigaction(SIGPIPE, &ign, NULL) < 0)
        return mpp_error_set(err, -errno, "cannot ignore SIGPIPE: %s", strerror(errno));

    s->signal_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (s->signal_fd < 0)
        return mpp_error_set(err, -errno, "cannot create a signalfd: %s", strerror(errno));
    s->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (s->stop_fd < 0)
        return mpp_error_set(err, -errno, "cannot create an eventfd: %s", strerror(errno));

    _cleanup_close_ int fd = -1;
    if (path) {
        r = create_socket(s, path, &fd, err);
    } else {
        r = activated_fd(&fd, err);
        if (r >= 0)
            r = check_activated_fd(fd, err);
    }
    if (r < 0)
        return r;

    s->workers = calloc(threads, sizeof(*s->workers));
    if (!s->workers)
        return mpp_error_set(err, -ENOMEM, "out of memory");
    for (; s->n_workers < threads; s->n_workers++) {
        r = pthread_create(&s->workers[s->n_workers], NULL, worker_main, s);
        if (r != 0)
            return mpp_error_set(err, -r, "cannot start a worker thread: %s", strerror(r));
    }

    /* MHD gets its own descriptor: whatever it does with it on a failed start, ours is closed
     * exactly once, here. */
    int mhd_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    if (mhd_fd < 0)
        return mpp_error_set(err, -errno, "cannot duplicate the listening socket: %s",
                             strerror(errno));

    /* One polling thread does all the I/O and never blocks: calls run in the workers while
     * their connection is suspended. (An MHD thread pool runs the calls in its polling threads,
     * and one of them may accept several connections in a burst and serve them one by one.)
     * The ITC that suspend/resume implies also makes MHD_quiesce_daemon() work. */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG;
    s->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, s, MHD_OPTION_LISTEN_SOCKET, (MHD_socket)mhd_fd,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_NOTIFY_CONNECTION, on_connection,
        s, MHD_OPTION_CONNECTION_LIMIT, s->max_connections, MHD_OPTION_CONNECTION_TIMEOUT,
        s->idle_timeout_s, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, s, MHD_OPTION_END);
    if (!s->daemon) {
        pthread_mutex_lock(&s->lock);
        mpp_error_set(err, -EIO, "cannot start the HTTP server on %s: %s",
                      path ? path : "the activated socket",
                      s->mhd_msg[0] ? s->mhd_msg : "libmicrohttpd failed");
        pthread_mutex_unlock(&s->lock);
        return -EIO;
    }

    *out = TAKE_PTR(s);
    return 0;
}

static void call_stopping_hook(mpp_plugin_server *s)
{
    void *hooks_userdata;
    mpp_plugin_test_hooks hooks = hooks_get(s, &hooks_userdata);
    if (hooks.stopping)
        hooks.stopping(hooks_userdata);
}

/* Stop accepting, let the requests in progress be answered, stop MHD. */
static void shutdown_daemon(mpp_plugin_server *s)
{
    if (!s->daemon)
        return;

    /* New clients get ECONNREFUSED (or ENOENT once the path is gone) rather than a connection
     * nobody will serve. */
    MHD_socket lfd = MHD_quiesce_daemon(s->daemon);
    if (lfd != MHD_INVALID_SOCKET)
        close(lfd);
    remove_socket(s);

    /* MHD_stop_daemon drops answers not sent yet (and must not meet a suspended connection):
     * wait for the requests in progress. Idle keep-alive connections do not hold this up. */
    pthread_mutex_lock(&s->lock);
    while (s->in_flight > 0)
        pthread_cond_wait(&s->idle, &s->lock);
    pthread_mutex_unlock(&s->lock);

    MHD_stop_daemon(s->daemon);
    s->daemon = NULL;
}

static void stop_workers(mpp_plugin_server *s)
{
    pthread_mutex_lock(&s->lock);
    s->quit = true;
    pthread_cond_broadcast(&s->work);
    pthread_mutex_unlock(&s->lock);
    for (unsigned i = 0; i < s->n_workers; i++)
        pthread_join(s->workers[i], NULL);
    s->n_workers = 0;
    free(s->workers);
    s->workers = NULL;
}

int mpp_plugin_server_run(mpp_plugin_server *s, mpp_error *err)
{
    if (!s)
        return mpp_error_set(err, -EINVAL, "mpp_plugin_server_run: server is NULL");
    if (s->ran)
        return mpp_error_set(err, -EALREADY, "plugin server was already run");
    s->ran = true;

    struct pollfd p[2] = {
        {.fd = s->signal_fd, .events = POLLIN},
        {.fd = s->stop_fd, .events = POLLIN},
    };
    for (;;) {
        if (poll(p, ELEMENTSOF(p), -1) < 0) {
            if (errno == EINTR)
                continue;
            return mpp_error_set(err, -errno, "cannot wait for a stop signal: %s", strerror(errno));
        }
        if (p[0].revents) {
            struct signalfd_siginfo si;
            if (read(s->signal_fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
                break;
        }
        if (p[1].revents) {
            uint64_t v;
            if (read(s->stop_fd, &v, sizeof(v)) == (ssize_t)sizeof(v))
                break;
        }
    }

    call_stopping_hook(s);
    shutdown_daemon(s);
    return 0;
}

void mpp_plugin_server_stop(mpp_plugin_server *s)
{
    if (!s || s->stop_fd < 0)
        return;
    int saved = errno;
    uint64_t one = 1;
    ssize_t r = write(s->stop_fd, &one, sizeof(one));
    (void)r;
    errno = saved;
}

void mpp_plugin_server_free(mpp_plugin_server *s)
{
    if (!s)
        return;
    shutdown_daemon(s);
    stop_workers(s);
    remove_socket(s);

    if (s->signal_fd >= 0) {
        /* Consume signals that arrived while blocked, so that restoring the mask does not
         * deliver them with their default action. */
        struct signalfd_siginfo si;
        while (read(s->signal_fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
            ;
        close(s->signal_fd);
    }
    if (s->mask_saved)
        pthread_sigmask(SIG_SETMASK, &s->old_mask, NULL);
    if (s->stop_fd >= 0)
        close(s->stop_fd);
    mpp_patterns_free(s->served, s->n_served);
    pthread_cond_destroy(&s->idle);
    pthread_cond_destroy(&s->work);
    pthread_mutex_destroy(&s->lock);
    free(s);
}
