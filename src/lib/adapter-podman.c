/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The Podman adapter. Podman writes `--annotation` into config.json, so the annotations are the
 * container's labels here. Its `--label` values live in its database (libpod's bolt or sqlite
 * store), which a runtime or hook cannot read safely while podman holds it: they are left out;
 * users who need them in patterns add `--annotation mpp.labels.KEY=VALUE`. Volumes are found by
 * path (PODMAN_ROOT/volumes/NAME/_data) in the generic description; `:cached` and the like are
 * dropped by Podman before the runtime sees them. */
#include <errno.h>

#include "adapter.h"

int mpp_podman_describe(const mpp_adapter_ctx *ctx, mpp_mount *m)
{
    if (!ctx->annotations)
        return 0;
    return mpp_strmap_from_object(&m->container.labels, ctx->annotations);
}
