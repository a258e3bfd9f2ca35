/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mppctl: the administrator's tool. Argument parsing only; the commands are in commands.c. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <mpp/limits.h>

#include "ctl.h"

static void usage(FILE *f)
{
    fputs("usage: mppctl [--mpp-config=PATH] [--json] COMMAND [ARGS]\n"
          "\n"
          "  plugins              the chain: address, health and filters of each plugin\n"
          "  ps [ID]              containers with plugin state and their plugin stacks\n"
          "  explain BUNDLE|ID    which plugins and patterns a bundle's mounts would reach\n"
          "                       (a container's bundle is asked of the real runtime)\n"
          "  recover ID|--all     finish the teardown of containers left behind\n"
          "  check-config [PATH]  validate a configuration and discover its plugins\n"
          "\n"
          "  --mpp-config=PATH    configuration (default: $MPP_CONFIG, else /etc/mpp/mpp.json)\n"
          "  --json               one JSON document on standard output\n"
          "  --root=DIR           explain: the real runtime's root (its --root), e.g.\n"
          "                       /run/docker/runtime-runc/moby for Docker\n"
          "  -h, --help           this help\n",
          f);
}

static const struct {
    const char *name;
    int (*run)(const ctl *c);
    size_t min_args, max_args;
} commands[] = {
    {"plugins", ctl_plugins, 0, 0},           {"ps", ctl_ps, 0, 1},
    {"explain", ctl_explain, 1, 1},           {"recover", ctl_recover, 0, 1},
    {"check-config", ctl_check_config, 0, 1},
};

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"mpp-config", required_argument, NULL, 'c'},
        {"json", no_argument, NULL, 'j'},
        {"all", no_argument, NULL, 'a'},
        {"root", required_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    ctl c = {0};
    int o;
    /* recover detaches containers with many mounts and plugins (limits.h). */
    (void)mpp_nofile_raise();
    /* Options may come before or after the command (GNU permutation). */
    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (o) {
        case 'c':
            c.config_path = optarg;
            break;
        case 'j':
            c.json = true;
            break;
        case 'a':
            c.all = true;
            break;
        case 'r':
            c.root = optarg;
            break;
        case 'h':
            usage(stdout);
            return CTL_OK;
        default:
            usage(stderr);
            return CTL_USAGE;
        }
    }
    if (optind >= argc) {
        fputs("mppctl: no command given\n", stderr);
        usage(stderr);
        return CTL_USAGE;
    }
    const char *cmd = argv[optind];
    c.args = argv + optind + 1;
    c.n_args = (size_t)(argc - optind - 1);
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(cmd, commands[i].name) != 0)
            continue;
        if (c.n_args < commands[i].min_args || c.n_args > commands[i].max_args) {
            fprintf(stderr, "mppctl: %s: wrong number of arguments\n", cmd);
            usage(stderr);
            return CTL_USAGE;
        }
        if (c.all && strcmp(cmd, "recover") != 0) {
            fprintf(stderr, "mppctl: %s: --all is an option of recover only\n", cmd);
            return CTL_USAGE;
        }
        if (c.root && strcmp(cmd, "explain") != 0) {
            fprintf(stderr, "mppctl: %s: --root is an option of explain only\n", cmd);
            return CTL_USAGE;
        }
        return commands[i].run(&c);
    }
    fprintf(stderr, "mppctl: unknown command \"%s\"\n", cmd);
    usage(stderr);
    return CTL_USAGE;
}
