/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Engines known by their marks only, and plain OCI. CRI-O and containerd are recognised by what
 * they write into config.json and the bundle path, so that Container.Engine names them; their
 * mounts get the generic description (config.json and the annotations) and the kubelet's files
 * are excluded by adapter.c's table. An adapter that reads one of them further moves its entry
 * into its own adapter-NAME.c. Plain OCI claims any container: it stays last in the table. */
#include <stdbool.h>

#include "engine.h"

static int crio_claim(const mpp_adapter_ctx *ctx, mpp_engine_view *self)
{
    (void)self;
    return mpp_annotation_prefix(ctx->annotations, "io.kubernetes.cri-o.");
}

const mpp_engine_ops mpp_engine_crio = {
    .name = "cri-o",
    .claim = crio_claim,
};

static int containerd_claim(const mpp_adapter_ctx *ctx, mpp_engine_view *self)
{
    (void)self;
    return mpp_contains(ctx->bundle_dir, "io.containerd.runtime") ||
           mpp_annotation_prefix(ctx->annotations, "io.kubernetes.cri.");
}

const mpp_engine_ops mpp_engine_containerd = {
    .name = "containerd",
    .claim = containerd_claim,
};

static int oci_claim(const mpp_adapter_ctx *ctx, mpp_engine_view *self)
{
    (void)ctx;
    (void)self;
    return 1;
}

const mpp_engine_ops mpp_engine_oci = {
    .name = "oci",
    .claim = oci_claim,
};
