/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The exit gate's host side: one exit message from the container's PID 1, then teardown. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <mpp/gate.h>

#include "journal.h"
#include "macro.h"

#define GATE_PROTOCOL "mpp-gate 1"

int mpp_gate_path(const char *state_dir, const char *id, const char *leaf, char *buf, size_t size)
{
    int n = leaf ? snprintf(buf, size, "%s/gates/%s/%s", state_dir, id, leaf)
                 : snprintf(buf, size, "%s/gates/%s", state_dir, id);
    return (n < 0 || (size_t)n >= size) ? -ENAMETOOLONG : n;
}

static void remove_gate_dir(const char *state_dir, const char *id)
{
    static const char *const leaves[] = {"gate.sock", "daemon.pid", "init.pid"};
    char path[PATH_MAX];
    for (size_t i = 0; i < ELEMENTSOF(leaves); i++)
        if (mpp_gate_path(state_dir, id, leaves[i], path, sizeof(path)) > 0)
            unlink(path);
    if (mpp_gate_path(state_dir, id, NULL, path, sizeof(path)) > 0)
        rmdir(path);
}

int mpp_gate_open(const char *state_dir, const char *id, int *listen_fd, mpp_error *err)
{
    char dir[PATH_MAX], sock[PATH_MAX];
    if (!mpp_container_id_valid(id))
        return mpp_error_set(err, -EINVAL, "invalid container ID for the exit gate");
    if (snprintf(dir, sizeof(dir), "%s/gates", state_dir) >= (int)sizeof(dir) ||
        mpp_gate_path(state_dir, id, "gate.sock", sock, sizeof(sock)) < 0)
        return mpp_error_set(err, -ENAMETOOLONG, "exit gate path too long");
    int r = mpp_state_dir_ensure(dir, err);
    if (r < 0)
        return r;
    mpp_gate_path(state_dir, id, NULL, dir, sizeof(dir));
    /* Bind-mounted into the container alone: it must be traversable by the container's user. */
    if (mkdir(dir, 0755) < 0 && errno != EEXIST)
        return mpp_error_set(err, -errno, "cannot create exit gate directory %s: %m", dir);

    /* Bound through the directory's fd: sun_path holds 107 bytes, and state_dir/gates/ID (a
     * 64-character ID) would leave little room for state_dir itself. */
    _cleanup_close_ int dfd = open(dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0)
        return mpp_error_set(err, -errno, "cannot open exit gate directory %s: %m", dir);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/gate.sock", dfd);
    _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return mpp_error_set(err, -errno, "cannot create the exit gate socket: %m");
    unlink(sock);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(sock, 0666) < 0 ||
        listen(fd, 8) < 0)
        return mpp_error_set(err, -errno, "cannot listen on exit gate socket %s: %m", sock);
    *listen_fd = TAKE_FD(fd);
    return 0;
}

static pid_t read_pid_fd(int fd)
{
    char buf[32] = {0};
    if (fd < 0 || pread(fd, buf, sizeof(buf) - 1, 0) <= 0)
        return -1;
    char *end;
    long v = strtol(buf, &end, 10);
    return (v > 1 && v < INT_MAX && (*end == '\0' || *end == '\n')) ? (pid_t)v : -1;
}

static pid_t read_pid(const char *path)
{
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    return read_pid_fd(fd);
}

static bool pid_alive(pid_t pid)
{
    return kill(pid, 0) == 0 || errno == EPERM;
}

/* Whether another process than init runs in init's pid namespace. */
static bool others_in_pidns(pid_t init)
{
    char path[64];
    struct stat ns;
    snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)init);
    if (stat(path, &ns) < 0)
        return false;
    DIR *d = opendir("/proc");
    if (!d)
        return true;
    bool found = false;
    struct dirent *de;
    while (!found && (de = readdir(d))) {
        char *end;
        long pid = strtol(de->d_name, &end, 10);
        if (*end || pid <= 0 || pid == init)
            continue;
        struct stat st;
        snprintf(path, sizeof(path), "/proc/%ld/ns/pid", pid);
        if (stat(path, &st) == 0 && st.st_ino == ns.st_ino && st.st_dev == ns.st_dev)
            found = true;
    }
    closedir(d);
    return found;
}

static void reply(int fd, const char *what)
{
    char line[160];
    int n = snprintf(line, sizeof(line), GATE_PROTOCOL " %s\n", what);
    /* No SIGPIPE: mpp-init may have been killed (delete --force) while we tore down. */
    if (n > 0 && (size_t)n < sizeof(line) && send(fd, line, (size_t)n, MSG_NOSIGNAL) < 0) {
        /* the peer went away: nothing to tell it */
    }
}

/* Read one line within a few seconds. */
static int read_line(int fd, char *buf, size_t size)
{
    size_t got = 0;
    while (got < size - 1) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 5000) <= 0)
            return -ETIMEDOUT;
        ssize_t r = read(fd, buf + got, size - 1 - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -EIO;
        got += (size_t)r;
        buf[got] = '\0';
        if (memchr(buf, '\n', got))
            return 0;
    }
    return -E2BIG;
}

/* One connection: returns 1 when the teardown was done (the gate's work is over), 0 when the
 * peer was refused. */
static int handle(mpp_chain *chain, const char *state_dir, const char *id, int fd,
                  const char *pid_file, mpp_error *err)
{
    struct ucred cred;
    socklen_t len = sizeof(cred);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
        cred.pid = 0;
    /* runc's foreground run writes the pid file only after the process started, so a short
     * workload can be here first. Wait for it: answering before it is written would also let
     * the runtime write it into a gate directory we have already removed. */
    pid_t init = read_pid(pid_file);
    for (int i = 0; i < 500 && init <= 0 && cred.pid > 0 && pid_alive(cred.pid); i++) {
        usleep(10 * 1000);
        init = read_pid(pid_file);
    }
    if (cred.pid <= 0 || init <= 0 || cred.pid != init) {
        reply(fd, "refused: only the container's PID 1 may ask for teardown");
        return 0;
    }
    char line[128];
    int status;
    char nl;
    if (read_line(fd, line, sizeof(line)) < 0 ||
        sscanf(line, GATE_PROTOCOL " exit %d%c", &status, &nl) != 2 || nl != '\n' || status < 0 ||
        status > 255) {
        reply(fd, "refused: malformed exit message");
        return 0;
    }
    /* Only when it is over: mpp-init has ended and reaped everything else first. */
    for (int i = 0; i < 50 && others_in_pidns(init); i++)
        usleep(100 * 1000);
    if (others_in_pidns(init)) {
        reply(fd, "refused: processes still run in the container");
        return 0;
    }

    /* From here on the teardown is ours to finish: a delete that stops the gate now (SIGTERM,
     * mpp_gate_close) waits for it on daemon.pid's lock rather than detach a second time. */
    sigset_t term, before;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    sigprocmask(SIG_BLOCK, &term, &before);
    mpp_teardown t = {0};
    int r = mpp_chain_detach(chain, id, status, 0, &t, err);
    int verdict = status;
    if (r >= 0)
        verdict = mpp_exit_status_after_teardown(status, t.failed);
    else if (r != -ENOENT)
        verdict = mpp_exit_status_after_teardown(status, true);
    mpp_teardown_clear(&t);
    /* Gone before the answer: the runtime reports the exit as soon as PID 1 has it, and whoever
     * looks then must not find the gate still there. The connected socket outlives its name. */
    remove_gate_dir(state_dir, id);
    char what[32];
    snprintf(what, sizeof(what), "status %d", verdict);
    reply(fd, what);
    /* The caller's mask again: a SIGTERM held meanwhile now ends a gate whose work is done. */
    sigprocmask(SIG_SETMASK, &before, NULL);
    return (r < 0 && r != -ENOENT) ? r : 1;
}

int mpp_gate_serve(mpp_chain *chain, const char *state_dir, const char *id, int listen_fd,
                   const char *pid_file, mpp_error *err)
{
    int r = 0;
    for (;;) {
        struct pollfd p = {.fd = listen_fd, .events = POLLIN};
        int n = poll(&p, 1, 500);
        if (n < 0 && errno != EINTR) {
            r = mpp_error_set(err, -errno, "exit gate of %s: poll: %m", id);
            break;
        }
        if (n <= 0) {
            /* Gone without asking (SIGKILL, or never started): teardown happens at delete. */
            pid_t init = read_pid(pid_file);
            if (init > 0 && !pid_alive(init))
                break;
            continue;
        }
        _cleanup_close_ int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        r = handle(chain, state_dir, id, fd, pid_file, err);
        if (r != 0)
            break;
    }
    remove_gate_dir(state_dir, id);
    return r < 0 ? r : 0;
}

void mpp_gate_close(const char *state_dir, const char *id)
{
    char path[PATH_MAX];
    if (!mpp_container_id_valid(id) ||
        mpp_gate_path(state_dir, id, "daemon.pid", path, sizeof(path)) < 0)
        return;
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    pid_t daemon = read_pid_fd(fd);
    if (daemon > 0)
        kill(daemon, SIGTERM);
    /* The daemon holds this lock while it lives. A gate waiting for the exit dies of the
     * signal at once; one tearing down ignores it and is waited for, so that the plugins get
     * its detach (with the exit status) and no second one. */
    if (fd >= 0)
        while (flock(fd, LOCK_SH) < 0 && errno == EINTR)
            ;
    remove_gate_dir(state_dir, id);
}
