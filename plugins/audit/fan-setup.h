/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the audit asks of fanotify, and how often it reads; shared with the benchmark that
 * measures the kernel's cost of the same mark without the plugin. */
#pragma once

#include <sys/fanotify.h>

#define AUDIT_FAN_INIT_FLAGS (FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK | FAN_REPORT_DFID_NAME)
#define AUDIT_MASK (FAN_MODIFY | FAN_CREATE | FAN_DELETE | FAN_RENAME | FAN_ONDIR)
/* How long the reader lets events gather after a batch (see reader_main in fan.c). */
#define AUDIT_GATHER_MS 2
/* Bytes read per read(): a fixed buffer, so memory stays bounded under a burst (the kernel's
 * queue is bounded too: it reports an overflow instead of growing). */
#define AUDIT_READ_BUF (256 * 1024)
/* A read that returned this much found a backlog: read again without waiting. */
#define AUDIT_BACKLOG (AUDIT_READ_BUF / 2)
