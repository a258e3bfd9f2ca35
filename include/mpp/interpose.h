/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The whole interposition on one bundle, as mpp-runtime and mpp-hook run it: describe the
 * interposable mounts, pin (and, where asked, create) their sources, run the attach chain with
 * each EffectiveSource pinned as it is returned, take the pinned objects, and rewrite the
 * bundle's mounts. */

#include <mpp/chain.h>
#include <mpp/config.h>
#include <mpp/error.h>
#include <mpp/oci.h>
#include <mpp/pin.h>

#ifdef __cplusplus
extern "C" {
#endif

/* On success the bundle (in memory) holds the effective sources; the caller saves or dumps it.
 * On failure nothing stays attached: a failure after the chain attached unwinds it.
 *
 * Sources are pinned (see pin.h). With pin_dir, the bundle's sources become pin_dir/K and *pins
 * holds the clones, which the process that executes the runtime must attach with
 * mpp_pins_install(); *pins is NULL when no plugin holds a mount (the bundle is then
 * unchanged). Without pin_dir (pins may then be NULL), sources are checked, not pinned. */
int mpp_interpose_attach(mpp_chain *chain, mpp_bundle *b, const mpp_adapter_options *o,
                         const char *pin_dir, mpp_pins **pins, mpp_error *err);

/* The real OCI runtime to delegate to: cfg->runtime, else crun where it works here (a unified
 * cgroup v2 hierarchy), else runc. Heap string in *out. */
int mpp_real_runtime(const mpp_config *cfg, char **out, mpp_error *err);

#ifdef __cplusplus
}
#endif
