/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of the HTTP client (src/lib/client.c) against an in-test libmicrohttpd server on a
 * unix socket (and on TCP), whose behaviour each test sets. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <http_parser.h>
#include <microhttpd.h>

#include <mpp/client.h>
#include <mpp/codec.h>

#include "macro.h"
#include "test-util.h"

#define MEDIA_TYPE "application/vnd.docker.plugins.v1.2+json"

typedef struct server {
    char dir[64];
    char sock_path[108];
    char name[8];
    struct MHD_Daemon *daemon;
    unsigned short port; /* TCP */

    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool stopping;

    /* Behaviour, set by the test before the call. */
    unsigned status;
    char *answer;
    unsigned delay_ms;

    /* What the server saw of the last request. */
    char *url;
    char *method;
    char *body;
    size_t body_len;
    char *accept;
    char *content_type;
    bool saw_expect;
    unsigned n_requests;
    unsigned n_connections;

    /* The raw "accept and close" server. */
    int raw_fd;
    pthread_t raw_thread;
    bool raw_running;

    /* The scripted server (script_server): what it answers, byte for byte. */
    const char *reply;
    size_t reply_len;
    unsigned drip_us;        /* > 0: one byte at a time, this long apart */
    bool close_after;        /* close the connection after each answer */
    bool no_reply;           /* close after reading a request, without answering */
    unsigned serve_delay_ms; /* before each answer (a busy plugin) */
    bool script_stop;
} server;

struct request {
    char *body;
    size_t len;
};

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static void set_answer(server *s, unsigned status, const char *answer)
{
    pthread_mutex_lock(&s->lock);
    s->status = status;
    free(s->answer);
    s->answer = strdup(answer);
    pthread_mutex_unlock(&s->lock);
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *conn, const char *url,
                               const char *method, const char *version, const char *upload_data,
                               size_t *upload_data_size, void **con_cls)
{
    server *s = cls;
    struct request *req = *con_cls;

    if (!req) {
        req = calloc(1, sizeof(*req));
        if (!req)
            return MHD_NO;
        *con_cls = req;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        char *grown = realloc(req->body, req->len + *upload_data_size + 1);
        if (!grown)
            return MHD_NO;
        req->body = grown;
        memcpy(req->body + req->len, upload_data, *upload_data_size);
        req->len += *upload_data_size;
        req->body[req->len] = '\0';
        *upload_data_size = 0;
        return MHD_YES;
    }

    pthread_mutex_lock(&s->lock);
    free(s->url);
    free(s->method);
    free(s->body);
    free(s->accept);
    free(s->content_type);
    s->url = dup_or_null(url);
    s->method = dup_or_null(method);
    s->body = dup_or_null(req->body ? req->body : "");
    s->body_len = req->len;
    s->accept = dup_or_null(MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Accept"));
    s->content_type =
        dup_or_null(MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type"));
    s->saw_expect = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Expect") != NULL;
    s->n_requests++;

    if (s->delay_ms) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += s->delay_ms / 1000;
        until.tv_nsec += (long)(s->delay_ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        while (!s->stopping && pthread_cond_timedwait(&s->cond, &s->lock, &until) == 0)
            ;
    }
    if (s->stopping) {
        pthread_mutex_unlock(&s->lock);
        return MHD_NO;
    }
    const char *answer = s->answer ? s->answer : "";
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(answer), (void *)answer, MHD_RESPMEM_MUST_COPY);
    unsigned status = s->status ? s->status : 200;
    pthread_mutex_unlock(&s->lock);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", MEDIA_TYPE);
    enum MHD_Result r = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return r;
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    struct request *req = *con_cls;
    if (req) {
        free(req->body);
        free(req);
        *con_cls = NULL;
    }
}

static void notify_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                              enum MHD_ConnectionNotificationCode toe)
{
    server *s = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        pthread_mutex_lock(&s->lock);
        s->n_connections++;
        pthread_mutex_unlock(&s->lock);
    }
}

static int bind_unix(const char *path, bool do_listen)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    assert_true(strlen(path) < sizeof(sa.sun_path));
    strcpy(sa.sun_path, path);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    if (do_listen)
        assert_int_equal(listen(fd, 16), 0);
    return fd;
}

static int bind_tcp(unsigned short *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    socklen_t len = sizeof(sa);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    *port = ntohs(sa.sin_port);
    return fd;
}

static void start_daemon(server *s, int lfd)
{
    s->daemon = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0, NULL, NULL, handler, s,
        MHD_OPTION_LISTEN_SOCKET, lfd, MHD_OPTION_NOTIFY_COMPLETED, completed, s,
        MHD_OPTION_NOTIFY_CONNECTION, notify_connection, s, MHD_OPTION_END);
    assert_non_null(s->daemon);
}

static void start_unix(server *s)
{
    start_daemon(s, bind_unix(s->sock_path, true));
}

static void start_tcp(server *s)
{
    int fd = bind_tcp(&s->port);
    assert_int_equal(listen(fd, 16), 0);
    start_daemon(s, fd);
}

static int setup(void **state)
{
    server *s = calloc(1, sizeof(*s));
    if (!s)
        return -1;
    if (test_tmpdir_make(s->dir, sizeof(s->dir), "client") < 0) {
        free(s);
        return -1;
    }
    snprintf(s->sock_path, sizeof(s->sock_path), "%s/p.sock", s->dir);
    snprintf(s->name, sizeof(s->name), "p");
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->cond, NULL);
    s->raw_fd = -1;
    *state = s;
    return 0;
}

static int teardown(void **state)
{
    server *s = *state;
    pthread_mutex_lock(&s->lock);
    s->stopping = true;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
    if (s->daemon)
        MHD_stop_daemon(s->daemon); /* closes the listening socket it was given */
    __atomic_store_n(&s->script_stop, true, __ATOMIC_SEQ_CST);
    if (s->raw_running) {
        shutdown(s->raw_fd, SHUT_RDWR);
        pthread_join(s->raw_thread, NULL);
    }
    if (s->raw_fd >= 0)
        close(s->raw_fd);
    test_tmpdir_remove(s->dir);
    free(s->answer);
    free(s->url);
    free(s->method);
    free(s->body);
    free(s->accept);
    free(s->content_type);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->cond);
    free(s);
    return 0;
}

static mpp_client *new_client(server *s, unsigned timeout_ms, size_t max_bytes)
{
    char tcp[32];
    snprintf(tcp, sizeof(tcp), "127.0.0.1:%u", s->port);
    mpp_plugin_addr a = {
        .name = s->name,
        .kind = s->port ? MPP_ADDR_TCP : MPP_ADDR_UNIX,
        .path = s->port ? NULL : s->sock_path,
        .host_port = s->port ? tcp : NULL,
    };
    mpp_client_options o = {.timeout_ms = timeout_ms, .max_response_bytes = max_bytes};
    mpp_client *c = NULL;
    mpp_error err = {0};
    int r = mpp_client_new(&a, &o, &c, &err);
    if (r < 0)
        fail_msg("mpp_client_new: %s", err.msg);
    assert_string_equal(mpp_client_name(c), "p");
    return c;
}

static void check_request(server *s, const char *url, const char *body)
{
    /* Copy under the lock, assert outside it: a failed assertion must not leave it held. */
    pthread_mutex_lock(&s->lock);
    _cleanup_free_ char *method = dup_or_null(s->method), *got_url = dup_or_null(s->url);
    _cleanup_free_ char *accept = dup_or_null(s->accept);
    _cleanup_free_ char *ctype = dup_or_null(s->content_type), *got_body = dup_or_null(s->body);
    bool expect = s->saw_expect;
    pthread_mutex_unlock(&s->lock);

    assert_non_null(method);
    assert_string_equal(method, "POST");
    assert_string_equal(got_url, url);
    assert_non_null(accept);
    assert_string_equal(accept, MEDIA_TYPE);
    assert_non_null(ctype);
    assert_string_equal(ctype, MEDIA_TYPE);
    assert_false(expect);
    if (body)
        assert_string_equal(got_body, body);
}

static void expect_msg(const mpp_error *err, const char *frag)
{
    if (!strstr(err->msg, frag))
        fail_msg("message \"%s\" lacks \"%s\"", err->msg, frag);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void test_activate(void **state)
{
    server *s = *state;
    set_answer(s, 200, "{\"Implements\": [\"VolumeDriver\", \"mountpoint\"]}");
    start_unix(s);
    mpp_client *c = new_client(s, 5000, 0);
    mpp_error err = {0};
    int r = mpp_client_activate(c, &err);
    if (r < 0)
        fail_msg("activate: %s", err.msg);
    check_request(s, "/Plugin.Activate", "");
    assert_int_equal(s->body_len, 0);

    set_answer(s, 200, "{\"Implements\": [\"VolumeDriver\"]}");
    assert_int_equal(mpp_client_activate(c, &err), -EPROTONOSUPPORT);
    assert_string_equal(err.msg, "plugin \"p\" does not implement \"mountpoint\" (it implements: "
                                 "VolumeDriver)");

    set_answer(s, 200, "{\"Implements\": null}");
    assert_int_equal(mpp_client_activate(c, &err), -EPROTONOSUPPORT);
    expect_msg(&err, "(it implements: nothing)");

    set_answer(s, 200, "");
    assert_int_equal(mpp_client_activate(c, &err), -EBADMSG);
    expect_msg(&err, "plugin \"p\": answer to /Plugin.Activate");

    set_answer(s, 404, "404 page not found\n");
    assert_true(mpp_client_activate(c, &err) < 0);
    expect_msg(&err, "plugin \"p\"");
    expect_msg(&err, "404");
    mpp_client_free(c);
}

static void test_properties(void **state)
{
    server *s = *state;
    set_answer(s, 200,
               "{\"Success\": true, \"Patterns\": [{\"Source\": [{\"Prefix\": \"/data\"}], "
               "\"Type\": \"bind\"}, {}], \"Unknown\": 1}");
    start_unix(s);
    mpp_client *c = new_client(s, 5000, 0);
    mpp_properties_response p;
    long status = 0;
    mpp_error err = {0};
    int r = mpp_client_properties(c, &p, &status, &err);
    if (r < 0)
        fail_msg("properties: %s", err.msg);
    check_request(s, "/MountPointPlugin.MountPointProperties", "{}");
    assert_int_equal(status, 200);
    assert_true(p.success);
    assert_null(p.err);
    assert_int_equal(p.n_patterns, 2);
    assert_int_equal(p.patterns[0].source.n, 1);
    assert_string_equal(p.patterns[0].source.items[0].prefix, "/data");
    assert_string_equal(p.patterns[0].type, "bind");
    assert_null(p.patterns[1].type);
    mpp_properties_response_clear(&p);

    /* http_status may be NULL. */
    assert_int_equal(mpp_client_properties(c, &p, NULL, &err), 0);
    mpp_properties_response_clear(&p);
    mpp_client_free(c);
}

static void test_attach(void **state)
{
    server *s = *state;
    set_answer(s, 200,
               "{\"Success\": true, \"Attachments\": [{\"Attach\": true, \"Changes\": "
               "{\"EffectiveSource\": \"/new\"}, \"EmergencyDetach\": [{\"Remove\": \"/new\"}]}, "
               "{\"Attach\": false}]}");
    start_unix(s);
    mpp_client *c = new_client(s, 5000, 0);

    mpp_mount *mounts = calloc(2, sizeof(*mounts));
    assert_non_null(mounts);
    mounts[0].source = strdup("/src");
    mounts[0].effective_source = strdup("/src");
    mounts[0].destination = strdup("/dst");
    mounts[0].type = strdup("bind");
    mounts[0].read_only = true;
    mounts[1].source = strdup("/var/lib/docker/volumes/v/_data");
    mounts[1].effective_source = strdup("/var/lib/docker/volumes/v/_data");
    mounts[1].destination = strdup("/v");
    mounts[1].type = strdup("volume");
    mounts[1].volume.name = strdup("v");
    mpp_attach_request req = {.id = strdup("c0ffee"), .mounts = mounts, .n_mounts = 2};

    mpp_attach_response a;
    long status = 0;
    mpp_error err = {0};
    int r = mpp_client_attach(c, &req, &a, &status, &err);
    if (r < 0)
        fail_msg("attach: %s", err.msg);
    check_request(s, "/MountPointPlugin.MountPointAttach", NULL);
    assert_int_equal(status, 200);
    assert_true(a.success);
    assert_int_equal(a.n_attachments, 2);
    assert_true(a.attachments[0].attach);
    assert_string_equal(a.attachments[0].changes.effective_source, "/new");
    assert_int_equal(a.attachments[0].n_emergency, 1);
    assert_int_equal(a.attachments[0].emergency[0].kind, MPP_ACTION_REMOVE);
    assert_string_equal(a.attachments[0].emergency[0].arg, "/new");
    assert_false(a.attachments[1].attach);
    mpp_attach_response_clear(&a);

    /* The server got the request as the codec encodes it. */
    pthread_mutex_lock(&s->lock);
    mpp_attach_request got;
    r = mpp_decode_attach_request(s->body, s->body_len, &got, &err);
    pthread_mutex_unlock(&s->lock);
    if (r < 0)
        fail_msg("server could not decode the request: %s", err.msg);
    assert_string_equal(got.id, "c0ffee");
    assert_int_equal(got.n_mounts, 2);
    assert_string_equal(got.mounts[0].source, "/src");
    assert_string_equal(got.mounts[0].destination, "/dst");
    assert_string_equal(got.mounts[0].type, "bind");
    assert_true(got.mounts[0].read_only);
    assert_string_equal(got.mounts[1].volume.name, "v");
    mpp_attach_request_clear(&got);

    mpp_attach_request_clear(&req);
    mpp_client_free(c);
}

static void test_detach(void **state)
{
    server *s = *state;
    set_answer(s, 200, "{\"Success\": false, \"Recoverable\": true, \"Err\": \"busy\"}");
    start_unix(s);
    mpp_client *c = new_client(s, 5000, 0);
    mpp_detach_request req = {.id = strdup("c0ffee"), .has_exit_status = true, .exit_status = 3};
    mpp_detach_response d;
    long status = 0;
    mpp_error err = {0};
    int r = mpp_client_detach(c, &req, &d, &status, &err);
    if (r < 0)
        fail_msg("detach: %s", err.msg);
    check_request(s, "/MountPointPlugin.MountPointDetach", NULL);
    assert_int_equal(status, 200);
    assert_false(d.success);
    assert_true(d.recoverable);
    assert_string_equal(d.err, "busy");
    mpp_detach_response_clear(&d);

    pthread_mutex_lock(&s->lock);
    mpp_detach_request got;
    r = mpp_decode_detach_request(s->body, s->body_len, &got, &err);
    pthread_mutex_unlock(&s->lock);
    if (r < 0)
        fail_msg("server could not decode the request: %s", err.msg);
    assert_string_equal(got.id, "c0ffee");
    assert_true(got.has_exit_status);
    assert_int_equal(got.exit_status, 3);
    mpp_detach_request_clear(&got);

    mpp_detach_request_clear(&req);
    mpp_client_free(c);
}

static void test_non_200(void **state)
{
    server *s = *state;
    start_unix(s);
    mpp_client *c = new_client(s, 5000, 0);
    mpp_attach_request req = {.id = strdup("id")};
    mpp_attach_response a;
    mpp_properties_response p;
    mpp_detach_response d;
    mpp_detach_request dreq = {.id = strdup("id")};
    long status = 0;
    mpp_error err = {0};

    set_answer(s, 500, "{\"Err\":\"no\"}");
    assert_int_equal(mpp_client_attach(c, &req, &a, &status, &err), 0);
    assert_false(a.success);
    assert_string_equal(a.err, "no");
    assert_int_equal(status, 500);
    mpp_attach_response_clear(&a);

    assert_int_equal(mpp_client_properties(c, &p, &status, &err), 0);
    assert_false(p.success);
    assert_string_equal(p.err, "no");
    assert_int_equal(status, 500);
    mpp_properties_response_clear(&p);

    assert_int_equal(mpp_client_detach(c, &dreq, &d, &status, &err), 0);
    assert_false(d.success);
    assert_false(d.recoverable);
    assert_string_equal(d.err, "no");
    assert_int_equal(status, 500);
    mpp_detach_response_clear(&d);

    /* No Err: "HTTP N". */
    set_answer(s, 503, "{}");
    assert_int_equal(mpp_client_attach(c, &req, &a, &status, &err), 0);
    assert_false(a.success);
    assert_string_equal(a.err, "HTTP 503");
    assert_int_equal(status, 503);
    mpp_attach_response_clear(&a);
    set_answer(s, 500, "");
    assert_int_equal(mpp_client_attach(c, &req, &a, &status, &err), 0);
    assert_string_equal(a.err, "HTTP 500");
    mpp_attach_response_clear(&a);

    /* A plain-text answer (Go's mux for an unknown endpoint) is kept as the clue. */
    set_answer(s, 404, "404 page not found\n");
    assert_int_equal(mpp_client_attach(c, &req, &a, &status, &err), 0);
    assert_false(a.success);
    assert_string_equal(a.err, "HTTP 404: 404 page not found");
    assert_int_equal(status, 404);
    mpp_attach_response_clear(&a);

    mpp_attach_request_clear(&req);
    mpp_detach_request_clear(&dreq);
    mpp_client_free(c);
}

static void test_garbage(void **state)
{
    server *s = *state;
    start_unix(s);
    mpp_client *c = new_client(s, 5000, 0);
    mpp_attach_request req = {.id = strdup("id")};
    mpp_attach_response a;
    mpp_detach_request dreq = {.id = strdup("id")};
    mpp_detach_response d;
    mpp_properties_response p;
    long status = 0;
    mpp_error err = {0};
    const char *prefix = "plugin \"p\": answer to /MountPointPlugin.MountPointAttach: ";

    set_answer(s, 200, "this is not json");
    assert_int_equal(mpp_client_attach(c, &req, &a, &status, &err), -EBADMSG);
    assert_int_equal(status, 200);
    if (strncmp(err.msg, prefix, strlen(prefix)) != 0)
        fail_msg("message: %s", err.msg);
    assert_int_equal(a.n_attachments, 0);
    assert_null(a.err);

    set_answer(s, 200, "{\"Success\": \"yes\"}");
    assert_int_equal(mpp_client_attach(c, &req, &a, &status, &err), -EBADMSG);
    if (strncmp(err.msg, prefix, strlen(prefix)) != 0)
        fail_msg("message: %s", err.msg);
    expect_msg(&err, "Success");

    set_answer(s, 200, "");
    assert_int_equal(mpp_client_attach(c, &req, &a, &status, &err), -EBADMSG);
    expect_msg(&err, "plugin \"p\": answer to /MountPointPlugin.MountPointAttach: empty body");

    set_answer(s, 200, "{\"Success\": true, \"Recoverable\": 1}");
    assert_int_equal(mpp_client_detach(c, &dreq, &d, &status, &err), -EBADMSG);
    expect_msg(&err, "plugin \"p\": answer to /MountPointPlugin.MountPointDetach: ");
    expect_msg(&err, "Recoverable");

    set_answer(s, 200, "[1, 2]");
    assert_int_equal(mpp_client_properties(c, &p, &status, &err), -EBADMSG);
    expect_msg(&err, "plugin \"p\": answer to /MountPointPlugin.MountPointProperties: ");

    mpp_attach_request_clear(&req);
    mpp_detach_request_clear(&dreq);
    mpp_client_free(c);
}

static void test_timeout(void **state)
{
    server *s = *state;
    set_answer(s, 200, "{\"Success\": true}");
    s->delay_ms = 5000;
    start_unix(s);
    mpp_client *c = new_client(s, 300, 0);
    mpp_properties_response p;
    mpp_error err = {0};
    double t0 = now_ms();
    assert_int_equal(mpp_client_properties(c, &p, NULL, &err), -ETIMEDOUT);
    double elapsed = now_ms() - t0;
    if (elapsed < 250 || elapsed > 2500)
        fail_msg("timed out after %.0f ms, expected about 300", elapsed);
    assert_string_equal(err.msg, "plugin \"p\" did not answer "
                                 "/MountPointPlugin.MountPointProperties within 300 ms");

    /* The client is usable after a timeout. */
    pthread_mutex_lock(&s->lock);
    s->delay_ms = 0;
    pthread_mutex_unlock(&s->lock);
    int r = mpp_client_properties(c, &p, NULL, &err);
    if (r < 0)
        fail_msg("after timeout: %s", err.msg);
    assert_true(p.success);
    mpp_properties_response_clear(&p);
    mpp_client_free(c);
}

static char *padded_answer(size_t total)
{
    const char *head = "{\"Success\": true, \"Err\": \"";
    const char *tail = "\"}";
    char *buf = malloc(total + 1);
    assert_non_null(buf);
    size_t hl = strlen(head), tl = strlen(tail);
    assert_true(total > hl + tl);
    memcpy(buf, head, hl);
    memset(buf + hl, 'x', total - hl - tl);
    memcpy(buf + total - tl, tail, tl);
    buf[total] = '\0';
    return buf;
}

static void test_too_big(void **state)
{
    server *s = *state;
    start_unix(s);
    mpp_client *c = new_client(s, 5000, 1024);
    mpp_attach_request req = {.id = strdup("id")};
    mpp_attach_response a;
    mpp_error err = {0};

    _cleanup_free_ char *big = padded_answer(64 * 1024);
    set_answer(s, 200, big);
    assert_int_equal(mpp_client_attach(c, &req, &a, NULL, &err), -E2BIG);
    assert_string_equal(err.msg, "plugin \"p\": answer to /MountPointPlugin.MountPointAttach is "
                                 "larger than 1024 bytes");

    /* The limit is inclusive: exactly 1024 bytes is fine, 1025 is not. */
    _cleanup_free_ char *exact = padded_answer(1024), *over = padded_answer(1025);
    set_answer(s, 200, exact);
    int r = mpp_client_attach(c, &req, &a, NULL, &err);
    if (r < 0)
        fail_msg("1024 bytes: %s", err.msg);
    assert_int_equal(strlen(a.err), 1024 - strlen("{\"Success\": true, \"Err\": \"\"}"));
    mpp_attach_response_clear(&a);
    set_answer(s, 200, over);
    assert_int_equal(mpp_client_attach(c, &req, &a, NULL, &err), -E2BIG);

    /* Also for the raw post, and for error answers. */
    set_answer(s, 500, big);
    long status = 0;
    char *resp = NULL;
    assert_int_equal(mpp_client_post(c, "/X", "{}", &status, &resp, NULL, &err), -E2BIG);
    assert_null(resp);

    mpp_attach_request_clear(&req);
    mpp_client_free(c);
}

static void test_nothing_listening(void **state)
{
    server *s = *state;
    mpp_error err = {0};

    /* No socket at all: asked again until the deadline (a plugin may be starting), then
     * -ENOENT, which says that nothing was sent. */
    mpp_client *c = new_client(s, 300, 0);
    double t0 = now_ms();
    assert_int_equal(mpp_client_activate(c, &err), -ENOENT);
    double elapsed = now_ms() - t0;
    if (elapsed < 250 || elapsed > 2500)
        fail_msg("gave up after %.0f ms, expected about 300", elapsed);
    expect_msg(&err, "plugin \"p\"");
    expect_msg(&err, s->sock_path);
    mpp_client_free(c);

    /* A socket file that nobody listens on (a plugin that died). */
    int fd = bind_unix(s->sock_path, false);
    close(fd);
    c = new_client(s, 300, 0);
    t0 = now_ms();
    assert_int_equal(mpp_client_activate(c, &err), -ECONNREFUSED);
    elapsed = now_ms() - t0;
    if (elapsed < 250 || elapsed > 2500)
        fail_msg("gave up after %.0f ms, expected about 300", elapsed);
    expect_msg(&err, "plugin \"p\"");
    expect_msg(&err, s->sock_path);
    mpp_client_free(c);

    /* TCP: a port that was just closed. */
    int tfd = bind_tcp(&s->port);
    close(tfd);
    c = new_client(s, 300, 0);
    assert_int_equal(mpp_client_activate(c, &err), -ECONNREFUSED);
    char where[64];
    snprintf(where, sizeof(where), "tcp://127.0.0.1:%u", s->port);
    expect_msg(&err, where);
    mpp_client_free(c);
}

/* Accepts connections, reads the start of the request, and closes without answering: a plugin
 * that crashes mid-call. */
static void *raw_closer(void *arg)
{
    server *s = arg;
    for (;;) {
        int cfd = accept4(s->raw_fd, NULL, NULL, SOCK_CLOEXEC);
        if (cfd < 0)
            return NULL;
        char buf[4096];
        size_t got = 0;
        struct pollfd pfd = {.fd = cfd, .events = POLLIN};
        while (got < sizeof(buf) - 1 && poll(&pfd, 1, 2000) > 0) {
            ssize_t n = read(cfd, buf + got, sizeof(buf) - 1 - got);
            if (n <= 0)
                break;
            got += (size_t)n;
            buf[got] = '\0';
            if (strstr(buf, "\r\n\r\n"))
                break;
        }
        close(cfd);
    }
}

static void test_closed_without_answer(void **state)
{
    server *s = *state;
    s->raw_fd = bind_unix(s->sock_path, true);
    assert_int_equal(pthread_create(&s->raw_thread, NULL, raw_closer, s), 0);
    s->raw_running = true;

    mpp_client *c = new_client(s, 5000, 0);
    mpp_attach_request req = {.id = strdup("id")};
    mpp_attach_response a;
    mpp_error err = {0};
    assert_int_equal(mpp_client_attach(c, &req, &a, NULL, &err), -EIO);
    assert_string_equal(err.msg, "plugin \"p\" closed the connection without an answer to "
                                 "/MountPointPlugin.MountPointAttach");
    mpp_attach_request_clear(&req);
    mpp_client_free(c);
}

static void test_tcp(void **state)
{
    server *s = *state;
    set_answer(s, 200, "{\"Implements\": [\"mountpoint\"]}");
    start_tcp(s);
    assert_true(s->port > 0);
    mpp_client *c = new_client(s, 5000, 0);
    mpp_error err = {0};
    int r = mpp_client_activate(c, &err);
    if (r < 0)
        fail_msg("activate over TCP: %s", err.msg);
    check_request(s, "/Plugin.Activate", "");

    set_answer(s, 200, "{\"Success\": true, \"Patterns\": [{}]}");
    mpp_properties_response p;
    long status = 0;
    assert_int_equal(mpp_client_properties(c, &p, &status, &err), 0);
    assert_true(p.success);
    assert_int_equal(p.n_patterns, 1);
    mpp_properties_response_clear(&p);
    check_request(s, "/MountPointPlugin.MountPointProperties", "{}");
    mpp_client_free(c);
}

static void test_keep_alive(void **state)
{
    server *s = *state;
    set_answer(s, 200, "{\"Success\": true}");
    start_unix(s);
    mpp_client *c = new_client(s, 5000, 0);
    mpp_error err = {0};
    for (int i = 0; i < 3; i++) {
        mpp_properties_response p;
        assert_int_equal(mpp_client_properties(c, &p, NULL, &err), 0);
        mpp_properties_response_clear(&p);
    }
    pthread_mutex_lock(&s->lock);
    unsigned conns = s->n_connections, reqs = s->n_requests;
    pthread_mutex_unlock(&s->lock);
    assert_int_equal(reqs, 3);
    assert_int_equal(conns, 1);
    mpp_client_free(c);
}

static void test_raw_post(void **state)
{
    server *s = *state;
    set_answer(s, 418, "teapot");
    start_unix(s);
    mpp_client *c = new_client(s, 5000, 0);
    long status = 0;
    char *resp = NULL;
    size_t len = 0;
    mpp_error err = {0};
    assert_int_equal(mpp_client_post(c, "Custom.Endpoint", "{\"a\":1}", &status, &resp, &len, &err),
                     0);
    assert_int_equal(status, 418);
    assert_string_equal(resp, "teapot");
    assert_int_equal(len, 6);
    free(resp);
    check_request(s, "/Custom.Endpoint", "{\"a\":1}");

    /* A large body goes whole, without "Expect: 100-continue". */
    size_t big_len = 3 * 1024 * 1024 / 2;
    char *big = malloc(big_len + 1);
    assert_non_null(big);
    memset(big, ' ', big_len);
    big[0] = '{';
    big[big_len - 1] = '}';
    big[big_len] = '\0';
    resp = NULL;
    assert_int_equal(mpp_client_post(c, "/Big", big, &status, &resp, &len, &err), 0);
    free(resp);
    check_request(s, "/Big", big);
    pthread_mutex_lock(&s->lock);
    size_t got_len = s->body_len;
    pthread_mutex_unlock(&s->lock);
    assert_int_equal(got_len, big_len);
    free(big);

    /* An endpoint that would change the URL is refused before any I/O. */
    static const char *const bad[] = {"a b", "x?y=1", "http://evil/", "", "a#b"};
    for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
        resp = NULL;
        assert_int_equal(mpp_client_post(c, bad[i], "{}", &status, &resp, &len, &err), -EINVAL);
        assert_null(resp);
        expect_msg(&err, "invalid endpoint");
    }
    mpp_client_free(c);
}

static void test_new_errors(void **state)
{
    (void)state;
    char name[] = "p";
    char longpath[200];
    memset(longpath, 'a', sizeof(longpath) - 1);
    longpath[0] = '/';
    longpath[sizeof(longpath) - 1] = '\0';
    mpp_plugin_addr a = {.name = name, .kind = MPP_ADDR_UNIX, .path = longpath};
    mpp_client *c = NULL;
    mpp_error err = {0};
    assert_int_equal(mpp_client_new(&a, NULL, &c, &err), -ENAMETOOLONG);
    assert_null(c);
    expect_msg(&err, "plugin \"p\"");

    a.path = NULL;
    assert_int_equal(mpp_client_new(&a, NULL, &c, &err), -EINVAL);
    a.kind = MPP_ADDR_TCP;
    assert_int_equal(mpp_client_new(&a, NULL, &c, &err), -EINVAL);
    mpp_client_free(NULL);
}

/* The scripted server: a real socket served by a thread that reads each request whole (with
 * http-parser) and answers with s->reply byte for byte, one connection at a time. */
static int req_complete(http_parser *p)
{
    *(bool *)p->data = true;
    return 0;
}

/* Read one request. true when it came whole, false on EOF, error or stop. */
static bool read_request(server *s, int cfd)
{
    bool done = false;
    http_parser hp;
    http_parser_settings st;
    http_parser_init(&hp, HTTP_REQUEST);
    http_parser_settings_init(&st);
    st.on_message_complete = req_complete;
    hp.data = &done;
    while (!done && !__atomic_load_n(&s->script_stop, __ATOMIC_SEQ_CST)) {
        struct pollfd pfd = {.fd = cfd, .events = POLLIN};
        if (poll(&pfd, 1, 100) <= 0)
            continue;
        char buf[65536];
        ssize_t n = recv(cfd, buf, sizeof(buf), 0);
        if (n <= 0)
            return false;
        if (http_parser_execute(&hp, &st, buf, (size_t)n) != (size_t)n && !done)
            return false;
    }
    return done;
}

static void send_reply(server *s, int cfd)
{
    if (s->serve_delay_ms)
        usleep(s->serve_delay_ms * 1000);
    if (!s->drip_us) {
        (void)!send(cfd, s->reply, s->reply_len, MSG_NOSIGNAL);
        return;
    }
    for (size_t i = 0; i < s->reply_len && !__atomic_load_n(&s->script_stop, __ATOMIC_SEQ_CST);
         i++) {
        if (send(cfd, s->reply + i, 1, MSG_NOSIGNAL) != 1)
            return;
        usleep(s->drip_us);
    }
}

static void *script_server(void *arg)
{
    server *s = arg;
    for (;;) {
        int cfd = accept4(s->raw_fd, NULL, NULL, SOCK_CLOEXEC);
        if (cfd < 0)
            return NULL;
        pthread_mutex_lock(&s->lock);
        s->n_connections++;
        pthread_mutex_unlock(&s->lock);
        while (read_request(s, cfd)) {
            pthread_mutex_lock(&s->lock);
            s->n_requests++;
            pthread_mutex_unlock(&s->lock);
            if (s->no_reply)
                break;
            send_reply(s, cfd);
            if (s->close_after)
                break;
        }
        close(cfd);
    }
}

static void start_script(server *s, const char *reply, int backlog)
{
    s->reply = reply;
    s->reply_len = strlen(reply);
    s->raw_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(s->raw_fd >= 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    strcpy(sa.sun_path, s->sock_path);
    assert_int_equal(bind(s->raw_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(s->raw_fd, backlog), 0);
    assert_int_equal(pthread_create(&s->raw_thread, NULL, script_server, s), 0);
    s->raw_running = true;
}

static unsigned count(server *s, unsigned *what)
{
    pthread_mutex_lock(&s->lock);
    unsigned n = *what;
    pthread_mutex_unlock(&s->lock);
    return n;
}

#define ACTIVATE_BODY "{\"Implements\": [\"mountpoint\"]}"
#define OK_LENGTH(body) "HTTP/1.1 200 OK\r\nContent-Length: " #body "\r\n\r\n"

static int activate(mpp_client *c, mpp_error *err)
{
    return mpp_client_activate(c, err);
}

/* An answer split at every byte is read as a whole, for each way of delimiting the body. */
static void test_split_every_byte(void **state)
{
    server *s = *state;
    char reply[512];
    snprintf(reply, sizeof(reply),
             "HTTP/1.1 200 OK\r\nContent-Type: " MEDIA_TYPE "\r\nContent-Length: %zu\r\n\r\n%s",
             strlen(ACTIVATE_BODY), ACTIVATE_BODY);
    s->drip_us = 300;
    start_script(s, reply, 16);
    mpp_client *c = new_client(s, 5000, 0);
    mpp_error err = {0};
    for (int i = 0; i < 2; i++)
        if (activate(c, &err) < 0)
            fail_msg("activate %d, dripped: %s", i, err.msg);
    assert_int_equal(count(s, &s->n_requests), 2);
    assert_int_equal(count(s, &s->n_connections), 1); /* kept alive */

    /* Chunked, with extensions and trailers, dripped too. */
    s->reply = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
               "5;name=value\r\n{\"Imp\r\n"
               "19\r\nlements\": [\"mountpoint\"]}\r\n"
               "0;last\r\nX-Trailer: yes\r\n\r\n";
    s->reply_len = strlen(s->reply);
    for (int i = 0; i < 2; i++)
        if (activate(c, &err) < 0)
            fail_msg("activate %d, chunked and dripped: %s", i, err.msg);
    assert_int_equal(count(s, &s->n_connections), 1);
    mpp_client_free(c);
}

static void test_chunked(void **state)
{
    server *s = *state;
    start_script(s,
                 "HTTP/1.1 200 OK\r\nContent-Type: " MEDIA_TYPE "\r\n"
                 "Transfer-Encoding: chunked\r\n\r\n"
                 "3\r\n{\"S\r\n"
                 "b;ext=\"quoted\";other\r\nuccess\": tr\r\n"
                 "2\r\nue\r\n"
                 "1\r\n}\r\n"
                 "0\r\nX-One: 1\r\nX-Two: 2\r\n\r\n",
                 16);
    mpp_client *c = new_client(s, 5000, 0);
    long status = 0;
    char *resp = NULL;
    size_t len = 0;
    mpp_error err = {0};
    for (int i = 0; i < 3; i++) {
        if (mpp_client_post(c, "/X", "{}", &status, &resp, &len, &err) < 0)
            fail_msg("chunked %d: %s", i, err.msg);
        assert_int_equal(status, 200);
        assert_string_equal(resp, "{\"Success\": true}");
        assert_int_equal(len, strlen("{\"Success\": true}"));
        free(resp);
    }
    assert_int_equal(count(s, &s->n_connections), 1);

    /* A chunked body over the limit. */
    mpp_client_free(c);
    c = new_client(s, 5000, 10);
    assert_int_equal(mpp_client_post(c, "/X", "{}", &status, &resp, &len, &err), -E2BIG);
    assert_null(resp);
    expect_msg(&err, "larger than 10 bytes");
    mpp_client_free(c);
}

/* No length: the body ends when the plugin closes the connection (HTTP/1.0, Python's
 * http.server); the next call makes a new connection. */
static void test_close_delimited(void **state)
{
    server *s = *state;
    s->close_after = true;
    start_script(s, "HTTP/1.0 200 OK\r\nContent-Type: " MEDIA_TYPE "\r\n\r\n" ACTIVATE_BODY, 16);
    mpp_client *c = new_client(s, 5000, 0);
    mpp_error err = {0};
    for (int i = 0; i < 2; i++)
        if (activate(c, &err) < 0)
            fail_msg("activate %d, close-delimited: %s", i, err.msg);
    assert_int_equal(count(s, &s->n_connections), 2);

    /* HTTP/1.1 with Connection: close and no length. */
    s->reply = "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" ACTIVATE_BODY;
    s->reply_len = strlen(s->reply);
    if (activate(c, &err) < 0)
        fail_msg("activate, HTTP/1.1 close-delimited: %s", err.msg);
    assert_int_equal(count(s, &s->n_connections), 3);

    /* Closed before the announced length: cut short, not an answer. */
    s->reply = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" ACTIVATE_BODY;
    s->reply_len = strlen(s->reply);
    assert_int_equal(activate(c, &err), -EIO);
    expect_msg(&err, "closed the connection in the middle of its answer to /Plugin.Activate");
    mpp_client_free(c);
}

static void expect_bad_answer(server *s, const char *reply, int code, const char *frag)
{
    s->reply = reply;
    s->reply_len = strlen(reply);
    mpp_client *c = new_client(s, 2000, 0);
    mpp_error err = {0};
    long status = 0;
    char *resp = NULL;
    int r = mpp_client_post(c, "/X", "{}", &status, &resp, NULL, &err);
    if (r != code)
        fail_msg("answer %.60s...: got %d (%s), expected %d", reply, r, err.msg, code);
    assert_null(resp);
    expect_msg(&err, "plugin \"p\"");
    expect_msg(&err, frag);
    mpp_client_free(c);
}

static void test_bad_length(void **state)
{
    server *s = *state;
    s->close_after = true;
    start_script(s, "", 16);
    /* Two lengths, equal or not: a request smuggler's answer, never guessed at. */
    expect_bad_answer(s, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}",
                      -EBADMSG, "not valid HTTP");
    expect_bad_answer(s, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{} ",
                      -EBADMSG, "not valid HTTP");
    expect_bad_answer(s, "HTTP/1.1 200 OK\r\nContent-Length: two\r\n\r\n{}", -EBADMSG,
                      "not valid HTTP");
    expect_bad_answer(s, "HTTP/1.1 200 OK\r\nContent-Length: -2\r\n\r\n{}", -EBADMSG,
                      "not valid HTTP");
    /* Chunked and a length. */
    expect_bad_answer(s,
                      "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "2\r\n{}\r\n0\r\n\r\n",
                      -EBADMSG, "not valid HTTP");
    /* A length shorter than what came: the rest is not part of any answer. */
    expect_bad_answer(s, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}{\"more\": 1}", -EBADMSG,
                      "bytes after the end of the answer");
    /* Not HTTP at all, and a bad chunk size. */
    expect_bad_answer(s, "SSH-2.0-OpenSSH_9.2\r\n", -EBADMSG, "not valid HTTP");
    expect_bad_answer(s,
                      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
                      -EBADMSG, "not valid HTTP");
    /* A protocol switch is not an answer. */
    expect_bad_answer(
        s, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n",
        -EBADMSG, "switched protocols");
}

static void test_header_too_big(void **state)
{
    server *s = *state;
    size_t big = 20000;
    const char *pre = "HTTP/1.1 200 OK\r\nX-Big: ";
    const char *post = "\r\nContent-Length: 2\r\n\r\n{}";
    _cleanup_free_ char *reply = malloc(strlen(pre) + big + strlen(post) + 1);
    assert_non_null(reply);
    strcpy(reply, pre);
    memset(reply + strlen(pre), 'h', big);
    strcpy(reply + strlen(pre) + big, post);
    s->close_after = true;
    start_script(s, "", 16);
    expect_bad_answer(s, reply, -E2BIG, "has a header larger than 16384 bytes");

    /* Many small headers count too. */
    _cleanup_free_ char *many = malloc(strlen(pre) + 6000 * 6 + strlen(post) + 1);
    assert_non_null(many);
    char *p = stpcpy(many, "HTTP/1.1 200 OK\r\n");
    for (int i = 0; i < 6000; i++)
        p = stpcpy(p, "A:\r\n");
    strcpy(p, "Content-Length: 2\r\n\r\n{}");
    expect_bad_answer(s, many, -E2BIG, "has a header larger than");

    /* Just under the limit is fine; an interim 100 Continue is skipped. */
    s->reply = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";
    s->reply_len = strlen(s->reply);
    mpp_client *c = new_client(s, 2000, 0);
    mpp_error err = {0};
    long status = 0;
    char *resp = NULL;
    if (mpp_client_post(c, "/X", "{}", &status, &resp, NULL, &err) < 0)
        fail_msg("after 100 Continue: %s", err.msg);
    assert_int_equal(status, 200);
    assert_string_equal(resp, "{}");
    free(resp);
    mpp_client_free(c);
}

/* Bytes that keep coming do not extend the call: the deadline covers the whole answer. */
static void test_slow_drip(void **state)
{
    server *s = *state;
    s->drip_us = 50 * 1000;
    start_script(s, OK_LENGTH(2) "{}", 16);
    mpp_client *c = new_client(s, 300, 0);
    mpp_error err = {0};
    long status = 0;
    char *resp = NULL;
    double t0 = now_ms();
    assert_int_equal(mpp_client_post(c, "/X", "{}", &status, &resp, NULL, &err), -ETIMEDOUT);
    double elapsed = now_ms() - t0;
    if (elapsed < 250 || elapsed > 1500)
        fail_msg("timed out after %.0f ms, expected about 300", elapsed);
    assert_string_equal(err.msg, "plugin \"p\" did not answer /X within 300 ms");
    assert_null(resp);
    __atomic_store_n(&s->script_stop, true, __ATOMIC_SEQ_CST);
    mpp_client_free(c);
}

struct late_socket {
    server *s;
    unsigned after_ms;
};

static void *listen_later(void *arg)
{
    struct late_socket *l = arg;
    usleep(l->after_ms * 1000);
    start_script(l->s, OK_LENGTH(30) ACTIVATE_BODY, 16);
    return NULL;
}

/* A plugin still starting: its socket appears 50 ms after the call began. */
static void test_socket_appears_late(void **state)
{
    server *s = *state;
    struct late_socket l = {.s = s, .after_ms = 50};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, listen_later, &l), 0);
    mpp_client *c = new_client(s, 3000, 0);
    mpp_error err = {0};
    double t0 = now_ms();
    int r = activate(c, &err);
    double elapsed = now_ms() - t0;
    pthread_join(t, NULL);
    if (r < 0)
        fail_msg("activate while the socket appears: %s", err.msg);
    if (elapsed < 45 || elapsed > 1000)
        fail_msg("answered after %.0f ms, expected a little over 50", elapsed);
    assert_int_equal(count(s, &s->n_requests), 1);
    mpp_client_free(c);
}

struct busy_client {
    server *s;
    int r;
    char msg[MPP_ERROR_MSG_MAX];
};

static void *busy_client_main(void *arg)
{
    struct busy_client *b = arg;
    char tcp[32] = "";
    mpp_plugin_addr a = {
        .name = b->s->name, .kind = MPP_ADDR_UNIX, .path = b->s->sock_path, .host_port = tcp};
    mpp_client_options o = {.timeout_ms = 20000};
    mpp_client *c = NULL;
    mpp_error err = {0};
    b->r = mpp_client_new(&a, &o, &c, &err);
    if (b->r == 0)
        b->r = mpp_client_activate(c, &err);
    snprintf(b->msg, sizeof(b->msg), "%s", err.msg);
    mpp_client_free(c);
    return NULL;
}

/* A plugin with a listen backlog of 1 that answers one connection at a time: 50 callers at
 * once all get their answer, each sent once. */
static void test_busy_backlog(void **state)
{
    server *s = *state;
    s->close_after = true;
    s->serve_delay_ms = 1;
    start_script(s, OK_LENGTH(30) ACTIVATE_BODY, 1);
    enum { N = 50 };
    struct busy_client b[N];
    pthread_t t[N];
    for (int i = 0; i < N; i++) {
        b[i] = (struct busy_client){.s = s};
        assert_int_equal(pthread_create(&t[i], NULL, busy_client_main, &b[i]), 0);
    }
    int failed = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        if (b[i].r < 0 && failed++ == 0)
            print_error("client %d: %d %s\n", i, b[i].r, b[i].msg);
    }
    assert_int_equal(failed, 0);
    assert_int_equal(count(s, &s->n_requests), N);
}

/* A kept connection that the plugin closed while idle is replaced before the request goes out;
 * one closed after the request was read is never sent again. */
static void test_reuse_and_no_resend(void **state)
{
    server *s = *state;
    s->close_after = true; /* closes without saying Connection: close */
    start_script(s, OK_LENGTH(30) ACTIVATE_BODY, 16);
    mpp_client *c = new_client(s, 3000, 0);
    mpp_error err = {0};
    for (int i = 0; i < 3; i++) {
        if (activate(c, &err) < 0)
            fail_msg("activate %d over a connection the plugin closed: %s", i, err.msg);
        usleep(20 * 1000); /* let the close arrive */
    }
    assert_int_equal(count(s, &s->n_requests), 3);
    assert_int_equal(count(s, &s->n_connections), 3);

    /* Now the plugin keeps the connection for one answer, then reads the next request and dies
     * without answering: the caller must learn it, the plugin must see the request once. */
    s->close_after = false;
    mpp_client_free(c);
    c = new_client(s, 3000, 0);
    if (activate(c, &err) < 0)
        fail_msg("activate: %s", err.msg);
    s->no_reply = true;
    mpp_attach_request req = {.id = strdup("id")};
    mpp_attach_response a;
    assert_int_equal(mpp_client_attach(c, &req, &a, NULL, &err), -EIO);
    expect_msg(&err,
               "closed the connection without an answer to /MountPointPlugin.MountPointAttach");
    usleep(100 * 1000);
    assert_int_equal(count(s, &s->n_requests), 5);
    assert_int_equal(count(s, &s->n_connections), 4);
    mpp_attach_request_clear(&req);
    mpp_client_free(c);
}

/* The process behind the socket must be root (or us): a socket whose listener runs as another
 * user is refused before anything is sent. */
static void test_peer_not_root(void **state)
{
    server *s = *state;
    if (geteuid() != 0)
        skip();
    int fd = bind_unix(s->sock_path, false);
    int ready[2];
    assert_int_equal(pipe(ready), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* SO_PEERCRED tells who called listen(). */
        if (setgid(65534) < 0 || setuid(65534) < 0 || listen(fd, 16) < 0)
            _exit(1);
        (void)!write(ready[1], "x", 1);
        for (;;) {
            int cfd = accept(fd, NULL, NULL);
            if (cfd < 0)
                _exit(0);
            char buf[4096];
            if (read(cfd, buf, sizeof(buf)) > 0)
                _exit(3); /* a request reached it */
            close(cfd);
        }
    }
    char x;
    assert_int_equal(read(ready[0], &x, 1), 1);
    close(ready[0]);
    close(ready[1]);
    mpp_client *c = new_client(s, 2000, 0);
    mpp_error err = {0};
    assert_int_equal(activate(c, &err), -EPERM);
    expect_msg(&err, "runs as uid 65534, not root: refused");
    expect_msg(&err, s->sock_path);
    mpp_client_free(c);
    usleep(50 * 1000);
    kill(pid, SIGKILL);
    int ws;
    assert_int_equal(waitpid(pid, &ws, 0), pid);
    assert_true(WIFSIGNALED(ws)); /* not exited 3: nothing was read */
    close(fd);
}

/* A redirect is an answer like any other, never followed; proxy variables are not read. */
static void test_no_redirect_no_proxy(void **state)
{
    server *s = *state;
    start_script(s,
                 "HTTP/1.1 307 Temporary Redirect\r\nLocation: http://plugin/Elsewhere\r\n"
                 "Content-Length: 0\r\n\r\n",
                 16);
    setenv("http_proxy", "http://127.0.0.1:1", 1);
    setenv("HTTP_PROXY", "http://127.0.0.1:1", 1);
    setenv("all_proxy", "http://127.0.0.1:1", 1);
    mpp_client *c = new_client(s, 2000, 0);
    long status = 0;
    char *resp = NULL;
    size_t len = 1;
    mpp_error err = {0};
    int r = mpp_client_post(c, "/X", "{}", &status, &resp, &len, &err);
    unsetenv("http_proxy");
    unsetenv("HTTP_PROXY");
    unsetenv("all_proxy");
    if (r < 0)
        fail_msg("post: %s", err.msg);
    assert_int_equal(status, 307);
    assert_string_equal(resp, "");
    assert_int_equal(len, 0);
    free(resp);
    usleep(20 * 1000);
    assert_int_equal(count(s, &s->n_requests), 1);
    mpp_client_free(c);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_activate),
        T(test_properties),
        T(test_attach),
        T(test_detach),
        T(test_non_200),
        T(test_garbage),
        T(test_timeout),
        T(test_too_big),
        T(test_nothing_listening),
        T(test_closed_without_answer),
        T(test_tcp),
        T(test_keep_alive),
        T(test_raw_post),
        T(test_new_errors),
        T(test_split_every_byte),
        T(test_chunked),
        T(test_close_delimited),
        T(test_bad_length),
        T(test_header_too_big),
        T(test_slow_drip),
        T(test_socket_appears_late),
        T(test_busy_backlog),
        T(test_reuse_and_no_resend),
        T(test_peer_not_root),
        T(test_no_redirect_no_proxy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
