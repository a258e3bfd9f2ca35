/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of mpp-runtime's command line parser (src/runtime/cli.c): every option of crun
 * 1.8.1 and runc 1.1.5 that takes a value, in each form both runtimes read, leaves the
 * container ID where the runtime finds it; forms the runtimes read differently, and options
 * mpp does not know, are refused for create, run and delete. The lists below are written from
 * the runtimes' sources (the argp options of crun src/, the cli flags of runc), not from cli.c. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli.h"

/* ---- helpers ---- */

#define MAX_WORDS 32

typedef struct parsed {
    char *words[MAX_WORDS + 1]; /* argv, argv[0] = "mpp-runtime" */
    int argc;
    runtime_cli cli;
    mpp_error err;
    int r;
} parsed;

/* Parse a command line given as words separated by single spaces. */
static void parse(parsed *p, const char *line)
{
    memset(p, 0, sizeof(*p));
    char *copy = strdup(line);
    assert_non_null(copy);
    p->words[p->argc++] = strdup("mpp-runtime");
    for (char *save = NULL, *w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
        assert_true(p->argc < MAX_WORDS);
        p->words[p->argc++] = strdup(w);
    }
    free(copy);
    p->r = runtime_cli_parse(p->argc, p->words, &p->cli, &p->err);
}

static void done(parsed *p)
{
    runtime_cli_clear(&p->cli);
    for (int i = 0; i < p->argc; i++)
        free(p->words[i]);
}

static void assert_parses(parsed *p, const char *line)
{
    parse(p, line);
    if (p->r < 0)
        fail_msg("\"%s\" refused: %s", line, p->err.msg);
}

static void assert_refused(const char *line, const char *msg_part)
{
    parsed p;
    parse(&p, line);
    if (p.r != -EINVAL)
        fail_msg("\"%s\" parsed (r=%d), expected a refusal", line, p.r);
    if (!strstr(p.err.msg, msg_part))
        fail_msg("\"%s\": message \"%s\" lacks \"%s\"", line, p.err.msg, msg_part);
    done(&p);
}

/* The words passed to the runtime are the input without mpp's own options. */
static void assert_pass(const parsed *p, const char *line)
{
    char buf[1024] = "";
    for (int i = 0; i < p->cli.n_pass; i++) {
        if (i)
            strcat(buf, " ");
        strcat(buf, p->cli.pass[i]);
    }
    assert_string_equal(buf, line);
    assert_null(p->cli.pass[p->cli.n_pass]);
}

static void assert_command_id(const char *line, const char *command, const char *id)
{
    parsed p;
    assert_parses(&p, line);
    assert_string_equal(p.cli.command, command);
    if (!p.cli.id || strcmp(p.cli.id, id) != 0)
        fail_msg("\"%s\": ID %s, expected %s", line, p.cli.id ? p.cli.id : "(none)", id);
    assert_int_equal(p.cli.n_args, 1);
    assert_pass(&p, line);
    done(&p);
}

/* ---- every value-taking option ---- */

typedef struct value_option {
    const char *command; /* NULL: a global option */
    const char *name;
    char short_name;
} value_option;

static const value_option value_options[] = {
    /* global: runc main.go, crun crun.c */
    {NULL, "root", 0},
    {NULL, "log", 0},
    {NULL, "log-format", 0},
    {NULL, "criu", 0},
    {NULL, "rootless", 0},
    {NULL, "cgroup-manager", 0},
    {NULL, "log-level", 0},
    /* create.go, create.c */
    {"create", "bundle", 'b'},
    {"create", "config", 'f'},
    {"create", "console-socket", 0},
    {"create", "pid-file", 0},
    {"create", "preserve-fds", 0},
    /* run.go, run.c */
    {"run", "bundle", 'b'},
    {"run", "config", 'f'},
    {"run", "console-socket", 0},
    {"run", "pid-file", 0},
    {"run", "preserve-fds", 0},
    /* exec.go, exec.c */
    {"exec", "console-socket", 0},
    {"exec", "cwd", 0},
    {"exec", "env", 'e'},
    {"exec", "user", 'u'},
    {"exec", "process", 'p'},
    {"exec", "pid-file", 0},
    {"exec", "process-label", 0},
    {"exec", "apparmor", 0},
    {"exec", "cap", 'c'},
    {"exec", "preserve-fds", 0},
    {"exec", "cgroup", 0},
    /* ps.go, ps.c; list.go, list.c */
    {"ps", "format", 'f'},
    {"list", "format", 'f'},
    /* update.go, update.c */
    {"update", "resources", 'r'},
    {"update", "blkio-weight", 0},
    {"update", "cpu-period", 0},
    {"update", "cpu-quota", 0},
    {"update", "cpu-share", 0},
    {"update", "cpu-rt-period", 0},
    {"update", "cpu-rt-runtime", 0},
    {"update", "cpuset-cpus", 0},
    {"update", "cpuset-mems", 0},
    {"update", "kernel-memory", 0},
    {"update", "kernel-memory-tcp", 0},
    {"update", "memory", 0},
    {"update", "memory-reservation", 0},
    {"update", "memory-swap", 0},
    {"update", "pids-limit", 0},
    {"update", "l3-cache-schema", 0},
    {"update", "mem-bw-schema", 0},
    /* checkpoint.go, checkpoint.c */
    {"checkpoint", "image-path", 0},
    {"checkpoint", "work-path", 0},
    {"checkpoint", "parent-path", 0},
    {"checkpoint", "status-fd", 0},
    {"checkpoint", "page-server", 0},
    {"checkpoint", "manage-cgroups-mode", 0},
    {"checkpoint", "empty-ns", 0},
    /* restore.go, restore.c */
    {"restore", "console-socket", 0},
    {"restore", "image-path", 0},
    {"restore", "work-path", 0},
    {"restore", "manage-cgroups-mode", 0},
    {"restore", "bundle", 'b'},
    {"restore", "pid-file", 0},
    {"restore", "empty-ns", 0},
    {"restore", "lsm-profile", 0},
    {"restore", "lsm-mount-context", 0},
    /* spec.go, spec.c */
    {"spec", "bundle", 'b'},
    {"spec", "file", 'f'},
    /* events.go */
    {"events", "interval", 0},
};

static void test_every_value_option(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof(value_options) / sizeof(value_options[0]); k++) {
        const value_option *o = &value_options[k];
        const char *cmd = o->command ? o->command : "state";
        char line[256];
        /* The value looks like an ID: taken for one, the ID would be wrong. */
        if (o->command) {
            snprintf(line, sizeof(line), "%s --%s VALUE ID", cmd, o->name);
            assert_command_id(line, cmd, "ID");
            snprintf(line, sizeof(line), "%s --%s=VALUE ID", cmd, o->name);
            assert_command_id(line, cmd, "ID");
            snprintf(line, sizeof(line), "%s ID --%s VALUE", cmd, o->name);
            assert_command_id(line, cmd, "ID");
            if (o->short_name) {
                snprintf(line, sizeof(line), "%s -%c VALUE ID", cmd, o->short_name);
                assert_command_id(line, cmd, "ID");
                snprintf(line, sizeof(line), "%s ID -%c VALUE", cmd, o->short_name);
                assert_command_id(line, cmd, "ID");
            }
        } else {
            /* A global option's value is not the command. */
            snprintf(line, sizeof(line), "--%s VALUE state ID", o->name);
            assert_command_id(line, "state", "ID");
            snprintf(line, sizeof(line), "--%s=VALUE state ID", o->name);
            assert_command_id(line, "state", "ID");
            /* Go's flag reads -name as --name (crun refuses it). */
            snprintf(line, sizeof(line), "-%s VALUE state ID", o->name);
            assert_command_id(line, "state", "ID");
        }
    }
}

static void test_value_option_missing_value(void **state)
{
    (void)state;
    assert_refused("create ID --bundle", "--bundle needs a value");
    assert_refused("run ID -f", "-f needs a value");
    assert_refused("--root", "--root needs a value");
    assert_refused("--log-format", "needs a value");
    assert_refused("--mpp-config", "--mpp-config needs a value");
}

/* A value is the next word whatever it looks like, in both runtimes. */
static void test_value_looks_like_an_option(void **state)
{
    (void)state;
    parsed p;
    assert_parses(&p, "create --pid-file -x --bundle -- ID");
    assert_string_equal(p.cli.pid_file, "-x");
    assert_string_equal(p.cli.bundle, "--");
    assert_string_equal(p.cli.id, "ID");
    assert_int_equal(p.cli.n_args, 1);
    done(&p);
}

/* ---- flags take no value ---- */

static void test_flags(void **state)
{
    (void)state;
    assert_command_id("create --no-pivot --no-new-keyring --no-subreaper ID", "create", "ID");
    assert_command_id("run -d ID", "run", "ID");
    assert_command_id("run --detach --keep ID", "run", "ID");
    assert_command_id("delete -f ID", "delete", "ID");
    assert_command_id("delete --force ID", "delete", "ID");
    assert_command_id("delete -r ID", "delete", "ID");
    assert_command_id("delete --regex ID", "delete", "ID");
    assert_command_id("--debug --systemd-cgroup delete ID", "delete", "ID");
    assert_command_id("exec -t -d ID", "exec", "ID");
    assert_command_id("checkpoint --leave-running --pre-dump ID", "checkpoint", "ID");

    parsed p;
    assert_parses(&p, "run -d --keep ID");
    assert_true(p.cli.detach);
    assert_true(p.cli.keep);
    done(&p);
    assert_parses(&p, "delete ID -f");
    assert_true(p.cli.force);
    assert_false(p.cli.regex);
    done(&p);
    assert_parses(&p, "delete -r 'ab.*'");
    assert_true(p.cli.regex);
    assert_false(p.cli.force);
    assert_string_equal(p.cli.id, "'ab.*'");
    done(&p);
    /* -f is --force for delete, --config for create, --format for ps. */
    assert_parses(&p, "create -f my.json ID");
    assert_string_equal(p.cli.config, "my.json");
    done(&p);
    /* -r is --regex for delete, --resources for update. */
    assert_command_id("update -r res.json ID", "update", "ID");
}

/* ---- what mpp reads ---- */

static void test_fields(void **state)
{
    (void)state;
    parsed p;
    assert_parses(&p, "--mpp-config=/m.json --root /r --log=/l --log-format json create "
                      "--bundle /b --pid-file p.pid ID");
    assert_string_equal(p.cli.mpp_config, "/m.json");
    assert_string_equal(p.cli.root, "/r");
    assert_string_equal(p.cli.log, "/l");
    assert_string_equal(p.cli.log_format, "json");
    assert_string_equal(p.cli.bundle, "/b");
    assert_string_equal(p.cli.pid_file, "p.pid");
    assert_null(p.cli.config);
    assert_int_equal(p.cli.config_index, 0);
    assert_int_equal(p.cli.command_index, 5);
    assert_int_equal(p.cli.bundle_index, 7);
    assert_int_equal(p.cli.pid_file_index, 9);
    assert_int_equal(p.cli.console_socket_index, 0);
    assert_pass(&p, "--root /r --log=/l --log-format json create --bundle /b --pid-file p.pid ID");
    done(&p);

    /* --b: Go's alias, argp's abbreviation of --bundle. */
    assert_parses(&p, "--mpp-config /m.json run --b=/b ID");
    assert_string_equal(p.cli.mpp_config, "/m.json");
    assert_string_equal(p.cli.bundle, "/b");
    assert_pass(&p, "run --b=/b ID");
    done(&p);
}

/* The words that hold the values of --config, --bundle, --pid-file and --console-socket, for
 * mpp to put its own there: the value's word, or the whole "--name=value" word. */
static void test_value_words(void **state)
{
    (void)state;
    parsed p;
    assert_parses(&p, "--root /r run --config config/config.json ID");
    assert_string_equal(p.cli.config, "config/config.json");
    assert_ptr_equal(p.cli.pass[p.cli.config_index], p.cli.config);
    assert_string_equal(p.cli.id, "ID");
    assert_int_equal(p.cli.bundle_index, 0);
    done(&p);
    assert_parses(&p, "create ID --config=/abs/c.json");
    assert_string_equal(p.cli.pass[p.cli.config_index], "--config=/abs/c.json");
    assert_string_equal(p.cli.config, "/abs/c.json");
    assert_ptr_equal(p.cli.config, p.cli.pass[p.cli.config_index] + strlen("--config="));
    done(&p);
    assert_parses(&p, "create -f c.json ID");
    assert_ptr_equal(p.cli.pass[p.cli.config_index], p.cli.config);
    assert_string_equal(p.cli.pass[p.cli.config_index], "c.json");
    done(&p);
    /* argp's abbreviation of a long name. */
    assert_parses(&p, "create --conf c.json --bund /b ID");
    assert_string_equal(p.cli.config, "c.json");
    assert_string_equal(p.cli.bundle, "/b");
    assert_string_equal(p.cli.pass[p.cli.bundle_index], "/b");
    done(&p);

    assert_parses(&p, "--log /l create -b /b --pid-file=rel.pid --console-socket s.sock ID");
    assert_ptr_equal(p.cli.pass[p.cli.bundle_index], p.cli.bundle);
    assert_string_equal(p.cli.pass[p.cli.pid_file_index], "--pid-file=rel.pid");
    assert_string_equal(p.cli.pid_file, "rel.pid");
    assert_string_equal(p.cli.console_socket, "s.sock");
    assert_ptr_equal(p.cli.pass[p.cli.console_socket_index], p.cli.console_socket);
    assert_int_equal(p.cli.config_index, 0);
    done(&p);
    assert_parses(&p, "run --bundle=/b --console-sock=/s ID");
    assert_string_equal(p.cli.pass[p.cli.bundle_index], "--bundle=/b");
    assert_string_equal(p.cli.bundle, "/b");
    assert_string_equal(p.cli.pass[p.cli.console_socket_index], "--console-sock=/s");
    assert_string_equal(p.cli.console_socket, "/s");
    done(&p);
    /* Only create and run: exec's --pid-file and --console-socket are the runtime's. */
    assert_parses(&p, "exec --pid-file p --console-socket s ID sh");
    assert_int_equal(p.cli.pid_file_index + p.cli.console_socket_index, 0);
    assert_null(p.cli.pid_file);
    done(&p);
}

/* ---- "--" ---- */

static void test_double_dash(void **state)
{
    (void)state;
    parsed p;
    assert_parses(&p, "create -- --bundle");
    assert_string_equal(p.cli.id, "--bundle");
    assert_null(p.cli.bundle);
    assert_int_equal(p.cli.n_args, 1);
    assert_pass(&p, "create -- --bundle");
    done(&p);
    assert_parses(&p, "delete -f -- -x");
    assert_string_equal(p.cli.id, "-x");
    assert_true(p.cli.force);
    done(&p);
    /* Before the command: it ends the global options. */
    assert_parses(&p, "--root /r -- delete ID");
    assert_string_equal(p.cli.command, "delete");
    assert_string_equal(p.cli.id, "ID");
    done(&p);
    /* A lone "-" is a word, not an option. */
    assert_parses(&p, "delete -");
    assert_string_equal(p.cli.id, "-");
    done(&p);
}

static void test_positional_count(void **state)
{
    (void)state;
    parsed p;
    assert_parses(&p, "create A B");
    assert_int_equal(p.cli.n_args, 2);
    done(&p);
    assert_parses(&p, "create --bundle /b");
    assert_int_equal(p.cli.n_args, 0);
    assert_null(p.cli.id);
    done(&p);
    assert_parses(&p, "--version");
    assert_null(p.cli.command);
    assert_true(p.cli.help);
    done(&p);
}

static void test_help(void **state)
{
    (void)state;
    const char *lines[] = {"create --help ID", "run -h ID", "delete --usage ID",
                           "-v create ID",     "-V run ID", "--version create ID",
                           "--help run ID",    "run -? ID"};
    for (size_t k = 0; k < sizeof(lines) / sizeof(lines[0]); k++) {
        parsed p;
        assert_parses(&p, lines[k]);
        if (!p.cli.help)
            fail_msg("\"%s\": not seen as help", lines[k]);
        done(&p);
    }
    parsed p;
    assert_parses(&p, "--debug create ID");
    assert_false(p.cli.help);
    done(&p);
}

/* ---- refused where crun and runc disagree or mpp cannot know ---- */

static void test_refused(void **state)
{
    (void)state;
    /* argp: -d -f cfg; runc: unknown flag "df". */
    assert_refused("run -df cfg ID", "read it differently");
    /* argp: -b "undle"; Go: --bundle. */
    assert_refused("create -bundle /b ID", "read it differently");
    assert_refused("create -fconfig.json ID", "read it differently");
    assert_refused("run -b=/b ID", "read it differently");
    assert_refused("delete -fr ID", "read it differently");
    /* Go: --detach=false is not detached; argp refuses a value. */
    assert_refused("run --detach=false ID", "takes no value");
    assert_refused("delete --force=false ID", "takes no value");
    assert_refused("create --frobnicate x ID", "unknown to mpp-runtime");
    assert_refused("delete -x ID", "unknown to mpp-runtime");
    assert_refused("create -d ID", "unknown to mpp-runtime");
    /* Ambiguous abbreviations (argp refuses them too). */
    assert_refused("create --p x ID", "ambiguous");
    assert_refused("create --con x ID", "ambiguous");
    /* Global options: a runtime refuses an unknown one too. */
    assert_refused("--frob create ID", "unknown to mpp-runtime");
    assert_refused("--frob=1 delete ID", "unknown to mpp-runtime");
}

/* Commands mpp only passes on are parsed loosely: the real runtime judges them. */
static void test_loose_for_other_commands(void **state)
{
    (void)state;
    parsed p;
    assert_parses(&p, "exec --frob ID sh");
    assert_string_equal(p.cli.id, "ID");
    done(&p);
    assert_parses(&p, "ps -fjson ID");
    assert_string_equal(p.cli.id, "ID");
    done(&p);
    assert_parses(&p, "kill ID 9");
    assert_string_equal(p.cli.id, "ID");
    assert_int_equal(p.cli.n_args, 2);
    done(&p);
    assert_parses(&p, "exec ID --user");
    done(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_value_option),
        cmocka_unit_test(test_value_option_missing_value),
        cmocka_unit_test(test_value_looks_like_an_option),
        cmocka_unit_test(test_flags),
        cmocka_unit_test(test_fields),
        cmocka_unit_test(test_value_words),
        cmocka_unit_test(test_double_dash),
        cmocka_unit_test(test_positional_count),
        cmocka_unit_test(test_help),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_loose_for_other_commands),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
