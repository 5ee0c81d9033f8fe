/* Conntrack: flows as sequences of packets between pod A and a remote
 * peer; the pod's packets go through tern_from_ep, the peer's through
 * tern_to_ep on the same interface, as on a node. After every packet the
 * one entry's state and flags are checked, its key written out by hand:
 * which end is side a is part of what is tested. Each flow runs as IPv4
 * and as IPv6. */
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <bpf/bpf.h>

#include "harness.h"

enum dir { END = 0, OUT, IN }; /* OUT: from the pod; IN: from its peer */

#define NOENT (-1)
#define B TERN_CT_F_INIT_B
#define R TERN_CT_F_REPLIED
#define P TERN_CT_F_PICKED_UP

#define OUT_NEW (C(RX) | C(CT_NEW) | C(TO_STACK))
#define OUT_EST (C(RX) | C(TO_STACK))
#define OUT_UNTRACKED (C(RX) | C(CT_UNTRACKED) | C(TO_STACK))
#define IN_NEW (C(RX) | C(CT_NEW))
#define IN_EST C(RX)
#define IN_UNTRACKED (C(RX) | C(CT_UNTRACKED))
#define INVALID (C(RX) | C(DROP_TCP_INVALID))

#define OK TC_ACT_OK
#define SHOT TC_ACT_SHOT

struct step {
	enum dir dir;
	uint8_t flags;     /* TCP flags of this packet */
	int verdict;
	uint32_t cnt;      /* counters expected, slot of pod A */
	int state;         /* the entry afterwards, or NOENT */
	uint32_t ctflags;
};

struct flow {
	const char *name;
	struct pkt_spec out; /* the pod's packets; IN ones are its reverse */
	int pod_is_b;        /* the pod's end is side b of the key */
	struct step steps[12];
};

#define TCP_HI .family = 4, .src = POD_A4, .dst = REM_HI4, .proto = IPPROTO_TCP, \
	       .sport = 40000, .dport = 443
#define TCP_LO .family = 4, .src = POD_A4, .dst = REM_LO4, .proto = IPPROTO_TCP, \
	       .sport = 40000, .dport = 443

/* the opening every established TCP flow below starts with */
#define HANDSHAKE(f)                                                            \
	{ OUT, TH_SYN, OK, OUT_NEW, TERN_CT_SYN_SENT, (f) },                     \
	{ IN, TH_SYN | TH_ACK, OK, IN_EST, TERN_CT_SYN_RECV, (f) | R },          \
	{ OUT, TH_ACK, OK, OUT_EST, TERN_CT_ESTABLISHED, (f) | R }

static const struct flow flows[] = {
	{ "tcp-handshake-pod-closes", { TCP_HI }, 0, {
		HANDSHAKE(0),
		{ OUT, TH_PSH | TH_ACK, OK, OUT_EST, TERN_CT_ESTABLISHED, R },
		{ IN, TH_ACK, OK, IN_EST, TERN_CT_ESTABLISHED, R },
		{ OUT, TH_FIN | TH_ACK, OK, OUT_EST, TERN_CT_FIN_WAIT, R },
		{ IN, TH_ACK, OK, IN_EST, TERN_CT_FIN_WAIT, R },
		{ IN, TH_FIN | TH_ACK, OK, IN_EST, TERN_CT_TIME_WAIT, R },
		{ OUT, TH_ACK, OK, OUT_EST, TERN_CT_TIME_WAIT, R },
	} },
	{ "tcp-handshake-peer-closes", { TCP_LO }, 1, {
		HANDSHAKE(B),
		{ IN, TH_FIN | TH_PSH | TH_ACK, OK, IN_EST, TERN_CT_FIN_WAIT, B | R },
		{ OUT, TH_ACK, OK, OUT_EST, TERN_CT_FIN_WAIT, B | R },
		{ OUT, TH_FIN | TH_ACK, OK, OUT_EST, TERN_CT_TIME_WAIT, B | R },
		{ IN, TH_ACK, OK, IN_EST, TERN_CT_TIME_WAIT, B | R },
	} },
	{ "tcp-rst-from-pod", { TCP_HI }, 0, {
		HANDSHAKE(0),
		{ OUT, TH_RST, OK, OUT_EST, TERN_CT_CLOSE, R },
		{ IN, TH_RST | TH_ACK, OK, IN_EST, TERN_CT_CLOSE, R },
		{ OUT, TH_ACK, OK, OUT_EST, TERN_CT_CLOSE, R },
	} },
	{ "tcp-rst-refuses-syn", { TCP_LO }, 1, {
		{ OUT, TH_SYN, OK, OUT_NEW, TERN_CT_SYN_SENT, B },
		{ IN, TH_RST | TH_ACK, OK, IN_EST, TERN_CT_CLOSE, B | R },
	} },
	{ "tcp-rst-in-fin-wait", { TCP_HI }, 0, {
		HANDSHAKE(0),
		{ OUT, TH_FIN | TH_ACK, OK, OUT_EST, TERN_CT_FIN_WAIT, R },
		{ IN, TH_RST, OK, IN_EST, TERN_CT_CLOSE, R },
	} },
	/* a SYN on a closed tuple starts a new flow: state and flags reset */
	{ "tcp-syn-reopens-close", { TCP_HI }, 0, {
		{ OUT, TH_SYN, OK, OUT_NEW, TERN_CT_SYN_SENT, 0 },
		{ IN, TH_RST | TH_ACK, OK, IN_EST, TERN_CT_CLOSE, R },
		{ OUT, TH_SYN, OK, OUT_NEW, TERN_CT_SYN_SENT, 0 },
		{ IN, TH_SYN | TH_ACK, OK, IN_EST, TERN_CT_SYN_RECV, R },
		{ OUT, TH_ACK, OK, OUT_EST, TERN_CT_ESTABLISHED, R },
	} },
	{ "tcp-syn-reopens-time-wait", { TCP_LO }, 1, {
		HANDSHAKE(B),
		{ OUT, TH_FIN | TH_ACK, OK, OUT_EST, TERN_CT_FIN_WAIT, B | R },
		{ IN, TH_FIN | TH_ACK, OK, IN_EST, TERN_CT_TIME_WAIT, B | R },
		{ OUT, TH_SYN, OK, OUT_NEW, TERN_CT_SYN_SENT, B },
		{ IN, TH_SYN | TH_ACK, OK, IN_EST, TERN_CT_SYN_RECV, B | R },
	} },
	/* the peer reuses the tuple the other way round: it is the opener now */
	{ "tcp-peer-syn-reopens-time-wait", { TCP_HI }, 0, {
		HANDSHAKE(0),
		{ IN, TH_FIN | TH_ACK, OK, IN_EST, TERN_CT_FIN_WAIT, R },
		{ OUT, TH_FIN | TH_ACK, OK, OUT_EST, TERN_CT_TIME_WAIT, R },
		{ IN, TH_SYN, OK, IN_NEW, TERN_CT_SYN_SENT, B },
		{ OUT, TH_SYN | TH_ACK, OK, OUT_EST, TERN_CT_SYN_RECV, B | R },
		{ IN, TH_ACK, OK, IN_EST, TERN_CT_ESTABLISHED, B | R },
	} },
	/* only CLOSE and TIME_WAIT are reopened */
	{ "tcp-syn-in-fin-wait-no-reopen", { TCP_HI }, 0, {
		HANDSHAKE(0),
		{ OUT, TH_FIN | TH_ACK, OK, OUT_EST, TERN_CT_FIN_WAIT, R },
		{ OUT, TH_SYN, OK, OUT_EST, TERN_CT_FIN_WAIT, R },
	} },
	{ "tcp-syn-ack-on-close-no-reopen", { TCP_HI }, 0, {
		{ OUT, TH_SYN, OK, OUT_NEW, TERN_CT_SYN_SENT, 0 },
		{ OUT, TH_RST, OK, OUT_EST, TERN_CT_CLOSE, 0 },
		{ OUT, TH_SYN | TH_ACK, OK, OUT_EST, TERN_CT_CLOSE, 0 },
	} },
	{ "tcp-syn-retransmit", { TCP_HI }, 0, {
		{ OUT, TH_SYN, OK, OUT_NEW, TERN_CT_SYN_SENT, 0 },
		{ OUT, TH_SYN, OK, OUT_EST, TERN_CT_SYN_SENT, 0 },
	} },
	/* SYN_RECV needs the SYN+ACK from the responder, ESTABLISHED the ACK
	 * from the opener: the wrong side's do nothing */
	{ "tcp-syn-ack-from-opener", { TCP_LO }, 1, {
		{ OUT, TH_SYN, OK, OUT_NEW, TERN_CT_SYN_SENT, B },
		{ OUT, TH_SYN | TH_ACK, OK, OUT_EST, TERN_CT_SYN_SENT, B },
	} },
	{ "tcp-ack-from-responder-in-syn-recv", { TCP_HI }, 0, {
		{ OUT, TH_SYN, OK, OUT_NEW, TERN_CT_SYN_SENT, 0 },
		{ IN, TH_SYN | TH_ACK, OK, IN_EST, TERN_CT_SYN_RECV, R },
		{ IN, TH_ACK, OK, IN_EST, TERN_CT_SYN_RECV, R },
		{ OUT, TH_SYN | TH_ACK, OK, OUT_EST, TERN_CT_SYN_RECV, R },
		{ OUT, TH_ACK, OK, OUT_EST, TERN_CT_ESTABLISHED, R },
	} },
	{ "tcp-syn-ecn", { TCP_HI }, 0, {
		{ OUT, TH_SYN | TH_ECE | TH_CWR, OK, OUT_NEW, TERN_CT_SYN_SENT, 0 },
		{ IN, TH_SYN | TH_ACK | TH_ECE, OK, IN_EST, TERN_CT_SYN_RECV, R },
		{ OUT, TH_ACK, OK, OUT_EST, TERN_CT_ESTABLISHED, R },
	} },

	/* loose pickup: flows already running when tern started */
	{ "tcp-pickup-pod-ack", { TCP_HI }, 0, {
		{ OUT, TH_ACK, OK, OUT_NEW, TERN_CT_ESTABLISHED, P },
		{ IN, TH_PSH | TH_ACK, OK, IN_EST, TERN_CT_ESTABLISHED, P | R },
	} },
	{ "tcp-pickup-peer-ack", { TCP_HI }, 0, {
		{ IN, TH_PSH | TH_ACK, OK, IN_NEW, TERN_CT_ESTABLISHED, B | P },
		{ OUT, TH_ACK, OK, OUT_EST, TERN_CT_ESTABLISHED, B | P | R },
	} },
	{ "tcp-pickup-peer-ack-pod-is-b", { TCP_LO }, 1, {
		{ IN, TH_ACK, OK, IN_NEW, TERN_CT_ESTABLISHED, P },
		{ OUT, TH_ACK, OK, OUT_EST, TERN_CT_ESTABLISHED, P | R },
	} },
	/* at the SYN+ACK its receiver is the opener */
	{ "tcp-pickup-syn-ack", { TCP_HI }, 0, {
		{ IN, TH_SYN | TH_ACK, OK, IN_NEW, TERN_CT_SYN_RECV, R | P },
		{ OUT, TH_ACK, OK, OUT_EST, TERN_CT_ESTABLISHED, R | P },
	} },
	{ "tcp-pickup-syn-ack-pod-is-b", { TCP_LO }, 1, {
		{ IN, TH_SYN | TH_ACK, OK, IN_NEW, TERN_CT_SYN_RECV, B | R | P },
		{ OUT, TH_ACK, OK, OUT_EST, TERN_CT_ESTABLISHED, B | R | P },
	} },
	{ "tcp-pickup-fin", { TCP_HI }, 0, {
		{ OUT, TH_FIN | TH_ACK, OK, OUT_NEW, TERN_CT_FIN_WAIT, P },
		{ IN, TH_FIN | TH_ACK, OK, IN_EST, TERN_CT_TIME_WAIT, P | R },
	} },

	/* resets for flows we do not know: passed, nothing recorded */
	{ "tcp-rst-without-flow", { TCP_HI }, 0, {
		{ OUT, TH_RST, OK, OUT_UNTRACKED, NOENT, 0 },
		{ IN, TH_RST | TH_ACK, OK, IN_UNTRACKED, NOENT, 0 },
		{ OUT, TH_RST | TH_ACK, OK, OUT_UNTRACKED, NOENT, 0 },
	} },

	/* flag combinations no stack sends */
	{ "tcp-invalid-flags-no-flow", { TCP_HI }, 0, {
		{ OUT, TH_SYN | TH_FIN, SHOT, INVALID, NOENT, 0 },
		{ OUT, TH_SYN | TH_RST, SHOT, INVALID, NOENT, 0 },
		{ OUT, 0, SHOT, INVALID, NOENT, 0 },
		{ OUT, TH_FIN, SHOT, INVALID, NOENT, 0 },
		{ OUT, TH_PSH, SHOT, INVALID, NOENT, 0 },
		{ OUT, TH_FIN | TH_SYN | TH_RST | TH_PSH | TH_ACK | TH_URG, SHOT, INVALID, NOENT, 0 },
		{ IN, TH_SYN | TH_FIN, SHOT, INVALID, NOENT, 0 },
		{ IN, TH_SYN | TH_RST | TH_ACK, SHOT, INVALID, NOENT, 0 },
		{ IN, TH_ECE | TH_CWR, SHOT, INVALID, NOENT, 0 },
	} },
	{ "tcp-invalid-flags-established", { TCP_HI }, 0, {
		HANDSHAKE(0),
		{ OUT, TH_SYN | TH_FIN, SHOT, INVALID, TERN_CT_ESTABLISHED, R },
		{ IN, TH_SYN | TH_RST, SHOT, INVALID, TERN_CT_ESTABLISHED, R },
		{ IN, 0, SHOT, INVALID, TERN_CT_ESTABLISHED, R },
		{ OUT, TH_ACK, OK, OUT_EST, TERN_CT_ESTABLISHED, R },
	} },

	/* connectionless: NEW until the peer answers */
	{ "udp", { .family = 4, .src = POD_A4, .dst = REM_HI4, .proto = IPPROTO_UDP,
		   .sport = 5353, .dport = 53 }, 0, {
		{ OUT, 0, OK, OUT_NEW, TERN_CT_NEW, 0 },
		{ OUT, 0, OK, OUT_EST, TERN_CT_NEW, 0 },
		{ IN, 0, OK, IN_EST, TERN_CT_ESTABLISHED, R },
		{ OUT, 0, OK, OUT_EST, TERN_CT_ESTABLISHED, R },
	} },
	{ "udp-pod-is-b", { .family = 4, .src = POD_A4, .dst = REM_LO4, .proto = IPPROTO_UDP,
			    .sport = 5353, .dport = 53 }, 1, {
		{ OUT, 0, OK, OUT_NEW, TERN_CT_NEW, B },
		{ IN, 0, OK, IN_EST, TERN_CT_ESTABLISHED, B | R },
	} },
	{ "udp-peer-first", { .family = 4, .src = POD_A4, .dst = REM_HI4, .proto = IPPROTO_UDP,
			      .sport = 53, .dport = 33000 }, 0, {
		{ IN, 0, OK, IN_NEW, TERN_CT_NEW, B },
		{ IN, 0, OK, IN_EST, TERN_CT_NEW, B },
		{ OUT, 0, OK, OUT_EST, TERN_CT_ESTABLISHED, B | R },
	} },
	/* one address, two ports: the port decides, compared as numbers
	 * (2 < 256, though 256 is the smaller little-endian word) */
	{ "udp-same-address-port-order", { .family = 4, .src = POD_A4, .dst = POD_A4,
					   .proto = IPPROTO_UDP, .sport = 256, .dport = 2 }, 1, {
		{ OUT, 0, OK, OUT_NEW, TERN_CT_NEW, B },
		{ IN, 0, OK, IN_EST, TERN_CT_ESTABLISHED, B | R },
	} },
	{ "icmp-echo", { .family = 4, .src = POD_A4, .dst = REM_HI4, .proto = IPPROTO_ICMP,
			 .type = 8, .id = 0x4d2 }, 0, {
		{ OUT, 0, OK, OUT_NEW, TERN_CT_NEW, 0 },
		{ IN, 0, OK, IN_EST, TERN_CT_ESTABLISHED, R },
		{ OUT, 0, OK, OUT_EST, TERN_CT_ESTABLISHED, R },
	} },
	/* the responder's end has port 0: it is side a only by address */
	{ "icmp-echo-pod-is-b", { .family = 4, .src = POD_A4, .dst = REM_LO4,
				  .proto = IPPROTO_ICMP, .type = 8, .id = 0x4d2 }, 1, {
		{ OUT, 0, OK, OUT_NEW, TERN_CT_NEW, B },
		{ IN, 0, OK, IN_EST, TERN_CT_ESTABLISHED, B | R },
	} },
	{ "icmp-echo-from-peer", { .family = 4, .src = POD_A4, .dst = REM_HI4,
				   .proto = IPPROTO_ICMP, .type = 0, .id = 0x99 }, 0, {
		{ IN, 0, OK, IN_NEW, TERN_CT_NEW, B },
		{ OUT, 0, OK, OUT_EST, TERN_CT_ESTABLISHED, B | R },
	} },
	{ "sctp", { .family = 4, .src = POD_A4, .dst = REM_LO4, .proto = IPPROTO_SCTP,
		    .sport = 2905, .dport = 2905 }, 1, {
		{ OUT, 0, OK, OUT_NEW, TERN_CT_NEW, B },
		{ IN, 0, OK, IN_EST, TERN_CT_ESTABLISHED, B | R },
	} },
	{ "gre", { .family = 4, .src = POD_A4, .dst = REM_HI4, .proto = 47, .payload = 4 }, 0, {
		{ OUT, 0, OK, OUT_NEW, TERN_CT_NEW, 0 },
		{ IN, 0, OK, IN_EST, TERN_CT_ESTABLISHED, R },
	} },
};

/* The flow's key, from the roles: the pod and its peer. */
static struct tern_ct_key flow_key(const struct pkt_spec *out, int pod_is_b)
{
	uint16_t pod_port = out->sport, peer_port = out->dport;
	uint8_t proto = out->proto;

	if (proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6) {
		int pod_asks = out->type == 8 || out->type == 128;

		pod_port = pod_asks ? out->id : 0;
		peer_port = pod_asks ? 0 : out->id;
	} else if (proto != IPPROTO_TCP && proto != IPPROTO_UDP && proto != IPPROTO_SCTP) {
		pod_port = peer_port = 0;
	}
	if (pod_is_b)
		return tct_key(out->dst, peer_port, out->src, pod_port, proto);
	return tct_key(out->src, pod_port, out->dst, peer_port, proto);
}

static void run_flow(const struct flow *f, int v6)
{
	struct pkt_spec out = v6 ? spec_to6(&f->out, NULL) : f->out;
	struct tern_ct_key key = flow_key(&out, f->pod_is_b);

	case_begin("bpf/ct/%s/v%d", f->name, v6 ? 6 : 4);
	tmaps_clear();
	for (int i = 0; i < (int)ARRAY_SIZE(f->steps) && f->steps[i].dir != END; i++) {
		const struct step *s = &f->steps[i];
		struct pkt_spec spec = s->dir == OUT ? out : pkt_spec_reverse(&out);
		int failed = case_failed();
		struct pkt p;
		struct run r;

		spec.flags = s->flags;
		pkt_build(&p, &spec);
		if (run_prog(s->dir == OUT ? P_FROM_EP : P_TO_EP, IF_A, p.b, p.len, &r))
			break;
		expect_run(&r, &p, s->verdict, IF_A, s->cnt);
		if (s->state == NOENT) {
			if (tct_count())
				case_fail("conntrack: %d entries, want none", tct_count());
		} else {
			expect_ct(&key, s->state, s->ctflags);
			if (tct_count() != 1)
				case_fail("conntrack: %d entries, want 1", tct_count());
		}
		if (!failed && case_failed()) {
			case_note("at packet %d: %s, TCP flags %#x", i + 1,
				  s->dir == OUT ? "pod -> peer" : "peer -> pod", s->flags);
			break;
		}
	}
	case_end();
}

/* The key's bytes as the ABI lays them out, written out by hand. */
static void ct_key_bytes(void)
{
	static const struct {
		const char *name;
		struct pkt_spec s;
		uint8_t key[40];
	} cases[] = {
		{ "udp-v4", { .family = 4, .src = POD_A4, .dst = REM_LO4, .proto = IPPROTO_UDP,
			      .sport = 40000, .dport = 53 },
		  { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 200,    /* ::ffff:10.0.0.200 */
		    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 0, 2,      /* ::ffff:10.1.0.2 */
		    0x00, 0x35, 0x9c, 0x40, 17, 0, 0, 0 } },                     /* 53, 40000, UDP */
		{ "tcp-v6", { .family = 6, .src = POD_A6, .dst = REM_LO6, .proto = IPPROTO_TCP,
			      .sport = 40000, .dport = 443, .flags = TH_SYN },
		  { 0xfc, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9,          /* fc00:5::9 */
		    0xfd, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2,          /* fd00:1::2 */
		    0x01, 0xbb, 0x9c, 0x40, 6, 0, 0, 0 } },
		{ "icmp-echo-v4", { .family = 4, .src = POD_A4, .dst = REM_HI4,
				    .proto = IPPROTO_ICMP, .type = 8, .id = 0x1234 },
		  { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 0, 2,      /* the requester */
		    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 10,
		    0x12, 0x34, 0, 0, 1, 0, 0, 0 } },
		/* proto is the IP protocol, as docs/maps.md and ternctl read it
		 * (include/tern/ct.h's comment says ICMPv6 for both families) */
		{ "icmp-echo-v6", { .family = 6, .src = POD_A6, .dst = REM_LO6,
				    .proto = IPPROTO_ICMPV6, .type = 128, .id = 0x1234 },
		  { 0xfc, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9,
		    0xfd, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2,
		    0, 0, 0x12, 0x34, 58, 0, 0, 0 } },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct tern_ct_key k;
		struct pkt p;
		struct run r;

		case_begin("bpf/ct/key-bytes/%s", cases[i].name);
		tmaps_clear();
		pkt_build(&p, &cases[i].s);
		if (run_prog(P_FROM_EP, IF_A, p.b, p.len, &r) == 0) {
			expect_verdict(&r, TC_ACT_OK);
			if (tct_count() != 1 || bpf_map_get_next_key(tenv.ct, NULL, &k))
				case_fail("conntrack: %d entries, want 1", tct_count());
			else
				expect_bytes("key", (const uint8_t *)&k, sizeof(k), cases[i].key,
					     sizeof(k));
		}
		case_end();
	}
}

/* created_ns stays, last_seen_ns moves, tcp_seen_* gather each side's flags */
static void ct_value_fields(void)
{
	struct pkt_spec out = { TCP_HI };
	struct tern_ct_key key = flow_key(&out, 0);
	struct tern_ct_value v0, v1;
	uint64_t t0 = tstamp_floor_ns();
	struct pkt p;
	struct run r;

	case_begin("bpf/ct/value-fields");
	tmaps_clear();
	out.flags = TH_SYN;
	pkt_build(&p, &out);
	run_prog(P_FROM_EP, IF_A, p.b, p.len, &r);
	if (tct_get(&key, &v0)) {
		case_fail("no entry after the SYN");
		case_end();
		return;
	}
	/* created: the fine clock; last seen: the coarse one, up to a tick behind */
	if (v0.created_ns < t0 || v0.created_ns > tnow_ns() || v0.last_seen_ns < t0 ||
	    v0.last_seen_ns > v0.created_ns)
		case_fail("created %llu last_seen %llu, want both in [%llu, now], last_seen first",
			  (unsigned long long)v0.created_ns, (unsigned long long)v0.last_seen_ns,
			  (unsigned long long)t0);
	if (v0.tcp_seen_a != TH_SYN || v0.tcp_seen_b != 0)
		case_fail("after SYN: seen a %#x b %#x, want %#x 0", v0.tcp_seen_a, v0.tcp_seen_b,
			  TH_SYN);
	/* an entry last seen 1 s ago is refreshed by the next packet */
	v0.last_seen_ns -= 1000000000ull;
	tct_put(&key, &v0);
	struct pkt_spec in = pkt_spec_reverse(&out);

	in.flags = TH_SYN | TH_ACK;
	pkt_build(&p, &in);
	run_prog(P_TO_EP, IF_A, p.b, p.len, &r);
	if (tct_get(&key, &v1) == 0) {
		if (v1.created_ns != v0.created_ns)
			case_fail("created_ns changed");
		if (v1.last_seen_ns <= v0.last_seen_ns + 500000000ull)
			case_fail("last_seen_ns not refreshed");
		if (v1.tcp_seen_a != TH_SYN || v1.tcp_seen_b != (TH_SYN | TH_ACK))
			case_fail("after SYN+ACK: seen a %#x b %#x, want %#x %#x", v1.tcp_seen_a,
				  v1.tcp_seen_b, TH_SYN, TH_SYN | TH_ACK);
		if (v1.nat_port || v1.nat_addr.w[0] | v1.nat_addr.w[1] | v1.nat_addr.w[2] |
					   v1.nat_addr.w[3])
			case_fail("NAT fields set on a flow that is not NATed");
	} else {
		case_fail("entry gone after the SYN+ACK");
	}
	case_end();
}

void test_ct(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(flows); i++) {
		run_flow(&flows[i], 0);
		run_flow(&flows[i], 1);
	}
	ct_key_bytes();
	ct_value_fields();
}
