/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The command line as crun 1.8.1 (glibc argp) and runc 1.1.5 (urfave/cli v1 over Go's flag)
 * read it. Where they agree: "--name value", "--name=value", "-x value", "--" ends the options,
 * options may follow the ID (argp reads in order; urfave moves flags first), a value is the
 * next word whatever it starts with, long names may be abbreviated (argp; runc refuses). Where
 * they differ, for the commands mpp acts on, the word is refused:
 * - "-xyz": argp reads short options in a cluster with an attached value ("-df x" is -d -f x,
 *   "-bundle" is -b undle); Go reads a long option (-bundle);
 * - "--flag=value": argp refuses a value for a flag; Go reads "--detach=false" as not detached.
 * An option mpp does not know is refused too: its value could be taken for the container ID. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

typedef struct option_spec {
    const char *name; /* long name */
    char short_name;  /* or 0 */
    bool value;       /* takes a value */
    bool prints;      /* help or version: the runtime only prints */
} option_spec;

/* clang-format off */
#define V(n, s) {n, s, true, false}
#define F(n, s) {n, s, false, false}
#define P(n, s) {n, s, false, true}
#define HELP P("help", 'h'), P("usage", 0), P("", '?')

/* Global options of runc 1.1.5 and crun 1.8.1 (crun 1.8.1 reads --rootless VALUE as --root;
 * later crun have --log-level). Help and version: the runtime only prints. */
static const option_spec global_options[] = {
    V("root", 0), V("log", 0), V("log-format", 0), V("log-level", 0), V("criu", 0),
    V("rootless", 0), V("cgroup-manager", 0), F("debug", 0), F("systemd-cgroup", 0),
    P("version", 'v'), P("", 'V'), HELP, {0},
};

/* Per command, the union of both runtimes' options. */
static const option_spec create_options[] = {
    V("bundle", 'b'), V("config", 'f'), V("console-socket", 0), V("pid-file", 0),
    V("preserve-fds", 0), F("no-pivot", 0), F("no-subreaper", 0), F("no-new-keyring", 0), HELP,
    {0},
};
static const option_spec run_options[] = {
    V("bundle", 'b'), V("config", 'f'), V("console-socket", 0), V("pid-file", 0),
    V("preserve-fds", 0), F("no-pivot", 0), F("no-subreaper", 0), F("no-new-keyring", 0),
    F("detach", 'd'), F("keep", 0), HELP, {0},
};
static const option_spec delete_options[] = {
    F("force", 'f'), F("regex", 'r'), HELP, {0},
};
static const option_spec exec_options[] = {
    V("console-socket", 0), V("cwd", 0), V("env", 'e'), F("tty", 't'), V("user", 'u'),
    V("additional-gids", 'g') /* runc 1.2 */, V("process", 'p'), F("detach", 'd'), V("pid-file", 0),
    V("process-label", 0), V("apparmor", 0), F("no-new-privs", 0), V("cap", 'c'),
    V("preserve-fds", 0), V("cgroup", 0), F("ignore-paused", 0), HELP, {0},
};
static const option_spec kill_options[] = {
    F("all", 'a'), F("regex", 'r'), HELP, {0},
};
static const option_spec list_options[] = {
    V("format", 'f'), F("quiet", 'q'), HELP, {0},
};
static const option_spec ps_options[] = {
    V("format", 'f'), HELP, {0},
};
static const option_spec update_options[] = {
    V("resources", 'r'), V("blkio-weight", 0), V("cpu-period", 0), V("cpu-quota", 0),
    V("cpu-share", 0), V("cpu-rt-period", 0), V("cpu-rt-runtime", 0), V("cpuset-cpus", 0),
    V("cpuset-mems", 0), V("kernel-memory", 0), V("kernel-memory-tcp", 0), V("memory", 0),
    V("memory-reservation", 0), V("memory-swap", 0), V("pids-limit", 0), V("l3-cache-schema", 0),
    V("mem-bw-schema", 0), HELP, {0},
};
static const option_spec checkpoint_options[] = {
    V("image-path", 0), V("work-path", 0), V("parent-path", 0), F("leave-running", 0),
    F("tcp-established", 0), F("ext-unix-sk", 0), F("shell-job", 0), F("lazy-pages", 0),
    V("status-fd", 0), V("page-server", 0), F("file-locks", 0), F("pre-dump", 0),
    V("manage-cgroups-mode", 0), V("empty-ns", 0), F("auto-dedup", 0), HELP, {0},
};
static const option_spec restore_options[] = {
    V("console-socket", 0), V("image-path", 0), V("work-path", 0), F("tcp-established", 0),
    F("ext-unix-sk", 0), F("shell-job", 0), F("file-locks", 0), V("manage-cgroups-mode", 0),
    V("bundle", 'b'), F("detach", 'd'), V("pid-file", 0), F("no-subreaper", 0), F("no-pivot", 0),
    V("empty-ns", 0), F("auto-dedup", 0), F("lazy-pages", 0), V("lsm-profile", 0),
    V("lsm-mount-context", 0), HELP, {0},
};
static const option_spec spec_options[] = {
    V("bundle", 'b'), V("file", 'f'), F("rootless", 0), HELP, {0},
};
static const option_spec events_options[] = {
    V("interval", 0), F("stats", 0), HELP, {0},
};
static const option_spec no_options[] = {HELP, {0}};

static const struct {
    const char *command;
    const option_spec *options;
} commands[] = {
    {"create", create_options},   {"run", run_options},       {"delete", delete_options},
    {"exec", exec_options},       {"kill", kill_options},     {"list", list_options},
    {"ps", ps_options},           {"update", update_options}, {"checkpoint", checkpoint_options},
    {"restore", restore_options}, {"spec", spec_options},     {"events", events_options},
};
/* clang-format on */

bool runtime_cli_interposed(const char *command)
{
    return command && (strcmp(command, "create") == 0 || strcmp(command, "run") == 0 ||
                       strcmp(command, "delete") == 0);
}

static const option_spec *command_options(const char *command)
{
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(commands[i].command, command) == 0)
            return commands[i].options;
    return no_options; /* start, state, pause, resume, features… */
}

static bool is(const char *name, size_t len, const char *want)
{
    return strlen(want) == len && strncmp(name, want, len) == 0;
}

/* A long name as getopt_long finds it: the exact name, else the only one it begins (several
 * that begin so are ambiguous, unless prefix_ok is false: then only exact names, as Go). */
static const option_spec *find_long(const option_spec *opts, const char *name, size_t len,
                                    bool prefix_ok, bool *ambiguous)
{
    const option_spec *found = NULL;
    *ambiguous = false;
    for (const option_spec *o = opts; o->name; o++)
        if (o->name[0] && is(name, len, o->name))
            return o;
    if (!prefix_ok || len == 0)
        return NULL;
    for (const option_spec *o = opts; o->name; o++)
        if (o->name[0] && strlen(o->name) > len && strncmp(o->name, name, len) == 0) {
            if (found) {
                *ambiguous = true;
                return NULL;
            }
            found = o;
        }
    return found;
}

static const option_spec *find_short(const option_spec *opts, char c)
{
    for (const option_spec *o = opts; o->name; o++)
        if (o->short_name == c)
            return o;
    return NULL;
}

/* One option word at argv[*i] against opts. On success *spec is the option (NULL: unknown, in a
 * loose parse) and *value its value or NULL; the value's word, if separate, is consumed. */
static int parse_option(int argc, char **argv, int *i, const option_spec *opts, bool strict,
                        bool go_single_dash, const char *where, const option_spec **spec,
                        const char **value, runtime_cli *cli, mpp_error *err)
{
    const char *arg = argv[*i];
    const option_spec *o = NULL;
    const char *attached = NULL;
    bool is_long = arg[1] == '-';
    *spec = NULL;
    *value = NULL;

    if (is_long || (go_single_dash && arg[2] != '\0')) {
        const char *name = arg + (is_long ? 2 : 1);
        const char *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        bool ambiguous;
        /* Go's flag reads -name and --name alike, never abbreviated; argp abbreviates. */
        o = find_long(opts, name, len, is_long, &ambiguous);
        if (!o) {
            if (!strict)
                return 0;
            return mpp_error_set(err, -EINVAL, "%s: option %.*s%.*s is %s", where, is_long ? 2 : 1,
                                 "--", (int)len, name,
                                 ambiguous ? "ambiguous: write it in full"
                                           : "unknown to mpp-runtime, which must know every "
                                             "option to find the container's ID");
        }
        if (eq) {
            if (!o->value) {
                if (!strict)
                    return 0;
                /* argp refuses it; runc reads --detach=false as not detached. */
                return mpp_error_set(err, -EINVAL, "%s: option %s: --%s takes no value", where, arg,
                                     o->name);
            }
            attached = eq + 1;
        }
    } else if (arg[2] != '\0') {
        /* "-df" or "-fFILE": crun reads a cluster or an attached value, runc a long option. */
        o = find_short(opts, arg[1]);
        if (strict)
            return mpp_error_set(err, -EINVAL,
                                 "%s: option %s: crun and runc read it differently; give each "
                                 "option separately, as -x VALUE or --name=VALUE",
                                 where, arg);
        if (!o)
            return 0;
        if (o->value)
            attached = arg + 2;
    } else {
        o = find_short(opts, arg[1]);
        if (!o) {
            if (!strict)
                return 0;
            return mpp_error_set(err, -EINVAL,
                                 "%s: option %s is unknown to mpp-runtime, which must know "
                                 "every option to find the container's ID",
                                 where, arg);
        }
    }

    *spec = o;
    if (!o->value)
        return 0;
    if (attached) {
        *value = attached;
        return 0;
    }
    if (*i + 1 >= argc) {
        if (!strict)
            return 0;
        return mpp_error_set(err, -EINVAL, "%s: option %s needs a value", where, arg);
    }
    cli->pass[cli->n_pass++] = argv[++*i];
    *value = argv[*i];
    return 0;
}

int runtime_cli_parse(int argc, char **argv, runtime_cli *cli, mpp_error *err)
{
    memset(cli, 0, sizeof(*cli));
    cli->pass = calloc((size_t)argc + 1, sizeof(char *));
    if (!cli->pass)
        return mpp_error_set(err, -ENOMEM, "out of memory");

    int i = 1;
    for (; i < argc; i++) {
        const char *arg = argv[i];
        if (arg[0] != '-' || arg[1] == '\0')
            break;
        if (strcmp(arg, "--") == 0) {
            i++;
            break;
        }
        const char *name = arg + (arg[1] == '-' ? 2 : 1);
        const char *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        if (is(name, len, "mpp-config")) {
            const char *value = eq ? eq + 1 : NULL;
            if (!value) {
                if (i + 1 >= argc)
                    return mpp_error_set(err, -EINVAL, "option --mpp-config needs a value");
                value = argv[++i];
            }
            cli->mpp_config = value;
            continue;
        }
        cli->pass[cli->n_pass++] = argv[i];
        const option_spec *o;
        const char *value;
        int r = parse_option(argc, argv, &i, global_options, true, true, "global options", &o,
                             &value, cli, err);
        if (r < 0)
            return r;
        name = o->name;
        len = strlen(name);
        if (is(name, len, "root"))
            cli->root = value;
        else if (is(name, len, "log"))
            cli->log = value;
        else if (is(name, len, "log-format"))
            cli->log_format = value;
        else if (o->prints)
            cli->help = true;
    }
    if (i >= argc)
        return 0;

    cli->command = argv[i];
    cli->command_index = cli->n_pass;
    cli->pass[cli->n_pass++] = argv[i++];
    const char *cmd = cli->command;
    bool strict = runtime_cli_interposed(cmd);
    bool create_like = strcmp(cmd, "create") == 0 || strcmp(cmd, "run") == 0;
    const option_spec *opts = command_options(cmd);
    bool positional_only = false;
    for (; i < argc; i++) {
        const char *arg = argv[i];
        cli->pass[cli->n_pass++] = argv[i];
        if (positional_only || arg[0] != '-' || arg[1] == '\0') {
            if (cli->n_args++ == 0)
                cli->id = arg;
            continue;
        }
        if (strcmp(arg, "--") == 0) {
            positional_only = true;
            continue;
        }
        const option_spec *o;
        const char *value;
        int r = parse_option(argc, argv, &i, opts, strict, false, cmd, &o, &value, cli, err);
        if (r < 0)
            return r;
        if (!o)
            continue;
        const char *name = o->name;
        size_t len = strlen(name);
        /* The value's word, or "--name=value", is the last one passed. */
        int at = cli->n_pass - 1;
        if (create_like && is(name, len, "bundle")) {
            cli->bundle = value;
            cli->bundle_index = at;
        } else if (create_like && is(name, len, "pid-file")) {
            cli->pid_file = value;
            cli->pid_file_index = at;
        } else if (create_like && is(name, len, "console-socket")) {
            cli->console_socket = value;
            cli->console_socket_index = at;
        } else if (create_like && is(name, len, "config")) {
            cli->config = value;
            cli->config_index = at;
        } else if (strcmp(cmd, "run") == 0 && is(name, len, "detach"))
            cli->detach = true;
        else if (strcmp(cmd, "run") == 0 && is(name, len, "keep"))
            cli->keep = true;
        else if (strcmp(cmd, "delete") == 0 && is(name, len, "force"))
            cli->force = true;
        else if (strcmp(cmd, "delete") == 0 && is(name, len, "regex"))
            cli->regex = true;
        else if (o->prints)
            cli->help = true;
    }
    return 0;
}

void runtime_cli_clear(runtime_cli *cli)
{
    free(cli->pass);
    memset(cli, 0, sizeof(*cli));
}
