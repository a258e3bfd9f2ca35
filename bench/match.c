/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpp-bench-match: the filter matching a chain does for one container, at scale.
 *
 *   mpp-bench-match MOUNTS PLUGINS PATTERNS PASSES
 *       Every mount against every plugin's patterns, PASSES times, three ways interleaved:
 *       - match: as a chain does it, each plugin's patterns compiled (mpp_pattern_set_new) and
 *         the mounts prepared (mpp_mount_set_new), both inside the timing since a chain does
 *         them once per container, then mpp_pattern_set_match for every pair;
 *       - legacy: mpp_patterns_match for every pair, straight on the data model;
 *       - floor: one prefix comparison per pattern (the least any matcher must do).
 *       Prints {"selected": N, "match": [ns...], "floor": [ns...], "legacy": [ns...]}.
 *   mpp-bench-match MOUNTS PLUGINS PATTERNS PASSES SIDE
 *       Only one side (match, legacy or floor), for a profiler; prints nothing. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mpp/mpp.h>

#include "macro.h"

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Plugin p's patterns, the kinds real plugins use: a destination tree, a source tree with a
 * type, a container label, a volume driver; most mounts match none of them, so that every
 * pattern of every plugin is evaluated (the worst case). */
static char *patterns_json(size_t p, size_t n)
{
    size_t cap = 512 * n + 16, len = 0;
    char *s = malloc(cap);
    if (!s)
        return NULL;
    len += (size_t)snprintf(s + len, cap - len, "[");
    for (size_t j = 0; j < n; j++) {
        const char *sep = j ? "," : "";
        switch (j % 4) {
        case 0:
            len += (size_t)snprintf(s + len, cap - len,
                                    "%s{\"Destination\": [{\"PathPrefix\": \"/plugin%zu/d%zu\"}]}",
                                    sep, p, j);
            break;
        case 1:
            len += (size_t)snprintf(s + len, cap - len,
                                    "%s{\"Type\": \"bind\", \"Source\": [{\"PathPrefix\": "
                                    "\"/srv/plugin%zu/s%zu\"}, {\"Not\": true, \"Suffix\": "
                                    "\".ro\"}]}",
                                    sep, p, j);
            break;
        case 2:
            len += (size_t)snprintf(s + len, cap - len,
                                    "%s{\"Container\": {\"Labels\": [{\"Exists\": [{\"Key\": "
                                    "{\"Exactly\": \"mpp.plugin%zu\"}, \"Value\": {\"Exactly\": "
                                    "\"p%zu\"}}]}]}}",
                                    sep, p, j);
            break;
        default:
            len += (size_t)snprintf(s + len, cap - len,
                                    "%s{\"Type\": \"volume\", \"Volume\": {\"Driver\": "
                                    "[{\"Exactly\": \"driver%zu-%zu\"}]}}",
                                    sep, p, j);
            break;
        }
    }
    snprintf(s + len, cap - len, "]");
    return s;
}

/* Mount i: a bind mount with three container labels; every 100th lies under a plugin's tree. */
static char *mounts_json(size_t n, size_t plugins)
{
    size_t cap = 600 * n + 16, len = 0;
    char *s = malloc(cap);
    if (!s)
        return NULL;
    len += (size_t)snprintf(s + len, cap - len, "[");
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(
            s + len, cap - len,
            "%s{\"Source\": \"/srv/volumes/app%zu/data\", \"Destination\": \"%s%zu/d0/x%zu\", "
            "\"Type\": \"bind\", \"ReadOnly\": false, \"Propagation\": \"rprivate\", "
            "\"Container\": {\"Labels\": {\"com.example.app\": \"web\", \"com.example.tier\": "
            "\"front\", \"com.example.n\": \"%zu\"}}}",
            i ? "," : "", i, i % 100 == 0 ? "/plugin" : "/data/app", i % 100 == 0 ? i % plugins : i,
            i, i);
    snprintf(s + len, cap - len, "]");
    return s;
}

int main(int argc, char **argv)
{
    if (argc != 5 && argc != 6) {
        fputs("usage: mpp-bench-match MOUNTS PLUGINS PATTERNS PASSES [match|legacy|floor]\n",
              stderr);
        return 2;
    }
    size_t nm = strtoul(argv[1], NULL, 10), np = strtoul(argv[2], NULL, 10),
           npat = strtoul(argv[3], NULL, 10), passes = strtoul(argv[4], NULL, 10);
    mpp_error err = {0};

    _cleanup_free_ char *mj = mounts_json(nm, np);
    mpp_mount *mounts = NULL;
    size_t n_mounts = 0;
    if (!mj || mpp_decode_mounts(mj, strlen(mj), &mounts, &n_mounts, &err) < 0) {
        fprintf(stderr, "mpp-bench-match: mounts: %s\n", err.msg);
        return 1;
    }
    mpp_pattern **pats = calloc(np, sizeof(*pats));
    size_t *n_pats = calloc(np, sizeof(*n_pats));
    char ***floor_prefix = calloc(np, sizeof(*floor_prefix));
    if (!pats || !n_pats || !floor_prefix)
        return 1;
    for (size_t p = 0; p < np; p++) {
        _cleanup_free_ char *pj = patterns_json(p, npat);
        if (!pj || mpp_decode_patterns(pj, strlen(pj), &pats[p], &n_pats[p], &err) < 0) {
            fprintf(stderr, "mpp-bench-match: patterns of plugin %zu: %s\n", p, err.msg);
            return 1;
        }
        floor_prefix[p] = calloc(npat, sizeof(char *));
        if (!floor_prefix[p])
            return 1;
        for (size_t j = 0; j < npat; j++)
            if (asprintf(&floor_prefix[p][j], "/plugin%zu/d%zu", p, j) < 0)
                return 1;
    }

    _cleanup_free_ long long *tm = calloc(passes, sizeof(long long));
    _cleanup_free_ long long *tf = calloc(passes, sizeof(long long));
    _cleanup_free_ long long *tl = calloc(passes, sizeof(long long));
    mpp_pattern_set **sets = calloc(np, sizeof(*sets));
    if (!tm || !tf || !tl || !sets)
        return 1;
    enum { MATCH, LEGACY, FLOOR, N_SIDES };
    static const char *const side_names[N_SIDES] = {"match", "legacy", "floor"};
    int only = -1;
    for (int k = 0; argc == 6 && k < N_SIDES; k++)
        if (strcmp(argv[5], side_names[k]) == 0)
            only = k;
    if (argc == 6 && only < 0) {
        fprintf(stderr, "mpp-bench-match: unknown side \"%s\"\n", argv[5]);
        return 2;
    }
    size_t selected[N_SIDES] = {0};
    volatile size_t sink = 0;
    for (size_t pass = 0; pass < passes + 3; pass++) {
        for (int k = 0; k < N_SIDES; k++) {
            /* Rotate who goes first, so that no side always runs on a cold cache. */
            int side = (k + (int)pass) % N_SIDES;
            if (only >= 0 && side != only)
                continue;
            long long t0 = now_ns();
            size_t hits = 0;
            if (side == MATCH) {
                mpp_mount_set *ms = NULL;
                if (mpp_mount_set_new(mounts, n_mounts, &ms, &err) < 0) {
                    fprintf(stderr, "mpp-bench-match: %s\n", err.msg);
                    return 1;
                }
                for (size_t p = 0; p < np; p++)
                    if (mpp_pattern_set_new(pats[p], n_pats[p], &sets[p], &err) < 0) {
                        fprintf(stderr, "mpp-bench-match: plugin %zu: %s\n", p, err.msg);
                        return 1;
                    }
                /* In a chain's order: each plugin against every mount. */
                for (size_t p = 0; p < np; p++)
                    for (size_t i = 0; i < n_mounts; i++)
                        hits += mpp_pattern_set_match(sets[p], ms, i) >= 0;
                mpp_mount_set_free(ms);
                for (size_t p = 0; p < np; p++)
                    mpp_pattern_set_free(sets[p]);
            } else if (side == LEGACY) {
                /* legacy and floor in the order this benchmark always used, so that their
                 * figures compare with earlier ones. */
                for (size_t i = 0; i < n_mounts; i++)
                    for (size_t p = 0; p < np; p++)
                        hits += mpp_patterns_match(pats[p], n_pats[p], &mounts[i]) >= 0;
            } else {
                for (size_t i = 0; i < n_mounts; i++)
                    for (size_t p = 0; p < np; p++)
                        for (size_t j = 0; j < npat; j++) {
                            const char *pre = floor_prefix[p][j];
                            hits += strncmp(mounts[i].destination, pre, strlen(pre)) == 0;
                        }
            }
            long long dt = now_ns() - t0;
            sink += hits;
            selected[side] = hits;
            if (pass >= 3)
                (side == MATCH ? tm : side == LEGACY ? tl : tf)[pass - 3] = dt;
        }
    }
    (void)sink;
    if (only < 0 && selected[MATCH] != selected[LEGACY]) {
        fprintf(stderr, "mpp-bench-match: compiled sets select %zu pairs, mpp_patterns_match %zu\n",
                selected[MATCH], selected[LEGACY]);
        return 1;
    }
    if (only < 0) {
        printf("{\"selected\": %zu, \"match\": [", selected[MATCH]);
        for (size_t i = 0; i < passes; i++)
            printf("%s%lld", i ? "," : "", tm[i]);
        printf("], \"floor\": [");
        for (size_t i = 0; i < passes; i++)
            printf("%s%lld", i ? "," : "", tf[i]);
        printf("], \"legacy\": [");
        for (size_t i = 0; i < passes; i++)
            printf("%s%lld", i ? "," : "", tl[i]);
        printf("]}\n");
    }

    free(sets);
    for (size_t p = 0; p < np; p++) {
        mpp_patterns_free(pats[p], n_pats[p]);
        for (size_t j = 0; j < npat; j++)
            free(floor_prefix[p][j]);
        free(floor_prefix[p]);
    }
    free(pats);
    free(n_pats);
    free(floor_prefix);
    mpp_mounts_free(mounts, n_mounts);
    return 0;
}
