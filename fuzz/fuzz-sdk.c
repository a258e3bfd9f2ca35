/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The plugin SDK's request handling. Its handlers (src/sdk/server.c) are static and run behind
 * libmicrohttpd on a socket, so this target drives the codec calls they make, in their order:
 * the body is decoded as each endpoint's request; a request that does not decode gets the
 * {"Err": msg} answer (which must decode back to msg, as the client reads it); one that decodes
 * gets an answer built from it, as a plugin would (attach every mount with a new source and an
 * emergency action), which is encoded, then decoded by the client's decoder and checked. */
#include <stdio.h>

#include <jansson.h>

#include <mpp/codec.h>

#include "fuzz.h"
#include "macro.h"

static void bad_request(const mpp_error *err)
{
    _cleanup_free_ char *body = NULL, *msg = NULL;
    mpp_error e = {0};
    FUZZ_ASSERT(mpp_encode_err_body(err->msg, &body, &e) == 0);
    FUZZ_ASSERT(mpp_decode_err_body(body, strlen(body), &msg, &e) == 0);
    FUZZ_ASSERT(msg && strcmp(msg, err->msg) == 0);
}

static void properties(const uint8_t *data, size_t size)
{
    /* The SDK only checks that a non-blank properties body is an object. */
    json_error_t jerr;
    json_t *j = json_loadb((const char *)data, size, 0, &jerr);
    json_decref(j);
}

static void attach(const uint8_t *data, size_t size)
{
    _cleanup_(mpp_attach_request_clear) mpp_attach_request req = {0};
    mpp_error err = {0};
    if (mpp_decode_attach_request((const char *)data, size, &req, &err) < 0) {
        bad_request(&err);
        return;
    }
    _cleanup_(mpp_attach_response_clear) mpp_attach_response resp = {.success = true};
    resp.attachments = calloc(req.n_mounts ? req.n_mounts : 1, sizeof(*resp.attachments));
    FUZZ_ASSERT(resp.attachments);
    resp.n_attachments = req.n_mounts;
    for (size_t k = 0; k < req.n_mounts; k++) {
        mpp_attachment *a = &resp.attachments[k];
        a->attach = k % 2 == 0;
        FUZZ_ASSERT(asprintf(&a->changes.effective_source, "%s/.fuzz",
                             req.mounts[k].effective_source ? req.mounts[k].effective_source : "") >
                    0);
        a->emergency = calloc(1, sizeof(*a->emergency));
        FUZZ_ASSERT(a->emergency);
        a->n_emergency = 1;
        a->emergency[0].kind = MPP_ACTION_UNMOUNT;
        a->emergency[0].arg = strdup(a->changes.effective_source);
        FUZZ_ASSERT(a->emergency[0].arg);
    }
    _cleanup_free_ char *body = NULL;
    FUZZ_ASSERT(mpp_encode_attach_response(&resp, &body, &err) == 0);
    _cleanup_(mpp_attach_response_clear) mpp_attach_response back = {0};
    FUZZ_ASSERT(mpp_decode_attach_response(body, strlen(body), &back, &err) == 0);
    FUZZ_ASSERT(back.success && back.n_attachments == req.n_mounts);
    for (size_t k = 0; k < back.n_attachments; k++) {
        FUZZ_ASSERT(back.attachments[k].attach == resp.attachments[k].attach);
        FUZZ_ASSERT(back.attachments[k].n_emergency == 1);
        FUZZ_ASSERT(strcmp(back.attachments[k].changes.effective_source,
                           resp.attachments[k].changes.effective_source) == 0);
    }
}

static void detach(const uint8_t *data, size_t size)
{
    _cleanup_(mpp_detach_request_clear) mpp_detach_request req = {0};
    mpp_error err = {0};
    if (mpp_decode_detach_request((const char *)data, size, &req, &err) < 0) {
        bad_request(&err);
        return;
    }
    /* A plugin that fails the teardown of a container it does not know, naming the ID. */
    _cleanup_(mpp_detach_response_clear) mpp_detach_response resp = {
        .success = req.n_mounts > 0,
        .recoverable = req.has_exit_status,
    };
    if (!resp.success)
        FUZZ_ASSERT(asprintf(&resp.err, "unknown container %s", req.id ? req.id : "") > 0);
    _cleanup_free_ char *body = NULL;
    FUZZ_ASSERT(mpp_encode_detach_response(&resp, &body, &err) == 0);
    _cleanup_(mpp_detach_response_clear) mpp_detach_response back = {0};
    FUZZ_ASSERT(mpp_decode_detach_response(body, strlen(body), &back, &err) == 0);
    FUZZ_ASSERT(back.success == resp.success && back.recoverable == resp.recoverable);
    FUZZ_ASSERT(!resp.err || (back.err && strcmp(back.err, resp.err) == 0));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    properties(data, size);
    attach(data, size);
    detach(data, size);
    return 0;
}
