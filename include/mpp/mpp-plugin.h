/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* libmpp-plugin: the C SDK for writing mount point plugins. A plugin is three callbacks; the
 * SDK serves the protocol over HTTP/1.1 on a unix socket (libmicrohttpd), decodes requests and
 * encodes answers.
 *
 * A callback returns 0 after filling its response (Success and Err included: a denial is a
 * response with success = false and err set, answered with HTTP 200). A negative return is an
 * internal failure: the SDK answers HTTP 500 with {"Err": err->msg}. Whatever the callback put
 * in resp is freed by the SDK after answering (on failure too); req belongs to the SDK. A NULL
 * callback answers Success true with nothing in it (no patterns, no attachments).
 *
 * Callbacks run concurrently, from a pool of worker threads (threads in the options), so that
 * simultaneous container starts are served at once: protect shared state.
 *
 * Signals: mpp_plugin_server_new() blocks SIGTERM and SIGINT in the calling thread, so that the
 * SDK's threads inherit the mask and mpp_plugin_server_run() receives them (through a signalfd);
 * it also ignores SIGPIPE. Call it before creating threads of your own, and call run from the
 * same thread. mpp_plugin_server_free() restores the previous mask. */

#include <stdbool.h>

#include <mpp/codec.h>
#include <mpp/error.h>
#include <mpp/types.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mpp_plugin_ops {
    int (*properties)(void *userdata, mpp_properties_response *resp, mpp_error *err);
    int (*attach)(void *userdata, const mpp_attach_request *req, mpp_attach_response *resp,
                  mpp_error *err);
    int (*detach)(void *userdata, const mpp_detach_request *req, mpp_detach_response *resp,
                  mpp_error *err);
} mpp_plugin_ops;

typedef struct mpp_plugin_server_options {
    /* The socket to create (mode 0600; a stale socket at the path is replaced, but not a socket
     * another process is serving on, nor a file that is not a socket; the path appears only
     * once the socket listens, so a client that finds it can connect). NULL: use the one
     * socket passed by socket activation (LISTEN_FDS / LISTEN_PID); it is not removed. */
    const char *socket_path;
    unsigned threads; /* worker threads; 0 = 4 */

    /* Bounds on what one client can make the plugin hold (0 = the default). A request body
     * over max_request_bytes is refused with HTTP 413 and {"Err": ...}: at once when its
     * Content-Length says so, else (chunked) as soon as the count passes the limit, without
     * keeping it. At most max_connections connections are open: when they are all taken, the
     * one idle the longest (no call running for it) is closed to make room, so that clients that
     * connect and say nothing cannot lock out the rest. A connection idle for idle_timeout_s
     * seconds is closed, and a request must arrive whole within that time. */
    size_t max_request_bytes; /* 0 = MPP_PLUGIN_DEFAULT_MAX_REQUEST */
    unsigned max_connections; /* 0 = MPP_PLUGIN_DEFAULT_MAX_CONNECTIONS; at least 4 */
    unsigned idle_timeout_s;  /* 0 = MPP_PLUGIN_DEFAULT_IDLE_TIMEOUT_S */

    /* The SDK refuses an attach of a mount the plugin's own patterns do not select (those of its
     * last properties answer; the callback is asked when this process has given none): mpp sends
     * only what they select, so anything else came from a client talking to the socket directly
     * (protocol §8.8). Set to serve every mount sent. */
    bool attach_unselected;
} mpp_plugin_server_options;

/* An attach of 100 mounts with many labels is about 400 KiB. */
#define MPP_PLUGIN_DEFAULT_MAX_REQUEST (2u * 1024u * 1024u)
#define MPP_PLUGIN_DEFAULT_MAX_CONNECTIONS 64u
/* mpp holds one connection per plugin for a container start or stop, a few calls in a row. */
#define MPP_PLUGIN_DEFAULT_IDLE_TIMEOUT_S 15u

typedef struct mpp_plugin_server mpp_plugin_server;

int mpp_plugin_server_new(const mpp_plugin_server_options *opts, const mpp_plugin_ops *ops,
                          void *userdata, mpp_plugin_server **out, mpp_error *err);

/* Serve until SIGTERM or SIGINT arrives (see "Signals" above) or until
 * mpp_plugin_server_stop() is called; then stop accepting, finish the calls in progress and
 * return 0. The socket the SDK created is removed. */
int mpp_plugin_server_run(mpp_plugin_server *s, mpp_error *err);

/* Async-signal-safe: ask a running server to return from mpp_plugin_server_run(). */
void mpp_plugin_server_stop(mpp_plugin_server *s);

void mpp_plugin_server_free(mpp_plugin_server *s);

#ifdef __cplusplus
}
#endif
