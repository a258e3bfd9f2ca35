/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Escaping of untrusted text for one line of an error, warning or log (see escape.h). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <mpp/escape.h>

#define ESC_LEN 4 /* "\xNN" */

/* The length of the valid UTF-8 character at s[0..len) (1 to 4), or 0 when s does not start
 * with one (invalid, overlong, surrogate, above U+10FFFF, or incomplete). *cp gets its code
 * point. */
static size_t utf8_char(const unsigned char *s, size_t len, uint32_t *cp)
{
    unsigned char c = s[0];
    size_t n;
    uint32_t v, min;

    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        v = c & 0x1f;
        min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        v = c & 0x0f;
        min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        v = c & 0x07;
        min = 0x10000;
    } else {
        return 0;
    }
    if (len < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return 0;
    *cp = v;
    return n;
}

/* Characters shown as the escapes of their bytes: they end lines, move the cursor or reorder
 * what is shown. */
static bool escaped_cp(uint32_t cp)
{
    return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029 ||
           (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

/* Whether s[0..len) is the start of a UTF-8 character that the end of the input cut. */
static bool cut_char(const unsigned char *s, size_t len)
{
    size_t need = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc0 ? 2 : 0;
    if (need == 0 || len >= need)
        return false;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xc0) != 0x80)
            return false;
    return true;
}

/* The next unit of the output at in[i]: *keep bytes copied as they are, or (*keep == 0) one
 * byte escaped. Returns the bytes of input consumed. */
static size_t next_unit(const unsigned char *in, size_t len, size_t i, size_t *keep)
{
    uint32_t cp;
    size_t n = utf8_char(in + i, len - i, &cp);
    if (n > 0 && !escaped_cp(cp)) {
        *keep = n;
        return n;
    }
    *keep = 0;
    return 1;
}

bool mpp_escape_is_clean(const char *s, size_t len)
{
    const unsigned char *in = (const unsigned char *)s;
    for (size_t i = 0, keep; i < len;) {
        i += next_unit(in, len, i, &keep);
        if (keep == 0)
            return false;
    }
    return true;
}

size_t mpp_escape_message(const char *s, size_t len, bool in_cut, char *out, size_t outsz)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *in = (const unsigned char *)s;

    if (outsz == 0)
        return 0;
    if (!in)
        len = 0;
    /* A character the cut of the input split in two is not shown as invalid bytes. */
    if (in_cut) {
        size_t k = len;
        while (k > 0 && len - k < 4 && (in[k - 1] & 0xc0) == 0x80)
            k--;
        if (k > 0 && cut_char(in + k - 1, len - k + 1))
            len = k - 1;
    }

    /* What the whole would take, to know whether it must be cut. */
    size_t total = 0;
    for (size_t i = 0, keep; i < len;) {
        i += next_unit(in, len, i, &keep);
        total += keep ? keep : ESC_LEN;
    }
    bool cut = in_cut || total > outsz - 1;
    size_t marker = strlen(MPP_ESCAPE_CUT_MARKER);
    if (marker > outsz - 1)
        marker = outsz - 1;
    size_t room = cut ? outsz - 1 - marker : outsz - 1;

    size_t o = 0;
    for (size_t i = 0, keep; i < len;) {
        size_t used = next_unit(in, len, i, &keep);
        size_t need = keep ? keep : ESC_LEN;
        if (o + need > room)
            break; /* whole units only: never half a character or half an escape */
        if (keep) {
            memcpy(out + o, in + i, keep);
        } else {
            out[o] = '\\';
            out[o + 1] = 'x';
            out[o + 2] = hex[in[i] >> 4];
            out[o + 3] = hex[in[i] & 0xf];
        }
        o += need;
        i += used;
    }
    if (cut) {
        memcpy(out + o, MPP_ESCAPE_CUT_MARKER, marker);
        o += marker;
    }
    out[o] = '\0';
    return o;
}

char *mpp_escape_dup(const char *s, size_t max)
{
    const unsigned char *in = (const unsigned char *)(s ? s : "");
    size_t len = strlen((const char *)in);
    size_t total = 0;
    for (size_t i = 0, keep; i < len;) {
        i += next_unit(in, len, i, &keep);
        total += keep ? keep : ESC_LEN;
    }
    size_t size = total + 1;
    if (max > 0 && size > max)
        size = max;
    char *out = malloc(size);
    if (!out) {
        errno = ENOMEM;
        return NULL;
    }
    mpp_escape_message((const char *)in, len, false, out, size);
    return out;
}
