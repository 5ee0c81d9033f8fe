/* Conntrack timeouts: an entry idle for longer than its state's timeout is
 * as good as absent; one idle for less is the flow. The programs were
 * loaded with a different timeout per kind (harness.h, T_*), entries are
 * written straight into the map with an old last_seen_ns, and the pod
 * sends one packet. */
#include <netinet/in.h>

#include "harness.h"

#define SEC 1000000000ull

struct tocase {
	const char *name;
	struct pkt_spec probe;   /* the pod's packet */
	uint8_t state;           /* the entry written */
	uint8_t seen_a, seen_b;  /* its TCP flags so far (the pod is side a) */
	uint32_t timeout;        /* seconds, the one that must apply */
	uint8_t live_state;      /* the state the probe leaves a live entry in */
	uint8_t new_state;       /* the state of the entry it creates in place of an expired one */
	uint32_t new_flags;
};

#define TCP_ACK .family = 4, .src = POD_A4, .dst = REM_HI4, .proto = IPPROTO_TCP, \
		.sport = 40000, .dport = 443, .flags = TH_ACK
#define SA (TH_SYN | TH_ACK)

static const struct tocase tocases[] = {
	{ "tcp-syn-sent", { TCP_ACK }, TERN_CT_SYN_SENT, TH_SYN, 0, T_SYN,
	  TERN_CT_SYN_SENT, TERN_CT_ESTABLISHED, TERN_CT_F_PICKED_UP },
	{ "tcp-syn-recv", { TCP_ACK }, TERN_CT_SYN_RECV, TH_SYN, SA, T_SYN,
	  TERN_CT_ESTABLISHED, TERN_CT_ESTABLISHED, TERN_CT_F_PICKED_UP },
	{ "tcp-established", { TCP_ACK }, TERN_CT_ESTABLISHED, SA, SA, T_EST,
	  TERN_CT_ESTABLISHED, TERN_CT_ESTABLISHED, TERN_CT_F_PICKED_UP },
	{ "tcp-fin-wait", { TCP_ACK }, TERN_CT_FIN_WAIT, SA | TH_FIN, SA, T_FIN,
	  TERN_CT_FIN_WAIT, TERN_CT_ESTABLISHED, TERN_CT_F_PICKED_UP },
	{ "tcp-time-wait", { TCP_ACK }, TERN_CT_TIME_WAIT, SA | TH_FIN, SA | TH_FIN, T_FIN,
	  TERN_CT_TIME_WAIT, TERN_CT_ESTABLISHED, TERN_CT_F_PICKED_UP },
	{ "tcp-close", { TCP_ACK }, TERN_CT_CLOSE, SA | TH_RST, SA, T_RST,
	  TERN_CT_CLOSE, TERN_CT_ESTABLISHED, TERN_CT_F_PICKED_UP },
	{ "udp-new", { .family = 4, .src = POD_A4, .dst = REM_HI4, .proto = IPPROTO_UDP,
		       .sport = 5353, .dport = 53 },
	  TERN_CT_NEW, 0, 0, T_UDP, TERN_CT_NEW, TERN_CT_NEW, 0 },
	{ "udp-established", { .family = 4, .src = POD_A4, .dst = REM_HI4,
			       .proto = IPPROTO_UDP, .sport = 5353, .dport = 53 },
	  TERN_CT_ESTABLISHED, 0, 0, T_UDP, TERN_CT_ESTABLISHED, TERN_CT_NEW, 0 },
	{ "icmp-echo", { .family = 4, .src = POD_A4, .dst = REM_HI4, .proto = IPPROTO_ICMP,
			 .type = 8, .id = 0x55 },
	  TERN_CT_ESTABLISHED, 0, 0, T_ICMP, TERN_CT_ESTABLISHED, TERN_CT_NEW, 0 },
	{ "sctp", { .family = 4, .src = POD_A4, .dst = REM_HI4, .proto = IPPROTO_SCTP,
		    .sport = 2905, .dport = 2905 },
	  TERN_CT_ESTABLISHED, 0, 0, T_OTHER, TERN_CT_ESTABLISHED, TERN_CT_NEW, 0 },
	{ "gre", { .family = 4, .src = POD_A4, .dst = REM_HI4, .proto = 47 },
	  TERN_CT_ESTABLISHED, 0, 0, T_OTHER, TERN_CT_ESTABLISHED, TERN_CT_NEW, 0 },
};

/* An entry for c's flow, opened by the pod (side a) and answered, idle
 * since `ago` before now (negative: stamped in the future). */
static struct tern_ct_value entry(const struct tocase *c, int64_t ago)
{
	struct tern_ct_value v = {
		.flags = TERN_CT_F_REPLIED,
		.state = c->state,
		.tcp_seen_a = c->seen_a,
		.tcp_seen_b = c->seen_b,
	};

	v.last_seen_ns = tnow_ns() - (uint64_t)ago;
	v.created_ns = v.last_seen_ns - 5 * SEC;
	return v;
}

static void probe(const char *what, const struct tocase *c, const struct pkt_spec *spec,
		  int64_t ago, int live)
{
	struct tern_ct_key k = tct_key_of(spec);
	struct tern_ct_value v = entry(c, ago), got;
	uint64_t t0;
	struct pkt p;
	struct run r;

	case_begin("bpf/timeout/%s/%s/v%d", c->name, what, spec->family);
	tmaps_clear();
	if (tct_put(&k, &v))
		case_fail("writing the entry failed");
	pkt_build(&p, spec);
	t0 = tstamp_floor_ns();
	if (run_prog(P_FROM_EP, IF_A, p.b, p.len, &r) == 0) {
		expect_run(&r, &p, TC_ACT_OK, IF_A,
			   C(RX) | C(TO_STACK) | (live ? 0 : C(CT_NEW)));
		if (tct_get(&k, &got) || tct_count() != 1) {
			case_fail("conntrack: %d entries, want the flow's only", tct_count());
		} else if (live) {
			if (got.state != c->live_state || got.flags != TERN_CT_F_REPLIED)
				case_fail("live entry: state %s flags %#x, want %s %#x",
					  tct_state_name(got.state), got.flags,
					  tct_state_name(c->live_state), TERN_CT_F_REPLIED);
			if (got.created_ns != v.created_ns)
				case_fail("live entry: created_ns changed");
			if (ago > 0 && got.last_seen_ns < t0)
				case_fail("live entry: last_seen_ns not refreshed");
		} else {
			if (got.state != c->new_state || got.flags != c->new_flags)
				case_fail("new entry: state %s flags %#x, want %s %#x",
					  tct_state_name(got.state), got.flags,
					  tct_state_name(c->new_state), c->new_flags);
			if (got.created_ns < t0)
				case_fail("new entry: created_ns is the old entry's");
		}
	}
	case_end();
}

/* A reset for an expired flow is no flow's: passed untracked, the stale
 * entry left for the GC. */
static void rst_on_expired(int v6)
{
	const struct tocase *c = &tocases[2]; /* established */
	struct pkt_spec spec = v6 ? spec_to6(&c->probe, NULL) : c->probe;
	struct tern_ct_key k;
	struct tern_ct_value v = entry(c, (int64_t)(c->timeout + 1) * (int64_t)SEC), got;
	struct pkt p;
	struct run r;

	spec.flags = TH_RST | TH_ACK;
	k = tct_key_of(&spec);
	case_begin("bpf/timeout/tcp-rst-on-expired/v%d", v6 ? 6 : 4);
	tmaps_clear();
	tct_put(&k, &v);
	pkt_build(&p, &spec);
	if (run_prog(P_FROM_EP, IF_A, p.b, p.len, &r) == 0) {
		expect_run(&r, &p, TC_ACT_OK, IF_A, C(RX) | C(CT_UNTRACKED) | C(TO_STACK));
		if (tct_get(&k, &got) || got.last_seen_ns != v.last_seen_ns ||
		    got.state != v.state)
			case_fail("the expired entry was touched");
	}
	case_end();
}

/* An ICMP error about an expired flow relates to nothing. */
static void error_on_expired(int v6)
{
	static const struct pkt_spec udp = {
		.family = 4, .src = POD_A4, .dst = REM_HI4, .proto = IPPROTO_UDP,
		.sport = 5353, .dport = 53,
	};
	static const struct pkt_spec err = {
		.family = 4, .src = ROUTER4, .dst = POD_A4, .proto = IPPROTO_ICMP, .type = 3,
		.code = 3, .quote = &udp,
	};
	struct pkt_spec q, e = v6 ? spec_to6(&err, &q) : err;
	struct pkt_spec u = v6 ? spec_to6(&udp, NULL) : udp;
	const struct tocase *c = &tocases[7]; /* udp established */
	struct tern_ct_key k = tct_key_of(&u);
	struct pkt p;
	struct run r;

	case_begin("bpf/timeout/icmp-error-on-expired/v%d", v6 ? 6 : 4);
	for (int live = 1; live >= 0; live--) {
		int64_t ago = (int64_t)(c->timeout + (live ? -1 : 1)) * (int64_t)SEC;
		struct tern_ct_value v = entry(c, ago);

		tmaps_clear();
		tct_put(&k, &v);
		pkt_build(&p, &e);
		if (run_prog(P_TO_EP, IF_A, p.b, p.len, &r))
			break;
		expect_run(&r, &p, TC_ACT_OK, IF_A,
			   C(RX) | (live ? C(CT_RELATED) : C(CT_UNTRACKED)));
	}
	case_end();
}

void test_timeout(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(tocases); i++) {
		const struct tocase *c = &tocases[i];

		for (int v6 = 0; v6 <= 1; v6++) {
			struct pkt_spec spec = v6 ? spec_to6(&c->probe, NULL) : c->probe;
			int64_t t = (int64_t)c->timeout * (int64_t)SEC;

			probe("idle-1s-less", c, &spec, t - (int64_t)SEC, 1);
			probe("idle-1s-more", c, &spec, t + (int64_t)SEC, 0);
			/* stamped by another CPU after this one read the clock */
			probe("stamped-later", c, &spec, -(int64_t)SEC, 1);
		}
	}
	rst_on_expired(0);
	rst_on_expired(1);
	error_on_expired(0);
	error_on_expired(1);
}
