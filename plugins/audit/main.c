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
    resp->patterns = calloc(a->cfg.n_patterns ? a->cfg.n_patterns : 1, sizeof(mpp_pattern));
    if (!resp->patterns)
        return mpp_error_set(err, -ENOMEM, "out of memory");
    /* Copied through the codec: the SDK frees the answer. */
    for (size_t i = 0; i < a->cfg.n_patterns; i++) {
        char *text = NULL;
        int r = mpp_encode_pattern(&a->cfg.patterns[i], &text, err);
        if (r >= 0)
            r = mpp_decode_pattern(text, strlen(text), &resp->patterns[i], err);
        free(text);
        resp->n_patterns = i + 1;
        if (r < 0)
            return r;
    }
    resp->success = true;
    return 0;
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
    if (audit_detach(userdata, req->id, &e) < 0) {
        pu_log("error", "%s", e.msg);
        resp->success = false;
        resp->recoverable = true;
        resp->err = strdup(e.msg);
        if (!resp->err)
            return mpp_error_set(err, -ENOMEM, "out of memory");
        return 0;
    }
    resp->success = true;
    return 0;
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
    if (strlen(args.state_dir) > 2048 ||
        mpp_path_clean(args.state_dir, state_dir, sizeof(state_dir)) < 0) {
        fprintf(stderr, "mpp-plugin-audit: --state-dir %s: path too long (at most 2048 bytes)\n",
                args.state_dir);
        return 2;
    }
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
    mpp_plugin_server_options opts = {.socket_path = args.socket};
    mpp_plugin_server *server = NULL;
    r = mpp_plugin_server_new(&opts, &ops, &a, &server, &err);
    /* After the server: our thread inherits the signal mask it sets. */
    if (r >= 0)
        r = audit_reader_start(&a, &err);
    if (r >= 0) {
        pu_log("info", "serving on %s, state in %s, logs in %s", args.socket, state_dir,
               a.cfg.log_dir);
        r = mpp_plugin_server_run(server, &err);
    }
    if (r < 0)
        fprintf(stderr, "mpp-plugin-audit: %s\n", err.msg);
    audit_reader_stop(&a);
    mpp_plugin_server_free(server);
    pthread_mutex_lock(&a.lock);
    audit_fan_drain(&a);
    pthread_mutex_unlock(&a.lock);
    cleanup(&a);
    return r < 0 ? 1 : 0;
}
