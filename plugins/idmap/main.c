/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpp-plugin-idmap: sources presented with their owners mapped (see README.md). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpp/codec.h>
#include <mpp/mpp-plugin.h>
#include <mpp/pattern.h>

#include "idmap.h"
#include "plugin-util.h"

static int idmap_properties(void *userdata, mpp_properties_response *resp, mpp_error *err)
{
    const idmap *im = userdata;
    return pu_answer_patterns(im->cfg.patterns, im->cfg.n_patterns, resp, err);
}

static int idmap_attach_cb(void *userdata, const mpp_attach_request *req, mpp_attach_response *resp,
                           mpp_error *err)
{
    return idmap_attach(userdata, req, resp, err);
}

static int idmap_detach_cb(void *userdata, const mpp_detach_request *req, mpp_detach_response *resp,
                           mpp_error *err)
{
    mpp_error e = {0};
    int r = idmap_detach(userdata, req->id, &e);
    return pu_answer_detach(r, &e, resp, err);
}

int main(int argc, char **argv)
{
    pu_log_init("mpp-plugin-idmap");
    pu_args args;
    int r = pu_parse_args(argc, argv, "idmap", &args);
    if (r != 0)
        return r > 0 ? 0 : 2;

    idmap im = {0};
    char state_dir[PATH_MAX];
    mpp_error err = {0};
    if (pu_state_dir_arg("idmap", args.state_dir, state_dir, sizeof(state_dir)) < 0)
        return 2;
    if (idmap_config_load(args.config, &im.cfg, &err) < 0) {
        fprintf(stderr, "mpp-plugin-idmap: bad configuration: %s\n", err.msg);
        idmap_config_clear(&im.cfg);
        return 1;
    }
    /* The user namespaces are made once, before the server's threads exist (fork). */
    for (size_t i = 0; i < im.cfg.n_rules; i++) {
        if (idmap_userns_open(&im.cfg.rules[i], &im.cfg.rules[i].userns_fd, &err) < 0) {
            fprintf(stderr, "mpp-plugin-idmap: mappings[%zu]: %s\n", i, err.msg);
            idmap_config_clear(&im.cfg);
            return 1;
        }
    }
    im.state_dir = state_dir;
    pthread_mutex_init(&im.lock, NULL);
    if (pu_state_dir_ensure(state_dir, &err) < 0) {
        fprintf(stderr, "mpp-plugin-idmap: %s\n", err.msg);
        pthread_mutex_destroy(&im.lock);
        idmap_config_clear(&im.cfg);
        return 1;
    }
    idmap_collect_orphans(&im);

    static const mpp_plugin_ops ops = {
        .properties = idmap_properties, .attach = idmap_attach_cb, .detach = idmap_detach_cb};
    mpp_plugin_server_options opts;
    pu_server_options(&args, &opts);
    mpp_plugin_server *server = NULL;
    r = mpp_plugin_server_new(&opts, &ops, &im, &server, &err);
    if (r >= 0) {
        pu_log("info", "serving on %s, state in %s, %zu mapping%s", pu_socket_name(&args),
               state_dir, im.cfg.n_rules, im.cfg.n_rules == 1 ? "" : "s");
        r = mpp_plugin_server_run(server, &err);
    }
    if (r < 0)
        fprintf(stderr, "mpp-plugin-idmap: %s\n", err.msg);
    mpp_plugin_server_free(server);
    pthread_mutex_destroy(&im.lock);
    idmap_config_clear(&im.cfg);
    return r < 0 ? 1 : 0;
}
