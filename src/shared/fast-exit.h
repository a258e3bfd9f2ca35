/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <mpp/client.h>

#if defined(__SANITIZE_ADDRESS__)
#define MPP_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MPP_ASAN 1
#endif
#endif

/* Leave without the exit-time destructors of the libraries loaded on the way: libcurl's thirty
 * (OpenSSL, GnuTLS, Kerberos, ...) take about 0.5 ms here to tear down state that dies with the
 * process anyway, on every container start and stop. The caller has released its own
 * resources; stdio is flushed, and a failed flush (stdout closed or full) is the exit status.
 * Sanitized builds exit normally, so that LeakSanitizer still checks what was released, once a
 * libcurl load started in the background is done. */
static inline _Noreturn void exit_without_destructors(int status)
{
    if (fflush(NULL) != 0 && status == 0)
        status = 1;
#ifdef MPP_ASAN
    mpp_client_preload_wait(); /* exit() runs libcurl's exit handlers: not beside its load */
    exit(status);
#else
    _exit(status);
#endif
}
