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
#include "phases.h"
#include "../lib/phase.h"
#include "macro.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(mpp_chain *, mpp_chain_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(mpp_bundle *, mpp_bundle_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(mpp_pins *, mpp_pins_free)

_Noreturn void exec_real(char **real_argv)
{
    mpp_nofile_restore(); /* the runtime and the container get the engine's limit */
    phases_write();
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

    mpp_phase_enter("real runtime");
    pid_t pid = fork();
    if (pid < 0) {
        runtime_error("cannot fork: %m");
        return 1;
    }
    if (pid == 0) {
        phases_child("namespace set-up");
        exec_real_pinned(real_argv, pins);
    }
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
    mpp_phase_enter("exit");
    sa.sa_handler = SIG_DFL;
    for (size_t i = 0; i < ELEMENTSOF(forwarded); i++)
        sigaction(forwarded[i], &sa, NULL);
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return 1;
}

/* The real runtime's argv, with strings of its own. */
typedef struct runtime_argv {
    char **v;
    char *owned[4];
} runtime_argv;

static void runtime_argv_done(runtime_argv *a)
{
    free(a->v);
    for (size_t i = 0; i < ELEMENTSOF(a->owned); i++)
        free(a->owned[i]);
}

/* A relative --pid-file or --console-socket (pass[index], its value) made absolute: crun takes
 * it relative to the bundle, which is no longer the engine's; runc relative to the working
 * directory, as the exit gate does, and so does mpp. */
static int absolute_arg(const runtime_cli *cli, char **v, int index, const char *value,
                        const char *cwd, char **owned)
{
    if (index <= 0 || !value || value[0] == '/' || value[0] == '\0')
        return 0;
    const char *arg = cli->pass[index];
    int n = arg == value ? asprintf(owned, "%s/%s", cwd, value)
                         : asprintf(owned, "%.*s%s/%s", (int)(value - arg), arg, cwd, value);
    if (n < 0) {
        *owned = NULL;
        return -ENOMEM;
    }
    v[index + 1] = *owned;
    return 0;
}

/* The real runtime's argv with mpp's copy as the bundle: in place of the engine's --bundle, or
 * after the subcommand when the engine gave none (the working directory). crun's --config FILE
 * becomes --config config.json, which crun reads as BUNDLE/config.json: the copy, not FILE.
 * (The option stays, so that a runtime without it, runc, still refuses it.) */
static int argv_with_bundle(const runtime_cli *cli, char **real_argv, const char *dir,
                            runtime_argv *out)
{
    size_t n = 0;
    while (real_argv[n])
        n++;
    char **v = out->v = calloc(n + 3, sizeof(char *));
    if (!v)
        return -ENOMEM;
    memcpy(v, real_argv, n * sizeof(char *));
    if (cli->config_index > 0) {
        const char *arg = cli->pass[cli->config_index];
        size_t i = (size_t)cli->config_index + 1;
        if (arg == cli->config)
            v[i] = (char *)"config.json";
        else if (asprintf(&out->owned[3], "%.*sconfig.json", (int)(cli->config - arg), arg) >= 0)
            v[i] = out->owned[3];
        else {
            out->owned[3] = NULL;
            return -ENOMEM;
        }
    }
    if (cli->pid_file_index > 0 || cli->console_socket_index > 0) {
        char cwd[PATH_MAX];
        if (!getcwd(cwd, sizeof(cwd)))
            return -errno;
        int r = absolute_arg(cli, v, cli->pid_file_index, cli->pid_file, cwd, &out->owned[1]);
        if (r >= 0)
            r = absolute_arg(cli, v, cli->console_socket_index, cli->console_socket, cwd,
                             &out->owned[2]);
        if (r < 0)
            return r;
    }
    if (cli->bundle_index > 0) {
        size_t i = (size_t)cli->bundle_index + 1;
        if (cli->pass[cli->bundle_index] == cli->bundle)
            v[i] = (char *)dir;
        else if (asprintf(&out->owned[0], "--bundle=%s", dir) >= 0)
            v[i] = out->owned[0];
        else
            return -ENOMEM;
        return 0;
    }
    size_t cmd = (size_t)cli->command_index + 1;
    memmove(v + cmd + 3, v + cmd + 1, (n - cmd - 1) * sizeof(char *));
    v[cmd + 1] = (char *)"--bundle";
    v[cmd + 2] = (char *)dir;
    return 0;
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
 * file as the bundle's document: its copy is what the runtime reads (argv_with_bundle), and a
 * relative root.path in it still names a directory of the bundle, as crun reads it. As for
 * BUNDLE/config.json, the file itself must not be a symbolic link: only its directory is
 * resolved. */
static int load_document(const runtime_cli *cli, const char *bundle_dir, mpp_bundle **out,
                         mpp_error *err)
{
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
    int r = mpp_bundle_load_file(bundle_dir, path, out, err);
    if (r < 0)
        return mpp_error_prefix(err, "container %s", cli->id);
    return 0;
}

static bool runtime_knows(const runtime_cli *cli, char **real_argv, const char *id);

/* Whether the runtime's create or run left a container for a delete. A failed create (or
 * detached run) leaves none; a foreground run deletes its own, except runc's run --keep, which
 * leaves the exited container whatever its status. */
static bool container_left(const runtime_cli *cli, char **real_argv, int status, bool run)
{
    if (run && !cli->detach && !cli->keep)
        return false;
    if (status == 0)
        return true;
    return cli->keep && runtime_knows(cli, real_argv, cli->id);
}

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

    mpp_phase_enter("bundle read");
    mpp_error err = {0};
    _cleanup_(mpp_chain_freep) mpp_chain *chain = NULL;
    _cleanup_(mpp_bundle_freep) mpp_bundle *bundle = NULL;
    if (mpp_chain_new(cfg, &chain, &err) < 0 || load_document(cli, bundle_dir, &bundle, &err) < 0) {
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
    /* A bundle an older mpp-runtime rewrote in place and could not give back names its pins:
     * start from the sources they stand for. (Whatever the annotations say, what is mounted
     * is what is judged now.) */
    if (mpp_bundle_unpin(bundle, pin_dir, &err) < 0) {
        runtime_error("%s", err.msg);
        return 1;
    }
    _cleanup_(mpp_pins_freep) mpp_pins *pins = NULL;
    if (mpp_interpose_attach(chain, bundle, &o, pin_dir, &pins, &err) < 0) {
        runtime_error("%s", err.msg);
        return 1;
    }
    /* The runtime reads mpp's copy of what was judged, never the bundle's config.json: its
     * owner could replace that file before the runtime reads it, with mounts no plugin saw.
     * Also when no plugin selected anything: the replacement could hold one a plugin would
     * select. */
    mpp_phase_enter("bundle copy");
    char copy[PATH_MAX];
    _cleanup_(runtime_argv_done) runtime_argv ra = {0};
    bool state = mpp_container_has_state(cfg->state_dir, cli->id);
    if (mpp_bundle_copy_make(cfg->state_dir, cli->id, copy, sizeof(copy), &err) < 0) {
        runtime_error("%s", err.msg);
        if (state)
            teardown(chain, cli->id, -1);
        return 1;
    }
    int r = argv_with_bundle(cli, real_argv, copy, &ra);
    if (r < 0) {
        runtime_error("cannot build the runtime's arguments: %s", strerror(-r));
        mpp_bundle_copy_remove(copy);
        if (state)
            teardown(chain, cli->id, -1);
        return 1;
    }
    /* No plugin holds anything: no teardown will follow, so there is nothing to stay for but
     * the copy, which goes if there is no container to delete. */
    if (!state) {
        if (mpp_bundle_save_copy(bundle, copy, &err) < 0) {
            runtime_error("%s", err.msg);
            mpp_bundle_copy_remove(copy);
            return 1;
        }
        int status = run_real(ra.v, pins);
        if (!container_left(cli, real_argv, status, run))
            mpp_bundle_copy_remove(copy);
        return status;
    }

    _cleanup_(exit_gate_clear) exit_gate gate = {.listen_fd = -1};
    if ((exit_gate_wanted(cfg, bundle, cli->id) &&
         exit_gate_prepare(cli, cfg, bundle, ra.v, &gate, &err) < 0) ||
        mpp_bundle_save_copy(bundle, copy, &err) < 0 ||
        (gate.on && exit_gate_start(cfg, cli->id, &gate, &err) < 0)) {
        runtime_error("%s", err.msg);
        mpp_bundle_copy_remove(copy);
        exit_gate_abort(cfg, cli->id, &gate);
        mpp_pins_free(TAKE_PTR(pins)); /* teardown must not compete with them for fds */
        teardown(chain, cli->id, -1);
        return 1;
    }

    int status = run_real(gate.on ? gate.argv : ra.v, pins);
    /* The runtime has mounted what they hold: teardown gets their descriptors. */
    mpp_pins_free(TAKE_PTR(pins));
    if (!run || cli->detach || cli->keep) {
        /* A container left is deleted later, and torn down then. */
        if (!container_left(cli, real_argv, status, run)) {
            mpp_bundle_copy_remove(copy);
            exit_gate_abort(cfg, cli->id, &gate);
            teardown(chain, cli->id, -1);
        }
        return status;
    }
    /* Foreground run: the container has exited and the real runtime has deleted it. A gate
     * that gave no verdict waits for nothing now; its teardown is ours. */
    mpp_bundle_copy_remove(copy);
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
        mpp_nofile_restore();
        execv(argv[0], argv);
        _exit(127);
    }
    int ws;
    while (waitpid(pid, &ws, 0) < 0)
        if (errno != EINTR)
            return true;
    return !(WIFEXITED(ws) && WEXITSTATUS(ws) != 0 && WEXITSTATUS(ws) != 127);
}

/* The IDs of the containers mpp holds something for: a journal, or a copy of the bundle. */
static int held_ids(const mpp_config *cfg, char ***ids, size_t *n, mpp_error *err)
{
    char **copies = NULL;
    size_t n_copies = 0;
    int r = mpp_chain_list(cfg->state_dir, ids, n, err);
    if (r < 0)
        return r;
    r = mpp_bundle_copies_list(cfg->state_dir, &copies, &n_copies, err);
    char **v = r < 0 ? NULL : realloc(*ids, (*n + n_copies + 1) * sizeof(char *));
    if (!v) {
        mpp_strv_free(*ids, *n);
        mpp_strv_free(copies, n_copies);
        *ids = NULL;
        *n = 0;
        return r < 0 ? r : mpp_error_set(err, -ENOMEM, "out of memory");
    }
    *ids = v;
    for (size_t k = 0; k < n_copies; k++) {
        bool seen = false;
        for (size_t j = 0; j < *n && !seen; j++)
            seen = strcmp(v[j], copies[k]) == 0;
        if (seen)
            free(copies[k]);
        else
            v[(*n)++] = copies[k];
    }
    free(copies);
    return 0;
}

/* crun's delete --regex RE deletes every container of its state root whose ID RE matches
 * (regcomp REG_EXTENDED | REG_NOSUB, regexec: anywhere in the ID), each failure a warning. The
 * containers mpp holds a journal or a bundle copy for that RE matches, that the runtime knew
 * before and no longer knows after, are the ones it deleted: each gets its teardown and loses
 * its copy. A container of another runtime root (unknown to this one) is left alone. runc has
 * no --regex: its error stands. */
static int delete_matching(const runtime_cli *cli, const mpp_config *cfg, char **real_argv)
{
    regex_t re;
    if (regcomp(&re, cli->id, REG_EXTENDED | REG_NOSUB) != 0)
        exec_real(real_argv); /* the runtime's own error */
    char **ids = NULL;
    size_t n = 0;
    mpp_error err = {0};
    if (held_ids(cfg, &ids, &n, &err) < 0) {
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

    int status = run_real(real_argv, NULL);
    _cleanup_(mpp_chain_freep) mpp_chain *chain = NULL;
    for (size_t k = 0; k < n; k++) {
        if (!known[k] || runtime_knows(cli, real_argv, ids[k]))
            continue;
        /* After the runtime's delete: it and its poststop hooks read the bundle. */
        mpp_bundle_copies_remove(cfg->state_dir, ids[k]);
        if (has_gate(cfg, ids[k]))
            mpp_gate_close(cfg->state_dir, ids[k]);
        if (!mpp_container_has_state(cfg->state_dir, ids[k]))
            continue;
        if (!chain && mpp_chain_new(cfg, &chain, &err) < 0) {
            /* Its journal stays, for mppctl recover. */
            runtime_error("teardown of container %s: %s", ids[k], err.msg);
            status = 1;
            continue;
        }
        teardown(chain, ids[k], -1);
    }
    mpp_strv_free(ids, n);
    return status;
}

int cmd_delete(const runtime_cli *cli, const mpp_config *cfg, char **real_argv)
{
    if (cli->regex)
        return delete_matching(cli, cfg, real_argv);
    mpp_phase_enter("state check");
    bool gate = has_gate(cfg, cli->id);
    bool copies = mpp_bundle_has_copies(cfg->state_dir, cli->id);
    bool state = mpp_container_has_state(cfg->state_dir, cli->id);
    if (!gate && !state && !copies)
        exec_real(real_argv);

    int status = run_real(real_argv, NULL);
    if (status != 0 && !cli->force && runtime_knows(cli, real_argv, cli->id)) {
        /* Still there (e.g. running without --force): it will be deleted again later. */
        return status;
    }
    /* After the runtime's delete: it and its poststop hooks read the bundle. */
    mpp_phase_enter("bundle copy");
    mpp_bundle_copies_remove(cfg->state_dir, cli->id);
    if (!gate && !state)
        return status;
    /* A gate still waiting means the container never reached it (killed, or never started):
     * its teardown is ours now. */
    if (gate)
        mpp_gate_close(cfg->state_dir, cli->id);
    mpp_phase_enter("configuration");
    mpp_error err = {0};
    _cleanup_(mpp_chain_freep) mpp_chain *chain = NULL;
    if (mpp_chain_new(cfg, &chain, &err) < 0) {
        runtime_error("%s", err.msg);
        return 1;
    }
    teardown(chain, cli->id, -1);
    return status;
}
