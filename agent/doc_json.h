/* JSON (json-c) into the doc tree of agent/doc.h, so that the decoders of
 * agent/k8s.h read API server objects exactly as they read YAML manifests. */
#ifndef TERN_DOC_JSON_H
#define TERN_DOC_JSON_H

#include <stddef.h>

#include "agent/doc.h"

struct json_object;

/* The most deeply nested JSON accepted; as deep as the YAML parser goes. */
#define DOC_JSON_MAX_DEPTH 128

/* Convert j: objects become DOC_MAP (keys in document order), arrays
 * DOC_SEQ, strings quoted DOC_SCALARs, numbers and booleans plain
 * DOC_SCALARs written as in the source ("1.50e3" stays "1.50e3"), null
 * DOC_NULL. JSON carries no positions, so line and col are 0. Returns 0;
 * -EINVAL with err set for a string holding a NUL or nesting deeper than
 * DOC_JSON_MAX_DEPTH; -ENOMEM. err may be NULL. */
int doc_from_json(struct json_object *j, struct doc_node **out, struct doc_error *err);

/* Parse one whole JSON text (strict: no trailing data, no comments) and
 * convert it. 0, -EINVAL with err's line/col at the problem, or -ENOMEM. */
int doc_parse_json(const char *buf, size_t len, struct doc_node **out, struct doc_error *err);

#endif
