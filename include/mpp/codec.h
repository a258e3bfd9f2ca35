/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The protocol codec (protocol §1 and §4): JSON text <-> the structs of types.h.
 *
 * Decoders are lenient as a Go decoder is: any array or object may be null or absent, unknown
 * fields are ignored. They are strict about types and size: a wrong type, truncated JSON, invalid
 * UTF-8, nesting deeper than MPP_CODEC_MAX_DEPTH or an input over MPP_CODEC_MAX_INPUT returns
 * -EBADMSG (or -E2BIG for size) with a message naming the field, e.g.
 * "Mounts[2].Volume.Labels: expected an object of strings, got integer".
 *
 * Encoders emit the exact JSON keys of the protocol and omit empty optional fields (omitempty).
 * The output is a NUL-terminated heap string the caller frees. */

#include <stddef.h>

#include <mpp/error.h>
#include <mpp/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MPP_CODEC_MAX_INPUT (16u * 1024u * 1024u) /* bytes */
#define MPP_CODEC_MAX_DEPTH 64                    /* JSON nesting */

int mpp_decode_activate_response(const char *json, size_t len, mpp_activate_response *out,
                                 mpp_error *err);
int mpp_encode_activate_response(const mpp_activate_response *in, char **out, mpp_error *err);

/* The properties request is "{}"; decoding it only checks it is an object (or empty). */
int mpp_decode_properties_response(const char *json, size_t len, mpp_properties_response *out,
                                   mpp_error *err);
int mpp_encode_properties_response(const mpp_properties_response *in, char **out, mpp_error *err);

int mpp_decode_attach_request(const char *json, size_t len, mpp_attach_request *out,
                              mpp_error *err);
int mpp_encode_attach_request(const mpp_attach_request *in, char **out, mpp_error *err);
int mpp_decode_attach_response(const char *json, size_t len, mpp_attach_response *out,
                               mpp_error *err);
int mpp_encode_attach_response(const mpp_attach_response *in, char **out, mpp_error *err);

int mpp_decode_detach_request(const char *json, size_t len, mpp_detach_request *out,
                              mpp_error *err);
int mpp_encode_detach_request(const mpp_detach_request *in, char **out, mpp_error *err);
int mpp_decode_detach_response(const char *json, size_t len, mpp_detach_response *out,
                               mpp_error *err);
int mpp_encode_detach_response(const mpp_detach_response *in, char **out, mpp_error *err);

/* Single objects, for tools and the journal. */
int mpp_decode_mount(const char *json, size_t len, mpp_mount *out, mpp_error *err);
int mpp_encode_mount(const mpp_mount *in, char **out, mpp_error *err);
int mpp_decode_pattern(const char *json, size_t len, mpp_pattern *out, mpp_error *err);
int mpp_encode_pattern(const mpp_pattern *in, char **out, mpp_error *err);
/* A JSON array of Patterns (e.g. a plugin's configuration file). */
int mpp_decode_patterns(const char *json, size_t len, mpp_pattern **out, size_t *n_out,
                        mpp_error *err);
/* A JSON array of MountPoints. */
int mpp_decode_mounts(const char *json, size_t len, mpp_mount **out, size_t *n_out, mpp_error *err);
int mpp_encode_mounts(const mpp_mount *in, size_t n, char **out, mpp_error *err);

/* A generic "{"Err": "..."}" body, as non-200 answers carry. Sets *msg to NULL when absent. */
int mpp_decode_err_body(const char *json, size_t len, char **msg, mpp_error *err);
int mpp_encode_err_body(const char *msg, char **out, mpp_error *err);

#ifdef __cplusplus
}
#endif
