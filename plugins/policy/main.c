/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpp-plugin-policy: allow or deny bind and volume mounts by ordered rules (see README.md). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpp/mpp-plugin.h>

#include "macro.h"
#include "plugin-util.h"
#include "policy.h"

static int policy_properties(void *userdata, mpp_properties_response *resp, mpp_error *err)
{
    /* [{}]: every bind and volume mount; the rules decide, not the patterns, so that a reload
     * needs no new properties. */
    resp->patterns = calloc(1, sizeof(mpp_pattern));
    if (!resp->patterns)
        return mpp_error_set(err, -ENOMEM, "out of memory");
    mpp_pattern_init(&resp->patterns[0]);
    resp->n_patterns = 1;
    resp->success = true;
    return 0;
}

static int policy_attach(void *userdata, const mpp_attach_request *req, mpp_attach_response *resp,
                         mpp_error *err)
{
    policy_state *s = userdata;
    policy_config *c = policy_state_get(s);
    _cleanup_(policy_cache_clear) policy_cache cache = {0};
    int r = 0;
    resp->success = true;
    for (size_t i = 0; i < req->n_mounts; i++) {
        char *deny = NULL;
        r = policy_decide(c, &cache, &req->mounts[i], &deny, err);
        if (r < 0)
            break;
        if (deny) {
            pu_log("info", "container %s: %s", req->id ? req->id : "?", deny);
            resp->success = false;
            resp->err = deny;
            break;
        }
    }
    /* Nothing attached: Attachments stays empty, so no detach will come. */
    policy_state_put(s, c);
    return r;
}

int main(int argc, char **argv)
{
    pu_log_init("mpp-plugin-policy");
    pu_args args;
    int r = pu_parse_args(argc, argv, "policy", &args);
    if (r != 0)
        return r > 0 ? 0 : 2;
    if (!args.config) {
        fprintf(stderr, "mpp-plugin-policy: --config FILE is required (the rules to apply)\n");
        return 2;
    }

    mpp_error err = {0};
    policy_state *state = NULL;
    if (policy_state_new(args.config, &state, &err) < 0) {
        fprintf(stderr, "mpp-plugin-policy: bad configuration: %s\n", err.msg);
        return 1;
    }

    static const mpp_plugin_ops ops = {.properties = policy_properties, .attach = policy_attach};
    mpp_plugin_server_options opts;
    pu_server_options(&args, &opts);
    mpp_plugin_server *server = NULL;
    /* SIGHUP is blocked before the SDK starts its threads, so that they inherit the mask. */
    r = policy_state_start_reloader(state, &err);
    if (r >= 0)
        r = mpp_plugin_server_new(&opts, &ops, state, &server, &err);
    if (r >= 0) {
        policy_config *c = policy_state_get(state);
        pu_log("info", "serving on %s with %s (%zu rules, default %s)", pu_socket_name(&args),
               args.config, c->n_rules, c->default_deny ? "deny" : "allow");
        policy_state_put(state, c);
        r = mpp_plugin_server_run(server, &err);
    }
    if (r < 0)
        fprintf(stderr, "mpp-plugin-policy: %s\n", err.msg);
    mpp_plugin_server_free(server);
    policy_state_free(state);
    return r < 0 ? 1 : 0;
}
