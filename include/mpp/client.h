/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Plugin discovery (protocol §1) and the HTTP client (HTTP/1.1 over unix sockets and TCP). */

#include <stdbool.h>
#include <stddef.h>

#include <mpp/error.h>
#include <mpp/types.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mpp_addr_kind {
    MPP_ADDR_UNIX,
    MPP_ADDR_TCP,
} mpp_addr_kind;

typedef struct mpp_plugin_addr {
    char *name;
    mpp_addr_kind kind;
    char *path;      /* MPP_ADDR_UNIX: the socket */
    char *host_port; /* MPP_ADDR_TCP: "host:port" */
    char *found_at;  /* the file discovery found: the socket, .spec or .json */
} mpp_plugin_addr;

/* Find plugin NAME in dirs, in order; in each: NAME.sock, NAME/NAME.sock, NAME.spec,
 * NAME/NAME.spec, NAME.json, NAME/NAME.json. First match wins. A socket, spec or json file not
 * owned by root, or writable by group or others, is refused (-EPERM, message says why).
 * Not found anywhere: -ENOENT naming the plugin and the directories searched. */
int mpp_discover(const char *name, char *const *dirs, size_t n_dirs, mpp_plugin_addr *out,
                 mpp_error *err);
void mpp_plugin_addr_clear(mpp_plugin_addr *a);

/* Why NAME cannot be a plugin name (it becomes part of file names: 1..128 of
 * [A-Za-z0-9._:-], not starting with '.' or '-'), or NULL when it can. */
const char *mpp_plugin_name_problem(const char *name);
int mpp_plugin_addr_copy(mpp_plugin_addr *dst, const mpp_plugin_addr *src);

/* What identifies the running plugin behind an address, for the properties cache: for a unix
 * socket "unix:PATH:DEV:INO:MTIME_NS" (a restarted plugin makes a new socket inode); for TCP
 * "tcp:HOST:PORT". Heap string in *out. */
int mpp_plugin_identity(const mpp_plugin_addr *a, char **out, mpp_error *err);

/* One client holds one connection, kept from call to call: use it from one thread at a time. */
typedef struct mpp_client mpp_client;

typedef struct mpp_client_options {
    unsigned timeout_ms;       /* whole call; 0 = MPP_DEFAULT_CALL_TIMEOUT_MS */
    size_t max_response_bytes; /* 0 = MPP_DEFAULT_MAX_RESPONSE_BYTES */
} mpp_client_options;

int mpp_client_new(const mpp_plugin_addr *addr, const mpp_client_options *opts, mpp_client **out,
                   mpp_error *err);
void mpp_client_free(mpp_client *c);
const char *mpp_client_name(const mpp_client *c);

/* POST /ENDPOINT with a JSON body. On any HTTP answer returns 0 with *status and the body
 * (heap, NUL-terminated). Transport failure: negative errno with a message naming the plugin.
 *
 * One deadline (timeout_ms) covers the whole call: connecting, sending, reading the answer.
 * A connect that finds the plugin busy or not there yet (its listen backlog full, refused, no
 * socket) is retried with a short exponential backoff until the deadline, as Docker's client
 * does. Once a byte of the request went out it is never sent again; a kept connection that the
 * plugin closed while idle is replaced before the request is written.
 *
 * What a failure says about delivery (the chain relies on it):
 * - -ENOENT, -ECONNREFUSED, -EAGAIN: no connection could be made (-EAGAIN: the deadline passed
 *   while the plugin accepted none); NOTHING was sent, the plugin cannot have acted.
 * - any other negative value (-ETIMEDOUT after connecting, -EIO: closed or reset without a
 *   whole answer, -EBADMSG: not HTTP, -E2BIG: answer over max_response_bytes or a header over
 *   the limit, -EPERM: the peer is not root, -ENOMEM, ...): the request MAY have been delivered
 *   and acted upon. (-EINVAL for a bad endpoint is returned before any I/O.) */
int mpp_client_post(mpp_client *c, const char *endpoint, const char *body, long *status,
                    char **resp, size_t *resp_len, mpp_error *err);

/* POST /Plugin.Activate; refuses (-EPROTONOSUPPORT) a plugin that does not implement
 * "mountpoint". */
int mpp_client_activate(mpp_client *c, mpp_error *err);

/* The typed calls. Return 0 when the plugin answered with a body that decodes: for HTTP 200 the
 * decoded response; for any other status a response with success = false and err = the body's
 * "Err" (or "HTTP N" when it has none), and *http_status tells which. Negative on transport
 * errors and on answers that do not decode (-EBADMSG, message names plugin and field). */
int mpp_client_properties(mpp_client *c, mpp_properties_response *out, long *http_status,
                          mpp_error *err);
int mpp_client_attach(mpp_client *c, const mpp_attach_request *req, mpp_attach_response *out,
                      long *http_status, mpp_error *err);
int mpp_client_detach(mpp_client *c, const mpp_detach_request *req, mpp_detach_response *out,
                      long *http_status, mpp_error *err);

#ifdef __cplusplus
}
#endif
