/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The bundle of a container, from the real runtime's `state` (mpp itself does not record it). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include <mpp/mpp.h>

#include "ctl.h"
#include "macro.h"

/* `state` reads a file or two: a runtime that takes longer is stuck, and mppctl must not be. */
#define STATE_TIMEOUT_MS 30000
#define STATE_MAX_STDOUT (1024 * 1024)
#define STATE_MAX_STDERR (64 * 1024)

typedef struct capture {
    char *buf;
    size_t len, max;
} capture;

static void capture_clear(capture *c)
{
    free(c->buf);
    c->buf = NULL;
    c->len = 0;
}

/* Reads what is there; returns false at end of file. Beyond max, output is read and dropped so
 * that the child never blocks on a full pipe. */
static bool capture_read(int fd, capture *c)
{
    char chunk[4096];
    ssize_t n = read(fd, chunk, sizeof(chunk));
    if (n < 0)
        return errno == EINTR || errno == EAGAIN;
    if (n == 0)
        return false;
    size_t keep = c->len + (size_t)n > c->max ? c->max - c->len : (size_t)n;
    if (keep > 0) {
        char *grown = realloc(c->buf, c->len + keep + 1);
        if (!grown)
            return true; /* dropped: the message will say the output was not understood */
        c->buf = grown;
        memcpy(c->buf + c->len, chunk, keep);
        c->len += keep;
        c->buf[c->len] = '\0';
    }
    return true;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static _Noreturn void child(char *const argv[], int out, int errfd, int report)
{
    int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (nul < 0 || dup2(nul, STDIN_FILENO) < 0 || dup2(out, STDOUT_FILENO) < 0 ||
        dup2(errfd, STDERR_FILENO) < 0)
        _exit(127);
    mpp_nofile_restore();
    execv(argv[0], argv);
    /* report is close-on-exec: the parent reads errno only when execv failed. */
    int e = errno;
    ssize_t w _unused_ = write(report, &e, sizeof(e));
    _exit(127);
}

/* Run argv (no shell) with stdin from /dev/null; capture stdout and stderr. *status: the exit
 * status, or 128+N after signal N. */
static int run_capture(char *const argv[], capture *out, capture *errout, int *status,
                       mpp_error *err)
{
    int op[2], ep[2], xp[2];
    if (pipe2(op, O_CLOEXEC) < 0)
        return mpp_error_set(err, -errno, "cannot make a pipe: %m");
    _cleanup_close_ int out_r = op[0], out_w = op[1];
    if (pipe2(ep, O_CLOEXEC) < 0)
        return mpp_error_set(err, -errno, "cannot make a pipe: %m");
    _cleanup_close_ int err_r = ep[0], err_w = ep[1];
    if (pipe2(xp, O_CLOEXEC) < 0)
        return mpp_error_set(err, -errno, "cannot make a pipe: %m");
    _cleanup_close_ int exec_r = xp[0], exec_w = xp[1];

    pid_t pid = fork();
    if (pid < 0)
        return mpp_error_set(err, -errno, "cannot fork: %m");
    if (pid == 0)
        child(argv, out_w, err_w, exec_w);
    /* Our copies of the write ends closed, end of file comes when the child is done. */
    close(TAKE_FD(out_w));
    close(TAKE_FD(err_w));
    close(TAKE_FD(exec_w));

    int exec_errno = 0;
    ssize_t got;
    while ((got = read(exec_r, &exec_errno, sizeof(exec_errno))) < 0 && errno == EINTR)
        ;
    if (got == (ssize_t)sizeof(exec_errno)) {
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
        return mpp_error_set(err, -exec_errno, "cannot execute %s: %s", argv[0],
                             strerror(exec_errno));
    }

    long long deadline = now_ms() + STATE_TIMEOUT_MS;
    bool out_open = true, err_open = true;
    while (out_open || err_open) {
        long long left = deadline - now_ms();
        if (left <= 0) {
            kill(pid, SIGKILL);
            while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                ;
            return mpp_error_set(err, -ETIMEDOUT, "%s did not finish within %d s, killed it",
                                 argv[0], STATE_TIMEOUT_MS / 1000);
        }
        struct pollfd p[2] = {
            {.fd = out_open ? out_r : -1, .events = POLLIN},
            {.fd = err_open ? err_r : -1, .events = POLLIN},
        };
        int n = poll(p, 2, (int)left);
        if (n < 0 && errno != EINTR) {
            int e = errno;
            kill(pid, SIGKILL);
            while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                ;
            return mpp_error_set(err, -e, "cannot wait for %s's output: %s", argv[0], strerror(e));
        }
        if (n <= 0)
            continue;
        if (p[0].revents)
            out_open = capture_read(out_r, out);
        if (p[1].revents)
            err_open = capture_read(err_r, errout);
    }

    int ws;
    while (waitpid(pid, &ws, 0) < 0)
        if (errno != EINTR)
            return mpp_error_set(err, -errno, "cannot wait for %s: %m", argv[0]);
    *status = WIFEXITED(ws) ? WEXITSTATUS(ws) : WIFSIGNALED(ws) ? 128 + WTERMSIG(ws) : 1;
    return 0;
}

/* The last non-empty line, trimmed: runtimes print their error last. */
static const char *last_line(char *s)
{
    if (!s)
        return NULL;
    size_t len = strlen(s);
    while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r' || s[len - 1] == ' '))
        s[--len] = '\0';
    if (len == 0)
        return NULL;
    char *nl = strrchr(s, '\n');
    return nl ? nl + 1 : s;
}

int ctl_runtime_bundle(const mpp_config *cfg, const char *root, const char *id, char **bundle,
                       mpp_error *err)
{
    _cleanup_free_ char *rt = NULL;
    int r = mpp_real_runtime(cfg, &rt, err);
    if (r < 0)
        return r;

    char *argv[7];
    size_t k = 0;
    argv[k++] = rt;
    if (root) {
        argv[k++] = (char *)"--root";
        argv[k++] = (char *)root;
    }
    argv[k++] = (char *)"state";
    argv[k++] = (char *)id;
    argv[k] = NULL;
    char cmd[PATH_MAX * 2 + 1100];
    snprintf(cmd, sizeof(cmd), "%s%s%s state %s", rt, root ? " --root " : "", strempty(root), id);

    _cleanup_(capture_clear) capture out = {.max = STATE_MAX_STDOUT};
    _cleanup_(capture_clear) capture errout = {.max = STATE_MAX_STDERR};
    int status = 0;
    r = run_capture(argv, &out, &errout, &status, err);
    if (r < 0)
        return mpp_error_prefix(err, "asking the runtime for the bundle of container %s", id);
    if (status != 0) {
        const char *line = last_line(errout.buf);
        return mpp_error_set(
            err, -ENOENT, "%s does not know container %s: `%s` exited with status %d%s%s%s", rt, id,
            cmd, status, line ? " and said: " : " and said nothing", strempty(line),
            root ? ""
                 : " (if the engine keeps its containers under its own runtime "
                   "root, give that with --root DIR)");
    }

    json_error_t jerr;
    _cleanup_(json_decrefp) json_t *state = out.buf ? json_loadb(out.buf, out.len, 0, &jerr) : NULL;
    if (!state)
        return mpp_error_set(err, -EBADMSG, "`%s` printed no JSON state: %s", cmd,
                             out.buf ? jerr.text : "its output is empty");
    const char *b = json_string_value(json_object_get(state, "bundle"));
    if (isempty(b))
        return mpp_error_set(err, -EBADMSG, "the state `%s` printed has no \"bundle\"", cmd);
    /* mpp-runtime gave the runtime its own copy: the engine's bundle is the one to explain. */
    _cleanup_free_ char *origin = NULL;
    if (mpp_bundle_copy_origin(cfg->state_dir, b, &origin) > 0)
        b = origin;

    /* The container may outlive its bundle directory (an engine that cleaned up early, or an
     * administrator): say so rather than "cannot open config.json". */
    char path[PATH_MAX];
    struct stat st;
    if (snprintf(path, sizeof(path), "%s/config.json", b) >= (int)sizeof(path))
        return mpp_error_set(err, -ENAMETOOLONG, "the bundle of container %s is too long a path",
                             id);
    if (stat(b, &st) < 0)
        return mpp_error_set(err, -ENOENT,
                             "the bundle of container %s, %s (from `%s`), is gone: %s", id, b, cmd,
                             strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return mpp_error_set(err, -ENOTDIR,
                             "the bundle of container %s, %s (from `%s`), is not a directory", id,
                             b, cmd);
    if (stat(path, &st) < 0)
        return mpp_error_set(err, -ENOENT,
                             "the bundle of container %s, %s (from `%s`), has no config.json: %s",
                             id, b, cmd, strerror(errno));
    *bundle = strdup(b);
    return *bundle ? 0 : mpp_error_set(err, -ENOMEM, "out of memory");
}
