/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpp-chain-driver: runs the attach and detach chains as mpp-runtime does, for the chain's
 * system tests.
 *
 *   mpp-chain-driver [--config FILE] attach ID MOUNTS.json|-
 *       prints the mounts after the chain (a JSON array of MountPoints); exit 1 on failure
 *   mpp-chain-driver [--config FILE] detach ID [EXIT_STATUS] [--resume]
 *       prints {"status", "failed", "complete", "detached", "errors"}; "none": true when the
 *       container has no state */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <mpp/mpp.h>

#include "macro.h"

static char *slurp(const char *path, size_t *len)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "re");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            cap = (cap + 4096) * 2;
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
        }
        size_t r = fread(buf + n, 1, 4096, f);
        n += r;
        if (r == 0)
            break;
    }
    if (f != stdin)
        fclose(f);
    if (buf)
        buf[n] = '\0';
    *len = n;
    return buf;
}

static int do_attach(mpp_chain *chain, const char *id, const char *file)
{
    size_t len = 0;
    _cleanup_free_ char *text = slurp(file, &len);
    if (!text) {
        fprintf(stderr, "mpp-chain-driver: cannot read %s\n", file);
        return 1;
    }
    mpp_error err = {0};
    mpp_mount *mounts = NULL;
    size_t n = 0;
    if (mpp_decode_mounts(text, len, &mounts, &n, &err) < 0) {
        fprintf(stderr, "mpp-chain-driver: %s: %s\n", file, err.msg);
        return 1;
    }
    int r = mpp_chain_attach(chain, id, mounts, n, &err);
    if (r < 0) {
        fprintf(stderr, "%s\n", err.msg);
        mpp_mounts_free(mounts, n);
        return 1;
    }
    _cleanup_free_ char *out = NULL;
    r = mpp_encode_mounts(mounts, n, &out, &err);
    mpp_mounts_free(mounts, n);
    if (r < 0) {
        fprintf(stderr, "mpp-chain-driver: %s\n", err.msg);
        return 1;
    }
    printf("%s\n", out);
    return 0;
}

static int do_detach(mpp_chain *chain, const char *id, int status, unsigned flags)
{
    mpp_teardown t = {0};
    mpp_error err = {0};
    int r = mpp_chain_detach(chain, id, status, flags, &t, &err);
    if (r == -ENOENT) {
        printf("{\"none\": true, \"status\": %d}\n", status);
        return 0;
    }
    if (r < 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    json_t *errors = json_array();
    for (size_t i = 0; i < t.n_errors; i++)
        json_array_append_new(errors, json_string(t.errors[i]));
    json_t *o = json_pack("{s:i, s:b, s:b, s:i, s:o}", "status",
                          mpp_exit_status_after_teardown(status, t.failed), "failed", t.failed,
                          "complete", t.complete, "detached", (int)t.detached, "errors", errors);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    if (s)
        printf("%s\n", s);
    free(s);
    json_decref(o);
    mpp_teardown_clear(&t);
    return 0;
}

int main(int argc, char **argv)
{
    const char *config = NULL;
    bool resume = false;
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"resume", no_argument, NULL, 'r'},
        {0},
    };
    int o;
    while ((o = getopt_long(argc, argv, "+c:", opts, NULL)) != -1) {
        if (o == 'c')
            config = optarg;
        else if (o == 'r')
            resume = true;
        else
            return 2;
    }
    if (argc - optind < 2) {
        fprintf(stderr, "usage: mpp-chain-driver [--config F] attach ID MOUNTS | detach ID [N]\n");
        return 2;
    }
    const char *verb = argv[optind], *id = argv[optind + 1];

    mpp_error err = {0};
    mpp_config cfg = {0};
    if (mpp_config_load(config, &cfg, &err) < 0) {
        fprintf(stderr, "mpp-chain-driver: %s\n", err.msg);
        return 1;
    }
    mpp_chain *chain = NULL;
    int r = mpp_chain_new(&cfg, &chain, &err);
    mpp_config_clear(&cfg);
    if (r < 0) {
        fprintf(stderr, "mpp-chain-driver: %s\n", err.msg);
        return 1;
    }
    int ret = 2;
    if (strcmp(verb, "attach") == 0 && argc - optind >= 3)
        ret = do_attach(chain, id, argv[optind + 2]);
    else if (strcmp(verb, "detach") == 0) {
        int status = argc - optind >= 3 ? atoi(argv[optind + 2]) : -1;
        for (int i = optind + 3; i < argc; i++)
            if (strcmp(argv[i], "--resume") == 0)
                resume = true;
        ret = do_detach(chain, id, status, resume ? MPP_DETACH_RESUME : 0);
    } else
        fprintf(stderr, "mpp-chain-driver: unknown verb %s\n", verb);
    mpp_chain_free(chain);
    return ret;
}
