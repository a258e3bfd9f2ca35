/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpp-init: the exit gate's container side. Runs as the container's PID 1 in front of the
 * workload:
 *
 *   mpp-init --gate SOCKET -- PROGRAM [ARGS...]
 *
 * It forwards signals to the workload, reaps zombies, and when the workload exits it ends what
 * still runs in the container, asks the host side (over SOCKET) for the teardown, waits for the
 * verdict and exits with it: the workload's status, or 129 when teardown failed after exit 0.
 * The engine sees the container exit only then. Static and self-contained: the container's
 * root filesystem may have no libc. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#define GATE_PROTOCOL "mpp-gate 1"

static void die(const char *what)
{
    fprintf(stderr, "mpp-init: %s: %s\n", what, strerror(errno));
    exit(127);
}

static int status_of(int wstatus)
{
    if (WIFEXITED(wstatus))
        return WEXITSTATUS(wstatus);
    if (WIFSIGNALED(wstatus))
        return 128 + WTERMSIG(wstatus);
    return 1;
}

static _Noreturn void exec_workload(char **argv, const sigset_t *old)
{
    /* The workload gets the terminal's foreground group, so that ^C reaches it alone. */
    if (isatty(STDIN_FILENO)) {
        setpgid(0, 0);
        signal(SIGTTOU, SIG_IGN);
        tcsetpgrp(STDIN_FILENO, getpid());
        signal(SIGTTOU, SIG_DFL);
    }
    sigprocmask(SIG_SETMASK, old, NULL);
    execvp(argv[0], argv);
    int e = errno;
    fprintf(stderr, "mpp-init: cannot execute %s: %s\n", argv[0], strerror(e));
    _exit(e == ENOENT ? 127 : 126);
}

/* Reap every child; returns the workload's status once it has exited, else -1. */
static int reap(pid_t workload, int *workload_status)
{
    for (;;) {
        int ws;
        pid_t p = waitpid(-1, &ws, WNOHANG);
        if (p <= 0)
            return *workload_status;
        if (p == workload)
            *workload_status = status_of(ws);
    }
}

/* Ask the host side for the teardown; returns its verdict, or status if it cannot be had. */
static int ask_gate(const char *path, int status)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (fd < 0 || strlen(path) >= sizeof(sa.sun_path)) {
        fprintf(stderr, "mpp-init: cannot reach the exit gate: bad socket\n");
        return status;
    }
    strcpy(sa.sun_path, path);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        fprintf(stderr, "mpp-init: cannot reach the exit gate at %s: %s\n", path, strerror(errno));
        close(fd);
        return status;
    }
    char msg[64];
    int n = snprintf(msg, sizeof(msg), GATE_PROTOCOL " exit %d\n", status);
    /* A gate that refuses us answers and closes before reading: the write may then fail
     * (EPIPE) while the answer waits to be read, so read it regardless. */
    if (write(fd, msg, (size_t)n) != n && errno != EPIPE)
        fprintf(stderr, "mpp-init: cannot write to the exit gate at %s: %s\n", path,
                strerror(errno));
    char reply[64] = {0};
    size_t got = 0;
    while (got < sizeof(reply) - 1) {
        ssize_t r = read(fd, reply + got, sizeof(reply) - 1 - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
        if (memchr(reply, '\n', got))
            break;
    }
    close(fd);
    int verdict;
    char nl;
    if (sscanf(reply, GATE_PROTOCOL " status %d%c", &verdict, &nl) == 2 && nl == '\n' &&
        verdict >= 0 && verdict <= 255)
        return verdict;
    fprintf(stderr, "mpp-init: the exit gate gave no verdict; teardown happens at delete\n");
    return status;
}

int main(int argc, char **argv)
{
    if (argc < 5 || strcmp(argv[1], "--gate") != 0 || strcmp(argv[3], "--") != 0) {
        fprintf(stderr, "usage: mpp-init --gate SOCKET -- PROGRAM [ARGS...]\n");
        return 127;
    }
    const char *gate = argv[2];
    char **workload_argv = argv + 4;

    /* Signals are taken synchronously; SIGCHLD tells us to reap. */
    sigset_t all, old;
    sigfillset(&all);
    if (sigprocmask(SIG_BLOCK, &all, &old) < 0)
        die("sigprocmask");
    if (getpid() != 1)
        prctl(PR_SET_CHILD_SUBREAPER, 1); /* shared pid namespace: still reap orphans */

    pid_t workload = fork();
    if (workload < 0)
        die("fork");
    if (workload == 0)
        exec_workload(workload_argv, &old);

    int status = -1;
    while (status < 0) {
        siginfo_t si;
        int sig = sigwaitinfo(&all, &si);
        if (sig < 0)
            continue;
        if (sig == SIGCHLD)
            reap(workload, &status);
        else
            kill(workload, sig);
    }

    /* The workload is done: end what it left behind (only ours to end when we are PID 1). */
    if (getpid() == 1) {
        kill(-1, SIGKILL);
        while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
            ;
    }
    return ask_gate(gate, status);
}
