/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpp-chain-driver: runs the attach and detach chains as mpp-runtime does, for the chain's
 * system tests: sources pinned as mpp_interpose_attach pins them.
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

DEFINE_TRIVIAL_CLEANUP_FUNC(mpp_pins *, mpp_pins_free)

static int pin_effective(void *pins, size_t k, mpp_mount *m, const char *plugin, mpp_error *err)
{
    return mpp_pins_effective(pins, k, m, plugin, err);
}

/* The attach of mpp_interpose_attach (mpp/interpose.h) on bare MountPoints, call for call:
 * sources pinned before any plugin judges them, each EffectiveSource pinned as it is returned,
 * the judged objects taken (cloned for the runtime) after the chain, and the chain unwound when
 * that fails. The chain's system tests then run the path mpp-runtime runs. */
static int attach_pinned(mpp_chain *chain, const char *id, mpp_mount *mounts, size_t n,
                         mpp_error *err)
{
    const char *state_dir = mpp_chain_config(chain)->state_dir;
    char pin_dir[4096];
    if (snprintf(pin_dir, sizeof(pin_dir), "%s/pins", state_dir) >= (int)sizeof(pin_dir))
        return mpp_error_set(err, -ENAMETOOLONG, "state directory %s: path too long", state_dir);
    _cleanup_(mpp_pins_freep) mpp_pins *pins = NULL;
    int r = mpp_pins_resolve(mounts, n, &pins, err);
    if (r < 0)
        return r;
    mpp_chain_set_source_hook(chain, pin_effective, pins);
    r = mpp_chain_attach(chain, id, mounts, n, err);
    mpp_chain_set_source_hook(chain, NULL, NULL);
    if (r < 0)
        return r;
    if (mpp_chain_consulted(chain) == 0 && !mpp_container_has_state(state_dir, id))
        return 0;
    r = mpp_pins_take(pins, mounts, n, pin_dir, err);
    if (r < 0) {
        /* As the runtime does: the plugins attached but the container cannot start. */
        mpp_pins_free(TAKE_PTR(pins));
        mpp_teardown t = {0};
        mpp_error derr = {0};
        if (mpp_chain_detach(chain, id, -1, 0, &t, &derr) < 0 && derr.code != -ENOENT)
            mpp_error_append(err, "; and tearing down: %s", derr.msg);
        mpp_teardown_clear(&t);
    }
    return r;
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
    int r = attach_pinned(chain, id, mounts, n, &err);
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
