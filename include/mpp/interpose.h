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

/* What mpp_interpose_attach would do with the bundle, up to the plugins' Attach calls and no
 * further (mppctl explain): the same description of the mounts, the same pinned sources (the
 * canonical path of what each names now), the chain's own selection (mpp_chain_select, whose
 * flags apply). Nothing is created (not even a source that says CreateSourceIfMissing), written
 * or attached. A bundle that names mpp-runtime's pins (state_dir/pins/K) is explained with the
 * sources they stand for (the bundle in memory gets them back). */
typedef struct mpp_dry_run {
    mpp_mount *mounts; /* as the plugins would be sent them: a pinned source is canonical */
    size_t *index;     /* position of mounts[i] in config.json's "mounts" */
    char **given;      /* the source as written when pinning resolved it to another path, else
                        * NULL */
    size_t n_mounts;
    mpp_plugin_probe *plugins; /* the configured chain, in order */
    size_t n_plugins;
    int *match; /* match[k * n_mounts + i]: the pattern of plugin k that selects mount i, or -1 */
} mpp_dry_run;

int mpp_interpose_dry_run(mpp_chain *chain, mpp_bundle *b, const mpp_adapter_options *o,
                          unsigned flags, mpp_dry_run *out, mpp_error *err);
void mpp_dry_run_clear(mpp_dry_run *d);

/* The real OCI runtime to delegate to: cfg->runtime, else crun where it works here (a unified
 * cgroup v2 hierarchy), else runc. Heap string in *out. */
int mpp_real_runtime(const mpp_config *cfg, char **out, mpp_error *err);

#ifdef __cplusplus
}
#endif
