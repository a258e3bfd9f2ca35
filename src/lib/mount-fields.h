/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The fields of a MountPoint (protocol §4), and how a Pattern (protocol §5) looks at each: the
 * one list that types.c (clear, copy, init), codec.c (decode, encode) and pattern.c (plain and
 * compiled matching) expand, so that they cannot disagree on which fields exist.
 *
 * Adding a field: its members in mpp_mount and mpp_pattern (include/mpp/types.h, what plugins
 * read), one line here, the code that gives it meaning (an engine adapter filling it, a runtime
 * step applying it), and its row in docs/protocol.md (§4.2, and §5 for patterns); a new kind also
 * needs its handling in the three files. types.c refuses to compile when the list and the structs
 * disagree.
 *
 * X(GROUP, ID, KEY, MKIND, MMEMBER, PKIND, PMEMBER), in wire order within each group (the
 * groups' fields come after the top level's, which puts the fields patterns use most first in
 * the matcher's checks):
 *   GROUP   the JSON object the key belongs to: ROOT, or the ID of an OBJ field of ROOT
 *   ID      a unique C name for the generated code (bits, bytes, members)
 *   KEY     the JSON key
 *   MKIND   the mount's member, at MMEMBER in mpp_mount:
 *           STR         char *, left out of JSON when empty
 *           STR_ALWAYS  char *, always written (protocol §4.2 says the key is always there)
 *           BOOL        bool, left out when false
 *           MAP         mpp_strmap, left out when empty
 *           OBJ         a JSON object holding the fields of group ID (always written)
 *           APPLIED     AppliedMiddleware: mpp_applied MMEMBER[n_MMEMBER]
 *   PKIND   how a Pattern matches it, at PMEMBER in mpp_pattern:
 *           SLIST       mpp_string_patterns against the string (a NULL string is "")
 *           ATOM        char *, equal or don't care; a fixed vocabulary (ID##_atoms in
 *                       pattern.c) makes it one byte of the compiled word
 *           TRI         mpp_tristate against the bool
 *           MAPS        mpp_strmap_patterns against the map
 *           OBJ         the pattern's JSON object for group ID (left out when empty)
 *           NONE        patterns cannot name it
 *           and the fields whose meaning is their own:
 *           TYPE        ATOM, and a tmpfs mount reaches only patterns naming tmpfs
 *           CONSISTENCY ATOM where an unset Consistency is "default"
 *           EFFECTIVE_CONSISTENCY  CONSISTENCY on a value plugins change along the chain
 *           EFFECTIVE_SOURCE       SLIST on a value plugins change; Source until then
 *           STACK       AppliedMiddlewareStackPattern against the AppliedMiddleware stack
 *   PMEMBER its member path in mpp_pattern (unused with NONE) */
#define MPP_MOUNT_FIELDS(X)                                                                        \
    X(ROOT, effective_source, "EffectiveSource", STR_ALWAYS, effective_source, EFFECTIVE_SOURCE,   \
      effective_source)                                                                            \
    X(ROOT, effective_consistency, "EffectiveConsistency", STR, effective_consistency,             \
      EFFECTIVE_CONSISTENCY, effective_consistency)                                                \
    X(ROOT, VOLUME, "Volume", OBJ, volume, OBJ, volume)                                            \
    X(ROOT, CONTAINER, "Container", OBJ, container, OBJ, container_labels)                         \
    X(ROOT, IMAGE, "Image", OBJ, image, OBJ, image_labels)                                         \
    X(ROOT, source, "Source", STR_ALWAYS, source, SLIST, source)                                   \
    X(ROOT, destination, "Destination", STR_ALWAYS, destination, SLIST, destination)               \
    X(ROOT, read_only, "ReadOnly", BOOL, read_only, TRI, read_only)                                \
    X(ROOT, type, "Type", STR, type, TYPE, type)                                                   \
    X(ROOT, mode, "Mode", STR, mode, SLIST, mode)                                                  \
    X(ROOT, propagation, "Propagation", STR, propagation, ATOM, propagation)                       \
    X(ROOT, create_source_if_missing, "CreateSourceIfMissing", BOOL, create_source_if_missing,     \
      TRI, create_source_if_missing)                                                               \
    X(ROOT, applied_middleware, "AppliedMiddleware", APPLIED, applied, STACK, applied_middleware)  \
    X(ROOT, consistency, "Consistency", STR, consistency, CONSISTENCY, consistency)                \
    X(VOLUME, volume_name, "Name", STR, volume.name, SLIST, volume.name)                           \
    X(VOLUME, volume_driver, "Driver", STR, volume.driver, SLIST, volume.driver)                   \
    X(VOLUME, volume_id, "ID", STR, volume.id, SLIST, volume.id)                                   \
    X(VOLUME, volume_labels, "Labels", MAP, volume.labels, MAPS, volume.labels)                    \
    X(VOLUME, volume_driver_options, "DriverOptions", MAP, volume.driver_options, MAPS,            \
      volume.driver_options)                                                                       \
    X(VOLUME, volume_options, "Options", MAP, volume.options, MAPS, volume.options)                \
    X(VOLUME, volume_scope, "Scope", STR, volume.scope, ATOM, volume.scope)                        \
    X(CONTAINER, container_labels, "Labels", MAP, container.labels, MAPS, container_labels)        \
    X(CONTAINER, container_id, "ID", STR, container.id, NONE, -)                                   \
    X(CONTAINER, container_engine, "Engine", STR, container.engine, NONE, -)                       \
    X(CONTAINER, container_annotations, "Annotations", MAP, container.annotations, NONE, -)        \
    X(IMAGE, image_labels, "Labels", MAP, image.labels, MAPS, image_labels)

/* MPP_FIELD_IF(GROUP, WANT, ...): the rest when GROUP is WANT, else nothing; the generators
 * use it to pick the fields of one JSON object. */
#define MPP_FIELD_IF(group, want, ...) MPP_FIELD_IF_##group##_##want(__VA_ARGS__)
#define MPP_FIELD_IF_ROOT_ROOT(...) __VA_ARGS__
#define MPP_FIELD_IF_ROOT_VOLUME(...)
#define MPP_FIELD_IF_ROOT_CONTAINER(...)
#define MPP_FIELD_IF_ROOT_IMAGE(...)
#define MPP_FIELD_IF_VOLUME_ROOT(...)
#define MPP_FIELD_IF_VOLUME_VOLUME(...) __VA_ARGS__
#define MPP_FIELD_IF_VOLUME_CONTAINER(...)
#define MPP_FIELD_IF_VOLUME_IMAGE(...)
#define MPP_FIELD_IF_CONTAINER_ROOT(...)
#define MPP_FIELD_IF_CONTAINER_VOLUME(...)
#define MPP_FIELD_IF_CONTAINER_CONTAINER(...) __VA_ARGS__
#define MPP_FIELD_IF_CONTAINER_IMAGE(...)
#define MPP_FIELD_IF_IMAGE_ROOT(...)
#define MPP_FIELD_IF_IMAGE_VOLUME(...)
#define MPP_FIELD_IF_IMAGE_CONTAINER(...)
#define MPP_FIELD_IF_IMAGE_IMAGE(...) __VA_ARGS__
