/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of the protocol codec (src/lib/codec.c). */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include <mpp/codec.h>

#include "../../src/lib/codec-json.h"
#include "macro.h"

/* ---- Helpers ---- */

/* JSON written with ' for " so that the tests stay readable. */
static char *q(const char *text)
{
    char *s = strdup(text);
    assert_non_null(s);
    for (char *c = s; *c; c++)
        if (*c == '\'')
            *c = '"';
    return s;
}

static char *xstrdup(const char *s)
{
    char *d = strdup(s);
    assert_non_null(d);
    return d;
}

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...)
{
    char *s = NULL;
    va_list ap;
    va_start(ap, f);
    int r = vasprintf(&s, f, ap);
    va_end(ap);
    assert_true(r >= 0);
    return s;
}

static bool all_zero(const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return false;
    return true;
}

/* Equal as JSON values (object key order does not matter). */
static void assert_json_equal(const char *got, const char *want_q)
{
    _cleanup_free_ char *want = q(want_q);
    json_error_t je;
    json_t *g = json_loads(got, 0, &je);
    if (!g)
        fail_msg("output is not JSON: %s (%s)", je.text, got);
    json_t *w = json_loads(want, 0, &je);
    if (!w)
        fail_msg("expected text is not JSON: %s (%s)", je.text, want);
    bool eq = json_equal(g, w);
    json_decref(g);
    json_decref(w);
    if (!eq)
        fail_msg("JSON differs:\n got: %s\nwant: %s", got, want);
}

static void assert_str(const char *got, const char *want)
{
    if (!want) {
        if (got)
            fail_msg("expected NULL, got \"%s\"", got);
        return;
    }
    if (!got)
        fail_msg("expected \"%s\", got NULL", want);
    assert_string_equal(got, want);
}

/* For fields an encoder always writes: NULL comes back as "". */
static void assert_str_or_empty(const char *got, const char *want)
{
    assert_string_equal(strempty(got), strempty(want));
}

static void assert_error(int r, const mpp_error *e, int code, const char *needle)
{
    if (r != code)
        fail_msg("expected %d, got %d (%s)", code, r, e->msg);
    assert_int_equal(e->code, code);
    if (!strstr(e->msg, needle))
        fail_msg("error message \"%s\" does not contain \"%s\"", e->msg, needle);
}

/* ---- Builders of fully populated values ---- */

static void add_kv(mpp_strmap *m, const char *k, const char *v)
{
    assert_int_equal(mpp_strmap_add(m, k, v), 0);
}

static void fill_mount(mpp_mount *m, const char *tag)
{
    memset(m, 0, sizeof(*m));
    m->effective_source = fmt("/eff/%s", tag);
    m->effective_consistency = xstrdup("cached");
    m->volume.name = fmt("vol-%s", tag);
    m->volume.driver = xstrdup("local");
    m->volume.id = fmt("id-%s", tag);
    add_kv(&m->volume.labels, "vl1", "a");
    add_kv(&m->volume.labels, "vl2", "b");
    add_kv(&m->volume.driver_options, "type", "tmpfs");
    add_kv(&m->volume.options, "o", "size=1m");
    add_kv(&m->volume.options, "device", "tmpfs");
    m->volume.scope = xstrdup("local");
    add_kv(&m->container.labels, "cl", "c");
    m->container.id = fmt("ctr-%s", tag);
    m->container.engine = xstrdup("podman");
    add_kv(&m->container.annotations, "io.x/y", "z");
    add_kv(&m->image.labels, "maintainer", "someone");
    m->source = fmt("/src/%s", tag);
    m->destination = fmt("/dst/%s", tag);
    m->read_only = true;
    m->type = xstrdup("bind");
    m->mode = xstrdup("ro,cached");
    m->propagation = xstrdup("rslave");
    m->create_source_if_missing = true;
    m->n_applied = 2;
    m->applied = calloc(2, sizeof(*m->applied));
    assert_non_null(m->applied);
    m->applied[0].name = xstrdup("plugin:first");
    m->applied[0].changes.effective_source = xstrdup("/first");
    m->applied[0].changes.effective_consistency = xstrdup("delegated");
    m->applied[1].name = xstrdup("plugin:second");
    m->applied[1].changes.effective_source = xstrdup("/second");
    m->consistency = xstrdup("consistent");
}

static void assert_strmap_equal(const mpp_strmap *a, const mpp_strmap *b)
{
    assert_int_equal(a->n, b->n);
    for (size_t i = 0; i < a->n; i++) {
        assert_str(a->items[i].key, b->items[i].key);
        assert_str(a->items[i].value, b->items[i].value);
    }
}

static void assert_mount_equal(const mpp_mount *a, const mpp_mount *b)
{
    assert_str_or_empty(a->effective_source, b->effective_source);
    assert_str(a->effective_consistency, b->effective_consistency);
    assert_str(a->volume.name, b->volume.name);
    assert_str(a->volume.driver, b->volume.driver);
    assert_str(a->volume.id, b->volume.id);
    assert_strmap_equal(&a->volume.labels, &b->volume.labels);
    assert_strmap_equal(&a->volume.driver_options, &b->volume.driver_options);
    assert_strmap_equal(&a->volume.options, &b->volume.options);
    assert_str(a->volume.scope, b->volume.scope);
    assert_strmap_equal(&a->container.labels, &b->container.labels);
    assert_str(a->container.id, b->container.id);
    assert_str(a->container.engine, b->container.engine);
    assert_strmap_equal(&a->container.annotations, &b->container.annotations);
    assert_strmap_equal(&a->image.labels, &b->image.labels);
    assert_str_or_empty(a->source, b->source);
    assert_str_or_empty(a->destination, b->destination);
    assert_int_equal(a->read_only, b->read_only);
    assert_str(a->type, b->type);
    assert_str(a->mode, b->mode);
    assert_str(a->propagation, b->propagation);
    assert_int_equal(a->create_source_if_missing, b->create_source_if_missing);
    assert_int_equal(a->n_applied, b->n_applied);
    for (size_t i = 0; i < a->n_applied; i++) {
        assert_str_or_empty(a->applied[i].name, b->applied[i].name);
        assert_str(a->applied[i].changes.effective_source, b->applied[i].changes.effective_source);
        assert_str(a->applied[i].changes.effective_consistency,
                   b->applied[i].changes.effective_consistency);
    }
    assert_str(a->consistency, b->consistency);
}

static void fill_sp(mpp_string_pattern *p, const char *tag)
{
    p->not_ = true;
    p->empty = true;
    p->prefix = fmt("/prefix/%s", tag);
    p->path_prefix = fmt("/pathprefix/%s", tag);
    p->suffix = fmt("suffix-%s", tag);
    p->path_contains = fmt("/pathcontains/%s", tag);
    p->exactly = fmt("exactly-%s", tag);
    p->contains = fmt("contains-%s", tag);
}

static void fill_sps(mpp_string_patterns *ps, const char *tag)
{
    ps->n = 2;
    ps->items = calloc(2, sizeof(*ps->items));
    assert_non_null(ps->items);
    fill_sp(&ps->items[0], tag);
    ps->items[1].prefix = fmt("/only/%s", tag); /* a sparse one too */
}

static void fill_kvs(mpp_kv_pattern **kv, size_t *n, const char *tag)
{
    *n = 2;
    *kv = calloc(2, sizeof(**kv));
    assert_non_null(*kv);
    fill_sp(&(*kv)[0].key, tag);
    fill_sp(&(*kv)[0].value, "v");
    (*kv)[1].key.exactly = fmt("key-%s", tag);
}

static void fill_smps(mpp_strmap_patterns *ps, const char *tag)
{
    ps->n = 2;
    ps->items = calloc(2, sizeof(*ps->items));
    assert_non_null(ps->items);
    ps->items[0].not_ = true;
    fill_kvs(&ps->items[0].exists, &ps->items[0].n_exists, tag);
    fill_kvs(&ps->items[0].all, &ps->items[0].n_all, "all");
    fill_kvs(&ps->items[1].exists, &ps->items[1].n_exists, "second");
}

static void fill_aps(mpp_applied_patterns *ps, const char *tag)
{
    ps->n = 1;
    ps->items = calloc(1, sizeof(*ps->items));
    assert_non_null(ps->items);
    fill_sps(&ps->items[0].name, tag);
    fill_sps(&ps->items[0].changes_effective_source, "ces");
    ps->items[0].changes_effective_consistency = fmt("cc-%s", tag);
}

static void fill_pattern(mpp_pattern *p)
{
    mpp_pattern_init(p);
    fill_sps(&p->effective_source, "es");
    p->effective_consistency = xstrdup("cached");
    fill_sps(&p->volume.name, "vn");
    fill_sps(&p->volume.driver, "vd");
    fill_sps(&p->volume.id, "vi");
    fill_smps(&p->volume.labels, "vl");
    fill_smps(&p->volume.driver_options, "vdo");
    fill_smps(&p->volume.options, "vo");
    p->volume.scope = xstrdup("global");
    fill_smps(&p->container_labels, "cl");
    fill_smps(&p->image_labels, "il");
    fill_sps(&p->source, "src");
    fill_sps(&p->destination, "dst");
    p->read_only = MPP_FALSE; /* false is a value in a pattern: it must survive */
    p->type = xstrdup("volume");
    fill_sps(&p->mode, "mode");
    p->propagation = xstrdup("shared");
    p->create_source_if_missing = MPP_TRUE;
    for (int op = 0; op < _MPP_STACK_OP_MAX; op++) {
        char tag[32];
        snprintf(tag, sizeof(tag), "op%d", op);
        fill_aps(&p->applied_middleware.op[op], tag);
        snprintf(tag, sizeof(tag), "notop%d", op);
        fill_aps(&p->applied_middleware.not_op[op], tag);
    }
    p->consistency = xstrdup("delegated");
}

static void assert_sp_equal(const mpp_string_pattern *a, const mpp_string_pattern *b)
{
    assert_int_equal(a->not_, b->not_);
    assert_int_equal(a->empty, b->empty);
    assert_str(a->prefix, b->prefix);
    assert_str(a->path_prefix, b->path_prefix);
    assert_str(a->suffix, b->suffix);
    assert_str(a->path_contains, b->path_contains);
    assert_str(a->exactly, b->exactly);
    assert_str(a->contains, b->contains);
}

static void assert_sps_equal(const mpp_string_patterns *a, const mpp_string_patterns *b)
{
    assert_int_equal(a->n, b->n);
    for (size_t i = 0; i < a->n; i++)
        assert_sp_equal(&a->items[i], &b->items[i]);
}

static void assert_kvs_equal(const mpp_kv_pattern *a, size_t na, const mpp_kv_pattern *b, size_t nb)
{
    assert_int_equal(na, nb);
    for (size_t i = 0; i < na; i++) {
        assert_sp_equal(&a[i].key, &b[i].key);
        assert_sp_equal(&a[i].value, &b[i].value);
    }
}

static void assert_smps_equal(const mpp_strmap_patterns *a, const mpp_strmap_patterns *b)
{
    assert_int_equal(a->n, b->n);
    for (size_t i = 0; i < a->n; i++) {
        assert_int_equal(a->items[i].not_, b->items[i].not_);
        assert_kvs_equal(a->items[i].exists, a->items[i].n_exists, b->items[i].exists,
                         b->items[i].n_exists);
        assert_kvs_equal(a->items[i].all, a->items[i].n_all, b->items[i].all, b->items[i].n_all);
    }
}

static void assert_aps_equal(const mpp_applied_patterns *a, const mpp_applied_patterns *b)
{
    assert_int_equal(a->n, b->n);
    for (size_t i = 0; i < a->n; i++) {
        assert_sps_equal(&a->items[i].name, &b->items[i].name);
        assert_sps_equal(&a->items[i].changes_effective_source,
                         &b->items[i].changes_effective_source);
        assert_str(a->items[i].changes_effective_consistency,
                   b->items[i].changes_effective_consistency);
    }
}

static void assert_pattern_equal(const mpp_pattern *a, const mpp_pattern *b)
{
    assert_sps_equal(&a->effective_source, &b->effective_source);
    assert_str(a->effective_consistency, b->effective_consistency);
    assert_sps_equal(&a->volume.name, &b->volume.name);
    assert_sps_equal(&a->volume.driver, &b->volume.driver);
    assert_sps_equal(&a->volume.id, &b->volume.id);
    assert_smps_equal(&a->volume.labels, &b->volume.labels);
    assert_smps_equal(&a->volume.driver_options, &b->volume.driver_options);
    assert_smps_equal(&a->volume.options, &b->volume.options);
    assert_str(a->volume.scope, b->volume.scope);
    assert_smps_equal(&a->container_labels, &b->container_labels);
    assert_smps_equal(&a->image_labels, &b->image_labels);
    assert_sps_equal(&a->source, &b->source);
    assert_sps_equal(&a->destination, &b->destination);
    assert_int_equal(a->read_only, b->read_only);
    assert_str(a->type, b->type);
    assert_sps_equal(&a->mode, &b->mode);
    assert_str(a->propagation, b->propagation);
    assert_int_equal(a->create_source_if_missing, b->create_source_if_missing);
    for (int op = 0; op < _MPP_STACK_OP_MAX; op++) {
        assert_aps_equal(&a->applied_middleware.op[op], &b->applied_middleware.op[op]);
        assert_aps_equal(&a->applied_middleware.not_op[op], &b->applied_middleware.not_op[op]);
    }
    assert_str(a->consistency, b->consistency);
}

/* ---- Round trips: decode(encode(x)) == x ---- */

static void test_mount_round_trip(void **state)
{
    (void)state;
    mpp_mount m, back;
    mpp_error e = {0};
    fill_mount(&m, "x");
    _cleanup_free_ char *text = NULL;
    assert_int_equal(mpp_encode_mount(&m, &text, &e), 0);
    assert_int_equal(mpp_decode_mount(text, strlen(text), &back, &e), 0);
    assert_mount_equal(&back, &m);
    mpp_mount_clear(&back);

    /* A list of mounts, one full and one empty. */
    mpp_mount list[2];
    list[0] = m;
    memset(&list[1], 0, sizeof(list[1]));
    _cleanup_free_ char *ltext = NULL;
    assert_int_equal(mpp_encode_mounts(list, 2, &ltext, &e), 0);
    mpp_mount *got = NULL;
    size_t n = 0;
    assert_int_equal(mpp_decode_mounts(ltext, strlen(ltext), &got, &n, &e), 0);
    assert_int_equal(n, 2);
    assert_mount_equal(&got[0], &list[0]);
    assert_mount_equal(&got[1], &list[1]);
    mpp_mounts_free(got, n);
    mpp_mount_clear(&m);
}

static void test_pattern_round_trip(void **state)
{
    (void)state;
    mpp_pattern p, back;
    mpp_error e = {0};
    fill_pattern(&p);
    _cleanup_free_ char *text = NULL;
    assert_int_equal(mpp_encode_pattern(&p, &text, &e), 0);
    assert_int_equal(mpp_decode_pattern(text, strlen(text), &back, &e), 0);
    assert_pattern_equal(&back, &p);
    mpp_pattern_clear(&back);

    /* Through the properties response, with a second, empty pattern ({} = everything). */
    mpp_properties_response resp = {.success = true, .n_patterns = 2, .err = xstrdup("warn")};
    resp.patterns = calloc(2, sizeof(*resp.patterns));
    assert_non_null(resp.patterns);
    resp.patterns[0] = p;
    mpp_pattern_init(&resp.patterns[1]);
    _cleanup_free_ char *rtext = NULL;
    assert_int_equal(mpp_encode_properties_response(&resp, &rtext, &e), 0);
    mpp_properties_response rback;
    assert_int_equal(mpp_decode_properties_response(rtext, strlen(rtext), &rback, &e), 0);
    assert_true(rback.success);
    assert_str(rback.err, "warn");
    assert_int_equal(rback.n_patterns, 2);
    assert_pattern_equal(&rback.patterns[0], &resp.patterns[0]);
    assert_pattern_equal(&rback.patterns[1], &resp.patterns[1]);
    assert_int_equal(rback.patterns[1].read_only, MPP_UNSET);
    assert_int_equal(rback.patterns[1].create_source_if_missing, MPP_UNSET);
    mpp_properties_response_clear(&rback);

    /* And as a bare list, as a plugin's configuration file holds them. */
    mpp_pattern *list = NULL;
    size_t n = 0;
    _cleanup_free_ char *ptext = fmt("[%s, {}]", text);
    assert_int_equal(mpp_decode_patterns(ptext, strlen(ptext), &list, &n, &e), 0);
    assert_int_equal(n, 2);
    assert_pattern_equal(&list[0], &p);
    mpp_patterns_free(list, n);
    mpp_properties_response_clear(&resp);
}

static void test_messages_round_trip(void **state)
{
    (void)state;
    mpp_error e = {0};

    /* Attach request. */
    mpp_attach_request req = {.id = xstrdup("c0ffee"), .n_mounts = 2};
    req.mounts = calloc(2, sizeof(*req.mounts));
    assert_non_null(req.mounts);
    fill_mount(&req.mounts[0], "a");
    fill_mount(&req.mounts[1], "b");
    _cleanup_free_ char *t1 = NULL;
    assert_int_equal(mpp_encode_attach_request(&req, &t1, &e), 0);
    mpp_attach_request req2;
    assert_int_equal(mpp_decode_attach_request(t1, strlen(t1), &req2, &e), 0);
    assert_str(req2.id, "c0ffee");
    assert_int_equal(req2.n_mounts, 2);
    assert_mount_equal(&req2.mounts[0], &req.mounts[0]);
    assert_mount_equal(&req2.mounts[1], &req.mounts[1]);
    mpp_attach_request_clear(&req2);

    /* Detach request, with and without an exit status. */
    mpp_detach_request dreq = {.id = xstrdup("c0ffee"),
                               .mounts = req.mounts,
                               .n_mounts = req.n_mounts,
                               .has_exit_status = true,
                               .exit_status = -9};
    _cleanup_free_ char *t2 = NULL;
    assert_int_equal(mpp_encode_detach_request(&dreq, &t2, &e), 0);
    mpp_detach_request dreq2;
    assert_int_equal(mpp_decode_detach_request(t2, strlen(t2), &dreq2, &e), 0);
    assert_str(dreq2.id, "c0ffee");
    assert_true(dreq2.has_exit_status);
    assert_int_equal(dreq2.exit_status, -9);
    assert_int_equal(dreq2.n_mounts, 2);
    assert_mount_equal(&dreq2.mounts[1], &req.mounts[1]);
    mpp_detach_request_clear(&dreq2);
    dreq.has_exit_status = false;
    _cleanup_free_ char *t3 = NULL;
    assert_int_equal(mpp_encode_detach_request(&dreq, &t3, &e), 0);
    assert_int_equal(mpp_decode_detach_request(t3, strlen(t3), &dreq2, &e), 0);
    assert_false(dreq2.has_exit_status);
    mpp_detach_request_clear(&dreq2);
    dreq.mounts = NULL;
    dreq.n_mounts = 0;
    mpp_detach_request_clear(&dreq);
    mpp_attach_request_clear(&req);

    /* Attach response with every action kind. */
    mpp_attach_response resp = {.success = true, .n_attachments = 2, .err = xstrdup("note")};
    resp.attachments = calloc(2, sizeof(*resp.attachments));
    assert_non_null(resp.attachments);
    mpp_attachment *a = &resp.attachments[0];
    a->attach = true;
    a->changes.effective_source = xstrdup("/new");
    a->changes.effective_consistency = xstrdup("cached");
    a->n_emergency = 5;
    a->emergency = calloc(5, sizeof(*a->emergency));
    assert_non_null(a->emergency);
    for (int k = MPP_ACTION_REMOVE; k <= MPP_ACTION_FATAL; k++) {
        a->emergency[k].kind = (mpp_action_kind)k;
        a->emergency[k].arg = fmt("arg%d", k);
    }
    _cleanup_free_ char *t4 = NULL;
    assert_int_equal(mpp_encode_attach_response(&resp, &t4, &e), 0);
    mpp_attach_response resp2;
    assert_int_equal(mpp_decode_attach_response(t4, strlen(t4), &resp2, &e), 0);
    assert_true(resp2.success);
    assert_str(resp2.err, "note");
    assert_int_equal(resp2.n_attachments, 2);
    assert_true(resp2.attachments[0].attach);
    assert_str(resp2.attachments[0].changes.effective_source, "/new");
    assert_str(resp2.attachments[0].changes.effective_consistency, "cached");
    assert_int_equal(resp2.attachments[0].n_emergency, 5);
    for (int k = MPP_ACTION_REMOVE; k <= MPP_ACTION_FATAL; k++) {
        assert_int_equal(resp2.attachments[0].emergency[k].kind, k);
        assert_str(resp2.attachments[0].emergency[k].arg, a->emergency[k].arg);
    }
    assert_false(resp2.attachments[1].attach);
    assert_null(resp2.attachments[1].changes.effective_source);
    assert_int_equal(resp2.attachments[1].n_emergency, 0);
    mpp_attach_response_clear(&resp2);
    mpp_attach_response_clear(&resp);

    /* Detach response. */
    mpp_detach_response dr = {.success = false, .recoverable = true, .err = xstrdup("busy")};
    _cleanup_free_ char *t5 = NULL;
    assert_int_equal(mpp_encode_detach_response(&dr, &t5, &e), 0);
    mpp_detach_response dr2;
    assert_int_equal(mpp_decode_detach_response(t5, strlen(t5), &dr2, &e), 0);
    assert_false(dr2.success);
    assert_true(dr2.recoverable);
    assert_str(dr2.err, "busy");
    mpp_detach_response_clear(&dr2);
    mpp_detach_response_clear(&dr);

    /* Activate response and error body. */
    char *impl[] = {"authz", "mountpoint"};
    mpp_activate_response ar = {.implements = impl, .n_implements = 2};
    _cleanup_free_ char *t6 = NULL;
    assert_int_equal(mpp_encode_activate_response(&ar, &t6, &e), 0);
    mpp_activate_response ar2;
    assert_int_equal(mpp_decode_activate_response(t6, strlen(t6), &ar2, &e), 0);
    assert_int_equal(ar2.n_implements, 2);
    assert_str(ar2.implements[0], "authz");
    assert_str(ar2.implements[1], "mountpoint");
    mpp_activate_response_clear(&ar2);

    _cleanup_free_ char *t7 = NULL, *msg = NULL;
    assert_int_equal(mpp_encode_err_body("path /etc is \"protected\"", &t7, &e), 0);
    assert_int_equal(mpp_decode_err_body(t7, strlen(t7), &msg, &e), 0);
    assert_str(msg, "path /etc is \"protected\"");
}

/* ---- encode(decode(json)) for hand-written JSON with every field ---- */

static const char full_mount_json[] =
    "{'EffectiveSource': '/eff', 'EffectiveConsistency': 'cached',"
    " 'Volume': {'Name': 'v', 'Driver': 'local', 'ID': 'abc',"
    "   'Labels': {'l1': 'x', 'l2': ''}, 'DriverOptions': {'type': 'nfs'},"
    "   'Options': {'o': 'addr=1.2.3.4'}, 'Scope': 'global'},"
    " 'Container': {'Labels': {'app': 'web'}, 'ID': 'ctr', 'Engine': 'docker',"
    "   'Annotations': {'org.opencontainers.x': 'y'}},"
    " 'Image': {'Labels': {'maintainer': 'me'}},"
    " 'Source': '/src', 'Destination': '/dst', 'ReadOnly': true, 'Type': 'volume',"
    " 'Mode': 'ro,z', 'Propagation': 'rshared', 'CreateSourceIfMissing': true,"
    " 'AppliedMiddleware': [{'Name': 'plugin:a', 'Changes': {'EffectiveSource': '/a',"
    "   'EffectiveConsistency': 'delegated'}}, {'Name': 'plugin:b', 'Changes': {}}],"
    " 'Consistency': 'cached'}";

static void test_mount_reencode(void **state)
{
    (void)state;
    _cleanup_free_ char *in = q(full_mount_json);
    mpp_mount m;
    mpp_error e = {0};
    assert_int_equal(mpp_decode_mount(in, strlen(in), &m, &e), 0);
    assert_str(m.volume.labels.items[1].value, ""); /* a present "" stays "" */
    assert_true(m.read_only);
    assert_true(m.create_source_if_missing);
    _cleanup_free_ char *out = NULL;
    assert_int_equal(mpp_encode_mount(&m, &out, &e), 0);
    assert_json_equal(out, full_mount_json);
    mpp_mount_clear(&m);
}

#define FULL_SP                                                                                    \
    "{'Not': true, 'Empty': true, 'Prefix': '/p', 'PathPrefix': '/pp', 'Suffix': 's',"             \
    " 'PathContains': '/pc', 'Exactly': 'e', 'Contains': 'c'}"
#define FULL_SMP                                                                                   \
    "{'Not': true, 'Exists': [{'Key': " FULL_SP ", 'Value': {'Exactly': 'v'}}],"                   \
    " 'All': [{'Key': {'Prefix': 'k'}, 'Value': {'Suffix': 'v'}}]}"
#define FULL_AP                                                                                    \
    "[{'Name': [" FULL_SP "], 'Changes': {'EffectiveSource': [{'Prefix': '/x'}],"                  \
    " 'EffectiveConsistency': 'cached'}}]"

static const char full_pattern_json[] =
    "{'EffectiveSource': [" FULL_SP ", {'Prefix': '/other'}], 'EffectiveConsistency': 'default',"
    " 'Volume': {'Name': [" FULL_SP "], 'Driver': [{'Exactly': 'local'}], 'ID': [{'Empty': true}],"
    "   'Labels': [" FULL_SMP "], 'DriverOptions': [" FULL_SMP "], 'Options': [" FULL_SMP "],"
    "   'Scope': 'local'},"
    " 'Container': {'Labels': [" FULL_SMP "]}, 'Image': {'Labels': [" FULL_SMP "]},"
    " 'Source': [" FULL_SP "], 'Destination': [{'PathPrefix': '/data'}], 'ReadOnly': false,"
    " 'Type': 'bind', 'Mode': [{'Contains': 'z'}], 'Propagation': 'rprivate',"
    " 'CreateSourceIfMissing': true,"
    " 'AppliedMiddleware': {'Exists': " FULL_AP ", 'NotExists': " FULL_AP ", 'All': " FULL_AP ","
    "   'NotAll': " FULL_AP ", 'AnySequence': " FULL_AP ", 'NotAnySequence': " FULL_AP ","
    "   'TopSequence': " FULL_AP ", 'NotTopSequence': " FULL_AP ", 'BottomSequence': " FULL_AP ","
    "   'NotBottomSequence': " FULL_AP ", 'RelativeOrder': " FULL_AP ","
    "   'NotRelativeOrder': " FULL_AP "},"
    " 'Consistency': 'consistent'}";

static void test_pattern_reencode(void **state)
{
    (void)state;
    _cleanup_free_ char *in = q(full_pattern_json);
    mpp_pattern p;
    mpp_error e = {0};
    assert_int_equal(mpp_decode_pattern(in, strlen(in), &p, &e), 0);
    /* Spot checks that each key lands in its own member. */
    assert_int_equal(p.read_only, MPP_FALSE);
    assert_int_equal(p.create_source_if_missing, MPP_TRUE);
    assert_str(p.volume.driver.items[0].exactly, "local");
    assert_true(p.volume.id.items[0].empty);
    assert_str(p.destination.items[0].path_prefix, "/data");
    assert_str(p.mode.items[0].contains, "z");
    assert_true(p.container_labels.items[0].not_);
    assert_str(p.image_labels.items[0].all[0].key.prefix, "k");
    for (int op = 0; op < _MPP_STACK_OP_MAX; op++) {
        assert_int_equal(p.applied_middleware.op[op].n, 1);
        assert_int_equal(p.applied_middleware.not_op[op].n, 1);
        assert_str(p.applied_middleware.op[op].items[0].changes_effective_consistency, "cached");
        assert_str(
            p.applied_middleware.not_op[op].items[0].changes_effective_source.items[0].prefix,
            "/x");
    }
    _cleanup_free_ char *out = NULL;
    assert_int_equal(mpp_encode_pattern(&p, &out, &e), 0);
    assert_json_equal(out, full_pattern_json);
    mpp_pattern_clear(&p);
}

static const char full_attach_response_json[] =
    "{'Success': true, 'Attachments': [{'Attach': true,"
    "  'Changes': {'EffectiveSource': '/new', 'EffectiveConsistency': 'cached'},"
    "  'EmergencyDetach': [{'Unmount': '/new'}, {'Remove': '/new'}, {'Warning': 'w'},"
    "    {'Error': 'e'}, {'Fatal': 'f'}]}, {'Attach': false}], 'Err': 'x'}";

static void test_messages_reencode(void **state)
{
    (void)state;
    mpp_error e = {0};
    struct {
        const char *json;
        int kind;
    } cases[] = {
        {full_attach_response_json, 0},
        {"{'ID': 'c', 'Mounts': [{'EffectiveSource': '/e', 'Volume': {}, 'Container': {},"
         " 'Image': {}, 'Source': '/s', 'Destination': '/d', 'AppliedMiddleware': []}]}",
         1},
        {"{'ID': 'c', 'Mounts': [{'EffectiveSource': '', 'Volume': {}, 'Container': {},"
         " 'Image': {}, 'Source': '', 'Destination': '', 'AppliedMiddleware': []}],"
         " 'ExitStatus': 137}",
         2},
        {"{'Success': false, 'Recoverable': true, 'Err': 'device busy'}", 3},
        {"{'Success': true, 'Patterns': [{}, {'Type': 'tmpfs'}], 'Err': 'e'}", 4},
        {"{'Implements': ['mountpoint', 'authz']}", 5},
    };
    for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
        _cleanup_free_ char *in = q(cases[i].json), *out = NULL;
        size_t len = strlen(in);
        int r = -1;
        switch (cases[i].kind) {
        case 0: {
            mpp_attach_response v;
            assert_int_equal(mpp_decode_attach_response(in, len, &v, &e), 0);
            r = mpp_encode_attach_response(&v, &out, &e);
            mpp_attach_response_clear(&v);
            break;
        }
        case 1: {
            mpp_attach_request v;
            assert_int_equal(mpp_decode_attach_request(in, len, &v, &e), 0);
            r = mpp_encode_attach_request(&v, &out, &e);
            mpp_attach_request_clear(&v);
            break;
        }
        case 2: {
            mpp_detach_request v;
            assert_int_equal(mpp_decode_detach_request(in, len, &v, &e), 0);
            r = mpp_encode_detach_request(&v, &out, &e);
            mpp_detach_request_clear(&v);
            break;
        }
        case 3: {
            mpp_detach_response v;
            assert_int_equal(mpp_decode_detach_response(in, len, &v, &e), 0);
            r = mpp_encode_detach_response(&v, &out, &e);
            mpp_detach_response_clear(&v);
            break;
        }
        case 4: {
            mpp_properties_response v;
            assert_int_equal(mpp_decode_properties_response(in, len, &v, &e), 0);
            r = mpp_encode_properties_response(&v, &out, &e);
            mpp_properties_response_clear(&v);
            break;
        }
        case 5: {
            mpp_activate_response v;
            assert_int_equal(mpp_decode_activate_response(in, len, &v, &e), 0);
            r = mpp_encode_activate_response(&v, &out, &e);
            mpp_activate_response_clear(&v);
            break;
        }
        }
        assert_int_equal(r, 0);
        assert_json_equal(out, cases[i].json);
    }
}

/* ---- Encoders: exact output, omitempty ---- */

static void test_encode_omitempty(void **state)
{
    (void)state;
    mpp_error e = {0};
    _cleanup_free_ char *mount = NULL, *areq = NULL, *aresp = NULL, *aresp2 = NULL, *dreq = NULL,
                        *dreq0 = NULL, *dresp = NULL, *props = NULL, *act = NULL, *errb = NULL,
                        *pat = NULL, *pat2 = NULL, *changes = NULL;

    mpp_mount m = {0};
    assert_int_equal(mpp_encode_mount(&m, &mount, &e), 0);
    assert_string_equal(mount, "{\"EffectiveSource\":\"\",\"Volume\":{},\"Container\":{},"
                               "\"Image\":{},\"Source\":\"\",\"Destination\":\"\","
                               "\"AppliedMiddleware\":[]}");

    /* Empty strings and false booleans are left out like absent ones. */
    mpp_mount m2 = {.type = "", .mode = "", .read_only = false, .consistency = ""};
    _cleanup_free_ char *mount2 = NULL;
    assert_int_equal(mpp_encode_mount(&m2, &mount2, &e), 0);
    assert_string_equal(mount2, mount);

    mpp_attach_request ar = {0};
    assert_int_equal(mpp_encode_attach_request(&ar, &areq, &e), 0);
    assert_string_equal(areq, "{\"ID\":\"\",\"Mounts\":[]}");

    mpp_attach_response as = {0};
    assert_int_equal(mpp_encode_attach_response(&as, &aresp, &e), 0);
    assert_string_equal(aresp, "{\"Success\":false}");
    mpp_attachment att = {0};
    mpp_attach_response as2 = {.success = true, .attachments = &att, .n_attachments = 1};
    assert_int_equal(mpp_encode_attach_response(&as2, &aresp2, &e), 0);
    assert_string_equal(aresp2, "{\"Success\":true,\"Attachments\":[{\"Attach\":false}]}");

    mpp_detach_request dr = {.id = "c"};
    assert_int_equal(mpp_encode_detach_request(&dr, &dreq, &e), 0);
    assert_string_equal(dreq, "{\"ID\":\"c\"}");
    dr.has_exit_status = true; /* 0 is a value: written */
    assert_int_equal(mpp_encode_detach_request(&dr, &dreq0, &e), 0);
    assert_string_equal(dreq0, "{\"ID\":\"c\",\"ExitStatus\":0}");

    mpp_detach_response ds = {.success = true, .err = ""};
    assert_int_equal(mpp_encode_detach_response(&ds, &dresp, &e), 0);
    assert_string_equal(dresp, "{\"Success\":true}");

    mpp_properties_response pr = {0};
    assert_int_equal(mpp_encode_properties_response(&pr, &props, &e), 0);
    assert_string_equal(props, "{\"Success\":false,\"Patterns\":[]}");

    mpp_activate_response ac = {0};
    assert_int_equal(mpp_encode_activate_response(&ac, &act, &e), 0);
    assert_string_equal(act, "{\"Implements\":[]}");

    assert_int_equal(mpp_encode_err_body("no", &errb, &e), 0);
    assert_string_equal(errb, "{\"Err\":\"no\"}");

    mpp_pattern p;
    mpp_pattern_init(&p);
    assert_int_equal(mpp_encode_pattern(&p, &pat, &e), 0);
    assert_string_equal(pat, "{}");
    p.read_only = MPP_FALSE;
    p.create_source_if_missing = MPP_TRUE;
    p.type = "";
    assert_int_equal(mpp_encode_pattern(&p, &pat2, &e), 0);
    assert_string_equal(pat2, "{\"ReadOnly\":false,\"CreateSourceIfMissing\":true}");

    mpp_changes c = {0};
    json_t *cj = mpp_changes_to_json(&c);
    assert_non_null(cj);
    assert_int_equal(mpp_json_dump(cj, &changes, &e), 0);
    assert_string_equal(changes, "{}");
    json_decref(cj);
}

/* Paths are bytes; JSON strings are Unicode. Invalid bytes become U+FFFD, as Go's encoder does. */
static void test_encode_invalid_utf8(void **state)
{
    (void)state;
    mpp_error e = {0};
    mpp_mount m = {.source = "/data/caf\xe9", .destination = "/ok/\xc3\xa9"};
    assert_int_equal(mpp_strmap_add(&m.volume.labels, "k\xff", "v\xed\xa0\x80"), 0);
    _cleanup_free_ char *out = NULL;
    assert_int_equal(mpp_encode_mount(&m, &out, &e), 0);
    mpp_strmap_clear(&m.volume.labels);
    mpp_mount back;
    assert_int_equal(mpp_decode_mount(out, strlen(out), &back, &e), 0);
    assert_str(back.source, "/data/caf\xef\xbf\xbd");
    assert_str(back.destination, "/ok/\xc3\xa9"); /* valid UTF-8 is untouched */
    assert_int_equal(back.volume.labels.n, 1);
    assert_str(back.volume.labels.items[0].key, "k\xef\xbf\xbd");
    /* A surrogate (ED A0 80) is three invalid bytes. */
    assert_str(back.volume.labels.items[0].value, "v\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
    mpp_mount_clear(&back);
}

/* ---- Leniency ---- */

static void test_lenient_nulls(void **state)
{
    (void)state;
    mpp_error e = {0};
    _cleanup_free_ char *mj =
        q("{'EffectiveSource': null, 'EffectiveConsistency': null, 'Volume': {'Name': null,"
          " 'Driver': null, 'ID': null, 'Labels': null, 'DriverOptions': null, 'Options': null,"
          " 'Scope': null}, 'Container': {'Labels': null, 'ID': null, 'Engine': null,"
          " 'Annotations': null}, 'Image': {'Labels': null}, 'Source': null, 'Destination': null,"
          " 'ReadOnly': null, 'Type': null, 'Mode': null, 'Propagation': null,"
          " 'CreateSourceIfMissing': null, 'AppliedMiddleware': null, 'Consistency': null}");
    mpp_mount m;
    assert_int_equal(mpp_decode_mount(mj, strlen(mj), &m, &e), 0);
    assert_true(all_zero(&m, sizeof(m)));

    _cleanup_free_ char *mj2 = q("{'Volume': null, 'Container': null, 'Image': null,"
                                 " 'AppliedMiddleware': [{'Name': null, 'Changes': null}]}");
    assert_int_equal(mpp_decode_mount(mj2, strlen(mj2), &m, &e), 0);
    assert_int_equal(m.n_applied, 1);
    assert_null(m.applied[0].name);
    mpp_mount_clear(&m);

    /* A null map value is "" (Go's zero string). */
    _cleanup_free_ char *mj3 = q("{'Volume': {'Labels': {'a': null}}}");
    assert_int_equal(mpp_decode_mount(mj3, strlen(mj3), &m, &e), 0);
    assert_int_equal(m.volume.labels.n, 1);
    assert_str(m.volume.labels.items[0].value, "");
    mpp_mount_clear(&m);

    _cleanup_free_ char *rj = q("{'ID': null, 'Mounts': null}");
    mpp_attach_request req;
    assert_int_equal(mpp_decode_attach_request(rj, strlen(rj), &req, &e), 0);
    assert_true(all_zero(&req, sizeof(req)));

    /* A null element of an array of objects is a zero object. */
    _cleanup_free_ char *rj2 = q("{'ID': 'c', 'Mounts': [null, {'Source': '/s'}]}");
    assert_int_equal(mpp_decode_attach_request(rj2, strlen(rj2), &req, &e), 0);
    assert_int_equal(req.n_mounts, 2);
    assert_null(req.mounts[0].source);
    assert_str(req.mounts[1].source, "/s");
    mpp_attach_request_clear(&req);

    _cleanup_free_ char *aj = q("{'Success': true, 'Attachments': [{'Attach': true,"
                                " 'Changes': null, 'EmergencyDetach': null}, null], 'Err': null}");
    mpp_attach_response resp;
    assert_int_equal(mpp_decode_attach_response(aj, strlen(aj), &resp, &e), 0);
    assert_true(resp.success);
    assert_int_equal(resp.n_attachments, 2);
    assert_true(resp.attachments[0].attach);
    assert_false(resp.attachments[1].attach);
    assert_null(resp.err);
    mpp_attach_response_clear(&resp);

    _cleanup_free_ char *dj = q("{'ID': 'c', 'Mounts': null, 'ExitStatus': null}");
    mpp_detach_request dreq;
    assert_int_equal(mpp_decode_detach_request(dj, strlen(dj), &dreq, &e), 0);
    assert_false(dreq.has_exit_status);
    mpp_detach_request_clear(&dreq);

    _cleanup_free_ char *pj =
        q("{'EffectiveSource': null, 'Volume': {'Name': null, 'Labels': null, 'Scope': null},"
          " 'Container': {'Labels': null}, 'Image': null, 'ReadOnly': null,"
          " 'CreateSourceIfMissing': null, 'Type': null, 'AppliedMiddleware': {'Exists': null,"
          " 'NotRelativeOrder': [{'Name': null, 'Changes': null}]},"
          " 'Mode': [{'Prefix': null, 'Not': null}], 'Source': [{'Empty': true}],"
          " 'Destination': [{}]}");
    mpp_pattern p;
    assert_int_equal(mpp_decode_pattern(pj, strlen(pj), &p, &e), 0);
    assert_int_equal(p.read_only, MPP_UNSET);
    assert_int_equal(p.create_source_if_missing, MPP_UNSET);
    assert_null(p.type);
    assert_int_equal(p.applied_middleware.not_op[MPP_STACK_RELATIVE_ORDER].n, 1);
    assert_int_equal(p.mode.n, 1);
    assert_null(p.mode.items[0].prefix);
    assert_true(p.source.items[0].empty);
    mpp_pattern_clear(&p);

    _cleanup_free_ char *prj = q("{'Success': true, 'Patterns': null}");
    mpp_properties_response pr;
    assert_int_equal(mpp_decode_properties_response(prj, strlen(prj), &pr, &e), 0);
    assert_true(pr.success);
    assert_int_equal(pr.n_patterns, 0);

    _cleanup_free_ char *acj = q("{'Implements': null}");
    mpp_activate_response ac;
    assert_int_equal(mpp_decode_activate_response(acj, strlen(acj), &ac, &e), 0);
    assert_int_equal(ac.n_implements, 0);

    /* A null list of patterns or mounts is an empty list. */
    mpp_pattern *pl = (mpp_pattern *)1;
    size_t n = 9;
    assert_int_equal(mpp_decode_patterns("null", 4, &pl, &n, &e), 0);
    assert_null(pl);
    assert_int_equal(n, 0);
    mpp_mount *ml = (mpp_mount *)1;
    assert_int_equal(mpp_decode_mounts(" [] ", 4, &ml, &n, &e), 0);
    assert_null(ml);
    assert_int_equal(n, 0);

    _cleanup_free_ char *msg = NULL;
    assert_int_equal(mpp_decode_err_body("{\"Err\":null}", 12, &msg, &e), 0);
    assert_null(msg);
}

static void test_lenient_absent_and_empty(void **state)
{
    (void)state;
    mpp_error e = {0};
    mpp_mount m;
    assert_int_equal(mpp_decode_mount("{}", 2, &m, &e), 0);
    assert_true(all_zero(&m, sizeof(m)));
    _cleanup_free_ char *mj = q("{'Volume': {}, 'Container': {}, 'Image': {},"
                                " 'AppliedMiddleware': [{}], 'Source': '/s'}");
    assert_int_equal(mpp_decode_mount(mj, strlen(mj), &m, &e), 0);
    assert_str(m.source, "/s");
    assert_int_equal(m.n_applied, 1);
    assert_null(m.applied[0].name);
    assert_null(m.applied[0].changes.effective_source);
    mpp_mount_clear(&m);

    mpp_attach_request req;
    assert_int_equal(mpp_decode_attach_request("{}", 2, &req, &e), 0);
    assert_true(all_zero(&req, sizeof(req)));
    mpp_attach_response resp;
    assert_int_equal(mpp_decode_attach_response("{}", 2, &resp, &e), 0);
    assert_true(all_zero(&resp, sizeof(resp)));
    mpp_detach_request dreq;
    assert_int_equal(mpp_decode_detach_request("{}", 2, &dreq, &e), 0);
    assert_true(all_zero(&dreq, sizeof(dreq)));
    mpp_detach_response dresp;
    assert_int_equal(mpp_decode_detach_response(" {\n}\t", 5, &dresp, &e), 0);
    assert_true(all_zero(&dresp, sizeof(dresp)));
    mpp_properties_response pr;
    assert_int_equal(mpp_decode_properties_response("{}", 2, &pr, &e), 0);
    assert_true(all_zero(&pr, sizeof(pr)));
    mpp_activate_response ac;
    assert_int_equal(mpp_decode_activate_response("{}", 2, &ac, &e), 0);
    assert_true(all_zero(&ac, sizeof(ac)));
    char *msg = (char *)1;
    assert_int_equal(mpp_decode_err_body("{}", 2, &msg, &e), 0);
    assert_null(msg);

    /* {} is the pattern that matches everything: tri-states unset, nothing else. */
    mpp_pattern p, ref;
    mpp_pattern_init(&ref);
    assert_int_equal(mpp_decode_pattern("{}", 2, &p, &e), 0);
    assert_memory_equal(&p, &ref, sizeof(p));
    _cleanup_free_ char *pj = q("{'Volume': {}, 'Container': {}, 'Image': {},"
                                " 'AppliedMiddleware': {}, 'Source': [{}]}");
    assert_int_equal(mpp_decode_pattern(pj, strlen(pj), &p, &e), 0);
    assert_int_equal(p.source.n, 1);
    assert_true(all_zero(&p.source.items[0], sizeof(p.source.items[0])));
    mpp_pattern_clear(&p);
}

/* An empty string predicate means nothing: it is decoded as unset. */
static void test_pattern_empty_strings_unset(void **state)
{
    (void)state;
    mpp_error e = {0};
    _cleanup_free_ char *pj =
        q("{'Source': [{'Prefix': '', 'PathPrefix': '', 'Suffix': '', 'PathContains': '',"
          " 'Exactly': '', 'Contains': '', 'Not': true}], 'Type': '', 'Propagation': '',"
          " 'Consistency': '', 'EffectiveConsistency': '', 'Volume': {'Scope': ''},"
          " 'AppliedMiddleware': {'Exists': [{'Changes': {'EffectiveConsistency': ''}}]}}");
    mpp_pattern p;
    assert_int_equal(mpp_decode_pattern(pj, strlen(pj), &p, &e), 0);
    const mpp_string_pattern *sp = &p.source.items[0];
    assert_true(sp->not_);
    assert_null(sp->prefix);
    assert_null(sp->path_prefix);
    assert_null(sp->suffix);
    assert_null(sp->path_contains);
    assert_null(sp->exactly);
    assert_null(sp->contains);
    assert_null(p.type);
    assert_null(p.propagation);
    assert_null(p.consistency);
    assert_null(p.effective_consistency);
    assert_null(p.volume.scope);
    assert_null(p.applied_middleware.op[MPP_STACK_EXISTS].items[0].changes_effective_consistency);
    mpp_pattern_clear(&p);
}

static void test_lenient_unknown_fields(void **state)
{
    (void)state;
    mpp_error e = {0};
    _cleanup_free_ char *rj =
        q("{'X': 1, 'ID': 'c', 'Mounts': [{'X': [1, {'y': null}], 'Source': '/s',"
          " 'Volume': {'X': true, 'Name': 'v'}, 'Container': {'X': 'x', 'ID': 'i'},"
          " 'Image': {'X': {}, 'Labels': {'a': 'b'}},"
          " 'AppliedMiddleware': [{'X': 2.5, 'Name': 'plugin:p', 'Changes': {'X': 0,"
          " 'EffectiveSource': '/e'}}]}]}");
    mpp_attach_request req;
    assert_int_equal(mpp_decode_attach_request(rj, strlen(rj), &req, &e), 0);
    assert_str(req.id, "c");
    assert_str(req.mounts[0].source, "/s");
    assert_str(req.mounts[0].volume.name, "v");
    assert_str(req.mounts[0].container.id, "i");
    assert_str(mpp_strmap_get(&req.mounts[0].image.labels, "a"), "b");
    assert_str(req.mounts[0].applied[0].changes.effective_source, "/e");
    mpp_attach_request_clear(&req);

    _cleanup_free_ char *aj = q("{'X': 1, 'Success': true, 'Attachments': [{'X': 1, 'Attach':"
                                " true, 'Changes': {'X': 1}, 'EmergencyDetach': [{'X': 1,"
                                " 'Remove': '/r'}]}]}");
    mpp_attach_response resp;
    assert_int_equal(mpp_decode_attach_response(aj, strlen(aj), &resp, &e), 0);
    assert_int_equal(resp.attachments[0].n_emergency, 1);
    assert_int_equal(resp.attachments[0].emergency[0].kind, MPP_ACTION_REMOVE);
    assert_str(resp.attachments[0].emergency[0].arg, "/r");
    mpp_attach_response_clear(&resp);

    _cleanup_free_ char *pj =
        q("{'X': 1, 'Source': [{'X': 1, 'Prefix': '/a'}], 'Volume': {'X': 1, 'Labels': [{'X': 1,"
          " 'Exists': [{'X': 1, 'Key': {'X': 1, 'Exactly': 'k'}}]}]}, 'Container': {'X': 1},"
          " 'Image': {'X': 1}, 'AppliedMiddleware': {'X': 1, 'All': [{'X': 1, 'Changes': {'X': "
          "1}}]}}");
    mpp_pattern p;
    assert_int_equal(mpp_decode_pattern(pj, strlen(pj), &p, &e), 0);
    assert_str(p.source.items[0].prefix, "/a");
    assert_str(p.volume.labels.items[0].exists[0].key.exactly, "k");
    assert_int_equal(p.applied_middleware.op[MPP_STACK_ALL].n, 1);
    mpp_pattern_clear(&p);

    _cleanup_free_ char *dj = q("{'Success': true, 'X': [], 'Recoverable': false}");
    mpp_detach_response dr;
    assert_int_equal(mpp_decode_detach_response(dj, strlen(dj), &dr, &e), 0);
    assert_true(dr.success);

    _cleanup_free_ char *acj = q("{'Implements': ['mountpoint'], 'X': 1}");
    mpp_activate_response ac;
    assert_int_equal(mpp_decode_activate_response(acj, strlen(acj), &ac, &e), 0);
    assert_int_equal(ac.n_implements, 1);
    mpp_activate_response_clear(&ac);
}

static void test_v1_new_mount_point(void **state)
{
    (void)state;
    mpp_error e = {0};
    _cleanup_free_ char *j =
        q("{'Success': true, 'Attachments': ["
          " {'Attach': true, 'NewMountPoint': '/v1'},"
          " {'Attach': true, 'NewMountPoint': '/v1', 'Changes': {'EffectiveSource': '/v2'}},"
          " {'Attach': true, 'NewMountPoint': '/v1', 'Changes': {'EffectiveSource': '',"
          "   'EffectiveConsistency': 'cached'}},"
          " {'Attach': true, 'NewMountPoint': ''}]}");
    mpp_attach_response r;
    assert_int_equal(mpp_decode_attach_response(j, strlen(j), &r, &e), 0);
    assert_int_equal(r.n_attachments, 4);
    assert_str(r.attachments[0].changes.effective_source, "/v1");
    assert_str(r.attachments[1].changes.effective_source, "/v2"); /* Changes wins */
    assert_str(r.attachments[2].changes.effective_source, "/v1");
    assert_str(r.attachments[2].changes.effective_consistency, "cached");
    assert_null(r.attachments[3].changes.effective_source);
    mpp_attach_response_clear(&r);

    _cleanup_free_ char *bad = q("{'Attachments': [{'Attach': true, 'NewMountPoint': 7}]}");
    assert_error(mpp_decode_attach_response(bad, strlen(bad), &r, &e), &e, -EBADMSG,
                 "Attachments[0].NewMountPoint: expected a string, got integer");
    assert_true(all_zero(&r, sizeof(r)));
}

/* What Docker's Go structs would send: nil maps and slices as null, zero values written. */
static void test_go_encoded_sample(void **state)
{
    (void)state;
    mpp_error e = {0};
    _cleanup_free_ char *req = q(
        "{'ID':'5f3e2a1b9c0d','Mounts':[{'EffectiveSource':'/var/lib/docker/volumes/data/_data',"
        "'EffectiveConsistency':'default','Volume':{'Name':'data','Driver':'local','ID':'',"
        "'Labels':null,'DriverOptions':null,'Options':null,'Scope':'local'},"
        "'Container':{'Labels':null},'Image':{'Labels':{'maintainer':'ops'}},"
        "'Source':'/var/lib/docker/volumes/data/_data','Destination':'/data','ReadOnly':false,"
        "'Type':'volume','Mode':'z','Propagation':'','CreateSourceIfMissing':false,"
        "'AppliedMiddleware':null,'Consistency':'default'},{'EffectiveSource':'/home/u',"
        "'Volume':{'Name':'','Driver':'','ID':'','Labels':null,'DriverOptions':null,'Options':null,"
        "'Scope':''},'Container':{'Labels':{'com.example':'1'}},'Image':{'Labels':null},"
        "'Source':'/home/u','Destination':'/u','ReadOnly':true,'Type':'bind','Mode':'',"
        "'Propagation':'rprivate','CreateSourceIfMissing':true,'AppliedMiddleware':[],"
        "'Consistency':''}]}");
    mpp_attach_request r;
    assert_int_equal(mpp_decode_attach_request(req, strlen(req), &r, &e), 0);
    assert_str(r.id, "5f3e2a1b9c0d");
    assert_int_equal(r.n_mounts, 2);
    assert_str(r.mounts[0].volume.name, "data");
    assert_int_equal(r.mounts[0].volume.labels.n, 0);
    assert_str(mpp_strmap_get(&r.mounts[0].image.labels, "maintainer"), "ops");
    assert_false(r.mounts[0].read_only);
    assert_str(r.mounts[0].type, "volume");
    assert_int_equal(r.mounts[0].n_applied, 0);
    assert_true(r.mounts[1].read_only);
    assert_true(r.mounts[1].create_source_if_missing);
    assert_str(mpp_strmap_get(&r.mounts[1].container.labels, "com.example"), "1");
    mpp_attach_request_clear(&r);

    _cleanup_free_ char *resp =
        q("{'Success':true,'Attachments':[{'Attach':true,'Changes':{'EffectiveSource':'/x',"
          "'EffectiveConsistency':''},'EmergencyDetach':null},{'Attach':false,'Changes':{},"
          "'EmergencyDetach':[{'Unmount':'/x'}]}],'Err':''}");
    mpp_attach_response a;
    assert_int_equal(mpp_decode_attach_response(resp, strlen(resp), &a, &e), 0);
    assert_true(a.success);
    assert_str(a.attachments[0].changes.effective_source, "/x");
    assert_int_equal(a.attachments[1].emergency[0].kind, MPP_ACTION_UNMOUNT);
    mpp_attach_response_clear(&a);

    /* Go with pointer fields left nil and slices nil. */
    _cleanup_free_ char *props = q(
        "{'Success':true,'Patterns':[{'EffectiveSource':null,'EffectiveConsistency':null,"
        "'Volume':{'Name':null,'Driver':null,'ID':null,'Labels':null,'DriverOptions':null,"
        "'Options':null,'Scope':null},'Container':{'Labels':null},'Image':{'Labels':null},"
        "'Source':null,'Destination':[{'Not':false,'Empty':false,'Prefix':'','PathPrefix':'/srv',"
        "'Suffix':'','PathContains':'','Exactly':'','Contains':''}],'ReadOnly':null,'Type':'bind',"
        "'Mode':null,'Propagation':null,'CreateSourceIfMissing':null,'AppliedMiddleware':"
        "{'Exists':null,'NotExists':null,'All':null,'NotAll':null,'AnySequence':null,"
        "'NotAnySequence':null,'TopSequence':null,'NotTopSequence':null,'BottomSequence':null,"
        "'NotBottomSequence':null,'RelativeOrder':null,'NotRelativeOrder':null},"
        "'Consistency':null}],'Err':''}");
    mpp_properties_response p;
    assert_int_equal(mpp_decode_properties_response(props, strlen(props), &p, &e), 0);
    assert_int_equal(p.n_patterns, 1);
    assert_str(p.patterns[0].destination.items[0].path_prefix, "/srv");
    assert_null(p.patterns[0].destination.items[0].prefix);
    assert_str(p.patterns[0].type, "bind");
    assert_int_equal(p.patterns[0].read_only, MPP_UNSET);
    mpp_properties_response_clear(&p);

    _cleanup_free_ char *det = q("{'Success':false,'Recoverable':false,'Err':'stuck'}");
    mpp_detach_response d;
    assert_int_equal(mpp_decode_detach_response(det, strlen(det), &d, &e), 0);
    assert_false(d.success);
    assert_str(d.err, "stuck");
    mpp_detach_response_clear(&d);
}

/* ---- Malformed input ---- */

enum {
    K_AREQ,
    K_ARESP,
    K_DREQ,
    K_DRESP,
    K_PROPS,
    K_ACT,
    K_MOUNT,
    K_PATTERN,
    K_PATTERNS,
    K_MOUNTS,
    K_ERR
};

/* Decode with the decoder of `kind`, expect the error, and check *out was left zeroed. */
static void expect_decode_error(int kind, const char *json, size_t len, int code,
                                const char *needle)
{
    mpp_error e = {0};
    union {
        mpp_attach_request areq;
        mpp_attach_response aresp;
        mpp_detach_request dreq;
        mpp_detach_response dresp;
        mpp_properties_response props;
        mpp_activate_response act;
        mpp_mount mount;
        mpp_pattern pattern;
        char *msg;
    } out;
    memset(&out, 0xA5, sizeof(out)); /* decoders must not rely on a zeroed *out */
    mpp_pattern *pl = (mpp_pattern *)1;
    mpp_mount *ml = (mpp_mount *)1;
    size_t n = 7;
    size_t size = 0;
    int r = 0;
    switch (kind) {
    case K_AREQ:
        r = mpp_decode_attach_request(json, len, &out.areq, &e), size = sizeof(out.areq);
        break;
    case K_ARESP:
        r = mpp_decode_attach_response(json, len, &out.aresp, &e), size = sizeof(out.aresp);
        break;
    case K_DREQ:
        r = mpp_decode_detach_request(json, len, &out.dreq, &e), size = sizeof(out.dreq);
        break;
    case K_DRESP:
        r = mpp_decode_detach_response(json, len, &out.dresp, &e), size = sizeof(out.dresp);
        break;
    case K_PROPS:
        r = mpp_decode_properties_response(json, len, &out.props, &e), size = sizeof(out.props);
        break;
    case K_ACT:
        r = mpp_decode_activate_response(json, len, &out.act, &e), size = sizeof(out.act);
        break;
    case K_MOUNT:
        r = mpp_decode_mount(json, len, &out.mount, &e), size = sizeof(out.mount);
        break;
    case K_PATTERN:
        r = mpp_decode_pattern(json, len, &out.pattern, &e), size = sizeof(out.pattern);
        break;
    case K_PATTERNS:
        r = mpp_decode_patterns(json, len, &pl, &n, &e);
        assert_null(pl);
        assert_int_equal(n, 0);
        break;
    case K_MOUNTS:
        r = mpp_decode_mounts(json, len, &ml, &n, &e);
        assert_null(ml);
        assert_int_equal(n, 0);
        break;
    case K_ERR:
        r = mpp_decode_err_body(json, len, &out.msg, &e), size = sizeof(out.msg);
        break;
    }
    if (r != code || !strstr(e.msg, needle))
        fail_msg("decoding %.200s: expected %d with \"%s\", got %d \"%s\"", json, code, needle, r,
                 e.msg);
    assert_int_equal(e.code, code);
    if (size && !all_zero(&out, size))
        fail_msg("decoding %.200s: output not left zeroed after the error", json);
}

/* A literal that may hold NUL bytes: its length is its size. */
#define EXPECT_LIT(kind, lit, code, needle)                                                        \
    expect_decode_error(kind, lit, sizeof(lit) - 1, code, needle)

static void expect_error_q(int kind, const char *json_q, int code, const char *needle)
{
    _cleanup_free_ char *j = q(json_q);
    expect_decode_error(kind, j, strlen(j), code, needle);
}

static void test_wrong_types(void **state)
{
    (void)state;
    static const struct {
        int kind;
        const char *json;
        const char *needle;
    } cases[] = {
        {K_AREQ, "{'ID': 12}", "attach request: ID: expected a string, got integer"},
        {K_AREQ, "{'ID': true}", "ID: expected a string, got boolean"},
        {K_AREQ, "{'Mounts': {}}", "Mounts: expected an array, got object"},
        {K_AREQ, "{'Mounts': [3]}", "Mounts[0]: expected an object, got integer"},
        {K_AREQ, "{'Mounts': [{}, {'ReadOnly': 'yes'}]}",
         "Mounts[1].ReadOnly: expected a boolean, got string"},
        {K_AREQ, "{'Mounts': [{'Source': '/a', 'Volume': {'Name': 'v', 'Labels': 7}}]}",
         "Mounts[0].Volume.Labels: expected an object of strings, got integer"},
        {K_AREQ, "{'Mounts': [{'Volume': {'Options': {'a': 'b', 'c': 1}}}]}",
         "Mounts[0].Volume.Options[\"c\"]: expected a string, got integer"},
        {K_AREQ, "{'Mounts': [{'Container': {'Annotations': []}}]}",
         "Mounts[0].Container.Annotations: expected an object of strings, got array"},
        {K_AREQ, "{'Mounts': [{'Image': {'Labels': {'x': 1.5}}}]}",
         "Mounts[0].Image.Labels[\"x\"]: expected a string, got real number"},
        {K_AREQ,
         "{'Mounts': [{'AppliedMiddleware': [{'Name': 'p', 'Changes': {'EffectiveSource':"
         " true}}]}]}",
         "Mounts[0].AppliedMiddleware[0].Changes.EffectiveSource: expected a string, got boolean"},
        {K_AREQ, "{'Mounts': [{'CreateSourceIfMissing': 1}]}",
         "Mounts[0].CreateSourceIfMissing: expected a boolean, got integer"},
        {K_AREQ, "{'Mounts': [{'Volume': 'v'}]}",
         "Mounts[0].Volume: expected an object, got string"},
        {K_ARESP, "{'Success': 'true'}",
         "attach response: Success: expected a boolean, got string"},
        {K_ARESP, "{'Success': 1}", "Success: expected a boolean, got integer"},
        {K_ARESP, "{'Success': true, 'Attachments': [{'Attach': 1}]}",
         "Attachments[0].Attach: expected a boolean, got integer"},
        {K_ARESP, "{'Attachments': [{'Attach': true, 'Changes': []}]}",
         "Attachments[0].Changes: expected an object, got array"},
        {K_ARESP, "{'Attachments': [{'Attach': true, 'EmergencyDetach': [{'Remove': 1}]}]}",
         "Attachments[0].EmergencyDetach[0].Remove: expected a string, got integer"},
        {K_ARESP, "{'Attachments': [{'EmergencyDetach': ['rm']}]}",
         "Attachments[0].EmergencyDetach[0]: expected an object, got string"},
        {K_ARESP, "{'Err': 5}", "Err: expected a string, got integer"},
        {K_DREQ, "{'ID': 'c', 'Mounts': [{'Destination': ['x']}]}",
         "detach request: Mounts[0].Destination: expected a string, got array"},
        {K_DRESP, "{'Success': true, 'Recoverable': 'no'}",
         "detach response: Recoverable: expected a boolean, got string"},
        {K_PROPS, "{'Success': true, 'Patterns': [{}, {'Source': {}}]}",
         "properties response: Patterns[1].Source: expected an array, got object"},
        {K_PROPS, "{'Patterns': {}}", "Patterns: expected an array, got object"},
        {K_ACT, "{'Implements': 'mountpoint'}", "Implements: expected an array, got string"},
        {K_ACT, "{'Implements': ['mountpoint', 2]}",
         "Implements[1]: expected a string, got integer"},
        {K_PATTERN, "{'ReadOnly': 'no'}", "ReadOnly: expected a boolean, got string"},
        {K_PATTERN, "{'Type': 1}", "Type: expected a string, got integer"},
        {K_PATTERN, "{'Source': [{'Not': 'x'}]}", "Source[0].Not: expected a boolean, got string"},
        {K_PATTERN, "{'Mode': [{'Empty': 0}]}", "Mode[0].Empty: expected a boolean, got integer"},
        {K_PATTERN, "{'Volume': {'Labels': [{'Exists': [{'Key': {'Prefix': 5}}]}]}}",
         "Volume.Labels[0].Exists[0].Key.Prefix: expected a string, got integer"},
        {K_PATTERN, "{'Volume': {'Options': [{'All': [{'Key': {}, 'Value': []}]}]}}",
         "Volume.Options[0].All[0].Value: expected an object, got array"},
        {K_PATTERN, "{'Container': {'Labels': [{'Not': 1}]}}",
         "Container.Labels[0].Not: expected a boolean, got integer"},
        {K_PATTERN, "{'Image': []}", "Image: expected an object, got array"},
        {K_PATTERN, "{'Volume': {'Scope': false}}", "Volume.Scope: expected a string, got boolean"},
        {K_PATTERN,
         "{'AppliedMiddleware': {'NotTopSequence': [{'Changes': {'EffectiveSource':"
         " [{'Not': 'x'}]}}]}}",
         "AppliedMiddleware.NotTopSequence[0].Changes.EffectiveSource[0].Not: expected a boolean,"
         " got string"},
        {K_PATTERN, "{'AppliedMiddleware': {'RelativeOrder': [{'Name': [{'Exactly': 3}]}]}}",
         "AppliedMiddleware.RelativeOrder[0].Name[0].Exactly: expected a string, got integer"},
        {K_PATTERN, "{'AppliedMiddleware': {'Exists': [{'Changes': {'EffectiveConsistency': 1}}]}}",
         "AppliedMiddleware.Exists[0].Changes.EffectiveConsistency: expected a string, got "
         "integer"},
        {K_PATTERN, "{'CreateSourceIfMissing': 'true'}",
         "CreateSourceIfMissing: expected a boolean, got string"},
        {K_PATTERNS, "[{}, {'Destination': 'x'}]",
         "Patterns: [1].Destination: expected an array, got string"},
        {K_MOUNTS, "[{'Source': 1}]", "MountPoints: [0].Source: expected a string, got integer"},
        {K_ERR, "{'Err': 5}", "error body: Err: expected a string, got integer"},
        /* Failures after other fields were decoded: nothing built may leak. */
        {K_MOUNT,
         "{'EffectiveSource': '/e', 'Volume': {'Name': 'v', 'Labels': {'a': 'b'}},"
         " 'AppliedMiddleware': [{'Name': 'n'}], 'Consistency': 5}",
         "MountPoint: Consistency: expected a string, got integer"},
        {K_PATTERN,
         "{'EffectiveSource': [{'Prefix': '/a'}], 'Volume': {'Labels': [{'Exists': [{'Key':"
         " {'Exactly': 'k'}}]}]}, 'AppliedMiddleware': {'All': [{'Name': [{}]}]}, 'Consistency': "
         "[]}",
         "Pattern: Consistency: expected a string, got array"},
    };
    for (size_t i = 0; i < ELEMENTSOF(cases); i++)
        expect_error_q(cases[i].kind, cases[i].json, -EBADMSG, cases[i].needle);
}

static void test_top_level_type(void **state)
{
    (void)state;
    expect_error_q(K_AREQ, "[]", -EBADMSG,
                   "attach request: expected an object at the top level, "
                   "got array");
    expect_error_q(K_ARESP, "[{'Success': true}]", -EBADMSG, "expected an object at the top level");
    expect_error_q(K_DRESP, "'ok'", -EBADMSG, "got string");
    expect_error_q(K_PROPS, "null", -EBADMSG, "got null");
    expect_error_q(K_ACT, "1", -EBADMSG, "got integer");
    expect_error_q(K_MOUNT, "true", -EBADMSG, "got boolean");
    expect_error_q(K_PATTERN, "[]", -EBADMSG, "Pattern: expected an object at the top level");
    expect_error_q(K_ERR, "'boom'", -EBADMSG, "error body: expected an object");
    expect_error_q(K_PATTERNS, "{}", -EBADMSG, "expected an array at the top level, got object");
    expect_error_q(K_MOUNTS, "{}", -EBADMSG, "expected an array at the top level, got object");
}

static void test_emergency_actions(void **state)
{
    (void)state;
    expect_error_q(K_ARESP,
                   "{'Attachments': [{'Attach': true, 'EmergencyDetach': [{'Remove': '/a'},"
                   " {'Remove': '/b', 'Warning': 'w'}]}]}",
                   -EBADMSG, "Attachments[0].EmergencyDetach[1]: both Remove and Warning given");
    expect_error_q(K_ARESP, "{'Attachments': [{'EmergencyDetach': [{'Reboot': 'now'}]}]}", -EBADMSG,
                   "Attachments[0].EmergencyDetach[0]: expected exactly one of Remove, Unmount, "
                   "Warning, Error, Fatal, got none");
    expect_error_q(K_ARESP, "{'Attachments': [{'EmergencyDetach': [{}]}]}", -EBADMSG,
                   "EmergencyDetach[0]: expected exactly one of");
    expect_error_q(K_ARESP, "{'Attachments': [{'EmergencyDetach': [null]}]}", -EBADMSG,
                   "EmergencyDetach[0]: expected exactly one of");
    expect_error_q(K_ARESP,
                   "{'Attachments': [{'EmergencyDetach': [{'Error': 'e', 'Fatal': 'f'}]}]}",
                   -EBADMSG, "both Error and Fatal given");
    /* A known key set to null counts as absent. */
    _cleanup_free_ char *ok = q("{'Attachments': [{'EmergencyDetach': [{'Fatal': 'f', 'Remove':"
                                " null}]}]}");
    mpp_attach_response r;
    mpp_error e = {0};
    assert_int_equal(mpp_decode_attach_response(ok, strlen(ok), &r, &e), 0);
    assert_int_equal(r.attachments[0].emergency[0].kind, MPP_ACTION_FATAL);
    assert_str(r.attachments[0].emergency[0].arg, "f");
    mpp_attach_response_clear(&r);
}

/* [mpp extension] StateDir: decoded, encoded back, omitted when empty; a wrong type is an
 * error. */
static void test_attach_response_state_dir(void **state)
{
    (void)state;
    mpp_error e = {0};
    _cleanup_free_ char *in = q("{'Success': true, 'StateDir': '/var/lib/p', 'Attachments': []}");
    mpp_attach_response r;
    assert_int_equal(mpp_decode_attach_response(in, strlen(in), &r, &e), 0);
    assert_str(r.state_dir, "/var/lib/p");
    _cleanup_free_ char *out = NULL;
    assert_int_equal(mpp_encode_attach_response(&r, &out, &e), 0);
    assert_non_null(strstr(out, "\"StateDir\":\"/var/lib/p\""));
    mpp_attach_response_clear(&r);

    mpp_attach_response none = {.success = true};
    _cleanup_free_ char *out2 = NULL;
    assert_int_equal(mpp_encode_attach_response(&none, &out2, &e), 0);
    assert_null(strstr(out2, "StateDir"));
    expect_error_q(K_ARESP, "{'StateDir': 1}", -EBADMSG,
                   "StateDir: expected a string, got integer");
}

static void test_exit_status(void **state)
{
    (void)state;
    expect_error_q(K_DREQ, "{'ID': 'c', 'ExitStatus': 4294967296}", -EBADMSG,
                   "detach request: ExitStatus: 4294967296 does not fit in an int");
    expect_error_q(K_DREQ, "{'ID': 'c', 'ExitStatus': -2147483649}", -EBADMSG,
                   "ExitStatus: -2147483649 does not fit in an int");
    expect_error_q(K_DREQ, "{'ID': 'c', 'ExitStatus': 1.5}", -EBADMSG,
                   "ExitStatus: expected an integer, got real number");
    expect_error_q(K_DREQ, "{'ID': 'c', 'ExitStatus': 1.0}", -EBADMSG,
                   "ExitStatus: expected an integer, got real number");
    expect_error_q(K_DREQ, "{'ID': 'c', 'ExitStatus': '0'}", -EBADMSG,
                   "ExitStatus: expected an integer, got string");
    expect_error_q(K_DREQ, "{'ID': 'c', 'ExitStatus': 99999999999999999999}", -EBADMSG,
                   "number out of range");

    mpp_error e = {0};
    mpp_detach_request d;
    _cleanup_free_ char *max = q("{'ID': 'c', 'ExitStatus': 2147483647}");
    assert_int_equal(mpp_decode_detach_request(max, strlen(max), &d, &e), 0);
    assert_true(d.has_exit_status);
    assert_int_equal(d.exit_status, INT_MAX);
    mpp_detach_request_clear(&d);
    _cleanup_free_ char *min = q("{'ID': 'c', 'ExitStatus': -2147483648}");
    assert_int_equal(mpp_decode_detach_request(min, strlen(min), &d, &e), 0);
    assert_int_equal(d.exit_status, INT_MIN);
    mpp_detach_request_clear(&d);
}

static void test_bad_json(void **state)
{
    (void)state;
    expect_error_q(K_AREQ, "{'ID': 'abc", -EBADMSG, "attach request: line 1 column");
    expect_error_q(K_AREQ, "{'ID': 'abc", -EBADMSG, "truncated JSON");
    expect_error_q(K_AREQ, "{'ID': 'abc', 'Mounts': [{", -EBADMSG, "truncated JSON");
    expect_error_q(K_ARESP, "{'Success': tru", -EBADMSG, "attach response: line 1 column");
    expect_error_q(K_ARESP, "{'Success': true} {}", -EBADMSG, "invalid JSON");
    expect_error_q(K_DRESP, "{'Success': true,}", -EBADMSG, "detach response: line 1");

    /* Invalid UTF-8, inside a value and inside a key. */
    const char bad_utf8[] = "{\"ID\": \"ab\xff\"}";
    expect_decode_error(K_AREQ, bad_utf8, sizeof(bad_utf8) - 1, -EBADMSG, "invalid UTF-8");
    const char bad_key[] = "{\"Mounts\": [{\"Volume\": {\"Labels\": {\"\xc3\x28\": \"x\"}}}]}";
    expect_decode_error(K_AREQ, bad_key, sizeof(bad_key) - 1, -EBADMSG, "invalid UTF-8");
    const char overlong[] = "{\"Source\": \"\xc0\xaf\"}";
    expect_decode_error(K_MOUNT, overlong, sizeof(overlong) - 1, -EBADMSG, "invalid UTF-8");

    /* \u0000 cannot live in a C string. */
    EXPECT_LIT(K_AREQ, "{\"ID\": \"a\\u0000b\"}", -EBADMSG,
               "attach request: line 1 column 17: a string contains a NUL character");
    EXPECT_LIT(K_MOUNT, "{\"Volume\": {\"Labels\": {\"k\\u0000\": \"v\"}}}", -EBADMSG,
               "NUL character");
    /* A raw NUL byte, in a string and between tokens. */
    EXPECT_LIT(K_AREQ, "{\"ID\": \"a\0b\"}", -EBADMSG, "attach request: line 1");
    EXPECT_LIT(K_AREQ, "{\"ID\": \"ab\"}\0", -EBADMSG, "attach request: line 1");

    /* Empty input. */
    expect_decode_error(K_AREQ, "", 0, -EBADMSG, "attach request: empty document");
    expect_decode_error(K_ARESP, " \n\t\r ", 5, -EBADMSG, "attach response: empty document");
    expect_decode_error(K_PATTERNS, "", 0, -EBADMSG, "empty document");
    expect_decode_error(K_ERR, "", 0, -EBADMSG, "empty document");
}

static char *nested(unsigned levels)
{
    /* {"X": [[...]]}: the object is one level, the arrays the rest. */
    size_t len = 6 + 2 * (size_t)levels + 2;
    char *s = malloc(len);
    assert_non_null(s);
    char *p = s;
    p += sprintf(p, "{\"X\":");
    for (unsigned i = 1; i < levels; i++)
        *p++ = '[';
    for (unsigned i = 1; i < levels; i++)
        *p++ = ']';
    *p++ = '}';
    *p = '\0';
    return s;
}

static void test_depth_limit(void **state)
{
    (void)state;
    mpp_error e = {0};
    mpp_attach_request req;

    _cleanup_free_ char *ok = nested(MPP_CODEC_MAX_DEPTH);
    assert_int_equal(mpp_decode_attach_request(ok, strlen(ok), &req, &e), 0);
    mpp_attach_request_clear(&req);

    _cleanup_free_ char *deep = nested(MPP_CODEC_MAX_DEPTH + 1);
    expect_decode_error(K_AREQ, deep, strlen(deep), -EBADMSG,
                        "attach request: JSON nested deeper than 64 levels");
    /* Past jansson's own limit (2048), the message is the same. */
    _cleanup_free_ char *deeper = nested(5000);
    expect_decode_error(K_AREQ, deeper, strlen(deeper), -EBADMSG, "JSON nested deeper than 64");

    /* Depth counts in a real field too, e.g. a mount's labels. */
    json_t *j = NULL;
    assert_int_equal(mpp_json_parse(ok, strlen(ok), "x", &j, &e), 0);
    json_decref(j);
    assert_int_equal(mpp_json_parse(deep, strlen(deep), "journal line 3", &j, &e), -EBADMSG);
    assert_null(j);
    assert_non_null(strstr(e.msg, "journal line 3: JSON nested deeper than 64 levels"));
}

static void test_size_limits(void **state)
{
    (void)state;
    mpp_error e = {0};
    size_t len = MPP_CODEC_MAX_INPUT;
    char *buf = malloc(len + 1);
    assert_non_null(buf);
    memset(buf, ' ', len + 1);
    memcpy(buf, "{\"ID\":\"c\"}", 10);

    /* Exactly at the limit: fine. */
    mpp_attach_request req;
    assert_int_equal(mpp_decode_attach_request(buf, len, &req, &e), 0);
    assert_str(req.id, "c");
    mpp_attach_request_clear(&req);
    /* One byte more: refused before parsing. */
    expect_decode_error(K_AREQ, buf, len + 1, -E2BIG,
                        "attach request: 16777217 bytes, over the "
                        "limit of 16777216 bytes");
    free(buf);

    /* An array of more than 1,000,000 elements. */
    size_t count = 1000001;
    char *arr = malloc(2 * count + 32);
    assert_non_null(arr);
    char *p = arr + sprintf(arr, "{\"Implements\":[");
    for (size_t i = 0; i < count; i++) {
        *p++ = '0';
        *p++ = ',';
    }
    p[-1] = ']';
    *p++ = '}';
    expect_decode_error(K_ACT, arr, (size_t)(p - arr), -E2BIG,
                        "activate response: an array or object has more than 1000000 elements");
    free(arr);
}

/* ---- The jansson-level API (codec-json.h) ---- */

static void test_json_level_api(void **state)
{
    (void)state;
    mpp_error e = {0};

    /* Absent values decode as empty. */
    mpp_mount m;
    memset(&m, 0xA5, sizeof(m));
    assert_int_equal(mpp_mount_from_json(NULL, "", &m, &e), 0);
    assert_true(all_zero(&m, sizeof(m)));
    mpp_changes c;
    assert_int_equal(mpp_changes_from_json(json_null(), "x", &c, &e), 0);
    assert_true(all_zero(&c, sizeof(c)));
    mpp_action *acts = (mpp_action *)1;
    size_t n = 3;
    assert_int_equal(mpp_actions_from_json(NULL, "x", &acts, &n, &e), 0);
    assert_null(acts);
    assert_int_equal(n, 0);
    mpp_pattern p, ref;
    mpp_pattern_init(&ref);
    assert_int_equal(mpp_pattern_from_json(NULL, "", &p, &e), 0);
    assert_memory_equal(&p, &ref, sizeof(p));
    mpp_strmap sm;
    assert_int_equal(mpp_strmap_from_json(NULL, "", &sm, &e), 0);
    assert_int_equal(sm.n, 0);

    /* `where` prefixes the field path. */
    json_t *j = json_pack("{s:s, s:{s:i}}", "EffectiveSource", "/s", "Volume", "Labels", 3);
    assert_non_null(j);
    memset(&m, 0xA5, sizeof(m));
    assert_error(mpp_mount_from_json(j, "Mounts[2]", &m, &e), &e, -EBADMSG,
                 "Mounts[2].Volume.Labels: expected an object of strings, got integer");
    assert_true(all_zero(&m, sizeof(m)));
    json_decref(j);
    j = json_pack("{s:i}", "Source", 1);
    assert_error(mpp_mount_from_json(j, "", &m, &e), &e, -EBADMSG,
                 "Source: expected a string, got integer");
    assert_string_equal(e.msg, "Source: expected a string, got integer");
    json_decref(j);
    /* NULL err is allowed. */
    j = json_integer(1);
    assert_int_equal(mpp_mount_from_json(j, "", &m, NULL), -EBADMSG);
    assert_int_equal(mpp_pattern_from_json(j, "", &p, NULL), -EBADMSG);
    assert_true(all_zero(&p, sizeof(p)));
    json_decref(j);

    j = json_pack("[{s:s}, {s:s, s:s}]", "Unmount", "/u", "Remove", "/r", "Fatal", "f");
    assert_error(mpp_actions_from_json(j, "emergency", &acts, &n, &e), &e, -EBADMSG,
                 "emergency[1]: both Remove and Fatal given");
    assert_null(acts);
    assert_int_equal(n, 0);
    json_decref(j);
    j = json_pack("[{s:s}, {s:s}]", "Unmount", "/u", "Warning", "w");
    assert_int_equal(mpp_actions_from_json(j, "emergency", &acts, &n, &e), 0);
    assert_int_equal(n, 2);
    assert_int_equal(acts[1].kind, MPP_ACTION_WARNING);
    json_t *back = mpp_actions_to_json(acts, n);
    assert_true(json_equal(back, j));
    json_decref(back);
    json_decref(j);
    for (size_t i = 0; i < n; i++)
        free(acts[i].arg);
    free(acts);

    /* A string holding a NUL, as a json_t built in memory may. */
    j = json_object();
    assert_int_equal(json_object_set_new(j, "EffectiveSource", json_stringn("a\0b", 3)), 0);
    assert_error(mpp_changes_from_json(j, "entry", &c, &e), &e, -EBADMSG,
                 "entry.EffectiveSource: the string contains a NUL character");
    assert_true(all_zero(&c, sizeof(c)));
    json_decref(j);

    j = json_pack("{s:s, s:s}", "b", "2", "a", "1");
    assert_int_equal(mpp_strmap_from_json(j, "", &sm, &e), 0);
    assert_int_equal(sm.n, 2);
    assert_str(mpp_strmap_get(&sm, "a"), "1");
    back = mpp_strmap_to_json(&sm);
    assert_true(json_equal(back, j));
    json_decref(back);
    mpp_strmap_clear(&sm);
    json_decref(j);
    j = json_pack("{s:s, s:[]}", "a", "1", "b");
    assert_error(mpp_strmap_from_json(j, "Labels", &sm, &e), &e, -EBADMSG,
                 "Labels[\"b\"]: expected a string, got array");
    assert_true(all_zero(&sm, sizeof(sm)));
    json_decref(j);

    /* to_json → dump → parse → from_json. */
    mpp_mount full;
    fill_mount(&full, "j");
    j = mpp_mount_to_json(&full);
    assert_non_null(j);
    _cleanup_free_ char *text = NULL;
    assert_int_equal(mpp_json_dump(j, &text, &e), 0);
    assert_null(strchr(text, '\n'));
    assert_null(strstr(text, ", "));
    assert_null(strstr(text, ": "));
    json_decref(j);
    assert_int_equal(mpp_json_parse(text, strlen(text), "dump", &j, &e), 0);
    assert_int_equal(mpp_mount_from_json(j, "", &m, &e), 0);
    assert_mount_equal(&m, &full);
    mpp_mount_clear(&m);
    json_decref(j);

    mpp_pattern fp;
    fill_pattern(&fp);
    j = mpp_pattern_to_json(&fp);
    assert_non_null(j);
    assert_int_equal(mpp_pattern_from_json(j, "", &p, &e), 0);
    assert_pattern_equal(&p, &fp);
    mpp_pattern_clear(&p);
    mpp_pattern_clear(&fp);
    json_decref(j);

    mpp_changes ch = {.effective_source = full.source};
    j = mpp_changes_to_json(&ch);
    assert_int_equal(mpp_changes_from_json(j, "", &c, &e), 0);
    assert_str(c.effective_source, full.source);
    assert_null(c.effective_consistency);
    mpp_changes_clear(&c);
    json_decref(j);
    mpp_mount_clear(&full);

    /* mpp_json_parse accepts any top-level value and names its origin in errors. */
    assert_int_equal(mpp_json_parse("[1]", 3, "config", &j, &e), 0);
    assert_true(json_is_array(j));
    json_decref(j);
    assert_int_equal(mpp_json_parse("\"s\"", 3, "config", &j, &e), 0);
    json_decref(j);
    assert_error(mpp_json_parse("{\"a\":", 5, "/etc/mpp/mpp.json", &j, &e), &e, -EBADMSG,
                 "/etc/mpp/mpp.json: line 1 column 5: truncated JSON");
    assert_null(j);
    assert_error(mpp_json_parse("", 0, NULL, &j, &e), &e, -EBADMSG, "empty document");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mount_round_trip),
        cmocka_unit_test(test_pattern_round_trip),
        cmocka_unit_test(test_messages_round_trip),
        cmocka_unit_test(test_mount_reencode),
        cmocka_unit_test(test_pattern_reencode),
        cmocka_unit_test(test_messages_reencode),
        cmocka_unit_test(test_encode_omitempty),
        cmocka_unit_test(test_encode_invalid_utf8),
        cmocka_unit_test(test_lenient_nulls),
        cmocka_unit_test(test_lenient_absent_and_empty),
        cmocka_unit_test(test_pattern_empty_strings_unset),
        cmocka_unit_test(test_lenient_unknown_fields),
        cmocka_unit_test(test_v1_new_mount_point),
        cmocka_unit_test(test_go_encoded_sample),
        cmocka_unit_test(test_wrong_types),
        cmocka_unit_test(test_top_level_type),
        cmocka_unit_test(test_emergency_actions),
        cmocka_unit_test(test_attach_response_state_dir),
        cmocka_unit_test(test_exit_status),
        cmocka_unit_test(test_bad_json),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_size_limits),
        cmocka_unit_test(test_json_level_api),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
