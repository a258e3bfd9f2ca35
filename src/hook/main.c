/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpp-hook: the chain as an OCI hook, for engines that run hooks rather than a custom runtime.
 *
 *   mpp-hook [--mpp-config=PATH] precreate [ID]   config.json on stdin, rewritten on stdout
 *   mpp-hook [--mpp-config=PATH] poststop         the OCI state on stdin; tears down state.id
 *
 * Without ID, precreate finds the container's ID in what Podman and CRI-O put in config.json. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpp/mpp.h>

#include "hook.h"
#include "macro.h"

static void usage(void)
{
    fprintf(stderr, "usage: mpp-hook [--mpp-config=PATH] precreate [ID] | poststop\n");
}

static int run(int argc, char **argv)
{
    (void)mpp_nofile_raise(); /* pinning holds a descriptor per mount (limits.h) */
    const char *config_path = NULL;
    static const struct option opts[] = {
        {"mpp-config", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    int o;
    while ((o = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        if (o == 'c')
            config_path = optarg;
        else {
            usage();
            return o == 'h' ? 0 : 2;
        }
    }
    if (optind >= argc) {
        usage();
        return 2;
    }
    const char *stage = argv[optind];
    const char *id = optind + 1 < argc ? argv[optind + 1] : NULL;

    mpp_config cfg = {0};
    mpp_error err = {0};
    size_t len = 0;
    _cleanup_free_ char *input = hook_read_stdin(&len, &err);
    int r = input ? mpp_config_load(config_path, &cfg, &err) : err.code;
    if (r >= 0) {
        if (strcmp(stage, "precreate") == 0) {
            r = hook_precreate(&cfg, input, len, id, stdout, &err);
        } else if (strcmp(stage, "poststop") == 0) {
            r = hook_poststop(&cfg, input, len, &err);
        } else {
            usage();
            mpp_config_clear(&cfg);
            return 2;
        }
    }
    mpp_config_clear(&cfg);
    if (r < 0) {
        fprintf(stderr, "mpp-hook: %s\n", err.msg);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    return run(argc, argv);
}
