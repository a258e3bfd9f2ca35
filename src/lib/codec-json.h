/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The codec at the jansson level, for the parts of libmpp that embed protocol objects in their
 * own documents (the journal, the configuration, the properties cache). Implemented in codec.c.
 *
 * The *_from_json decoders take a value that may be NULL or JSON null (= absent: *out is left
 * empty and 0 returned). On error they return a negative errno, leave *out zeroed and name the
 * field in the message, prefixed by `where`. */

#include <jansson.h>
#include <mpp/error.h>
#include <mpp/types.h>

/* Parse text with the codec's limits (MPP_CODEC_MAX_INPUT → -E2BIG, depth MPP_CODEC_MAX_DEPTH,
 * invalid UTF-8, truncated JSON → -EBADMSG); origin names the document in the message
 * ("attach response of plugin x: line 1 column 7: ..."). *out is a new reference. */
int mpp_json_parse(const char *text, size_t len, const char *origin, json_t **out, mpp_error *err);
/* mpp_json_parse, refusing an object with a key twice (-EBADMSG): for documents another program
 * reads too, which might take the other one. */
int mpp_json_parse_unique(const char *text, size_t len, const char *origin, json_t **out,
                          mpp_error *err);
/* Parse a file that is not a protocol message (a configuration), with jansson's flags: errors
 * give the line, the column and a fixed reason, never text of the document (which may be a
 * link to a secret). Implemented in config.c. */
int mpp_json_parse_private(const char *text, size_t len, const char *origin, size_t flags,
                           json_t **out, mpp_error *err);
/* Object → struct. `where` is the field path prefix for messages ("Mounts[2]"); may be "". */
int mpp_mount_from_json(const json_t *j, const char *where, mpp_mount *out, mpp_error *err);
int mpp_changes_from_json(const json_t *j, const char *where, mpp_changes *out, mpp_error *err);
int mpp_actions_from_json(const json_t *j, const char *where, mpp_action **out, size_t *n,
                          mpp_error *err);
int mpp_pattern_from_json(const json_t *j, const char *where, mpp_pattern *out, mpp_error *err);
int mpp_strmap_from_json(const json_t *j, const char *where, mpp_strmap *out, mpp_error *err);
/* Struct → new json_t reference (NULL only on ENOMEM). Omit empty optional fields. */
json_t *mpp_mount_to_json(const mpp_mount *m);
json_t *mpp_changes_to_json(const mpp_changes *c);
json_t *mpp_actions_to_json(const mpp_action *a, size_t n);
json_t *mpp_pattern_to_json(const mpp_pattern *p);
json_t *mpp_strmap_to_json(const mpp_strmap *m);
/* "object", "array", "string", "integer", "real number", "boolean", "null": for messages. */
const char *mpp_json_type_name(const json_t *v);
/* Dump with compact separators; heap string. */
int mpp_json_dump(const json_t *j, char **out, mpp_error *err);
