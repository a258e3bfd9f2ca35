/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpp-bench-files: the small-file workload of the data-path benchmarks.
 *
 *   mpp-bench-files DIR FILES BYTES
 *       creates FILES new files of BYTES bytes each in DIR (create, write, close), timed, then
 *       removes them (not timed). Prints the seconds the creation took. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fputs("usage: mpp-bench-files DIR FILES BYTES\n", stderr);
        return 2;
    }
    const char *dir = argv[1];
    long n = strtol(argv[2], NULL, 10), size = strtol(argv[3], NULL, 10);
    char *buf = malloc((size_t)size + 1);
    if (!buf)
        return 1;
    memset(buf, 'x', (size_t)size);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        fprintf(stderr, "mpp-bench-files: %s: %s\n", dir, strerror(errno));
        return 1;
    }
    char name[64];
    double t0 = now();
    for (long i = 0; i < n; i++) {
        snprintf(name, sizeof(name), "f%ld", i);
        int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0 || write(fd, buf, (size_t)size) != size || close(fd) < 0) {
            fprintf(stderr, "mpp-bench-files: %s/%s: %s\n", dir, name, strerror(errno));
            return 1;
        }
    }
    double dt = now() - t0;
    for (long i = 0; i < n; i++) {
        snprintf(name, sizeof(name), "f%ld", i);
        unlinkat(dfd, name, 0);
    }
    close(dfd);
    free(buf);
    printf("%.9f\n", dt);
    return 0;
}
