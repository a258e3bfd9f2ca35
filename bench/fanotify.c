/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpp-bench-fanotify: the kernel's share of the audit plugin's cost.
 *
 *   mpp-bench-fanotify DIR
 *       puts the audit's fanotify mark (same group flags, same mask) on the file system that
 *       holds DIR, prints "ready", then reads the events in batches as the audit does and
 *       drops them, until SIGTERM or SIGINT; prints the number of events read to stderr when
 *       it ends. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fan-setup.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fputs("usage: mpp-bench-fanotify DIR\n", stderr);
        return 2;
    }
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    int fd = fanotify_init(AUDIT_FAN_INIT_FLAGS, O_RDONLY | O_CLOEXEC | O_LARGEFILE);
    if (fd < 0) {
        fprintf(stderr, "mpp-bench-fanotify: fanotify_init: %s\n", strerror(errno));
        return 1;
    }
    if (fanotify_mark(fd, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, AUDIT_MASK, AT_FDCWD, argv[1]) < 0) {
        fprintf(stderr, "mpp-bench-fanotify: mark %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    puts("ready");
    fflush(stdout);
    static char buf[AUDIT_READ_BUF];
    unsigned long long events = 0;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    while (!stop) {
        /* A timeout, so that a signal that lands just before poll() still ends the loop. */
        if (poll(&p, 1, 100) <= 0)
            continue;
        /* As the audit's reader: one read per wait, unless it found a backlog. */
        for (ssize_t n = AUDIT_BACKLOG; n >= AUDIT_BACKLOG;) {
            n = read(fd, buf, sizeof(buf));
            if (n <= 0)
                break;
            /* FID mode: no event carries a file descriptor to close. */
            for (ssize_t off = 0; off + (ssize_t)sizeof(struct fanotify_event_metadata) <= n;) {
                const struct fanotify_event_metadata *md = (const void *)(buf + off);
                if (md->event_len == 0)
                    break;
                events++;
                off += md->event_len;
            }
        }
        usleep(AUDIT_GATHER_MS * 1000); /* as the audit's reader does; a signal cuts it short */
    }
    fprintf(stderr, "mpp-bench-fanotify: %llu events\n", events);
    return 0;
}
