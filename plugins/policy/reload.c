/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The live configuration and its reload on SIGHUP.
 *
 * The SDK blocks SIGTERM and SIGINT and waits for them on a signalfd in the main thread. We do
 * the same for SIGHUP: it is blocked before the SDK creates its threads (so that none of them
 * takes it), and a thread of ours waits on a signalfd for it, and on an eventfd that asks it to
 * stop. Callbacks take a reference on the configuration they use, so that a reload never frees
 * one under a running attach. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "macro.h"
#include "plugin-util.h"
#include "policy.h"

struct policy_state {
    char *path;
    pthread_mutex_t lock;
    policy_config *current;
    int signal_fd, stop_fd;
    bool thread_started;
    pthread_t thread;
    sigset_t old_mask;
    bool mask_set;
};

int policy_state_new(const char *config_path, policy_state **out, mpp_error *err)
{
    *out = NULL;
    policy_state *s = calloc(1, sizeof(*s));
    if (!s)
        return mpp_error_set(err, -ENOMEM, "out of memory");
    s->signal_fd = s->stop_fd = -1;
    pthread_mutex_init(&s->lock, NULL);
    s->path = strdup(config_path);
    if (!s->path) {
        policy_state_free(s);
        return mpp_error_set(err, -ENOMEM, "out of memory");
    }
    int r = policy_config_load(config_path, &s->current, err);
    if (r < 0) {
        policy_state_free(s);
        return r;
    }
    s->current->refs = 1;
    *out = s;
    return 0;
}

policy_config *policy_state_get(policy_state *s)
{
    pthread_mutex_lock(&s->lock);
    policy_config *c = s->current;
    c->refs++;
    pthread_mutex_unlock(&s->lock);
    return c;
}

void policy_state_put(policy_state *s, policy_config *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&s->lock);
    bool last = --c->refs == 0;
    pthread_mutex_unlock(&s->lock);
    if (last)
        policy_config_free(c);
}

int policy_state_reload(policy_state *s, mpp_error *err)
{
    policy_config *c = NULL;
    int r = policy_config_load(s->path, &c, err);
    if (r < 0)
        return r;
    c->refs = 1;
    pthread_mutex_lock(&s->lock);
    policy_config *old = s->current;
    s->current = c;
    pthread_mutex_unlock(&s->lock);
    policy_state_put(s, old);
    return 0;
}

static void *reloader(void *userdata)
{
    policy_state *s = userdata;
    for (;;) {
        struct pollfd p[] = {{.fd = s->signal_fd, .events = POLLIN},
                             {.fd = s->stop_fd, .events = POLLIN}};
        if (poll(p, ELEMENTSOF(p), -1) < 0) {
            if (errno == EINTR)
                continue;
            pu_log("error", "reloader: poll: %s; SIGHUP no longer reloads", strerror(errno));
            return NULL;
        }
        if (p[1].revents)
            return NULL;
        struct signalfd_siginfo si;
        if (read(s->signal_fd, &si, sizeof(si)) != (ssize_t)sizeof(si))
            continue;
        mpp_error err = {0};
        if (policy_state_reload(s, &err) < 0) {
            pu_log("error", "reload failed, keeping the previous configuration: %s", err.msg);
            continue;
        }
        policy_config *c = policy_state_get(s);
        pu_log("info", "reloaded %s (%zu rules, default %s)", s->path, c->n_rules,
               c->default_deny ? "deny" : "allow");
        policy_state_put(s, c);
    }
}

int policy_state_start_reloader(policy_state *s, mpp_error *err)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    int r = pthread_sigmask(SIG_BLOCK, &set, &s->old_mask);
    if (r != 0)
        return mpp_error_set(err, -r, "cannot block SIGHUP: %s", strerror(r));
    s->mask_set = true;
    s->signal_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (s->signal_fd < 0)
        return mpp_error_set(err, -errno, "cannot create a signalfd for SIGHUP: %s",
                             strerror(errno));
    s->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (s->stop_fd < 0)
        return mpp_error_set(err, -errno, "cannot create an eventfd: %s", strerror(errno));
    /* The thread must take no signal: SIGTERM, blocked by the SDK only later, would otherwise
     * kill the process through it. */
    sigset_t all, prev;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &prev);
    r = pthread_create(&s->thread, NULL, reloader, s);
    pthread_sigmask(SIG_SETMASK, &prev, NULL);
    if (r != 0)
        return mpp_error_set(err, -r, "cannot start the reload thread: %s", strerror(r));
    s->thread_started = true;
    return 0;
}

void policy_state_free(policy_state *s)
{
    if (!s)
        return;
    if (s->thread_started) {
        uint64_t one = 1;
        ssize_t w _unused_ = write(s->stop_fd, &one, sizeof(one));
        pthread_join(s->thread, NULL);
    }
    if (s->signal_fd >= 0) {
        /* A SIGHUP still pending would kill us once unblocked. */
        struct signalfd_siginfo si;
        while (read(s->signal_fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
            ;
        close(s->signal_fd);
    }
    if (s->stop_fd >= 0)
        close(s->stop_fd);
    if (s->mask_set)
        pthread_sigmask(SIG_SETMASK, &s->old_mask, NULL);
    if (s->current)
        policy_config_free(s->current); /* no callback runs any more */
    pthread_mutex_destroy(&s->lock);
    free(s->path);
    free(s);
}
