/* Unit tests for policy/selector.c: label selectors against label sets
 * (matchLabels, In, NotIn, Exists, DoesNotExist, empty), and the canonical
 * text that names selector-defined sets. */
#include <stdlib.h>

#include "agent/doc.h"
#include "agent/k8s.h"
#include "policy/selector.h"
#include "test/unit/unit.h"

/* A policy whose spec.podSelector is sel (flow YAML), decoded. */
static struct k8s_object *with_selector(const char *sel)
{
	char yaml[1024];
	struct doc_node *doc = NULL;
	struct doc_error err;
	struct k8s_object *o = NULL;

	snprintf(yaml, sizeof(yaml),
		 "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
		 "metadata: {name: p, namespace: n}\nspec:\n  podSelector: %s\n", sel);
	if (doc_parse_yaml(yaml, strlen(yaml), &doc, &err) || k8s_decode(doc, &o, &err)) {
		fprintf(stderr, "  selector %s: %s\n", sel, err.msg);
		o = NULL;
	}
	doc_free(doc);
	return o;
}

/* Labels from "k=v,k2=v2" ("" for none), sorted as the decoder keeps them. */
static void labels_make(const char *s, struct k8s_labels *l)
{
	char *copy = strdup(s), *save = NULL;

	memset(l, 0, sizeof(*l));
	l->keys = calloc(16, sizeof(char *));
	l->vals = calloc(16, sizeof(char *));
	for (char *kv = strtok_r(copy, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '=');
		size_t at = l->n;

		*eq = '\0';
		while (at > 0 && strcmp(l->keys[at - 1], kv) > 0) {
			l->keys[at] = l->keys[at - 1];
			l->vals[at] = l->vals[at - 1];
			at--;
		}
		l->keys[at] = strdup(kv);
		l->vals[at] = strdup(eq + 1);
		l->n++;
	}
	free(copy);
}

static void labels_drop(struct k8s_labels *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->keys[i]);
		free(l->vals[i]);
	}
	free(l->keys);
	free(l->vals);
}

static const struct {
	const char *sel;
	const char *labels;
	int want;
} match_cases[] = {
	{ "{}", "", 1 },
	{ "{}", "app=web", 1 },
	{ "{matchLabels: {app: web}}", "app=web", 1 },
	{ "{matchLabels: {app: web}}", "app=web,tier=fe", 1 },
	{ "{matchLabels: {app: web}}", "app=db", 0 },
	{ "{matchLabels: {app: web}}", "", 0 },
	{ "{matchLabels: {app: web, tier: fe}}", "app=web", 0 },
	{ "{matchLabels: {app: web, tier: fe}}", "tier=fe,app=web", 1 },
	/* a label with an empty value is still there */
	{ "{matchLabels: {app: ''}}", "app=", 1 },
	{ "{matchLabels: {app: ''}}", "", 0 },
	{ "{matchExpressions: [{key: tier, operator: In, values: [fe, be]}]}", "tier=be", 1 },
	{ "{matchExpressions: [{key: tier, operator: In, values: [fe, be]}]}", "tier=db", 0 },
	{ "{matchExpressions: [{key: tier, operator: In, values: [fe, be]}]}", "", 0 },
	/* NotIn holds for a missing label, as apimachinery has it */
	{ "{matchExpressions: [{key: tier, operator: NotIn, values: [fe]}]}", "", 1 },
	{ "{matchExpressions: [{key: tier, operator: NotIn, values: [fe]}]}", "tier=be", 1 },
	{ "{matchExpressions: [{key: tier, operator: NotIn, values: [fe]}]}", "tier=fe", 0 },
	{ "{matchExpressions: [{key: canary, operator: Exists}]}", "canary=", 1 },
	{ "{matchExpressions: [{key: canary, operator: Exists}]}", "app=web", 0 },
	{ "{matchExpressions: [{key: canary, operator: DoesNotExist}]}", "app=web", 1 },
	{ "{matchExpressions: [{key: canary, operator: DoesNotExist}]}", "canary=yes", 0 },
	/* everything must hold at once */
	{ "{matchLabels: {app: web}, matchExpressions: [{key: canary, operator: DoesNotExist},"
	  " {key: tier, operator: In, values: [fe]}]}", "app=web,tier=fe", 1 },
	{ "{matchLabels: {app: web}, matchExpressions: [{key: canary, operator: DoesNotExist},"
	  " {key: tier, operator: In, values: [fe]}]}", "app=web,tier=fe,canary=1", 0 },
	{ "{matchLabels: {app: web}, matchExpressions: [{key: canary, operator: DoesNotExist},"
	  " {key: tier, operator: In, values: [fe]}]}", "app=db,tier=fe", 0 },
	/* prefixed keys are keys like any other */
	{ "{matchLabels: {kubernetes.io/metadata.name: x}}", "kubernetes.io/metadata.name=x", 1 },
	{ "{matchLabels: {kubernetes.io/metadata.name: x}}", "metadata.name=x", 0 },
};

static void matching(void)
{
	for (size_t i = 0; i < sizeof(match_cases) / sizeof(match_cases[0]); i++) {
		struct k8s_object *o = with_selector(match_cases[i].sel);
		struct k8s_labels l;

		if (!o) {
			unit_failed_checks++;
			continue;
		}
		labels_make(match_cases[i].labels, &l);
		if (selector_matches(&o->np.pod_sel, &l) != match_cases[i].want) {
			fprintf(stderr, "  %s on {%s}: %d, want %d\n", match_cases[i].sel,
				match_cases[i].labels, !match_cases[i].want, match_cases[i].want);
			unit_failed_checks++;
		}
		labels_drop(&l);
		k8s_object_free(o);
	}
}

static void canonical_text(void)
{
	static const struct {
		const char *sel;
		const char *want;
	} cases[] = {
		{ "{}", "" },
		{ "{matchLabels: {b: 2, a: 1}}", "a=1,b=2" },
		{ "{matchExpressions: [{key: t, operator: In, values: [z, a, z]}]}", "t in (a,z)" },
		{ "{matchExpressions: [{key: t, operator: NotIn, values: [q]}]}", "t notin (q)" },
		{ "{matchExpressions: [{key: c, operator: Exists}, {key: d, operator: DoesNotExist}]}",
		  "!d,c" },
		{ "{matchLabels: {app: web}, matchExpressions: [{key: c, operator: Exists}]}",
		  "app=web,c" },
		/* the same condition twice is one term */
		{ "{matchLabels: {c: ''}, matchExpressions: [{key: c, operator: Exists},"
		  " {key: c, operator: Exists}]}", "c,c=" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct k8s_object *o = with_selector(cases[i].sel);
		char *s;

		if (!o) {
			unit_failed_checks++;
			continue;
		}
		s = selector_str(&o->np.pod_sel);
		CHECK_STR(s, cases[i].want);
		free(s);
		k8s_object_free(o);
	}
	/* order does not matter: equal selectors, equal text */
	struct k8s_object *x = with_selector("{matchLabels: {a: 1}, matchExpressions: "
					     "[{key: b, operator: Exists}, {key: c, operator: In, "
					     "values: [2, 1]}]}");
	struct k8s_object *y = with_selector("{matchExpressions: [{key: c, operator: In, "
					     "values: [1, 2]}, {key: b, operator: Exists}], "
					     "matchLabels: {a: 1}}");

	if (x && y) {
		char *sx = selector_str(&x->np.pod_sel), *sy = selector_str(&y->np.pod_sel);

		CHECK_STR(sx, sy);
		free(sx);
		free(sy);
	}
	k8s_object_free(x);
	k8s_object_free(y);
}

int main(void)
{
	UNIT_BEGIN("selector");
	RUN(matching);
	RUN(canonical_text);
	return UNIT_END();
}
