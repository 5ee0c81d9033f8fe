/* IP fragments: the first fragment leaves its ports in tern_frag_v1, later
 * ones borrow them and so count on the same conntrack entry; a later
 * fragment whose first was never seen is dropped. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <bpf/bpf.h>

#include "harness.h"

#define NOENT (-1)
#define FIRST_NEW (C(RX) | C(FRAG) | C(CT_NEW) | C(TO_STACK))
#define LATER (C(RX) | C(FRAG) | C(TO_STACK))
#define ORPHAN (C(RX) | C(FRAG) | C(DROP_FRAG))
#define IN_FRAG (C(RX) | C(FRAG))
#define MALFORMED (C(RX) | C(DROP_MALFORMED))

#define ID4 0x5a5a
#define ID6 0x5a5a5a5aU
#define OTHER_ID 0x7777

struct fstep {
	uint16_t off, len;  /* of the datagram's body after its headers */
	uint8_t more;
	uint8_t other_id;   /* a fragment of another datagram */
	int verdict;
	uint32_t cnt;
};

struct fcase {
	const char *name;
	struct pkt_spec whole; /* the pod's datagram */
	int reply;             /* whole is sent unfragmented; the peer's reply is cut */
	struct fstep steps[5];
	int state;             /* the flow's entry at the end, or NOENT */
	int v4_only;
};

#define UDP_OUT .family = 4, .src = POD_A4, .dst = REM_HI4, .proto = IPPROTO_UDP, \
		.sport = 5353, .dport = 53

static const struct fcase fcases[] = {
	{ "udp", { UDP_OUT, .payload = 40 }, 0, {
		{ 0, 24, 1, 0, TC_ACT_OK, FIRST_NEW },
		{ 24, 24, 0, 0, TC_ACT_OK, LATER },
	}, TERN_CT_NEW, 0 },
	{ "udp-later-first-arrives-first", { UDP_OUT, .payload = 40 }, 0, {
		{ 16, 16, 1, 0, TC_ACT_SHOT, ORPHAN },
		{ 0, 16, 1, 0, TC_ACT_OK, FIRST_NEW },
		{ 16, 16, 1, 0, TC_ACT_OK, LATER },
		{ 32, 16, 0, 0, TC_ACT_OK, LATER },
	}, TERN_CT_NEW, 0 },
	{ "later-without-first", { UDP_OUT, .payload = 40 }, 0, {
		{ 24, 24, 0, 0, TC_ACT_SHOT, ORPHAN },
	}, NOENT, 0 },
	{ "later-of-another-datagram", { UDP_OUT, .payload = 40 }, 0, {
		{ 0, 24, 1, 0, TC_ACT_OK, FIRST_NEW },
		{ 24, 24, 0, 1, TC_ACT_SHOT, ORPHAN },
	}, TERN_CT_NEW, 0 },
	/* later fragments carry no TCP flags: they are not invalid for it */
	{ "tcp", { .family = 4, .src = POD_A4, .dst = REM_HI4, .proto = IPPROTO_TCP,
		   .sport = 40000, .dport = 443, .flags = TH_PSH | TH_ACK, .payload = 40 }, 0, {
		{ 0, 32, 1, 0, TC_ACT_OK, FIRST_NEW },
		{ 32, 28, 0, 0, TC_ACT_OK, LATER },
	}, TERN_CT_ESTABLISHED, 0 },
	{ "icmp-echo", { .family = 4, .src = POD_A4, .dst = REM_HI4, .proto = IPPROTO_ICMP,
			 .type = 8, .id = 0x321, .payload = 64 }, 0, {
		{ 0, 40, 1, 0, TC_ACT_OK, FIRST_NEW },
		{ 40, 32, 0, 0, TC_ACT_OK, LATER },
	}, TERN_CT_NEW, 0 },
	{ "udp-reply", { UDP_OUT, .payload = 40 }, 1, {
		{ 0, 24, 1, 0, TC_ACT_OK, IN_FRAG },
		{ 24, 24, 0, 0, TC_ACT_OK, IN_FRAG },
	}, TERN_CT_ESTABLISHED, 0 },
	/* RFC 1858 / 7112: the first fragment must hold the whole L4 header */
	{ "tcp-tiny-first", { .family = 4, .src = POD_A4, .dst = REM_HI4, .proto = IPPROTO_TCP,
			      .sport = 40000, .dport = 443, .flags = TH_ACK, .payload = 16 }, 0, {
		{ 0, 8, 1, 0, TC_ACT_SHOT, MALFORMED },
		{ 8, 28, 0, 0, TC_ACT_SHOT, ORPHAN },
	}, NOENT, 0 },
};

/* the ports the first fragment must have left for the later ones */
static void expect_frag_entry(const struct pkt_spec *s, uint32_t id)
{
	struct tern_frag_key k;
	struct tern_frag_ports v, want;

	memset(&k, 0, sizeof(k));
	taddr(s->src, &k.src);
	taddr(s->dst, &k.dst);
	k.id = id;
	k.proto = s->family == 4 ? s->proto : 0; /* v6: src, dst and id name it */
	memset(&want, 0, sizeof(want));
	want.proto = s->proto;
	if (s->proto == IPPROTO_ICMP || s->proto == IPPROTO_ICMPV6) {
		want.sport = htons(s->id);
		want.dport = 0;
	} else {
		want.sport = htons(s->sport);
		want.dport = htons(s->dport);
	}
	if (bpf_map_lookup_elem(tenv.frag, &k, &v)) {
		case_fail("no tern_frag_v1 entry for id %#x", id);
		return;
	}
	if (v.sport != want.sport || v.dport != want.dport || v.proto != want.proto)
		case_fail("tern_frag_v1 ports %u %u proto %u, want %u %u proto %u",
			  ntohs(v.sport), ntohs(v.dport), v.proto, ntohs(want.sport),
			  ntohs(want.dport), want.proto);
}

static void run_fcase(const struct fcase *c, struct pkt_spec spec)
{
	enum prog_id prog = c->reply ? P_TO_EP : P_FROM_EP;
	struct pkt_spec dgram = c->reply ? pkt_spec_reverse(&spec) : spec;
	uint32_t id = spec.family == 4 ? ID4 : ID6;
	struct tern_ct_key key = tct_key_of(&spec);
	struct pkt whole, f;
	struct run r;

	case_begin("bpf/frag/%s/v%d", c->name, spec.family);
	tmaps_clear();
	if (c->reply) {
		pkt_build(&whole, &spec);
		if (run_prog(P_FROM_EP, IF_A, whole.b, whole.len, &r) == 0)
			expect_verdict(&r, TC_ACT_OK);
	}
	pkt_build(&whole, &dgram);
	for (int i = 0; i < (int)ARRAY_SIZE(c->steps) && c->steps[i].len; i++) {
		const struct fstep *s = &c->steps[i];
		int failed = case_failed();

		pkt_fragment(&f, &whole, s->off, s->len, s->more, s->other_id ? OTHER_ID : id);
		if (run_prog(prog, IF_A, f.b, f.len, &r))
			break;
		expect_run(&r, &f, s->verdict, IF_A, s->cnt);
		if (!failed && case_failed())
			case_note("at fragment %d (offset %u, %u bytes)", i + 1, s->off, s->len);
	}
	if (c->steps[0].off == 0 && c->steps[0].verdict == TC_ACT_OK)
		expect_frag_entry(&dgram, id);
	if (c->state == NOENT) {
		if (tct_count())
			case_fail("conntrack: %d entries, want none", tct_count());
	} else {
		struct tern_ct_value v;

		if (tct_get(&key, &v) || tct_count() != 1)
			case_fail("conntrack: %d entries, want exactly the flow's", tct_count());
		else if (v.state != c->state)
			case_fail("conntrack state %s, want %s", tct_state_name(v.state),
				  tct_state_name(c->state));
	}
	case_end();
}

/* The first fragment of an IPv6 datagram with a hop-by-hop header before
 * the fragment header, as RFC 8200 4.5 orders them. */
static void frag_after_hopopts(void)
{
	static const struct fcase c = {
		"udp-after-hopopts",
		{ .family = 6, .src = POD_A6, .dst = REM_HI6, .proto = IPPROTO_UDP,
		  .sport = 5353, .dport = 53, .n_ext = 1, .ext = { IPPROTO_HOPOPTS },
		  .payload = 40 },
		0,
		{ { 0, 24, 1, 0, TC_ACT_OK, FIRST_NEW }, { 24, 24, 0, 0, TC_ACT_OK, LATER } },
		TERN_CT_NEW, 0,
	};

	run_fcase(&c, c.whole);
}

/* A destination options header after the fragment header is part of the
 * fragmentable part (RFC 8200 4.5): a later fragment sees only "60" after
 * its fragment header, yet must find the first fragment's flow. */
static void frag_dstopts_after_fragment(void)
{
	static const struct pkt_spec flow = { .family = 6, .src = POD_A6, .dst = REM_HI6,
					      .proto = IPPROTO_UDP, .sport = 5353, .dport = 53 };
	struct tern_ct_key key = tct_key_of(&flow);
	struct tern_ct_value v;
	struct pkt first, later;
	struct run r;

	case_begin("bpf/frag/udp-dstopts-after-fragment/v6");
	tmaps_clear();
	pkt_eth(&first, 0x86dd);
	pkt_ip6(&first, POD_A6, REM_HI6);
	pkt_frag6_hdr(&first, 0, 1, ID6);
	pkt_ext6(&first, IPPROTO_DSTOPTS, 8);
	pkt_udp(&first, 5353, 53);
	pkt_payload(&first, 16);
	first.frag = 1;
	pkt_finish(&first);
	/* the rest: 8 bytes of options, 8 of UDP header and 16 of payload came before */
	pkt_eth(&later, 0x86dd);
	pkt_ip6(&later, POD_A6, REM_HI6);
	pkt_frag6_hdr(&later, 32, 0, ID6);
	later.b[later.nh] = IPPROTO_DSTOPTS;
	pkt_payload(&later, 24);
	later.frag = 1;
	pkt_finish(&later);

	if (run_prog(P_FROM_EP, IF_A, first.b, first.len, &r) == 0)
		expect_run(&r, &first, TC_ACT_OK, IF_A, FIRST_NEW);
	if (run_prog(P_FROM_EP, IF_A, later.b, later.len, &r) == 0)
		expect_run(&r, &later, TC_ACT_OK, IF_A, LATER);
	if (tct_get(&key, &v) || tct_count() != 1)
		case_fail("conntrack: %d entries, want exactly the UDP flow's", tct_count());
	case_end();
}

void test_frag(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(fcases); i++) {
		run_fcase(&fcases[i], fcases[i].whole);
		if (!fcases[i].v4_only)
			run_fcase(&fcases[i], spec_to6(&fcases[i].whole, NULL));
	}
	frag_after_hopopts();
	frag_dstopts_after_fragment();
}
