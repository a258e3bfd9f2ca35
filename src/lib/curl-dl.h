/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* libcurl, loaded on first use. Linking it costs every process about 3.6 ms of dynamic loading
 * (it pulls in some 30 libraries), which is more than a container start may spend on mpp when no
 * plugin is called at all; so, as systemd does for its optional libraries, it is dlopen()ed only
 * when a plugin is really called. */

#include <curl/curl.h>

#include <mpp/error.h>

extern __typeof__(curl_easy_init) *sym_curl_easy_init;
extern __typeof__(curl_easy_setopt) *sym_curl_easy_setopt;
extern __typeof__(curl_easy_perform) *sym_curl_easy_perform;
extern __typeof__(curl_easy_getinfo) *sym_curl_easy_getinfo;
extern __typeof__(curl_easy_cleanup) *sym_curl_easy_cleanup;
extern __typeof__(curl_easy_strerror) *sym_curl_easy_strerror;
extern __typeof__(curl_slist_append) *sym_curl_slist_append;
extern __typeof__(curl_slist_free_all) *sym_curl_slist_free_all;

/* Load libcurl and run curl_global_init, once per process (thread-safe). */
int mpp_dlopen_curl(mpp_error *err);
