/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The protocol codec: the input goes through every decoder. What decodes is encoded, decoded
 * again and encoded again: both must succeed and the two encodings must be the same text (the
 * encoders' output is canonical, so a plugin sees what mpp meant). */
#include <errno.h>

#include <mpp/codec.h>

#include "fuzz.h"
#include "macro.h"

#define ROUNDTRIP(type, decode, encode, clear)                                                     \
    do {                                                                                           \
        type a = {0}, b = {0};                                                                     \
        mpp_error err = {0};                                                                       \
        if (decode((const char *)data, size, &a, &err) == 0) {                                     \
            _cleanup_free_ char *t1 = NULL, *t2 = NULL;                                            \
            FUZZ_ASSERT(encode(&a, &t1, &err) == 0);                                               \
            FUZZ_ASSERT(decode(t1, strlen(t1), &b, &err) == 0);                                    \
            FUZZ_ASSERT(encode(&b, &t2, &err) == 0);                                               \
            FUZZ_ASSERT(strcmp(t1, t2) == 0);                                                      \
        } else {                                                                                   \
            FUZZ_ASSERT(err.msg[0] != '\0');                                                       \
        }                                                                                          \
        clear(&a);                                                                                 \
        clear(&b);                                                                                 \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ROUNDTRIP(mpp_activate_response, mpp_decode_activate_response, mpp_encode_activate_response,
              mpp_activate_response_clear);
    ROUNDTRIP(mpp_properties_response, mpp_decode_properties_response,
              mpp_encode_properties_response, mpp_properties_response_clear);
    ROUNDTRIP(mpp_attach_request, mpp_decode_attach_request, mpp_encode_attach_request,
              mpp_attach_request_clear);
    ROUNDTRIP(mpp_attach_response, mpp_decode_attach_response, mpp_encode_attach_response,
              mpp_attach_response_clear);
    ROUNDTRIP(mpp_detach_request, mpp_decode_detach_request, mpp_encode_detach_request,
              mpp_detach_request_clear);
    ROUNDTRIP(mpp_detach_response, mpp_decode_detach_response, mpp_encode_detach_response,
              mpp_detach_response_clear);
    ROUNDTRIP(mpp_mount, mpp_decode_mount, mpp_encode_mount, mpp_mount_clear);
    ROUNDTRIP(mpp_pattern, mpp_decode_pattern, mpp_encode_pattern, mpp_pattern_clear);

    /* Arrays: mounts round-trip; patterns only decode (there is no list encoder). */
    mpp_mount *ms = NULL, *ms2 = NULL;
    size_t n = 0, n2 = 0;
    mpp_error err = {0};
    if (mpp_decode_mounts((const char *)data, size, &ms, &n, &err) == 0) {
        _cleanup_free_ char *t1 = NULL, *t2 = NULL;
        FUZZ_ASSERT(mpp_encode_mounts(ms, n, &t1, &err) == 0);
        FUZZ_ASSERT(mpp_decode_mounts(t1, strlen(t1), &ms2, &n2, &err) == 0);
        FUZZ_ASSERT(n2 == n);
        FUZZ_ASSERT(mpp_encode_mounts(ms2, n2, &t2, &err) == 0);
        FUZZ_ASSERT(strcmp(t1, t2) == 0);
    }
    mpp_mounts_free(ms, n);
    mpp_mounts_free(ms2, n2);

    mpp_pattern *ps = NULL;
    if (mpp_decode_patterns((const char *)data, size, &ps, &n, &err) == 0) {
        for (size_t i = 0; i < n; i++) {
            _cleanup_free_ char *t = NULL;
            FUZZ_ASSERT(mpp_encode_pattern(&ps[i], &t, &err) == 0);
        }
        mpp_patterns_free(ps, n);
    }

    char *msg = NULL;
    if (mpp_decode_err_body((const char *)data, size, &msg, &err) == 0 && msg) {
        _cleanup_free_ char *t = NULL, *msg2 = NULL;
        FUZZ_ASSERT(mpp_encode_err_body(msg, &t, &err) == 0);
        FUZZ_ASSERT(mpp_decode_err_body(t, strlen(t), &msg2, &err) == 0);
        FUZZ_ASSERT(msg2 && strcmp(msg, msg2) == 0);
    }
    free(msg);
    return 0;
}
