/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The HTTP client that talks to plugins (spec §1), with libcurl. One easy handle per client, so
 * that successive calls reuse the connection (keep-alive). A client is not thread-safe. */
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <mpp/client.h>
#include <mpp/codec.h>
#include <mpp/config.h>

#include "curl-dl.h"
#include "macro.h"

#define MEDIA_TYPE "application/vnd.docker.plugins.v1.2+json"
#define EP_ACTIVATE "/Plugin.Activate"
#define EP_PROPERTIES "/MountPointPlugin.MountPointProperties"
#define EP_ATTACH "/MountPointPlugin.MountPointAttach"
#define EP_DETACH "/MountPointPlugin.MountPointDetach"
#define SNIPPET_MAX 200

struct mpp_client {
    mpp_plugin_addr addr;
    CURL *curl;
    struct curl_slist *headers;
    unsigned timeout_ms;
    size_t max_response_bytes;
    char errbuf[CURL_ERROR_SIZE];
    curl_socket_t sock;   /* the unix socket of the current connection */
    char peer_error[256]; /* why its peer was refused */
};

const char *mpp_client_name(const mpp_client *c)
{
    return c ? strempty(c->addr.name) : "";
}

void mpp_client_free(mpp_client *c)
{
    if (!c)
        return;
    if (c->curl)
        sym_curl_easy_cleanup(c->curl);
    if (c->headers)
        sym_curl_slist_free_all(c->headers);
    mpp_plugin_addr_clear(&c->addr);
    free(c);
}

DEFINE_TRIVIAL_CLEANUP_FUNC(mpp_client *, mpp_client_free)

/* Human description of where the plugin listens, for messages. */
static void describe_addr(const mpp_client *c, char *buf, size_t size)
{
    if (c->addr.kind == MPP_ADDR_UNIX)
        snprintf(buf, size, "unix socket %s", strempty(c->addr.path));
    else
        snprintf(buf, size, "tcp://%s", strempty(c->addr.host_port));
}

int mpp_client_new(const mpp_plugin_addr *addr, const mpp_client_options *opts, mpp_client **out,
                   mpp_error *err)
{
    *out = NULL;
    const char *name = strempty(addr->name);

    if (addr->kind == MPP_ADDR_UNIX) {
        if (isempty(addr->path))
            return mpp_error_set(err, -EINVAL, "plugin \"%s\": no socket path", name);
        if (strlen(addr->path) >= sizeof(((struct sockaddr_un *)NULL)->sun_path))
            return mpp_error_set(err, -ENAMETOOLONG,
                                 "plugin \"%s\": socket path %s is too long for a unix socket",
                                 name, addr->path);
    } else if (addr->kind == MPP_ADDR_TCP) {
        if (isempty(addr->host_port))
            return mpp_error_set(err, -EINVAL, "plugin \"%s\": no TCP address", name);
    } else
        return mpp_error_set(err, -EINVAL, "plugin \"%s\": unknown address kind", name);

    _cleanup_(mpp_client_freep) mpp_client *c = calloc(1, sizeof(*c));
    if (!c)
        return mpp_error_set(err, -ENOMEM, "plugin \"%s\": out of memory", name);
    if (mpp_plugin_addr_copy(&c->addr, addr) < 0)
        return mpp_error_set(err, -ENOMEM, "plugin \"%s\": out of memory", name);
    c->timeout_ms = opts && opts->timeout_ms ? opts->timeout_ms : MPP_DEFAULT_CALL_TIMEOUT_MS;
    c->max_response_bytes = opts && opts->max_response_bytes ? opts->max_response_bytes
                                                             : MPP_DEFAULT_MAX_RESPONSE_BYTES;

    *out = TAKE_PTR(c);
    return 0;
}

struct sink {
    char *buf;
    size_t len;
    size_t cap;
    size_t max;
    bool too_big;
    bool nomem;
};

static size_t write_cb(char *data, size_t size, size_t nmemb, void *userdata)
{
    struct sink *s = userdata;
    size_t n = size * nmemb;

    /* Returning less than n makes curl abort the transfer with CURLE_WRITE_ERROR. */
    if (n > s->max - s->len) {
        s->too_big = true;
        return 0;
    }
    if (s->len + n + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 4096;
        while (cap < s->len + n + 1)
            cap *= 2;
        char *grown = realloc(s->buf, cap);
        if (!grown) {
            s->nomem = true;
            return 0;
        }
        s->buf = grown;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, data, n);
    s->len += n;
    s->buf[s->len] = '\0';
    return n;
}

/* Endpoints are pasted into the URL: allow only what the protocol's names use. */
static bool endpoint_ok(const char *ep)
{
    if (isempty(ep))
        return false;
    return strspn(ep, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-/") ==
           strlen(ep);
}

static int map_curl_error(mpp_client *c, CURLcode rc, const struct sink *s, const char *ep,
                          mpp_error *err)
{
    const char *name = c->addr.name;
    char where[256];
    describe_addr(c, where, sizeof(where));

    switch (rc) {
    case CURLE_WRITE_ERROR:
        if (s->too_big)
            return mpp_error_set(err, -E2BIG,
                                 "plugin \"%s\": answer to %s is larger than %zu bytes", name, ep,
                                 s->max);
        if (s->nomem)
            return mpp_error_set(err, -ENOMEM, "plugin \"%s\": answer to %s: out of memory", name,
                                 ep);
        break;
    case CURLE_OPERATION_TIMEDOUT:
        return mpp_error_set(err, -ETIMEDOUT, "plugin \"%s\" did not answer %s within %u ms", name,
                             ep, c->timeout_ms);
    case CURLE_ABORTED_BY_CALLBACK:
        if (c->peer_error[0])
            return mpp_error_set(err, -EPERM, "plugin \"%s\": %s", name, c->peer_error);
        break;
    case CURLE_COULDNT_CONNECT: {
        long os_errno = 0;
        sym_curl_easy_getinfo(c->curl, CURLINFO_OS_ERRNO, &os_errno);
        struct stat st;
        if (c->addr.kind == MPP_ADDR_UNIX &&
            (os_errno == ENOENT || (stat(c->addr.path, &st) < 0 && errno == ENOENT)))
            return mpp_error_set(err, -ENOENT,
                                 "plugin \"%s\": cannot connect to %s: it does not exist (is the "
                                 "plugin running?)",
                                 name, where);
        return mpp_error_set(
            err, -ECONNREFUSED, "plugin \"%s\": cannot connect to %s: %s (is the plugin running?)",
            name, where, os_errno ? strerror((int)os_errno) : "connection refused");
    }
    case CURLE_GOT_NOTHING:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
        /* The plugin went away mid-call (crashed, or closed the socket). */
        return mpp_error_set(
            err, -EIO, "plugin \"%s\" closed the connection without an answer to %s", name, ep);
    case CURLE_PARTIAL_FILE:
        return mpp_error_set(
            err, -EIO, "plugin \"%s\" closed the connection in the middle of its answer to %s",
            name, ep);
    default:
        break;
    }
    return mpp_error_set(err, -EIO, "plugin \"%s\": %s at %s: %s", name, ep, where,
                         c->errbuf[0] ? c->errbuf : sym_curl_easy_strerror(rc));
}

/* Discovery checked the socket file's owner, but a file is not a process: before each request,
 * the process at the other end must be root (or our own user). For a listening socket the
 * kernel reports who called listen(). */
static int note_socket(void *data, curl_socket_t fd, curlsocktype purpose)
{
    mpp_client *c = data;
    if (purpose == CURLSOCKTYPE_IPCXN)
        c->sock = fd;
    return CURL_SOCKOPT_OK;
}

static int check_peer(void *data, char *conn_primary_ip, char *conn_local_ip, int conn_primary_port,
                      int conn_local_port)
{
    (void)conn_primary_ip;
    (void)conn_local_ip;
    (void)conn_primary_port;
    (void)conn_local_port;
    mpp_client *c = data;
    struct ucred cred;
    socklen_t len = sizeof(cred);
    c->peer_error[0] = '\0';
    if (c->sock < 0 || getsockopt(c->sock, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
        snprintf(c->peer_error, sizeof(c->peer_error), "cannot tell who listens on %s: %s",
                 c->addr.path, c->sock < 0 ? "no socket" : strerror(errno));
        return CURL_PREREQFUNC_ABORT;
    }
    if (cred.uid != 0 && cred.uid != geteuid()) {
        snprintf(c->peer_error, sizeof(c->peer_error),
                 "the process listening on %s (pid %d) runs as uid %u, not root: refused",
                 c->addr.path, (int)cred.pid, (unsigned)cred.uid);
        return CURL_PREREQFUNC_ABORT;
    }
    return CURL_PREREQFUNC_OK;
}

static int client_setup_curl(mpp_client *c, mpp_error *err)
{
    const char *name = strempty(c->addr.name);
    int r = mpp_dlopen_curl(err);
    if (r < 0)
        return mpp_error_prefix(err, "plugin \"%s\"", c->addr.name);

    c->sock = CURL_SOCKET_BAD;
    c->curl = sym_curl_easy_init();
    if (!c->curl)
        return mpp_error_set(err, -ENOMEM, "plugin \"%s\": cannot create a curl handle", name);

    /* An empty "Expect:" stops curl from sending Expect: 100-continue on larger bodies. */
    const char *const headers[] = {"Accept: " MEDIA_TYPE, "Content-Type: " MEDIA_TYPE, "Expect:"};
    for (size_t i = 0; i < ELEMENTSOF(headers); i++) {
        struct curl_slist *l = sym_curl_slist_append(c->headers, headers[i]);
        if (!l)
            return mpp_error_set(err, -ENOMEM, "plugin \"%s\": out of memory", c->addr.name);
        c->headers = l;
    }

    CURLcode rc = CURLE_OK;
#define SETOPT(opt, val)                                                                           \
    do {                                                                                           \
        if (rc == CURLE_OK)                                                                        \
            rc = sym_curl_easy_setopt(c->curl, opt, val);                                          \
    } while (0)
    SETOPT(CURLOPT_NOSIGNAL, 1L);
    SETOPT(CURLOPT_ERRORBUFFER, c->errbuf);
    SETOPT(CURLOPT_PROTOCOLS_STR, "http");
    SETOPT(CURLOPT_REDIR_PROTOCOLS_STR, "http");
    SETOPT(CURLOPT_FOLLOWLOCATION, 0L);
    SETOPT(CURLOPT_NOPROXY, "*");
    SETOPT(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    SETOPT(CURLOPT_TIMEOUT_MS, (long)c->timeout_ms);
    SETOPT(CURLOPT_CONNECTTIMEOUT_MS, (long)c->timeout_ms);
    SETOPT(CURLOPT_HTTPHEADER, c->headers);
    SETOPT(CURLOPT_USERAGENT, "mpp/0.1.0");
    SETOPT(CURLOPT_POST, 1L);
    if (c->addr.kind == MPP_ADDR_UNIX) {
        SETOPT(CURLOPT_UNIX_SOCKET_PATH, c->addr.path);
        SETOPT(CURLOPT_SOCKOPTFUNCTION, note_socket);
        SETOPT(CURLOPT_SOCKOPTDATA, c);
        SETOPT(CURLOPT_PREREQFUNCTION, check_peer);
        SETOPT(CURLOPT_PREREQDATA, c);
    }
#undef SETOPT
    if (rc != CURLE_OK)
        return mpp_error_set(err, -EINVAL, "plugin \"%s\": cannot configure curl: %s", c->addr.name,
                             sym_curl_easy_strerror(rc));
    return 0;
}

/* The curl handle is made on the first call: a client that is never called (its plugin
 * selected nothing) costs no libcurl at all. */
static int client_ensure_curl(mpp_client *c, mpp_error *err)
{
    if (c->curl)
        return 0;
    int r = client_setup_curl(c, err);
    if (r < 0 && mpp_dlopen_curl(NULL) == 0) {
        if (c->curl)
            sym_curl_easy_cleanup(c->curl);
        if (c->headers)
            sym_curl_slist_free_all(c->headers);
        c->curl = NULL;
        c->headers = NULL;
    }
    return r;
}

int mpp_client_post(mpp_client *c, const char *endpoint, const char *body, long *status,
                    char **resp, size_t *resp_len, mpp_error *err)
{
    *resp = NULL;
    if (resp_len)
        *resp_len = 0;
    if (status)
        *status = 0;

    int r = client_ensure_curl(c, err);
    if (r < 0)
        return r;
    if (!endpoint_ok(endpoint))
        return mpp_error_set(err, -EINVAL, "plugin \"%s\": invalid endpoint \"%s\"", c->addr.name,
                             strempty(endpoint));
    const char *ep = endpoint[0] == '/' ? endpoint + 1 : endpoint;
    if (!body)
        body = "";

    _cleanup_free_ char *url = NULL;
    int n = c->addr.kind == MPP_ADDR_UNIX ? asprintf(&url, "http://plugin/%s", ep)
                                          : asprintf(&url, "http://%s/%s", c->addr.host_port, ep);
    if (n < 0)
        return mpp_error_set(err, -ENOMEM, "plugin \"%s\": out of memory", c->addr.name);
    _cleanup_free_ char *display = NULL;
    if (asprintf(&display, "/%s", ep) < 0)
        return mpp_error_set(err, -ENOMEM, "plugin \"%s\": out of memory", c->addr.name);

    struct sink s = {.max = c->max_response_bytes};
    _cleanup_free_ char *sink_buf = NULL;
    c->errbuf[0] = '\0';

    CURLcode rc = sym_curl_easy_setopt(c->curl, CURLOPT_URL, url);
    if (rc == CURLE_OK)
        rc = sym_curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body);
    if (rc == CURLE_OK)
        rc = sym_curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
    if (rc == CURLE_OK)
        rc = sym_curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, write_cb);
    if (rc == CURLE_OK)
        rc = sym_curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &s);
    if (rc != CURLE_OK)
        return mpp_error_set(err, -EINVAL, "plugin \"%s\": cannot configure curl for %s: %s",
                             c->addr.name, display, sym_curl_easy_strerror(rc));

    rc = sym_curl_easy_perform(c->curl);
    sink_buf = s.buf;
    /* The sink lives on this stack frame: do not leave curl pointing at it. */
    sym_curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, NULL);
    sym_curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, NULL);
    if (rc != CURLE_OK)
        return map_curl_error(c, rc, &s, display, err);

    long code = 0;
    sym_curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &code);
    if (!sink_buf) {
        sink_buf = strdup("");
        if (!sink_buf)
            return mpp_error_set(err, -ENOMEM, "plugin \"%s\": out of memory", c->addr.name);
    }
    if (status)
        *status = code;
    if (resp_len)
        *resp_len = s.len;
    *resp = TAKE_PTR(sink_buf);
    return 0;
}

/* A short printable excerpt of a body that is not JSON (e.g. Go's "404 page not found"). */
static void snippet(const char *body, size_t len, char *buf, size_t size)
{
    size_t o = 0;
    for (size_t i = 0; i < len && o + 4 < size && o < SNIPPET_MAX; i++) {
        unsigned char ch = (unsigned char)body[i];
        if (ch == '\n' || ch == '\r')
            break;
        buf[o++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
    }
    while (o > 0 && buf[o - 1] == ' ')
        o--;
    buf[o] = '\0';
}

/* One call. Returns 0 with *failure NULL and the body for HTTP 200; 0 with *failure set (the
 * answer's Err, else "HTTP N") for any other status; negative on transport errors and on an
 * empty 200 body. */
static int exchange(mpp_client *c, const char *ep, const char *body, long *http_status, char **resp,
                    size_t *resp_len, char **failure, mpp_error *err)
{
    long status = 0;
    *failure = NULL;
    if (http_status)
        *http_status = 0;

    _cleanup_free_ char *r_body = NULL;
    size_t len = 0;
    int r = mpp_client_post(c, ep, body, &status, &r_body, &len, err);
    if (r < 0)
        return r;
    if (http_status)
        *http_status = status;

    if (status == 200) {
        if (len == 0)
            return mpp_error_set(err, -EBADMSG, "plugin \"%s\": answer to %s: empty body",
                                 c->addr.name, ep);
        *resp = TAKE_PTR(r_body);
        *resp_len = len;
        return 0;
    }

    _cleanup_free_ char *msg = NULL;
    mpp_error ignored = {0};
    if (len > 0 && mpp_decode_err_body(r_body, len, &msg, &ignored) < 0) {
        /* Not the protocol's {"Err": ..}: keep what the server said, it is the best clue. */
        char text[SNIPPET_MAX + 8];
        snippet(r_body, len, text, sizeof(text));
        if (asprintf(failure, "HTTP %ld%s%s", status, text[0] ? ": " : "", text) < 0)
            *failure = NULL;
    } else if (!isempty(msg)) {
        *failure = TAKE_PTR(msg);
    } else if (asprintf(failure, "HTTP %ld", status) < 0)
        *failure = NULL;
    if (!*failure)
        return mpp_error_set(err, -ENOMEM, "plugin \"%s\": out of memory", c->addr.name);
    return 0;
}

static int decode_failed(mpp_client *c, const char *ep, int r, mpp_error *err)
{
    mpp_error_prefix(err, "plugin \"%s\": answer to %s", c->addr.name, ep);
    return r;
}

int mpp_client_activate(mpp_client *c, mpp_error *err)
{
    _cleanup_free_ char *resp = NULL, *failure = NULL;
    size_t len = 0;
    long status = 0;
    int r = exchange(c, EP_ACTIVATE, "", &status, &resp, &len, &failure, err);
    if (r < 0)
        return r;
    if (failure)
        return mpp_error_set(err, -EPROTO, "plugin \"%s\" refused %s (HTTP %ld): %s", c->addr.name,
                             EP_ACTIVATE, status, failure);

    mpp_activate_response a = {0};
    r = mpp_decode_activate_response(resp, len, &a, err);
    if (r < 0)
        return decode_failed(c, EP_ACTIVATE, r, err);

    bool found = false;
    char list[512] = "";
    size_t used = 0;
    for (size_t i = 0; i < a.n_implements; i++) {
        if (strcmp(strempty(a.implements[i]), "mountpoint") == 0)
            found = true;
        if (used < sizeof(list)) {
            int n = snprintf(list + used, sizeof(list) - used, "%s%s", i ? ", " : "",
                             strempty(a.implements[i]));
            if (n > 0)
                used += (size_t)n;
        }
    }
    mpp_activate_response_clear(&a);
    if (!found)
        return mpp_error_set(err, -EPROTONOSUPPORT,
                             "plugin \"%s\" does not implement \"mountpoint\" (it implements: %s)",
                             c->addr.name, used ? list : "nothing");
    return 0;
}

int mpp_client_properties(mpp_client *c, mpp_properties_response *out, long *http_status,
                          mpp_error *err)
{
    _cleanup_free_ char *resp = NULL, *failure = NULL;
    size_t len = 0;
    memset(out, 0, sizeof(*out));
    int r = exchange(c, EP_PROPERTIES, "{}", http_status, &resp, &len, &failure, err);
    if (r < 0)
        return r;
    if (failure) {
        out->success = false;
        out->err = TAKE_PTR(failure);
        return 0;
    }
    r = mpp_decode_properties_response(resp, len, out, err);
    if (r < 0)
        return decode_failed(c, EP_PROPERTIES, r, err);
    return 0;
}

int mpp_client_attach(mpp_client *c, const mpp_attach_request *req, mpp_attach_response *out,
                      long *http_status, mpp_error *err)
{
    _cleanup_free_ char *body = NULL, *resp = NULL, *failure = NULL;
    size_t len = 0;
    memset(out, 0, sizeof(*out));
    if (http_status)
        *http_status = 0;
    int r = mpp_encode_attach_request(req, &body, err);
    if (r < 0) {
        mpp_error_prefix(err, "plugin \"%s\": encoding %s request", c->addr.name, EP_ATTACH);
        return r;
    }
    r = exchange(c, EP_ATTACH, body, http_status, &resp, &len, &failure, err);
    if (r < 0)
        return r;
    if (failure) {
        out->success = false;
        out->err = TAKE_PTR(failure);
        return 0;
    }
    r = mpp_decode_attach_response(resp, len, out, err);
    if (r < 0)
        return decode_failed(c, EP_ATTACH, r, err);
    return 0;
}

int mpp_client_detach(mpp_client *c, const mpp_detach_request *req, mpp_detach_response *out,
                      long *http_status, mpp_error *err)
{
    _cleanup_free_ char *body = NULL, *resp = NULL, *failure = NULL;
    size_t len = 0;
    memset(out, 0, sizeof(*out));
    if (http_status)
        *http_status = 0;
    int r = mpp_encode_detach_request(req, &body, err);
    if (r < 0) {
        mpp_error_prefix(err, "plugin \"%s\": encoding %s request", c->addr.name, EP_DETACH);
        return r;
    }
    r = exchange(c, EP_DETACH, body, http_status, &resp, &len, &failure, err);
    if (r < 0)
        return r;
    if (failure) {
        out->success = false;
        out->err = TAKE_PTR(failure);
        return 0;
    }
    r = mpp_decode_detach_response(resp, len, out, err);
    if (r < 0)
        return decode_failed(c, EP_DETACH, r, err);
    return 0;
}
