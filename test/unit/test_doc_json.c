/* Unit tests of agent/doc_json.c: JSON into doc trees (types, order,
 * numbers as written, errors with positions), and the k8s decoders reading
 * API server JSON exactly as they read YAML. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>

#include "agent/doc.h"
#include "agent/doc_json.h"
#include "agent/k8s.h"
#include "test/unit/unit.h"

static struct doc_node *parse(const char *s)
{
	struct doc_node *root = NULL;
	struct doc_error err;

	if (doc_parse_json(s, strlen(s), &root, &err)) {
		fprintf(stderr, "  parse failed: %d:%d: %s\n", err.line, err.col, err.msg);
		return NULL;
	}
	return root;
}

static void check_error(const char *s, int line, int col, const char *want)
{
	struct doc_node *root = NULL;
	struct doc_error err;

	CHECK_INT(doc_parse_json(s, strlen(s), &root, &err), -EINVAL);
	CHECK(root == NULL);
	CHECK_INT(err.line, line);
	CHECK_INT(err.col, col);
	if (!strstr(err.msg, want)) {
		fprintf(stderr, "  message \"%s\" lacks \"%s\"\n", err.msg, want);
		CHECK(0);
	}
}

static void test_types(void)
{
	struct doc_node *r = parse("{\"s\": \"80\", \"i\": 80, \"neg\": -5, \"d\": 1.50e3, "
				   "\"t\": true, \"f\": false, \"n\": null, \"a\": [1, \"x\", {}], "
				   "\"m\": {\"k\": \"v\"}, \"big\": 18446744073709551615}");

	CHECK(r != NULL);
	if (!r)
		return;
	CHECK_INT(r->type, DOC_MAP);
	CHECK_INT(r->line, 0);
	/* a JSON string is a quoted scalar: "80" is not the integer 80 */
	CHECK_INT(doc_get(r, "s")->type, DOC_SCALAR);
	CHECK_INT(doc_get(r, "s")->quoted, 1);
	CHECK_STR(doc_str(doc_get(r, "s")), "80");
	int64_t v = 0;
	CHECK_INT(doc_int(doc_get(r, "s"), 0, 100, &v), -EINVAL);
	CHECK_INT(doc_int(doc_get(r, "i"), 0, 100, &v), 0);
	CHECK_INT(v, 80);
	CHECK_INT(doc_int(doc_get(r, "neg"), -10, 10, &v), 0);
	CHECK_INT(v, -5);
	/* numbers keep their source text */
	CHECK_STR(doc_str(doc_get(r, "d")), "1.50e3");
	CHECK_INT(doc_get(r, "d")->quoted, 0);
	CHECK_STR(doc_str(doc_get(r, "big")), "18446744073709551615");
	int b = -1;
	CHECK_INT(doc_bool(doc_get(r, "t"), &b), 0);
	CHECK_INT(b, 1);
	CHECK_INT(doc_bool(doc_get(r, "f"), &b), 0);
	CHECK_INT(b, 0);
	CHECK_INT(doc_get(r, "n")->type, DOC_NULL);
	const struct doc_node *a = doc_get(r, "a");
	CHECK_INT(a->type, DOC_SEQ);
	CHECK_INT(a->n, 3);
	CHECK_STR(doc_str(a->items[1]), "x");
	CHECK_INT(a->items[2]->type, DOC_MAP);
	CHECK_INT(a->items[2]->n, 0);
	CHECK_STR(doc_str(doc_path(r, "m.k")), "v");
	doc_free(r);
}

static void test_key_order(void)
{
	struct doc_node *r = parse("{\"zeta\": 1, \"alpha\": 2, \"mid\": 3}");

	CHECK(r != NULL);
	if (!r)
		return;
	CHECK_INT(r->n, 3);
	CHECK_STR(r->keys[0], "zeta");
	CHECK_STR(r->keys[1], "alpha");
	CHECK_STR(r->keys[2], "mid");
	CHECK(r->key_pos == NULL);
	doc_free(r);
}

static void test_scalars_at_top(void)
{
	struct doc_node *r = parse("42");

	CHECK(r && r->type == DOC_SCALAR);
	if (r)
		CHECK_STR(r->str, "42");
	doc_free(r);
	r = parse("  \"x\"\n");
	CHECK(r && r->quoted);
	doc_free(r);
}

static void test_unicode(void)
{
	struct doc_node *r = parse("{\"s\": \"caf\\u00e9 \\\"q\\\" \\n\"}");

	CHECK(r != NULL);
	if (r)
		CHECK_STR(doc_str(doc_get(r, "s")), "caf\xc3\xa9 \"q\" \n");
	doc_free(r);
}

static void test_errors(void)
{
	check_error("{\"a\": 1,\n \"b\": }", 2, 7, "");
	check_error("{\"a\": 1}\n{\"b\": 2}", 2, 1, "");
	check_error("{\"a\": [1, 2", 1, 12, "unexpected end");
	check_error("", 1, 1, "unexpected end");
	/* a NUL inside a value would cut it short for every consumer */
	check_error("{\"a\": \"x\\u0000y\"}", 0, 0, "NUL");
}

static void test_depth(void)
{
	char deep[2 * DOC_JSON_MAX_DEPTH + 8], ok[2 * 100 + 8];
	struct doc_node *r = NULL;
	struct doc_error err;
	size_t i;

	for (i = 0; i < DOC_JSON_MAX_DEPTH + 1; i++)
		deep[i] = '[';
	for (size_t j = 0; j < DOC_JSON_MAX_DEPTH + 1; j++)
		deep[i++] = ']';
	deep[i] = '\0';
	CHECK_INT(doc_parse_json(deep, strlen(deep), &r, &err), -EINVAL);
	CHECK(r == NULL);
	for (i = 0; i < 100; i++)
		ok[i] = '[';
	for (size_t j = 0; j < 100; j++)
		ok[i++] = ']';
	ok[i] = '\0';
	r = parse(ok);
	CHECK(r != NULL);
	doc_free(r);
}

/* doc_from_json on an object the caller built (as kube.c does with the
 * watch stream's events). */
static void test_from_object(void)
{
	struct json_object *o = json_object_new_object();
	struct doc_node *r = NULL;
	struct doc_error err;

	json_object_object_add(o, "name", json_object_new_string("web"));
	json_object_object_add(o, "port", json_object_new_int(8080));
	CHECK_INT(doc_from_json(o, &r, &err), 0);
	CHECK_STR(doc_str(doc_get(r, "name")), "web");
	CHECK_STR(doc_str(doc_get(r, "port")), "8080");
	doc_free(r);
	json_object_put(o);
}

/* What the API server sends for a pod decodes as the YAML manifest does. */
static void test_k8s_pod(void)
{
	const char *json =
		"{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"web-1\","
		"\"namespace\":\"shop\",\"uid\":\"6b3c\",\"resourceVersion\":\"1234\","
		"\"labels\":{\"app\":\"web\",\"tier\":\"front\"}},"
		"\"spec\":{\"nodeName\":\"node-1\",\"hostNetwork\":false,\"containers\":[{"
		"\"name\":\"nginx\",\"ports\":[{\"name\":\"http\",\"containerPort\":80,"
		"\"protocol\":\"TCP\"}]}]},"
		"\"status\":{\"phase\":\"Running\",\"podIP\":\"10.244.1.5\","
		"\"podIPs\":[{\"ip\":\"10.244.1.5\"},{\"ip\":\"fd00::5\"}]}}";
	const char *yaml =
		"kind: Pod\napiVersion: v1\nmetadata:\n  name: web-1\n  namespace: shop\n"
		"  uid: \"6b3c\"\n  resourceVersion: \"1234\"\n  labels:\n    app: web\n"
		"    tier: front\nspec:\n  nodeName: node-1\n  hostNetwork: false\n"
		"  containers:\n  - name: nginx\n    ports:\n    - name: http\n"
		"      containerPort: 80\n      protocol: TCP\nstatus:\n  phase: Running\n"
		"  podIP: 10.244.1.5\n  podIPs:\n  - ip: 10.244.1.5\n  - ip: fd00::5\n";
	struct doc_node *dj = parse(json), *dy = NULL;
	struct k8s_object *oj = NULL, *oy = NULL;
	struct doc_error err;

	CHECK(dj != NULL);
	CHECK_INT(doc_parse_yaml(yaml, strlen(yaml), &dy, &err), 0);
	CHECK_INT(k8s_decode(dj, &oj, &err), 0);
	CHECK_INT(k8s_decode(dy, &oy, &err), 0);
	if (oj && oy) {
		CHECK(k8s_object_equal(oj, oy));
		CHECK_STR(oj->meta.resource_version, "1234");
		CHECK_INT(oj->pod.n_ips, 2);
		CHECK_INT(oj->pod.n_ports, 1);
		CHECK_INT(oj->pod.ports[0].port, 80);
		CHECK_STR(k8s_labels_get(&oj->meta.labels, "tier"), "front");
	}
	k8s_object_free(oj);
	k8s_object_free(oy);
	doc_free(dj);
	doc_free(dy);
}

/* A bad field names the object and the path; JSON has no line to give. */
static void test_k8s_bad(void)
{
	struct doc_node *d = parse("{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":"
				   "{\"name\":\"x\",\"namespace\":\"default\"},\"spec\":{\"containers\":"
				   "[{\"name\":\"c\",\"ports\":[{\"containerPort\":\"80\"}]}]}}");
	struct k8s_object *o = NULL;
	struct doc_error err;

	CHECK(d != NULL);
	CHECK_INT(k8s_decode(d, &o, &err), -EINVAL);
	CHECK(o == NULL);
	CHECK(strstr(err.msg, "Pod default/x: spec.containers[0].ports[0].containerPort") != NULL);
	CHECK_INT(err.line, 0);
	doc_free(d);
}

/* A typed list as the API server returns it: items without kind. */
static void test_k8s_typed_list(void)
{
	struct doc_node *d = parse("{\"kind\":\"NamespaceList\",\"apiVersion\":\"v1\",\"metadata\":"
				   "{\"resourceVersion\":\"77\"},\"items\":[{\"metadata\":{\"name\":"
				   "\"a\"}},{\"metadata\":{\"name\":\"B\"}},{\"metadata\":{\"name\":"
				   "\"c\"}}]}");
	struct k8s_item *items = NULL;
	size_t n = 0;

	CHECK(d != NULL);
	CHECK_INT(k8s_decode_list(d, &items, &n), 0);
	CHECK_INT(n, 3);
	if (n == 3) {
		CHECK(items[0].obj && items[0].obj->kind == K8S_NAMESPACE);
		CHECK(items[1].obj == NULL); /* "B": not a DNS label */
		CHECK(items[2].obj != NULL);
	}
	k8s_items_free(items, n);
	doc_free(d);
}

int main(void)
{
	UNIT_BEGIN("doc_json");
	RUN(test_types);
	RUN(test_key_order);
	RUN(test_scalars_at_top);
	RUN(test_unicode);
	RUN(test_errors);
	RUN(test_depth);
	RUN(test_from_object);
	RUN(test_k8s_pod);
	RUN(test_k8s_bad);
	RUN(test_k8s_typed_list);
	return UNIT_END();
}
