/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpp-plugin-cow: copy-on-write bind mounts on overlayfs (see README.md). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpp/mpp-plugin.h>
#include <mpp/pattern.h>

#include "cow.h"
#include "plugin-util.h"

static int cow_properties(void *userdata, mpp_properties_response *resp, mpp_error *err)
{
    const cow *c = userdata;
    return pu_answer_patterns(c->cfg.patterns, c->cfg.n_patterns, resp, err);
}

static int cow_attach_cb(void *userdata, const mpp_attach_request *req, mpp_attach_response *resp,
                         mpp_error *err)
{
    return cow_attach(userdata, req, resp, err);
}

static int cow_detach_cb(void *userdata, const mpp_detach_request *req, mpp_detach_response *resp,
                         mpp_error *err)
{
    mpp_error e = {0};
    int r = cow_detach(userdata, req->id, &e);
    return pu_answer_detach(r, &e, resp, err);
}

int main(int argc, char **argv)
{
    pu_log_init("mpp-plugin-cow");
    pu_args args;
    int r = pu_parse_args(argc, argv, "cow", &args);
    if (r != 0)
        return r > 0 ? 0 : 2;

    cow c = {0};
    char state_dir[PATH_MAX];
    mpp_error err = {0};
    if (pu_state_dir_arg("cow", args.state_dir, state_dir, sizeof(state_dir)) < 0)
        return 2;
    if (cow_config_load(args.config, &c.cfg, &err) < 0) {
        fprintf(stderr, "mpp-plugin-cow: bad configuration: %s\n", err.msg);
        return 1;
    }
    c.state_dir = state_dir;
    pthread_mutex_init(&c.lock, NULL);
    if (pu_state_dir_ensure(state_dir, &err) < 0) {
        fprintf(stderr, "mpp-plugin-cow: %s\n", err.msg);
        cow_config_clear(&c.cfg);
        return 1;
    }
    cow_collect_orphans(&c);

    static const mpp_plugin_ops ops = {
        .properties = cow_properties, .attach = cow_attach_cb, .detach = cow_detach_cb};
    mpp_plugin_server_options opts;
    pu_server_options(&args, &opts);
    mpp_plugin_server *server = NULL;
    r = mpp_plugin_server_new(&opts, &ops, &c, &server, &err);
    if (r >= 0) {
        pu_log("info", "serving on %s, state in %s%s", pu_socket_name(&args), state_dir,
               c.cfg.keep ? ", keeping changes" : "");
        r = mpp_plugin_server_run(server, &err);
    }
    if (r < 0)
        fprintf(stderr, "mpp-plugin-cow: %s\n", err.msg);
    mpp_plugin_server_free(server);
    pthread_mutex_destroy(&c.lock);
    cow_config_clear(&c.cfg);
    return r < 0 ? 1 : 0;
}
