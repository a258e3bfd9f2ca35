/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Test-only hooks of libmpp-plugin. Not part of the public API (mpp-plugin.h): they let the
 * test plugin misbehave at the HTTP level (garbage bodies, wrong status, no answer at all), which
 * a well-formed callback cannot express. */

#include <mpp/mpp-plugin.h>

typedef enum mpp_plugin_call {
    MPP_PLUGIN_CALL_ACTIVATE,
    MPP_PLUGIN_CALL_PROPERTIES,
    MPP_PLUGIN_CALL_ATTACH,
    MPP_PLUGIN_CALL_DETACH,
} mpp_plugin_call;

/* "activate", "properties", "attach", "detach". */
const char *mpp_plugin_call_to_string(mpp_plugin_call c);

typedef struct mpp_plugin_test_hooks {
    /* Called from a worker thread with the answer the SDK is about to send for a call whose
     * request decoded (after the callback ran): *status and *body (a heap string). The hook may
     * replace both (freeing the old body). Returns 0 to send the answer, or a negative value to
     * close the connection without answering. */
    int (*answer)(void *userdata, mpp_plugin_call call, unsigned *status, char **body);
    /* Called once by mpp_plugin_server_run() when it starts to stop, before it waits for the
     * calls in progress: wake whatever the hooks made wait. Must not block. */
    void (*stopping)(void *userdata);
    /* Optional. Called from a worker thread after answer, for an answer that will be sent: a
     * non-zero value sends its body one byte at a time, that many milliseconds apart (a plugin
     * whose answer trickles in). The wait blocks the HTTP thread: one such answer at a time. */
    unsigned (*drip_ms)(void *userdata, mpp_plugin_call call);
    /* Optional. Called from the HTTP thread once the whole answer to a call has been sent (e.g.
     * to crash right after answering). */
    void (*sent)(void *userdata, mpp_plugin_call call);
} mpp_plugin_test_hooks;

/* Install the hooks (copied) before mpp_plugin_server_run(). */
void mpp_plugin_server_set_test_hooks(mpp_plugin_server *s, const mpp_plugin_test_hooks *hooks,
                                      void *userdata);
