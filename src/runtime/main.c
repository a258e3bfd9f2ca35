/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpp-runtime: an OCI runtime with runc's command line that runs the mount point plugin chain
 * around the real runtime (crun or runc). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpp/mpp.h>

#include "cli.h"
#include "commands.h"
#include "log.h"
#include "phases.h"
#include "macro.h"

static void runtime_cli_clearp(runtime_cli *cli)
{
    runtime_cli_clear(cli);
}

static int run(int argc, char **argv)
{
    _cleanup_(runtime_cli_clearp) runtime_cli cli = {0};
    const char *bad = NULL;
    int r = runtime_cli_parse(argc, argv, &cli, &bad);
    if (r < 0) {
        fprintf(stderr, "mpp-runtime: %s\n",
                r == -EINVAL ? "an option is missing its value" : "out of memory");
        if (bad)
            fprintf(stderr, "mpp-runtime: option %s needs a value\n", bad);
        return 1;
    }
    runtime_log_open(cli.log, cli.log_format);
    phases_command(cli.command);

    _cleanup_(mpp_config_clear) mpp_config cfg = {0};
    mpp_error err = {0};
    _cleanup_free_ char *real = NULL;
    if (mpp_config_load(cli.mpp_config, &cfg, &err) < 0 ||
        mpp_real_runtime(&cfg, &real, &err) < 0) {
        runtime_error("%s", err.msg);
        return 1;
    }

    /* The real runtime's argv: its path, then ours without mpp's own options. */
    _cleanup_free_ char **real_argv = calloc((size_t)cli.n_pass + 2, sizeof(char *));
    if (!real_argv) {
        runtime_error("out of memory");
        return 1;
    }
    real_argv[0] = real;
    memcpy(real_argv + 1, cli.pass, (size_t)cli.n_pass * sizeof(char *));

    int status;
    if (cli.command && strcmp(cli.command, "create") == 0)
        status = cmd_create(&cli, &cfg, real_argv, false);
    else if (cli.command && strcmp(cli.command, "run") == 0)
        status = cmd_create(&cli, &cfg, real_argv, true);
    else if (cli.command && strcmp(cli.command, "delete") == 0)
        status = cmd_delete(&cli, &cfg, real_argv);
    else
        exec_real(real_argv);

    return status;
}

int main(int argc, char **argv)
{
    phases_init();
    int status = run(argc, argv);
    phases_write();
    return status;
}
