/* Unit tests for agent/k8s_netpol.c: networking.k8s.io/v1 NetworkPolicy
 * decoded as `kubectl get -o yaml` writes it, policyTypes defaults,
 * selectors, ipBlocks, ports, validation errors with field paths and
 * positions, and equality. */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>

#include "agent/doc.h"
#include "agent/k8s.h"
#include "test/unit/unit.h"

#define NP_HEAD "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n" \
		"metadata:\n  name: p\n  namespace: shop\n"

/* kubectl get networkpolicy -o yaml, one of everything */
static const char full_yaml[] =
	"apiVersion: networking.k8s.io/v1\n"
	"kind: NetworkPolicy\n"
	"metadata:\n"
	"  annotations:\n"
	"    kubectl.kubernetes.io/last-applied-configuration: |\n"
	"      {\"apiVersion\":\"networking.k8s.io/v1\"}\n"
	"  creationTimestamp: \"2024-05-01T10:00:00Z\"\n"
	"  generation: 1\n"
	"  name: web\n"
	"  namespace: shop\n"
	"  resourceVersion: \"4242\"\n"
	"  uid: 0b4c9a3e-1111-2222-3333-444455556666\n"
	"spec:\n"
	"  egress:\n"
	"  - ports:\n"
	"    - port: 53\n"
	"      protocol: UDP\n"
	"    to:\n"
	"    - namespaceSelector:\n"
	"        matchLabels:\n"
	"          kubernetes.io/metadata.name: kube-system\n"
	"      podSelector:\n"
	"        matchLabels:\n"
	"          k8s-app: kube-dns\n"
	"  - to:\n"
	"    - ipBlock:\n"
	"        cidr: 10.0.0.0/8\n"
	"        except:\n"
	"        - 10.1.0.0/16\n"
	"        - 10.2.3.4/32\n"
	"    - ipBlock:\n"
	"        cidr: fd00::/8\n"
	"  ingress:\n"
	"  - from:\n"
	"    - podSelector:\n"
	"        matchExpressions:\n"
	"        - key: tier\n"
	"          operator: In\n"
	"          values:\n"
	"          - frontend\n"
	"          - edge\n"
	"          - frontend\n"
	"        - key: canary\n"
	"          operator: DoesNotExist\n"
	"    ports:\n"
	"    - port: http\n"
	"      protocol: TCP\n"
	"    - endPort: 9100\n"
	"      port: 9000\n"
	"      protocol: TCP\n"
	"    - protocol: SCTP\n"
	"  - {}\n"
	"  podSelector:\n"
	"    matchLabels:\n"
	"      app: web\n"
	"  policyTypes:\n"
	"  - Ingress\n"
	"  - Egress\n"
	"status: {}\n";

static struct doc_node *parse(const char *yaml)
{
	struct doc_node *doc = NULL;
	struct doc_error err;

	if (doc_parse_yaml(yaml, strlen(yaml), &doc, &err)) {
		fprintf(stderr, "  fixture does not parse: %d:%d: %s\n", err.line, err.col,
			err.msg);
		return NULL;
	}
	return doc;
}

static int decode(const char *yaml, struct k8s_object **out, struct doc_error *err)
{
	struct doc_node *doc = parse(yaml);
	int ret;

	*out = NULL;
	if (!doc)
		return -1000;
	ret = k8s_decode(doc, out, err);
	doc_free(doc);
	return ret;
}

static const char *cidr_str(const struct k8s_cidr *c)
{
	static char buf[64];
	char a[INET6_ADDRSTRLEN];

	tern_addr_str(&c->addr, a, sizeof(a));
	snprintf(buf, sizeof(buf), "%s/%u", a, c->v4 ? c->bits - 96 : c->bits);
	return buf;
}

static void full(void)
{
	const struct k8s_networkpolicy *np;
	struct k8s_object *o;
	struct doc_error err;

	CHECK_INT(decode(full_yaml, &o, &err), 0);
	if (!o)
		return;
	np = &o->np;
	CHECK_INT(o->kind, K8S_NETWORKPOLICY);
	CHECK_STR(o->meta.ns, "shop");
	CHECK_INT(np->pod_sel.match.n, 1);
	CHECK_STR(k8s_labels_get(&np->pod_sel.match, "app"), "web");
	CHECK_INT(np->types[K8S_NP_INGRESS], 1);
	CHECK_INT(np->types[K8S_NP_EGRESS], 1);

	/* ingress[0]: expressions (values a sorted set), three ports */
	CHECK_INT(np->n_rules[K8S_NP_INGRESS], 2);
	const struct k8s_np_rule *r = &np->rules[K8S_NP_INGRESS][0];

	CHECK_INT(r->n_peers, 1);
	CHECK_INT(r->peers[0].has_pod_sel, 1);
	CHECK_INT(r->peers[0].has_ns_sel, 0);
	CHECK_INT(r->peers[0].pod_sel.n_exprs, 2);
	CHECK_STR(r->peers[0].pod_sel.exprs[0].key, "tier");
	CHECK_INT(r->peers[0].pod_sel.exprs[0].op, K8S_SEL_IN);
	CHECK_INT(r->peers[0].pod_sel.exprs[0].n_values, 2);
	CHECK_STR(r->peers[0].pod_sel.exprs[0].values[0], "edge");
	CHECK_STR(r->peers[0].pod_sel.exprs[0].values[1], "frontend");
	CHECK_INT(r->peers[0].pod_sel.exprs[1].op, K8S_SEL_DOES_NOT_EXIST);
	CHECK_INT(r->n_ports, 3);
	CHECK_STR(r->ports[0].name, "http");
	CHECK_INT(r->ports[0].port, 0);
	CHECK_INT(r->ports[0].proto, IPPROTO_TCP);
	CHECK_INT(r->ports[1].port, 9000);
	CHECK_INT(r->ports[1].end_port, 9100);
	CHECK_STR(r->ports[1].name, "");
	CHECK_INT(r->ports[2].proto, IPPROTO_SCTP);
	CHECK_INT(r->ports[2].port, 0);
	/* ingress[1]: {} allows everything */
	CHECK_INT(np->rules[K8S_NP_INGRESS][1].n_peers, 0);
	CHECK_INT(np->rules[K8S_NP_INGRESS][1].n_ports, 0);

	/* egress[0]: both selectors in one peer */
	CHECK_INT(np->n_rules[K8S_NP_EGRESS], 2);
	r = &np->rules[K8S_NP_EGRESS][0];
	CHECK_INT(r->n_peers, 1);
	CHECK_INT(r->peers[0].has_pod_sel && r->peers[0].has_ns_sel, 1);
	CHECK_STR(k8s_labels_get(&r->peers[0].ns_sel.match, "kubernetes.io/metadata.name"),
		  "kube-system");
	CHECK_INT(r->ports[0].proto, IPPROTO_UDP);
	CHECK_INT(r->ports[0].port, 53);
	/* egress[1]: ipBlocks */
	r = &np->rules[K8S_NP_EGRESS][1];
	CHECK_INT(r->n_peers, 2);
	CHECK_INT(r->peers[0].is_block, 1);
	CHECK_STR(cidr_str(&r->peers[0].cidr), "10.0.0.0/8");
	CHECK_INT(r->peers[0].n_except, 2);
	CHECK_STR(cidr_str(&r->peers[0].except[1]), "10.2.3.4/32");
	CHECK_INT(r->peers[1].cidr.v4, 0);
	CHECK_STR(cidr_str(&r->peers[1].cidr), "fd00::/8");
	k8s_object_free(o);
}

/* policyTypes absent: Ingress, and Egress when there are egress rules */
static void type_defaults(void)
{
	static const struct {
		const char *spec;
		int in, eg;
	} cases[] = {
		{ "spec:\n  podSelector: {}\n", 1, 0 },
		{ "spec:\n  podSelector: {}\n  egress: []\n", 1, 0 },
		{ "spec:\n  podSelector: {}\n  egress: [{}]\n", 1, 1 },
		{ "spec:\n  podSelector: {}\n  policyTypes: [Egress]\n", 0, 1 },
		{ "spec:\n  podSelector: {}\n  policyTypes: [Egress]\n  ingress: [{}]\n", 0, 1 },
		{ "spec:\n  podSelector: {}\n  policyTypes: []\n  egress: [{}]\n", 1, 1 },
		{ "spec:\n  podSelector: {}\n  policyTypes: [Ingress, Egress]\n", 1, 1 },
		/* kubectl leaves out an empty podSelector of a hand-written object */
		{ "spec:\n  ingress: [{}]\n", 1, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char yaml[512];
		struct k8s_object *o;
		struct doc_error err;

		snprintf(yaml, sizeof(yaml), NP_HEAD "%s", cases[i].spec);
		CHECK_INT(decode(yaml, &o, &err), 0);
		if (!o) {
			fprintf(stderr, "  case %zu: %s\n", i, err.msg);
			continue;
		}
		CHECK_INT(o->np.types[K8S_NP_INGRESS], cases[i].in);
		CHECK_INT(o->np.types[K8S_NP_EGRESS], cases[i].eg);
		k8s_object_free(o);
	}
}

/* CIDRs with host bits are accepted and cleared, as the API server's
 * sloppy parse does; IPv4 lives at ::ffff:0:0/96. */
static void cidrs(void)
{
	struct k8s_object *o;
	struct doc_error err;

	CHECK_INT(decode(NP_HEAD "spec:\n  ingress:\n  - from:\n"
			 "    - ipBlock: {cidr: 10.1.2.3/16, except: [10.1.200.9/24]}\n"
			 "    - ipBlock: {cidr: '::/0'}\n    - ipBlock: {cidr: 0.0.0.0/0}\n",
			 &o, &err), 0);
	if (!o)
		return;
	const struct k8s_np_rule *r = &o->np.rules[K8S_NP_INGRESS][0];

	CHECK_STR(cidr_str(&r->peers[0].cidr), "10.1.0.0/16");
	CHECK_INT(r->peers[0].cidr.bits, 96 + 16);
	CHECK_STR(cidr_str(&r->peers[0].except[0]), "10.1.200.0/24");
	CHECK_INT(r->peers[1].cidr.bits, 0);
	CHECK_INT(r->peers[2].cidr.bits, 96);
	CHECK_INT(r->peers[2].cidr.v4, 1);
	k8s_object_free(o);
}

struct bad {
	const char *spec;   /* after NP_HEAD (5 lines) */
	const char *want;   /* the message after "NetworkPolicy shop/p: " */
	int line, col;
};

static const struct bad bads[] = {
	{ "spec: []\n", "spec: must be a map", 6, 7 },
	{ "kind2: x\n", "spec: missing", 1, 1 },
	{ "spec:\n  podSelector: []\n", "spec.podSelector: must be a map", 7, 16 },
	{ "spec:\n  policyTypes: [Ingress, Sideways]\n",
	  "spec.policyTypes[1]: \"Sideways\" is not Ingress or Egress", 7, 26 },
	{ "spec:\n  policyTypes: [Ingress, Egress, Ingress]\n",
	  "spec.policyTypes: may not specify more than two policyTypes", 7, 16 },
	{ "spec:\n  ingress: {}\n", "spec.ingress: must be a list", 7, 12 },
	{ "spec:\n  ingress: [[]]\n", "spec.ingress[0]: must be a map", 7, 13 },
	{ "spec:\n  ingress:\n  - from: [{}]\n",
	  "spec.ingress[0].from[0]: must specify a peer (podSelector, namespaceSelector or "
	  "ipBlock)", 8, 12 },
	{ "spec:\n  egress:\n  - to:\n    - ipBlock: {cidr: 10.0.0.0/8}\n      podSelector: {}\n",
	  "spec.egress[0].to[0]: may not specify more than 1 peer type (ipBlock with a selector)",
	  9, 16 },
	{ "spec:\n  ingress:\n  - from:\n    - ipBlock: {cidr: 10.0.0.0/33}\n",
	  "spec.ingress[0].from[0].ipBlock.cidr: \"10.0.0.0/33\" is not a valid CIDR", 9, 23 },
	{ "spec:\n  ingress:\n  - from:\n    - ipBlock: {cidr: 10.0.0.1}\n",
	  "spec.ingress[0].from[0].ipBlock.cidr: \"10.0.0.1\" is not a valid CIDR", 9, 23 },
	{ "spec:\n  ingress:\n  - from:\n    - ipBlock: {except: [10.0.0.0/8]}\n",
	  "spec.ingress[0].from[0].ipBlock.cidr: missing", 9, 16 },
	{ "spec:\n  ingress:\n  - from:\n    - ipBlock: {cidr: 10.0.0.0/8, except: [10.0.0.0/8]}\n",
	  "spec.ingress[0].from[0].ipBlock.except[0]: \"10.0.0.0/8\" must be a strict subset of "
	  "cidr \"10.0.0.0/8\"", 9, 44 },
	{ "spec:\n  ingress:\n  - from:\n    - ipBlock: {cidr: 10.0.0.0/8, except: [11.0.0.0/16]}\n",
	  "spec.ingress[0].from[0].ipBlock.except[0]: \"11.0.0.0/16\" must be a strict subset of "
	  "cidr \"10.0.0.0/8\"", 9, 44 },
	{ "spec:\n  ingress:\n  - from:\n    - ipBlock: {cidr: 10.0.0.0/8, except: ['fd00::/64']}\n",
	  "spec.ingress[0].from[0].ipBlock.except[0]: \"fd00::/64\" must be a strict subset of "
	  "cidr \"10.0.0.0/8\"", 9, 44 },
	{ "spec:\n  ingress:\n  - ports: [{protocol: ICMP}]\n",
	  "spec.ingress[0].ports[0].protocol: \"ICMP\" is not TCP, UDP or SCTP", 8, 24 },
	{ "spec:\n  ingress:\n  - ports: [{port: 0}]\n",
	  "spec.ingress[0].ports[0].port: 0 must be between 1 and 65535", 8, 20 },
	{ "spec:\n  ingress:\n  - ports: [{port: 65536}]\n",
	  "spec.ingress[0].ports[0].port: 65536 must be between 1 and 65535", 8, 20 },
	{ "spec:\n  ingress:\n  - ports: [{port: Http}]\n",
	  "spec.ingress[0].ports[0].port: \"Http\" is not a valid port name (IANA_SVC_NAME: "
	  "lowercase letters, digits and '-', at least one letter, no leading, trailing or double "
	  "'-')", 8, 20 },
	{ "spec:\n  ingress:\n  - ports: [{port: \"80\"}]\n",
	  "spec.ingress[0].ports[0].port: \"80\" is not a valid port name (IANA_SVC_NAME: "
	  "lowercase letters, digits and '-', at least one letter, no leading, trailing or double "
	  "'-')", 8, 20 },
	{ "spec:\n  ingress:\n  - ports: [{endPort: 90}]\n",
	  "spec.ingress[0].ports[0].endPort: may not be given without port", 8, 23 },
	{ "spec:\n  ingress:\n  - ports: [{port: http, endPort: 90}]\n",
	  "spec.ingress[0].ports[0].endPort: may not be given with a named port", 8, 35 },
	{ "spec:\n  ingress:\n  - ports: [{port: 90, endPort: 80}]\n",
	  "spec.ingress[0].ports[0].endPort: 80 must be greater than or equal to port (90)", 8,
	  33 },
	{ "spec:\n  podSelector:\n    matchLabels: {\"a b\": c}\n",
	  "spec.podSelector.matchLabels: key \"a b\" is not a valid label key (an optional DNS "
	  "subdomain and '/', then letters, digits, '-', '_' and '.', starting and ending with a "
	  "letter or digit)", 8, 19 },
	{ "spec:\n  podSelector:\n    matchLabels: {a: -b}\n",
	  "spec.podSelector.matchLabels.a: \"-b\" is not a valid label value (letters, digits, "
	  "'-', '_' and '.', starting and ending with a letter or digit)", 8, 22 },
	{ "spec:\n  podSelector:\n    matchExpressions: [{key: a, operator: Within, values: [b]}]\n",
	  "spec.podSelector.matchExpressions[0].operator: \"Within\" is not In, NotIn, Exists or "
	  "DoesNotExist", 8, 43 },
	{ "spec:\n  podSelector:\n    matchExpressions: [{key: a, operator: In}]\n",
	  "spec.podSelector.matchExpressions[0].values: must be non-empty for operator In", 8,
	  24 },
	{ "spec:\n  podSelector:\n    matchExpressions: [{key: a, operator: Exists, values: [b]}]\n",
	  "spec.podSelector.matchExpressions[0].values: must be empty for operator Exists", 8,
	  59 },
	{ "spec:\n  podSelector:\n    matchExpressions: [{operator: Exists}]\n",
	  "spec.podSelector.matchExpressions[0].key: missing", 8, 24 },
	{ "spec:\n  egress:\n  - to:\n    - namespaceSelector:\n        matchExpressions:\n"
	  "        - {key: ns, operator: NotIn, values: [a, \"b c\"]}\n",
	  "spec.egress[0].to[0].namespaceSelector.matchExpressions[0].values[1]: \"b c\" is not "
	  "a valid label value (letters, digits, '-', '_' and '.', starting and ending with a "
	  "letter or digit)", 11, 50 },
};

static void errors(void)
{
	for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		char yaml[1024], want[512];
		struct k8s_object *o;
		struct doc_error err;
		int rc;

		snprintf(yaml, sizeof(yaml), NP_HEAD "%s", bads[i].spec);
		snprintf(want, sizeof(want), "NetworkPolicy shop/p: %s", bads[i].want);
		rc = decode(yaml, &o, &err);
		CHECK_INT(rc, -EINVAL);
		if (rc != -EINVAL) {
			k8s_object_free(o);
			continue;
		}
		CHECK_STR(err.msg, want);
		if (err.line != bads[i].line || err.col != bads[i].col) {
			fprintf(stderr, "  case %zu (%s): at %d:%d, want %d:%d\n", i, bads[i].want,
				err.line, err.col, bads[i].line, bads[i].col);
			unit_failed_checks++;
		}
	}
}

static void equality(void)
{
	static const char *const variants[] = {
		"  - ports: [{port: 81}]\n",
		"  - ports: [{port: 80, protocol: UDP}]\n",
		"  - ports: [{port: 80, endPort: 81}]\n",
		"  - ports: [{port: http}]\n",
		"  - from: [{podSelector: {}}]\n    ports: [{port: 80}]\n",
		"  - from: [{namespaceSelector: {}}]\n    ports: [{port: 80}]\n",
		"  - from: [{ipBlock: {cidr: 10.0.0.0/8}}]\n    ports: [{port: 80}]\n",
	};
	const char *base = NP_HEAD "spec:\n  podSelector: {}\n  ingress:\n  - ports: [{port: 80}]\n";
	struct k8s_object *a, *b;
	struct doc_error err;
	char yaml[512];

	CHECK_INT(decode(base, &a, &err), 0);
	CHECK_INT(decode(base, &b, &err), 0);
	if (a && b)
		CHECK_INT(k8s_object_equal(a, b), 1);
	k8s_object_free(b);
	for (size_t i = 0; a && i < sizeof(variants) / sizeof(variants[0]); i++) {
		snprintf(yaml, sizeof(yaml), NP_HEAD "spec:\n  podSelector: {}\n  ingress:\n%s",
			 variants[i]);
		CHECK_INT(decode(yaml, &b, &err), 0);
		if (!b)
			continue;
		if (k8s_object_equal(a, b)) {
			fprintf(stderr, "  variant %zu equal to the base\n", i);
			unit_failed_checks++;
		}
		k8s_object_free(b);
	}
	k8s_object_free(a);
}

int main(void)
{
	UNIT_BEGIN("k8s_netpol");
	RUN(full);
	RUN(type_defaults);
	RUN(cidrs);
	RUN(errors);
	RUN(equality);
	return UNIT_END();
}
