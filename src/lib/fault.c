/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "fault.h"

#ifdef MPP_FAULT_INJECTION
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "macro.h"

static unsigned crossed;

void mpp_fault_point(const char *name)
{
    crossed++;
    const char *log = getenv("MPP_FAULT_LOG");
    if (log) {
        _cleanup_close_ int fd = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
        if (fd >= 0) {
            char line[256];
            int n = snprintf(line, sizeof(line), "%u %s\n", crossed, name);
            if (n > 0 && write(fd, line, (size_t)n) < 0) {
                /* best effort: the log only helps tests enumerate points */
            }
        }
    }
    const char *at = getenv("MPP_FAULT_KILL_AT");
    if (at && strtoul(at, NULL, 10) == crossed)
        raise(SIGKILL);
}
#else
/* Keeps the translation unit non-empty in release builds. */
extern int mpp_fault_unused;
#endif
