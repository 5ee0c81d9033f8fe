/* Unit tests for agent/model.c: upsert (including no-op upserts), delete,
 * lookup, sorted listing, generations, and 100 000 objects of a kind. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>

#include "agent/doc.h"
#include "agent/k8s.h"
#include "agent/model.h"
#include "test/unit/unit.h"

/* A pod as the datastores decode it. */
static struct k8s_object *pod(const char *ns, const char *name, const char *ip,
			      const char *rv)
{
	char yaml[512];
	struct doc_node *doc = NULL;
	struct k8s_object *o = NULL;
	struct doc_error err;

	snprintf(yaml, sizeof(yaml),
		 "apiVersion: v1\nkind: Pod\nmetadata:\n  name: %s\n  namespace: %s\n"
		 "  resourceVersion: \"%s\"\n  labels:\n    app: web\n"
		 "spec:\n  nodeName: node-1\nstatus:\n  phase: Running\n"
		 "  podIPs:\n  - ip: %s\n", name, ns, rv, ip);
	if (doc_parse_yaml(yaml, strlen(yaml), &doc, &err) || k8s_decode(doc, &o, &err))
		fprintf(stderr, "  fixture: %d:%d: %s\n", err.line, err.col, err.msg);
	doc_free(doc);
	return o;
}

/* A pod built directly, for the bulk test (no YAML parsing per object). */
static struct k8s_object *quick_pod(const char *ns, const char *name, uint32_t v4)
{
	struct k8s_object *o = calloc(1, sizeof(*o));

	o->kind = K8S_POD;
	o->meta.ns = strdup(ns);
	o->meta.name = strdup(name);
	o->meta.uid = strdup("");
	o->meta.resource_version = strdup("1");
	o->pod.node_name = strdup("node-1");
	o->pod.phase = strdup("Running");
	o->pod.n_ips = 1;
	tern_addr_set_v4(&o->pod.ips[0], v4);
	return o;
}

static void upsert_get_delete(void)
{
	struct model *m = model_new();
	const struct k8s_object *o;
	uint64_t gen;

	CHECK(m != NULL);
	CHECK(model_get(m, K8S_POD, "shop", "a") == NULL);
	CHECK_INT(model_upsert(m, pod("shop", "a", "10.0.0.1", "1")), 1);
	CHECK_INT(model_generation(m), 1);
	CHECK_INT(model_kind_generation(m, K8S_POD), 1);
	CHECK_INT(model_kind_generation(m, K8S_NODE), 0);
	o = model_get(m, K8S_POD, "shop", "a");
	CHECK(o != NULL);
	CHECK_STR(o ? o->meta.resource_version : NULL, "1");
	/* other kinds and namespaces are other keys */
	CHECK(model_get(m, K8S_SERVICE, "shop", "a") == NULL);
	CHECK(model_get(m, K8S_POD, "default", "a") == NULL);

	/* equal but for resourceVersion: no change, the stored one stays */
	gen = model_generation(m);
	CHECK_INT(model_upsert(m, pod("shop", "a", "10.0.0.1", "2")), 0);
	CHECK_INT(model_generation(m), gen);
	CHECK_INT(model_kind_generation(m, K8S_POD), 1);
	CHECK(model_get(m, K8S_POD, "shop", "a") == o);

	/* a real change replaces it */
	CHECK_INT(model_upsert(m, pod("shop", "a", "10.0.0.2", "3")), 1);
	CHECK_INT(model_generation(m), gen + 1);
	CHECK_INT(model_kind_generation(m, K8S_POD), 2);
	o = model_get(m, K8S_POD, "shop", "a");
	CHECK_STR(o ? o->meta.resource_version : NULL, "3");
	CHECK_INT(o ? o->pod.ips[0].b[15] : 0, 2);

	CHECK_INT(model_delete(m, K8S_POD, "shop", "b"), 0);
	CHECK_INT(model_delete(m, K8S_NODE, "shop", "a"), 0);
	CHECK_INT(model_generation(m), gen + 1);
	CHECK_INT(model_delete(m, K8S_POD, "shop", "a"), 1);
	CHECK_INT(model_generation(m), gen + 2);
	CHECK_INT(model_kind_generation(m, K8S_POD), 3);
	CHECK(model_get(m, K8S_POD, "shop", "a") == NULL);
	CHECK_INT(model_delete(m, K8S_POD, "shop", "a"), 0);

	/* a bad kind is refused (and the object freed) */
	struct k8s_object *bad = calloc(1, sizeof(*bad));

	bad->kind = K8S_UNKNOWN;
	bad->meta.ns = strdup("shop");
	bad->meta.name = strdup("z");
	CHECK_INT(model_upsert(m, bad), -EINVAL);
	CHECK(model_get(m, K8S_UNKNOWN, "shop", "z") == NULL);
	model_free(m);
}

static void list_order(void)
{
	const struct k8s_object *const *objs, *const *again;
	struct model *m = model_new();
	size_t n;

	CHECK_INT(model_list(m, K8S_POD, &objs), 0);
	CHECK_INT(model_upsert(m, pod("b", "x", "10.0.0.1", "1")), 1);
	CHECK_INT(model_upsert(m, pod("a-b", "y", "10.0.0.2", "1")), 1);
	CHECK_INT(model_upsert(m, pod("a", "z", "10.0.0.3", "1")), 1);
	CHECK_INT(model_upsert(m, pod("a", "c", "10.0.0.4", "1")), 1);
	CHECK_INT(model_upsert(m, pod("b", "a", "10.0.0.5", "1")), 1);
	n = model_list(m, K8S_POD, &objs);
	CHECK_INT(n, 5);
	if (n == 5) {
		/* namespace first, then name */
		CHECK_STR(objs[0]->meta.ns, "a");
		CHECK_STR(objs[0]->meta.name, "c");
		CHECK_STR(objs[1]->meta.name, "z");
		CHECK_STR(objs[2]->meta.ns, "a-b");
		CHECK_STR(objs[3]->meta.ns, "b");
		CHECK_STR(objs[3]->meta.name, "a");
		CHECK_STR(objs[4]->meta.name, "x");
	}
	/* cached until a change */
	CHECK_INT(model_list(m, K8S_POD, &again), 5);
	CHECK(again == objs);
	CHECK_INT(model_list(m, K8S_NODE, &again), 0);

	CHECK_INT(model_delete(m, K8S_POD, "a", "z"), 1);
	CHECK_INT(model_upsert(m, pod("a", "c", "10.0.0.9", "2")), 1);
	n = model_list(m, K8S_POD, &objs);
	CHECK_INT(n, 4);
	if (n == 4) {
		CHECK_STR(objs[0]->meta.name, "c");
		CHECK_INT(objs[0]->pod.ips[0].b[15], 9);
		CHECK_STR(objs[1]->meta.ns, "a-b");
	}
	CHECK_INT(model_list(m, K8S_UNKNOWN, &objs), 0);
	CHECK(objs == NULL);
	model_free(m);
}

/* 100 000 pods: upserts, no-op upserts, a list, deletes of half. Checks
 * only results; the run itself shows the cost stays small. */
static void many_objects(void)
{
	enum { N = 100000 };
	const struct k8s_object *const *objs;
	struct model *m = model_new();
	char ns[32], name[32];
	size_t n;
	int changes = 0, bad_order = 0;

	for (int i = 0; i < N; i++) {
		snprintf(ns, sizeof(ns), "ns-%d", i % 97);
		snprintf(name, sizeof(name), "pod-%d", i);
		changes += model_upsert(m, quick_pod(ns, name, htonl(0x0a000000 + i)));
	}
	CHECK_INT(changes, N);
	n = model_list(m, K8S_POD, &objs);
	CHECK_INT(n, N);
	for (size_t i = 1; i < n; i++) {
		int c = strcmp(objs[i - 1]->meta.ns, objs[i]->meta.ns);

		if (c > 0 || (c == 0 && strcmp(objs[i - 1]->meta.name, objs[i]->meta.name) >= 0))
			bad_order++;
	}
	CHECK_INT(bad_order, 0);

	changes = 0;
	for (int i = 0; i < N; i++) {
		snprintf(ns, sizeof(ns), "ns-%d", i % 97);
		snprintf(name, sizeof(name), "pod-%d", i);
		changes += model_upsert(m, quick_pod(ns, name, htonl(0x0a000000 + i)));
	}
	CHECK_INT(changes, 0);

	changes = 0;
	for (int i = 0; i < N; i += 2) {
		snprintf(ns, sizeof(ns), "ns-%d", i % 97);
		snprintf(name, sizeof(name), "pod-%d", i);
		changes += model_delete(m, K8S_POD, ns, name);
	}
	CHECK_INT(changes, N / 2);
	CHECK_INT(model_list(m, K8S_POD, &objs), N / 2);
	CHECK(model_get(m, K8S_POD, "ns-1", "pod-1") != NULL);
	CHECK(model_get(m, K8S_POD, "ns-2", "pod-2") == NULL);
	model_free(m);
}

int main(void)
{
	UNIT_BEGIN("model");
	RUN(upsert_get_delete);
	RUN(list_order);
	RUN(many_objects);
	return UNIT_END();
}
