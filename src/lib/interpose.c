/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <linux/magic.h>

#include <mpp/interpose.h>
#include <mpp/limits.h>

#include "macro.h"
#include "pin-internal.h"
#include "phase.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(mpp_pins *, mpp_pins_free)

/* A refusal names the canonical source the plugins judged; say what the user wrote too. */
static void name_given_sources(const mpp_pins *p, const mpp_mount *mounts, size_t n, mpp_error *err)
{
    for (size_t k = 0; k < n; k++) {
        const char *given = mpp_pins_given(p, k);
        if (given && strstr(err->msg, mounts[k].source))
            mpp_error_append(err, " (source %s resolves to %s)", given, mounts[k].source);
    }
}

static int pin_effective(void *pins, size_t k, mpp_mount *m, const char *plugin, mpp_error *err)
{
    const char *left = mpp_phase_enter("pinning");
    int r = mpp_pins_effective(pins, k, m, plugin, err);
    mpp_phase_enter(left);
    return r;
}

int mpp_interpose_attach(mpp_chain *chain, mpp_bundle *b, const mpp_adapter_options *o,
                         const char *pin_dir, mpp_pins **pins, mpp_error *err)
{
    mpp_mount *mounts = NULL;
    _cleanup_free_ size_t *index = NULL;
    _cleanup_(mpp_pins_freep) mpp_pins *p = NULL;
    size_t n = 0;
    if (pins)
        *pins = NULL;
    const char *left = mpp_phase_enter("mounts described");
    int r = mpp_bundle_describe(b, o, &mounts, &index, &n, err);
    if (r < 0)
        return r;
    /* Pinning holds a descriptor per mount until the runtime has run: a container that cannot
     * get them is refused now, before any plugin is contacted, not half way through. */
    char what[128];
    snprintf(what, sizeof(what), "container %.64s: %zu mounts", strempty(o->container_id), n);
    /* And a connection per plugin, kept until the chain has answered. */
    r = mpp_nofile_check(n + 1 + mpp_chain_config(chain)->n_plugins, what, err);
    if (r < 0) {
        mpp_mounts_free(mounts, n);
        return r;
    }
    mpp_phase_enter("pinning");
    r = mpp_pins_resolve(mounts, n, &p, err);
    if (r < 0) {
        mpp_mounts_free(mounts, n);
        return r;
    }

    /* Each EffectiveSource is pinned as a plugin returns it, before the next one judges it. */
    mpp_chain_set_source_hook(chain, pin_effective, p);
    mpp_phase_enter("matching");
    r = mpp_chain_attach(chain, o->container_id, mounts, n, err);
    mpp_chain_set_source_hook(chain, NULL, NULL);
    if (r < 0)
        name_given_sources(p, mounts, n, err);
    bool judged = mpp_chain_consulted(chain) > 0 ||
                  mpp_container_has_state(mpp_chain_config(chain)->state_dir, o->container_id);
    if (r >= 0 && judged) {
        /* Sources were created (CreateSourceIfMissing) and checked as they were pinned. */
        mpp_phase_enter("pinning");
        r = mpp_pins_take(p, mounts, n, pin_dir, err);
        mpp_phase_enter("bundle rewrite");
        if (r >= 0)
            r = mpp_bundle_apply(b, mounts, index, n, err);
        for (size_t k = 0; r >= 0 && k < n; k++)
            if (mpp_pins_path(p, k))
                r = mpp_bundle_set_mount_source(b, index[k], mpp_pins_path(p, k), mounts[k].source,
                                                err);
        if (r < 0) {
            /* The plugins attached but the container cannot start: detach them now, with
             * every pin closed first, so that teardown has the descriptors it needs even
             * when pinning failed for the lack of them. */
            mpp_pins_free(TAKE_PTR(p));
            mpp_teardown t = {0};
            mpp_error derr = {0};
            if (mpp_chain_detach(chain, o->container_id, -1, 0, &t, &derr) < 0 &&
                derr.code != -ENOENT)
                mpp_error_append(err, "; and tearing down: %s", derr.msg);
            mpp_teardown_clear(&t);
        } else if (pins && pin_dir) {
            *pins = TAKE_PTR(p);
        }
    }
    mpp_mounts_free(mounts, n);
    mpp_phase_enter(left);
    return r;
}

void mpp_dry_run_clear(mpp_dry_run *d)
{
    if (!d)
        return;
    mpp_mounts_free(d->mounts, d->n_mounts);
    free(d->index);
    mpp_strv_free(d->given, d->n_mounts);
    mpp_plugin_probes_free(d->plugins, d->n_plugins);
    free(d->match);
    memset(d, 0, sizeof(*d));
}

DEFINE_TRIVIAL_CLEANUP_FUNC(mpp_dry_run *, mpp_dry_run_clear)

int mpp_interpose_dry_run(mpp_chain *chain, mpp_bundle *b, const mpp_adapter_options *o,
                          unsigned flags, mpp_dry_run *out, mpp_error *err)
{
    memset(out, 0, sizeof(*out));
    _cleanup_(mpp_dry_run_clearp) mpp_dry_run *d = out;
    const char *state_dir = mpp_chain_config(chain)->state_dir;
    char pin_dir[PATH_MAX];
    if (snprintf(pin_dir, sizeof(pin_dir), "%s/pins", state_dir) >= (int)sizeof(pin_dir))
        return mpp_error_set(err, -ENAMETOOLONG, "state directory %.256s: path too long",
                             state_dir);
    int r = mpp_bundle_unpin(b, pin_dir, err);
    if (r < 0)
        return r;
    /* From here on as mpp_interpose_attach(), up to the chain's first Attach. */
    r = mpp_bundle_describe(b, o, &d->mounts, &d->index, &d->n_mounts, err);
    if (r < 0)
        return r;
    _cleanup_(mpp_pins_freep) mpp_pins *p = NULL;
    r = mpp_pins_resolve_nocreate(d->mounts, d->n_mounts, &p, err);
    if (r < 0)
        return r;
    if (!(d->given = calloc(d->n_mounts ? d->n_mounts : 1, sizeof(*d->given))))
        return mpp_error_set(err, -ENOMEM, "out of memory");
    for (size_t k = 0; k < d->n_mounts; k++)
        if (mpp_pins_given(p, k) && !(d->given[k] = strdup(mpp_pins_given(p, k))))
            return mpp_error_set(err, -ENOMEM, "out of memory");
    r = mpp_chain_select(chain, d->mounts, d->n_mounts, flags, &d->plugins, &d->n_plugins,
                         &d->match, err);
    if (r < 0)
        return r;
    d = NULL; /* complete: the caller's now */
    return 0;
}

static bool executable(const char *p)
{
    return access(p, X_OK) == 0;
}

int mpp_real_runtime(const mpp_config *cfg, char **out, mpp_error *err)
{
    const char *pick = cfg->runtime;
    if (!pick) {
        /* crun 1.8 refuses hybrid cgroup hierarchies; runc copes with them. */
        struct statfs fs;
        bool unified = statfs("/sys/fs/cgroup", &fs) == 0 && fs.f_type == CGROUP2_SUPER_MAGIC;
        const char *crun = executable("/usr/bin/crun") ? "/usr/bin/crun" : NULL;
        const char *runc = executable("/usr/bin/runc")         ? "/usr/bin/runc"
                           : executable("/usr/sbin/runc")      ? "/usr/sbin/runc"
                           : executable("/usr/local/bin/runc") ? "/usr/local/bin/runc"
                                                               : NULL;
        pick = (crun && (unified || !runc)) ? crun : runc;
        if (!pick)
            return mpp_error_set(err, -ENOENT,
                                 "no OCI runtime found: install crun or runc, or set \"runtime\" "
                                 "in the mpp configuration");
    } else if (!executable(pick)) {
        return mpp_error_set(err, -ENOENT,
                             "runtime %s from the mpp configuration is not an "
                             "executable file",
                             pick);
    }
    *out = strdup(pick);
    return *out ? 0 : mpp_error_set(err, -ENOMEM, "out of memory");
}
