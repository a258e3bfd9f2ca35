/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A plugin's HTTP answer, parsed by http-parser: see http-response.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "http-response.h"
#include "macro.h"

enum { CB_NONE, CB_STATUS, CB_FIELD, CB_VALUE };

static mpp_http_response *of(http_parser *p)
{
    return p->data;
}

/* What the parser hands over of the status line and headers counts against the limit, with the
 * 4 bytes of ": " and CRLF around each field. */
static int header_bytes(http_parser *p, int cb, size_t len)
{
    mpp_http_response *r = of(p);
    size_t add = len + (cb != r->last_cb ? 4 : 0);
    r->last_cb = cb;
    if (add > r->max_header - r->header_bytes) {
        r->header_too_big = true;
        r->fail = -E2BIG;
        return 1;
    }
    r->header_bytes += add;
    return 0;
}

static int on_status(http_parser *p, const char *at, size_t len)
{
    (void)at;
    return header_bytes(p, CB_STATUS, len);
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
    (void)at;
    return header_bytes(p, CB_FIELD, len);
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
    (void)at;
    return header_bytes(p, CB_VALUE, len);
}

static int on_body(http_parser *p, const char *at, size_t len)
{
    mpp_http_response *r = of(p);
    if (len > r->max_body - r->len) {
        r->fail = -E2BIG;
        return 1;
    }
    if (r->len + len + 1 > r->cap) {
        size_t cap = r->cap ? r->cap : 1024;
        while (cap < r->len + len + 1)
            cap *= 2;
        char *grown = realloc(r->body, cap);
        if (!grown) {
            r->fail = -ENOMEM;
            return 1;
        }
        r->body = grown;
        r->cap = cap;
    }
    memcpy(r->body + r->len, at, len);
    r->len += len;
    r->body[r->len] = '\0';
    return 0;
}

static int on_message_complete(http_parser *p)
{
    mpp_http_response *r = of(p);
    /* An interim answer (100 Continue, 102, 103) has no body; the real one follows. */
    if (p->status_code >= 100 && p->status_code < 200 && p->status_code != 101) {
        r->len = 0;
        r->header_bytes = 0;
        r->last_cb = CB_NONE;
        return 0;
    }
    r->status = p->status_code;
    r->complete = true;
    r->keep_alive = http_should_keep_alive(p) != 0;
    /* Stop here: whatever follows is not part of this answer. */
    http_parser_pause(p, 1);
    return 0;
}

void mpp_http_response_init(mpp_http_response *r, size_t max_body, size_t max_header)
{
    memset(r, 0, sizeof(*r));
    http_parser_init(&r->parser, HTTP_RESPONSE);
    r->parser.data = r;
    http_parser_settings_init(&r->settings);
    r->settings.on_status = on_status;
    r->settings.on_header_field = on_header_field;
    r->settings.on_header_value = on_header_value;
    r->settings.on_body = on_body;
    r->settings.on_message_complete = on_message_complete;
    r->max_body = max_body;
    r->max_header = max_header;
}

void mpp_http_response_clear(mpp_http_response *r)
{
    free(r->body);
    r->body = NULL;
    r->len = r->cap = 0;
}

int mpp_http_response_feed(mpp_http_response *r, const char *data, size_t len, const char **why)
{
    *why = NULL;
    bool eof = len == 0;
    if (!eof)
        r->started = true;
    size_t used = http_parser_execute(&r->parser, &r->settings, eof ? NULL : data, len);
    enum http_errno e = HTTP_PARSER_ERRNO(&r->parser);

    if (r->fail) {
        *why = r->fail == -ENOMEM  ? "out of memory"
               : r->header_too_big ? "header too large"
                                   : "body too large";
        return r->fail;
    }
    if (r->parser.upgrade || (r->complete && r->status == 101)) {
        *why = "the plugin switched protocols";
        return -EBADMSG;
    }
    if (r->complete) {
        if (e != HPE_OK && e != HPE_PAUSED) {
            *why = http_errno_description(e);
            return -EBADMSG;
        }
        /* Nothing was asked beyond this answer: more bytes mean a wrong length, or a peer
         * that does not speak HTTP. */
        if (!eof && used < len) {
            *why = "bytes after the end of the answer";
            return -EBADMSG;
        }
        return 1;
    }
    if (e == HPE_INVALID_EOF_STATE || (eof && e == HPE_OK)) {
        *why = "connection closed before the end of the answer";
        return -EIO;
    }
    if (e != HPE_OK) {
        *why = http_errno_description(e);
        return -EBADMSG;
    }
    if (!eof && used != len) {
        *why = "unparsed bytes";
        return -EBADMSG;
    }
    return 0;
}
