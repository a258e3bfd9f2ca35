/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What mpp-runtime does around the real runtime: create/run attach the chain before it, delete
 * and the end of run tear it down after it. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "commands.h"
#include "exit-gate.h"
#include "log.h"
#include "macro.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(mpp_chain *, mpp_chain_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(mpp_bundle *, mpp_bundle_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(mpp_pins *, mpp_pins_free)

_Noreturn void exec_real(char **real_argv)
{
    execv(real_argv[0], real_argv);
    runtime_error("cannot execute %s: %m", real_argv[0]);
    _exit(127);
}

static volatile sig_atomic_t child_pid;

static void forward_signal(int sig)
{
    if (child_pid > 0)
        kill((pid_t)child_pid, sig);
}

/* Attach the pinned sources in a private mount namespace, then become the real runtime. */
static _Noreturn void exec_real_pinned(char **real_argv, mpp_pins *pins)
{
    mpp_error err = {0};
    if (mpp_pins_install(pins, &err) < 0) {
        runtime_error("pinning the mount sources: %s", err.msg);
        _exit(1);
    }
    exec_real(real_argv);
}

/* Run the real runtime as a child, forwarding the signals a user or engine sends us, and
 * return its exit status (128+N for a signal, as a shell reports it). */
static int run_real(char **real_argv, mpp_pins *pins)
{
    static const int forwarded[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};
    struct sigaction sa = {.sa_handler = forward_signal, .sa_flags = SA_RESTART};
    sigemptyset(&sa.sa_mask);

    pid_t pid = fork();
    if (pid < 0) {
        runtime_error("cannot fork: %m");
        return 1;
    }
    if (pid == 0)
        exec_real_pinned(real_argv, pins);
    child_pid = pid;
    for (size_t i = 0; i < ELEMENTSOF(forwarded); i++)
        sigaction(forwarded[i], &sa, NULL);

    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) {
            runtime_error("cannot wait for %s: %m", real_argv[0]);
            return 1;
        }
    child_pid = 0;
    sa.sa_handler = SIG_DFL;
    for (size_t i = 0; i < ELEMENTSOF(forwarded); i++)
        sigaction(forwarded[i], &sa, NULL);
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return 1;
}

/* The runtime has read the rewritten bundle (its pins mean nothing outside the namespace it
 * ran in): the engine's or the user's own config.json goes back, e.g. for the next run. */
static void restore_bundle(mpp_bundle *b)
{
    mpp_error err = {0};
    if (mpp_bundle_restore(b, &err) < 0)
        runtime_warning("%s", err.msg);
}

static void report_teardown(const char *id, const mpp_teardown *t)
{
    for (size_t i = 0; i < t->n_warnings; i++)
        runtime_warning("warning: teardown of container %s: %s", id, t->warnings[i]);
    for (size_t i = 0; i < t->n_errors; i++)
        runtime_error("teardown of container %s: %s", id, t->errors[i]);
    if (!t->complete)
        runtime_error("teardown of container %s is incomplete: run `mppctl recover %s`", id, id);
}

/* Unwind after the container is gone; returns whether teardown failed. */
static bool teardown(mpp_chain *chain, const char *id, int exit_status)
{
    mpp_teardown t = {0};
    mpp_error err = {0};
    int r = mpp_chain_detach(chain, id, exit_status, 0, &t, &err);
    if (r == -ENOENT)
        return false;
    if (r < 0) {
        runtime_error("teardown of container %s: %s", id, err.msg);
        return true;
    }
    report_teardown(id, &t);
    bool failed = t.failed;
    mpp_teardown_clear(&t);
    return failed;
}

/* crun's create/run --config FILE names the document the runtime reads instead of
 * BUNDLE/config.json. crun finds it so: "config.json" itself is the bundle's; any other name is
 * resolved (realpath) in the working directory, before crun enters the bundle. mpp judges that
 * file, and the runtime is given the path mpp resolved, so that both read the same file. As
 * for BUNDLE/config.json, the file itself must not be a symbolic link (mpp writes beside it):
 * only its directory is resolved. *word is the new argv word, the caller's to free. */
static int load_document(const runtime_cli *cli, const char *bundle_dir, char **real_argv,
                         char **word, mpp_bundle **out, mpp_error *err)
{
    *word = NULL;
    if (!cli->config || strcmp(cli->config, "config.json") == 0)
        return mpp_bundle_load(bundle_dir, out, err);
    const char *slash = strrchr(cli->config, '/');
    const char *base = slash ? slash + 1 : cli->config;
    _cleanup_free_ char *dir =
        slash ? strndup(cli->config, (size_t)(slash - cli->config)) : strdup(".");
    if (!dir)
        return mpp_error_set(err, -ENOMEM, "out of memory");
    if (isempty(base) || strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
        return mpp_error_set(err, -EINVAL, "container %s: config file %s: not a file name", cli->id,
                             cli->config);
    _cleanup_free_ char *real_dir = realpath(slash == cli->config ? "/" : dir, NULL);
    if (!real_dir)
        return mpp_error_set(err, -errno, "container %s: config file %s: %m", cli->id, cli->config);
    _cleanup_free_ char *path = NULL;
    if (asprintf(&path, "%s%s%s", real_dir, strcmp(real_dir, "/") == 0 ? "" : "/", base) < 0) {
        path = NULL;
        return mpp_error_set(err, -ENOMEM, "out of memory");
    }
    int r = mpp_bundle_load_file(path, out, err);
    if (r < 0)
        return mpp_error_prefix(err, "container %s", cli->id);
    if (cli->config_attached ? asprintf(word, "--config=%s", path) < 0 : !(*word = strdup(path))) {
        *word = NULL;
        return mpp_error_set(err, -ENOMEM, "out of memory");
    }
    real_argv[1 + cli->config_index] = *word;
    return 0;
}

static bool runtime_knows(const runtime_cli *cli, char **real_argv, const char *id);

int cmd_create(const runtime_cli *cli, const mpp_config *cfg, char **real_argv, bool run)
{
    if (cfg->n_plugins == 0 || !cli->id)
        exec_real(real_argv); /* nothing to interpose: be the real runtime */

    char cwd[PATH_MAX];
    const char *bundle_dir = cli->bundle;
    if (!bundle_dir) {
        if (!getcwd(cwd, sizeof(cwd))) {
            runtime_error("cannot get the working directory: %m");
            return 1;
        }
        bundle_dir = cwd;
    }

    mpp_error err = {0};
    _cleanup_(mpp_chain_freep) mpp_chain *chain = NULL;
    _cleanup_(mpp_bundle_freep) mpp_bundle *bundle = NULL;
    _cleanup_free_ char *config_word = NULL;
    if (mpp_chain_new(cfg, &chain, &err) < 0 ||
        load_document(cli, bundle_dir, real_argv, &config_word, &bundle, &err) < 0) {
        runtime_error("%s", err.msg);
        return 1;
    }
    mpp_adapter_options o = {
        .container_id = cli->id,
        .runtime_root = cli->root,
        .bundle_dir = bundle_dir,
    };
    char pin_dir[PATH_MAX];
    if (snprintf(pin_dir, sizeof(pin_dir), "%s/pins", cfg->state_dir) >= (int)sizeof(pin_dir)) {
        runtime_error("state directory %s: path too long", cfg->state_dir);
        return 1;
    }
    /* A bundle another mpp-runtime is running (the same bundle for several containers) names
     * its pins: start from the sources they stand for. What is mounted is still only what
     * is judged now. */
    _cleanup_free_ char *original = NULL;
    int unpinned = mpp_bundle_unpin(bundle, pin_dir, &err);
    if (unpinned < 0 || (unpinned > 0 && mpp_bundle_dump(bundle, &original, &err) < 0)) {
        runtime_error("%s", err.msg);
        return 1;
    }
    _cleanup_(mpp_pins_freep) mpp_pins *pins = NULL;
    if (mpp_interpose_attach(chain, bundle, &o, pin_dir, &pins, &err) < 0) {
        runtime_error("%s", err.msg);
        return 1;
    }
    /* No plugin holds anything: no teardown will follow, so there is nothing to stay for. Be
     * the real runtime, as fast as without mpp; with the judged sources pinned if plugins
     * were consulted. */
    if (!mpp_container_has_state(cfg->state_dir, cli->id)) {
        if (!pins)
            exec_real(real_argv);
        if (mpp_bundle_save_keeping(bundle, original, &err) < 0) {
            runtime_error("%s", err.msg);
            return 1;
        }
        int status = run_real(real_argv, pins);
        restore_bundle(bundle);
        return status;
    }

    _cleanup_(exit_gate_clear) exit_gate gate = {.listen_fd = -1};
    if ((exit_gate_wanted(cfg, bundle, cli->id) &&
         exit_gate_prepare(cli, cfg, bundle, real_argv, &gate, &err) < 0) ||
        mpp_bundle_save_keeping(bundle, original, &err) < 0 ||
        (gate.on && exit_gate_start(cfg, cli->id, &gate, &err) < 0)) {
        runtime_error("%s", err.msg);
        restore_bundle(bundle);
        exit_gate_abort(cfg, cli->id, &gate);
        teardown(chain, cli->id, -1);
        return 1;
    }

    int status = run_real(gate.on ? gate.argv : real_argv, pins);
    restore_bundle(bundle);
    if (!run || cli->detach || cli->keep) {
        /* A failed create (or detached run) leaves no container: nothing will call delete.
         * runc's run --keep leaves the exited container for a delete, whatever its status. */
        if (status != 0 && !(cli->keep && runtime_knows(cli, real_argv, cli->id))) {
            exit_gate_abort(cfg, cli->id, &gate);
            teardown(chain, cli->id, -1);
        }
        return status;
    }
    /* Foreground run: the container has exited and the real runtime has deleted it. A gate
     * that gave no verdict waits for nothing now; its teardown is ours. */
    exit_gate_abort(cfg, cli->id, &gate);
    bool failed = teardown(chain, cli->id, status);
    return mpp_exit_status_after_teardown(status, failed);
}

static bool has_gate(const mpp_config *cfg, const char *id)
{
    char path[PATH_MAX];
    return mpp_container_id_valid(id) &&
           mpp_gate_path(cfg->state_dir, id, NULL, path, sizeof(path)) > 0 &&
           access(path, F_OK) == 0;
}

/* Whether the real runtime still has the container: `RUNTIME [global options] state ID`. A
 * failed delete of a container it no longer knows (its state lost to a reboot of /run, or
 * deleted behind our back) leaves the plugins' teardown to us. */
static bool runtime_knows(const runtime_cli *cli, char **real_argv, const char *id)
{
    size_t cmd = (size_t)cli->command_index + 1;
    _cleanup_free_ char **argv = calloc(cmd + 3, sizeof(char *));
    if (!argv)
        return true; /* when in doubt, the container may still be there */
    for (size_t i = 0; i < cmd; i++)
        argv[i] = real_argv[i];
    argv[cmd] = (char *)"state";
    argv[cmd + 1] = (char *)id;
    pid_t pid = fork();
    if (pid < 0)
        return true;
    if (pid == 0) {
        int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (nul >= 0) {
            dup2(nul, STDOUT_FILENO);
            dup2(nul, STDERR_FILENO);
        }
        execv(argv[0], argv);
        _exit(127);
    }
    int ws;
    while (waitpid(pid, &ws, 0) < 0)
        if (errno != EINTR)
            return true;
    return !(WIFEXITED(ws) && WEXITSTATUS(ws) != 0 && WEXITSTATUS(ws) != 127);
}

/* crun's delete --regex RE deletes every container of its state root whose ID RE matches
 * (regcomp REG_EXTENDED | REG_NOSUB, regexec: anywhere in the ID), each failure a warning. The
 * containers mpp holds a journal for that RE matches, that the runtime knew before and no
 * longer knows after, are the ones it deleted: each gets its teardown. A container of another
 * runtime root (unknown to this one) is left alone. runc has no --regex: its error stands. */
static int delete_matching(const runtime_cli *cli, const mpp_config *cfg, char **real_argv)
{
    regex_t re;
    if (regcomp(&re, cli->id, REG_EXTENDED | REG_NOSUB) != 0)
        exec_real(real_argv); /* the runtime's own error */
    char **ids = NULL;
    size_t n = 0;
    mpp_error err = {0};
    if (mpp_chain_list(cfg->state_dir, &ids, &n, &err) < 0) {
        regfree(&re);
        runtime_error("delete --regex %s: %s", cli->id, err.msg);
        return 1;
    }
    _cleanup_free_ bool *known = calloc(n ? n : 1, sizeof(bool));
    size_t n_known = 0;
    for (size_t k = 0; known && k < n; k++)
        if (regexec(&re, ids[k], 0, NULL, 0) == 0 && runtime_knows(cli, real_argv, ids[k])) {
            known[k] = true;
            n_known++;
        }
    regfree(&re);
    if (!known || n_known == 0) {
        mpp_strv_free(ids, n);
        if (!known) {
            runtime_error("out of memory");
            return 1;
        }
        exec_real(real_argv);
    }

    mpp_client_preload();
    int status = run_real(real_argv, NULL);
    _cleanup_(mpp_chain_freep) mpp_chain *chain = NULL;
    if (mpp_chain_new(cfg, &chain, &err) < 0) {
        runtime_error("%s", err.msg);
        mpp_strv_free(ids, n);
        return 1;
    }
    for (size_t k = 0; k < n; k++) {
        if (!known[k] || runtime_knows(cli, real_argv, ids[k]))
            continue;
        if (has_gate(cfg, ids[k]))
            mpp_gate_close(cfg->state_dir, ids[k]);
        teardown(chain, ids[k], -1);
    }
    mpp_strv_free(ids, n);
    return status;
}

int cmd_delete(const runtime_cli *cli, const mpp_config *cfg, char **real_argv)
{
    if (cli->regex)
        return delete_matching(cli, cfg, real_argv);
    bool gate = has_gate(cfg, cli->id);
    if (!gate && !mpp_container_has_state(cfg->state_dir, cli->id))
        exec_real(real_argv);

    /* The plugins are called once the runtime is done: libcurl loads meanwhile. */
    mpp_client_preload();
    int status = run_real(real_argv, NULL);
    if (status != 0 && !cli->force && runtime_knows(cli, real_argv, cli->id)) {
        /* Still there (e.g. running without --force): it will be deleted again later. */
        return status;
    }
    /* A gate still waiting means the container never reached it (killed, or never started):
     * its teardown is ours now. */
    if (gate)
        mpp_gate_close(cfg->state_dir, cli->id);
    mpp_error err = {0};
    _cleanup_(mpp_chain_freep) mpp_chain *chain = NULL;
    if (mpp_chain_new(cfg, &chain, &err) < 0) {
        runtime_error("%s", err.msg);
        return 1;
    }
    teardown(chain, cli->id, -1);
    return status;
}
