/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libmpp-plugin against libmpp's own HTTP client, over a real unix socket. */

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <mpp/client.h>
#include <mpp/mpp-plugin.h>

#include "test-util.h"

typedef struct fixture {
    char dir[64];
    char sock[128];
    mpp_plugin_server *server;
    pthread_t thread;
    int run_r;
    mpp_error run_err;
    mpp_client *client;

    pthread_mutex_t lock;
    pthread_cond_t cond;
    unsigned inside, max_inside, want_inside;
    char seen_id[64];
    bool seen_has_exit;
    int seen_exit;
    size_t seen_mounts;
} fixture;

static void *run_thread(void *arg)
{
    fixture *f = arg;
    f->run_r = mpp_plugin_server_run(f->server, &f->run_err);
    return NULL;
}

static int new_client(fixture *f, mpp_client **out)
{
    mpp_plugin_addr addr = {.name = (char *)"t", .kind = MPP_ADDR_UNIX, .path = f->sock};
    mpp_client_options o = {.timeout_ms = 10000};
    mpp_error err = {0};
    return mpp_client_new(&addr, &o, out, &err);
}

static void start_opts(fixture *f, const mpp_plugin_ops *ops, mpp_plugin_server_options *opts)
{
    opts->socket_path = f->sock;
    mpp_error err = {0};
    int r = mpp_plugin_server_new(opts, ops, f, &f->server, &err);
    if (r < 0)
        fail_msg("mpp_plugin_server_new: %s", err.msg);
    assert_int_equal(pthread_create(&f->thread, NULL, run_thread, f), 0);
    assert_int_equal(new_client(f, &f->client), 0);
}

static void start(fixture *f, const mpp_plugin_ops *ops, unsigned threads)
{
    mpp_plugin_server_options opts = {.threads = threads};
    start_opts(f, ops, &opts);
}

/* Patterns [{}]: every mount. */
static int all_properties(void *userdata, mpp_properties_response *resp, mpp_error *err)
{
    (void)userdata;
    resp->patterns = calloc(1, sizeof(*resp->patterns));
    if (!resp->patterns)
        return mpp_error_set(err, -ENOMEM, "oom");
    resp->n_patterns = 1;
    mpp_pattern_init(&resp->patterns[0]);
    resp->success = true;
    return 0;
}

static void stop(fixture *f)
{
    mpp_plugin_server_stop(f->server);
    assert_int_equal(pthread_join(f->thread, NULL), 0);
    assert_int_equal(f->run_r, 0);
    struct stat st;
    assert_int_equal(lstat(f->sock, &st), -1); /* run() removed the socket it made */
    mpp_plugin_server_free(f->server);
    f->server = NULL;
    mpp_client_free(f->client);
    f->client = NULL;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    assert_int_equal(test_tmpdir_make(f->dir, sizeof(f->dir), "sdk"), 0);
    snprintf(f->sock, sizeof(f->sock), "%s/p.sock", f->dir);
    pthread_mutex_init(&f->lock, NULL);
    pthread_cond_init(&f->cond, NULL);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    if (f->server) {
        mpp_plugin_server_stop(f->server);
        pthread_join(f->thread, NULL);
        mpp_plugin_server_free(f->server);
    }
    mpp_client_free(f->client);
    test_tmpdir_remove(f->dir);
    pthread_cond_destroy(&f->cond);
    pthread_mutex_destroy(&f->lock);
    free(f);
    return 0;
}

static mpp_mount two_mounts[2] = {
    {.source = (char *)"/a", .destination = (char *)"/data", .type = (char *)"bind"},
    {.source = (char *)"/b", .destination = (char *)"/other", .type = (char *)"bind"},
};

/* ---- NULL callbacks get the documented defaults ---- */

static void test_null_callbacks(void **state)
{
    fixture *f = *state;
    mpp_plugin_ops ops = {0};
    mpp_error err = {0};
    long status = 0;
    start(f, &ops, 0);

    assert_int_equal(mpp_client_activate(f->client, &err), 0);

    mpp_properties_response pr = {0};
    assert_int_equal(mpp_client_properties(f->client, &pr, &status, &err), 0);
    assert_int_equal(status, 200);
    assert_true(pr.success);
    assert_int_equal(pr.n_patterns, 0);
    mpp_properties_response_clear(&pr);

    mpp_attach_request req = {.id = (char *)"c1", .mounts = two_mounts, .n_mounts = 2};
    mpp_attach_response ar = {0};
    assert_int_equal(mpp_client_attach(f->client, &req, &ar, &status, &err), 0);
    assert_true(ar.success);
    for (size_t i = 0; i < ar.n_attachments; i++)
        assert_false(ar.attachments[i].attach);
    mpp_attach_response_clear(&ar);

    mpp_detach_request dr = {.id = (char *)"unknown"};
    mpp_detach_response dres = {0};
    assert_int_equal(mpp_client_detach(f->client, &dr, &dres, &status, &err), 0);
    assert_true(dres.success);
    mpp_detach_response_clear(&dres);
    stop(f);
}

/* ---- requests reach the callbacks decoded; answers reach the client ---- */

static int rt_properties(void *userdata, mpp_properties_response *resp, mpp_error *err)
{
    resp->patterns = calloc(1, sizeof(*resp->patterns));
    if (!resp->patterns)
        return mpp_error_set(err, -ENOMEM, "oom");
    resp->n_patterns = 1;
    mpp_pattern_init(&resp->patterns[0]);
    resp->patterns[0].type = strdup("bind");
    resp->success = true;
    return 0;
}

static int rt_attach(void *userdata, const mpp_attach_request *req, mpp_attach_response *resp,
                     mpp_error *err)
{
    fixture *f = userdata;
    snprintf(f->seen_id, sizeof(f->seen_id), "%s", req->id);
    f->seen_mounts = req->n_mounts;

    resp->attachments = calloc(req->n_mounts, sizeof(*resp->attachments));
    resp->n_attachments = req->n_mounts;
    for (size_t i = 0; i < req->n_mounts; i++) {
        if (strcmp(req->mounts[i].destination, "/data") != 0)
            continue;
        mpp_attachment *a = &resp->attachments[i];
        a->attach = true;
        a->changes.effective_source = strdup("/srv/redirected");
        a->emergency = calloc(1, sizeof(*a->emergency));
        a->emergency[0] = (mpp_action){.kind = MPP_ACTION_REMOVE, .arg = strdup("/srv/redirected")};
        a->n_emergency = 1;
    }
    resp->success = true;
    return 0;
}

static int rt_detach(void *userdata, const mpp_detach_request *req, mpp_detach_response *resp,
                     mpp_error *err)
{
    fixture *f = userdata;
    snprintf(f->seen_id, sizeof(f->seen_id), "%s", req->id);
    f->seen_has_exit = req->has_exit_status;
    f->seen_exit = req->exit_status;
    resp->success = false;
    resp->recoverable = true;
    resp->err = strdup("flush failed");
    return 0;
}

static void test_round_trip(void **state)
{
    fixture *f = *state;
    mpp_plugin_ops ops = {.properties = rt_properties, .attach = rt_attach, .detach = rt_detach};
    mpp_error err = {0};
    long status = 0;
    start(f, &ops, 2);

    struct stat st;
    assert_int_equal(lstat(f->sock, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0600);

    mpp_properties_response pr = {0};
    assert_int_equal(mpp_client_properties(f->client, &pr, &status, &err), 0);
    assert_int_equal(pr.n_patterns, 1);
    assert_string_equal(pr.patterns[0].type, "bind");
    mpp_properties_response_clear(&pr);

    mpp_attach_request req = {.id = (char *)"c42", .mounts = two_mounts, .n_mounts = 2};
    mpp_attach_response ar = {0};
    assert_int_equal(mpp_client_attach(f->client, &req, &ar, &status, &err), 0);
    assert_int_equal(status, 200);
    assert_string_equal(f->seen_id, "c42");
    assert_int_equal(f->seen_mounts, 2);
    assert_true(ar.success);
    assert_int_equal(ar.n_attachments, 2);
    assert_true(ar.attachments[0].attach);
    assert_string_equal(ar.attachments[0].changes.effective_source, "/srv/redirected");
    assert_int_equal(ar.attachments[0].n_emergency, 1);
    assert_int_equal(ar.attachments[0].emergency[0].kind, MPP_ACTION_REMOVE);
    assert_false(ar.attachments[1].attach);
    mpp_attach_response_clear(&ar);

    mpp_detach_request dr = {.id = (char *)"c42", .has_exit_status = true, .exit_status = 137};
    mpp_detach_response dres = {0};
    assert_int_equal(mpp_client_detach(f->client, &dr, &dres, &status, &err), 0);
    assert_int_equal(status, 200);
    assert_true(f->seen_has_exit);
    assert_int_equal(f->seen_exit, 137);
    assert_false(dres.success);
    assert_true(dres.recoverable);
    assert_string_equal(dres.err, "flush failed");
    mpp_detach_response_clear(&dres);
    stop(f);
}

/* ---- a failing callback is an HTTP 500 carrying its message ---- */

static int failing_properties(void *userdata, mpp_properties_response *resp, mpp_error *err)
{
    resp->err = strdup("half-built answers are freed too");
    return mpp_error_set(err, -EIO, "disk on fire");
}

static void test_callback_failure(void **state)
{
    fixture *f = *state;
    mpp_plugin_ops ops = {.properties = failing_properties};
    mpp_error err = {0};
    long status = 0;
    start(f, &ops, 1);

    mpp_properties_response pr = {0};
    assert_int_equal(mpp_client_properties(f->client, &pr, &status, &err), 0);
    assert_int_equal(status, 500);
    assert_false(pr.success);
    assert_string_equal(pr.err, "disk on fire");
    mpp_properties_response_clear(&pr);
    stop(f);
}

/* ---- what is not a well-formed call ---- */

static void post_expect(fixture *f, const char *ep, const char *body, long want, const char *part)
{
    long status = 0;
    char *resp = NULL;
    mpp_error err = {0};
    int r = mpp_client_post(f->client, ep, body, &status, &resp, NULL, &err);
    if (r < 0)
        fail_msg("POST %s: %s", ep, err.msg);
    assert_int_equal(status, want);
    assert_non_null(strstr(resp, part));
    assert_non_null(strstr(resp, "\"Err\""));
    free(resp);
}

static void test_bad_requests(void **state)
{
    fixture *f = *state;
    mpp_plugin_ops ops = {0};
    start(f, &ops, 1);

    post_expect(f, "Nope", "{}", 404, "unknown endpoint /Nope");
    post_expect(f, "MountPointPlugin.MountPointAttach", "[1", 400, "attach request");
    post_expect(f, "MountPointPlugin.MountPointAttach", "{\"ID\": 5}", 400, "ID");
    post_expect(f, "MountPointPlugin.MountPointDetach", "", 400, "detach request");
    post_expect(f, "MountPointPlugin.MountPointProperties", "[]", 400, "properties request");
    stop(f);
}

/* ---- the socket path ---- */

static void test_socket_path(void **state)
{
    fixture *f = *state;
    mpp_plugin_ops ops = {0};
    mpp_plugin_server_options opts = {.socket_path = f->sock};
    mpp_plugin_server *s = NULL;
    mpp_error err = {0};

    /* A regular file is never replaced. */
    FILE *file = fopen(f->sock, "w");
    assert_non_null(file);
    fclose(file);
    assert_int_equal(mpp_plugin_server_new(&opts, &ops, NULL, &s, &err), -EEXIST);
    assert_null(s);
    assert_non_null(strstr(err.msg, "not a socket"));
    struct stat st;
    assert_int_equal(lstat(f->sock, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    unlink(f->sock);

    /* A stale socket (nobody listening) is. */
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    strcpy(sa.sun_path, f->sock);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    close(fd);
    start(f, &ops, 1);

    /* A live one is not. */
    assert_int_equal(mpp_plugin_server_new(&opts, &ops, NULL, &s, &err), -EADDRINUSE);
    assert_null(s);
    assert_int_equal(mpp_client_activate(f->client, &err), 0);
    stop(f);

    /* Too long for sun_path. */
    char longp[200];
    memset(longp, 'x', sizeof(longp) - 1);
    longp[0] = '/';
    longp[sizeof(longp) - 1] = '\0';
    opts.socket_path = longp;
    assert_int_equal(mpp_plugin_server_new(&opts, &ops, NULL, &s, &err), -ENAMETOOLONG);
}

static void test_no_activation(void **state)
{
    mpp_plugin_ops ops = {0};
    mpp_plugin_server_options opts = {0};
    mpp_plugin_server *s = NULL;
    mpp_error err = {0};

    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    assert_true(mpp_plugin_server_new(&opts, &ops, NULL, &s, &err) < 0);
    assert_null(s);
    assert_non_null(strstr(err.msg, "socket activation"));
}

/* ---- calls run concurrently, up to `threads` at once ---- */

static int meeting_attach(void *userdata, const mpp_attach_request *req, mpp_attach_response *resp,
                          mpp_error *err)
{
    fixture *f = userdata;
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 5;

    pthread_mutex_lock(&f->lock);
    f->inside++;
    if (f->inside > f->max_inside)
        f->max_inside = f->inside;
    pthread_cond_broadcast(&f->cond);
    /* Wait until all callers are inside at once: impossible if calls are serialized, so the
     * deadline (not a hang) decides then. */
    while (f->max_inside < f->want_inside)
        if (pthread_cond_timedwait(&f->cond, &f->lock, &deadline) == ETIMEDOUT)
            break;
    f->inside--;
    pthread_mutex_unlock(&f->lock);
    resp->success = true;
    return 0;
}

typedef struct caller {
    fixture *f;
    int r;
    bool success;
} caller;

static void *call_attach(void *arg)
{
    caller *c = arg;
    mpp_client *client = NULL;
    mpp_error err = {0};
    long status = 0;
    mpp_attach_request req = {.id = (char *)"cc", .mounts = two_mounts, .n_mounts = 1};
    mpp_attach_response ar = {0};

    c->r = new_client(c->f, &client);
    if (c->r == 0)
        c->r = mpp_client_attach(client, &req, &ar, &status, &err);
    c->success = c->r == 0 && status == 200 && ar.success;
    mpp_attach_response_clear(&ar);
    mpp_client_free(client);
    return NULL;
}

static void test_concurrent_calls(void **state)
{
    fixture *f = *state;
    mpp_plugin_ops ops = {.properties = all_properties, .attach = meeting_attach};
    enum { N = 6 };
    f->want_inside = N;
    start(f, &ops, N);

    pthread_t t[N];
    caller c[N];
    for (int i = 0; i < N; i++) {
        c[i] = (caller){.f = f};
        assert_int_equal(pthread_create(&t[i], NULL, call_attach, &c[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        assert_true(c[i].success);
    }
    assert_int_equal(f->max_inside, N);
    stop(f);
}

/* ---- stop lets the call in progress answer ---- */

static int slow_attach(void *userdata, const mpp_attach_request *req, mpp_attach_response *resp,
                       mpp_error *err)
{
    fixture *f = userdata;
    pthread_mutex_lock(&f->lock);
    f->inside++;
    pthread_cond_broadcast(&f->cond);
    pthread_mutex_unlock(&f->lock);
    usleep(300 * 1000);
    resp->success = true;
    return 0;
}

static void test_stop_finishes_calls(void **state)
{
    fixture *f = *state;
    mpp_plugin_ops ops = {.properties = all_properties, .attach = slow_attach};
    start(f, &ops, 1);

    pthread_t t;
    caller c = {.f = f};
    assert_int_equal(pthread_create(&t, NULL, call_attach, &c), 0);
    pthread_mutex_lock(&f->lock);
    while (f->inside == 0)
        pthread_cond_wait(&f->cond, &f->lock);
    pthread_mutex_unlock(&f->lock);

    stop(f); /* while the callback sleeps */
    pthread_join(t, NULL);
    assert_true(c.success);
}

static void test_stop_before_run(void **state)
{
    fixture *f = *state;
    mpp_plugin_ops ops = {0};
    mpp_plugin_server_options opts = {.socket_path = f->sock};
    mpp_error err = {0};

    assert_int_equal(mpp_plugin_server_new(&opts, &ops, NULL, &f->server, &err), 0);
    mpp_plugin_server_stop(f->server);
    assert_int_equal(mpp_plugin_server_run(f->server, &err), 0);
    assert_int_equal(mpp_plugin_server_run(f->server, &err), -EALREADY);
    mpp_plugin_server_free(f->server);
    f->server = NULL;
    struct stat st;
    assert_int_equal(lstat(f->sock, &st), -1);
}

/* ---- an attach of a mount the plugin's patterns do not select is refused ---- */

static int counting_attach(void *userdata, const mpp_attach_request *req, mpp_attach_response *resp,
                           mpp_error *err)
{
    (void)req;
    (void)err;
    fixture *f = userdata;
    pthread_mutex_lock(&f->lock);
    f->inside++;
    pthread_mutex_unlock(&f->lock);
    resp->success = true;
    return 0;
}

static void test_unselected_attach_refused(void **state)
{
    fixture *f = *state;
    /* Patterns: Type "bind" (rt_properties). */
    mpp_plugin_ops ops = {.properties = rt_properties, .attach = counting_attach};
    mpp_error err = {0};
    long status = 0;
    start(f, &ops, 1);

    mpp_mount root = {
        .source = (char *)"/", .destination = (char *)"/host", .type = (char *)"volume"};
    mpp_mount mixed[2] = {two_mounts[0], root};
    mpp_attach_request req = {.id = (char *)"c1", .mounts = mixed, .n_mounts = 2};
    mpp_attach_response ar = {0};
    assert_int_equal(mpp_client_attach(f->client, &req, &ar, &status, &err), 0);
    assert_int_equal(status, 200);
    assert_false(ar.success);
    assert_non_null(
        strstr(ar.err, "mount 1 (/ -> /host) is not one this plugin's patterns select"));
    assert_int_equal(f->inside, 0); /* the callback never saw it */
    mpp_attach_response_clear(&ar);

    /* What the patterns select reaches the callback. */
    req.n_mounts = 1;
    assert_int_equal(mpp_client_attach(f->client, &req, &ar, &status, &err), 0);
    assert_true(ar.success);
    assert_int_equal(f->inside, 1);
    mpp_attach_response_clear(&ar);

    /* An attach callback with no properties callback selects nothing. */
    stop(f);
    mpp_plugin_ops ops2 = {.attach = counting_attach};
    start(f, &ops2, 1);
    assert_int_equal(mpp_client_attach(f->client, &req, &ar, &status, &err), 0);
    assert_false(ar.success);
    assert_int_equal(f->inside, 1);
    mpp_attach_response_clear(&ar);

    /* Unless the plugin asked to serve every mount. */
    stop(f);
    mpp_plugin_server_options opts = {.attach_unselected = true};
    start_opts(f, &ops2, &opts);
    req.n_mounts = 2;
    assert_int_equal(mpp_client_attach(f->client, &req, &ar, &status, &err), 0);
    assert_true(ar.success);
    assert_int_equal(f->inside, 2);
    mpp_attach_response_clear(&ar);
    stop(f);
}

/* ---- the request size limit ---- */

static void test_request_limit(void **state)
{
    fixture *f = *state;
    mpp_plugin_ops ops = {0};
    mpp_plugin_server_options opts = {.max_request_bytes = 1000};
    start_opts(f, &ops, &opts);

    char body[1200];
    int n = snprintf(body, sizeof(body), "{\"ID\": \"%0900d\"}", 0);
    assert_true(n < 1000);
    long status = 0;
    char *resp = NULL;
    mpp_error err = {0};
    assert_int_equal(mpp_client_post(f->client, "MountPointPlugin.MountPointDetach", body, &status,
                                     &resp, NULL, &err),
                     0);
    assert_int_equal(status, 200);
    free(resp);

    snprintf(body, sizeof(body), "{\"ID\": \"%01000d\"}", 0);
    resp = NULL;
    assert_int_equal(mpp_client_post(f->client, "MountPointPlugin.MountPointDetach", body, &status,
                                     &resp, NULL, &err),
                     0);
    assert_int_equal(status, 413);
    assert_non_null(strstr(resp, "\"Err\""));
    assert_non_null(strstr(resp, "limit of 1000 bytes"));
    free(resp);
    stop(f);

    /* Limits the codec could not read, or no room for a connection, are refused. */
    opts = (mpp_plugin_server_options){.socket_path = f->sock,
                                       .max_request_bytes = MPP_CODEC_MAX_INPUT + 1};
    assert_int_equal(mpp_plugin_server_new(&opts, &ops, f, &f->server, &err), -EINVAL);
    opts = (mpp_plugin_server_options){.socket_path = f->sock, .max_connections = 2};
    assert_int_equal(mpp_plugin_server_new(&opts, &ops, f, &f->server, &err), -EINVAL);
    assert_null(f->server);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_null_callbacks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_callback_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_socket_path, setup, teardown),
        cmocka_unit_test(test_no_activation),
        cmocka_unit_test_setup_teardown(test_concurrent_calls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_finishes_calls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_before_run, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unselected_attach_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_request_limit, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
