/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the audit asks of fanotify, and how often it reads; shared with the benchmark that
 * measures the kernel's cost of the same mark without the plugin. */
#pragma once

#include <sys/fanotify.h>

#define AUDIT_FAN_INIT_FLAGS (FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK | FAN_REPORT_DFID_NAME)
#define AUDIT_MASK (FAN_MODIFY | FAN_CREATE | FAN_DELETE | FAN_RENAME | FAN_ONDIR)
/* How long the reader lets events gather after a batch (see reader_main in fan.c). */
#define AUDIT_GATHER_MS 2
