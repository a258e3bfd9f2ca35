/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* OCI bundles: read a config.json, describe its interposable mounts (protocol §3) as MountPoints
 * with the help of the engine that made the container (the "adapters"), write the effective
 * sources back, and check or create those sources (protocol §6 "Source").
 *
 * A bundle keeps the whole document: fields mpp does not know are written back unchanged. Loading
 * checks the parts mpp reads (the top level is an object; "mounts" is an array of objects with a
 * string "destination" and, when present, a string "source" and "type" and an array of string
 * "options"; "annotations" is an object of strings) and names the field when one is wrong:
 *   BUNDLE/config.json: mounts[2].destination: expected a string, got integer
 *
 * Keys are checked as runc (Go's encoding/json) reads them: it ignores case (with Unicode simple
 * folding: U+017F is "s", U+212A is "k") and takes the last of several. A document in which any
 * object has a key twice, two keys runc takes for one, or (in an object of the OCI runtime spec:
 * the top level, root, process, mounts[i], linux, hooks...) a key that runc takes for a field
 * without being its name is refused, naming it:
 *   BUNDLE/config.json: mounts[2]: key "Source" is not "source" (runc would read it as "source")
 * Free-form maps (annotations, linux.sysctl, linux.resources.unified) are exact in Go too: only
 * a key written twice is refused there.
 *
 * JSON numbers outside the signed 64-bit range (an "unlimited" uint64 rlimit, for one) cannot be
 * represented by the JSON library and make loading fail with a clear message. */

#include <stdbool.h>
#include <stddef.h>

#include <mpp/error.h>
#include <mpp/types.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mpp_bundle mpp_bundle;

/* Read BUNDLE_DIR/config.json (a regular file, not a symbolic link). */
int mpp_bundle_load(const char *bundle_dir, mpp_bundle **out, mpp_error *err);
/* The same, for the document of BUNDLE_DIR read from elsewhere (crun's create/run --config
 * FILE): path names the file (a regular file, not a symbolic link). The bundle directory stays
 * BUNDLE_DIR: a relative root.path, the copy's origin, and the adapters refer to it, as for
 * the runtime, whatever directory holds FILE. */
int mpp_bundle_load_file(const char *bundle_dir, const char *path, mpp_bundle **out,
                         mpp_error *err);

/* Parse a config.json from memory (e.g. a hook's stdin); origin names it in messages. Such a
 * bundle has no directory: mpp_bundle_save refuses it, mpp_bundle_dump works. */
int mpp_bundle_parse(const char *json, size_t len, const char *origin, mpp_bundle **out,
                     mpp_error *err);

/* Replace the file the document was loaded from (BUNDLE_DIR/config.json, or
 * mpp_bundle_load_file's path) atomically: a temporary file in the same directory with the
 * original's mode (and owner, when permitted), renamed over it. On failure the original is
 * untouched and no temporary file is left. */
int mpp_bundle_save(mpp_bundle *b, mpp_error *err);

/* The runtime's bundle. The real runtime never reads the bundle's own config.json, which its
 * owner may replace at any time: mpp-runtime gives it a directory of its own as its bundle,
 * STATE_DIR/bundles/ID/XXXXXX (mpp_bundle_copy_make; 0700, one per create), whose config.json
 * mpp_bundle_save_copy() writes (0600): the document mpp checked and the plugins judged, with a
 * relative root.path made absolute (it names the bundle's root file system); nothing else
 * differs from mpp_bundle_dump(). It stays until the container is deleted (the runtime's delete
 * and its hooks may read it): mpp_bundle_copy_remove() removes one, mpp_bundle_copies_remove()
 * all of a container's. */
int mpp_bundle_copy_make(const char *state_dir, const char *id, char *dir, size_t size,
                         mpp_error *err);
int mpp_bundle_save_copy(mpp_bundle *b, const char *dir, mpp_error *err);
void mpp_bundle_copy_remove(const char *dir);
/* When dir is such a copy, the engine's bundle directory it was made from (1, heap string in
 * *origin), else 0. For tools that get the bundle from the runtime's state (mppctl explain). */
int mpp_bundle_copy_origin(const char *state_dir, const char *dir, char **origin);
bool mpp_bundle_has_copies(const char *state_dir, const char *id);
void mpp_bundle_copies_remove(const char *state_dir, const char *id);
/* The IDs of the containers that have copies (e.g. none of whose mounts a plugin selected, so
 * no journal names them), as mpp_chain_list() lists journals. */
int mpp_bundle_copies_list(const char *state_dir, char ***ids, size_t *n, mpp_error *err);

/* The document as compact JSON text (heap string, NUL-terminated). */
int mpp_bundle_dump(const mpp_bundle *b, char **out, mpp_error *err);

void mpp_bundle_free(mpp_bundle *b);

/* The string value of an OCI annotation, or NULL. Valid until the bundle is freed or changed. */
const char *mpp_bundle_annotation(const mpp_bundle *b, const char *key);

/* BUNDLE_DIR/config.json for a loaded bundle, else the origin given to mpp_bundle_parse. */
const char *mpp_bundle_origin(const mpp_bundle *b);

#define MPP_DEFAULT_DOCKER_ROOT "/var/lib/docker"
#define MPP_DEFAULT_PODMAN_ROOT "/var/lib/containers/storage"

typedef struct mpp_adapter_options {
    const char *container_id; /* NULL: unknown (Container.ID stays empty, no engine files read) */
    const char *docker_root;  /* NULL: MPP_DEFAULT_DOCKER_ROOT */
    const char *podman_root;  /* NULL: MPP_DEFAULT_PODMAN_ROOT */
    const char *runtime_root; /* the --root global the engine passed (tells docker/containerd) */
    const char *bundle_dir;   /* may be NULL (hook) */
} mpp_adapter_options;

/* The interposable mounts of the bundle (protocol §3), described by the matching engine adapter.
 * index[k] is the position of mounts[k] in config.json's "mounts" array; the order is the
 * config.json order. Both arrays are heap-allocated (NULL when *n is 0); free them with
 * mpp_mounts_free(*mounts, *n) and free(*index).
 *
 * Engine files (Docker's config.v2.json, hostconfig.json, image config, volume opts.json) that
 * are missing, unreadable or malformed are skipped silently: the mount keeps its generic
 * description and the container is never failed because of them. A bind mount with a relative
 * source is an error (-EINVAL naming mounts[i].source): it cannot be matched by path patterns,
 * and passing it through uninterposed would let it escape every plugin. An invalid container ID
 * is an error too. */
int mpp_bundle_describe(const mpp_bundle *b, const mpp_adapter_options *o, mpp_mount **mounts,
                        size_t **index, size_t *n, mpp_error *err);

/* Write effective sources back: "source" = effective_source. A tmpfs mount whose effective
 * source differs from its source becomes {"type": "bind", "source": S, "options": ["rbind",
 * plus the original generic flags: ro/rw, nosuid, nodev, noexec, atime flags and propagation;
 * tmpfs-only options like size=, mode=, nr_inodes= are dropped]}. index[k] must be the position
 * of mounts[k] in "mounts", as mpp_bundle_describe gave it (checked: same destination). An
 * effective source must be absolute. */
int mpp_bundle_apply(mpp_bundle *b, const mpp_mount *mounts, const size_t *index, size_t n,
                     mpp_error *err);

/* Set mounts[i].source (a pinned source's path, see pin.h); with was, record the source it
 * stands for in the annotation MPP_PINNED_ANNOTATION "i", for mpp_bundle_unpin(). */
#define MPP_PINNED_ANNOTATION "mpp.pinned-source."
int mpp_bundle_set_mount_source(mpp_bundle *b, size_t i, const char *source, const char *was,
                                mpp_error *err);

/* For a bundle that names pins (mpp-runtime's copy, read by mppctl explain; or a bundle an
 * older mpp-runtime rewrote in place and never gave back): each mounts[i] whose source lies in
 * pin_dir gets back the source recorded for it. */
int mpp_bundle_unpin(mpp_bundle *b, const char *pin_dir, mpp_error *err); /* how many */

/* Protocol §6 "Source": for each mount whose effective source does not exist, create it as a
 * directory (mode 0755, parents too, never through a symbolic link: see pin.h) only if
 * create_source_if_missing; else -ENOENT naming both
 * the original and the effective source. An existing source must resolve to something a bind
 * mount can use (directory, regular file, socket, device, FIFO): a dangling symbolic link is
 * refused (-ENOENT), whatever create_source_if_missing says. A tmpfs mount left unchanged by the
 * plugins has no host source and is skipped. */
int mpp_sources_prepare(const mpp_mount *mounts, size_t n, mpp_error *err);

/* The number of entries of config.json's "mounts", and the source of entry i (NULL when it has
 * none or i is out of range). */
size_t mpp_bundle_n_mounts(const mpp_bundle *b);
const char *mpp_bundle_mount_source(const mpp_bundle *b, size_t i);

/* Put the exit gate in the bundle: mpp-init and the gate directory bind-mounted under /.mpp,
 * and mpp-init in front of process.args (see mpp/gate.h). */
int mpp_bundle_inject_init(mpp_bundle *b, const char *init_path, const char *gate_dir,
                           mpp_error *err);

#ifdef __cplusplus
}
#endif
