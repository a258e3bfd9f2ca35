/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The phase clock: where the time of one mpp-runtime call goes, for bench/bench.py. Internal to
 * libmpp and its programs (not in include/mpp). Off until mpp_phase_start(); then each
 * mpp_phase_enter() charges the time since the previous one to the phase it leaves. Off, each
 * mark costs one test of a static flag. Nothing here prints: the program asks for the totals. */

#include <stddef.h>

/* Starts the clock in phase `first` (a string that lives as long as the process). */
void mpp_phase_start(const char *first);

/* Enters phase `name` (static string), charging the time since the last mark to the current
 * one; returns the phase left, to enter again at the end of a nested phase. NULL when the clock
 * is off (and entering NULL does nothing). */
const char *mpp_phase_enter(const char *name);

/* After fork, in the child: forget the parent's totals and count from now in phase `name`. */
void mpp_phase_restart(const char *name);

/* The totals so far, the current phase included up to now, in order of first entry: at most
 * max of them; returns how many there are (0 when the clock is off). */
size_t mpp_phase_totals(const char **names, long long *ns, size_t max);
