/* ICMP errors: matched to the flow they quote (ct_related) when that flow
 * is tracked and the error goes back to the quoted packet's sender;
 * otherwise passed untracked; dropped when the quote is too short to name
 * a flow. The flows are opened by the pod first (pcase.pre). */
#include <netinet/in.h>

#include "harness.h"

#define IN_RELATED (C(RX) | C(CT_RELATED))
#define IN_UNTRACKED (C(RX) | C(CT_UNTRACKED))
#define OUT_RELATED (C(RX) | C(CT_RELATED) | C(TO_STACK))
#define MALFORMED (C(RX) | C(DROP_MALFORMED))

/* the pod's flows, opened through tern_from_ep */
static const struct pkt_spec udp_out = {
	.family = 4, .src = POD_A4, .dst = REM_HI4, .proto = IPPROTO_UDP,
	.sport = 5353, .dport = 53, .payload = 20,
};
static const struct pkt_spec udp_out_lo = {
	.family = 4, .src = POD_A4, .dst = REM_LO4, .proto = IPPROTO_UDP,
	.sport = 5353, .dport = 53,
};
static const struct pkt_spec udp_out_long = {
	.family = 4, .src = POD_A4, .dst = REM_HI4, .proto = IPPROTO_UDP,
	.sport = 5353, .dport = 53, .payload = 1000,
};
static const struct pkt_spec udp_out_opts = {
	.family = 4, .src = POD_A4, .dst = REM_HI4, .proto = IPPROTO_UDP,
	.sport = 5353, .dport = 53, .ip_opts = 8,
};
static const struct pkt_spec udp_out6 = {
	.family = 6, .src = POD_A6, .dst = REM_HI6, .proto = IPPROTO_UDP,
	.sport = 5353, .dport = 53,
};
static const struct pkt_spec udp_out6_ext = {
	.family = 6, .src = POD_A6, .dst = REM_HI6, .proto = IPPROTO_UDP,
	.sport = 5353, .dport = 53, .n_ext = 2, .ext = { IPPROTO_HOPOPTS, IPPROTO_DSTOPTS },
	.ext_len = { 16, 8 },
};
static const struct pkt_spec udp_other_port = {
	.family = 4, .src = POD_A4, .dst = REM_HI4, .proto = IPPROTO_UDP,
	.sport = 5354, .dport = 53,
};
static const struct pkt_spec udp_reverse = { /* the peer's packet to the pod */
	.family = 4, .src = REM_HI4, .dst = POD_A4, .proto = IPPROTO_UDP,
	.sport = 53, .dport = 5353,
};
static const struct pkt_spec tcp_out = {
	.family = 4, .src = POD_A4, .dst = REM_HI4, .proto = IPPROTO_TCP,
	.sport = 40000, .dport = 443, .flags = TH_SYN, .tcp_opts = 12,
};
static const struct pkt_spec echo_out = {
	.family = 4, .src = POD_A4, .dst = REM_HI4, .proto = IPPROTO_ICMP,
	.type = 8, .id = 0x77, .payload = 56,
};
static const struct pkt_spec error_about_udp = { /* an error quoting an error */
	.family = 4, .src = POD_A4, .dst = REM_HI4, .proto = IPPROTO_ICMP,
	.type = 3, .code = 3, .quote = &udp_reverse,
};
static const struct pkt_spec udp_in = { /* a peer's packet the pod refuses */
	.family = 4, .src = REM_HI4, .dst = POD_A4, .proto = IPPROTO_UDP,
	.sport = 40001, .dport = 9999,
};

#define ERR4(t, c, q) .family = 4, .src = ROUTER4, .dst = POD_A4, .proto = IPPROTO_ICMP, \
		      .type = (t), .code = (c), .quote = (q)
#define ERR6(t, c, q) .family = 6, .src = ROUTER6, .dst = POD_A6, .proto = IPPROTO_ICMPV6, \
		      .type = (t), .code = (c), .quote = (q)

static void put16(uint8_t *b, uint16_t v)
{
	b[0] = v >> 8;
	b[1] = v & 0xff;
}

/* the quoted IP header sits right after the 8-byte ICMP header */
static uint8_t *quoted_ip(struct pkt *p)
{
	return p->b + p->l4 + 8;
}

static void quote_ihl4(struct pkt *p)
{
	quoted_ip(p)[0] = 0x44;
	pkt_finish(p); /* the outer checksums stay right: only the quote is bad */
}

static void quote_version(struct pkt *p)
{
	uint8_t *ip = quoted_ip(p);

	ip[0] = (uint8_t)((p->family == 4 ? 0x60 : 0x40) | (ip[0] & 15));
	pkt_finish(p);
}

static void quote_later_fragment(struct pkt *p)
{
	put16(quoted_ip(p) + 6, 0x2001); /* MF, offset 8 bytes */
	pkt_finish(p);
}

/* the error itself claims to be a first fragment */
static void error_fragmented(struct pkt *p)
{
	put16(p->b + p->l3 + 6, 0x2000);
	pkt_finish(p);
}

static void pad10(struct pkt *p)
{
	pkt_append(p, "\0\0\0\0\0\0\0\0\0\0", 10);
}

static const struct pcase icmp_cases[] = {
	/* errors about tracked flows, to the sender of the quoted packet */
	{ "dest-unreach-udp", P_TO_EP, IF_A, { ERR4(3, 3, &udp_out) }, .pre = &udp_out,
	  .verdict = TC_ACT_OK, .cnt = IN_RELATED, .ct = CT_ONE, .ct_state = TERN_CT_NEW,
	  .both = 1 },
	{ "dest-unreach-udp-pod-is-b", P_TO_EP, IF_A, { ERR4(3, 1, &udp_out_lo) },
	  .pre = &udp_out_lo, .verdict = TC_ACT_OK, .cnt = IN_RELATED, .ct = CT_ONE,
	  .ct_state = TERN_CT_NEW, .both = 1 },
	{ "time-exceeded-tcp", P_TO_EP, IF_A, { ERR4(11, 0, &tcp_out), .quote_len = 28 },
	  .pre = &tcp_out, .verdict = TC_ACT_OK, .cnt = IN_RELATED, .ct = CT_ONE,
	  .ct_state = TERN_CT_SYN_SENT, .both = 1 },
	{ "frag-needed-tcp", P_TO_EP, IF_A, { ERR4(3, 4, &tcp_out) }, .pre = &tcp_out,
	  .verdict = TC_ACT_OK, .cnt = IN_RELATED, .ct = CT_ONE, .ct_state = TERN_CT_SYN_SENT,
	  .both = 1 },
	{ "param-problem-udp", P_TO_EP, IF_A, { ERR4(12, 0, &udp_out) }, .pre = &udp_out,
	  .verdict = TC_ACT_OK, .cnt = IN_RELATED, .ct = CT_ONE, .both = 1 },
	{ "source-quench-udp", P_TO_EP, IF_A, { ERR4(4, 0, &udp_out) }, .pre = &udp_out,
	  .verdict = TC_ACT_OK, .cnt = IN_RELATED, .ct = CT_ONE },
	{ "dest-unreach-echo", P_TO_EP, IF_A, { ERR4(3, 1, &echo_out), .quote_len = 28 },
	  .pre = &echo_out, .verdict = TC_ACT_OK, .cnt = IN_RELATED, .ct = CT_ONE, .both = 1 },
	{ "quote-of-long-datagram", P_TO_EP, IF_A, { ERR4(3, 3, &udp_out_long), .quote_len = 28 },
	  .pre = &udp_out, .verdict = TC_ACT_OK, .cnt = IN_RELATED, .ct = CT_ONE, .both = 1 },
	{ "quote-with-ip-options", P_TO_EP, IF_A, { ERR4(3, 3, &udp_out_opts) }, .pre = &udp_out,
	  .verdict = TC_ACT_OK, .cnt = IN_RELATED, .ct = CT_ONE },
	{ "quote-with-ext-headers", P_TO_EP, IF_A, { ERR6(1, 4, &udp_out6_ext) },
	  .pre = &udp_out6, .verdict = TC_ACT_OK, .cnt = IN_RELATED, .ct = CT_ONE },
	{ "padded", P_TO_EP, IF_A, { ERR4(3, 3, &udp_out) }, pad10, .pre = &udp_out,
	  .verdict = TC_ACT_OK, .cnt = IN_RELATED, .ct = CT_ONE, .both = 1 },
	/* the pod's own error about a peer's packet */
	{ "pod-port-unreachable", P_FROM_EP, IF_A,
	  { .family = 4, .src = POD_A4, .dst = REM_HI4, .proto = IPPROTO_ICMP, .type = 3,
	    .code = 3, .quote = &udp_in },
	  .pre = &udp_in, .pre_prog = P_TO_EP, .verdict = TC_ACT_OK, .cnt = OUT_RELATED,
	  .ct = CT_ONE, .both = 1 },

	/* errors naming no tracked flow: passed, untracked */
	{ "unknown-flow", P_TO_EP, IF_A, { ERR4(3, 3, &udp_other_port) }, .pre = &udp_out,
	  .verdict = TC_ACT_OK, .cnt = IN_UNTRACKED, .ct = CT_ONE, .both = 1 },
	{ "no-flow-at-all", P_TO_EP, IF_A, { ERR4(3, 3, &udp_out) },
	  .verdict = TC_ACT_OK, .cnt = IN_UNTRACKED, .ct = CT_NONE, .both = 1 },
	/* an error to the pod about the peer's packet to the pod is bogus */
	{ "sent-to-wrong-end", P_TO_EP, IF_A, { ERR4(3, 3, &udp_reverse) }, .pre = &udp_out,
	  .verdict = TC_ACT_OK, .cnt = IN_UNTRACKED, .ct = CT_ONE, .both = 1 },
	{ "quote-of-an-error", P_TO_EP, IF_A, { ERR4(3, 3, &error_about_udp) },
	  .pre = &udp_out, .verdict = TC_ACT_OK, .cnt = IN_UNTRACKED, .ct = CT_ONE, .both = 1 },
	{ "quote-of-later-fragment", P_TO_EP, IF_A, { ERR4(3, 3, &udp_out) },
	  quote_later_fragment, .pre = &udp_out, .verdict = TC_ACT_OK, .cnt = IN_UNTRACKED,
	  .ct = CT_ONE },
	/* informational messages are never tracked */
	{ "redirect", P_TO_EP, IF_A, { ERR4(5, 1, &udp_out) }, .pre = &udp_out,
	  .verdict = TC_ACT_OK, .cnt = IN_UNTRACKED, .ct = CT_ONE },
	{ "router-advert", P_TO_EP, IF_A,
	  { .family = 6, .src = "fe80::1", .dst = "ff02::1", .proto = IPPROTO_ICMPV6,
	    .type = 134, .payload = 16 },
	  .verdict = TC_ACT_OK, .cnt = IN_UNTRACKED, .ct = CT_NONE },
	{ "neighbour-advert", P_TO_EP, IF_A,
	  { .family = 6, .src = ROUTER6, .dst = POD_A6, .proto = IPPROTO_ICMPV6,
	    .type = 136, .payload = 24 },
	  .verdict = TC_ACT_OK, .cnt = IN_UNTRACKED, .ct = CT_NONE },

	/* quotes too short to name a flow */
	{ "quote-empty", P_TO_EP, IF_A, { ERR4(3, 3, NULL) }, .pre = &udp_out,
	  .verdict = TC_ACT_SHOT, .cnt = MALFORMED, .ct = CT_ONE, .both = 1 },
	{ "quote-part-of-ip-header", P_TO_EP, IF_A, { ERR4(3, 3, &udp_out), .quote_len = 12 },
	  .pre = &udp_out, .verdict = TC_ACT_SHOT, .cnt = MALFORMED, .ct = CT_ONE, .both = 1 },
	{ "quote-ip-header-only", P_TO_EP, IF_A, { ERR4(3, 3, &udp_out), .quote_len = 20 },
	  .pre = &udp_out, .verdict = TC_ACT_SHOT, .cnt = MALFORMED, .ct = CT_ONE, .both = 1 },
	{ "quote-4-bytes-of-l4", P_TO_EP, IF_A, { ERR4(3, 3, &udp_out), .quote_len = 24 },
	  .pre = &udp_out, .verdict = TC_ACT_SHOT, .cnt = MALFORMED, .ct = CT_ONE, .both = 1 },
	/* the IP length decides, not what the frame happens to hold after it */
	{ "quote-4-bytes-of-l4-padded", P_TO_EP, IF_A, { ERR4(3, 3, &udp_out), .quote_len = 24 },
	  pad10, .pre = &udp_out, .verdict = TC_ACT_SHOT, .cnt = MALFORMED, .ct = CT_ONE,
	  .both = 1 },
	{ "quote-7-bytes-of-l4", P_TO_EP, IF_A, { ERR4(11, 0, &tcp_out), .quote_len = 27 },
	  .pre = &tcp_out, .verdict = TC_ACT_SHOT, .cnt = MALFORMED, .ct = CT_ONE,
	  .ct_state = TERN_CT_SYN_SENT, .both = 1 },
	{ "quote-options-cut", P_TO_EP, IF_A, { ERR4(3, 3, &udp_out_opts), .quote_len = 32 },
	  .pre = &udp_out, .verdict = TC_ACT_SHOT, .cnt = MALFORMED, .ct = CT_ONE },
	{ "quote-ext-header-cut", P_TO_EP, IF_A, { ERR6(1, 4, &udp_out6_ext), .quote_len = 52 },
	  .pre = &udp_out6, .verdict = TC_ACT_SHOT, .cnt = MALFORMED, .ct = CT_ONE },
	{ "quote-ihl-4", P_TO_EP, IF_A, { ERR4(3, 3, &udp_out) }, quote_ihl4, .pre = &udp_out,
	  .verdict = TC_ACT_SHOT, .cnt = MALFORMED, .ct = CT_ONE },
	{ "quote-wrong-version", P_TO_EP, IF_A, { ERR4(3, 3, &udp_out) }, quote_version,
	  .pre = &udp_out, .verdict = TC_ACT_SHOT, .cnt = MALFORMED, .ct = CT_ONE, .both = 1 },
	/* errors are never fragmented (RFC 1812 4.3.2.3 keeps them small) */
	{ "error-fragmented", P_TO_EP, IF_A, { ERR4(3, 3, &udp_out) }, error_fragmented,
	  .pre = &udp_out, .verdict = TC_ACT_SHOT, .cnt = MALFORMED, .ct = CT_ONE },
};

void test_icmp(void)
{
	run_pcases("icmp", icmp_cases, ARRAY_SIZE(icmp_cases));
}
