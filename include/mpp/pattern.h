/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The pattern matcher (protocol §5). Pure functions: no I/O, no allocation on the match path
 * (path cleaning uses a bounded stack buffer; a path longer than PATH_MAX does not match a
 * path predicate). The compiled sets below allocate when they are built, never when they
 * match. */

#include <stdbool.h>
#include <stddef.h>

#include <mpp/error.h>
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

/* Compiled matching, for a chain: the same results as mpp_patterns_match, with the work that
 * depends only on the patterns (lengths, PathPrefix/PathContains cleaned, Type, Propagation,
 * Consistency and Scope turned into small codes) done once per plugin by mpp_pattern_set_new,
 * and the work that depends only on a mount done once for all plugins by mpp_mount_set_new.
 * Matching then allocates nothing and measures no string twice. */
typedef struct mpp_pattern_set mpp_pattern_set;
typedef struct mpp_mount_set mpp_mount_set;

/* Compile a plugin's Patterns. The set borrows ps and its strings: they must stay alive and
 * unchanged until mpp_pattern_set_free. n == 0 gives a set that selects nothing. */
int mpp_pattern_set_new(const mpp_pattern *ps, size_t n, mpp_pattern_set **out, mpp_error *err);
void mpp_pattern_set_free(mpp_pattern_set *s);

/* Prepare the mounts ms[0..n) for matching. The set borrows the array and keeps what it
 * derives from the fields plugins never change (protocol §4: they change only EffectiveSource,
 * EffectiveConsistency and, through the chain, AppliedMiddleware): Source, Destination, Type,
 * Mode, Propagation, Consistency, ReadOnly, CreateSourceIfMissing, Volume.{Name, Driver, ID,
 * Scope, Labels, DriverOptions, Options}, Container.Labels and Image.Labels must not change
 * while the set is in use. EffectiveSource, EffectiveConsistency and AppliedMiddleware are read
 * from the mount at each match, so one set serves a whole chain. */
int mpp_mount_set_new(const mpp_mount *ms, size_t n, mpp_mount_set **out, mpp_error *err);
void mpp_mount_set_free(mpp_mount_set *s);

/* The same as mpp_patterns_match(ps, n, &ms[i]) for the ps and n the pattern set was compiled
 * from: the index of the first pattern that matches mount i, or -1 (also when i is out of
 * range). Allocates nothing and changes neither set. */
int mpp_pattern_set_match(const mpp_pattern_set *ps, const mpp_mount_set *ms, size_t i);

/* Go's path.Clean: "" → ".", collapse "//", drop ".", resolve ".." lexically, no trailing "/".
 * Writes into out (size outsz). Returns the length or -ENAMETOOLONG. */
int mpp_path_clean(const char *in, char *out, size_t outsz);

#ifdef __cplusplus
}
#endif
