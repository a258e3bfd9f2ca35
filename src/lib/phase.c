/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include "phase.h"

#define PHASES_MAX 32

static struct {
    bool on;
    const char *current;
    long long since;
    size_t n;
    const char *name[PHASES_MAX];
    long long ns[PHASES_MAX];
} clk;

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Phase names are string literals: compared by content, as the same name may be spelt in two
 * translation units. */
static void charge(const char *name, long long ns)
{
    size_t i = 0;
    while (i < clk.n && strcmp(clk.name[i], name) != 0)
        i++;
    if (i == clk.n) {
        if (clk.n == PHASES_MAX)
            return;
        clk.name[clk.n++] = name;
    }
    clk.ns[i] += ns;
}

void mpp_phase_start(const char *first)
{
    clk.on = true;
    clk.current = first;
    clk.since = now_ns();
}

const char *mpp_phase_enter(const char *name)
{
    if (!clk.on || !name)
        return NULL;
    long long t = now_ns();
    charge(clk.current, t - clk.since);
    const char *left = clk.current;
    clk.current = name;
    clk.since = t;
    return left;
}

void mpp_phase_restart(const char *name)
{
    if (!clk.on)
        return;
    clk.n = 0;
    memset(clk.ns, 0, sizeof(clk.ns));
    clk.current = name;
    clk.since = now_ns();
}

size_t mpp_phase_totals(const char **names, long long *ns, size_t max)
{
    if (!clk.on)
        return 0;
    mpp_phase_enter(clk.current);
    size_t n = clk.n < max ? clk.n : max;
    for (size_t i = 0; i < n; i++) {
        names[i] = clk.name[i];
        ns[i] = clk.ns[i];
    }
    return n;
}
