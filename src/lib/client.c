/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The HTTP client that talks to plugins (protocol §1). It writes its requests itself (a POST with
 * a JSON body) and reads the answers with http-parser (http-response.c). One connection per
 * client, kept for the next call (keep-alive). A client is not thread-safe. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <mpp/client.h>
#include <mpp/codec.h>
#include <mpp/config.h>
#include <mpp/version.h>

#include "http-response.h"
#include "macro.h"
#include "phase.h"

#define MEDIA_TYPE "application/vnd.docker.plugins.v1.2+json"
#define EP_ACTIVATE "/Plugin.Activate"
#define EP_PROPERTIES "/MountPointPlugin.MountPointProperties"
#define EP_ATTACH "/MountPointPlugin.MountPointAttach"
#define EP_DETACH "/MountPointPlugin.MountPointDetach"
#define SNIPPET_MAX 200
/* A busy plugin is asked again after 1 ms, then 2, 4... up to this, until the call's deadline. */
#define CONNECT_BACKOFF_MAX_MS 64

struct mpp_client {
    mpp_plugin_addr addr;
    unsigned timeout_ms;
    size_t max_response_bytes;
    int fd; /* the kept connection, or -1 */
};

const char *mpp_client_name(const mpp_client *c)
{
    return c ? strempty(c->addr.name) : "";
}

static void client_disconnect(mpp_client *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

void mpp_client_free(mpp_client *c)
{
    if (!c)
        return;
    client_disconnect(c);
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

/* It becomes the Host header: printable, no space, no line break. */
static bool host_port_printable(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
            return false;
    return true;
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
        if (!host_port_printable(addr->host_port) || !strrchr(addr->host_port, ':'))
            return mpp_error_set(err, -EINVAL, "plugin \"%s\": invalid TCP address \"%s\"", name,
                                 addr->host_port);
    } else
        return mpp_error_set(err, -EINVAL, "plugin \"%s\": unknown address kind", name);

    _cleanup_(mpp_client_freep) mpp_client *c = calloc(1, sizeof(*c));
    if (!c)
        return mpp_error_set(err, -ENOMEM, "plugin \"%s\": out of memory", name);
    c->fd = -1;
    if (mpp_plugin_addr_copy(&c->addr, addr) < 0)
        return mpp_error_set(err, -ENOMEM, "plugin \"%s\": out of memory", name);
    c->timeout_ms = opts && opts->timeout_ms ? opts->timeout_ms : MPP_DEFAULT_CALL_TIMEOUT_MS;
    c->max_response_bytes = opts && opts->max_response_bytes ? opts->max_response_bytes
                                                             : MPP_DEFAULT_MAX_RESPONSE_BYTES;

    *out = TAKE_PTR(c);
    return 0;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Milliseconds left before the deadline, for poll(). */
static int time_left(uint64_t deadline)
{
    uint64_t now = now_ms();
    if (now >= deadline)
        return 0;
    uint64_t left = deadline - now;
    return left > INT32_MAX ? INT32_MAX : (int)left;
}

/* Wait until fd is ready for events. 0 when ready, -ETIMEDOUT at the deadline. */
static int wait_fd(int fd, short events, uint64_t deadline)
{
    for (;;) {
        int left = time_left(deadline);
        if (left == 0)
            return -ETIMEDOUT;
        struct pollfd pfd = {.fd = fd, .events = events};
        int n = poll(&pfd, 1, left);
        if (n > 0)
            return 0;
        if (n < 0 && errno != EINTR)
            return -errno;
    }
}

/* One attempt. A unix socket connects at once or fails: EAGAIN when the plugin's listen
 * backlog is full, ECONNREFUSED when nobody listens, ENOENT when there is no socket. */
static int connect_unix_once(const mpp_client *c, int *out)
{
    _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -errno;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    memcpy(sa.sun_path, c->addr.path, strlen(c->addr.path) + 1);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        return errno == EINTR ? -EAGAIN : -errno;
    *out = TAKE_FD(fd);
    return 0;
}

/* One attempt at every address the name has. -ETIMEDOUT: a connection still in progress at the
 * deadline (nothing was sent on it). */
static int connect_tcp_once(const mpp_client *c, uint64_t deadline, int *out, mpp_error *err)
{
    const char *hp = c->addr.host_port;
    const char *colon = strrchr(hp, ':');
    _cleanup_free_ char *host = NULL;
    if (hp[0] == '[' && colon > hp && colon[-1] == ']')
        host = strndup(hp + 1, (size_t)(colon - hp - 2));
    else
        host = strndup(hp, (size_t)(colon - hp));
    if (!host)
        return mpp_error_set(err, -ENOMEM, "plugin \"%s\": out of memory", c->addr.name);

    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int g = getaddrinfo(host, colon + 1, &hints, &res);
    if (g != 0)
        return mpp_error_set(err, -EADDRNOTAVAIL, "plugin \"%s\": cannot resolve tcp://%s: %s",
                             c->addr.name, hp, gai_strerror(g));
    int r = -ECONNREFUSED;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        _cleanup_close_ int fd =
            socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
        if (fd < 0) {
            r = -errno;
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
            if (errno != EINPROGRESS && errno != EINTR) {
                r = -errno;
                continue;
            }
            r = wait_fd(fd, POLLOUT, deadline);
            if (r < 0)
                break;
            int soerr = 0;
            socklen_t sl = sizeof(soerr);
            if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
                soerr = errno;
            if (soerr != 0) {
                r = -soerr;
                continue;
            }
        }
        /* Requests are written whole; do not let Nagle hold the last segment back. */
        int one = 1;
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        *out = TAKE_FD(fd);
        r = 0;
        break;
    }
    freeaddrinfo(res);
    return r;
}

/* Discovery checked the socket file's owner, but a file is not a process: the process at the
 * other end must be root (or our own user). For a listening socket the kernel reports who
 * called listen(). Checked once per connection: its peer cannot change. */
static int check_peer(const mpp_client *c, int fd, mpp_error *err)
{
    struct ucred cred;
    socklen_t len = sizeof(cred);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
        return mpp_error_set(err, -EPERM, "plugin \"%s\": cannot tell who listens on %s: %m",
                             c->addr.name, c->addr.path);
    if (cred.uid != 0 && cred.uid != geteuid())
        return mpp_error_set(err, -EPERM,
                             "plugin \"%s\": the process listening on %s (pid %d) runs as uid "
                             "%u, not root: refused",
                             c->addr.name, c->addr.path, (int)cred.pid, (unsigned)cred.uid);
    return 0;
}

static bool connect_retryable(int r)
{
    return r == -EAGAIN || r == -ECONNREFUSED || r == -ENOENT;
}

static int connect_failed(const mpp_client *c, int r, mpp_error *err)
{
    const char *name = c->addr.name;
    char where[256];
    describe_addr(c, where, sizeof(where));
    switch (r) {
    case -ENOENT:
        return mpp_error_set(err, -ENOENT,
                             "plugin \"%s\": cannot connect to %s: it does not exist (is the "
                             "plugin running?)",
                             name, where);
    case -ECONNREFUSED:
        return mpp_error_set(err, -ECONNREFUSED,
                             "plugin \"%s\": cannot connect to %s: %s (is the plugin running?)",
                             name, where, strerror(ECONNREFUSED));
    case -EAGAIN:
    case -ETIMEDOUT:
        /* Nothing was sent: say so with EAGAIN, not with a timeout that may have delivered. */
        return mpp_error_set(err, -EAGAIN,
                             "plugin \"%s\": cannot connect to %s within %u ms: it accepts no "
                             "connection (too busy?)",
                             name, where, c->timeout_ms);
    default:
        return mpp_error_set(err, r, "plugin \"%s\": cannot connect to %s: %s", name, where,
                             strerror(-r));
    }
}

/* Connect, retrying what a busy or starting plugin answers (a full backlog, a refusal, no
 * socket yet) with a short exponential backoff until the deadline, as Docker's client does. */
static int client_connect(mpp_client *c, uint64_t deadline, mpp_error *err)
{
    unsigned backoff = 1;
    int fd = -1, r, last = 0;
    for (;;) {
        mpp_error cerr = {0};
        r = c->addr.kind == MPP_ADDR_UNIX ? connect_unix_once(c, &fd)
                                          : connect_tcp_once(c, deadline, &fd, &cerr);
        if (r == 0)
            break;
        if (cerr.code) {
            *err = cerr;
            return r;
        }
        /* An attempt cut by the deadline tells less than the refusals before it. */
        if (r == -ETIMEDOUT && last)
            r = last;
        last = r;
        int left = time_left(deadline);
        if (!connect_retryable(r) || left == 0)
            return connect_failed(c, r, err);
        (void)poll(NULL, 0, (int)backoff < left ? (int)backoff : left);
        backoff = backoff * 2 > CONNECT_BACKOFF_MAX_MS ? CONNECT_BACKOFF_MAX_MS : backoff * 2;
    }
    if (c->addr.kind == MPP_ADDR_UNIX) {
        r = check_peer(c, fd, err);
        if (r < 0) {
            close(fd);
            return r;
        }
    }
    c->fd = fd;
    return 0;
}

/* A kept connection is idle between calls: anything readable on it (the plugin closed it, or
 * sent what nobody asked for) means it cannot carry the next request. */
static bool kept_connection_usable(const mpp_client *c)
{
    struct pollfd pfd = {.fd = c->fd, .events = POLLIN | POLLRDHUP};
    return poll(&pfd, 1, 0) == 0;
}

/* Write the request whole. *sent counts the bytes the kernel took. */
static int send_all(int fd, struct iovec *iov, size_t n_iov, uint64_t deadline, size_t *sent)
{
    *sent = 0;
    while (n_iov > 0) {
        struct msghdr msg = {.msg_iov = iov, .msg_iovlen = n_iov};
        ssize_t w = sendmsg(fd, &msg, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN)
                return -errno;
            int r = wait_fd(fd, POLLOUT, deadline);
            if (r < 0)
                return r;
            continue;
        }
        *sent += (size_t)w;
        size_t left = (size_t)w;
        while (n_iov > 0 && left >= iov->iov_len) {
            left -= iov->iov_len;
            iov++;
            n_iov--;
        }
        if (n_iov > 0) {
            iov->iov_base = (char *)iov->iov_base + left;
            iov->iov_len -= left;
        }
    }
    return 0;
}

/* Read until the answer is complete. Returns 1, or negative (-ETIMEDOUT, or what
 * mpp_http_response_feed returns, with *why) . */
static int receive_answer(int fd, mpp_http_response *resp, uint64_t deadline, const char **why)
{
    char buf[16384];
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN) {
                int r = wait_fd(fd, POLLIN, deadline);
                if (r < 0)
                    return r;
                continue;
            }
            if (errno != ECONNRESET) {
                *why = strerror(errno);
                return -errno;
            }
            n = 0; /* reset by the peer: it closed the connection, as for EOF */
        }
        int r = mpp_http_response_feed(resp, buf, (size_t)n, why);
        if (r != 0)
            return r;
    }
}

/* Endpoints are pasted into the request line: allow only what the protocol's names use. */
static bool endpoint_ok(const char *ep)
{
    if (isempty(ep))
        return false;
    return strspn(ep, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-/") ==
           strlen(ep);
}

int mpp_client_post(mpp_client *c, const char *endpoint, const char *body, long *status,
                    char **resp, size_t *resp_len, mpp_error *err)
{
    uint64_t deadline = now_ms() + c->timeout_ms;
    *resp = NULL;
    if (resp_len)
        *resp_len = 0;
    if (status)
        *status = 0;

    const char *name = c->addr.name;
    if (!endpoint_ok(endpoint))
        return mpp_error_set(err, -EINVAL, "plugin \"%s\": invalid endpoint \"%s\"", name,
                             strempty(endpoint));
    const char *ep = endpoint[0] == '/' ? endpoint + 1 : endpoint;
    if (!body)
        body = "";
    size_t body_len = strlen(body);

    _cleanup_free_ char *head = NULL;
    int hlen = asprintf(&head,
                        "POST /%s HTTP/1.1\r\n"
                        "Host: %s\r\n"
                        "User-Agent: mpp/" MPP_VERSION "\r\n"
                        "Accept: " MEDIA_TYPE "\r\n"
                        "Content-Type: " MEDIA_TYPE "\r\n"
                        "Content-Length: %zu\r\n"
                        "\r\n",
                        ep, c->addr.kind == MPP_ADDR_UNIX ? "plugin" : c->addr.host_port, body_len);
    if (hlen < 0) {
        head = NULL;
        return mpp_error_set(err, -ENOMEM, "plugin \"%s\": out of memory", name);
    }
    char display[256];
    snprintf(display, sizeof(display), "/%s", ep);

    /* Before any byte goes out, a kept connection is checked; a new one is made if it cannot
     * be used (see client.h on what may be retried). */
    bool reused = c->fd >= 0;
    if (reused && !kept_connection_usable(c)) {
        client_disconnect(c);
        reused = false;
    }
    int r;
    if (c->fd < 0) {
        const char *left = mpp_phase_enter("connect");
        r = client_connect(c, deadline, err);
        mpp_phase_enter(left);
        if (r < 0)
            return r;
    }

    struct iovec iov[2] = {{.iov_base = head, .iov_len = (size_t)hlen},
                           {.iov_base = (char *)body, .iov_len = body_len}};
    size_t sent = 0;
    r = send_all(c->fd, iov, body_len ? 2 : 1, deadline, &sent);
    if (r < 0 && reused && sent == 0 && (r == -EPIPE || r == -ECONNRESET)) {
        /* The plugin closed the kept connection before a byte of this request reached it:
         * nothing was delivered, so a new connection may carry it. */
        client_disconnect(c);
        if ((r = client_connect(c, deadline, err)) < 0)
            return r;
        iov[0] = (struct iovec){.iov_base = head, .iov_len = (size_t)hlen};
        iov[1] = (struct iovec){.iov_base = (char *)body, .iov_len = body_len};
        r = send_all(c->fd, iov, body_len ? 2 : 1, deadline, &sent);
    }
    if (r < 0) {
        client_disconnect(c);
        if (r == -ETIMEDOUT)
            return mpp_error_set(err, -ETIMEDOUT, "plugin \"%s\" did not answer %s within %u ms",
                                 name, display, c->timeout_ms);
        if (r == -EPIPE || r == -ECONNRESET)
            return mpp_error_set(err, -EIO,
                                 "plugin \"%s\" closed the connection without an answer to %s",
                                 name, display);
        return mpp_error_set(err, r, "plugin \"%s\": cannot send %s: %s", name, display,
                             strerror(-r));
    }

    _cleanup_(mpp_http_response_clear) mpp_http_response answer;
    mpp_http_response_init(&answer, c->max_response_bytes, MPP_HTTP_MAX_HEADER_BYTES);
    const char *why = NULL;
    r = receive_answer(c->fd, &answer, deadline, &why);
    if (r < 0) {
        client_disconnect(c);
        char where[256];
        describe_addr(c, where, sizeof(where));
        switch (r) {
        case -ETIMEDOUT:
            return mpp_error_set(err, -ETIMEDOUT, "plugin \"%s\" did not answer %s within %u ms",
                                 name, display, c->timeout_ms);
        case -E2BIG:
            if (answer.header_too_big)
                return mpp_error_set(err, -E2BIG,
                                     "plugin \"%s\": answer to %s has a header larger than %u "
                                     "bytes",
                                     name, display, MPP_HTTP_MAX_HEADER_BYTES);
            return mpp_error_set(err, -E2BIG,
                                 "plugin \"%s\": answer to %s is larger than %zu bytes", name,
                                 display, c->max_response_bytes);
        case -EIO:
            if (!answer.started)
                return mpp_error_set(err, -EIO,
                                     "plugin \"%s\" closed the connection without an answer to %s",
                                     name, display);
            return mpp_error_set(
                err, -EIO, "plugin \"%s\" closed the connection in the middle of its answer to %s",
                name, display);
        case -EBADMSG:
            return mpp_error_set(err, -EBADMSG,
                                 "plugin \"%s\": answer to %s from %s is not valid HTTP: %s", name,
                                 display, where, strempty(why));
        case -ENOMEM:
            return mpp_error_set(err, -ENOMEM, "plugin \"%s\": answer to %s: out of memory", name,
                                 display);
        default:
            return mpp_error_set(err, r, "plugin \"%s\": reading the answer to %s from %s: %s",
                                 name, display, where, strempty(why));
        }
    }
    if (!answer.keep_alive)
        client_disconnect(c);

    char *out = answer.body ? TAKE_PTR(answer.body) : strdup("");
    if (!out)
        return mpp_error_set(err, -ENOMEM, "plugin \"%s\": out of memory", name);
    if (status)
        *status = (long)answer.status;
    if (resp_len)
        *resp_len = answer.len;
    *resp = out;
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
