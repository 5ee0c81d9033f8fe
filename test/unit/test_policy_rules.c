/* Unit tests for policy/rules.c and policy/ipset.c: which policies isolate
 * an endpoint per direction, the rules in their order, sets shared by
 * definition, named ports (resolved on the pod for ingress, sets for
 * egress), set members from the model, and set ids that every run gives
 * the same. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <tern/policy.h>

#include "agent/doc.h"
#include "agent/k8s.h"
#include "agent/model.h"
#include "policy/ipset.h"
#include "policy/rules.h"
#include "test/unit/unit.h"

static const char world[] =
	"apiVersion: v1\nkind: Node\nmetadata: {name: n1}\n"
	"status: {addresses: [{type: InternalIP, address: 192.168.0.1},"
	" {type: Hostname, address: n1}]}\n"
	"---\napiVersion: v1\nkind: Namespace\nmetadata: {name: shop, labels: {team: a}}\n"
	"---\napiVersion: v1\nkind: Namespace\nmetadata: {name: ops, labels: {team: b}}\n"
	"---\napiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: shop, labels: {app: web}}\n"
	"spec:\n  nodeName: n1\n  containers:\n  - name: c\n    ports:\n"
	"    - {name: http, containerPort: 8080}\n    - {name: http, containerPort: 8443, "
	"protocol: UDP}\n"
	"status: {phase: Running, podIPs: [{ip: 10.0.0.1}, {ip: 'fd00::1'}]}\n"
	"---\napiVersion: v1\nkind: Pod\nmetadata: {name: db, namespace: shop, labels: {app: db}}\n"
	"spec:\n  nodeName: n2\n  containers:\n  - name: c\n    ports:\n"
	"    - {name: sql, containerPort: 5432}\n"
	"status: {phase: Running, podIPs: [{ip: 10.0.0.2}]}\n"
	"---\napiVersion: v1\nkind: Pod\nmetadata: {name: mon, namespace: ops, labels: {app: mon}}\n"
	"spec: {nodeName: n2}\n"
	"status: {phase: Running, podIPs: [{ip: 10.0.1.1}, {ip: 'fd00::101'}]}\n"
	/* these never count as peers */
	"---\napiVersion: v1\nkind: Pod\nmetadata: {name: done, namespace: shop, labels: {app: db}}\n"
	"spec: {nodeName: n2}\nstatus: {phase: Succeeded, podIPs: [{ip: 10.0.0.9}]}\n"
	"---\napiVersion: v1\nkind: Pod\nmetadata: {name: host, namespace: shop, labels: {app: db}}\n"
	"spec: {nodeName: n2, hostNetwork: true}\n"
	"status: {phase: Running, podIPs: [{ip: 192.168.0.2}]}\n";

/* Policies on shop/web, written out of order on purpose. */
static const char policies[] =
	"apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
	"metadata: {name: b-second, namespace: shop}\n"
	"spec:\n  podSelector: {matchLabels: {app: web}}\n  ingress:\n"
	"  - from: [{podSelector: {matchLabels: {app: db}}}]\n"
	"  - from: [{namespaceSelector: {matchLabels: {team: b}}}]\n    ports: [{port: http}]\n"
	"---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
	"metadata: {name: a-first, namespace: shop}\n"
	"spec:\n  podSelector: {}\n  ingress:\n"
	"  - from: [{podSelector: {matchLabels: {app: db}}}]\n    ports: [{port: 5432}]\n"
	"  - ports: [{port: nope}]\n"
	"  egress:\n"
	"  - to: [{ipBlock: {cidr: 10.0.0.0/16, except: [10.0.1.0/24]}}, {ipBlock: {cidr: '::/0'}}]\n"
	"  - ports: [{port: sql}]\n"
	/* another namespace: never applies to shop/web */
	"---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
	"metadata: {name: elsewhere, namespace: ops}\n"
	"spec:\n  podSelector: {}\n  ingress: [{}]\n"
	/* Egress only: its ingress rules do not count */
	"---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
	"metadata: {name: c-egress-only, namespace: shop}\n"
	"spec:\n  podSelector: {matchLabels: {app: nothing}}\n  policyTypes: [Egress]\n"
	"  ingress: [{}]\n";

static int add_yaml(struct model *m, const char *yaml)
{
	struct doc_list docs;
	int err = doc_parse_yaml_stream(yaml, strlen(yaml), &docs);

	for (size_t i = 0; !err && i < docs.n; i++) {
		struct k8s_item *items;
		size_t n;

		if (!docs.docs[i]) {
			fprintf(stderr, "  yaml %d:%d: %s\n", docs.errors[i].line, docs.errors[i].col,
				docs.errors[i].msg);
			err = -EINVAL;
			break;
		}
		err = k8s_decode_list(docs.docs[i], &items, &n);
		for (size_t j = 0; !err && j < n; j++) {
			if (!items[j].obj) {
				fprintf(stderr, "  %s\n", items[j].err.msg);
				err = -EINVAL;
			} else if (model_upsert(m, items[j].obj) < 0) {
				err = -ENOMEM;
			}
			items[j].obj = NULL;
		}
		k8s_items_free(items, n);
	}
	doc_list_free(&docs);
	return err;
}

static struct model *world_model(void)
{
	struct model *m = model_new();

	if (!m || add_yaml(m, world) || add_yaml(m, policies)) {
		model_free(m);
		return NULL;
	}
	return m;
}

static int build_web(const struct model *m, struct pol_model *pm)
{
	struct pol_ep_in ep = { 7, model_get(m, K8S_POD, "shop", "web"), 0 };

	return pol_model_build(m, "n1", &ep, 1, pm);
}

static void isolation_and_order(void)
{
	struct model *m = world_model();
	struct pol_model pm;

	if (!m || build_web(m, &pm)) {
		unit_failed_checks++;
		model_free(m);
		return;
	}
	const struct pol_dir *in = &pm.eps[0].dir[TERN_POL_INGRESS];
	const struct pol_dir *eg = &pm.eps[0].dir[TERN_POL_EGRESS];
	static const char *const want_in[] = {
		"node n1: the node's addresses (forwarded); any port",
		"shop/a-first ingress[0]: from pods(app=db) in ns shop; ports TCP/5432",
		"shop/a-first ingress[1]: from anywhere; ports TCP/nope(not on this pod)",
		"shop/b-second ingress[0]: from pods(app=db) in ns shop; any port",
		"shop/b-second ingress[1]: from pods(*) in namespaces(team=b); ports "
		"TCP/http(=8080)",
	};
	static const char *const want_eg[] = {
		"shop/a-first egress[0]: to 10.0.0.0/16 except 10.0.1.0/24, ::/0; any port",
		"shop/a-first egress[1]: to anywhere; ports TCP/sql",
	};

	CHECK_INT(pm.eps[0].ep_id, 7);
	CHECK_INT(in->isolated, 1);
	CHECK_INT(eg->isolated, 1);
	CHECK_INT(in->n_rules, 5);
	for (size_t i = 0; i < in->n_rules && i < 5; i++)
		CHECK_STR(in->rules[i].desc, want_in[i]);
	CHECK_INT(eg->n_rules, 2);
	for (size_t i = 0; i < eg->n_rules && i < 2; i++)
		CHECK_STR(eg->rules[i].desc, want_eg[i]);
	/* a named port the pod does not have matches nothing */
	CHECK_INT(in->rules[2].never, 1);
	CHECK_INT(in->rules[4].never, 0);
	/* ingress named port: the pod's own 8080/TCP (not its UDP "http") */
	CHECK_INT(in->rules[4].n_ports, 1);
	CHECK_INT(in->rules[4].ports[0].lo, 8080);
	CHECK_INT(in->rules[4].ports[0].hi, 8080);
	CHECK_INT(in->rules[4].ports[0].proto, IPPROTO_TCP);
	CHECK_INT(in->rules[4].ports[0].set, 0);
	/* the same peer twice is one set */
	CHECK_INT(in->rules[1].peers[0], in->rules[3].peers[0]);
	CHECK_STR(pm.sets[in->rules[1].peers[0]].def, "pods ns=shop sel=app=db");
	CHECK_INT(pm.sets[in->rules[0].peers[0]].kind, POL_SET_NODE);
	/* egress named port: a set of (address, port, protocol) */
	CHECK_INT(eg->rules[1].ports[0].set != 0, 1);
	if (eg->rules[1].ports[0].set)
		CHECK_STR(pm.sets[eg->rules[1].ports[0].set - 1].def, "port sql/TCP");
	CHECK_STR(pm.sets[eg->rules[0].peers[0]].def, "cidr 10.0.0.0/16 except 10.0.1.0/24");
	CHECK_STR(pm.sets[eg->rules[0].peers[1]].def, "cidr ::/0");
	pol_model_free(&pm);

	/* shop/db: only a-first selects it; ops/mon: only elsewhere */
	struct pol_ep_in eps[2] = {
		{ 1, model_get(m, K8S_POD, "shop", "db"), 0 },
		{ 2, model_get(m, K8S_POD, "ops", "mon"), 0 },
	};

	if (pol_model_build(m, "n1", eps, 2, &pm) == 0) {
		CHECK_INT(pm.eps[0].dir[TERN_POL_INGRESS].n_rules, 3);
		CHECK_INT(pm.eps[1].dir[TERN_POL_INGRESS].n_rules, 2);
		CHECK_INT(pm.eps[1].dir[TERN_POL_EGRESS].isolated, 0);
		CHECK_STR(pm.eps[1].dir[TERN_POL_INGRESS].rules[1].desc,
			  "ops/elsewhere ingress[0]: from anywhere; any port");
		pol_model_free(&pm);
	}
	model_free(m);
}

/* The same model gives the same rules, sets and ids, run after run. */
static void deterministic(void)
{
	struct model *m = world_model();
	struct pol_model a, b;
	struct ipset_ids *ids1 = ipset_ids_new(), *ids2 = ipset_ids_new();

	if (!m || !ids1 || !ids2 || build_web(m, &a) || build_web(m, &b)) {
		unit_failed_checks++;
		goto out;
	}
	CHECK_INT(a.n_sets, b.n_sets);
	CHECK_INT(ipset_ids__assign(ids1, a.sets, a.n_sets), 0);
	CHECK_INT(ipset_ids__assign(ids2, b.sets, b.n_sets), 0);
	for (size_t i = 0; i < a.n_sets && i < b.n_sets; i++) {
		CHECK_STR(a.sets[i].def, b.sets[i].def);
		CHECK_INT(a.sets[i].id, b.sets[i].id);
		CHECK_INT(a.sets[i].id, ipset_id_of(a.sets[i].def));
		CHECK_INT(a.sets[i].id != 0 && a.sets[i].id < 0x80000000u, 1);
	}
	/* a set's id survives sets coming and going around it */
	uint32_t kept = a.sets[a.n_sets - 1].id;

	CHECK_INT(ipset_ids__assign(ids1, &a.sets[a.n_sets - 1], 1), 0);
	CHECK_INT(a.sets[a.n_sets - 1].id, kept);
	CHECK_INT(ipset_ids__assign(ids1, a.sets, a.n_sets), 0);
	CHECK_INT(a.sets[a.n_sets - 1].id, kept);
	pol_model_free(&a);
	pol_model_free(&b);
out:
	ipset_ids_free(ids1);
	ipset_ids_free(ids2);
	model_free(m);
}

/* An entry as text: "set-index prefix value", set ids left out. */
static const char *entry_str(const struct pol_model *pm, const struct ipset_entry *e)
{
	static char buf[160];
	char a[INET6_ADDRSTRLEN];
	unsigned bits = e->key.prefixlen - TERN_IPSET_PREFIX_SET;
	size_t set = 0;

	while (set < pm->n_sets && htonl(pm->sets[set].id) != e->key.set_id)
		set++;
	tern_addr_str(&e->key.addr, a, sizeof(a));
	if (e->key.prefixlen == TERN_IPSET_PREFIX_FULL)
		snprintf(buf, sizeof(buf), "%s: %s %u/%u", pm->sets[set].def, a, ntohs(e->key.port),
			 e->key.proto);
	else
		snprintf(buf, sizeof(buf), "%s: %s/%u%s", pm->sets[set].def, a, bits,
			 e->value == TERN_IPSET_EXCEPT ? " except" : "");
	return buf;
}

static void members(void)
{
	struct model *m = world_model();
	struct ipset_ids *ids = ipset_ids_new();
	struct ipset_entry *e = NULL;
	struct pol_model pm;
	size_t n = 0;

	if (!m || !ids || build_web(m, &pm)) {
		unit_failed_checks++;
		goto out;
	}
	CHECK_INT(ipset_ids__assign(ids, pm.sets, pm.n_sets), 0);
	CHECK_INT(ipset_members(m, pm.sets, pm.n_sets, &e, &n), 0);
	/* the entries, by set (IPv4 printed plain, prefix over 128 bits) */
	static const char *const want[] = {
		"node n1: 192.168.0.1/128",
		"pods ns=shop sel=app=db: 10.0.0.2/128",
		"pods nssel=team=b sel=*: 10.0.1.1/128",
		"pods nssel=team=b sel=*: fd00::101/128",
		"cidr 10.0.0.0/16 except 10.0.1.0/24: 10.0.0.0/112",
		"cidr 10.0.0.0/16 except 10.0.1.0/24: 10.0.1.0/120 except",
		/* ::/0 minus IPv4, which the map keeps at ::ffff:0:0/96 */
		"cidr ::/0: ::/0",
		"cidr ::/0: 0.0.0.0/96 except",
		"port sql/TCP: 10.0.0.2 5432/6",
	};
	size_t found = 0;

	for (size_t w = 0; w < sizeof(want) / sizeof(want[0]); w++) {
		int hit = 0;

		for (size_t i = 0; i < n && !hit; i++)
			hit = strcmp(entry_str(&pm, &e[i]), want[w]) == 0;
		if (!hit) {
			fprintf(stderr, "  missing entry %s\n", want[w]);
			unit_failed_checks++;
		}
		found += hit;
	}
	CHECK_INT(n, found);
	if (n != found)
		for (size_t i = 0; i < n; i++)
			fprintf(stderr, "  have %s\n", entry_str(&pm, &e[i]));
	/* sorted, no duplicates */
	for (size_t i = 1; i < n; i++)
		CHECK_INT(ipset_entry_cmp(&e[i - 1], &e[i]) < 0, 1);
	pol_model_free(&pm);
out:
	free(e);
	ipset_ids_free(ids);
	model_free(m);
}

/* A namespace without a Namespace object still has its name label, as the
 * API server adds kubernetes.io/metadata.name to every namespace. */
static void namespace_name_label(void)
{
	struct model *m = world_model();
	struct k8s_labels l;

	if (!m) {
		unit_failed_checks++;
		return;
	}
	CHECK_INT(pol_ns_labels(m, "shop", &l), 0);
	CHECK_INT(l.n, 2);
	CHECK_STR(k8s_labels_get(&l, "kubernetes.io/metadata.name"), "shop");
	CHECK_STR(k8s_labels_get(&l, "team"), "a");
	pol_labels_free(&l);
	CHECK_INT(pol_ns_labels(m, "unknown", &l), 0);
	CHECK_INT(l.n, 1);
	CHECK_STR(k8s_labels_get(&l, "kubernetes.io/metadata.name"), "unknown");
	pol_labels_free(&l);
	model_free(m);
}

int main(void)
{
	UNIT_BEGIN("policy_rules");
	RUN(isolation_and_order);
	RUN(deterministic);
	RUN(members);
	RUN(namespace_name_label);
	return UNIT_END();
}
