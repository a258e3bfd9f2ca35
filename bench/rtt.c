/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpp-bench-rtt: the plugin round trip as libmpp's client makes it, against a running plugin.
 *
 *   mpp-bench-rtt SOCKET MOUNTS CALLS
 *       CALLS attach calls with MOUNTS mounts each, interleaved with as many Plugin.Activate
 *       calls (the floor: the smallest exchange the protocol has, on the same connection);
 *       prints {"attach": [ns...], "floor": [ns...]}
 *   mpp-bench-rtt SOCKET first
 *       one process's first call (client creation included: libcurl is loaded then) and its
 *       second; prints {"first": ns, "second": ns} */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mpp/mpp.h>

#include "macro.h"

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int fail(const char *what, const mpp_error *err)
{
    fprintf(stderr, "mpp-bench-rtt: %s: %s\n", what, err->msg);
    return 1;
}

static int kv_set(mpp_strmap *m, const char *k, const char *v)
{
    m->items = calloc(1, sizeof(mpp_kv));
    if (!m->items)
        return -ENOMEM;
    m->n = 1;
    m->items[0].key = strdup(k);
    m->items[0].value = strdup(v);
    return m->items[0].key && m->items[0].value ? 0 : -ENOMEM;
}

/* A request like mpp-runtime sends for a container with n bind mounts. */
static int make_request(mpp_attach_request *r, size_t n)
{
    char buf[128];
    r->id = strdup("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
    r->mounts = calloc(n, sizeof(mpp_mount));
    if (!r->id || !r->mounts)
        return -ENOMEM;
    r->n_mounts = n;
    for (size_t i = 0; i < n; i++) {
        mpp_mount *m = &r->mounts[i];
        snprintf(buf, sizeof(buf), "/srv/bench/volumes/data-%zu", i);
        m->source = strdup(buf);
        m->effective_source = strdup(buf);
        snprintf(buf, sizeof(buf), "/data/%zu", i);
        m->destination = strdup(buf);
        m->type = strdup("bind");
        m->propagation = strdup("rprivate");
        m->container.id = strdup(r->id);
        m->container.engine = strdup("oci");
        if (!m->source || !m->effective_source || !m->destination || !m->type || !m->propagation ||
            !m->container.id || !m->container.engine)
            return -ENOMEM;
        if (kv_set(&m->container.labels, "com.example.app", "bench") < 0)
            return -ENOMEM;
    }
    return 0;
}

static int one_attach(mpp_client *c, const mpp_attach_request *req, mpp_error *err)
{
    _cleanup_(mpp_attach_response_clear) mpp_attach_response resp = {0};
    long status = 0;
    int r = mpp_client_attach(c, req, &resp, &status, err);
    if (r < 0)
        return r;
    if (!resp.success)
        return mpp_error_set(err, -EPROTO, "attach answered %ld: %s", status,
                             resp.err ? resp.err : "");
    return 0;
}

static void print_ns(const char *key, const long long *v, size_t n)
{
    printf("\"%s\": [", key);
    for (size_t i = 0; i < n; i++)
        printf("%s%lld", i ? "," : "", v[i]);
    printf("]");
}

int main(int argc, char **argv)
{
    mpp_error err = {0};
    if (argc != 3 && argc != 4) {
        fputs("usage: mpp-bench-rtt SOCKET MOUNTS CALLS | SOCKET first\n", stderr);
        return 2;
    }
    mpp_plugin_addr addr = {.name = (char *)"bench", .kind = MPP_ADDR_UNIX, .path = argv[1]};
    mpp_client_options opts = {.timeout_ms = 10000};
    mpp_client *c = NULL;

    if (argc == 3) {
        if (strcmp(argv[2], "first") != 0)
            return 2;
        long long t0 = now_ns();
        if (mpp_client_new(&addr, &opts, &c, &err) < 0 || mpp_client_activate(c, &err) < 0)
            return fail("first call", &err);
        long long t1 = now_ns();
        if (mpp_client_activate(c, &err) < 0)
            return fail("second call", &err);
        long long t2 = now_ns();
        printf("{\"first\": %lld, \"second\": %lld}\n", t1 - t0, t2 - t1);
        mpp_client_free(c);
        return 0;
    }

    size_t n = strtoul(argv[2], NULL, 10), calls = strtoul(argv[3], NULL, 10);
    _cleanup_(mpp_attach_request_clear) mpp_attach_request req = {0};
    _cleanup_free_ long long *att = calloc(calls, sizeof(long long));
    _cleanup_free_ long long *floor_ = calloc(calls, sizeof(long long));
    if (!att || !floor_ || make_request(&req, n) < 0) {
        fputs("mpp-bench-rtt: out of memory\n", stderr);
        return 1;
    }
    if (mpp_client_new(&addr, &opts, &c, &err) < 0)
        return fail("client", &err);
    /* Warm up: connection, curl's state, the plugin's allocator. */
    for (int i = 0; i < 20; i++)
        if (mpp_client_activate(c, &err) < 0 || one_attach(c, &req, &err) < 0)
            return fail("warm-up", &err);
    for (size_t i = 0; i < calls; i++) {
        /* Alternate which goes first. */
        for (int k = 0; k < 2; k++) {
            bool do_attach = (k == 0) == (i % 2 == 0);
            long long t0 = now_ns();
            int r = do_attach ? one_attach(c, &req, &err) : mpp_client_activate(c, &err);
            long long dt = now_ns() - t0;
            if (r < 0)
                return fail(do_attach ? "attach" : "activate", &err);
            (do_attach ? att : floor_)[i] = dt;
        }
    }
    mpp_client_free(c);
    printf("{");
    print_ns("attach", att, calls);
    printf(", ");
    print_ns("floor", floor_, calls);
    printf("}\n");
    return 0;
}
