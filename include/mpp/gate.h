/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The exit gate's host side (protocol §6: teardown blocks the report of the container's exit).
 * mpp-init, the container's PID 1, connects to state_dir/gates/ID/gate.sock when the workload
 * has exited and sends "mpp-gate 1 exit N\n"; the gate checks that the peer is the container's
 * PID 1 and that nothing else runs in the container, runs the teardown, and answers
 * "mpp-gate 1 status V\n" with V the status after protocol §6's rule (0 becomes 129 on failure).
 * It answers once; anything else is refused. */

#include <stdbool.h>
#include <stddef.h>

#include <mpp/chain.h>
#include <mpp/error.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Where mpp-init and the gate's socket appear inside the container. */
#define MPP_GATE_INIT_DEST "/.mpp/init"
#define MPP_GATE_DIR_DEST "/.mpp/gate"
#define MPP_GATE_SOCKET_DEST "/.mpp/gate/gate.sock"

/* state_dir/gates/ID[/LEAF]. Returns the length or -ENAMETOOLONG. */
int mpp_gate_path(const char *state_dir, const char *id, const char *leaf, char *buf, size_t size);

/* Create state_dir/gates/ID with a listening socket; *listen_fd receives it. */
int mpp_gate_open(const char *state_dir, const char *id, int *listen_fd, mpp_error *err);

/* Serve the gate until the container's PID 1 (whose pid is in pid_file once the runtime has
 * created it) asks for the teardown, or until that process is gone without asking (its
 * teardown then happens at delete). Removes the gate directory before returning. */
int mpp_gate_serve(mpp_chain *chain, const char *state_dir, const char *id, int listen_fd,
                   const char *pid_file, mpp_error *err);

/* At delete: stop a gate still waiting (its pid is in gates/ID/daemon.pid) and remove it. A
 * gate already tearing down (it blocks SIGTERM once the exit is accepted) is waited for, on the
 * lock its daemon holds on daemon.pid while it lives: its detach is then the only one. */
void mpp_gate_close(const char *state_dir, const char *id);

#ifdef __cplusplus
}
#endif
