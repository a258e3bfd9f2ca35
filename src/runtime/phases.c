/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "../lib/phase.h"
#include "macro.h"
#include "phases.h"

static const char *phases_file;
static const char *command = "?";
static pid_t phases_pid;

void phases_init(void)
{
    phases_file = getenv("MPP_PHASES");
    if (isempty(phases_file)) {
        phases_file = NULL;
        return;
    }
    phases_pid = getpid();
    mpp_phase_start("configuration");
}

void phases_command(const char *cmd)
{
    if (cmd)
        command = cmd;
}

void phases_child(const char *name)
{
    mpp_phase_restart(name);
}

void phases_write(void)
{
    if (!phases_file)
        return;
    int saved = errno;
    const char *names[32];
    long long ns[32];
    size_t n = mpp_phase_totals(names, ns, ELEMENTSOF(names));
    /* One write of all lines: concurrent runs append whole lines. */
    size_t len = 0, cap = 0;
    _cleanup_free_ char *buf = NULL;
    for (size_t i = 0; i < n; i++) {
        _cleanup_free_ char *line = NULL;
        json_t *o = json_pack("{s:I, s:s, s:s, s:f}", "pid", (json_int_t)phases_pid, "cmd", command,
                              "phase", names[i], "us", (double)ns[i] / 1e3);
        if (o)
            line = json_dumps(o, JSON_COMPACT);
        json_decref(o);
        if (!line)
            continue;
        size_t l = strlen(line);
        if (len + l + 1 > cap) {
            size_t ncap = (len + l + 1) * 2;
            char *nb = realloc(buf, ncap);
            if (!nb)
                break;
            buf = nb;
            cap = ncap;
        }
        memcpy(buf + len, line, l);
        buf[len + l] = '\n';
        len += l + 1;
    }
    int fd = open(phases_file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd >= 0) {
        if (len && write(fd, buf, len) < 0) {
            /* a lost line shows as a missing phase */
        }
        close(fd);
    }
    errno = saved;
}
