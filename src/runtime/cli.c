/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* Global options of runc and crun that take a value; the others are flags. */
static const char *const global_with_value[] = {
    "root", "log", "log-format", "criu", "rootless", "cgroup-manager", "log-level", NULL,
};

/* Options of create/run/delete/exec… that take a value (so that the value is not taken for
 * the container ID). Packed by hand: clang-format would put one option per line. */
/* clang-format off */
static const char *const command_with_value[] = {
    "bundle", "b", "console-socket", "pid-file", "preserve-fds", "process", "p", "cwd", "env",
    "e", "user", "u", "additional-gids", "g", "cap", "c", "apparmor", "process-label", "format",
    "f", "resources", "r", "image-path", "work-path", "parent-path", "page-server",
    "manage-cgroups-mode", "empty-ns", "status-mode", "blkio-weight", "cpu-period", "cpu-quota",
    "cpu-rt-period", "cpu-rt-runtime", "cpu-share", "cpuset-cpus", "cpuset-mems", "kernel-memory",
    "kernel-memory-tcp", "memory", "memory-reservation", "memory-swap", "pids-limit",
    "l3-cache-schema", "mem-bw-schema", "interval", "signal", "s", "config", NULL,
};
/* clang-format on */

static bool in_list(const char *const *list, const char *name, size_t len)
{
    for (; *list; list++)
        if (strlen(*list) == len && strncmp(*list, name, len) == 0)
            return true;
    return false;
}

/* "-x", "--xyz", "--xyz=v" → name (without dashes) and its length; NULL if not an option. */
static const char *option_name(const char *arg, size_t *len, const char **value)
{
    if (arg[0] != '-' || arg[1] == '\0')
        return NULL;
    const char *name = arg + (arg[1] == '-' ? 2 : 1);
    const char *eq = strchr(name, '=');
    *len = eq ? (size_t)(eq - name) : strlen(name);
    *value = eq ? eq + 1 : NULL;
    return name;
}

static bool is(const char *name, size_t len, const char *want)
{
    return strlen(want) == len && strncmp(name, want, len) == 0;
}

int runtime_cli_parse(int argc, char **argv, runtime_cli *cli, const char **bad)
{
    memset(cli, 0, sizeof(*cli));
    cli->pass = calloc((size_t)argc + 1, sizeof(char *));
    if (!cli->pass)
        return -ENOMEM;

    int i = 1;
    for (; i < argc; i++) {
        size_t len;
        const char *value;
        const char *name = option_name(argv[i], &len, &value);
        if (!name)
            break;
        if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        }
        if (is(name, len, "mpp-config")) {
            if (!value) {
                if (i + 1 >= argc) {
                    *bad = "--mpp-config";
                    return -EINVAL;
                }
                value = argv[++i];
            }
            cli->mpp_config = value;
            continue;
        }
        cli->pass[cli->n_pass++] = argv[i];
        if (in_list(global_with_value, name, len)) {
            if (!value) {
                if (i + 1 >= argc) {
                    *bad = argv[i];
                    return -EINVAL;
                }
                value = argv[++i];
                cli->pass[cli->n_pass++] = argv[i];
            }
            if (is(name, len, "root"))
                cli->root = value;
            else if (is(name, len, "log"))
                cli->log = value;
            else if (is(name, len, "log-format"))
                cli->log_format = value;
        }
    }
    if (i >= argc)
        return 0;

    cli->command = argv[i];
    cli->command_index = cli->n_pass;
    cli->pass[cli->n_pass++] = argv[i++];
    bool create_like = strcmp(cli->command, "create") == 0 || strcmp(cli->command, "run") == 0;
    bool positional_only = false;
    for (; i < argc; i++) {
        cli->pass[cli->n_pass++] = argv[i];
        size_t len;
        const char *value;
        const char *name = positional_only ? NULL : option_name(argv[i], &len, &value);
        if (!positional_only && strcmp(argv[i], "--") == 0) {
            positional_only = true;
            continue;
        }
        if (!name) {
            if (!cli->id)
                cli->id = argv[i];
            continue;
        }
        if (in_list(command_with_value, name, len) && !value) {
            /* "kill ID SIGNAL" has no -s; "delete -f" is a flag, "ps -f json" takes one. */
            bool flag = (is(name, len, "f") || is(name, len, "force")) &&
                        strcmp(cli->command, "delete") == 0;
            if (!flag) {
                if (i + 1 >= argc) {
                    *bad = argv[i];
                    return -EINVAL;
                }
                value = argv[++i];
                cli->pass[cli->n_pass++] = argv[i];
            }
        }
        if (create_like && (is(name, len, "bundle") || is(name, len, "b"))) {
            cli->bundle = value;
            cli->bundle_index = cli->n_pass - 1;
        } else if (create_like && (is(name, len, "config") || is(name, len, "f"))) {
            cli->config_file = value;
        } else if (create_like && is(name, len, "pid-file")) {
            cli->pid_file = value;
            cli->pid_file_index = cli->n_pass - 1;
        } else if (create_like && is(name, len, "console-socket")) {
            cli->console_socket = value;
            cli->console_socket_index = cli->n_pass - 1;
        } else if (strcmp(cli->command, "run") == 0 &&
                   (is(name, len, "detach") || is(name, len, "d")))
            cli->detach = true;
        else if (strcmp(cli->command, "delete") == 0 &&
                 (is(name, len, "force") || is(name, len, "f")))
            cli->force = true;
    }
    return 0;
}

void runtime_cli_clear(runtime_cli *cli)
{
    free(cli->pass);
    memset(cli, 0, sizeof(*cli));
}
