/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The per-container journal: state_dir/containers/ID/journal, JSON lines, each written (in one
 * write()) before the step it records can have an effect. Replaying it gives the plugins still
 * attached, so that a teardown in any later process finishes the unwind. Nothing is synced:
 * state_dir is runtime state like /run/runc, safe against the death of any process (the page
 * cache keeps what was written), not against a power loss, after which no container it describes
 * exists (docs/reliability.md). A last line without its newline (cut short, or zeroes) is no
 * record.
 *
 * Records (the "op" key):
 *   begin      {id, mounts: N}
 *   attach     {clock, plugin, mounts: [index...], sent: [MountPoint...]}   before the call
 *   attached   {clock, entries: [{mount, changes, emergency}...], state_dir?}  Attach: true only
 *   refused    {clock, error}                        denied, or the request never left
 *   unanswered {clock, error}                        sent, no valid answer: possibly attached
 *   detach     {clock}                                                     before the call
 *   detached   {clock, outcome, error?, halt?}                             after it
 *   resume     {}                                                          recover after a halt
 * An "attach" with neither "attached" nor "refused" after it (none, or "unanswered") counts as
 * attached to every mount it was sent (the process died, or the call failed, while the plugin
 * may have acted on it). */

#include <stdbool.h>
#include <stddef.h>

#include <mpp/chain.h>
#include <mpp/error.h>
#include <mpp/types.h>

typedef struct mpp_journal mpp_journal;

/* Create state_dir/containers/ID (0700) and its journal (0600), locked. -EEXIST if the
 * container already has one. */
int mpp_journal_create(const char *state_dir, const char *id, mpp_journal **out, mpp_error *err);

/* Open and lock an existing journal (waits for a concurrent holder). -ENOENT if there is none
 * (or it was removed while waiting). A torn last line, from a write cut short, is dropped. */
int mpp_journal_open(const char *state_dir, const char *id, mpp_journal **out, mpp_error *err);

/* Open an existing journal for reading only: no lock is taken and nothing is trimmed (replay
 * ignores a torn last line anyway), so that an inspector never waits for nor changes a teardown.
 * *busy (may be NULL) tells whether another process holds the lock at this moment. */
int mpp_journal_open_readonly(const char *state_dir, const char *id, mpp_journal **out, bool *busy,
                              mpp_error *err);

/* Append one record (a JSON object text without newline), in one write(). Once it returns, a
 * process kill cannot lose it (the page cache survives a kill). */
int mpp_journal_append(mpp_journal *j, const char *record, mpp_error *err);

/* Read every complete line. *lines is a heap array of heap strings. */
int mpp_journal_lines(mpp_journal *j, char ***lines, size_t *n, mpp_error *err);

/* Remove the journal and its directory (teardown complete); the lock goes with it. */
int mpp_journal_remove(mpp_journal *j, mpp_error *err);

void mpp_journal_close(mpp_journal *j);

const char *mpp_journal_path(const mpp_journal *j);

/* mkdir -p with mode 0700 for each component created; refuses a final directory that is not
 * owned by root or is accessible by group or others. */
int mpp_state_dir_ensure(const char *path, mpp_error *err);

/* Replayed state of a journal. */
typedef struct mpp_jentry {
    size_t mount; /* index in the container's mount list */
    mpp_changes changes;
    mpp_action *emergency;
    size_t n_emergency;
} mpp_jentry;

typedef enum mpp_jplugin_state {
    MPP_JP_NONE = 0,
    MPP_JP_SENT,      /* attach sent, no recorded answer: possibly attached */
    MPP_JP_ATTACHED,  /* answered with at least one Attach: true */
    MPP_JP_REFUSED,   /* denied, failed, or attached nothing */
    MPP_JP_DETACHING, /* detach sent, no recorded outcome */
    MPP_JP_DETACHED,
} mpp_jplugin_state;

typedef struct mpp_jplugin {
    unsigned clock;
    char *name;
    mpp_jplugin_state state;
    bool detach_was_sent; /* a "detach" record exists */
    mpp_jentry *entries;  /* what it attached (SENT: every mount sent, no changes) */
    char *state_dir;      /* the StateDir of its attach answer: a root for emergency actions */
    size_t n_entries;
    mpp_mount *sent; /* the mounts as it saw them, parallel to the "mounts" index list */
    size_t *sent_index;
    size_t n_sent;
} mpp_jplugin;

typedef struct mpp_jstate {
    char *id;
    size_t n_mounts;
    mpp_jplugin *plugins; /* by clock order as recorded */
    size_t n_plugins;
    bool halted;
    char **errors; /* from detached records, in order */
    size_t n_errors;
    char **warnings;
    size_t n_warnings;
} mpp_jstate;

int mpp_jstate_load(mpp_journal *j, mpp_jstate *st, mpp_error *err);
void mpp_jstate_clear(mpp_jstate *st);

/* The plugin still attached with the highest clock, or NULL: the next to detach. */
mpp_jplugin *mpp_jstate_next_detach(mpp_jstate *st);

/* The names in state_dir/SUB that are valid container IDs and that keep() accepts (NULL: all),
 * as a heap array for mpp_strv_free(); a missing directory is an empty list. */
int mpp_state_ids(const char *state_dir, const char *sub,
                  bool (*keep)(const char *state_dir, const char *id), char ***ids, size_t *n,
                  mpp_error *err);
