/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The chain (mpp/chain.h) against real plugins (test-plugins.h). */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include <mpp/chain.h>
#include <mpp/config.h>
#include <mpp/mpp-plugin.h>
#include <mpp/types.h>

#include "macro.h"
#include "test-plugins.h"

static void test_attach_then_detach(void **state)
{
    fixture *f = *state;
    plugin *p0 = add_plugin(f, "p0", ATTACH);
    make_chain(f);
    mpp_mount *m = one_bind(f->src, "/data");
    mpp_error err = {0};
    if (mpp_chain_attach(f->chain, "c1", m, 1, &err) < 0)
        fail_msg("attach: %s", err.msg);
    mpp_mounts_free(m, 1);
    assert_int_equal(p0->attaches, 1);
    assert_string_equal(p0->attach_id, "c1");
    assert_int_equal(mpp_chain_consulted(f->chain), 1);
    /* What the plugin holds is journalled: a later process finds the teardown to do. */
    assert_true(mpp_container_has_state(f->state_dir, "c1"));
    char **ids = NULL;
    size_t n = 0;
    assert_int_equal(mpp_chain_list(f->state_dir, &ids, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(ids[0], "c1");
    mpp_strv_free(ids, n);

    mpp_teardown t = {0};
    assert_int_equal(mpp_chain_detach(f->chain, "c1", 3, 0, &t, &err), 0);
    assert_true(t.complete);
    assert_false(t.failed);
    assert_int_equal(t.detached, 1);
    mpp_teardown_clear(&t);
    assert_int_equal(p0->detaches, 1);
    assert_string_equal(p0->detach_id, "c1");
    assert_true(p0->detach_has_exit);
    assert_int_equal(p0->detach_exit, 3);
    assert_false(mpp_container_has_state(f->state_dir, "c1"));
    /* Torn down once: a second detach finds nothing to do and calls no plugin. */
    assert_int_equal(mpp_chain_detach(f->chain, "c1", 3, 0, &t, &err), -ENOENT);
    mpp_teardown_clear(&t);
    assert_int_equal(p0->detaches, 1);
}

static void test_denial_names_the_plugin_and_unwinds(void **state)
{
    fixture *f = *state;
    plugin *p0 = add_plugin(f, "p0", ATTACH);
    plugin *p1 = add_plugin(f, "p1", DENY);
    make_chain(f);
    mpp_mount *m = one_bind(f->src, "/data");
    mpp_error err = {0};
    assert_true(mpp_chain_attach(f->chain, "c1", m, 1, &err) < 0);
    mpp_mounts_free(m, 1);
    char want[PATH_MAX + 64];
    snprintf(want, sizeof(want), "mount point plugin \"p1\" denied %s -> /data: no way", f->src);
    if (!strstr(err.msg, want))
        fail_msg("error \"%s\" lacks \"%s\"", err.msg, want);
    /* The plugin that attached is detached; the one that denied holds nothing. */
    assert_int_equal(p0->attaches, 1);
    assert_int_equal(p0->detaches, 1);
    assert_int_equal(p1->attaches, 1);
    assert_int_equal(p1->detaches, 0);
    assert_false(mpp_container_has_state(f->state_dir, "c1"));
}

static void test_unselected_mounts_consult_nobody(void **state)
{
    fixture *f = *state;
    plugin *p0 = add_plugin(f, "p0", VOLUMES);
    make_chain(f);
    mpp_mount *m = one_bind(f->src, "/data");
    mpp_error err = {0};
    assert_int_equal(mpp_chain_attach(f->chain, "c1", m, 1, &err), 0);
    mpp_mounts_free(m, 1);
    assert_int_equal(mpp_chain_consulted(f->chain), 0);
    assert_int_equal(p0->attaches, 0);
    assert_false(mpp_container_has_state(f->state_dir, "c1"));
    mpp_teardown t = {0};
    assert_int_equal(mpp_chain_detach(f->chain, "c1", 0, 0, &t, &err), -ENOENT);
    mpp_teardown_clear(&t);
    assert_int_equal(p0->detaches, 0);
}

/* The source hook: called once per EffectiveSource a plugin sets, before the next plugin is
 * asked, and what it writes is what the next plugin sees. */
typedef struct hook_seen {
    unsigned calls;
    size_t index;
    char plugin[16];
    char replace[PATH_MAX];
    bool fail;
} hook_seen;

static int hook(void *userdata, size_t index, mpp_mount *m, const char *plugin_name, mpp_error *err)
{
    hook_seen *h = userdata;
    h->calls++;
    h->index = index;
    snprintf(h->plugin, sizeof(h->plugin), "%s", plugin_name);
    if (h->fail)
        return mpp_error_set(err, -EPERM, "hook refuses %s", m->effective_source);
    free(m->effective_source);
    m->effective_source = strdup(h->replace);
    return m->effective_source ? 0 : -ENOMEM;
}

static void test_source_hook_sees_each_effective_source(void **state)
{
    fixture *f = *state;
    plugin *p0 = add_plugin(f, "p0", REDIRECT);
    plugin_redirect(f, p0, "redirected");
    plugin *p1 = add_plugin(f, "p1", ATTACH);
    make_chain(f);
    hook_seen h = {0};
    snprintf(h.replace, sizeof(h.replace), "%s/canonical", f->dir);
    mpp_chain_set_source_hook(f->chain, hook, &h);
    mpp_mount m[2] = {0};
    mpp_mount *a = one_bind("/nothing-selected-here", "/vol"), *b = one_bind(f->src, "/data");
    free(a->type);
    a->type = strdup("tmpfs"); /* not selected by either plugin */
    m[0] = *a;
    m[1] = *b;
    free(a);
    free(b);
    mpp_error err = {0};
    if (mpp_chain_attach(f->chain, "c1", m, 2, &err) < 0)
        fail_msg("attach: %s", err.msg);
    mpp_chain_set_source_hook(f->chain, NULL, NULL);
    assert_int_equal(h.calls, 1);
    assert_int_equal(h.index, 1);
    assert_string_equal(h.plugin, "p0");
    assert_string_equal(p1->seen_effective, h.replace);
    assert_string_equal(m[1].effective_source, h.replace);
    for (size_t i = 0; i < 2; i++)
        mpp_mount_clear(&m[i]);
    mpp_teardown t = {0};
    assert_int_equal(mpp_chain_detach(f->chain, "c1", 0, 0, &t, &err), 0);
    assert_true(t.complete);
    mpp_teardown_clear(&t);
    assert_int_equal(p0->detaches, 1);
    assert_int_equal(p1->detaches, 1);
}

static void test_failing_source_hook_unwinds(void **state)
{
    fixture *f = *state;
    plugin *p0 = add_plugin(f, "p0", REDIRECT);
    plugin_redirect(f, p0, "redirected");
    plugin *p1 = add_plugin(f, "p1", ATTACH);
    make_chain(f);
    hook_seen h = {.fail = true};
    mpp_chain_set_source_hook(f->chain, hook, &h);
    mpp_mount *m = one_bind(f->src, "/data");
    mpp_error err = {0};
    assert_true(mpp_chain_attach(f->chain, "c1", m, 1, &err) < 0);
    mpp_mounts_free(m, 1);
    if (!strstr(err.msg, "hook refuses"))
        fail_msg("error \"%s\" does not carry the hook's", err.msg);
    /* Like a refused Attach: the plugin that set it is detached, the next is never asked. */
    assert_int_equal(p0->detaches, 1);
    assert_int_equal(p1->attaches, 0);
    assert_false(mpp_container_has_state(f->state_dir, "c1"));
}

static void test_ids_and_exit_status(void **state)
{
    (void)state;
    assert_true(mpp_container_id_valid("c1"));
    assert_true(mpp_container_id_valid("A.b_c-9"));
    assert_false(mpp_container_id_valid(NULL));
    assert_false(mpp_container_id_valid(""));
    assert_false(mpp_container_id_valid("."));
    assert_false(mpp_container_id_valid(".."));
    assert_false(mpp_container_id_valid("a/b"));
    assert_false(mpp_container_id_valid("a b"));
    char long_id[1026];
    memset(long_id, 'a', sizeof(long_id) - 1);
    long_id[1025] = '\0';
    assert_false(mpp_container_id_valid(long_id));
    long_id[1024] = '\0';
    assert_true(mpp_container_id_valid(long_id));
    /* Protocol §6: only a 0 becomes 129 when the teardown failed. */
    assert_int_equal(mpp_exit_status_after_teardown(0, true), 129);
    assert_int_equal(mpp_exit_status_after_teardown(0, false), 0);
    assert_int_equal(mpp_exit_status_after_teardown(3, true), 3);
    assert_int_equal(mpp_exit_status_after_teardown(137, false), 137);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_attach_then_detach),
        T(test_denial_names_the_plugin_and_unwinds),
        T(test_unselected_mounts_consult_nobody),
        T(test_source_hook_sees_each_effective_source),
        T(test_failing_source_hook_unwinds),
        cmocka_unit_test(test_ids_and_exit_status),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
