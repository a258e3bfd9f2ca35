/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Force-included (-include) into every file of libmpp and libmpp-plugin, which are compiled with
 * -fvisibility=hidden: what the public headers declare is declared here first, with default
 * visibility, so exactly the public API can be exported (#pragma once makes the files' own
 * includes of these headers no-ops). Which of it the .so files export, under which version node,
 * is listed in src/lib/libmpp.sym and src/sdk/libmpp-plugin.sym. Everything else stays internal:
 * the programs, tests and fuzzers that use internals link the static archives. */

#pragma GCC visibility push(default)
#include <mpp/mpp.h>
#include <mpp/mpp-plugin.h>
#pragma GCC visibility pop
