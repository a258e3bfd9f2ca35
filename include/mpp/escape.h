/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Text from outside mpp (a plugin's Err, warnings and emergency messages, paths) is shown on
 * terminals and written to logs that other programs parse line by line. Before it goes into an
 * error, warning or log line it is escaped, so that it stays one line and cannot forge one of
 * mpp's own lines or drive a terminal: every byte of a control character (C0, DEL, C1 U+0080 to
 * U+009F), of a line or paragraph separator (U+2028, U+2029), of a bidirectional override
 * (U+202A to U+202E, U+2066 to U+2069) and every byte that is not valid UTF-8 becomes "\xNN"
 * (two lowercase hex digits). Everything else is kept, backslashes included: escaping is
 * idempotent, so text escaped twice reads the same (a literal "\x0a" in the input forges
 * nothing, it stays on the line). */

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What ends a cut message. */
#define MPP_ESCAPE_CUT_MARKER "[truncated]"

/* Escape in[0..len) into out (outsz bytes, NUL included; outsz > 0). When the escaped text
 * does not fit, or in_cut says the input itself was already cut, the text is cut at a character
 * (or escape) boundary and ends with MPP_ESCAPE_CUT_MARKER (as much of the marker as fits).
 * Returns the length written. */
size_t mpp_escape_message(const char *in, size_t len, bool in_cut, char *out, size_t outsz);

/* The escaped text of the string in, as a new heap string of at most max bytes with its NUL
 * (cut as above), or of any length when max is 0. NULL (errno ENOMEM) when out of memory; in
 * NULL gives "". */
char *mpp_escape_dup(const char *in, size_t max);

/* Whether mpp_escape_message would leave s unchanged (nothing to escape). */
bool mpp_escape_is_clean(const char *s, size_t len);

#ifdef __cplusplus
}
#endif
