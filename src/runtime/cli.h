/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* runc's and crun's command line, as mpp-runtime must understand it to pass it on unchanged:
 * global options, the subcommand, and the subcommand options mpp needs to read. Every option of
 * runc 1.1.5 and crun 1.8.1 is known, so that an option's value is never taken for the
 * container ID; for the commands mpp acts on (create, run, delete) a form the two runtimes
 * would read differently, or an option mpp does not know, is refused. */

#include <stdbool.h>

#include <mpp/error.h>

typedef struct runtime_cli {
    /* argv for the real runtime, minus argv[0] and mpp's own options; NULL-terminated. */
    char **pass;
    int n_pass;
    const char *mpp_config; /* --mpp-config=PATH, or NULL */
    const char *root;       /* --root */
    const char *log;        /* --log */
    const char *log_format; /* --log-format */
    const char *command;    /* the subcommand, or NULL (e.g. --version, --help) */
    const char *id;         /* the container ID (first positional after the subcommand) */
    int n_args;             /* positionals after the subcommand (create/run/delete want 1) */
    const char *bundle;     /* create/run --bundle/-b, else NULL (= working directory) */
    const char *pid_file;   /* create/run --pid-file */
    const char *config;     /* create/run --config/-f FILE (crun), else NULL */
    int command_index;      /* where the subcommand is in pass[] */
    bool detach;            /* run --detach/-d */
    bool keep;              /* run --keep (runc): the container stays after it exits */
    bool force;             /* delete --force/-f */
    bool regex;             /* delete --regex/-r (crun): id is a POSIX extended regex */
    bool help;              /* --help, --version…: the runtime only prints */
    /* create/run --console-socket; where create/run's --bundle, --pid-file, --console-socket
     * and --config are in pass[]: the value's word, or the whole "--name=value" word (then
     * pass[i] is not the value); 0 when not given. For mpp to replace them in the real
     * runtime's argv. */
    const char *console_socket;
    int bundle_index, pid_file_index, console_socket_index, config_index;
} runtime_cli;

/* Parse argv. Returns 0, or -EINVAL (an option lacks its value, is unknown or is written in a
 * form crun and runc read differently) or -ENOMEM, with err saying which and why. */
int runtime_cli_parse(int argc, char **argv, runtime_cli *cli, mpp_error *err);
void runtime_cli_clear(runtime_cli *cli);

/* Whether mpp acts on this command (create, run, delete): then the parse is strict. */
bool runtime_cli_interposed(const char *command);
