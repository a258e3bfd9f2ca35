/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpp-plugin-audit: writes, creates, deletes and renames under the selected mounts, as JSON
 * lines (see README.md). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mpp/codec.h>
#include <mpp/mpp-plugin.h>
#include <mpp/pattern.h>

#include "audit.h"
#include "plugin-util.h"

static int audit_properties(void *userdata, mpp_properties_response *resp, mpp_error *err)
{
    const audit *a = userdata;
    return pu_answer_patterns(a->cfg.patterns, a->cfg.n_patterns, resp, err);
}

static int audit_attach_cb(void *userdata, const mpp_attach_request *req, mpp_attach_response *resp,
                           mpp_error *err)
{
    return audit_attach(userdata, req, resp, err);
}

static int audit_detach_cb(void *userdata, const mpp_detach_request *req, mpp_detach_response *resp,
                           mpp_error *err)
{
    mpp_error e = {0};
    int r = audit_detach(userdata, req->id, &e);
    return pu_answer_detach(r, &e, resp, err);
}

static void cleanup(audit *a)
{
    /* The states stay: a plugin started again resumes these audits. */
    while (a->ctrs) {
        audit_ctr *c = a->ctrs;
        a->ctrs = c->next;
        audit_ctr_free(a, c);
    }
    if (a->combined)
        fclose(a->combined);
    audit_fan_close(a);
    pthread_mutex_destroy(&a->lock);
    audit_config_clear(&a->cfg);
}

static int setup(audit *a, const char *state_dir, mpp_error *err)
{
    int r;
    if ((r = pu_mkdir_p(a->cfg.log_dir, 0750, err)) < 0 ||
        (r = pu_state_dir_ensure(state_dir, err)) < 0)
        return r;
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/audit.jsonl", a->cfg.log_dir);
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0640);
    if (fd < 0 || !(a->combined = fdopen(fd, "ae"))) {
        r = mpp_error_set(err, -errno, "cannot open the log %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return r;
    }
    return audit_fan_open(a, err);
}

int main(int argc, char **argv)
{
    pu_log_init("mpp-plugin-audit");
    pu_args args;
    int r = pu_parse_args(argc, argv, "audit", &args);
    if (r != 0)
        return r > 0 ? 0 : 2;

    audit a = {.fan_fd = -1, .stop_fd = -1};
    char state_dir[PATH_MAX];
    mpp_error err = {0};
    if (pu_state_dir_arg("audit", args.state_dir, state_dir, sizeof(state_dir)) < 0)
        return 2;
    pthread_mutex_init(&a.lock, NULL);
    a.state_dir = state_dir;
    if (audit_config_load(args.config, &a.cfg, &err) < 0) {
        fprintf(stderr, "mpp-plugin-audit: bad configuration: %s\n", err.msg);
        cleanup(&a);
        return 1;
    }
    if (setup(&a, state_dir, &err) < 0) {
        fprintf(stderr, "mpp-plugin-audit: %s\n", err.msg);
        cleanup(&a);
        return 1;
    }
    audit_resume(&a);

    static const mpp_plugin_ops ops = {
        .properties = audit_properties, .attach = audit_attach_cb, .detach = audit_detach_cb};
    mpp_plugin_server_options opts;
    pu_server_options(&args, &opts);
    mpp_plugin_server *server = NULL;
    r = mpp_plugin_server_new(&opts, &ops, &a, &server, &err);
    /* After the server: our thread inherits the signal mask it sets. */
    if (r >= 0)
        r = audit_reader_start(&a, &err);
    if (r >= 0) {
        pu_log("info", "serving on %s, state in %s, logs in %s", pu_socket_name(&args), state_dir,
               a.cfg.log_dir);
        r = mpp_plugin_server_run(server, &err);
    }
    if (r < 0)
        fprintf(stderr, "mpp-plugin-audit: %s\n", err.msg);
    audit_reader_stop(&a);
    mpp_plugin_server_free(server);
    pthread_mutex_lock(&a.lock);
    audit_fan_drain(&a, true);
    pthread_mutex_unlock(&a.lock);
    cleanup(&a);
    return r < 0 ? 1 : 0;
}
