/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The whole interposition on one bundle (mpp/interpose.h), as mpp-runtime and mpp-hook run it,
 * with real plugins (test-plugins.h). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <mpp/interpose.h>
#include <mpp/oci.h>

#include "test-plugins.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(mpp_bundle *, mpp_bundle_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(mpp_pins *, mpp_pins_free)

/* A bundle whose "mounts" are /proc, then a bind of source at /data (entry 1). */
static mpp_bundle *bundle_with(const char *source)
{
    json_t *o =
        json_pack("{s:s, s:{s:s}, s:{s:[s]}, s:[{s:s, s:s, s:s}, {s:s, s:s, s:s, s:[s]}]}",
                  "ociVersion", "1.0.2", "root", "path", "rootfs", "process", "args", "/bin/true",
                  "mounts", "destination", "/proc", "type", "proc", "source", "proc", "destination",
                  "/data", "type", "bind", "source", source, "options", "rbind");
    assert_non_null(o);
    _cleanup_free_ char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    assert_non_null(text);
    mpp_bundle *b = NULL;
    mpp_error err = {0};
    if (mpp_bundle_parse(text, strlen(text), "test", &b, &err) < 0)
        fail_msg("bundle: %s", err.msg);
    return b;
}

static void pin_dir_of(fixture *f, char *buf, size_t size)
{
    assert_true((size_t)snprintf(buf, size, "%s/pins", f->state_dir) < size);
}

static void detach(fixture *f, unsigned want_detached)
{
    mpp_teardown t = {0};
    mpp_error err = {0};
    assert_int_equal(mpp_chain_detach(f->chain, "c1", 0, 0, &t, &err), 0);
    assert_true(t.complete);
    assert_int_equal(t.detached, want_detached);
    mpp_teardown_clear(&t);
}

static void test_nothing_selected_leaves_the_bundle_alone(void **state)
{
    fixture *f = *state;
    plugin *p0 = add_plugin(f, "p0", VOLUMES);
    make_chain(f);
    _cleanup_(mpp_bundle_freep) mpp_bundle *b = bundle_with(f->src);
    _cleanup_(mpp_pins_freep) mpp_pins *pins = NULL;
    mpp_adapter_options o = {.container_id = "c1"};
    char pin_dir[PATH_MAX];
    pin_dir_of(f, pin_dir, sizeof(pin_dir));
    mpp_error err = {0};
    if (mpp_interpose_attach(f->chain, b, &o, pin_dir, &pins, &err) < 0)
        fail_msg("interpose: %s", err.msg);
    assert_null(pins);
    assert_string_equal(mpp_bundle_mount_source(b, 1), f->src);
    assert_int_equal(p0->attaches, 0);
    assert_false(mpp_container_has_state(f->state_dir, "c1"));
}

static void test_judged_sources_are_pinned_for_the_runtime(void **state)
{
    fixture *f = *state;
    plugin *p0 = add_plugin(f, "p0", ATTACH);
    make_chain(f);
    /* The bundle names the source through a symbolic link: the plugin judges what it names. */
    char link[PATH_MAX];
    snprintf(link, sizeof(link), "%s/link", f->dir);
    assert_int_equal(symlink(f->src, link), 0);
    _cleanup_(mpp_bundle_freep) mpp_bundle *b = bundle_with(link);
    _cleanup_(mpp_pins_freep) mpp_pins *pins = NULL;
    mpp_adapter_options o = {.container_id = "c1"};
    char pin_dir[PATH_MAX];
    pin_dir_of(f, pin_dir, sizeof(pin_dir));
    mpp_error err = {0};
    if (mpp_interpose_attach(f->chain, b, &o, pin_dir, &pins, &err) < 0)
        fail_msg("interpose: %s", err.msg);
    assert_string_equal(p0->seen_effective, f->src);
    /* The runtime mounts the pinned object, from the pin directory. */
    assert_non_null(pins);
    assert_int_equal(mpp_pins_count(pins), 1);
    const char *src = mpp_bundle_mount_source(b, 1);
    assert_non_null(src);
    assert_non_null(mpp_pins_path(pins, 0));
    assert_string_equal(src, mpp_pins_path(pins, 0));
    assert_int_equal(strncmp(src, pin_dir, strlen(pin_dir)), 0);
    assert_string_equal(mpp_bundle_mount_source(b, 0), "proc");
    assert_true(mpp_container_has_state(f->state_dir, "c1"));
    detach(f, 1);
}

static void test_without_a_pin_dir_the_effective_source_is_written(void **state)
{
    fixture *f = *state;
    plugin *p0 = add_plugin(f, "p0", REDIRECT);
    plugin_redirect(f, p0, "redirected");
    make_chain(f);
    _cleanup_(mpp_bundle_freep) mpp_bundle *b = bundle_with(f->src);
    mpp_adapter_options o = {.container_id = "c1"};
    mpp_error err = {0};
    /* As mpp-hook does: checked, not pinned. */
    if (mpp_interpose_attach(f->chain, b, &o, NULL, NULL, &err) < 0)
        fail_msg("interpose: %s", err.msg);
    assert_string_equal(mpp_bundle_mount_source(b, 1), p0->redirect);
    detach(f, 1);
}

static void test_a_denial_changes_nothing(void **state)
{
    fixture *f = *state;
    plugin *p0 = add_plugin(f, "p0", ATTACH);
    plugin *p1 = add_plugin(f, "p1", DENY);
    make_chain(f);
    _cleanup_(mpp_bundle_freep) mpp_bundle *b = bundle_with(f->src);
    _cleanup_(mpp_pins_freep) mpp_pins *pins = NULL;
    mpp_adapter_options o = {.container_id = "c1"};
    char pin_dir[PATH_MAX];
    pin_dir_of(f, pin_dir, sizeof(pin_dir));
    mpp_error err = {0};
    assert_true(mpp_interpose_attach(f->chain, b, &o, pin_dir, &pins, &err) < 0);
    assert_non_null(strstr(err.msg, "mount point plugin \"p1\" denied"));
    assert_null(pins);
    assert_string_equal(mpp_bundle_mount_source(b, 1), f->src);
    assert_int_equal(p0->detaches, 1);
    assert_int_equal(p1->detaches, 0);
    assert_false(mpp_container_has_state(f->state_dir, "c1"));
}

static void test_an_unopenable_effective_source_unwinds_the_chain(void **state)
{
    fixture *f = *state;
    plugin *p0 = add_plugin(f, "p0", REDIRECT);
    /* A path the plugin says it made, that does not exist (and may not be created). */
    snprintf(p0->redirect, sizeof(p0->redirect), "/nonexistent-mpp-test/x");
    make_chain(f);
    _cleanup_(mpp_bundle_freep) mpp_bundle *b = bundle_with(f->src);
    _cleanup_(mpp_pins_freep) mpp_pins *pins = NULL;
    mpp_adapter_options o = {.container_id = "c1"};
    char pin_dir[PATH_MAX];
    pin_dir_of(f, pin_dir, sizeof(pin_dir));
    mpp_error err = {0};
    assert_true(mpp_interpose_attach(f->chain, b, &o, pin_dir, &pins, &err) < 0);
    if (!strstr(err.msg, "/nonexistent-mpp-test/x"))
        fail_msg("error \"%s\" does not name the effective source", err.msg);
    assert_null(pins);
    assert_string_equal(mpp_bundle_mount_source(b, 1), f->src);
    /* It attached, so it is detached: the container cannot start. */
    assert_int_equal(p0->attaches, 1);
    assert_int_equal(p0->detaches, 1);
    assert_false(mpp_container_has_state(f->state_dir, "c1"));
    assert_false(access("/nonexistent-mpp-test", F_OK) == 0);
}

static void test_the_configured_runtime_is_the_real_one(void **state)
{
    fixture *f = *state;
    char exe[PATH_MAX];
    snprintf(exe, sizeof(exe), "%s/runtime", f->dir);
    FILE *fp = fopen(exe, "we");
    assert_non_null(fp);
    assert_int_equal(fclose(fp), 0);
    assert_int_equal(chmod(exe, 0755), 0);

    mpp_config cfg = {.runtime = exe};
    _cleanup_free_ char *rt = NULL;
    mpp_error err = {0};
    assert_int_equal(mpp_real_runtime(&cfg, &rt, &err), 0);
    assert_string_equal(rt, exe);
    /* Configured but unusable: an error naming it, not another runtime. */
    cfg.runtime = (char *)"/nonexistent-mpp-test/runc";
    char *none = NULL;
    assert_int_equal(mpp_real_runtime(&cfg, &none, &err), -ENOENT);
    assert_null(none);
    assert_non_null(
        strstr(err.msg, "runtime /nonexistent-mpp-test/runc from the mpp configuration"));
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_nothing_selected_leaves_the_bundle_alone),
        T(test_judged_sources_are_pinned_for_the_runtime),
        T(test_without_a_pin_dir_the_effective_source_is_written),
        T(test_a_denial_changes_nothing),
        T(test_an_unopenable_effective_source_unwinds_the_chain),
        T(test_the_configured_runtime_is_the_real_one),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
