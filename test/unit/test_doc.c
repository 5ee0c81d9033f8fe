/* Unit tests of the YAML document tree: streams, positions, scalars, errors. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent/doc.h"
#include "test/unit/unit.h"

static struct doc_node *parse(const char *s)
{
	struct doc_node *root = NULL;
	struct doc_error err;

	if (doc_parse_yaml(s, strlen(s), &root, &err)) {
		fprintf(stderr, "  parse failed: %d:%d: %s\n", err.line, err.col, err.msg);
		return NULL;
	}
	return root;
}

/* Parse s expecting an error at line:col whose message holds want. */
static void check_error(const char *s, int line, int col, const char *want)
{
	struct doc_node *root = NULL;
	struct doc_error err;

	CHECK_INT(doc_parse_yaml(s, strlen(s), &root, &err), -EINVAL);
	CHECK(root == NULL);
	CHECK_INT(err.line, line);
	CHECK_INT(err.col, col);
	if (!strstr(err.msg, want)) {
		fprintf(stderr, "  message \"%s\" lacks \"%s\"\n", err.msg, want);
		CHECK(0);
	}
	doc_free(root);
}

static void test_stream_broken_middle(void)
{
	const char *s =
		"# leading comment\n"  /* 1 */
		"---\n"                /* 2 */
		"kind: A\n"            /* 3 */
		"name: a\n"            /* 4 */
		"---\n"                /* 5 */
		"kind: B\n"            /* 6 */
		"bad: x: y\n"          /* 7 */
		"---\n"                /* 8 */
		"kind: C\n"            /* 9 */
		"name: \"c\"\n";       /* 10 */
	struct doc_list l;
	const struct doc_node *n;

	CHECK_INT(doc_parse_yaml_stream(s, strlen(s), &l), 0);
	CHECK_INT(l.n, 3);
	if (l.n != 3)
		goto out;
	CHECK(l.docs[0] && l.docs[0]->type == DOC_MAP);
	n = doc_get(l.docs[0], "kind");
	CHECK_STR(doc_str(n), "A");
	CHECK_INT(n->line, 3);
	CHECK_INT(n->col, 7);

	CHECK(l.docs[1] == NULL);
	CHECK_INT(l.errors[1].line, 7);
	CHECK_INT(l.errors[1].col, 7);
	CHECK(strstr(l.errors[1].msg, "mapping values are not allowed") != NULL);

	CHECK(l.docs[2] != NULL);
	n = doc_get(l.docs[2], "kind");
	CHECK_STR(doc_str(n), "C");
	CHECK_INT(n->line, 9);
	n = doc_get(l.docs[2], "name");
	CHECK_STR(doc_str(n), "c");
	CHECK_INT(n->line, 10);
	CHECK_INT(n->col, 7);
	CHECK_INT(n->quoted, 1);
	CHECK_INT(l.docs[2]->key_pos[1].line, 10);
	CHECK_INT(l.docs[2]->key_pos[1].col, 1);
out:
	doc_list_free(&l);
}

static void test_stream_unclosed_last(void)
{
	/* the error is reported where libyaml gives up: the next line */
	const char *s = "a: 1\n---\nb: [1, 2\nc: 3\n";
	struct doc_list l;

	CHECK_INT(doc_parse_yaml_stream(s, strlen(s), &l), 0);
	CHECK_INT(l.n, 2);
	if (l.n == 2) {
		CHECK(l.docs[0] != NULL);
		CHECK(l.docs[1] == NULL);
		CHECK_INT(l.errors[1].line, 4);
		CHECK(strstr(l.errors[1].msg, "line 3, column 4") != NULL);
	}
	doc_list_free(&l);
}

static void test_stream_markers(void)
{
	const char *s =
		"a: 1\n"               /* 1 */
		"...\n"                /* 2 */
		"# between\n"          /* 3 */
		"---\n"                /* 4: empty document */
		"# only comments\n"    /* 5 */
		"---   # c\n"          /* 6: empty document */
		"--- inline\n"         /* 7 */
		"...\n"                /* 8 */
		"b: 2\n"               /* 9: no --- after ... */
		"---\n"                /* 10 */
		"- x\n"                /* 11 */
		"---\n";               /* 12: trailing, empty */
	struct doc_list l;

	CHECK_INT(doc_parse_yaml_stream(s, strlen(s), &l), 0);
	CHECK_INT(l.n, 4);
	if (l.n != 4)
		goto out;
	for (size_t i = 0; i < l.n; i++)
		CHECK(l.docs[i] != NULL);
	if (!l.docs[0] || !l.docs[1] || !l.docs[2] || !l.docs[3])
		goto out;
	CHECK_INT(doc_get(l.docs[0], "a")->line, 1);
	CHECK_STR(doc_str(l.docs[1]), "inline");
	CHECK_INT(l.docs[1]->line, 7);
	CHECK_INT(l.docs[1]->col, 5);
	CHECK_INT(doc_get(l.docs[2], "b")->line, 9);
	CHECK_INT(l.docs[3]->type, DOC_SEQ);
	CHECK_INT(l.docs[3]->line, 11);
out:
	doc_list_free(&l);
}

static void test_stream_empty(void)
{
	const char *cases[] = { "", "\n\n", "# c\n", "---\n", "# a\n---\n\n# b\n---\n...\n" };
	struct doc_list l;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CHECK_INT(doc_parse_yaml_stream(cases[i], strlen(cases[i]), &l), 0);
		CHECK_INT(l.n, 0);
		doc_list_free(&l);
	}
}

static void test_stream_crlf_directives(void)
{
	const char *s = "%YAML 1.1\r\n---\r\na: 1\r\n---\r\nb: [\r\n---\r\nc: 3\r\n";
	struct doc_list l;

	CHECK_INT(doc_parse_yaml_stream(s, strlen(s), &l), 0);
	CHECK_INT(l.n, 3);
	if (l.n == 3) {
		CHECK(l.docs[0] && doc_get(l.docs[0], "a")->line == 3);
		CHECK(l.docs[1] == NULL);
		CHECK_INT(l.errors[1].line, 6);
		CHECK(l.docs[2] && doc_get(l.docs[2], "c")->line == 7);
	}
	doc_list_free(&l);
}

static void test_stream_reader_error(void)
{
	/* bad UTF-8 carries only a byte offset; its line is still the stream's */
	const char *s = "a: 1\n---\nb: 2\nc: \"x\xff\"\n";
	struct doc_list l;

	CHECK_INT(doc_parse_yaml_stream(s, strlen(s), &l), 0);
	CHECK_INT(l.n, 2);
	if (l.n == 2) {
		CHECK(l.docs[0] != NULL);
		CHECK(l.docs[1] == NULL);
		CHECK_INT(l.errors[1].line, 4);
		CHECK_INT(l.errors[1].col, 6);
	}
	doc_list_free(&l);
}

static void test_stream_one_bad_many_good(void)
{
	/* duplicate keys in one document leave its neighbours alone */
	const char *s = "name: a\n---\nname: b\nname: c\n---\nname: d\n";
	struct doc_list l;

	CHECK_INT(doc_parse_yaml_stream(s, strlen(s), &l), 0);
	CHECK_INT(l.n, 3);
	if (l.n == 3) {
		CHECK_STR(doc_str(doc_get(l.docs[0], "name")), "a");
		CHECK(l.docs[1] == NULL);
		CHECK_INT(l.errors[1].line, 4);
		CHECK_INT(l.errors[1].col, 1);
		CHECK_STR(doc_str(doc_get(l.docs[2], "name")), "d");
		CHECK_INT(doc_get(l.docs[2], "name")->line, 6);
	}
	doc_list_free(&l);
}

static void test_positions(void)
{
	struct doc_node *root = parse(
		"top:\n"               /* 1 */
		"  inner: v\n"         /* 2 */
		"  list:\n"            /* 3 */
		"    - one\n"          /* 4 */
		"    - k: w\n"         /* 5 */
		"flow: {x: [1, 2]}\n"); /* 6 */
	const struct doc_node *n;

	CHECK(root != NULL);
	if (!root)
		return;
	CHECK_INT(root->line, 1);
	CHECK_INT(root->col, 1);
	n = doc_path(root, "top.inner");
	CHECK_INT(n->line, 2);
	CHECK_INT(n->col, 10);
	n = doc_path(root, "top.list");
	CHECK_INT(n->type, DOC_SEQ);
	CHECK_INT(n->line, 4);
	CHECK_INT(n->col, 5);
	CHECK_INT(n->items[0]->line, 4);
	CHECK_INT(n->items[0]->col, 7);
	CHECK_INT(n->items[1]->type, DOC_MAP);
	CHECK_INT(n->items[1]->key_pos[0].line, 5);
	CHECK_INT(n->items[1]->key_pos[0].col, 7);
	CHECK_INT(doc_get(n->items[1], "k")->col, 10);
	n = doc_path(root, "flow.x");
	CHECK_INT(n->line, 6);
	CHECK_INT(n->col, 11);
	CHECK_INT(n->items[1]->col, 15);
	CHECK_INT(doc_get(root, "top")->key_pos[1].line, 3);
	CHECK_INT(root->key_pos[1].line, 6);
	CHECK_INT(root->key_pos[1].col, 1);
	doc_free(root);
}

static void test_scalars(void)
{
	struct doc_node *root = parse(
		"plain: 80\n"
		"dq: \"80\"\n"
		"sq: 'it''s'\n"
		"lit: |\n"
		"  a\n"
		"  b\n"
		"fold: >-\n"
		"  c\n"
		"  d\n"
		"tagged: !!str 5\n"
		"esc: \"tab\\there\"\n"
		"spaced: a b  \n");

	CHECK(root != NULL);
	if (!root)
		return;
	CHECK_STR(doc_str(doc_get(root, "plain")), "80");
	CHECK_INT(doc_get(root, "plain")->quoted, 0);
	CHECK_STR(doc_str(doc_get(root, "dq")), "80");
	CHECK_INT(doc_get(root, "dq")->quoted, 1);
	CHECK_STR(doc_str(doc_get(root, "sq")), "it's");
	CHECK_INT(doc_get(root, "sq")->quoted, 1);
	CHECK_STR(doc_str(doc_get(root, "lit")), "a\nb\n");
	CHECK_INT(doc_get(root, "lit")->quoted, 1);
	CHECK_STR(doc_str(doc_get(root, "fold")), "c d");
	CHECK_INT(doc_get(root, "fold")->quoted, 1);
	CHECK_STR(doc_str(doc_get(root, "tagged")), "5");
	CHECK_INT(doc_get(root, "tagged")->quoted, 1);
	CHECK_STR(doc_str(doc_get(root, "esc")), "tab\there");
	CHECK_STR(doc_str(doc_get(root, "spaced")), "a b");
	doc_free(root);
}

static void test_nulls(void)
{
	struct doc_node *root = parse(
		"a: null\nb: ~\nc: Null\nd: NULL\ne:\nf: \"null\"\ng: ''\nh: nULL\ni: [~, ]\n");
	const char *nulls[] = { "a", "b", "c", "d", "e" };

	CHECK(root != NULL);
	if (!root)
		return;
	for (size_t i = 0; i < sizeof(nulls) / sizeof(nulls[0]); i++) {
		const struct doc_node *n = doc_get(root, nulls[i]);

		CHECK(n != NULL);
		CHECK_INT(n->type, DOC_NULL);
		CHECK(n->str == NULL);
		CHECK(doc_str(n) == NULL);
	}
	CHECK_INT(doc_get(root, "f")->type, DOC_SCALAR);
	CHECK_STR(doc_str(doc_get(root, "f")), "null");
	CHECK_STR(doc_str(doc_get(root, "g")), "");
	CHECK_INT(doc_get(root, "h")->type, DOC_SCALAR);
	CHECK_INT(doc_get(root, "i")->n, 1);
	CHECK_INT(doc_get(root, "i")->items[0]->type, DOC_NULL);
	CHECK_INT(doc_get(root, "e")->line, 5);
	doc_free(root);
}

static void test_duplicate_keys(void)
{
	check_error("a: 1\nb:\n  name: x\n  other: y\n  name: z\n", 5, 3,
		    "duplicate key \"name\" (first at line 3, column 3)");
	check_error("{a: 1, a: 2}", 1, 8, "duplicate key \"a\"");
	/* the same key in different maps is fine */
	struct doc_node *root = parse("a: {k: 1}\nb: {k: 2}\n");

	CHECK(root != NULL);
	doc_free(root);
}

static void test_rejected(void)
{
	check_error("a: &x 1\nb: *x\n", 2, 4, "aliases (*x) are not supported");
	check_error("base: {a: 1}\nd:\n  <<: {b: 2}\n", 3, 3, "merge keys (<<) are not supported");
	check_error("? [a, b]\n: 1\n", 1, 3, "a map key must be a scalar");
	check_error("a: \"x\\0y\"\n", 1, 4, "NUL character");
	check_error("a: 1\nb: \"\xff\"\n", 2, 5, "UTF-8");
	check_error("a: 1\n---\nb: 2\n", 2, 1, "a second document");
	check_error("a: 1\n b: 2\n", 2, 3, "mapping values are not allowed");
}

static void test_depth(void)
{
	char buf[1024];
	size_t i;

	for (i = 0; i < 300; i++)
		buf[i] = '[';
	buf[i] = '\0';
	check_error(buf, 1, 129, "nested deeper than");
}

static void test_single_doc(void)
{
	struct doc_node *root = parse("");

	CHECK(root && root->type == DOC_NULL);
	doc_free(root);
	root = parse("# just a comment\n");
	CHECK(root && root->type == DOC_NULL);
	doc_free(root);
	root = parse("---\nx: 1\n...\n");
	CHECK(root && root->type == DOC_MAP && doc_get(root, "x")->line == 2);
	doc_free(root);
	/* JSON, as the API server sends it */
	root = parse("{\"kind\": \"Pod\", \"spec\": {\"ports\": [80, \"http\"], \"on\": true, "
		     "\"x\": null}}");
	CHECK(root != NULL);
	if (root) {
		const struct doc_node *p = doc_path(root, "spec.ports");
		int64_t v = 0;
		int b = 0;

		CHECK_STR(doc_str(doc_get(root, "kind")), "Pod");
		CHECK(p && p->n == 2);
		CHECK_INT(doc_int(p->items[0], 0, 65535, &v), 0);
		CHECK_INT(v, 80);
		CHECK_INT(doc_int(p->items[1], 0, 65535, &v), -EINVAL);
		CHECK_INT(doc_bool(doc_path(root, "spec.on"), &b), 0);
		CHECK_INT(b, 1);
		CHECK_INT(doc_path(root, "spec.x")->type, DOC_NULL);
	}
	doc_free(root);
}

static void test_lookup(void)
{
	struct doc_node *root = parse("metadata:\n  name: n\n  labels: {app.kubernetes.io/name: x}\n"
				      "list: [a]\n");

	CHECK(root != NULL);
	if (!root)
		return;
	CHECK_STR(doc_str(doc_path(root, "metadata.name")), "n");
	CHECK(doc_path(root, "metadata.nam") == NULL);
	CHECK(doc_path(root, "metadata.name.x") == NULL);
	CHECK(doc_path(root, "metadata.") == NULL);
	CHECK(doc_path(root, "list.a") == NULL);
	CHECK_STR(doc_str(doc_get(doc_path(root, "metadata.labels"), "app.kubernetes.io/name")), "x");
	CHECK(doc_get(doc_get(root, "list"), "a") == NULL);
	CHECK(doc_str(doc_get(root, "metadata")) == NULL);
	CHECK(doc_str(NULL) == NULL);
	CHECK(doc_get(NULL, "x") == NULL);
	doc_free(root);
}

static void test_ints(void)
{
	static const struct {
		const char *yaml;
		int64_t min, max;
		int ret;
		int64_t want;
	} cases[] = {
		{ "v: 0", 0, 10, 0, 0 },
		{ "v: 42", 0, 100, 0, 42 },
		{ "v: -7", -10, 10, 0, -7 },
		{ "v: +3", 0, 10, 0, 3 },
		{ "v: 9223372036854775807", INT64_MIN, INT64_MAX, 0, INT64_MAX },
		{ "v: -9223372036854775808", INT64_MIN, INT64_MAX, 0, INT64_MIN },
		{ "v: 9223372036854775808", INT64_MIN, INT64_MAX, -EINVAL, 0 },
		{ "v: 99999999999999999999999", INT64_MIN, INT64_MAX, -EINVAL, 0 },
		{ "v: 101", 0, 100, -EINVAL, 0 },
		{ "v: -1", 0, 100, -EINVAL, 0 },
		{ "v: 12a", 0, 100, -EINVAL, 0 },
		{ "v: 1.5", 0, 100, -EINVAL, 0 },
		{ "v: 0x10", 0, 100, -EINVAL, 0 },
		{ "v: 010", 0, 100, -EINVAL, 0 },
		{ "v: 1_000", 0, 10000, -EINVAL, 0 },
		{ "v: '5'", 0, 100, -EINVAL, 0 },
		{ "v: \"5\"", 0, 100, -EINVAL, 0 },
		{ "v: +", 0, 100, -EINVAL, 0 },
		{ "v: --1", -100, 100, -EINVAL, 0 },
		{ "v:", 0, 100, -EINVAL, 0 },
		{ "v: [1]", 0, 100, -EINVAL, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct doc_node *root = parse(cases[i].yaml);
		int64_t v = -12345;
		int ret = doc_int(doc_get(root, "v"), cases[i].min, cases[i].max, &v);

		if (ret != cases[i].ret || (!ret && v != cases[i].want)) {
			fprintf(stderr, "  %s: ret %d v %lld\n", cases[i].yaml, ret, (long long)v);
			CHECK(0);
		}
		doc_free(root);
	}
	CHECK_INT(doc_int(NULL, 0, 1, &(int64_t){ 0 }), -EINVAL);
	CHECK_INT(doc_parse_int("", 0, 1, &(int64_t){ 0 }), -EINVAL);
	CHECK_INT(doc_parse_int(" 1", 0, 1, &(int64_t){ 0 }), -EINVAL);
	CHECK_INT(doc_parse_int("1 ", 0, 1, &(int64_t){ 0 }), -EINVAL);
}

static void test_bools(void)
{
	const char *yes[] = { "true", "True", "TRUE", "yes", "on" };
	const char *no[] = { "false", "False", "FALSE", "no", "off" };
	const char *bad[] = { "tru", "1", "0", "y", "\"true\"", "'no'", "", "[true]" };
	char buf[64];

	for (size_t i = 0; i < 5; i++) {
		struct doc_node *r;
		int b = -1;

		snprintf(buf, sizeof(buf), "v: %s", yes[i]);
		r = parse(buf);
		CHECK_INT(doc_bool(doc_get(r, "v"), &b), 0);
		CHECK_INT(b, 1);
		doc_free(r);
		snprintf(buf, sizeof(buf), "v: %s", no[i]);
		r = parse(buf);
		CHECK_INT(doc_bool(doc_get(r, "v"), &b), 0);
		CHECK_INT(b, 0);
		doc_free(r);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct doc_node *r;
		int b = -1;

		snprintf(buf, sizeof(buf), "v: %s", bad[i]);
		r = parse(buf);
		CHECK_INT(doc_bool(doc_get(r, "v"), &b), -EINVAL);
		CHECK_INT(b, -1);
		doc_free(r);
	}
}

int main(void)
{
	UNIT_BEGIN("doc");
	RUN(test_stream_broken_middle);
	RUN(test_stream_unclosed_last);
	RUN(test_stream_markers);
	RUN(test_stream_empty);
	RUN(test_stream_crlf_directives);
	RUN(test_stream_reader_error);
	RUN(test_stream_one_bad_many_good);
	RUN(test_positions);
	RUN(test_scalars);
	RUN(test_nulls);
	RUN(test_duplicate_keys);
	RUN(test_rejected);
	RUN(test_depth);
	RUN(test_single_doc);
	RUN(test_lookup);
	RUN(test_ints);
	RUN(test_bools);
	return UNIT_END();
}
