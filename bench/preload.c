/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libmpp-bench-preload.so: what the benchmarks cannot see from outside a process.
 * LD_PRELOADed into mpp-runtime, with MPP_BENCH_LOG=FILE it appends one line per event:
 *   "fsync COMM FILE" / "fdatasync COMM FILE"   each call (MPP_BENCH_NOSYNC=DIR: those of
 *                                     mpp-* programs on files under DIR succeed without
 *                                     syncing: the journal's cost is the difference)
 *   "hwm COMM KIB ANON FILE"          the process's peak resident set (VmHWM) when it execs
 *                                     another program or exits: its own peak, which getrusage
 *                                     would mix with that of the runtime it runs; and its
 *                                     current RssAnon and RssFile */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* Logs the call with the file it syncs; true when it is to be skipped: MPP_BENCH_NOSYNC=DIR
 * skips the syncs of mpp-* programs on files under DIR. */
static int sync_call(const char *kind, int fd)
{
    int saved = errno;
    char file[4096] = "?", link[64];
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    ssize_t k = readlink(link, file, sizeof(file) - 1);
    file[k > 0 ? k : 1] = '\0';
    errno = saved;
    log_line(kind, file);
    const char *dir = getenv("MPP_BENCH_NOSYNC");
    return dir && *dir && strncmp(program_invocation_short_name, "mpp", 3) == 0 &&
           strncmp(file, dir, strlen(dir)) == 0;
}

int fsync(int fd)
{
    if (sync_call("fsync", fd))
        return 0;
    int (*real)(int) = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    return real(fd);
}

int fdatasync(int fd)
{
    if (sync_call("fdatasync", fd))
        return 0;
    int (*real)(int) = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    return real(fd);
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
