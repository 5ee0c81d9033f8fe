/* Network policy through the real tc pipeline: Kubernetes objects -> the
 * agent's policy engine (rules, ipsets, compiled programs installed in the
 * jump map) -> first packets through tern_to_ep / tern_from_ep /
 * tern_host_in, judged allowed, denied or unmatched, with the deciding
 * rule's counter checked. v4 and v6, port ranges, named ports (ingress and
 * egress), ipBlock with except, chained programs, swaps, fail closed.
 *
 *   this process's netns (the node "test-node": 10.1.0.99, fd00:1::99)
 *
 *   [pod A] tpap ==veth== tpa   ns1/a  ep 100  10.1.0.2   fd00:1::2   app=a
 *   [pod B] tpbp ==veth== tpb   ns1/b  ep 101  10.1.0.3   fd00:1::3   app=b
 *   [wire]  tdatap ==veth== tdata              (outside -> pod: tern_host_in)
 *   elsewhere: ns2/rem          10.0.0.200 fc00:5::9 app=rem   (ns2: team=b)
 *   outside:   192.0.2.10 fd00:9::1 (REM_HI), 192.0.2.254 fd00:9::fe (ROUTER)
 */
#include <errno.h>
#include <sched.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <tern/policy.h>

#include "harness.h"
#include "tnat.h"
#include "agent/doc.h"
#include "agent/log.h"
#include "agent/k8s.h"
#include "agent/model.h"
#include "policy/codegen.h"
#include "policy/ipset.h"
#include "policy/load.h"
#include "policy/policy.h"

#define EP_A 100
#define EP_B 101
#define NODE_IP4 "10.1.0.99"

#define IN TERN_POL_INGRESS
#define EG TERN_POL_EGRESS
#define NONE TERN_POL_RULE_NONE
#define NOCHECK -1

/* what the programs count on the interface the packet came in on */
#define TO_POD (C(RX) | C(CT_NEW))                /* tern_to_ep, allowed */
#define FWD (C(RX) | C(CT_NEW) | C(FWD_PEER))     /* to a local pod, allowed */
#define OUT (C(RX) | C(CT_NEW) | C(TO_STACK))     /* pod -> elsewhere, allowed */
#define DENIED (C(RX) | C(DROP_POLICY))
#define NO_PROG (C(RX) | C(DROP_NO_POLICY))
#define UNTRACKED_DENIED (DENIED | C(CT_UNTRACKED))

static const char base_yaml[] =
	"apiVersion: v1\nkind: Node\nmetadata: {name: test-node}\n"
	"status: {addresses: [{type: InternalIP, address: 10.1.0.99},\n"
	"  {type: InternalIP, address: 'fd00:1::99'}]}\n"
	"---\napiVersion: v1\nkind: Namespace\nmetadata: {name: ns1, labels: {team: a}}\n"
	"---\napiVersion: v1\nkind: Namespace\nmetadata: {name: ns2, labels: {team: b}}\n"
	"---\napiVersion: v1\nkind: Pod\nmetadata: {name: a, namespace: ns1, labels: {app: a}}\n"
	"spec:\n  nodeName: test-node\n  containers:\n  - name: c\n    ports:\n"
	"    - {name: http, containerPort: 8080}\n    - {name: dns, containerPort: 53, protocol: UDP}\n"
	"status: {phase: Running, podIPs: [{ip: 10.1.0.2}, {ip: 'fd00:1::2'}]}\n"
	"---\napiVersion: v1\nkind: Pod\nmetadata: {name: b, namespace: ns1, labels: {app: b}}\n"
	"spec:\n  nodeName: test-node\n  containers:\n  - name: c\n    ports:\n"
	"    - {name: web, containerPort: 9090}\n"
	"status: {phase: Running, podIPs: [{ip: 10.1.0.3}, {ip: 'fd00:1::3'}]}\n"
	"---\napiVersion: v1\nkind: Pod\nmetadata: {name: rem, namespace: ns2, labels: {app: rem}}\n"
	"spec: {nodeName: other-node}\n"
	"status: {phase: Running, podIPs: [{ip: 10.0.0.200}, {ip: 'fc00:5::9'}]}\n";

/* Pod A's ingress: one rule of each kind. Rule numbers: 0 is the node. */
static const char ingress_yaml[] =
	"apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
	"metadata: {name: a-in, namespace: ns1}\n"
	"spec:\n  podSelector: {matchLabels: {app: a}}\n  ingress:\n"
	"  - from: [{podSelector: {matchLabels: {app: b}}}]\n"              /* rule 1 */
	"    ports: [{port: 80}]\n"
	"  - from: [{namespaceSelector: {matchExpressions: [{key: team, operator: In, "
	"values: [b, c]}]}}]\n"                                              /* rule 2 */
	"    ports: [{protocol: UDP, port: 1000, endPort: 2000}]\n"
	"  - from:\n"                                                        /* rule 3 */
	"    - ipBlock: {cidr: 192.0.2.0/24, except: [192.0.2.254/32]}\n"
	"    - ipBlock: {cidr: 'fd00:9::/64', except: ['fd00:9::fe/128']}\n"
	"    ports: [{port: http}]\n"
	"  - from: [{ipBlock: {cidr: '::/0'}}]\n"                            /* rule 4 */
	"    ports: [{protocol: UDP, port: 7}]\n"
	"  - ports: [{protocol: SCTP, port: 9}]\n"                           /* rule 5 */
	"  - from: [{podSelector: {matchLabels: {app: b}}}]\n"              /* rule 6: never */
	"    ports: [{port: nosuch}]\n";

/* Pod A's egress and pod B's ingress. */
static const char egress_yaml[] =
	"apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
	"metadata: {name: a-out, namespace: ns1}\n"
	"spec:\n  podSelector: {matchLabels: {app: a}}\n  policyTypes: [Egress]\n  egress:\n"
	"  - to: [{podSelector: {matchLabels: {app: b}}}]\n"                /* rule 0 */
	"    ports: [{port: web}]\n"
	"  - to: [{ipBlock: {cidr: 192.0.2.0/24}}, {ipBlock: {cidr: 'fd00:9::/64'}}]\n"
	"    ports: [{port: 443}]\n"                                        /* rule 1 */
	"  - to: [{namespaceSelector: {}, podSelector: {matchLabels: {app: rem}}}]\n" /* 2 */
	"---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
	"metadata: {name: b-in, namespace: ns1}\n"
	"spec:\n  podSelector: {matchLabels: {app: b}}\n  ingress:\n"
	"  - from: [{podSelector: {}}]\n    ports: [{port: 9090}, {port: 9091}]\n"; /* rule 1 */

/* The same ingress for A and B: one program, loaded once. */
static const char shared_yaml[] =
	"apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
	"metadata: {name: all-in, namespace: ns1}\n"
	"spec:\n  podSelector: {}\n  ingress:\n  - ports: [{port: 5000}]\n";

struct world {
	struct model *m;
	struct policy *pol;
	size_t piece_insns;
};

/* ---- setup ---- */

static int world_add(struct world *w, const char *yaml)
{
	struct doc_list docs;
	int err = doc_parse_yaml_stream(yaml, strlen(yaml), &docs);

	for (size_t i = 0; !err && i < docs.n; i++) {
		struct k8s_item *items;
		size_t n;

		if (!docs.docs[i]) {
			fprintf(stderr, "test_policy: yaml: %d:%d: %s\n", docs.errors[i].line,
				docs.errors[i].col, docs.errors[i].msg);
			err = -EINVAL;
			break;
		}
		err = k8s_decode_list(docs.docs[i], &items, &n);
		for (size_t j = 0; !err && j < n; j++) {
			if (!items[j].obj) {
				fprintf(stderr, "test_policy: %s\n", items[j].err.msg);
				err = -EINVAL;
			} else if (model_upsert(w->m, items[j].obj) < 0) {
				err = -ENOMEM;
			}
			items[j].obj = NULL;
		}
		k8s_items_free(items, n);
	}
	doc_list_free(&docs);
	return err;
}

static int ep_write(const char *addr, enum iface_id ifc, uint32_t ep_id, uint32_t flags)
{
	struct tern_ep ep = { .ifindex = (__u32)tenv.ifindex[ifc], .flags = flags, .ep_id = ep_id };
	struct tern_addr a;

	taddr(addr, &a);
	return bpf_map_update_elem(tenv.ep, &a, &ep, BPF_ANY) ? -errno : 0;
}

/* ifc's isolation flags as given (the rest of its state kept) */
static int if_flags(enum iface_id ifc, uint32_t iso)
{
	__u32 key = (__u32)tenv.ifindex[ifc];
	struct tern_ifstate st;

	if (bpf_map_lookup_elem(tenv.ifstate, &key, &st))
		return -errno;
	st.flags = (st.flags & ~(TERN_IF_F_ISO_IN | TERN_IF_F_ISO_EG)) | iso;
	return bpf_map_update_elem(tenv.ifstate, &key, &st, BPF_ANY) ? -errno : 0;
}

static uint32_t iso_if(unsigned iso)
{
	return (iso & POLICY_ISO_IN ? TERN_IF_F_ISO_IN : 0) |
	       (iso & POLICY_ISO_EG ? TERN_IF_F_ISO_EG : 0);
}

/* Run the engine as the reconciler does: programs, then flags, then
 * cleanup. iso_out: A's and B's bits. */
static int world_apply(struct world *w, unsigned iso_out[2], struct policy_stats *st)
{
	const struct k8s_object *a = model_get(w->m, K8S_POD, "ns1", "a");
	const struct k8s_object *b = model_get(w->m, K8S_POD, "ns1", "b");
	struct pol_ep_in eps[2] = { { EP_A, a, 0 }, { EP_B, b, 0 } };
	unsigned iso[2] = { 0, 0 };
	struct policy_stats local = { 0 };
	int err;

	if (!st)
		st = &local;
	err = policy_apply(w->pol, w->m, eps, a && b ? 2 : 0, iso, st);
	if (err)
		return err;
	if ((err = if_flags(IF_A, iso_if(iso[0]))) || (err = if_flags(IF_B, iso_if(iso[1]))))
		return err;
	uint32_t fa = TERN_EP_F_LOCAL | (iso[0] & POLICY_ISO_IN ? TERN_EP_F_ISO_IN : 0);
	uint32_t fb = TERN_EP_F_LOCAL | (iso[1] & POLICY_ISO_IN ? TERN_EP_F_ISO_IN : 0);

	if ((err = ep_write(POD_A4, IF_A, EP_A, fa)) || (err = ep_write(POD_A6, IF_A, EP_A, fa)) ||
	    (err = ep_write(POD_B4, IF_B, EP_B, fb)) || (err = ep_write(POD_B6, IF_B, EP_B, fb)))
		return err;
	if (iso_out) {
		iso_out[0] = iso[0];
		iso_out[1] = iso[1];
	}
	return policy_cleanup(w->pol, st);
}

static int world_begin(struct world *w, size_t piece_insns, const char *yaml)
{
	struct policy_opts o = {
		.node = "test-node", .jmp_fd = tenv.jmp, .polctx_fd = tenv.polctx,
		.ipset_fd = tenv.ipset, .polcnt_fd = tenv.polcnt, .piece_insns = piece_insns,
	};

	memset(w, 0, sizeof(*w));
	w->m = model_new();
	w->pol = w->m ? policy_new(&o) : NULL;
	if (!w->pol || world_add(w, base_yaml) || (yaml && world_add(w, yaml)))
		return -1;
	return world_apply(w, NULL, NULL);
}

/* Everything the world installed goes: as when its policies are deleted. */
static void world_end(struct world *w)
{
	const struct k8s_object *const *nps;
	size_t n = w->m ? model_list(w->m, K8S_NETWORKPOLICY, &nps) : 0;
	char (*names)[2][64] = calloc(n ? n : 1, sizeof(*names));

	for (size_t i = 0; names && i < n; i++) {
		snprintf(names[i][0], 64, "%s", nps[i]->meta.ns);
		snprintf(names[i][1], 64, "%s", nps[i]->meta.name);
	}
	for (size_t i = 0; names && i < n; i++)
		model_delete(w->m, K8S_NETWORKPOLICY, names[i][0], names[i][1]);
	free(names);
	if (w->pol)
		world_apply(w, NULL, NULL);
	if_flags(IF_A, 0);
	if_flags(IF_B, 0);
	policy_free(w->pol);
	model_free(w->m);
	/* the endpoints go too: other groups expect an empty tern_ep_v1 */
	struct tern_addr k;

	while (bpf_map_get_next_key(tenv.ep, NULL, &k) == 0)
		if (bpf_map_delete_elem(tenv.ep, &k))
			break;
}

/* ---- packets ---- */

struct polcase {
	const char *name;
	enum prog_id prog;
	enum iface_id ifc;
	struct pkt_spec spec;
	int verdict;
	uint32_t cnt;
	uint32_t ep_id;       /* whose rule counter */
	int dir;
	int rule;             /* the counter that must go up by one; NOCHECK */
	int both;             /* also as IPv6 */
};

static uint64_t polcnt_get(uint32_t ep_id, int dir, int rule)
{
	struct tern_polcnt_key k = { .ep_id = ep_id, .rule = (__u16)rule, .dir = (__u8)dir };
	__u64 *v = calloc((size_t)tenv.ncpu, sizeof(*v));
	uint64_t sum = 0;

	if (v && bpf_map_lookup_elem(tenv.polcnt, &k, v) == 0)
		for (int i = 0; i < tenv.ncpu; i++)
			sum += v[i];
	free(v);
	return sum;
}

static void run_polcase(const char *group, const struct polcase *c, int v6)
{
	struct pkt_spec spec = c->spec, qbuf[4];
	uint64_t before = 0;
	struct pkt p;
	struct run r;

	if (v6)
		spec = spec_to6(&c->spec, qbuf);
	case_begin("bpf/%s/%s%s", group, c->name, v6 ? "/v6" : "");
	tmaps_clear();
	if (c->rule != NOCHECK)
		before = polcnt_get(c->ep_id, c->dir, c->rule);
	pkt_build(&p, &spec);
	if (run_prog(c->prog, c->ifc, p.b, p.len, &r) == 0) {
		expect_run(&r, &p, c->verdict, c->ifc, c->cnt);
		if (c->rule != NOCHECK && polcnt_get(c->ep_id, c->dir, c->rule) != before + 1)
			case_fail("rule counter {ep %u, %s, rule %d}: +%llu, want +1", c->ep_id,
				  c->dir == IN ? "ingress" : "egress", c->rule,
				  (unsigned long long)(polcnt_get(c->ep_id, c->dir, c->rule) - before));
	}
	case_end();
}

static void run_polcases(const char *group, const struct polcase *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		run_polcase(group, &c[i], 0);
		if (c[i].both)
			run_polcase(group, &c[i], 1);
	}
}

#define TCP(s, d, dp) .family = 4, .src = (s), .dst = (d), .proto = IPPROTO_TCP, \
		      .sport = 40000, .dport = (dp), .flags = TH_SYN
#define UDP(s, d, dp) .family = 4, .src = (s), .dst = (d), .proto = IPPROTO_UDP, \
		      .sport = 40000, .dport = (dp)
#define SCTP(s, d, dp) .family = 4, .src = (s), .dst = (d), .proto = IPPROTO_SCTP, \
		       .sport = 40000, .dport = (dp)
#define ECHO(s, d) .family = 4, .src = (s), .dst = (d), .proto = IPPROTO_ICMP, .type = 8, \
		   .id = 7, .payload = 16

/* ICMP timestamp request: no conntrack entry is ever made for it */
#define UNTRACKED_ICMP(s, d) .family = 4, .src = (s), .dst = (d), .proto = IPPROTO_ICMP, \
			     .type = 13, .payload = 200

#define ALLOW_IN(ep, r) .ep_id = (ep), .dir = IN, .rule = (r)
#define DENY_IN(ep) .ep_id = (ep), .dir = IN, .rule = NONE

static const struct polcase ingress_cases[] = {
	/* rule 1: from pods app=b on TCP 80 */
	{ "to-ep/pod-b-tcp-80", P_TO_EP, IF_A, { TCP(POD_B4, POD_A4, 80) }, TC_ACT_OK, TO_POD,
	  ALLOW_IN(EP_A, 1), .both = 1 },
	{ "to-ep/pod-b-tcp-81", P_TO_EP, IF_A, { TCP(POD_B4, POD_A4, 81) }, TC_ACT_SHOT, DENIED,
	  DENY_IN(EP_A), .both = 1 },
	{ "to-ep/pod-b-udp-80", P_TO_EP, IF_A, { UDP(POD_B4, POD_A4, 80) }, TC_ACT_SHOT, DENIED,
	  DENY_IN(EP_A), .both = 1 },
	{ "to-ep/pod-b-echo", P_TO_EP, IF_A, { ECHO(POD_B4, POD_A4) }, TC_ACT_SHOT, DENIED,
	  DENY_IN(EP_A), .both = 1 },
	/* rule 2: from namespaces team in (b, c), UDP 1000-2000 */
	{ "to-ep/ns-udp-1000", P_TO_EP, IF_A, { UDP(REM_LO4, POD_A4, 1000) }, TC_ACT_OK, TO_POD,
	  ALLOW_IN(EP_A, 2), .both = 1 },
	{ "to-ep/ns-udp-1500", P_TO_EP, IF_A, { UDP(REM_LO4, POD_A4, 1500) }, TC_ACT_OK, TO_POD,
	  ALLOW_IN(EP_A, 2), .both = 1 },
	{ "to-ep/ns-udp-2000", P_TO_EP, IF_A, { UDP(REM_LO4, POD_A4, 2000) }, TC_ACT_OK, TO_POD,
	  ALLOW_IN(EP_A, 2), .both = 1 },
	{ "to-ep/ns-udp-999", P_TO_EP, IF_A, { UDP(REM_LO4, POD_A4, 999) }, TC_ACT_SHOT, DENIED,
	  DENY_IN(EP_A), .both = 1 },
	{ "to-ep/ns-udp-2001", P_TO_EP, IF_A, { UDP(REM_LO4, POD_A4, 2001) }, TC_ACT_SHOT,
	  DENIED, DENY_IN(EP_A), .both = 1 },
	{ "to-ep/ns-tcp-1500", P_TO_EP, IF_A, { TCP(REM_LO4, POD_A4, 1500) }, TC_ACT_SHOT,
	  DENIED, DENY_IN(EP_A), .both = 1 },
	/* rule 3: ipBlocks with except, named port http = 8080 on pod a */
	{ "to-ep/block-named-port", P_TO_EP, IF_A, { TCP(REM_HI4, POD_A4, 8080) }, TC_ACT_OK,
	  TO_POD, ALLOW_IN(EP_A, 3), .both = 1 },
	{ "to-ep/block-other-port", P_TO_EP, IF_A, { TCP(REM_HI4, POD_A4, 80) }, TC_ACT_SHOT,
	  DENIED, DENY_IN(EP_A), .both = 1 },
	{ "to-ep/block-except", P_TO_EP, IF_A, { TCP(ROUTER4, POD_A4, 8080) }, TC_ACT_SHOT,
	  DENIED, DENY_IN(EP_A), .both = 1 },
	{ "to-ep/named-port-wrong-proto", P_TO_EP, IF_A, { UDP(REM_HI4, POD_A4, 8080) },
	  TC_ACT_SHOT, DENIED, DENY_IN(EP_A), .both = 1 },
	/* rule 4: ::/0 is IPv6 only */
	{ "to-ep/v6-any-udp-7", P_TO_EP, IF_A,
	  { .family = 6, .src = "2001:db8::1", .dst = POD_A6, .proto = IPPROTO_UDP, .sport = 5,
	    .dport = 7 }, TC_ACT_OK, TO_POD, ALLOW_IN(EP_A, 4) },
	{ "to-ep/v4-not-in-v6-any", P_TO_EP, IF_A, { UDP(REM_HI4, POD_A4, 7) }, TC_ACT_SHOT,
	  DENIED, DENY_IN(EP_A) },
	/* rule 5: from anywhere on SCTP 9 */
	{ "to-ep/sctp-9", P_TO_EP, IF_A, { SCTP(REM_HI4, POD_A4, 9) }, TC_ACT_OK, TO_POD,
	  ALLOW_IN(EP_A, 5), .both = 1 },
	{ "to-ep/sctp-10", P_TO_EP, IF_A, { SCTP(REM_HI4, POD_A4, 10) }, TC_ACT_SHOT, DENIED,
	  DENY_IN(EP_A), .both = 1 },
	/* rule 0: the node itself, anything */
	{ "to-ep/node-tcp", P_TO_EP, IF_A, { TCP(NODE_IP4, POD_A4, 12345) }, TC_ACT_OK, TO_POD,
	  ALLOW_IN(EP_A, 0), .both = 1 },
	{ "to-ep/node-echo", P_TO_EP, IF_A, { ECHO(NODE_IP4, POD_A4) }, TC_ACT_OK, TO_POD,
	  ALLOW_IN(EP_A, 0), .both = 1 },
	/* pod B -> pod A on this node: A's ingress judges in tern_from_ep */
	{ "from-ep/b-to-a-tcp-80", P_FROM_EP, IF_B, { TCP(POD_B4, POD_A4, 80) },
	  TC_ACT_REDIRECT, FWD, ALLOW_IN(EP_A, 1), .both = 1 },
	{ "from-ep/b-to-a-tcp-22", P_FROM_EP, IF_B, { TCP(POD_B4, POD_A4, 22) }, TC_ACT_SHOT,
	  DENIED, DENY_IN(EP_A), .both = 1 },
	/* outside -> pod A */
	{ "host-in/block-named-port", P_HOST_IN, IF_DATA, { TCP(REM_HI4, POD_A4, 8080) },
	  TC_ACT_REDIRECT, FWD, ALLOW_IN(EP_A, 3), .both = 1 },
	{ "host-in/except", P_HOST_IN, IF_DATA, { TCP(ROUTER4, POD_A4, 8080) }, TC_ACT_SHOT,
	  DENIED, DENY_IN(EP_A), .both = 1 },
	/* B is not isolated: anything goes */
	{ "to-ep/b-not-isolated", P_TO_EP, IF_B, { TCP(REM_HI4, POD_B4, 22) }, TC_ACT_OK,
	  TO_POD, .rule = NOCHECK, .both = 1 },
};

#define ALLOW_EG(r) .ep_id = EP_A, .dir = EG, .rule = (r)
#define DENY_EG .ep_id = EP_A, .dir = EG, .rule = NONE

static const struct polcase egress_cases[] = {
	/* rule 0: to pods app=b on their port named web (B: 9090); B's
	 * ingress allows 9090 too */
	{ "a-to-b-named-port", P_FROM_EP, IF_A, { TCP(POD_A4, POD_B4, 9090) }, TC_ACT_REDIRECT,
	  FWD, ALLOW_EG(0), .both = 1 },
	{ "a-to-b-80", P_FROM_EP, IF_A, { TCP(POD_A4, POD_B4, 80) }, TC_ACT_SHOT, DENIED,
	  DENY_EG, .both = 1 },
	/* A's egress allows 9091 to nobody: B's ingress does not decide */
	{ "a-to-b-9091", P_FROM_EP, IF_A, { TCP(POD_A4, POD_B4, 9091) }, TC_ACT_SHOT, DENIED,
	  DENY_EG, .both = 1 },
	/* rule 1: the /24 (and /64) on 443 */
	{ "a-to-block-443", P_FROM_EP, IF_A, { TCP(POD_A4, REM_HI4, 443) }, TC_ACT_OK, OUT,
	  ALLOW_EG(1), .both = 1 },
	{ "a-to-block-edge-443", P_FROM_EP, IF_A, { TCP(POD_A4, ROUTER4, 443) }, TC_ACT_OK, OUT,
	  ALLOW_EG(1), .both = 1 },
	{ "a-to-block-80", P_FROM_EP, IF_A, { TCP(POD_A4, REM_HI4, 80) }, TC_ACT_SHOT, DENIED,
	  DENY_EG, .both = 1 },
	/* rule 2: pods app=rem in any namespace, anything */
	{ "a-to-rem-udp", P_FROM_EP, IF_A, { UDP(POD_A4, REM_LO4, 53) }, TC_ACT_OK, OUT,
	  ALLOW_EG(2), .both = 1 },
	{ "a-to-rem-echo", P_FROM_EP, IF_A, { ECHO(POD_A4, REM_LO4) }, TC_ACT_OK, OUT,
	  ALLOW_EG(2), .both = 1 },
	/* B's ingress: A's isolation is A's egress only */
	{ "b-in-from-pod-a-9090", P_TO_EP, IF_B, { TCP(POD_A4, POD_B4, 9090) }, TC_ACT_OK,
	  TO_POD, .ep_id = EP_B, .dir = IN, .rule = 1, .both = 1 },
	/* from: podSelector {} is every pod of ns1, nothing else */
	{ "b-in-from-remote-9090", P_TO_EP, IF_B, { TCP(REM_HI4, POD_B4, 9090) }, TC_ACT_SHOT,
	  DENIED, .ep_id = EP_B, .dir = IN, .rule = NONE, .both = 1 },
	{ "b-in-from-remote-80", P_TO_EP, IF_B, { TCP(REM_HI4, POD_B4, 80) }, TC_ACT_SHOT,
	  DENIED, .ep_id = EP_B, .dir = IN, .rule = NONE, .both = 1 },
	/* A's ingress is not isolated by an Egress-only policy */
	{ "a-in-open", P_TO_EP, IF_A, { TCP(REM_HI4, POD_A4, 22) }, TC_ACT_OK, TO_POD,
	  .rule = NOCHECK, .both = 1 },
};

/* ---- groups ---- */

static void expect_iso(const char *name, const unsigned iso[2], unsigned want_a, unsigned want_b)
{
	case_begin("bpf/policy/%s", name);
	if (iso[0] != want_a || iso[1] != want_b)
		case_fail("isolation: a %#x b %#x, want a %#x b %#x", iso[0], iso[1], want_a, want_b);
	case_end();
}

/* The program in jump slot idx: its id and tag. */
static int slot_prog(__u32 idx, __u32 *id, uint8_t tag[8])
{
	struct bpf_prog_info info = { 0 };
	__u32 len = sizeof(info);
	int fd, err = 0;

	if (bpf_map_lookup_elem(tenv.jmp, &idx, id))
		return -errno;
	fd = bpf_prog_get_fd_by_id(*id);
	if (fd < 0)
		return -errno;
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		err = -errno;
	memcpy(tag, info.tag, 8);
	close(fd);
	return err;
}

static void test_ingress(void)
{
	struct world w;
	unsigned iso[2];

	case_begin("bpf/policy/ingress/setup");
	if (world_begin(&w, 0, ingress_yaml) || world_apply(&w, iso, NULL))
		case_fail("engine setup failed (see above)");
	case_end();
	expect_iso("ingress/isolation", iso, POLICY_ISO_IN, 0);
	run_polcases("policy/ingress", ingress_cases, ARRAY_SIZE(ingress_cases));

	/* the rules as compiled, the tag the kernel computed matches */
	case_begin("bpf/policy/ingress/kernel-tag-is-digest");
	{
		const struct k8s_object *a = model_get(w.m, K8S_POD, "ns1", "a");
		struct pol_ep_in ep = { EP_A, a, 0 };
		struct pol_model pm;
		struct pol_prog prog;
		__u32 id;
		uint8_t tag[8];

		if (pol_model_build(w.m, "test-node", &ep, 1, &pm)) {
			case_fail("model build");
		} else {
			/* the engine gave the sets their ids; the same defs get the same ids */
			for (size_t i = 0; i < pm.n_sets; i++)
				pm.sets[i].id = ipset_id_of(pm.sets[i].def);
			pol_model_resolve(&pm);
			if (pol_compile(IN, pm.eps[0].dir[IN].rules, pm.eps[0].dir[IN].n_rules, NULL,
					&prog)) {
				case_fail("compile");
			} else {
				if (slot_prog(TERN_JMP_POLICY(EP_A, IN), &id, tag))
					case_fail("no program in A's ingress slot");
				else if (memcmp(tag, prog.pieces[0].digest, 8))
					case_fail("kernel tag differs from the compiler's digest");
				if (prog.n_rules != 7)
					case_fail("%zu rules, want 7", prog.n_rules);
				pol_prog_free(&prog);
			}
			pol_model_free(&pm);
		}
	}
	case_end();

	/* a policy change swaps the program; the new rules judge at once */
	case_begin("bpf/policy/ingress/swap");
	{
		__u32 id0 = 0, id1 = 0;
		uint8_t tag[8];
		struct policy_stats st = { 0 };
		static const char changed[] =
			"apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
			"metadata: {name: a-in, namespace: ns1}\n"
			"spec:\n  podSelector: {matchLabels: {app: a}}\n  ingress:\n"
			"  - from: [{podSelector: {matchLabels: {app: b}}}]\n"
			"    ports: [{port: 81}]\n";

		slot_prog(TERN_JMP_POLICY(EP_A, IN), &id0, tag);
		if (world_add(&w, changed) || world_apply(&w, iso, &st))
			case_fail("apply");
		slot_prog(TERN_JMP_POLICY(EP_A, IN), &id1, tag);
		if (id0 == id1 || st.installed != 1)
			case_fail("program %u -> %u, %u installed: want a new one", id0, id1,
				  st.installed);
	}
	case_end();
	static const struct polcase swapped[] = {
		{ "after-swap/tcp-81", P_TO_EP, IF_A, { TCP(POD_B4, POD_A4, 81) }, TC_ACT_OK, TO_POD,
		  ALLOW_IN(EP_A, 1), .both = 1 },
		{ "after-swap/tcp-80", P_TO_EP, IF_A, { TCP(POD_B4, POD_A4, 80) }, TC_ACT_SHOT,
		  DENIED, DENY_IN(EP_A), .both = 1 },
	};
	run_polcases("policy/ingress", swapped, ARRAY_SIZE(swapped));

	/* nothing changed: nothing is loaded or written */
	case_begin("bpf/policy/ingress/unchanged-run-is-a-no-op");
	{
		struct policy_stats st = { 0 };

		if (world_apply(&w, iso, &st) || st.loaded || st.installed || st.set_writes ||
		    st.removed)
			case_fail("loaded %u installed %u set writes %u removed %u", st.loaded,
				  st.installed, st.set_writes, st.removed);
	}
	case_end();

	/* a pod joining a selected set changes members only */
	case_begin("bpf/policy/ingress/membership-only");
	{
		struct policy_stats st = { 0 };
		static const char join[] =
			"apiVersion: v1\nkind: Pod\nmetadata: {name: b2, namespace: ns1, "
			"labels: {app: b}}\n"
			"spec: {nodeName: other-node}\n"
			"status: {phase: Running, podIPs: [{ip: 10.1.0.7}, {ip: 'fd00:1::7'}]}\n";

		if (world_add(&w, join) || world_apply(&w, iso, &st))
			case_fail("apply");
		if (st.loaded || st.installed || st.set_writes != 2)
			case_fail("loaded %u installed %u set writes %u, want 0, 0, 2", st.loaded,
				  st.installed, st.set_writes);
	}
	case_end();
	static const struct polcase joined[] = {
		{ "joined/tcp-81", P_TO_EP, IF_A, { TCP("10.1.0.7", POD_A4, 81) }, TC_ACT_OK, TO_POD,
		  ALLOW_IN(EP_A, 1), .both = 1 },
	};
	run_polcases("policy/ingress", joined, ARRAY_SIZE(joined));
	world_end(&w);
}

/* A hairpin flow (a pod to a service backed by itself) marks its packet as
 * skipping ingress policy; that mark must not outlive the packet and let the
 * next one on the CPU into an isolated pod. */
static void test_no_stale_hairpin(void)
{
	static const struct svc_def self = { .addr = VIP4, .port = 82, .proto = IPPROTO_TCP,
		.id = 14, .count = 1, .local_count = 1, .be = { { POD_A4, 8080 } } };
	static const struct polcase denied = { "no-stale-hairpin/host-in-to-isolated",
		P_HOST_IN, IF_DATA, { TCP(REM_HI4, POD_B4, 9090) }, TC_ACT_SHOT, DENIED,
		.ep_id = EP_B, .dir = IN, .rule = NONE };
	struct pkt_spec hp = { TCP(POD_A4, VIP4, 82) };
	cpu_set_t one, was;
	struct pkt p;
	struct run r;

	/* both packets on one CPU: the mark lives in per-CPU scratch */
	CPU_ZERO(&one);
	CPU_SET(0, &one);
	case_begin("bpf/policy/no-stale-hairpin/setup");
	if (sched_getaffinity(0, sizeof(was), &was) || sched_setaffinity(0, sizeof(one), &one))
		case_fail("pin to cpu 0: %s", strerror(errno));
	tmaps_clear();
	if (tnat_svc(&self, 0))
		case_fail("service");
	pkt_build(&p, &hp);
	if (run_prog(P_FROM_EP, IF_A, p.b, p.len, &r))
		case_fail("hairpin run");
	case_end();
	run_polcase("policy", &denied, 0);
	tnat_clear();
	sched_setaffinity(0, sizeof(was), &was);
}

static void test_egress(void)
{
	struct world w;
	unsigned iso[2];

	case_begin("bpf/policy/egress/setup");
	if (world_begin(&w, 0, egress_yaml) || world_apply(&w, iso, NULL))
		case_fail("engine setup failed (see above)");
	case_end();
	expect_iso("egress/isolation", iso, POLICY_ISO_EG, POLICY_ISO_IN);
	run_polcases("policy/egress", egress_cases, ARRAY_SIZE(egress_cases));
	test_no_stale_hairpin();
	world_end(&w);
}

/* Equal policies: the same program in both endpoints' slots. */
static void test_shared(void)
{
	struct world w;
	struct policy_stats st = { 0 };
	__u32 ida = 0, idb = 0;
	uint8_t tag[8];
	unsigned iso[2];

	case_begin("bpf/policy/shared/one-program-two-endpoints");
	if (world_begin(&w, 0, NULL) || world_add(&w, shared_yaml) ||
	    world_apply(&w, iso, &st)) {
		case_fail("engine setup failed (see above)");
	} else {
		if (slot_prog(TERN_JMP_POLICY(EP_A, IN), &ida, tag) ||
		    slot_prog(TERN_JMP_POLICY(EP_B, IN), &idb, tag))
			case_fail("a slot is empty");
		if (ida != idb || st.loaded != 1 || st.installed != 2)
			case_fail("programs %u and %u, %u loaded, %u installed: want one shared", ida,
				  idb, st.loaded, st.installed);
	}
	case_end();
	static const struct polcase c[] = {
		{ "shared/a-5000", P_TO_EP, IF_A, { TCP(REM_HI4, POD_A4, 5000) }, TC_ACT_OK, TO_POD,
		  ALLOW_IN(EP_A, 1) },
		{ "shared/b-5000", P_TO_EP, IF_B, { TCP(REM_HI4, POD_B4, 5000) }, TC_ACT_OK, TO_POD,
		  ALLOW_IN(EP_B, 1) },
		{ "shared/b-5001", P_TO_EP, IF_B, { TCP(REM_HI4, POD_B4, 5001) }, TC_ACT_SHOT,
		  DENIED, DENY_IN(EP_B) },
	};
	run_polcases("policy", c, ARRAY_SIZE(c));
	world_end(&w);
}

/* Past the size limit a policy continues in chained pieces. */
static void test_chained(void)
{
	static const int nrules = 40;
	struct world w;
	struct policy_stats st = { 0 };
	unsigned iso[2];
	char *yaml = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&yaml, &len);

	fprintf(f, "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
		   "metadata: {name: many, namespace: ns1}\n"
		   "spec:\n  podSelector: {matchLabels: {app: a}}\n  ingress:\n");
	for (int i = 0; i < nrules; i++)
		fprintf(f, "  - from: [{ipBlock: {cidr: 10.20.%d.0/24}}]\n    ports: [{port: %d}]\n",
			i, 1000 + i);
	fclose(f);
	case_begin("bpf/policy/chained/setup");
	if (world_begin(&w, 256, NULL) || world_add(&w, yaml) || world_apply(&w, iso, &st)) {
		case_fail("engine setup failed (see above)");
	} else {
		__u32 id;
		uint8_t tag[8];
		int pieces = 1;

		for (unsigned k = 0; k < TERN_JMP_CHAIN_PIECES; k++)
			pieces += slot_prog(TERN_JMP_CHAIN(EP_A, IN, 0, k), &id, tag) == 0;
		if (pieces < 3 || st.loaded != (unsigned)pieces)
			case_fail("%d pieces (%u loaded): want 3 or more", pieces, st.loaded);
	}
	case_end();
	free(yaml);
	static const struct polcase c[] = {
		{ "chained/first-rule", P_TO_EP, IF_A, { TCP("10.20.0.5", POD_A4, 1000) }, TC_ACT_OK,
		  TO_POD, ALLOW_IN(EP_A, 1) },
		{ "chained/last-rule", P_TO_EP, IF_A, { TCP("10.20.39.5", POD_A4, 1039) }, TC_ACT_OK,
		  TO_POD, ALLOW_IN(EP_A, 40) },
		{ "chained/no-rule", P_TO_EP, IF_A, { TCP("10.20.39.5", POD_A4, 1038) }, TC_ACT_SHOT,
		  DENIED, DENY_IN(EP_A) },
	};
	run_polcases("policy", c, ARRAY_SIZE(c));

	/* a change builds the new chain in the other bank, then switches */
	case_begin("bpf/policy/chained/swap-to-other-bank");
	{
		static const char extra[] =
			"apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
			"metadata: {name: more, namespace: ns1}\n"
			"spec:\n  podSelector: {matchLabels: {app: a}}\n  ingress:\n"
			"  - ports: [{port: 7777}]\n";
		__u32 id;
		uint8_t tag[8];

		if (world_add(&w, extra) || world_apply(&w, iso, &st))
			case_fail("apply");
		if (slot_prog(TERN_JMP_CHAIN(EP_A, IN, 1, 0), &id, tag))
			case_fail("no piece in bank 1");
		if (slot_prog(TERN_JMP_CHAIN(EP_A, IN, 0, 0), &id, tag) == 0)
			case_fail("bank 0 still holds a piece after the switch");
	}
	case_end();
	static const struct polcase c2[] = {
		{ "chained/after-swap-last", P_TO_EP, IF_A, { TCP(REM_HI4, POD_A4, 7777) },
		  TC_ACT_OK, TO_POD, ALLOW_IN(EP_A, 41) },
		{ "chained/after-swap-first", P_TO_EP, IF_A, { TCP("10.20.0.5", POD_A4, 1000) },
		  TC_ACT_OK, TO_POD, ALLOW_IN(EP_A, 1) },
	};
	run_polcases("policy", c2, ARRAY_SIZE(c2));
	world_end(&w);
}

/* Isolated without a program: dropped, never let through. */
static void test_fail_closed(void)
{
	static const struct polcase c[] = {
		{ "fail-closed/to-ep", P_TO_EP, IF_A, { TCP(REM_HI4, POD_A4, 80) }, TC_ACT_SHOT,
		  NO_PROG, .rule = NOCHECK, .both = 1 },
		{ "fail-closed/from-ep", P_FROM_EP, IF_A, { TCP(POD_A4, REM_HI4, 80) }, TC_ACT_SHOT,
		  NO_PROG, .rule = NOCHECK, .both = 1 },
		{ "fail-closed/pod-to-pod", P_FROM_EP, IF_B, { TCP(POD_B4, POD_A4, 80) },
		  TC_ACT_SHOT, NO_PROG, .rule = NOCHECK, .both = 1 },
		/* conntrack does not track these: an isolated end drops them before
		 * any program, as a policy would (counted drop_policy) */
		{ "fail-closed/untracked-icmp-timestamp-in", P_TO_EP, IF_A,
		  { UNTRACKED_ICMP(REM_HI4, POD_A4) }, TC_ACT_SHOT, UNTRACKED_DENIED, .rule = NOCHECK },
		{ "fail-closed/untracked-icmp-timestamp-out", P_FROM_EP, IF_A,
		  { UNTRACKED_ICMP(POD_A4, REM_HI4) }, TC_ACT_SHOT, UNTRACKED_DENIED, .rule = NOCHECK },
		{ "fail-closed/untracked-icmp-timestamp-host-in", P_HOST_IN, IF_DATA,
		  { UNTRACKED_ICMP(REM_HI4, POD_A4) }, TC_ACT_SHOT, UNTRACKED_DENIED, .rule = NOCHECK },
		{ "fail-closed/untracked-rst-out", P_FROM_EP, IF_A,
		  { .family = 4, .src = POD_A4, .dst = REM_HI4, .proto = IPPROTO_TCP, .sport = 1,
		    .dport = 2, .flags = TH_RST, .payload = 500 },
		  TC_ACT_SHOT, UNTRACKED_DENIED, .rule = NOCHECK },
	};
	__u32 in = TERN_JMP_POLICY(EP_A, IN), eg = TERN_JMP_POLICY(EP_A, EG);

	bpf_map_delete_elem(tenv.jmp, &in);
	bpf_map_delete_elem(tenv.jmp, &eg);
	if_flags(IF_A, TERN_IF_F_ISO_IN | TERN_IF_F_ISO_EG);
	ep_write(POD_A4, IF_A, EP_A, TERN_EP_F_LOCAL | TERN_EP_F_ISO_IN);
	ep_write(POD_A6, IF_A, EP_A, TERN_EP_F_LOCAL | TERN_EP_F_ISO_IN);
	run_polcases("policy", c, ARRAY_SIZE(c));
	if_flags(IF_A, 0);
	struct tern_addr k;

	while (bpf_map_get_next_key(tenv.ep, NULL, &k) == 0)
		if (bpf_map_delete_elem(tenv.ep, &k))
			break;
}

/* A new engine (an agent restart) adopts what is installed. */
static void test_adopt(void)
{
	struct world w, w2;
	struct policy_stats st = { 0 };
	__u32 id0 = 0, id1 = 0;
	uint8_t tag[8];
	unsigned iso[2];

	case_begin("bpf/policy/restart-adopts-programs");
	if (world_begin(&w, 0, ingress_yaml)) {
		case_fail("engine setup failed (see above)");
	} else {
		slot_prog(TERN_JMP_POLICY(EP_A, IN), &id0, tag);
		policy_free(w.pol); /* the agent goes; the programs stay */
		w.pol = NULL;
		if (world_begin(&w2, 0, ingress_yaml) || world_apply(&w2, iso, &st))
			case_fail("second engine");
		slot_prog(TERN_JMP_POLICY(EP_A, IN), &id1, tag);
		if (id0 != id1)
			case_fail("program %u replaced by %u: want it adopted", id0, id1);
		world_end(&w2);
	}
	model_free(w.m);
	case_end();
}

/* A program the verifier refuses: the load fails and the verifier's own
 * words reach the log. */
static void test_verifier_log(void)
{
	struct pol_prog prog;
	int fds[POL_MAP_COUNT] = { tenv.polctx, tenv.ipset, tenv.polcnt, tenv.jmp };
	char *logged = NULL;
	size_t len = 0;
	FILE *tmp = tmpfile();
	int saved = dup(STDERR_FILENO), fd;

	case_begin("bpf/policy/verifier-log-on-failure");
	if (!tmp || saved < 0 || pol_compile(IN, NULL, 0, NULL, &prog)) {
		case_fail("setup");
	} else {
		prog.pieces[0].insns[0].src_reg = BPF_REG_5; /* r6 = r5: never written */
		fflush(stderr);
		dup2(fileno(tmp), STDERR_FILENO);
		fd = pol_piece_load(&prog, 0, fds);
		fflush(stderr);
		dup2(saved, STDERR_FILENO);
		if (fd >= 0) {
			case_fail("loaded a program reading an unwritten register");
			close(fd);
		}
		logged = calloc(1, 65536);
		rewind(tmp);
		len = logged ? fread(logged, 1, 65535, tmp) : 0;
		if (!len || !strstr(logged, "verifier log") || !strstr(logged, "R5 !read_ok"))
			case_fail("the log lacks the verifier's reason: %.*s", (int)(len < 300 ? len : 300),
				  logged ? logged : "");
		pol_prog_free(&prog);
	}
	case_end();
	free(logged);
	if (tmp)
		fclose(tmp);
	if (saved >= 0)
		close(saved);
}

/* ---- failing closed when the engine fails (policy_iso_resolve) ---- */

static int fault_err; /* what the engine's "rules" step fails with; 0: nothing */

static int fault_rules(const char *step)
{
	return strcmp(step, "rules") ? 0 : fault_err;
}

/* stderr into a buffer while a case provokes the engine's errors */
struct capture {
	FILE *tmp;
	int saved;
	char text[16384];
};

static void capture_begin(struct capture *c)
{
	c->text[0] = '\0';
	c->tmp = tmpfile();
	c->saved = c->tmp ? dup(STDERR_FILENO) : -1;
	fflush(stderr);
	if (c->saved >= 0)
		dup2(fileno(c->tmp), STDERR_FILENO);
}

static const char *capture_end(struct capture *c)
{
	size_t len = 0;

	fflush(stderr);
	if (c->saved >= 0) {
		dup2(c->saved, STDERR_FILENO);
		close(c->saved);
		rewind(c->tmp);
		len = fread(c->text, 1, sizeof(c->text) - 1, c->tmp);
	}
	c->text[len] = '\0';
	if (c->tmp)
		fclose(c->tmp);
	return c->text;
}

/* The engine with o's maps on base_yaml and yaml; no run yet. */
static int world_new(struct world *w, const struct policy_opts *o, const char *yaml)
{
	memset(w, 0, sizeof(*w));
	w->m = model_new();
	w->pol = w->m ? policy_new(o) : NULL;
	if (!w->pol || world_add(w, base_yaml) || (yaml && world_add(w, yaml)))
		return -1;
	return 0;
}

static struct policy_opts fail_opts(void)
{
	return (struct policy_opts){
		.node = "test-node", .jmp_fd = tenv.jmp, .polctx_fd = tenv.polctx,
		.ipset_fd = tenv.ipset, .polcnt_fd = tenv.polcnt, .fault = fault_rules,
	};
}

static int slot_empty(uint32_t ep_id, int dir)
{
	__u32 idx = TERN_JMP_POLICY(ep_id, dir), id;

	return bpf_map_lookup_elem(tenv.jmp, &idx, &id) && errno == ENOENT;
}

/* whether A's ingress slot was empty when world_step wrote the flags */
static int step_a_in_empty;

/* A run as the reconciler makes it, failures included: each pod's flags
 * by policy_iso_resolve from the engine's answer and what its entries
 * hold (held: POLICY_ISO_* bits, or POLICY_ISO_NEW), written whatever the
 * run returned; then cleanup. Returns the run's error. */
static int world_step(struct world *w, const unsigned held[2], unsigned flags[2])
{
	const struct k8s_object *a = model_get(w->m, K8S_POD, "ns1", "a");
	const struct k8s_object *b = model_get(w->m, K8S_POD, "ns1", "b");
	struct pol_ep_in eps[2] = {
		{ EP_A, a, !(held[0] & POLICY_ISO_NEW) }, { EP_B, b, !(held[1] & POLICY_ISO_NEW) },
	};
	unsigned iso[2] = { 0, 0 };
	struct policy_stats st = { 0 };
	int err = policy_apply(w->pol, w->m, eps, 2, iso, &st);

	step_a_in_empty = slot_empty(EP_A, IN);
	for (int i = 0; i < 2; i++) {
		enum iface_id ifc = i ? IF_B : IF_A;
		uint32_t ep = TERN_EP_F_LOCAL;

		flags[i] = policy_iso_resolve(iso[i], held[i]);
		if (flags[i] & POLICY_ISO_IN)
			ep |= TERN_EP_F_ISO_IN;
		if_flags(ifc, iso_if(flags[i]));
		ep_write(i ? POD_B4 : POD_A4, ifc, i ? EP_B : EP_A, ep);
		ep_write(i ? POD_B6 : POD_A6, ifc, i ? EP_B : EP_A, ep);
	}
	policy_cleanup(w->pol, &st);
	return err;
}

static void expect_log(const char *name, const char *log, const char *const *want)
{
	case_begin("bpf/policy/fail-closed/%s/log", name);
	for (; *want; want++)
		if (!strstr(log, *want))
			case_fail("the log lacks \"%s\": %.400s", *want, log);
	case_end();
}

#define NEW POLICY_ISO_NEW
#define BOTH POLICY_ISO_BOTH

/* New pods while the rules cannot be built: isolated both ways with
 * empty slots, although an earlier holder of A's id left a program that
 * would let these flows in; a later run that succeeds installs theirs. */
static void test_fail_build_new_pods(void)
{
	static const struct polcase dropped[] = {
		{ "fail-closed/build-failed/new/host-in", P_HOST_IN, IF_DATA,
		  { TCP(REM_HI4, POD_A4, 8080) }, TC_ACT_SHOT, NO_PROG, .rule = NOCHECK, .both = 1 },
		{ "fail-closed/build-failed/new/pod-to-pod", P_FROM_EP, IF_B,
		  { TCP(POD_B4, POD_A4, 80) }, TC_ACT_SHOT, NO_PROG, .rule = NOCHECK, .both = 1 },
		{ "fail-closed/build-failed/new/egress", P_FROM_EP, IF_A,
		  { TCP(POD_A4, REM_HI4, 443) }, TC_ACT_SHOT, NO_PROG, .rule = NOCHECK, .both = 1 },
	};
	static const struct polcase recovered[] = {
		{ "fail-closed/build-failed/recovered/host-in", P_HOST_IN, IF_DATA,
		  { TCP(REM_HI4, POD_A4, 8080) }, TC_ACT_REDIRECT, FWD, ALLOW_IN(EP_A, 3), .both = 1 },
		{ "fail-closed/build-failed/recovered/host-in-except", P_HOST_IN, IF_DATA,
		  { TCP(ROUTER4, POD_A4, 8080) }, TC_ACT_SHOT, DENIED, DENY_IN(EP_A), .both = 1 },
		{ "fail-closed/build-failed/recovered/pod-to-pod", P_FROM_EP, IF_B,
		  { TCP(POD_B4, POD_A4, 80) }, TC_ACT_REDIRECT, FWD, ALLOW_IN(EP_A, 1), .both = 1 },
	};
	static const char *const want_log[] = { "policy: building the rules", "Cannot allocate memory",
						"drop_no_policy", NULL };
	struct policy_opts o = fail_opts();
	struct world w0, w;
	struct capture cap;
	unsigned flags[2] = { 0, 0 };
	const char *log;
	int err;

	case_begin("bpf/policy/fail-closed/build-failed/new");
	/* an earlier holder of A's id: its program stays in A's slot */
	if (world_begin(&w0, 0, ingress_yaml) || slot_empty(EP_A, IN)) {
		case_fail("setup: no earlier program in A's slot");
		case_end();
		policy_free(w0.pol);
		model_free(w0.m);
		return;
	}
	policy_free(w0.pol);
	w0.pol = NULL;
	fault_err = -ENOMEM;
	err = world_new(&w, &o, ingress_yaml);
	capture_begin(&cap);
	if (!err)
		err = world_step(&w, (unsigned[2]){ NEW, NEW }, flags);
	log = capture_end(&cap);
	if (err != -ENOMEM)
		case_fail("run: %d, want %d (the fault)", err, -ENOMEM);
	if (flags[0] != BOTH || flags[1] != BOTH)
		case_fail("flags a %#x b %#x, want both isolated", flags[0], flags[1]);
	/* empty before the flags point at it, not only after cleanup */
	if (!step_a_in_empty || !slot_empty(EP_A, IN) || !slot_empty(EP_A, EG))
		case_fail("A's slot held a program with A isolated: an earlier pod's policy "
			  "judged it");
	case_end();
	expect_log("build-failed/new", log, want_log);
	run_polcases("policy", dropped, ARRAY_SIZE(dropped));

	/* the fault gone, the next run installs: A ingress, B open */
	fault_err = 0;
	case_begin("bpf/policy/fail-closed/build-failed/recovers");
	err = world_step(&w, (unsigned[2]){ BOTH, BOTH }, flags);
	if (err || flags[0] != POLICY_ISO_IN || flags[1] != 0)
		case_fail("run %d, flags a %#x b %#x: want 0, a ingress, b open", err, flags[0],
			  flags[1]);
	case_end();
	run_polcases("policy", recovered, ARRAY_SIZE(recovered));
	world_end(&w);
	model_free(w0.m);
}

/* Pods the maps hold when a run fails: they keep their flags and their
 * programs (a new policy waits for a run that succeeds). */
static void test_fail_build_held_pods(void)
{
	static const struct polcase kept[] = {
		{ "fail-closed/build-failed/held/host-in", P_HOST_IN, IF_DATA,
		  { TCP(REM_HI4, POD_A4, 8080) }, TC_ACT_REDIRECT, FWD, ALLOW_IN(EP_A, 3), .both = 1 },
		{ "fail-closed/build-failed/held/host-in-except", P_HOST_IN, IF_DATA,
		  { TCP(ROUTER4, POD_A4, 8080) }, TC_ACT_SHOT, DENIED, DENY_IN(EP_A), .both = 1 },
		/* A's egress policy came during the failure: not in force yet */
		{ "fail-closed/build-failed/held/egress-as-before", P_FROM_EP, IF_A,
		  { TCP(POD_A4, REM_HI4, 80) }, TC_ACT_OK, OUT, .rule = NOCHECK, .both = 1 },
	};
	static const struct polcase applied[] = {
		{ "fail-closed/build-failed/held/egress-after", P_FROM_EP, IF_A,
		  { TCP(POD_A4, REM_HI4, 80) }, TC_ACT_SHOT, DENIED, DENY_EG, .both = 1 },
	};
	struct policy_opts o = fail_opts();
	struct world w;
	struct capture cap;
	unsigned flags[2] = { 0, 0 };
	__u32 id0 = 0, id1 = 0;
	uint8_t tag[8];
	int err;

	case_begin("bpf/policy/fail-closed/build-failed/held");
	fault_err = 0;
	err = world_new(&w, &o, ingress_yaml);
	if (!err)
		err = world_step(&w, (unsigned[2]){ NEW, NEW }, flags);
	if (err || flags[0] != POLICY_ISO_IN || slot_prog(TERN_JMP_POLICY(EP_A, IN), &id0, tag)) {
		case_fail("setup: run %d, a %#x", err, flags[0]);
		case_end();
		world_end(&w);
		return;
	}
	/* a change to run for, and a run that fails */
	world_add(&w, egress_yaml);
	fault_err = -ENOMEM;
	capture_begin(&cap);
	err = world_step(&w, (unsigned[2]){ POLICY_ISO_IN, 0 }, flags);
	capture_end(&cap);
	if (err != -ENOMEM)
		case_fail("run: %d, want %d (the fault)", err, -ENOMEM);
	if (flags[0] != POLICY_ISO_IN || flags[1] != 0)
		case_fail("flags a %#x b %#x, want them as they were (a ingress, b open)", flags[0],
			  flags[1]);
	if (slot_prog(TERN_JMP_POLICY(EP_A, IN), &id1, tag) || id1 != id0)
		case_fail("A's program %u is now %u: want it kept", id0, id1);
	case_end();
	run_polcases("policy", kept, ARRAY_SIZE(kept));

	fault_err = 0;
	case_begin("bpf/policy/fail-closed/build-failed/held-recovers");
	err = world_step(&w, (unsigned[2]){ POLICY_ISO_IN, 0 }, flags);
	if (err || flags[0] != BOTH || flags[1] != POLICY_ISO_IN)
		case_fail("run %d, flags a %#x b %#x: want 0, a both, b ingress", err, flags[0],
			  flags[1]);
	case_end();
	run_polcases("policy", applied, ARRAY_SIZE(applied));
	world_end(&w);
}

/* One failure of the engine (set up by the caller through o and yaml) for
 * pod A's ingress: A is isolated, its slot is empty, new flows to it drop
 * (drop_no_policy), and the log says why. */
static void expect_a_fails_closed(const char *name, const struct policy_opts *o, const char *yaml,
				  const char *const *want_log, void (*check)(void))
{
	const struct polcase c[] = {
		{ "", P_HOST_IN, IF_DATA, { TCP(REM_HI4, POD_A4, 8080) }, TC_ACT_SHOT, NO_PROG,
		  .rule = NOCHECK },
		{ "", P_HOST_IN, IF_DATA, { TCP(ROUTER4, POD_A4, 8080) }, TC_ACT_SHOT, NO_PROG,
		  .rule = NOCHECK },
		{ "", P_FROM_EP, IF_B, { TCP(POD_B4, POD_A4, 8080) }, TC_ACT_SHOT, NO_PROG,
		  .rule = NOCHECK },
	};
	static const char *const what[] = { "host-in", "host-in-except", "pod-to-pod" };
	struct world w;
	struct capture cap;
	unsigned flags[2] = { 0, 0 };
	char group[96];
	const char *log;
	int err;

	fault_err = 0;
	case_begin("bpf/policy/fail-closed/%s", name);
	err = world_new(&w, o, yaml);
	capture_begin(&cap);
	if (!err)
		err = world_step(&w, (unsigned[2]){ NEW, NEW }, flags);
	log = capture_end(&cap);
	if (!err)
		case_fail("the run went through: want it to fail");
	if (!(flags[0] & POLICY_ISO_IN))
		case_fail("A not isolated for ingress (flags %#x): its flows would pass", flags[0]);
	if (!step_a_in_empty || !slot_empty(EP_A, IN))
		case_fail("A's ingress slot holds a program");
	case_end();
	expect_log(name, log, want_log);
	snprintf(group, sizeof(group), "policy/fail-closed/%s", name);
	for (size_t i = 0; i < ARRAY_SIZE(c); i++) {
		struct polcase one = c[i];

		one.name = what[i];
		run_polcases(group, &one, 1);
	}
	if (check)
		check();
	world_end(&w);
}

/* A's ingress: 192.0.2.0/24 except 192.0.2.254 on its port http */
static const char except_yaml[] =
	"apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
	"metadata: {name: a-in, namespace: ns1}\n"
	"spec:\n  podSelector: {matchLabels: {app: a}}\n  ingress:\n"
	"  - from: [{ipBlock: {cidr: 192.0.2.0/24, except: [192.0.2.254/32]}}]\n"
	"    ports: [{port: http}]\n";

static int small_ipset = -1;

/* What the full map holds: the /24 alone, as a member. A program naming
 * the set would have let 192.0.2.254 in. */
static void check_small_ipset(void)
{
	struct tern_ipset_key k, next;
	__u32 v = 0;
	int n = 0;

	case_begin("bpf/policy/fail-closed/ipset-full/map");
	for (int e = bpf_map_get_next_key(small_ipset, NULL, &next); !e;
	     e = bpf_map_get_next_key(small_ipset, &k, &next)) {
		k = next;
		n++;
	}
	if (n != 1 || bpf_map_lookup_elem(small_ipset, &k, &v) ||
	    k.prefixlen != TERN_IPSET_PREFIX_SET + 96 + 24 || v != TERN_IPSET_MEMBER)
		case_fail("%d entries, the last /%u value %u: want the /24 alone, a member", n,
			  k.prefixlen, v);
	case_end();
}

/* tern_ipset_v1 full: the /24 fits, its except does not. */
static void test_fail_ipset_full(void)
{
	static const char *const want_log[] = { "lacks except entries", "tern_ipset_v1 is full",
						"drop_no_policy", NULL };
	LIBBPF_OPTS(bpf_map_create_opts, mo, .map_flags = BPF_F_NO_PREALLOC);
	struct policy_opts o = fail_opts();

	small_ipset = bpf_map_create(BPF_MAP_TYPE_LPM_TRIE, "tern_ipset_t",
				     sizeof(struct tern_ipset_key), sizeof(__u32), 1, &mo);
	if (small_ipset < 0) {
		case_begin("bpf/policy/fail-closed/ipset-full");
		case_fail("a small ipset map: %s", strerror(errno));
		case_end();
		return;
	}
	o.ipset_fd = small_ipset;
	expect_a_fails_closed("ipset-full", &o, except_yaml, want_log, check_small_ipset);
	close(small_ipset);
	small_ipset = -1;
}

/* The verifier refuses the program (its context map is too small). */
static void test_fail_verifier(void)
{
	static const char *const want_log[] = { "verifier log", "policy not installed",
						"drop_no_policy", NULL };
	int fd = bpf_map_create(BPF_MAP_TYPE_PERCPU_ARRAY, "tern_polctx_t", 4, 4, 1, NULL);
	struct policy_opts o = fail_opts();

	if (fd < 0) {
		case_begin("bpf/policy/fail-closed/verifier-rejects");
		case_fail("a small context map: %s", strerror(errno));
		case_end();
		return;
	}
	o.polctx_fd = fd;
	expect_a_fails_closed("verifier-rejects", &o, ingress_yaml, want_log, NULL);
	close(fd);
}

/* More rules than 9 pieces hold. */
static void test_fail_too_many_pieces(void)
{
	static const char *const want_log[] = { "need more than 9 pieces", "drop_no_policy", NULL };
	struct policy_opts o = fail_opts();
	char *yaml = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&yaml, &len);

	if (!f)
		return;
	fputs("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
	      "metadata: {name: a-in, namespace: ns1}\n"
	      "spec:\n  podSelector: {matchLabels: {app: a}}\n  ingress:\n", f);
	for (int i = 0; i < 300; i++)
		fprintf(f, "  - from: [{podSelector: {matchLabels: {app: b}}}]\n"
			   "    ports: [{port: %d}]\n", 1000 + i);
	if (fclose(f))
		return;
	o.piece_insns = POL_PIECE_INSNS_MIN;
	expect_a_fails_closed("too-many-pieces", &o, yaml, want_log, NULL);
	free(yaml);
}

#undef NEW
#undef BOTH

void test_policy(void)
{
	log_set_level(TERN_LOG_WARN); /* the engine's progress is not a test's */
	test_ingress();
	test_egress();
	test_shared();
	test_chained();
	test_fail_closed();
	test_fail_build_new_pods();
	test_fail_build_held_pods();
	test_fail_ipset_full();
	test_fail_verifier();
	test_fail_too_many_pieces();
	test_adopt();
	test_verifier_log();
}
