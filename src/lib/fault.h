/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Fault points, compiled only into test builds (-Dfault_injection=true). Each is crossed right
 * after a journal step became durable. MPP_FAULT_KILL_AT=N sends SIGKILL to the process at the
 * N-th point it crosses; MPP_FAULT_LOG=FILE appends the name of each point crossed, so that a
 * test can enumerate the steps and then kill at each in turn. */

#ifdef MPP_FAULT_INJECTION
void mpp_fault_point(const char *name);
#else
static inline void mpp_fault_point(const char *name)
{
    (void)name;
}
#endif
