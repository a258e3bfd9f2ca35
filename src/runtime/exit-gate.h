/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* mpp-runtime's part of the exit gate: decide, inject mpp-init, and start the host side as a
 * daemon detached from the engine (as conmon is), before the real runtime creates the
 * container. */

#include <limits.h>
#include <stdbool.h>

#include <mpp/mpp.h>

#include "cli.h"

typedef struct exit_gate {
    bool on;
    int listen_fd;
    char pid_file[PATH_MAX]; /* where the real runtime writes the container's pid */
    char **argv;             /* the real runtime's argv, with --pid-file added if needed */
} exit_gate;

/* Whether the container gets a gate: the annotation mpp.exit-gate (true/false) or the
 * configuration's exit_gate, and only when a plugin attached something. */
bool exit_gate_wanted(const mpp_config *cfg, const mpp_bundle *b, const char *id);

int exit_gate_prepare(const runtime_cli *cli, const mpp_config *cfg, mpp_bundle *b,
                      char **real_argv, exit_gate *g, mpp_error *err);

/* Fork the daemon that serves the gate; the parent keeps no descriptor of it. */
int exit_gate_start(const mpp_config *cfg, const char *id, exit_gate *g, mpp_error *err);

/* The container will not run: stop the daemon and remove the gate. */
void exit_gate_abort(const mpp_config *cfg, const char *id, exit_gate *g);

void exit_gate_clear(exit_gate *g);
