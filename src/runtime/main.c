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
    /* Many mounts need many descriptors (pins, see limits.h): take what the hard limit
     * allows; exec_real() gives the real runtime the engine's soft limit back. */
    (void)mpp_nofile_raise();

    _cleanup_(runtime_cli_clearp) runtime_cli cli = {0};
    mpp_error perr = {0};
    int r = runtime_cli_parse(argc, argv, &cli, &perr);
    /* Even a refused command line reports to the engine's --log when it got that far. */
    runtime_log_open(cli.log, cli.log_format);
    if (r < 0) {
        runtime_error("%s", perr.msg);
        return 1;
    }
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
    /* Help, or not exactly one ID: the real runtime only prints, or refuses it. */
    if (cli.help || (runtime_cli_interposed(cli.command) && cli.n_args != 1))
        exec_real(real_argv);
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
