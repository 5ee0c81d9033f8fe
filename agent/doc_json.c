/* json-c objects converted into doc trees, and a strict whole-text JSON
 * parser on top; the watch stream's incremental parsing is in kube.c. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>

#include "agent/doc_json.h"

__attribute__((format(printf, 2, 3)))
static int set_error(struct doc_error *err, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return -EINVAL;
	err->line = err->col = 0;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static struct doc_node *scalar_new(const char *s, size_t len, int quoted)
{
	struct doc_node *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	n->type = DOC_SCALAR;
	n->quoted = quoted;
	n->str = strndup(s, len);
	if (!n->str) {
		free(n);
		return NULL;
	}
	return n;
}

static int convert(struct json_object *j, int depth, struct doc_node **out, struct doc_error *err);

static int convert_array(struct json_object *j, int depth, struct doc_node *n,
			 struct doc_error *err)
{
	size_t len = json_object_array_length(j);
	int ret;

	if (!len)
		return 0;
	n->items = calloc(len, sizeof(*n->items));
	if (!n->items)
		return -ENOMEM;
	for (size_t i = 0; i < len; i++) {
		ret = convert(json_object_array_get_idx(j, i), depth + 1, &n->items[i], err);
		if (ret)
			return ret;
		n->n++;
	}
	return 0;
}

static int convert_object(struct json_object *j, int depth, struct doc_node *n,
			  struct doc_error *err)
{
	size_t len = (size_t)json_object_object_length(j);
	int ret;

	if (!len)
		return 0;
	/* key_pos stays NULL: doc.h's "use the value's line/col" */
	n->items = calloc(len, sizeof(*n->items));
	n->keys = calloc(len, sizeof(*n->keys));
	if (!n->items || !n->keys)
		return -ENOMEM;
	/* json-c keeps an object's keys in the order it read them */
	json_object_object_foreach(j, key, val) {
		n->keys[n->n] = strdup(key);
		if (!n->keys[n->n])
			return -ENOMEM;
		ret = convert(val, depth + 1, &n->items[n->n], err);
		if (ret) {
			free(n->keys[n->n]);
			n->keys[n->n] = NULL;
			return ret;
		}
		n->n++;
	}
	return 0;
}

static int convert(struct json_object *j, int depth, struct doc_node **out, struct doc_error *err)
{
	struct doc_node *n;
	const char *s;
	size_t len;
	int ret = 0;

	*out = NULL;
	if (depth >= DOC_JSON_MAX_DEPTH)
		return set_error(err, "nested deeper than %d levels", DOC_JSON_MAX_DEPTH);
	switch (json_object_get_type(j)) {
	case json_type_null:
		n = calloc(1, sizeof(*n)); /* DOC_NULL */
		break;
	case json_type_string:
		s = json_object_get_string(j);
		len = (size_t)json_object_get_string_len(j);
		/* every consumer reads str as a C string: a NUL would cut it */
		if (memchr(s, '\0', len))
			return set_error(err, "a value must not contain a NUL character");
		n = scalar_new(s, len, 1);
		break;
	case json_type_boolean:
	case json_type_int:
	case json_type_double:
		/* the source text: json-c keeps a parsed double's digits */
		s = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN);
		n = scalar_new(s, strlen(s), 0);
		break;
	case json_type_array:
		n = calloc(1, sizeof(*n));
		if (n) {
			n->type = DOC_SEQ;
			ret = convert_array(j, depth, n, err);
		}
		break;
	case json_type_object:
		n = calloc(1, sizeof(*n));
		if (n) {
			n->type = DOC_MAP;
			ret = convert_object(j, depth, n, err);
		}
		break;
	default:
		return set_error(err, "unexpected JSON type %d", json_object_get_type(j));
	}
	if (!n)
		return -ENOMEM;
	if (ret) {
		doc_free(n);
		return ret;
	}
	*out = n;
	return 0;
}

int doc_from_json(struct json_object *j, struct doc_node **out, struct doc_error *err)
{
	int ret;

	if (err)
		memset(err, 0, sizeof(*err));
	ret = convert(j, 0, out, err);
	if (ret == -ENOMEM)
		set_error(err, "out of memory");
	return ret;
}

/* The 1-based line and column of byte off of buf. */
static void offset_pos(const char *buf, size_t off, struct doc_error *err)
{
	err->line = 1;
	err->col = 1;
	for (size_t i = 0; i < off; i++) {
		err->col++;
		if (buf[i] == '\n') {
			err->line++;
			err->col = 1;
		}
	}
}

int doc_parse_json(const char *buf, size_t len, struct doc_node **out, struct doc_error *err)
{
	struct doc_error dummy;
	struct json_tokener *tok;
	struct json_object *j;
	enum json_tokener_error jerr;
	size_t end;
	int ret;

	if (!err)
		err = &dummy;
	memset(err, 0, sizeof(*err));
	*out = NULL;
	tok = json_tokener_new_ex(DOC_JSON_MAX_DEPTH);
	if (!tok)
		return -ENOMEM;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	j = json_tokener_parse_ex(tok, buf, (int)len);
	/* a number at the very end is complete only once the input ends */
	if (!j && json_tokener_get_error(tok) == json_tokener_continue)
		j = json_tokener_parse_ex(tok, "", 1);
	jerr = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	if (!j) {
		if (jerr == json_tokener_continue || jerr == json_tokener_error_parse_eof) {
			offset_pos(buf, len, err);
			snprintf(err->msg, sizeof(err->msg), "unexpected end of JSON");
		} else {
			offset_pos(buf, end < len ? end : len, err);
			snprintf(err->msg, sizeof(err->msg), "%s", json_tokener_error_desc(jerr));
		}
		ret = -EINVAL;
		goto out;
	}
	ret = doc_from_json(j, out, err);
out:
	json_object_put(j);
	json_tokener_free(tok);
	return ret;
}
