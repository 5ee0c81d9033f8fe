/* The fast path: a packet for a pod on this node is redirected straight
 * into it when the FIB and neighbour table know the way, with the MACs the
 * FIB gives and the TTL / hop limit decremented; anything else goes to the
 * stack untouched.
 *
 *   this process's netns (the node), forwarding on
 *
 *   [pod A] tpap ==veth== tpa  (tern_from_ep)   10.1.0.2/32, fd00:1::2/128 dev tpa
 *   [pod B] tpbp ==veth== tpb                   10.1.0.3/32, fd00:1::3/128 dev tpb
 *                                               + permanent neighbours: the pods' MACs
 *   [wire]  tdatap ==veth== tdata (tern_host_in)
 *
 *   tern_ep_v1: pod A -> tpa, pod B -> tpb (LOCAL), plus the odd ones below
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <bpf/bpf.h>

#include "harness.h"

#define NO_ROUTE4 "10.1.0.7"     /* LOCAL in tern_ep_v1, no route */
#define NO_NEIGH4 "10.1.0.8"     /* LOCAL, routed via tpb, no neighbour */
#define WRONG_IF4 "10.1.0.9"     /* LOCAL on tpd, but routed via tpb */
#define NOT_LOCAL4 "10.1.0.10"   /* in tern_ep_v1 without the LOCAL flag */

#define FWD (C(RX) | C(CT_NEW) | C(FWD_PEER))
#define STACK_NEW (C(RX) | C(CT_NEW) | C(TO_STACK))

struct fwcase {
	const char *name;
	enum prog_id prog;
	enum iface_id ifc;
	struct pkt_spec spec;
	int verdict;
	uint32_t cnt;
	enum iface_id to; /* TC_ACT_REDIRECT: the pod interface whose FIB MACs it gets */
	int both;
	int ttl0;         /* TTL / hop limit 0, which a spec cannot say */
};

#define UDP(s, d) .family = 4, .src = (s), .dst = (d), .proto = IPPROTO_UDP, \
		  .sport = 5353, .dport = 53

#define REDIRECTED(ifc) .verdict = TC_ACT_REDIRECT, .cnt = FWD, .to = (ifc)
#define TO_STACK(c) .verdict = TC_ACT_OK, .cnt = (c)
#define DROPPED(c) .verdict = TC_ACT_SHOT, .cnt = (c)

static const struct fwcase fwcases[] = {
	{ "pod-to-pod-udp", P_FROM_EP, IF_A, { UDP(POD_A4, POD_B4) }, REDIRECTED(IF_B), .both = 1 },
	{ "pod-to-pod-tcp-syn", P_FROM_EP, IF_A,
	  { .family = 4, .src = POD_A4, .dst = POD_B4, .proto = IPPROTO_TCP, .sport = 40000,
	    .dport = 8080, .flags = TH_SYN, .tcp_opts = 20 },
	  REDIRECTED(IF_B), .both = 1 },
	{ "pod-to-pod-icmp-echo", P_FROM_EP, IF_A,
	  { .family = 4, .src = POD_A4, .dst = POD_B4, .proto = IPPROTO_ICMP, .type = 8,
	    .id = 5, .payload = 56 },
	  REDIRECTED(IF_B), .both = 1 },
	{ "pod-to-pod-ip-options", P_FROM_EP, IF_A, { UDP(POD_A4, POD_B4), .ip_opts = 12 },
	  REDIRECTED(IF_B) },
	{ "pod-to-pod-ext-headers", P_FROM_EP, IF_A,
	  { .family = 6, .src = POD_A6, .dst = POD_B6, .proto = IPPROTO_UDP, .sport = 1,
	    .dport = 2, .n_ext = 2, .ext = { IPPROTO_HOPOPTS, IPPROTO_DSTOPTS } },
	  REDIRECTED(IF_B) },
	{ "pod-to-pod-ttl-2", P_FROM_EP, IF_A, { UDP(POD_A4, POD_B4), .ttl = 2 },
	  REDIRECTED(IF_B), .both = 1 },
	{ "pod-to-pod-ttl-255", P_FROM_EP, IF_A, { UDP(POD_A4, POD_B4), .ttl = 255 },
	  REDIRECTED(IF_B), .both = 1 },
	/* the stack must see these to send time-exceeded */
	{ "pod-to-pod-ttl-1", P_FROM_EP, IF_A, { UDP(POD_A4, POD_B4), .ttl = 1 },
	  TO_STACK(STACK_NEW), .both = 1 },
	{ "pod-to-pod-ttl-0", P_FROM_EP, IF_A, { UDP(POD_A4, POD_B4) }, TO_STACK(STACK_NEW),
	  .both = 1, .ttl0 = 1 },
	/* ... and this one to fragment it or say it is too big */
	{ "pod-to-pod-over-mtu", P_FROM_EP, IF_A, { UDP(POD_A4, POD_B4), .payload = 1480 },
	  TO_STACK(STACK_NEW) },
	/* straight back in, as the stack would route it (and as a pod reaching
	 * itself through its own service needs) */
	{ "pod-to-itself", P_FROM_EP, IF_A, { UDP(POD_A4, POD_A4) }, REDIRECTED(IF_A),
	  .both = 1 },
	{ "pod-to-remote", P_FROM_EP, IF_A, { UDP(POD_A4, REM_HI4) }, TO_STACK(STACK_NEW),
	  .both = 1 },
	{ "local-without-route", P_FROM_EP, IF_A, { UDP(POD_A4, NO_ROUTE4) },
	  TO_STACK(STACK_NEW), .both = 1 },
	{ "local-without-neighbour", P_FROM_EP, IF_A, { UDP(POD_A4, NO_NEIGH4) },
	  TO_STACK(STACK_NEW), .both = 1 },
	{ "local-routed-elsewhere", P_FROM_EP, IF_A, { UDP(POD_A4, WRONG_IF4) },
	  TO_STACK(STACK_NEW), .both = 1 },
	{ "endpoint-not-local", P_FROM_EP, IF_A, { UDP(POD_A4, NOT_LOCAL4) },
	  TO_STACK(STACK_NEW), .both = 1 },
	/* drops come before forwarding */
	{ "pod-to-pod-spoofed", P_FROM_EP, IF_A, { UDP(REM_HI4, POD_B4) },
	  DROPPED(C(RX) | C(DROP_SPOOF)), .both = 1 },
	{ "pod-to-pod-tcp-invalid", P_FROM_EP, IF_A,
	  { .family = 4, .src = POD_A4, .dst = POD_B4, .proto = IPPROTO_TCP, .sport = 1,
	    .dport = 2, .flags = TH_SYN | TH_FIN },
	  DROPPED(C(RX) | C(DROP_TCP_INVALID)), .both = 1 },

	/* from the wire */
	{ "wire-to-pod", P_HOST_IN, IF_DATA, { UDP(REM_HI4, POD_B4) }, REDIRECTED(IF_B),
	  .both = 1 },
	{ "wire-to-pod-a", P_HOST_IN, IF_DATA, { UDP(REM_LO4, POD_A4) }, REDIRECTED(IF_A),
	  .both = 1 },
	{ "wire-to-pod-ttl-1", P_HOST_IN, IF_DATA, { UDP(REM_HI4, POD_B4), .ttl = 1 },
	  TO_STACK(STACK_NEW), .both = 1 },
	{ "wire-to-remote", P_HOST_IN, IF_DATA, { UDP(REM_HI4, REM_LO4) },
	  TO_STACK(C(RX) | C(TO_STACK)), .both = 1 },
	{ "wire-to-pod-no-ifstate", P_HOST_IN, IF_NOSTATE, { UDP(REM_HI4, POD_B4) },
	  REDIRECTED(IF_B), .both = 1 },
	{ "wire-to-pod-tcp-invalid", P_HOST_IN, IF_DATA,
	  { .family = 4, .src = REM_HI4, .dst = POD_B4, .proto = IPPROTO_TCP, .sport = 1,
	    .dport = 2 },
	  DROPPED(C(RX) | C(DROP_TCP_INVALID)), .both = 1 },
};

static void put16(uint8_t *b, uint16_t v)
{
	b[0] = v >> 8;
	b[1] = v & 0xff;
}

/* What forwarding makes of in: the FIB's MACs, one hop less, the IPv4
 * header checksum computed afresh (not incrementally, as the program does). */
static void forwarded(const struct pkt *in, enum iface_id to, struct pkt *out)
{
	uint8_t host[6], pod[6], *ip;

	*out = *in;
	iface_macs(to, host, pod);
	memcpy(out->b, pod, 6);
	memcpy(out->b + 6, host, 6);
	ip = out->b + out->l3;
	if (out->family == 4) {
		ip[8]--;
		put16(ip + 10, 0);
		put16(ip + 10, (uint16_t)~pkt_csum16(ip, (ip[0] & 15) * 4));
	} else {
		ip[7]--;
	}
}

static void run_fwcase(const struct fwcase *c, int v6)
{
	struct pkt_spec spec = v6 ? spec_to6(&c->spec, NULL) : c->spec;
	struct pkt p, want;
	struct run r;

	case_begin("bpf/fwd/%s/v%d", c->name, spec.family);
	tmaps_clear();
	pkt_build(&p, &spec);
	if (c->ttl0) {
		p.b[p.l3 + (p.family == 4 ? 8 : 7)] = 0;
		pkt_finish(&p);
	}
	if (run_prog(c->prog, c->ifc, p.b, p.len, &r) == 0) {
		expect_run(&r, &p, c->verdict, c->ifc, c->cnt);
		if (r.verdict == TC_ACT_REDIRECT) {
			forwarded(&p, c->to, &want);
			expect_bytes("output", r.out, r.out_len, want.b, want.len);
		}
	}
	case_end();
}

/* Every TTL a forwarded packet can have, over header checksums of every
 * shape: the incremental update must always match a full recompute. */
static void ttl_sweep(void)
{
	static const uint16_t ids[] = { 0x0000, 0x0001, 0x7fff, 0x8000, 0xfffe, 0xffff, 0xb861 };
	struct pkt_spec spec = { UDP(POD_A4, POD_B4) };
	struct pkt p, want;
	struct run r;
	int bad = 0;

	case_begin("bpf/fwd/ttl-sweep");
	for (size_t i = 0; i < ARRAY_SIZE(ids) && !bad; i++) {
		for (int ttl = 2; ttl <= 255 && !bad; ttl++) {
			spec.ttl = (uint8_t)ttl;
			pkt_build(&p, &spec);
			put16(p.b + p.l3 + 4, ids[i]);
			pkt_finish(&p);
			if (run_prog(P_FROM_EP, IF_A, p.b, p.len, &r))
				break;
			forwarded(&p, IF_B, &want);
			if (r.verdict != TC_ACT_REDIRECT || r.out_len != want.len ||
			    memcmp(r.out, want.b, want.len)) {
				bad = 1;
				case_fail("ttl %d, id %#x: verdict %d or bytes differ", ttl, ids[i],
					  r.verdict);
				expect_bytes("output", r.out, r.out_len, want.b, want.len);
			}
			expect_csums(&r);
		}
	}
	case_end();
}

static int ep_put(const char *addr, enum iface_id ifc, uint32_t flags)
{
	struct tern_addr a;
	struct tern_ep ep = { .ifindex = (__u32)tenv.ifindex[ifc], .flags = flags, .ep_id = 7 };

	taddr(addr, &a);
	return bpf_map_update_elem(tenv.ep, &a, &ep, BPF_ANY);
}

static void ep_clear(void)
{
	struct tern_addr k;

	while (bpf_map_get_next_key(tenv.ep, NULL, &k) == 0)
		if (bpf_map_delete_elem(tenv.ep, &k))
			break;
}

static int fwd_setup(void)
{
	static const struct {
		const char *v4, *v6;
		enum iface_id ifc;
		uint32_t flags;
	} eps[] = {
		{ POD_A4, POD_A6, IF_A, TERN_EP_F_LOCAL },
		{ POD_B4, POD_B6, IF_B, TERN_EP_F_LOCAL },
		{ NO_ROUTE4, "fd00:1::7", IF_B, TERN_EP_F_LOCAL },
		{ NO_NEIGH4, "fd00:1::8", IF_B, TERN_EP_F_LOCAL },
		{ WRONG_IF4, "fd00:1::9", IF_V4ONLY, TERN_EP_F_LOCAL },
		{ NOT_LOCAL4, "fd00:1::a", IF_B, 0 },
	};

	for (size_t i = 0; i < ARRAY_SIZE(eps); i++)
		if (ep_put(eps[i].v4, eps[i].ifc, eps[i].flags) ||
		    ep_put(eps[i].v6, eps[i].ifc, eps[i].flags))
			return -1;
	return tenv_cmd("ip route add " NO_NEIGH4 "/32 dev tpb") ||
	       tenv_cmd("ip -6 route add fd00:1::8/128 dev tpb") ||
	       tenv_cmd("ip route add " WRONG_IF4 "/32 dev tpb") ||
	       tenv_cmd("ip neigh add " WRONG_IF4 " lladdr 02:00:00:00:bb:09 dev tpb nud permanent") ||
	       tenv_cmd("ip -6 route add fd00:1::9/128 dev tpb") ||
	       tenv_cmd("ip -6 neigh add fd00:1::9 lladdr 02:00:00:00:bb:09 dev tpb nud permanent") ||
	       tenv_cmd("ip route add " NOT_LOCAL4 "/32 dev tpb") ||
	       tenv_cmd("ip neigh add " NOT_LOCAL4 " lladdr 02:00:00:00:bb:0a dev tpb nud permanent") ||
	       tenv_cmd("ip -6 route add fd00:1::a/128 dev tpb") ||
	       tenv_cmd("ip -6 neigh add fd00:1::a lladdr 02:00:00:00:bb:0a dev tpb nud permanent");
}

void test_fwd(void)
{
	case_begin("bpf/fwd/setup");
	if (fwd_setup())
		case_fail("endpoints, routes or neighbours could not be added");
	case_end();
	for (size_t i = 0; i < ARRAY_SIZE(fwcases); i++) {
		run_fwcase(&fwcases[i], 0);
		if (fwcases[i].both)
			run_fwcase(&fwcases[i], 1);
	}
	ttl_sweep();
	ep_clear();
	tmaps_clear();
}
