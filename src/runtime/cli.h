/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* runc's command line, as mpp-runtime must understand it to pass it on unchanged: global
 * options, the subcommand, and the few subcommand options mpp needs to read. */

#include <stdbool.h>

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
    const char *bundle;     /* create/run --bundle/-b, else NULL (= working directory) */
    const char *pid_file;   /* create/run --pid-file */
    int command_index;      /* where the subcommand is in pass[] */
    bool detach;            /* run --detach/-d */
    bool force;             /* delete --force/-f */
    /* create/run --console-socket, and --config/-f (crun reads that file instead of config.json);
     * where --bundle, --pid-file and --console-socket are in pass[] (the value, or the
     * "--name=value" argument), or 0. */
    const char *console_socket;
    const char *config_file;
    int bundle_index, pid_file_index, console_socket_index;
} runtime_cli;

/* Parse argv. Returns 0, or -EINVAL with *bad naming the option that lacks its value. */
int runtime_cli_parse(int argc, char **argv, runtime_cli *cli, const char **bad);
void runtime_cli_clear(runtime_cli *cli);
