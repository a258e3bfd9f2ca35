/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The matcher: a pattern list, FUZZ_SEP, a mount. The result must agree with the matcher's
 * definition: the first match's index, and -1 exactly when no single pattern matches; the
 * compiled sets (mpp_pattern_set, mpp_mount_set) must agree with it. */
#include <limits.h>

#include <mpp/codec.h>
#include <mpp/pattern.h>

#include "fuzz.h"
#include "macro.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *part[2];
    size_t len[2];
    if (fuzz_split(data, size, part, len, 2) != 2)
        return 0;

    mpp_pattern *ps = NULL;
    size_t n = 0;
    mpp_mount m = {0};
    mpp_error err = {0};
    if (mpp_decode_patterns((const char *)part[0], len[0], &ps, &n, &err) == 0 &&
        mpp_decode_mount((const char *)part[1], len[1], &m, &err) == 0) {
        int first = mpp_patterns_match(ps, n, &m);
        int expect = -1;
        for (size_t i = 0; i < n; i++)
            if (mpp_pattern_match(&ps[i], &m)) {
                expect = (int)i;
                break;
            }
        FUZZ_ASSERT(first == expect);

        /* The compiled sets a chain uses give the same answer. */
        mpp_pattern_set *set = NULL;
        mpp_mount_set *mset = NULL;
        if (mpp_pattern_set_new(ps, n, &set, &err) == 0 &&
            mpp_mount_set_new(&m, 1, &mset, &err) == 0)
            FUZZ_ASSERT(mpp_pattern_set_match(set, mset, 0) == first);
        mpp_mount_set_free(mset);
        mpp_pattern_set_free(set);

        /* The path cleaner on every path of the mount: idempotent. */
        const char *paths[] = {m.source, m.destination, m.effective_source};
        for (size_t i = 0; i < ELEMENTSOF(paths); i++) {
            if (!paths[i])
                continue;
            char a[PATH_MAX], b[PATH_MAX];
            int la = mpp_path_clean(paths[i], a, sizeof(a));
            if (la < 0)
                continue;
            FUZZ_ASSERT((size_t)la == strlen(a));
            FUZZ_ASSERT(mpp_path_clean(a, b, sizeof(b)) == la && strcmp(a, b) == 0);
        }
    }
    mpp_patterns_free(ps, n);
    mpp_mount_clear(&m);
    return 0;
}
