/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A plugin's HTTP answer as the client reads it (src/lib/http-response.c): the first byte picks
 * how the rest is cut into reads, the rest is what the socket gives, then the peer closes. The
 * outcome must not depend on the cuts: the same bytes fed whole give the same answer. A
 * complete answer respects the limits, its body is NUL-terminated, its status is final. */
#include <errno.h>

#include "../src/lib/http-response.h"
#include "fuzz.h"

#define MAX_BODY 4096
#define MAX_HEADER 1024

typedef struct outcome {
    int r;
    size_t fed; /* bytes fed before the parser said it was done */
} outcome;

static outcome run(mpp_http_response *resp, const char *data, size_t size, size_t cut)
{
    mpp_http_response_init(resp, MAX_BODY, MAX_HEADER);
    const char *why = NULL;
    size_t off = 0;
    int r = 0;
    while (off < size) {
        size_t n = size - off < cut ? size - off : cut;
        r = mpp_http_response_feed(resp, data + off, n, &why);
        off += n;
        if (r != 0)
            break;
    }
    if (r == 0)
        r = mpp_http_response_feed(resp, NULL, 0, &why);
    FUZZ_ASSERT(r <= 1);
    FUZZ_ASSERT(r >= 0 || why != NULL);
    FUZZ_ASSERT(r == 1 || r == -E2BIG || r == -EBADMSG || r == -EIO || r == -ENOMEM);
    if (r == 1) {
        FUZZ_ASSERT(resp->complete);
        FUZZ_ASSERT(resp->len <= MAX_BODY);
        FUZZ_ASSERT(resp->status < 100 || resp->status >= 200); /* interim answers are skipped */
        FUZZ_ASSERT(!resp->body || resp->body[resp->len] == '\0');
    }
    return (outcome){.r = r, .fed = off};
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t cut = (size_t)(data[0] % 64) + 1;
    const char *text = (const char *)data + 1;
    size--;

    mpp_http_response split, whole;
    outcome a = run(&split, text, size, cut);
    outcome b = run(&whole, text, size, size ? size : 1);
    /* Where every byte was read, the cuts changed nothing. (A split read can end at the
     * answer's end and never see bytes after it; fed whole, those are an error.) */
    if (a.fed == size && b.fed == size) {
        FUZZ_ASSERT(a.r == b.r);
        if (a.r == 1) {
            FUZZ_ASSERT(split.status == whole.status);
            FUZZ_ASSERT(split.len == whole.len);
            FUZZ_ASSERT(split.len == 0 || memcmp(split.body, whole.body, split.len) == 0);
            FUZZ_ASSERT(split.keep_alive == whole.keep_alive);
        }
    }
    mpp_http_response_clear(&split);
    mpp_http_response_clear(&whole);
    return 0;
}
