/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* MPP_PHASES=FILE: mpp-runtime appends to FILE one JSON line per phase of its call,
 * {"pid":N,"cmd":"create","phase":"attach round trip","us":123.4}, where pid is the
 * mpp-runtime process's (also on the lines of the child that becomes the real runtime) and us
 * the phase's CLOCK_MONOTONIC total in that process. bench/bench.py reads them. Unset, the
 * cost is one getenv. */

void phases_init(void);
void phases_command(const char *cmd);
/* Appends this process's totals; called before exec and at exit. */
void phases_write(void);
/* In the child of a fork: its own totals from now on, in phase `name`. */
void phases_child(const char *name);
