/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Real plugins for the unit tests of the chain and what runs it: SDK servers on real unix
 * sockets, each in a thread of the test process, found by discovery in the test's own plugin
 * directory (fixture.plugin_dir), with a chain over them (make_chain). Use setup and teardown as
 * each test's cmocka setup and teardown. Include after <cmocka.h>. */

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include <mpp/chain.h>
#include <mpp/config.h>
#include <mpp/mpp-plugin.h>
#include <mpp/types.h>

#include "macro.h"
#include "test-util.h"

typedef enum behaviour {
    ATTACH,   /* attaches every mount */
    DENY,     /* Success false */
    REDIRECT, /* attaches, EffectiveSource = redirect */
    VOLUMES,  /* selects volumes only: never asked about a bind */
} behaviour;

typedef struct plugin {
    const char *name;
    behaviour how;
    char redirect[PATH_MAX];
    mpp_plugin_server *server;
    pthread_t thread;
    /* What it was asked, under lock. */
    pthread_mutex_t lock;
    unsigned attaches, detaches;
    char attach_id[64], detach_id[64];
    char seen_effective[PATH_MAX]; /* the first mount's EffectiveSource in the last attach */
    bool detach_has_exit;
    int detach_exit;
} plugin;

#define MAX_PLUGINS 3

typedef struct fixture {
    char dir[64];
    char plugin_dir[128], state_dir[128], src[128];
    plugin plugins[MAX_PLUGINS];
    size_t n_plugins;
    mpp_chain *chain;
} fixture;

static inline int p_properties(void *userdata, mpp_properties_response *resp, mpp_error *err)
{
    plugin *p = userdata;
    resp->patterns = calloc(1, sizeof(*resp->patterns));
    if (!resp->patterns)
        return mpp_error_set(err, -ENOMEM, "out of memory");
    resp->n_patterns = 1;
    mpp_pattern_init(&resp->patterns[0]);
    resp->patterns[0].type = strdup(p->how == VOLUMES ? "volume" : "bind");
    resp->success = true;
    return 0;
}

static inline int p_attach(void *userdata, const mpp_attach_request *req, mpp_attach_response *resp,
                           mpp_error *err)
{
    plugin *p = userdata;
    pthread_mutex_lock(&p->lock);
    p->attaches++;
    snprintf(p->attach_id, sizeof(p->attach_id), "%s", req->id);
    snprintf(p->seen_effective, sizeof(p->seen_effective), "%s",
             req->n_mounts ? strempty(req->mounts[0].effective_source) : "");
    pthread_mutex_unlock(&p->lock);
    if (p->how == DENY) {
        resp->success = false;
        resp->err = strdup("no way");
        return 0;
    }
    resp->attachments = calloc(req->n_mounts, sizeof(*resp->attachments));
    if (!resp->attachments)
        return mpp_error_set(err, -ENOMEM, "out of memory");
    resp->n_attachments = req->n_mounts;
    for (size_t i = 0; i < req->n_mounts; i++) {
        resp->attachments[i].attach = true;
        if (p->how == REDIRECT)
            resp->attachments[i].changes.effective_source = strdup(p->redirect);
    }
    resp->success = true;
    return 0;
}

static inline int p_detach(void *userdata, const mpp_detach_request *req, mpp_detach_response *resp,
                           mpp_error *err)
{
    (void)err;
    plugin *p = userdata;
    pthread_mutex_lock(&p->lock);
    p->detaches++;
    snprintf(p->detach_id, sizeof(p->detach_id), "%s", req->id);
    p->detach_has_exit = req->has_exit_status;
    p->detach_exit = req->exit_status;
    pthread_mutex_unlock(&p->lock);
    resp->success = true;
    return 0;
}

static const mpp_plugin_ops test_plugin_ops = {p_properties, p_attach, p_detach};

static inline void *serve(void *arg)
{
    plugin *p = arg;
    mpp_error err = {0};
    if (mpp_plugin_server_run(p->server, &err) < 0)
        fprintf(stderr, "plugin %s: %s\n", p->name, err.msg);
    return NULL;
}

static inline plugin *add_plugin(fixture *f, const char *name, behaviour how)
{
    assert_true(f->n_plugins < MAX_PLUGINS);
    plugin *p = &f->plugins[f->n_plugins++];
    p->name = name;
    p->how = how;
    pthread_mutex_init(&p->lock, NULL);
    char sock[PATH_MAX];
    snprintf(sock, sizeof(sock), "%s/%s.sock", f->plugin_dir, name);
    mpp_plugin_server_options o = {.socket_path = sock, .threads = 1};
    mpp_error err = {0};
    if (mpp_plugin_server_new(&o, &test_plugin_ops, p, &p->server, &err) < 0)
        fail_msg("plugin %s: %s", name, err.msg);
    assert_int_equal(pthread_create(&p->thread, NULL, serve, p), 0);
    return p;
}

/* p redirects each mount it attaches to a new directory f->dir/LEAF. */
static inline void plugin_redirect(fixture *f, plugin *p, const char *leaf)
{
    char path[PATH_MAX];
    assert_true((size_t)snprintf(path, sizeof(path), "%s/%s", f->dir, leaf) < sizeof(path));
    assert_int_equal(mkdir(path, 0755), 0);
    memcpy(p->redirect, path, sizeof(path));
}

/* The chain over the plugins added so far, in that order. */
static inline void make_chain(fixture *f)
{
    json_t *names = json_array();
    for (size_t i = 0; i < f->n_plugins; i++)
        json_array_append_new(names, json_string(f->plugins[i].name));
    json_t *o =
        json_pack("{s:o, s:[s], s:s, s:i, s:i}", "plugins", names, "plugin_dirs", f->plugin_dir,
                  "state_dir", f->state_dir, "call_timeout_ms", 2000, "detach_timeout_ms", 1500);
    assert_non_null(o);
    _cleanup_free_ char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    assert_non_null(text);
    mpp_config cfg = {0};
    mpp_error err = {0};
    if (mpp_config_parse(text, strlen(text), "test", &cfg, &err) < 0)
        fail_msg("config: %s", err.msg);
    int r = mpp_chain_new(&cfg, &f->chain, &err);
    mpp_config_clear(&cfg);
    if (r < 0)
        fail_msg("mpp_chain_new: %s", err.msg);
}

static inline int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    if (!f || test_tmpdir_make(f->dir, sizeof(f->dir), "plugins") < 0) {
        free(f);
        return -1;
    }
    snprintf(f->plugin_dir, sizeof(f->plugin_dir), "%s/plugins", f->dir);
    snprintf(f->state_dir, sizeof(f->state_dir), "%s/state", f->dir);
    snprintf(f->src, sizeof(f->src), "%s/src", f->dir);
    if (mkdir(f->plugin_dir, 0755) < 0 || mkdir(f->src, 0755) < 0)
        return -1;
    *state = f;
    return 0;
}

static inline int teardown(void **state)
{
    fixture *f = *state;
    mpp_chain_free(f->chain);
    for (size_t i = 0; i < f->n_plugins; i++) {
        plugin *p = &f->plugins[i];
        if (p->server) { /* NULL: the test stopped it */
            mpp_plugin_server_stop(p->server);
            pthread_join(p->thread, NULL);
            mpp_plugin_server_free(p->server);
        }
        pthread_mutex_destroy(&p->lock);
    }
    int r = test_tmpdir_remove(f->dir);
    free(f);
    return r;
}

static inline mpp_mount *one_bind(const char *src, const char *dst)
{
    mpp_mount *m = calloc(1, sizeof(*m));
    assert_non_null(m);
    m->source = strdup(src);
    m->effective_source = strdup(src);
    m->destination = strdup(dst);
    m->type = strdup("bind");
    return m;
}
