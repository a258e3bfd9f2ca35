/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpp-example-hello: a tiny read-only enforcer on libmpp-plugin.
 *
 *   mpp-example-hello PREFIX [SOCKET]
 *
 * Bind mounts whose source lies under PREFIX must be read-only: a read-write one is denied, and
 * the container does not start. SOCKET defaults to /run/docker/plugins/hello.sock, where mpp
 * finds the plugin named "hello". */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* asprintf */
#endif

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpp/mpp-plugin.h>

/* Asked once, when mpp loads the chain: which mounts we want to see. Everything we put in resp
 * is heap memory that the SDK frees after answering. */
static int hello_properties(void *userdata, mpp_properties_response *resp, mpp_error *err)
{
    const char *prefix = userdata;

    /* One pattern: {"Type": "bind", "Source": [{"PathPrefix": PREFIX}]}. */
    resp->patterns = calloc(1, sizeof(mpp_pattern));
    if (!resp->patterns)
        return mpp_error_set(err, -ENOMEM, "out of memory");
    resp->n_patterns = 1;
    mpp_pattern *p = &resp->patterns[0];
    mpp_pattern_init(p);

    p->type = strdup("bind");
    p->source.items = calloc(1, sizeof(mpp_string_pattern));
    if (!p->type || !p->source.items)
        return mpp_error_set(err, -ENOMEM, "out of memory");
    p->source.n = 1;
    p->source.items[0].path_prefix = strdup(prefix);
    if (!p->source.items[0].path_prefix)
        return mpp_error_set(err, -ENOMEM, "out of memory");

    resp->success = true;
    return 0;
}

/* Called when a container is created, with every mount our pattern selected. */
static int hello_attach(void *userdata, const mpp_attach_request *req, mpp_attach_response *resp,
                        mpp_error *err)
{
    const char *prefix = userdata;

    for (size_t i = 0; i < req->n_mounts; i++) {
        const mpp_mount *m = &req->mounts[i];
        if (m->read_only)
            continue;
        /* A denial is an answer, not a failure: Success false and a message for the user. */
        if (asprintf(&resp->err,
                     "%s is under %s, which may only be mounted read-only: "
                     "use -v %s:%s:ro or --mount type=bind,...,readonly",
                     m->source, prefix, m->source, m->destination) < 0) {
            resp->err = NULL;
            return mpp_error_set(err, -ENOMEM, "out of memory");
        }
        resp->success = false;
        return 0;
    }

    /* All read-only: allow. We attach nothing (Attachments empty), so no detach will come. */
    resp->success = true;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3 || argv[1][0] != '/') {
        fprintf(stderr,
                "usage: %s PREFIX [SOCKET]\n"
                "  deny read-write bind mounts of paths under the absolute PREFIX\n",
                argv[0]);
        return 2;
    }

    /* No detach callback: the SDK answers Success true (and we never attach anyway). */
    static const mpp_plugin_ops ops = {.properties = hello_properties, .attach = hello_attach};
    mpp_plugin_server_options opts = {
        .socket_path = argc == 3 ? argv[2] : "/run/docker/plugins/hello.sock",
    };
    mpp_plugin_server *server = NULL;
    mpp_error err = {0};

    if (mpp_plugin_server_new(&opts, &ops, argv[1], &server, &err) < 0) {
        fprintf(stderr, "mpp-example-hello: %s\n", err.msg);
        return 1;
    }
    /* Serves until SIGTERM or SIGINT, then removes the socket. */
    int r = mpp_plugin_server_run(server, &err);
    if (r < 0)
        fprintf(stderr, "mpp-example-hello: %s\n", err.msg);
    mpp_plugin_server_free(server);
    return r < 0 ? 1 : 0;
}
