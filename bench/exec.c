/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpp-bench-exec: the cheapest runtime shim there can be, a static program that only execs the
 * real runtime. The start benchmark times it to show what any shim's extra exec costs.
 *
 *   mpp-bench-exec RUNTIME [ARGS...]  runs RUNTIME with ARGS, as RUNTIME. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs("usage: mpp-bench-exec RUNTIME [ARGS...]\n", stderr);
        return 2;
    }
    execv(argv[1], argv + 1);
    fprintf(stderr, "mpp-bench-exec: %s: %s\n", argv[1], strerror(errno));
    return 127;
}
