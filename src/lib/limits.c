/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* File descriptor limits. See limits.h. */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/resource.h>

#include <mpp/limits.h>

#include "macro.h"

/* Process-wide, like the limit itself: the soft limit the engine gave us. */
static struct rlimit saved_nofile;
static bool nofile_raised;

int mpp_nofile_raise(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return -errno;
    if (!nofile_raised) {
        saved_nofile = rl;
        nofile_raised = true;
    }
    if (rl.rlim_cur == rl.rlim_max)
        return 0;
    rl.rlim_cur = rl.rlim_max;
    return setrlimit(RLIMIT_NOFILE, &rl) < 0 ? -errno : 0;
}

void mpp_nofile_restore(void)
{
    if (!nofile_raised)
        return;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return;
    rl.rlim_cur = saved_nofile.rlim_cur <= rl.rlim_max ? saved_nofile.rlim_cur : rl.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &rl);
}

/* Descriptors open now; counting them is cheap next to what they are counted for. */
static size_t open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return 0;
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (de->d_name[0] != '.')
            n++;
    closedir(d);
    return n > 0 ? n - 1 : 0; /* not the directory's own */
}

int mpp_nofile_check(size_t need, const char *what, mpp_error *err)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return mpp_error_set(err, -errno, "%s: cannot read the file descriptor limit: %m", what);
    if (rl.rlim_cur == RLIM_INFINITY)
        return 0;
    size_t open = open_fds();
    size_t total = need + open + MPP_NOFILE_MARGIN;
    if (total >= need && (rlim_t)total <= rl.rlim_cur)
        return 0;
    return mpp_error_set(err, -EMFILE,
                         "%s: needs about %zu file descriptors (%zu for the mounts, %zu open, %u "
                         "to spare), over the limit of %llu (RLIMIT_NOFILE, hard limit %llu): "
                         "raise the engine's limit or use fewer mounts",
                         what, total, need, open, MPP_NOFILE_MARGIN,
                         (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max);
}
