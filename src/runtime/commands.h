/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <mpp/mpp.h>

#include "cli.h"

/* Each returns the process exit status. real_argv is the real runtime's argv. */
int cmd_create(const runtime_cli *cli, const mpp_config *cfg, char **real_argv, bool run);
int cmd_delete(const runtime_cli *cli, const mpp_config *cfg, char **real_argv);

/* Replace this process with the real runtime (the common, transparent case). */
_Noreturn void exec_real(char **real_argv);
