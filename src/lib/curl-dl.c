/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>

#include "curl-dl.h"
#include <mpp/client.h>

__typeof__(curl_easy_init) *sym_curl_easy_init;
__typeof__(curl_easy_setopt) *sym_curl_easy_setopt;
__typeof__(curl_easy_perform) *sym_curl_easy_perform;
__typeof__(curl_easy_getinfo) *sym_curl_easy_getinfo;
__typeof__(curl_easy_cleanup) *sym_curl_easy_cleanup;
__typeof__(curl_easy_strerror) *sym_curl_easy_strerror;
__typeof__(curl_slist_append) *sym_curl_slist_append;
__typeof__(curl_slist_free_all) *sym_curl_slist_free_all;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char load_error[512];

#define LOAD(h, name)                                                                              \
    do {                                                                                           \
        *(void **)&sym_##name = dlsym(h, #name);                                                   \
        if (!sym_##name) {                                                                         \
            snprintf(load_error, sizeof(load_error), "libcurl has no symbol %s", #name);           \
            return;                                                                                \
        }                                                                                          \
    } while (0)

static void load(void)
{
    /* Never unloaded: curl's global state lives as long as the process. Lazy: of the 30-odd
     * libraries it pulls in, a plugin call uses few functions; binding them all up front cost
     * about 0.5 ms of the 5 ms the load takes here. */
    void *h = dlopen("libcurl.so.4", RTLD_LAZY | RTLD_LOCAL);
    if (!h) {
        snprintf(load_error, sizeof(load_error), "cannot load libcurl: %s", dlerror());
        return;
    }
    __typeof__(curl_global_init) *global_init;
    *(void **)&global_init = dlsym(h, "curl_global_init");
    if (!global_init) {
        snprintf(load_error, sizeof(load_error), "libcurl has no symbol curl_global_init");
        return;
    }
    LOAD(h, curl_easy_init);
    LOAD(h, curl_easy_setopt);
    LOAD(h, curl_easy_perform);
    LOAD(h, curl_easy_getinfo);
    LOAD(h, curl_easy_cleanup);
    LOAD(h, curl_easy_strerror);
    LOAD(h, curl_slist_append);
    LOAD(h, curl_slist_free_all);
    CURLcode rc = global_init(CURL_GLOBAL_DEFAULT);
    if (rc != CURLE_OK)
        snprintf(load_error, sizeof(load_error), "cannot initialize libcurl: %s",
                 sym_curl_easy_strerror(rc));
}

static void *preload_main(void *unused)
{
    (void)unused;
    pthread_once(&once, load);
    return NULL;
}

static pthread_t preload_thread;
/* 0: never asked; 1: asked, no thread; 2: its thread started; 3: joined */
static atomic_int preload_state;

void mpp_client_preload(void)
{
    int never = 0;
    if (!atomic_compare_exchange_strong(&preload_state, &never, 1))
        return;
    /* Without a thread the first call loads it itself: nothing is lost but the overlap. */
    if (pthread_create(&preload_thread, NULL, preload_main, NULL) == 0)
        atomic_store(&preload_state, 2);
}

void mpp_client_preload_wait(void)
{
    /* Joined, not only waited for: OpenSSL frees its per-thread state as the thread ends. */
    int started = 2;
    if (atomic_compare_exchange_strong(&preload_state, &started, 3))
        pthread_join(preload_thread, NULL);
}

int mpp_dlopen_curl(mpp_error *err)
{
    pthread_once(&once, load);
    if (load_error[0])
        return mpp_error_set(err, -ELIBACC, "%s", load_error);
    return 0;
}
