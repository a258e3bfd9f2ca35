/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The pattern matcher (spec §5). Pure functions: no I/O, no allocation on the match path
 * (path cleaning uses a bounded stack buffer; a path longer than PATH_MAX does not match a
 * path predicate). */

#include <stdbool.h>
#include <stddef.h>

#include <mpp/types.h>

#ifdef __cplusplus
extern "C" {
#endif

bool mpp_string_pattern_match(const mpp_string_pattern *p, const char *s);
bool mpp_string_patterns_match(const mpp_string_patterns *ps, const char *s);
bool mpp_strmap_pattern_match(const mpp_strmap_pattern *p, const mpp_strmap *m);
bool mpp_strmap_patterns_match(const mpp_strmap_patterns *ps, const mpp_strmap *m);
bool mpp_stack_pattern_match(const mpp_stack_pattern *p, const mpp_applied *stack, size_t n);

/* One Pattern (AND of its set fields) against one mount. */
bool mpp_pattern_match(const mpp_pattern *p, const mpp_mount *m);

/* A plugin's Patterns (OR). Returns the index of the first pattern that matches, or -1 (also
 * for an empty list, which selects nothing). */
int mpp_patterns_match(const mpp_pattern *ps, size_t n, const mpp_mount *m);

/* Go's path.Clean: "" → ".", collapse "//", drop ".", resolve ".." lexically, no trailing "/".
 * Writes into out (size outsz). Returns the length or -ENAMETOOLONG. */
int mpp_path_clean(const char *in, char *out, size_t outsz);

#ifdef __cplusplus
}
#endif
