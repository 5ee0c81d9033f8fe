/* The YAML document tree: libyaml's events built into doc_node trees that
 * remember the line and column of every node, a stream splitter that keeps
 * one bad document from losing the others, and typed accessors. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "agent/doc.h"

/* Far deeper than any manifest or config; the limit keeps a hostile file
 * from exhausting the stack, since the tree is built recursively. */
#define DOC_MAX_DEPTH 128

/* Anchors are accepted and ignored; aliases are rejected. Resolving them to
 * copies would let a few lines expand into millions of nodes ("billion
 * laughs"), and neither Kubernetes manifests as kubectl writes them nor
 * ternd's config need them. Merge keys (<<) are rejected for the same
 * reason. */

struct builder {
	yaml_parser_t parser;
	const char *buf;     /* the text being parsed, for reader errors */
	size_t len;
	int line_off;        /* lines of the stream before this text */
	struct doc_error *err;
};

__attribute__((format(printf, 4, 5)))
static int set_error(struct doc_error *err, int line, int col, const char *fmt, ...)
{
	va_list ap;

	err->line = line;
	err->col = col;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int mark_line(const struct builder *b, const yaml_mark_t *m)
{
	return b->line_off + (int)m->line + 1;
}

static int mark_col(const yaml_mark_t *m)
{
	return (int)m->column + 1;
}

/* Turn libyaml's error state into a doc_error in stream coordinates. */
static int parser_error(struct builder *b)
{
	const yaml_parser_t *p = &b->parser;
	const char *problem = p->problem ? p->problem : "invalid YAML";

	if (p->error == YAML_MEMORY_ERROR)
		return -ENOMEM;
	if (p->error == YAML_READER_ERROR) {
		/* Reader errors (bad UTF-8, control characters) carry only a
		 * byte offset: count the lines up to it. */
		size_t off = p->problem_offset < b->len ? p->problem_offset : b->len;
		int line = b->line_off + 1, col = 1;

		for (size_t i = 0; i < off; i++) {
			col++;
			if (b->buf[i] == '\n') {
				line++;
				col = 1;
			}
		}
		return set_error(b->err, line, col, "%s", problem);
	}
	if (p->context && (p->context_mark.line != p->problem_mark.line ||
			   p->context_mark.column != p->problem_mark.column))
		return set_error(b->err, mark_line(b, &p->problem_mark),
				 mark_col(&p->problem_mark),
				 "%s (%s that started at line %d, column %d)",
				 problem, p->context,
				 mark_line(b, &p->context_mark),
				 mark_col(&p->context_mark));
	return set_error(b->err, mark_line(b, &p->problem_mark),
			 mark_col(&p->problem_mark), "%s", problem);
}

static int next_event(struct builder *b, yaml_event_t *ev)
{
	if (!yaml_parser_parse(&b->parser, ev))
		return parser_error(b);
	return 0;
}

static struct doc_node *node_new(const struct builder *b, enum doc_type type,
				 const yaml_mark_t *m)
{
	struct doc_node *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	n->type = type;
	n->line = mark_line(b, m);
	n->col = mark_col(m);
	return n;
}

/* Room for one more child; *cap is the capacity of every child array. */
static int node_grow(struct doc_node *n, size_t *cap)
{
	size_t want = *cap ? *cap * 2 : 4;
	void *p;

	if (n->n < *cap)
		return 0;
	p = realloc(n->items, want * sizeof(*n->items));
	if (!p)
		return -ENOMEM;
	n->items = p;
	if (n->type == DOC_MAP) {
		p = realloc(n->keys, want * sizeof(*n->keys));
		if (!p)
			return -ENOMEM;
		n->keys = p;
		p = realloc(n->key_pos, want * sizeof(*n->key_pos));
		if (!p)
			return -ENOMEM;
		n->key_pos = p;
	}
	*cap = want;
	return 0;
}

static bool is_null_text(const char *s, size_t len)
{
	return len == 0 || !strcmp(s, "~") || !strcmp(s, "null") ||
	       !strcmp(s, "Null") || !strcmp(s, "NULL");
}

/* An explicit !!str (or the non-specific "!") tag makes a plain scalar a
 * string, just as quotes do. */
static bool has_str_tag(const yaml_event_t *ev)
{
	const char *tag = (const char *)ev->data.scalar.tag;

	return tag && (!strcmp(tag, "tag:yaml.org,2002:str") || !strcmp(tag, "!"));
}

static int build_node(struct builder *b, const yaml_event_t *start, int depth,
		      struct doc_node **out);

static int build_scalar(struct builder *b, const yaml_event_t *ev, struct doc_node **out)
{
	const char *s = (const char *)ev->data.scalar.value;
	size_t len = ev->data.scalar.length;
	bool quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE || has_str_tag(ev);
	struct doc_node *n;

	/* Every consumer treats str as a C string: a NUL would silently cut
	 * it short ("eth0\0junk" is not "eth0"). */
	if (memchr(s, '\0', len))
		return set_error(b->err, mark_line(b, &ev->start_mark),
				 mark_col(&ev->start_mark),
				 "a value must not contain a NUL character");
	if (!quoted && is_null_text(s, len)) {
		n = node_new(b, DOC_NULL, &ev->start_mark);
		if (!n)
			return -ENOMEM;
		*out = n;
		return 0;
	}
	n = node_new(b, DOC_SCALAR, &ev->start_mark);
	if (!n)
		return -ENOMEM;
	n->str = strndup(s, len);
	if (!n->str) {
		free(n);
		return -ENOMEM;
	}
	n->quoted = quoted;
	*out = n;
	return 0;
}

static int build_seq(struct builder *b, const yaml_event_t *start, int depth,
		     struct doc_node **out)
{
	struct doc_node *n = node_new(b, DOC_SEQ, &start->start_mark);
	size_t cap = 0;
	yaml_event_t ev;
	int ret;

	if (!n)
		return -ENOMEM;
	for (;;) {
		ret = next_event(b, &ev);
		if (ret)
			goto fail;
		if (ev.type == YAML_SEQUENCE_END_EVENT) {
			yaml_event_delete(&ev);
			break;
		}
		ret = node_grow(n, &cap);
		if (!ret)
			ret = build_node(b, &ev, depth + 1, &n->items[n->n]);
		yaml_event_delete(&ev);
		if (ret)
			goto fail;
		n->n++;
	}
	*out = n;
	return 0;
fail:
	doc_free(n);
	return ret;
}

/* The key of a map entry: a scalar, not a merge key, not seen before. */
static int map_key(struct builder *b, const struct doc_node *map,
		   const yaml_event_t *ev, char **out)
{
	int line = mark_line(b, &ev->start_mark), col = mark_col(&ev->start_mark);
	const char *s;
	size_t len;

	if (ev->type == YAML_ALIAS_EVENT)
		return set_error(b->err, line, col,
				 "aliases (*%s) are not supported; write the value out",
				 (const char *)ev->data.alias.anchor);
	if (ev->type != YAML_SCALAR_EVENT)
		return set_error(b->err, line, col, "a map key must be a scalar, not a map or a list");
	s = (const char *)ev->data.scalar.value;
	len = ev->data.scalar.length;
	if (memchr(s, '\0', len))
		return set_error(b->err, line, col, "a key must not contain a NUL character");
	if (ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && !strcmp(s, "<<"))
		return set_error(b->err, line, col, "merge keys (<<) are not supported");
	for (size_t i = 0; i < map->n; i++) {
		if (strcmp(map->keys[i], s))
			continue;
		return set_error(b->err, line, col,
				 "duplicate key \"%s\" (first at line %d, column %d)",
				 s, map->key_pos[i].line, map->key_pos[i].col);
	}
	*out = strndup(s, len);
	return *out ? 0 : -ENOMEM;
}

static int build_map(struct builder *b, const yaml_event_t *start, int depth,
		     struct doc_node **out)
{
	struct doc_node *n = node_new(b, DOC_MAP, &start->start_mark);
	size_t cap = 0;
	yaml_event_t ev;
	char *key = NULL;
	int ret;

	if (!n)
		return -ENOMEM;
	for (;;) {
		ret = next_event(b, &ev);
		if (ret)
			goto fail;
		if (ev.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&ev);
			break;
		}
		ret = node_grow(n, &cap);
		if (!ret)
			ret = map_key(b, n, &ev, &key);
		if (!ret) {
			n->key_pos[n->n].line = mark_line(b, &ev.start_mark);
			n->key_pos[n->n].col = mark_col(&ev.start_mark);
		}
		yaml_event_delete(&ev);
		if (ret)
			goto fail;

		ret = next_event(b, &ev);
		if (!ret) {
			ret = build_node(b, &ev, depth + 1, &n->items[n->n]);
			yaml_event_delete(&ev);
		}
		if (ret) {
			free(key);
			goto fail;
		}
		n->keys[n->n++] = key;
	}
	*out = n;
	return 0;
fail:
	doc_free(n);
	return ret;
}

/* Build the node that start begins, reading the events up to its end. The
 * caller keeps ownership of start. */
static int build_node(struct builder *b, const yaml_event_t *start, int depth,
		      struct doc_node **out)
{
	int line = mark_line(b, &start->start_mark), col = mark_col(&start->start_mark);

	if (depth >= DOC_MAX_DEPTH)
		return set_error(b->err, line, col, "nested deeper than %d levels", DOC_MAX_DEPTH);
	switch (start->type) {
	case YAML_SCALAR_EVENT:
		return build_scalar(b, start, out);
	case YAML_SEQUENCE_START_EVENT:
		return build_seq(b, start, depth, out);
	case YAML_MAPPING_START_EVENT:
		return build_map(b, start, depth, out);
	case YAML_ALIAS_EVENT:
		return set_error(b->err, line, col,
				 "aliases (*%s) are not supported; write the value out",
				 (const char *)start->data.alias.anchor);
	default:
		return set_error(b->err, line, col, "unexpected YAML event %d", start->type);
	}
}

/* Parse text whose first line is line line_off + 1 of the stream. *out is
 * the document's root, or NULL when the text holds no document. */
static int parse_text(const char *buf, size_t len, int line_off,
		      struct doc_node **out, struct doc_error *err)
{
	struct builder b = { .buf = buf, .len = len, .line_off = line_off, .err = err };
	struct doc_node *root = NULL;
	yaml_event_t ev;
	int ret = 0;

	memset(err, 0, sizeof(*err));
	*out = NULL;
	if (!yaml_parser_initialize(&b.parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&b.parser, (const unsigned char *)buf, len);
	for (;;) {
		ret = next_event(&b, &ev);
		if (ret)
			goto out;
		if (ev.type == YAML_STREAM_END_EVENT) {
			yaml_event_delete(&ev);
			break;
		}
		if (ev.type == YAML_DOCUMENT_START_EVENT && root) {
			ret = set_error(err, mark_line(&b, &ev.start_mark), mark_col(&ev.start_mark),
					"a second document starts here; expected only one");
			yaml_event_delete(&ev);
			goto out;
		}
		if (ev.type == YAML_STREAM_START_EVENT || ev.type == YAML_DOCUMENT_START_EVENT ||
		    ev.type == YAML_DOCUMENT_END_EVENT) {
			yaml_event_delete(&ev);
			continue;
		}
		/* libyaml's grammar gives one node event per document */
		ret = build_node(&b, &ev, 0, &root);
		yaml_event_delete(&ev);
		if (ret)
			goto out;
	}
	*out = root;
	root = NULL;
out:
	doc_free(root);
	yaml_parser_delete(&b.parser);
	return ret;
}

int doc_parse_yaml(const char *buf, size_t len, struct doc_node **out, struct doc_error *err)
{
	struct doc_error dummy;
	struct doc_node *root;
	int ret;

	*out = NULL;
	ret = parse_text(buf, len, 0, &root, err ? err : &dummy);
	if (ret)
		return ret;
	if (!root) {
		root = calloc(1, sizeof(*root));
		if (!root)
			return -ENOMEM;
		root->type = DOC_NULL;
		root->line = 1;
		root->col = 1;
	}
	*out = root;
	return 0;
}

enum line_kind {
	LINE_EMPTY,     /* blank or a comment */
	LINE_DIRECTIVE, /* %YAML, %TAG */
	LINE_DOC_START, /* --- */
	LINE_DOC_END,   /* ... */
	LINE_OTHER,
};

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* *content: a "---" line carries part of the document after the marker. */
static enum line_kind line_kind(const char *p, size_t n, bool *content)
{
	size_t i = 0;

	*content = false;
	if (n >= 3 && (!memcmp(p, "---", 3) || !memcmp(p, "...", 3)) &&
	    (n == 3 || is_blank(p[3]))) {
		for (i = 3; i < n && is_blank(p[i]); i++)
			;
		*content = i < n && p[i] != '#';
		return p[0] == '-' ? LINE_DOC_START : LINE_DOC_END;
	}
	if (n > 0 && p[0] == '%')
		return LINE_DIRECTIVE;
	while (i < n && is_blank(p[i]))
		i++;
	return i == n || p[i] == '#' ? LINE_EMPTY : LINE_OTHER;
}

static int list_add(struct doc_list *l, struct doc_node *doc, const struct doc_error *err)
{
	struct doc_node **docs;
	struct doc_error *errors;

	docs = realloc(l->docs, (l->n + 1) * sizeof(*docs));
	if (!docs)
		return -ENOMEM;
	l->docs = docs;
	errors = realloc(l->errors, (l->n + 1) * sizeof(*errors));
	if (!errors)
		return -ENOMEM;
	l->errors = errors;
	l->docs[l->n] = doc;
	l->errors[l->n] = *err;
	l->n++;
	return 0;
}

/* Parse buf[start, end) as one document of the list. */
static int list_parse(struct doc_list *l, const char *buf, size_t start, size_t end,
		      int first_line)
{
	struct doc_error err;
	struct doc_node *doc;
	int ret;

	ret = parse_text(buf + start, end - start, first_line - 1, &doc, &err);
	if (ret == -ENOMEM)
		return ret;
	if (!ret && !doc)
		return 0;
	ret = list_add(l, doc, &err);
	if (ret)
		doc_free(doc);
	return ret;
}

/* Split at document markers ourselves rather than letting libyaml read the
 * whole stream: its first error ends the stream, and one broken manifest
 * must not hide the others. Markers are only recognised at column 1, where
 * YAML forbids them inside any scalar, so the split is exact. */
int doc_parse_yaml_stream(const char *buf, size_t len, struct doc_list *out)
{
	size_t start = 0, off = 0;
	int line = 1, start_line = 1;
	bool content = false, marker = false;
	int ret = 0;

	memset(out, 0, sizeof(*out));
	/* a BOM is libyaml's business, but must not hide a first "---" */
	if (len >= 3 && !memcmp(buf, "\xef\xbb\xbf", 3))
		off = 3;
	while (off < len) {
		const char *nl = memchr(buf + off, '\n', len - off);
		size_t eol = nl ? (size_t)(nl - buf) : len;
		size_t next = nl ? eol + 1 : len;
		bool inline_content;

		switch (line_kind(buf + off, eol - off, &inline_content)) {
		case LINE_DOC_START:
			if (content) {
				ret = list_parse(out, buf, start, off, start_line);
				if (ret)
					goto fail;
			}
			/* leading comments and directives stay with the first
			 * document; an empty document before this one is dropped */
			if (content || marker) {
				start = off;
				start_line = line;
			}
			marker = true;
			content = inline_content;
			break;
		case LINE_DOC_END:
			if (content) {
				ret = list_parse(out, buf, start, next, start_line);
				if (ret)
					goto fail;
			}
			start = next;
			start_line = line + 1;
			content = marker = false;
			break;
		case LINE_DIRECTIVE:
			/* before a document a directive is no content of its own;
			 * inside one it is an error for libyaml to report */
			if (marker || content)
				content = true;
			break;
		case LINE_OTHER:
			content = true;
			break;
		case LINE_EMPTY:
			break;
		}
		off = next;
		line++;
	}
	if (content) {
		ret = list_parse(out, buf, start, len, start_line);
		if (ret)
			goto fail;
	}
	return 0;
fail:
	doc_list_free(out);
	return ret;
}

void doc_list_free(struct doc_list *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++)
		doc_free(l->docs[i]);
	free(l->docs);
	free(l->errors);
	memset(l, 0, sizeof(*l));
}

void doc_free(struct doc_node *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->n; i++) {
		doc_free(n->items[i]);
		if (n->keys)
			free(n->keys[i]);
	}
	free(n->items);
	free(n->keys);
	free(n->key_pos);
	free(n->str);
	free(n);
}

static const struct doc_node *get_n(const struct doc_node *map, const char *key, size_t len)
{
	if (!map || map->type != DOC_MAP)
		return NULL;
	for (size_t i = 0; i < map->n; i++) {
		if (!strncmp(map->keys[i], key, len) && map->keys[i][len] == '\0')
			return map->items[i];
	}
	return NULL;
}

const struct doc_node *doc_get(const struct doc_node *map, const char *key)
{
	return get_n(map, key, strlen(key));
}

const struct doc_node *doc_path(const struct doc_node *root, const char *dotted)
{
	const struct doc_node *n = root;
	const char *p = dotted;

	for (;;) {
		const char *dot = strchr(p, '.');
		size_t len = dot ? (size_t)(dot - p) : strlen(p);

		n = get_n(n, p, len);
		if (!n || !dot)
			return n;
		p = dot + 1;
	}
}

const char *doc_str(const struct doc_node *n)
{
	return n && n->type == DOC_SCALAR ? n->str : NULL;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

int doc_parse_int(const char *s, int64_t min, int64_t max, int64_t *out)
{
	const uint64_t limit = (uint64_t)INT64_MAX + 1; /* |INT64_MIN| */
	const char *p = s;
	uint64_t v = 0;
	bool neg = false;
	int64_t x;

	if (!s)
		return -EINVAL;
	if (*p == '+' || *p == '-')
		neg = *p++ == '-';
	if (!is_digit(*p))
		return -EINVAL;
	/* "010" is octal in YAML 1.1 and decimal in 1.2: refuse to guess */
	if (p[0] == '0' && p[1])
		return -EINVAL;
	for (; *p; p++) {
		if (!is_digit(*p))
			return -EINVAL;
		if (v > limit / 10)
			return -EINVAL;
		v = v * 10 + (uint64_t)(*p - '0');
		if (v > limit)
			return -EINVAL;
	}
	if (neg)
		x = v == limit ? INT64_MIN : -(int64_t)v;
	else if (v > (uint64_t)INT64_MAX)
		return -EINVAL;
	else
		x = (int64_t)v;
	if (x < min || x > max)
		return -EINVAL;
	*out = x;
	return 0;
}

int doc_int(const struct doc_node *n, int64_t min, int64_t max, int64_t *out)
{
	if (!n || n->type != DOC_SCALAR || n->quoted)
		return -EINVAL;
	return doc_parse_int(n->str, min, max, out);
}

int doc_bool(const struct doc_node *n, int *out)
{
	static const char *const yes[] = { "true", "True", "TRUE", "yes", "Yes", "YES",
					   "on", "On", "ON" };
	static const char *const no[] = { "false", "False", "FALSE", "no", "No", "NO",
					  "off", "Off", "OFF" };

	if (!n || n->type != DOC_SCALAR || n->quoted)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (!strcmp(n->str, yes[i])) {
			*out = 1;
			return 0;
		}
		if (!strcmp(n->str, no[i])) {
			*out = 0;
			return 0;
		}
	}
	return -EINVAL;
}
