/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The exit gate's host side (mpp/gate.h) with a real chain and plugin (test-plugins.h), and a real
 * "container PID 1": a process that is PID 1 of a pid namespace of its own, as mpp-init is. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <mpp/gate.h>

#include "test-plugins.h"

/* A child of the test dies with it, whatever fails. */
static pid_t fork_child(void)
{
    pid_t pid = fork();
    if (pid == 0 && prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
        _exit(20);
    return pid;
}

/* Connect to sock, send msg, and exit 0 when the answer is want (exactly), else 1. */
static _Noreturn void ask(const char *sock, const char *msg, const char *want)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        _exit(2);
    /* A gate that refuses the peer may answer and close before the message is sent. */
    (void)!send(fd, msg, strlen(msg), MSG_NOSIGNAL);
    char buf[256] = {0};
    size_t got = 0;
    ssize_t r;
    while (got < sizeof(buf) - 1 && (r = read(fd, buf + got, sizeof(buf) - 1 - got)) > 0)
        got += (size_t)r;
    _exit(strcmp(buf, want) == 0 ? 0 : 1);
}

/* A process that is PID 1 of a new pid namespace (its host pid written to pid_file) asks the gate
 * with msg; the returned process exits with ask()'s verdict. */
static pid_t container_init(const char *sock, const char *pid_file, const char *msg,
                            const char *want)
{
    pid_t outer = fork_child();
    assert_true(outer >= 0);
    if (outer > 0)
        return outer;
    if (unshare(CLONE_NEWPID) < 0)
        _exit(10);
    pid_t init = fork_child();
    if (init < 0)
        _exit(11);
    if (init == 0)
        ask(sock, msg, want);
    FILE *f = fopen(pid_file, "we");
    if (!f || fprintf(f, "%d\n", (int)init) < 0 || fclose(f) != 0)
        _exit(12);
    int st;
    if (waitpid(init, &st, 0) != init)
        _exit(13);
    _exit(WIFEXITED(st) ? WEXITSTATUS(st) : 14);
}

static int wait_exit(pid_t pid)
{
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

typedef struct gate {
    char sock[PATH_MAX], dir[PATH_MAX], pid_file[PATH_MAX];
    int listen_fd;
} gate;

/* Attach container id to the chain (its journal holds a teardown) and open its gate. */
static void open_gate(fixture *f, const char *id, gate *g)
{
    mpp_mount *m = one_bind(f->src, "/data");
    mpp_error err = {0};
    if (mpp_chain_attach(f->chain, id, m, 1, &err) < 0)
        fail_msg("attach: %s", err.msg);
    mpp_mounts_free(m, 1);
    if (mpp_gate_open(f->state_dir, id, &g->listen_fd, &err) < 0)
        fail_msg("mpp_gate_open: %s", err.msg);
    assert_true(mpp_gate_path(f->state_dir, id, "gate.sock", g->sock, sizeof(g->sock)) > 0);
    assert_true(mpp_gate_path(f->state_dir, id, NULL, g->dir, sizeof(g->dir)) > 0);
    assert_true((size_t)snprintf(g->pid_file, sizeof(g->pid_file), "%s/init.pid", f->dir) <
                sizeof(g->pid_file));
}

static bool exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

static void test_open_makes_a_socket_the_container_can_reach(void **state)
{
    fixture *f = *state;
    add_plugin(f, "p0", ATTACH);
    make_chain(f);
    gate g;
    open_gate(f, "c1", &g);
    struct stat st;
    assert_int_equal(lstat(g.sock, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0666);
    assert_int_equal(lstat(g.dir, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0755);
    char gates[PATH_MAX];
    snprintf(gates, sizeof(gates), "%s/gates", f->state_dir);
    assert_int_equal(lstat(gates, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0700);
    /* Closed at delete with no daemon: the directory goes, the teardown stays for delete. */
    close(g.listen_fd);
    mpp_gate_close(f->state_dir, "c1");
    assert_false(exists(g.dir));
    assert_true(mpp_container_has_state(f->state_dir, "c1"));
    assert_int_equal(f->plugins[0].detaches, 0);

    int fd = -1;
    mpp_error err = {0};
    assert_int_equal(mpp_gate_open(f->state_dir, "../x", &fd, &err), -EINVAL);
    assert_int_equal(fd, -1);
    char buf[8];
    assert_int_equal(mpp_gate_path("/s", "c1", NULL, buf, sizeof(buf)), -ENAMETOOLONG);
}

static void test_the_exit_of_pid_1_tears_down_and_answers_the_status(void **state)
{
    fixture *f = *state;
    plugin *p0 = add_plugin(f, "p0", ATTACH);
    make_chain(f);
    gate g;
    open_gate(f, "c1", &g);
    pid_t init = container_init(g.sock, g.pid_file, "mpp-gate 1 exit 3\n", "mpp-gate 1 status 3\n");
    mpp_error err = {0};
    assert_int_equal(mpp_gate_serve(f->chain, f->state_dir, "c1", g.listen_fd, g.pid_file, &err),
                     0);
    close(g.listen_fd);
    assert_int_equal(wait_exit(init), 0);
    /* The detach carried the exit status, the teardown is done, the gate is gone. */
    assert_int_equal(p0->detaches, 1);
    assert_true(p0->detach_has_exit);
    assert_int_equal(p0->detach_exit, 3);
    assert_false(mpp_container_has_state(f->state_dir, "c1"));
    assert_false(exists(g.dir));
}

static void test_a_failed_teardown_turns_0_into_129(void **state)
{
    fixture *f = *state;
    plugin *p0 = add_plugin(f, "p0", ATTACH);
    make_chain(f);
    gate g;
    open_gate(f, "c1", &g);
    /* The plugin is gone at the teardown: the detach fails. */
    mpp_plugin_server_stop(p0->server);
    pthread_join(p0->thread, NULL);
    mpp_plugin_server_free(p0->server);
    p0->server = NULL;
    pid_t init =
        container_init(g.sock, g.pid_file, "mpp-gate 1 exit 0\n", "mpp-gate 1 status 129\n");
    mpp_error err = {0};
    mpp_gate_serve(f->chain, f->state_dir, "c1", g.listen_fd, g.pid_file, &err);
    close(g.listen_fd);
    assert_int_equal(wait_exit(init), 0);
    assert_false(exists(g.dir));
}

static void test_a_malformed_message_is_refused_and_delete_tears_down(void **state)
{
    fixture *f = *state;
    plugin *p0 = add_plugin(f, "p0", ATTACH);
    make_chain(f);
    gate g;
    open_gate(f, "c1", &g);
    pid_t init = container_init(g.sock, g.pid_file, "mpp-gate 1 exit 300\n",
                                "mpp-gate 1 refused: malformed exit message\n");
    mpp_error err = {0};
    /* PID 1 is gone without a valid request: the gate returns and leaves the teardown. */
    assert_int_equal(mpp_gate_serve(f->chain, f->state_dir, "c1", g.listen_fd, g.pid_file, &err),
                     0);
    close(g.listen_fd);
    assert_int_equal(wait_exit(init), 0);
    assert_int_equal(p0->detaches, 0);
    assert_true(mpp_container_has_state(f->state_dir, "c1"));
    assert_false(exists(g.dir));
    mpp_teardown t = {0};
    assert_int_equal(mpp_chain_detach(f->chain, "c1", -1, 0, &t, &err), 0);
    mpp_teardown_clear(&t);
    assert_int_equal(p0->detaches, 1);
}

typedef struct serve_args {
    fixture *f;
    gate *g;
    int r;
} serve_args;

static void *serve_gate(void *arg)
{
    serve_args *a = arg;
    mpp_error err = {0};
    a->r =
        mpp_gate_serve(a->f->chain, a->f->state_dir, "c1", a->g->listen_fd, a->g->pid_file, &err);
    return NULL;
}

static void test_only_pid_1_may_ask(void **state)
{
    fixture *f = *state;
    plugin *p0 = add_plugin(f, "p0", ATTACH);
    make_chain(f);
    gate g;
    open_gate(f, "c1", &g);
    /* PID 1 is a process that waits; another process asks in its place. */
    pid_t init = fork_child();
    assert_true(init >= 0);
    if (init == 0) {
        pause();
        _exit(0);
    }
    FILE *pf = fopen(g.pid_file, "we");
    assert_non_null(pf);
    fprintf(pf, "%d\n", (int)init);
    assert_int_equal(fclose(pf), 0);
    serve_args a = {f, &g, -1};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, serve_gate, &a), 0);
    pid_t other = fork_child();
    assert_true(other >= 0);
    if (other == 0)
        ask(g.sock, "mpp-gate 1 exit 0\n",
            "mpp-gate 1 refused: only the container's PID 1 may ask for teardown\n");
    assert_int_equal(wait_exit(other), 0);
    assert_int_equal(p0->detaches, 0);
    assert_true(exists(g.sock)); /* still serving */
    kill(init, SIGKILL);
    wait_exit(init);
    pthread_join(th, NULL);
    assert_int_equal(a.r, 0);
    close(g.listen_fd);
    assert_int_equal(p0->detaches, 0);
    assert_false(exists(g.dir));
    mpp_teardown t = {0};
    mpp_error err = {0};
    assert_int_equal(mpp_chain_detach(f->chain, "c1", -1, 0, &t, &err), 0);
    mpp_teardown_clear(&t);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_open_makes_a_socket_the_container_can_reach),
        T(test_the_exit_of_pid_1_tears_down_and_answers_the_status),
        T(test_a_failed_teardown_turns_0_into_129),
        T(test_a_malformed_message_is_refused_and_delete_tears_down),
        T(test_only_pid_1_may_ask),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
