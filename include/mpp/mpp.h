/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* libmpp: mount point plugins for OCI containers. */

#include <mpp/error.h>
#include <mpp/escape.h>
#include <mpp/types.h>
#include <mpp/codec.h>
#include <mpp/pattern.h>
#include <mpp/config.h>
#include <mpp/client.h>
#include <mpp/chain.h>
#include <mpp/interpose.h>
#include <mpp/pin.h>
#include <mpp/gate.h>
#include <mpp/oci.h>
#include <mpp/limits.h>

#define MPP_VERSION "0.1.0"
