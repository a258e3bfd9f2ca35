/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Reading a plugin's HTTP/1.x answer with Debian's http-parser: the client feeds it what it
 * receives, in pieces of any size. Content-Length, chunked (extensions and trailers) and
 * close-delimited bodies; interim 1xx answers are skipped. Kept apart from the sockets so that
 * the fuzz target drives exactly this code. */

#include <stdbool.h>
#include <stddef.h>

#include <http_parser.h>

/* Status line and headers together; plugins send a handful of short headers. */
#define MPP_HTTP_MAX_HEADER_BYTES (16u * 1024u)

typedef struct mpp_http_response {
    http_parser parser;
    http_parser_settings settings;
    size_t max_body;
    size_t max_header;
    size_t header_bytes;
    int last_cb; /* which header callback ran last, to count the separators of a new field */
    char *body;  /* NUL-terminated */
    size_t len;
    size_t cap;
    unsigned status;
    bool started;    /* at least one byte was fed */
    bool complete;   /* the final answer was read whole */
    bool keep_alive; /* the connection can carry the next request */
    int fail;        /* set by a callback: -E2BIG, -ENOMEM */
    bool header_too_big;
} mpp_http_response;

void mpp_http_response_init(mpp_http_response *r, size_t max_body, size_t max_header);
void mpp_http_response_clear(mpp_http_response *r);

/* Feed the next bytes of the answer; len 0 says the peer closed the connection. Returns 1 once
 * the final answer is complete (r->status, r->body, r->len, r->keep_alive), 0 when more is
 * needed, or negative with *why (a static text) set: -E2BIG (body over max_body, or the header
 * over max_header when r->header_too_big), -ENOMEM, -EBADMSG (not a valid HTTP/1.x answer, or
 * bytes after it), -EIO (the connection closed before the answer's end). Feeding after a
 * non-zero return is not allowed. */
int mpp_http_response_feed(mpp_http_response *r, const char *data, size_t len, const char **why);
