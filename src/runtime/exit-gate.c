/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "exit-gate.h"
#include "log.h"
#include "macro.h"

bool exit_gate_wanted(const mpp_config *cfg, const mpp_bundle *b, const char *id)
{
    const char *a = mpp_bundle_annotation(b, "mpp.exit-gate");
    bool want = a ? strcmp(a, "true") == 0 : cfg->exit_gate;
    return want && mpp_container_has_state(cfg->state_dir, id);
}

int exit_gate_prepare(const runtime_cli *cli, const mpp_config *cfg, mpp_bundle *b,
                      char **real_argv, exit_gate *g, mpp_error *err)
{
    memset(g, 0, sizeof(*g));
    g->listen_fd = -1;
    const char *init = cfg->init_path ? cfg->init_path : MPP_DEFAULT_INIT_PATH;
    if (access(init, X_OK) < 0)
        return mpp_error_set(err, -errno,
                             "exit gate: mpp-init %s is not an executable file (set \"init_path\" "
                             "in the mpp configuration)",
                             init);
    char dir[PATH_MAX];
    if (mpp_gate_path(cfg->state_dir, cli->id, NULL, dir, sizeof(dir)) < 0)
        return mpp_error_set(err, -ENAMETOOLONG, "exit gate path too long");
    int r = mpp_gate_open(cfg->state_dir, cli->id, &g->listen_fd, err);
    if (r < 0)
        return r;
    r = mpp_bundle_inject_init(b, init, dir, err);
    if (r < 0)
        return r;

    /* The gate recognizes the container's PID 1 by the pid the runtime writes. */
    size_t n = 0;
    while (real_argv[n])
        n++;
    g->argv = calloc(n + 3, sizeof(char *));
    if (!g->argv)
        return mpp_error_set(err, -ENOMEM, "out of memory");
    if (cli->pid_file) {
        if (cli->pid_file[0] == '/')
            snprintf(g->pid_file, sizeof(g->pid_file), "%s", cli->pid_file);
        else {
            char cwd[PATH_MAX];
            if (!getcwd(cwd, sizeof(cwd)))
                return mpp_error_set(err, -errno, "cannot get the working directory: %m");
            if (strlen(cwd) + strlen(cli->pid_file) + 2 > sizeof(g->pid_file))
                return mpp_error_set(err, -ENAMETOOLONG, "--pid-file path too long");
            strcpy(g->pid_file, cwd);
            strcat(g->pid_file, "/");
            strcat(g->pid_file, cli->pid_file);
        }
        memcpy(g->argv, real_argv, n * sizeof(char *));
    } else {
        mpp_gate_path(cfg->state_dir, cli->id, "init.pid", g->pid_file, sizeof(g->pid_file));
        /* real_argv[0] is the runtime; the subcommand follows the global options. */
        size_t cmd = (size_t)cli->command_index + 1, k = 0;
        for (size_t i = 0; i <= cmd; i++)
            g->argv[k++] = real_argv[i];
        g->argv[k++] = "--pid-file";
        g->argv[k++] = g->pid_file;
        for (size_t i = cmd + 1; i < n; i++)
            g->argv[k++] = real_argv[i];
    }
    g->on = true;
    return 0;
}

int exit_gate_start(const mpp_config *cfg, const char *id, exit_gate *g, mpp_error *err)
{
    /* daemon.pid is locked before the fork and the lock lives in the daemon's copy of the
     * descriptor: whoever stops the gate (mpp_gate_close) waits on it for the daemon to be
     * gone, e.g. for a teardown in progress to finish rather than start a second one. */
    char path[PATH_MAX], buf[32];
    mpp_gate_path(cfg->state_dir, id, "daemon.pid", path, sizeof(path));
    _cleanup_close_ int lock_fd =
        open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (lock_fd < 0 || flock(lock_fd, LOCK_EX) < 0)
        return mpp_error_set(err, -errno, "exit gate: cannot create and lock %s: %m", path);

    pid_t pid = fork();
    if (pid < 0)
        return mpp_error_set(err, -errno, "exit gate: cannot fork: %m");
    if (pid == 0) {
        /* Detached from the engine: its own session, and none of the engine's pipes held
         * open (an engine waits for them to close). */
        setsid();
        int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (nul >= 0) {
            dup2(nul, STDIN_FILENO);
            dup2(nul, STDOUT_FILENO);
            dup2(nul, STDERR_FILENO);
        }
        int lo = g->listen_fd < lock_fd ? g->listen_fd : lock_fd;
        int hi = g->listen_fd < lock_fd ? lock_fd : g->listen_fd;
        if (lo > 3)
            close_range(3, (unsigned)lo - 1, 0);
        if (hi > lo + 1)
            close_range((unsigned)lo + 1, (unsigned)hi - 1, 0);
        close_range((unsigned)hi + 1, ~0U, 0);

        mpp_error derr = {0};
        mpp_chain *chain = NULL;
        int r = mpp_chain_new(cfg, &chain, &derr);
        if (r >= 0)
            r = mpp_gate_serve(chain, cfg->state_dir, id, g->listen_fd, g->pid_file, &derr);
        if (r < 0)
            runtime_error("exit gate of container %s: %s", id, derr.msg);
        mpp_chain_free(chain);
        _exit(r < 0 ? 1 : 0);
    }
    close(g->listen_fd);
    g->listen_fd = -1;

    int n = snprintf(buf, sizeof(buf), "%d\n", (int)pid);
    if (write(lock_fd, buf, (size_t)n) != n)
        return mpp_error_set(err, -errno, "exit gate: cannot write %s: %m", path);
    return 0;
}

void exit_gate_abort(const mpp_config *cfg, const char *id, exit_gate *g)
{
    if (!g->on)
        return;
    mpp_gate_close(cfg->state_dir, id);
    g->on = false;
}

void exit_gate_clear(exit_gate *g)
{
    if (g->listen_fd >= 0)
        close(g->listen_fd);
    free(g->argv);
    memset(g, 0, sizeof(*g));
    g->listen_fd = -1;
}
