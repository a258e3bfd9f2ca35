/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libmpp-bench-preload.so: what the benchmarks cannot see from outside a process.
 * LD_PRELOADed into mpp-runtime, with MPP_BENCH_LOG=FILE it appends one line per event:
 *   "fsync COMM USEC FILE"            each call, with the time it took (MPP_BENCH_NOSYNC=DIR:
 *   "fdatasync COMM USEC FILE"        those of mpp-* programs on files under DIR succeed
 *                                     without syncing)
 *   "hwm COMM KIB ANON FILE"          the process's peak resident set (VmHWM) when it execs
 *                                     another program or exits (exit or _exit): its own peak,
 *                                     which getrusage would mix with that of the runtime it
 *                                     runs; and its current RssAnon and RssFile */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

extern char *program_invocation_short_name;

/* Appends "KIND COMM WHAT" to MPP_BENCH_LOG. */
static void log_line(const char *kind, const char *what)
{
    const char *path = getenv("MPP_BENCH_LOG");
    if (!path)
        return;
    int saved = errno;
    char line[4200];
    int n = snprintf(line, sizeof(line), "%s %s %s\n", kind, program_invocation_short_name, what);
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd >= 0) {
        if (write(fd, line, (size_t)(n < (int)sizeof(line) ? n : (int)sizeof(line) - 1)) < 0) {
            /* nothing to do: a lost line shows as a missing count */
        }
        close(fd);
    }
    errno = saved;
}

static double now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

/* Runs the real call (or skips it: MPP_BENCH_NOSYNC=DIR skips the syncs of mpp-* programs on
 * files under DIR) and logs it with its duration and the file it syncs. */
static int sync_call(const char *kind, int fd)
{
    int saved = errno;
    char file[4096] = "?", link[64];
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    ssize_t k = readlink(link, file, sizeof(file) - 1);
    file[k > 0 ? k : 1] = '\0';
    const char *dir = getenv("MPP_BENCH_NOSYNC");
    bool skip = dir && *dir && strncmp(program_invocation_short_name, "mpp", 3) == 0 &&
                strncmp(file, dir, strlen(dir)) == 0;
    errno = saved;
    int r = 0;
    double t0 = now_us();
    if (!skip) {
        int (*real)(int) = (int (*)(int))dlsym(RTLD_NEXT, kind);
        r = real(fd);
    }
    double t1 = now_us();
    saved = errno;
    char what[4200];
    snprintf(what, sizeof(what), "%.0f %s", t1 - t0, file);
    log_line(kind, what);
    errno = saved;
    return r;
}

int fsync(int fd)
{
    return sync_call("fsync", fd);
}

int fdatasync(int fd)
{
    return sync_call("fdatasync", fd);
}

static void log_hwm(void)
{
    FILE *f = fopen("/proc/self/status", "re");
    if (!f)
        return;
    char line[256];
    long kib = -1, anon = -1, file = -1;
    while (fgets(line, sizeof(line), f)) {
        sscanf(line, "VmHWM: %ld kB", &kib);
        sscanf(line, "RssAnon: %ld kB", &anon);
        sscanf(line, "RssFile: %ld kB", &file);
    }
    fclose(f);
    if (kib >= 0) {
        /* The peak, and what is resident now: private memory, and pages of mapped files
         * (libraries), which the machine shares with every other process mapping them. */
        char v[96];
        snprintf(v, sizeof(v), "%ld %ld %ld", kib, anon, file);
        log_line("hwm", v);
    }
}

int execv(const char *path, char *const argv[])
{
    log_hwm();
    int (*real)(const char *, char *const[]) =
        (int (*)(const char *, char *const[]))dlsym(RTLD_NEXT, "execv");
    return real(path, argv);
}

int execve(const char *path, char *const argv[], char *const envp[])
{
    log_hwm();
    int (*real)(const char *, char *const[], char *const[]) =
        (int (*)(const char *, char *const[], char *const[]))dlsym(RTLD_NEXT, "execve");
    return real(path, argv, envp);
}

__attribute__((destructor)) static void at_exit(void)
{
    log_hwm();
}

/* mpp's programs leave with _exit (no library destructors run, this shim's either). */
void _exit(int status)
{
    log_hwm();
    void (*real)(int) = (void (*)(int))dlsym(RTLD_NEXT, "_exit");
    if (real)
        real(status);
    for (;;)
        raise(SIGKILL);
}
