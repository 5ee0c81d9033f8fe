/* Network policy cost, with BPF_PROG_TEST_RUN's repeat, against a null tc
 * program measured in the same run:
 *  - a first packet (a new flow) through tern_to_ep into a pod isolated by
 *    10, 100 and 1000 rules, and by one rule whose ipset holds 10, 10 000
 *    and 100 000 members: denied after every rule, and the policy program
 *    alone allowing at the last rule;
 *  - an established packet of an allowed flow (policy never runs);
 *  - compiling and loading 1000 rules, and the agent's whole path from a
 *    NetworkPolicy of 1000 rules to an installed program.
 * Prints figures; never fails a build. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <linux/tcp.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <tern/ct.h>
#include <tern/ifstate.h>
#include <tern/nat.h>
#include <tern/policy.h>

#include "tc.skel.h"
#include "test/bench/bench_pkt.h"
#include "agent/dataplane.h"
#include "agent/doc.h"
#include "agent/k8s.h"
#include "agent/log.h"
#include "agent/model.h"
#include "policy/codegen.h"
#include "policy/load.h"
#include "policy/policy.h"

#define REPEAT 2000000
#define EP 1
#define POD "10.0.0.1"
#define PORT 80

static struct tern_tc *skel;
static int fds[POL_MAP_COUNT];
static int lo, ncpu;
static double base;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* An IPv4 TCP packet src -> POD:PORT with flags. */
static size_t tcp4(__u8 *buf, __u32 src, __u16 sport, __u8 flags)
{
	__be32 pod;

	inet_pton(AF_INET, POD, &pod);
	return bench_tcp4(buf, src, pod, sport, PORT, flags);
}

/* A case meant to be denied was not: its figure measures something else
 * (the established path), so the run fails rather than report it. */
static int wrong;

static const char *not_denied(void)
{
	wrong = 1;
	return "(NOT DENIED: figure invalid)";
}

/* ns per run of prog over pkt, best of 3; repeats scaled so that one
 * measurement takes about 0.1 s */
static double cost(int prog, const void *pkt, size_t len, int *verdict)
{
	double best = 1e18;
	__u32 repeat = 1000;

	for (int i = -1; i < 3; i++) {
		/* forwarded in on an interface: with none (ingress_ifindex 0)
		 * tern_to_ep takes the packet for the node's own, never judged */
		struct __sk_buff ctx = { .ifindex = (__u32)lo, .ingress_ifindex = (__u32)lo };
		__u8 out[256];
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = (__u32)len,
			    .data_out = out, .data_size_out = sizeof(out), .ctx_in = &ctx,
			    .ctx_size_in = sizeof(ctx), .repeat = repeat);

		if (bpf_prog_test_run_opts(prog, &o)) {
			fprintf(stderr, "bench: test_run: %s\n", strerror(errno));
			return -1;
		}
		if (verdict)
			*verdict = (int)o.retval;
		if (i < 0) { /* a calibration run */
			repeat = o.duration ? (__u32)(1e8 / o.duration) : REPEAT;
			repeat = repeat < 100 ? 100 : repeat > REPEAT ? REPEAT : repeat;
			continue;
		}
		if (o.duration < best)
			best = o.duration;
	}
	return best;
}

static void row(const char *what, double ns, const char *note)
{
	printf("  %-52s %8.1f ns  %6.2fx  %s\n", what, ns, ns / base, note ? note : "");
}

static __u32 member_addr(__u32 set, __u32 i)
{
	/* distinct /32s: 10.(set).x.y, then 11.x.y.z for big sets */
	return htonl(set < 200 ? (10u << 24) | (set << 16) | (i & 0xffff)
			       : (11u << 24) | (i & 0xffffff));
}

static void ipset_put(__u32 set_id, __u32 addr, unsigned bits)
{
	struct tern_ipset_key k = { .prefixlen = TERN_IPSET_PREFIX_SET + 96 + bits,
				    .set_id = htonl(set_id) };
	__u32 v = TERN_IPSET_MEMBER;

	tern_addr_set_v4(&k.addr, addr);
	bpf_map_update_elem(fds[POL_MAP_IPSET], &k, &v, BPF_ANY);
}

/* Every key of fd, then deleted: deleting while walking an LPM trie from
 * its first key again each time would be quadratic. */
static void map_empty(int fd, size_t key_size)
{
	size_t n = 0, cap = 1024;
	char *keys = malloc(cap * key_size), *k = malloc(key_size);
	int more = bpf_map_get_next_key(fd, NULL, k) == 0;

	while (keys && more) {
		if (n == cap) {
			char *grown = realloc(keys, (cap *= 2) * key_size);

			if (!grown)
				break;
			keys = grown;
		}
		memcpy(keys + n++ * key_size, k, key_size);
		more = bpf_map_get_next_key(fd, keys + (n - 1) * key_size, k) == 0;
	}
	for (size_t i = 0; keys && i < n; i++)
		bpf_map_delete_elem(fd, keys + i * key_size);
	free(keys);
	free(k);
}

static void maps_clear(void)
{
	map_empty(fds[POL_MAP_IPSET], sizeof(struct tern_ipset_key));
	map_empty(fds[POL_MAP_POLCNT], sizeof(struct tern_polcnt_key));
	map_empty(bpf_map__fd(skel->maps.tern_ct_v1), sizeof(struct tern_ct_key));
}

/* n rules, rule k: from set 1000+k, TCP/PORT; compiled, loaded, installed
 * for (EP, ingress). Returns the head's fd, or -1. */
static int install(size_t n, double *compile_s, double *load_s, size_t *pieces)
{
	struct pol_rule *r = calloc(n, sizeof(*r));
	uint32_t *ids = calloc(n, sizeof(*ids));
	struct pol_port port = { .proto = IPPROTO_TCP, .lo = PORT, .hi = PORT };
	struct pol_prog prog;
	double t0;
	int head = -1;

	for (size_t k = 0; k < n; k++) {
		ids[k] = 1000 + (uint32_t)k;
		r[k] = (struct pol_rule){ .desc = "bench rule", .n_peers = 1, .peer_ids = &ids[k],
					  .n_ports = 1, .ports = &port };
	}
	t0 = now_s();
	if (pol_compile(TERN_POL_INGRESS, r, n, NULL, &prog))
		goto out;
	if (compile_s)
		*compile_s = now_s() - t0;
	t0 = now_s();
	for (size_t i = prog.n_pieces; i-- > 0;) {
		int fd = pol_piece_load(&prog, i, fds);
		__u32 slot = i ? TERN_JMP_CHAIN(EP, TERN_POL_INGRESS, 0, i - 1)
			       : TERN_JMP_POLICY(EP, TERN_POL_INGRESS);

		if (fd < 0 || bpf_map_update_elem(fds[POL_MAP_JMP], &slot, &fd, BPF_ANY))
			goto out_prog;
		if (i)
			close(fd);
		else
			head = fd;
	}
	if (load_s)
		*load_s = now_s() - t0;
	if (pieces)
		*pieces = prog.n_pieces;
	/* counters exist, as the agent creates them */
	__u64 *zero = calloc((size_t)ncpu, sizeof(*zero));

	for (size_t k = 0; k <= n; k++) {
		struct tern_polcnt_key c = { .ep_id = EP, .dir = TERN_POL_INGRESS,
					     .rule = k == n ? TERN_POL_RULE_NONE : (__u16)k };

		bpf_map_update_elem(fds[POL_MAP_POLCNT], &c, zero, BPF_ANY);
	}
	free(zero);
out_prog:
	pol_prog_free(&prog);
out:
	free(r);
	free(ids);
	return head;
}

/* The scratch as tern_to_ep leaves it for the policy: peer, TCP/PORT;
 * cont an empty jump slot, so the program ends in its failed tail call. */
static void scratch_set(__u32 peer)
{
	size_t sz = (sizeof(struct tern_scratch) + 7) & ~7UL;
	char *v = calloc((size_t)ncpu, sz);
	__u32 zero = 0;

	for (int c = 0; c < ncpu; c++) {
		struct tern_pol_ctx *pc = (void *)(v + c * sz);

		tern_addr_set_v4(&pc->peer, peer);
		pc->port = htons(PORT);
		pc->proto = IPPROTO_TCP;
		pc->dir = TERN_POL_INGRESS;
		pc->ep_id = EP;
		pc->cont = 9; /* nothing there */
	}
	bpf_map_update_elem(fds[POL_MAP_POLCTX], &zero, v, BPF_ANY);
	free(v);
}

/* First packets for n rules (members: one per set); the last rule's set
 * holds the allowed peer. */
static void rules_case(size_t n, int to_ep)
{
	__u8 pkt[256];
	char what[96];
	size_t len, pieces = 0;
	__u32 allowed = member_addr(1, 1), stranger = htonl(0xc0a80909); /* 192.168.9.9 */
	int head, v;

	maps_clear();
	for (size_t k = 0; k < n; k++)
		ipset_put(1000 + (uint32_t)k, member_addr(2 + (uint32_t)(k % 190), (uint32_t)k), 32);
	ipset_put(1000 + (uint32_t)n - 1, allowed, 32);
	head = install(n, NULL, NULL, &pieces);
	if (head < 0)
		return;
	len = tcp4(pkt, stranger, 40000, 0x02);
	snprintf(what, sizeof(what), "first packet, %zu rules, denied after all", n);
	double d = cost(to_ep, pkt, len, &v);

	row(what, d, v == TC_ACT_SHOT ? (pieces > 1 ? "(chained)" : "") : not_denied());
	scratch_set(allowed);
	snprintf(what, sizeof(what), "  policy program alone, allowed by rule %zu", n - 1);
	row(what, cost(head, pkt, len, NULL), NULL);
	scratch_set(stranger);
	snprintf(what, sizeof(what), "  policy program alone, %zu rules, no match", n);
	row(what, cost(head, pkt, len, NULL), NULL);
	close(head);
}

/* One rule whose set has m members. */
static void members_case(size_t m, int to_ep)
{
	__u8 pkt[256];
	char what[96];
	size_t len;
	__u32 member = member_addr(250, (uint32_t)(m / 2)), stranger = htonl(0xc0a80909);
	int head, v;

	maps_clear();
	for (size_t i = 0; i < m; i++)
		ipset_put(1000, member_addr(250, (uint32_t)i * 7 % 0xffffff), 32);
	ipset_put(1000, member, 32);
	head = install(1, NULL, NULL, NULL);
	if (head < 0)
		return;
	len = tcp4(pkt, stranger, 40000, 0x02);
	snprintf(what, sizeof(what), "first packet, ipset of %zu members, denied", m);
	double d = cost(to_ep, pkt, len, &v);

	row(what, d, v == TC_ACT_SHOT ? "" : not_denied());
	scratch_set(member);
	snprintf(what, sizeof(what), "  policy program alone, member of %zu", m);
	row(what, cost(head, pkt, len, NULL), NULL);
	close(head);
}

/* An established packet of an allowed flow: conntrack alone decides. */
static void established_case(size_t n, int to_ep)
{
	__u8 syn[256], synack[256], ack[256];
	__u32 allowed = member_addr(1, 1);
	struct __sk_buff ctx = { .ifindex = (__u32)lo, .ingress_ifindex = (__u32)lo };
	int from_ep = bpf_program__fd(skel->progs.tern_from_ep), head, v;
	size_t len;
	char what[96];

	maps_clear();
	for (size_t k = 0; k < n; k++)
		ipset_put(1000 + (uint32_t)k, member_addr(2 + (uint32_t)(k % 190), (uint32_t)k), 32);
	ipset_put(1000 + (uint32_t)n - 1, allowed, 32);
	head = install(n, NULL, NULL, NULL);
	if (head < 0)
		return;
	len = tcp4(syn, allowed, 40000, 0x02);
	tcp4(synack, allowed, 40000, 0x12);
	tcp4(ack, allowed, 40000, 0x10);
	/* the SYN in, the pod's SYN+ACK out (tern_from_ep with swapped ends) */
	struct iphdr *ip = (void *)(synack + sizeof(struct ethhdr));
	struct tcphdr *th = (void *)(ip + 1);
	__u32 a = ip->saddr;
	__u16 p = th->source;

	ip->saddr = ip->daddr;
	ip->daddr = a;
	th->source = th->dest;
	th->dest = p;
	LIBBPF_OPTS(bpf_test_run_opts, o1, .data_in = syn, .data_size_in = (__u32)len,
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx));
	LIBBPF_OPTS(bpf_test_run_opts, o2, .data_in = synack, .data_size_in = (__u32)len,
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx));
	bpf_prog_test_run_opts(to_ep, &o1);
	bpf_prog_test_run_opts(from_ep, &o2);
	snprintf(what, sizeof(what), "established packet, %zu rules (policy skipped)", n);
	double e = cost(to_ep, ack, len, &v);

	row(what, e, v == TC_ACT_OK ? "" : "(NOT PASSED?)");
	close(head);
}

/* The agent's whole path for one endpoint and a policy of n rules:
 * decode, rules, ipsets, compile, load, install. */
static void engine_case(size_t n)
{
	struct policy_opts po = {
		.node = "n", .jmp_fd = fds[POL_MAP_JMP], .polctx_fd = fds[POL_MAP_POLCTX],
		.ipset_fd = fds[POL_MAP_IPSET], .polcnt_fd = fds[POL_MAP_POLCNT],
	};
	char *yaml = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&yaml, &len);
	struct model *m = model_new();
	struct policy *pol = policy_new(&po);
	struct doc_list docs;
	struct policy_stats st = { 0 };
	unsigned iso;
	double t0;

	maps_clear();
	fprintf(f, "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: d, labels: {a: b}}\n"
		   "spec: {nodeName: n}\nstatus: {phase: Running, podIPs: [{ip: 10.0.0.1}]}\n---\n"
		   "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
		   "metadata: {name: big, namespace: d}\nspec:\n  podSelector: {}\n  ingress:\n");
	for (size_t k = 0; k < n; k++)
		fprintf(f, "  - from: [{ipBlock: {cidr: 10.%zu.%zu.0/24}}]\n    ports: [{port: %zu}]\n",
			k / 256, k % 256, 1000 + k);
	fclose(f);
	t0 = now_s();
	if (doc_parse_yaml_stream(yaml, len, &docs) == 0) {
		for (size_t i = 0; i < docs.n; i++) {
			struct k8s_object *o;
			struct doc_error err;

			if (docs.docs[i] && k8s_decode(docs.docs[i], &o, &err) == 0)
				model_upsert(m, o);
		}
		doc_list_free(&docs);
	}
	double t_decode = now_s() - t0;
	struct pol_ep_in ep = { EP, model_get(m, K8S_POD, "d", "p"), 0 };

	t0 = now_s();
	int err = ep.pod ? policy_apply(pol, m, &ep, 1, &iso, &st) : -ENOENT;
	double t_apply = now_s() - t0;

	if (!err)
		policy_cleanup(pol, &st);
	printf("  %-52s %8.1f ms  (YAML decode %.1f ms; %u loaded)\n",
	       "agent: NetworkPolicy of 1000 rules -> installed", t_apply * 1e3, t_decode * 1e3,
	       st.loaded);
	policy_free(pol);
	model_free(m);
	free(yaml);
}

int main(void)
{
	static const size_t rule_counts[] = { 10, 100, 1000 };
	static const size_t member_counts[] = { 10, 10000, 100000 };
	double compile_s = 0, load_s = 0;
	size_t pieces = 0;
	int nullfd, to_ep;

	if (unshare(CLONE_NEWNET)) {
		perror("bench: unshare(CLONE_NEWNET)");
		return 1;
	}
	log_set_level(TERN_LOG_WARN);
	lo = (int)if_nametoindex("lo");
	ncpu = libbpf_num_possible_cpus();
	skel = tern_tc__open_and_load(); /* unpinned maps: private to this run */
	if (!skel || tc__install_continuations(skel) || !lo || ncpu <= 0) {
		fprintf(stderr, "bench: load failed: %s\n", strerror(errno));
		return 1;
	}
	fds[POL_MAP_POLCTX] = bpf_map__fd(skel->maps.tern_polctx_v2);
	fds[POL_MAP_IPSET] = bpf_map__fd(skel->maps.tern_ipset_v1);
	fds[POL_MAP_POLCNT] = bpf_map__fd(skel->maps.tern_polcnt_v2);
	fds[POL_MAP_JMP] = bpf_map__fd(skel->maps.tern_jmp_v1);
	to_ep = bpf_program__fd(skel->progs.tern_to_ep);

	/* lo plays pod 10.0.0.1's host-side interface, isolated for ingress */
	struct tern_ifstate st = { .flags = TERN_IF_F_WORKLOAD | TERN_IF_F_ISO_IN, .slot = 1,
				   .ep_id = EP };

	inet_pton(AF_INET, POD, &st.ip4);
	bpf_map_update_elem(bpf_map__fd(skel->maps.tern_ifstate_v1), &lo, &st, BPF_ANY);

	__u8 pkt[256];
	size_t len = tcp4(pkt, htonl(0xc0a80909), 40000, 0x02);

	nullfd = bench_null_prog();
	base = cost(nullfd, pkt, len, NULL);
	printf("network policy cost per packet (BPF_PROG_TEST_RUN, ~0.1 s of repeats, best of 3)\n");
	row("null tc program (baseline)", base, NULL);
	for (size_t i = 0; i < 3; i++)
		rules_case(rule_counts[i], to_ep);
	for (size_t i = 0; i < 3; i++)
		members_case(member_counts[i], to_ep);
	for (size_t i = 0; i < 3; i++)
		established_case(rule_counts[i], to_ep);

	printf("compile and load\n");
	maps_clear();
	int head = install(1000, &compile_s, &load_s, &pieces);

	if (head >= 0)
		close(head);
	printf("  %-52s %8.2f ms\n", "compile 1000 rules (bytes, digests)", compile_s * 1e3);
	printf("  %-52s %8.2f ms  (%zu piece%s, verifier included)\n", "load 1000 rules",
	       load_s * 1e3, pieces, pieces == 1 ? "" : "s");
	engine_case(1000);
	close(nullfd);
	tern_tc__destroy(skel);
	return wrong ? 1 : 0;
}
