/* A parsed YAML or JSON document: a tree of maps, sequences and scalars,
 * each node remembering the line and column it came from, so every error
 * about a config key or a manifest field can say where it is. */
#ifndef TERN_DOC_H
#define TERN_DOC_H

#include <stddef.h>
#include <stdint.h>

enum doc_type {
	DOC_NULL = 0,   /* YAML null / ~ / empty value, JSON null */
	DOC_SCALAR = 1, /* YAML scalar, JSON string/number/bool */
	DOC_MAP = 2,
	DOC_SEQ = 3,
};

/* A position in the source, 1-based. */
struct doc_pos {
	int line;
	int col;
};

struct doc_node {
	enum doc_type type;
	int line;              /* 1-based; 0 when unknown */
	int col;               /* 1-based; 0 when unknown */
	char *str;             /* DOC_SCALAR: the text, NUL-terminated */
	int quoted;            /* DOC_SCALAR: was quoted ("80" is a string) */
	size_t n;              /* DOC_MAP, DOC_SEQ: children */
	char **keys;           /* DOC_MAP: keys, in document order */
	struct doc_node **items; /* DOC_MAP: values; DOC_SEQ: items */
	struct doc_pos *key_pos; /* DOC_MAP: where each key is; may be NULL
				  * (then use the value's line/col) */
};

/* Where and what went wrong; line/col 0 when unknown. */
struct doc_error {
	int line;
	int col;
	char msg[256];
};

/* One document of a multi-document stream. */
struct doc_list {
	size_t n;
	struct doc_node **docs;      /* NULL entry: that document failed to parse */
	struct doc_error *errors;    /* errors[i] describes docs[i] == NULL */
};

/* Parse every YAML document in buf (split on "---" lines so that one bad
 * document does not lose the others). Line numbers are those of buf.
 * Returns 0 (per-document failures are in the list) or -ENOMEM. Empty
 * documents are left out. */
int doc_parse_yaml_stream(const char *buf, size_t len, struct doc_list *out);
/* Parse exactly one YAML document; 0 or -EINVAL with err filled. An empty
 * input gives a DOC_NULL root. */
int doc_parse_yaml(const char *buf, size_t len, struct doc_node **out, struct doc_error *err);
void doc_list_free(struct doc_list *l);
void doc_free(struct doc_node *n);

/* Lookups; NULL when absent or of another type. */
const struct doc_node *doc_get(const struct doc_node *map, const char *key);
/* Dotted path of map keys: "metadata.name". */
const struct doc_node *doc_path(const struct doc_node *root, const char *dotted);
/* The scalar's text, or NULL if n is not a scalar. */
const char *doc_str(const struct doc_node *n);
/* Scalar as an integer in [min, max]; 0 or -EINVAL. Plain decimal only
 * (optional sign, no leading zeros); a quoted scalar is a string, not an
 * integer. */
int doc_int(const struct doc_node *n, int64_t min, int64_t max, int64_t *out);
/* YAML 1.1/JSON booleans: true/false (also yes/no/on/off); 0 or -EINVAL.
 * Quoted scalars are strings, not booleans. */
int doc_bool(const struct doc_node *n, int *out);
/* The text form of doc_int, for values that are not nodes (defaults). */
int doc_parse_int(const char *s, int64_t min, int64_t max, int64_t *out);

#endif
