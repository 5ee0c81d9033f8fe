/* Parsing: what each header stack is taken to be (the conntrack entry it
 * leaves shows which ports were read), and what is malformed. Most cases go
 * through tern_from_ep on pod A: every program shares parse_packet. */
#include <netinet/in.h>

#include "harness.h"

#define PASS_NEW (C(RX) | C(CT_NEW) | C(TO_STACK))
#define MALFORMED (C(RX) | C(DROP_MALFORMED))

/* the pod's own packets, to a remote above it */
#define TCP4(f) .family = 4, .src = POD_A4, .dst = REM_HI4, .proto = IPPROTO_TCP, \
		.sport = 40000, .dport = 80, .flags = (f)
#define UDP4 .family = 4, .src = POD_A4, .dst = REM_HI4, .proto = IPPROTO_UDP, \
	     .sport = 5353, .dport = 53
#define UDP6 .family = 6, .src = POD_A6, .dst = REM_HI6, .proto = IPPROTO_UDP, \
	     .sport = 5353, .dport = 53
#define TCP6(f) .family = 6, .src = POD_A6, .dst = REM_HI6, .proto = IPPROTO_TCP, \
		.sport = 40000, .dport = 80, .flags = (f)

static uint16_t get16(const uint8_t *b)
{
	return (uint16_t)(b[0] << 8 | b[1]);
}

static void put16(uint8_t *b, uint16_t v)
{
	b[0] = v >> 8;
	b[1] = v & 0xff;
}

/* The IP length field, as if the datagram were len bytes of L3 payload;
 * the IPv4 header checksum stays right so only the length is wrong. */
static void ip_payload_len(struct pkt *p, size_t len)
{
	uint8_t *ip = p->b + p->l3;

	if (p->family == 4) {
		put16(ip + 2, (uint16_t)(len + (ip[0] & 15) * 4));
		put16(ip + 10, 0);
		put16(ip + 10, (uint16_t)~pkt_csum16(ip, (ip[0] & 15) * 4));
	} else {
		put16(ip + 4, (uint16_t)len);
	}
}

static size_t ip_payload(const struct pkt *p)
{
	const uint8_t *ip = p->b + p->l3;

	return p->family == 4 ? get16(ip + 2) - (ip[0] & 15) * 4u : get16(ip + 4);
}

/* the IP datagram ends n bytes into the L4 header; the frame keeps the
 * rest as if it were Ethernet padding */
static void l4_cut(struct pkt *p, size_t n)
{
	size_t hdrs = (size_t)p->l4 - p->l3 - (p->family == 4 ? (p->b[p->l3] & 15) * 4u : 40u);

	ip_payload_len(p, hdrs + n);
}

static void iplen_plus1(struct pkt *p)
{
	ip_payload_len(p, ip_payload(p) + 1);
}

static void ip4_tot0(struct pkt *p)
{
	put16(p->b + p->l3 + 2, 0);
}

/* BIG TCP: GRO built a datagram longer than 64k and left the length
 * field 0; the skb (gso_size set) knows the length */
static void iplen0(struct pkt *p)
{
	uint8_t *ip = p->b + p->l3;

	if (p->family == 6) {
		put16(ip + 4, 0);
		return;
	}
	put16(ip + 2, 0);
	put16(ip + 10, 0);
	put16(ip + 10, (uint16_t)~pkt_csum16(ip, (ip[0] & 15) * 4));
}

static void ip4_tot19(struct pkt *p)
{
	put16(p->b + p->l3 + 2, 19);
}

static void ip4_ihl4(struct pkt *p)
{
	p->b[p->l3] = 0x44;
}

static void ip4_ihl0(struct pkt *p)
{
	p->b[p->l3] = 0x40;
}

static void ip4_ihl15(struct pkt *p)
{
	p->b[p->l3] = 0x4f;
}

static void version6(struct pkt *p)
{
	p->b[p->l3] = (uint8_t)(0x60 | (p->b[p->l3] & 15));
}

static void version4(struct pkt *p)
{
	p->b[p->l3] = (uint8_t)(0x40 | (p->b[p->l3] & 15));
}

static void version0(struct pkt *p)
{
	p->b[p->l3] &= 15;
}

static void doff4(struct pkt *p)
{
	p->b[p->l4 + 12] = 4 << 4;
}

static void doff0(struct pkt *p)
{
	p->b[p->l4 + 12] = 0;
}

static void doff15(struct pkt *p)
{
	p->b[p->l4 + 12] = 15 << 4;
}

static void doff6(struct pkt *p)
{
	p->b[p->l4 + 12] = 6 << 4;
}

static void l4_cut4(struct pkt *p)
{
	l4_cut(p, 4);
}

static void l4_cut7(struct pkt *p)
{
	l4_cut(p, 7);
}

static void l4_cut11(struct pkt *p)
{
	l4_cut(p, 11);
}

static void l4_cut19(struct pkt *p)
{
	l4_cut(p, 19);
}

/* the IPv6 payload ends inside the first extension header */
static void ext_cut(struct pkt *p)
{
	ip_payload_len(p, 4);
}

/* the first extension header claims more bytes than the datagram holds */
static void ext_overlong(struct pkt *p)
{
	p->b[p->l3 + 40 + 1] = 200;
}

static void pad6(struct pkt *p)
{
	pkt_append(p, "\0\0\0\0\0\0", 6);
}

static void pad46(struct pkt *p)
{
	static const uint8_t zero[46];

	pkt_append(p, zero, sizeof(zero));
}

static const struct pkt_spec tcp4_flow = { TCP4(TH_ACK) }; /* picked up: ESTABLISHED */

static const struct pcase parse_cases[] = {
	/* what passes, and the flow it is taken for */
	{ "tcp-syn", P_FROM_EP, IF_A, { TCP4(TH_SYN) }, .verdict = TC_ACT_OK,
	  .cnt = PASS_NEW, .ct = CT_ONE, .ct_state = TERN_CT_SYN_SENT, .both = 1 },
	{ "tcp-options-40", P_FROM_EP, IF_A, { TCP4(TH_SYN), .tcp_opts = 40, .payload = 3 },
	  .verdict = TC_ACT_OK, .cnt = PASS_NEW, .ct = CT_ONE, .ct_state = TERN_CT_SYN_SENT,
	  .both = 1 },
	{ "ip4-options-4-udp", P_FROM_EP, IF_A, { UDP4, .ip_opts = 4 }, .verdict = TC_ACT_OK,
	  .cnt = PASS_NEW, .ct = CT_ONE, .ct_state = TERN_CT_NEW },
	{ "ip4-options-8-tcp", P_FROM_EP, IF_A, { TCP4(TH_SYN), .ip_opts = 8 },
	  .verdict = TC_ACT_OK, .cnt = PASS_NEW, .ct = CT_ONE, .ct_state = TERN_CT_SYN_SENT },
	{ "ip4-options-40-tcp-options-40", P_FROM_EP, IF_A,
	  { TCP4(TH_SYN), .ip_opts = 40, .tcp_opts = 40 }, .verdict = TC_ACT_OK,
	  .cnt = PASS_NEW, .ct = CT_ONE, .ct_state = TERN_CT_SYN_SENT },
	{ "sctp", P_FROM_EP, IF_A, { .family = 4, .src = POD_A4, .dst = REM_HI4,
				     .proto = IPPROTO_SCTP, .sport = 2905, .dport = 2906,
				     .payload = 16 },
	  .verdict = TC_ACT_OK, .cnt = PASS_NEW, .ct = CT_ONE, .ct_state = TERN_CT_NEW, .both = 1 },
	/* unknown protocols are flows with ports 0 */
	{ "proto-253", P_FROM_EP, IF_A, { .family = 4, .src = POD_A4, .dst = REM_HI4,
					  .proto = 253, .payload = 12 },
	  .verdict = TC_ACT_OK, .cnt = PASS_NEW, .ct = CT_ONE, .ct_state = TERN_CT_NEW, .both = 1 },
	{ "proto-gre", P_FROM_EP, IF_A, { .family = 4, .src = POD_A4, .dst = REM_HI4,
					  .proto = 47, .payload = 4 },
	  .verdict = TC_ACT_OK, .cnt = PASS_NEW, .ct = CT_ONE, .ct_state = TERN_CT_NEW, .both = 1 },
	{ "ip6-no-next-header", P_FROM_EP, IF_A, { .family = 6, .src = POD_A6, .dst = REM_HI6,
						   .proto = 59 },
	  .verdict = TC_ACT_OK, .cnt = PASS_NEW, .ct = CT_ONE, .ct_state = TERN_CT_NEW },

	/* IPv6 extension headers, one of each kind, then chains */
	{ "ext-hopopts", P_FROM_EP, IF_A, { UDP6, .n_ext = 1, .ext = { IPPROTO_HOPOPTS } },
	  .verdict = TC_ACT_OK, .cnt = PASS_NEW, .ct = CT_ONE },
	{ "ext-routing", P_FROM_EP, IF_A, { UDP6, .n_ext = 1, .ext = { IPPROTO_ROUTING } },
	  .verdict = TC_ACT_OK, .cnt = PASS_NEW, .ct = CT_ONE },
	{ "ext-dstopts", P_FROM_EP, IF_A, { UDP6, .n_ext = 1, .ext = { IPPROTO_DSTOPTS } },
	  .verdict = TC_ACT_OK, .cnt = PASS_NEW, .ct = CT_ONE },
	{ "ext-atomic-fragment", P_FROM_EP, IF_A, { UDP6, .n_ext = 1, .ext = { IPPROTO_FRAGMENT } },
	  .verdict = TC_ACT_OK, .cnt = PASS_NEW, .ct = CT_ONE },
	{ "ext-ah", P_FROM_EP, IF_A, { UDP6, .n_ext = 1, .ext = { IPPROTO_AH } },
	  .verdict = TC_ACT_OK, .cnt = PASS_NEW, .ct = CT_ONE },
	{ "ext-ah-16", P_FROM_EP, IF_A,
	  { UDP6, .n_ext = 1, .ext = { IPPROTO_AH }, .ext_len = { 16 } },
	  .verdict = TC_ACT_OK, .cnt = PASS_NEW, .ct = CT_ONE },
	{ "ext-mobility", P_FROM_EP, IF_A, { UDP6, .n_ext = 1, .ext = { 135 } },
	  .verdict = TC_ACT_OK, .cnt = PASS_NEW, .ct = CT_ONE },
	{ "ext-hip", P_FROM_EP, IF_A, { UDP6, .n_ext = 1, .ext = { 139 } },
	  .verdict = TC_ACT_OK, .cnt = PASS_NEW, .ct = CT_ONE },
	{ "ext-shim6", P_FROM_EP, IF_A, { UDP6, .n_ext = 1, .ext = { 140 } },
	  .verdict = TC_ACT_OK, .cnt = PASS_NEW, .ct = CT_ONE },
	{ "ext-hopopts-64", P_FROM_EP, IF_A,
	  { TCP6(TH_SYN), .n_ext = 1, .ext = { IPPROTO_HOPOPTS }, .ext_len = { 64 } },
	  .verdict = TC_ACT_OK, .cnt = PASS_NEW, .ct = CT_ONE, .ct_state = TERN_CT_SYN_SENT },
	{ "ext-chain-4", P_FROM_EP, IF_A,
	  { UDP6, .n_ext = 4,
	    .ext = { IPPROTO_HOPOPTS, IPPROTO_DSTOPTS, IPPROTO_ROUTING, IPPROTO_DSTOPTS },
	    .ext_len = { 16, 8, 24, 8 } },
	  .verdict = TC_ACT_OK, .cnt = PASS_NEW, .ct = CT_ONE },
	{ "ext-chain-5-tcp", P_FROM_EP, IF_A,
	  { TCP6(TH_SYN), .n_ext = 5,
	    .ext = { IPPROTO_HOPOPTS, IPPROTO_ROUTING, IPPROTO_FRAGMENT, IPPROTO_AH,
		     IPPROTO_DSTOPTS } },
	  .verdict = TC_ACT_OK, .cnt = PASS_NEW, .ct = CT_ONE, .ct_state = TERN_CT_SYN_SENT },
	{ "ext-chain-sctp", P_FROM_EP, IF_A,
	  { .family = 6, .src = POD_A6, .dst = REM_HI6, .proto = IPPROTO_SCTP, .sport = 9,
	    .dport = 10, .n_ext = 2, .ext = { IPPROTO_HOPOPTS, IPPROTO_DSTOPTS } },
	  .verdict = TC_ACT_OK, .cnt = PASS_NEW, .ct = CT_ONE },
	/* the walk's limit: 8 headers parse, a 9th is a chain too long to trust */
	{ "ext-chain-8", P_FROM_EP, IF_A,
	  { UDP6, .n_ext = 8,
	    .ext = { IPPROTO_HOPOPTS, IPPROTO_DSTOPTS, IPPROTO_ROUTING, IPPROTO_DSTOPTS,
		     IPPROTO_AH, IPPROTO_DSTOPTS, IPPROTO_DSTOPTS, IPPROTO_DSTOPTS } },
	  .verdict = TC_ACT_OK, .cnt = PASS_NEW, .ct = CT_ONE },
	{ "ext-chain-9", P_FROM_EP, IF_A,
	  { UDP6, .n_ext = 9,
	    .ext = { IPPROTO_HOPOPTS, IPPROTO_DSTOPTS, IPPROTO_ROUTING, IPPROTO_DSTOPTS,
		     IPPROTO_AH, IPPROTO_DSTOPTS, IPPROTO_DSTOPTS, IPPROTO_DSTOPTS,
		     IPPROTO_DSTOPTS } },
	  .verdict = TC_ACT_SHOT, .cnt = MALFORMED, .ct = CT_NONE },
	{ "ext-chain-9-tcp", P_FROM_EP, IF_A,
	  { TCP6(TH_SYN), .n_ext = 9,
	    .ext = { IPPROTO_HOPOPTS, IPPROTO_DSTOPTS, IPPROTO_DSTOPTS, IPPROTO_DSTOPTS,
		     IPPROTO_DSTOPTS, IPPROTO_DSTOPTS, IPPROTO_DSTOPTS, IPPROTO_DSTOPTS,
		     IPPROTO_DSTOPTS } },
	  .verdict = TC_ACT_SHOT, .cnt = MALFORMED, .ct = CT_NONE },
	/* headers are read within the first 256 bytes (parse.h): one ending
	 * at 246 parses, one beyond is malformed rather than guessed at */
	{ "ext-within-parse-window", P_FROM_EP, IF_A,
	  { UDP6, .n_ext = 1, .ext = { IPPROTO_HOPOPTS }, .ext_len = { 192 } },
	  .verdict = TC_ACT_OK, .cnt = PASS_NEW, .ct = CT_ONE },
	{ "ext-past-parse-window", P_FROM_EP, IF_A,
	  { UDP6, .n_ext = 1, .ext = { IPPROTO_HOPOPTS }, .ext_len = { 256 } },
	  .verdict = TC_ACT_SHOT, .cnt = MALFORMED, .ct = CT_NONE },
	{ "ext-cut-by-payload-length", P_FROM_EP, IF_A,
	  { UDP6, .n_ext = 1, .ext = { IPPROTO_DSTOPTS }, .ext_len = { 16 } }, ext_cut,
	  .verdict = TC_ACT_SHOT, .cnt = MALFORMED, .ct = CT_NONE },
	{ "ext-longer-than-packet", P_FROM_EP, IF_A,
	  { UDP6, .n_ext = 1, .ext = { IPPROTO_DSTOPTS } }, ext_overlong,
	  .verdict = TC_ACT_SHOT, .cnt = MALFORMED, .ct = CT_NONE },

	/* IPv4-mapped addresses in IPv6 headers: the maps store IPv4 that way,
	 * so such a packet would be taken for an IPv4 flow (below: a reset
	 * closing one) */
	{ "ip6-v4-mapped-source", P_FROM_EP, IF_A,
	  { .family = 6, .src = "::ffff:10.1.0.2", .dst = REM_HI6, .proto = IPPROTO_UDP,
	    .sport = 1, .dport = 2 },
	  .verdict = TC_ACT_SHOT, .cnt = MALFORMED, .ct = CT_NONE },
	{ "ip6-v4-mapped-destination", P_FROM_EP, IF_A,
	  { .family = 6, .src = POD_A6, .dst = "::ffff:192.0.2.10", .proto = IPPROTO_UDP,
	    .sport = 1, .dport = 2 },
	  .verdict = TC_ACT_SHOT, .cnt = MALFORMED, .ct = CT_NONE },
	{ "ip6-v4-mapped-rst-for-ip4-flow", P_TO_EP, IF_A,
	  { .family = 6, .src = "::ffff:192.0.2.10", .dst = "::ffff:10.1.0.2",
	    .proto = IPPROTO_TCP, .sport = 80, .dport = 40000, .flags = TH_RST },
	  .pre = &tcp4_flow, .verdict = TC_ACT_SHOT, .cnt = MALFORMED, .ct = CT_ONE,
	  .ct_state = TERN_CT_ESTABLISHED },

	/* ICMP in the wrong family */
	{ "icmp6-in-ipv4", P_FROM_EP, IF_A, { .family = 4, .src = POD_A4, .dst = REM_HI4,
					      .proto = IPPROTO_ICMPV6, .type = 128, .id = 1 },
	  .verdict = TC_ACT_SHOT, .cnt = MALFORMED, .ct = CT_NONE },
	{ "icmp4-in-ipv6", P_FROM_EP, IF_A, { .family = 6, .src = POD_A6, .dst = REM_HI6,
					      .proto = IPPROTO_ICMP, .type = 8, .id = 1 },
	  .verdict = TC_ACT_SHOT, .cnt = MALFORMED, .ct = CT_NONE },

	/* broken IP headers */
	{ "ip4-total-length-past-frame", P_FROM_EP, IF_A, { TCP4(TH_SYN) }, iplen_plus1,
	  .verdict = TC_ACT_SHOT, .cnt = MALFORMED, .ct = CT_NONE, .both = 1 },
	{ "ip4-total-length-0", P_FROM_EP, IF_A, { TCP4(TH_SYN) }, ip4_tot0,
	  .verdict = TC_ACT_SHOT, .cnt = MALFORMED, .ct = CT_NONE },
	{ "big-tcp-length-0-with-gso", P_FROM_EP, IF_A, { TCP4(TH_ACK), .payload = 200 }, iplen0,
	  .verdict = TC_ACT_OK, .cnt = PASS_NEW, .ct = CT_ONE, .ct_state = TERN_CT_ESTABLISHED,
	  .both = 1, .gso_size = 100 },
	{ "length-0-without-gso", P_FROM_EP, IF_A, { TCP4(TH_ACK), .payload = 200 }, iplen0,
	  .verdict = TC_ACT_SHOT, .cnt = MALFORMED, .ct = CT_NONE, .both = 1 },
	{ "ip4-total-length-below-ihl", P_FROM_EP, IF_A, { TCP4(TH_SYN) }, ip4_tot19,
	  .verdict = TC_ACT_SHOT, .cnt = MALFORMED, .ct = CT_NONE },
	{ "ip4-ihl-4", P_FROM_EP, IF_A, { TCP4(TH_SYN) }, ip4_ihl4,
	  .verdict = TC_ACT_SHOT, .cnt = MALFORMED, .ct = CT_NONE },
	{ "ip4-ihl-0", P_FROM_EP, IF_A, { TCP4(TH_SYN) }, ip4_ihl0,
	  .verdict = TC_ACT_SHOT, .cnt = MALFORMED, .ct = CT_NONE },
	{ "ip4-ihl-past-total-length", P_FROM_EP, IF_A, { TCP4(TH_SYN) }, ip4_ihl15,
	  .verdict = TC_ACT_SHOT, .cnt = MALFORMED, .ct = CT_NONE },
	{ "ip4-version-6", P_FROM_EP, IF_A, { TCP4(TH_SYN) }, version6,
	  .verdict = TC_ACT_SHOT, .cnt = MALFORMED, .ct = CT_NONE },
	{ "ip4-version-0", P_FROM_EP, IF_A, { TCP4(TH_SYN) }, version0,
	  .verdict = TC_ACT_SHOT, .cnt = MALFORMED, .ct = CT_NONE },
	{ "ip6-version-4", P_FROM_EP, IF_A, { TCP6(TH_SYN) }, version4,
	  .verdict = TC_ACT_SHOT, .cnt = MALFORMED, .ct = CT_NONE },
	{ "ip6-version-0", P_FROM_EP, IF_A, { TCP6(TH_SYN) }, version0,
	  .verdict = TC_ACT_SHOT, .cnt = MALFORMED, .ct = CT_NONE },

	/* L4 headers that do not fit the IP datagram, even where the frame
	 * (as padding) holds the bytes */
	{ "tcp-doff-4", P_FROM_EP, IF_A, { TCP4(TH_SYN), .payload = 8 }, doff4,
	  .verdict = TC_ACT_SHOT, .cnt = MALFORMED, .ct = CT_NONE, .both = 1 },
	{ "tcp-doff-0", P_FROM_EP, IF_A, { TCP4(TH_SYN), .payload = 8 }, doff0,
	  .verdict = TC_ACT_SHOT, .cnt = MALFORMED, .ct = CT_NONE, .both = 1 },
	{ "tcp-doff-past-ip-length", P_FROM_EP, IF_A, { TCP4(TH_SYN) }, doff6,
	  .verdict = TC_ACT_SHOT, .cnt = MALFORMED, .ct = CT_NONE, .both = 1 },
	{ "tcp-doff-15-past-ip-length", P_FROM_EP, IF_A, { TCP4(TH_SYN), .payload = 36 }, doff15,
	  .verdict = TC_ACT_SHOT, .cnt = MALFORMED, .ct = CT_NONE, .both = 1 },
	{ "tcp-19-bytes-in-ip-length", P_FROM_EP, IF_A, { TCP4(TH_SYN), .payload = 8 }, l4_cut19,
	  .verdict = TC_ACT_SHOT, .cnt = MALFORMED, .ct = CT_NONE, .both = 1 },
	{ "udp-7-bytes-in-ip-length", P_FROM_EP, IF_A, { UDP4, .payload = 8 }, l4_cut7,
	  .verdict = TC_ACT_SHOT, .cnt = MALFORMED, .ct = CT_NONE, .both = 1 },
	{ "sctp-11-bytes-in-ip-length", P_FROM_EP, IF_A,
	  { .family = 4, .src = POD_A4, .dst = REM_HI4, .proto = IPPROTO_SCTP, .sport = 1,
	    .dport = 2, .payload = 8 }, l4_cut11,
	  .verdict = TC_ACT_SHOT, .cnt = MALFORMED, .ct = CT_NONE, .both = 1 },
	{ "icmp-4-bytes-in-ip-length", P_FROM_EP, IF_A,
	  { .family = 4, .src = POD_A4, .dst = REM_HI4, .proto = IPPROTO_ICMP, .type = 8,
	    .id = 3, .payload = 8 }, l4_cut4,
	  .verdict = TC_ACT_SHOT, .cnt = MALFORMED, .ct = CT_NONE, .both = 1 },
	/* ... and exactly enough is fine */
	/* frames longer than their IP datagram: Ethernet padding */
	{ "padded-tcp-syn", P_FROM_EP, IF_A, { TCP4(TH_SYN) }, pad6, .verdict = TC_ACT_OK,
	  .cnt = PASS_NEW, .ct = CT_ONE, .ct_state = TERN_CT_SYN_SENT, .both = 1 },
	{ "padded-udp-46", P_FROM_EP, IF_A, { UDP4 }, pad46, .verdict = TC_ACT_OK,
	  .cnt = PASS_NEW, .ct = CT_ONE, .both = 1 },
	{ "padded-ext-chain", P_FROM_EP, IF_A,
	  { UDP6, .n_ext = 2, .ext = { IPPROTO_HOPOPTS, IPPROTO_DSTOPTS } }, pad6,
	  .verdict = TC_ACT_OK, .cnt = PASS_NEW, .ct = CT_ONE },

	/* non-IP frames: a pod may ARP, nothing else; the node's own
	 * interfaces and the way to pods pass them untouched */
	{ "arp-from-pod", P_FROM_EP, IF_A, { .ethertype = 0x0806, .payload = 28 },
	  .verdict = TC_ACT_OK, .cnt = C(RX) | C(TO_STACK), .ct = CT_NONE },
	{ "vlan-from-pod", P_FROM_EP, IF_A, { .ethertype = 0x8100, .payload = 46 },
	  .verdict = TC_ACT_SHOT, .cnt = C(RX) | C(DROP_ETHERTYPE), .ct = CT_NONE },
	{ "lldp-from-pod", P_FROM_EP, IF_A, { .ethertype = 0x88cc, .payload = 46 },
	  .verdict = TC_ACT_SHOT, .cnt = C(RX) | C(DROP_ETHERTYPE), .ct = CT_NONE },
	{ "ethertype-0-from-pod", P_FROM_EP, IF_A, { .ethertype = 0, .payload = 46 },
	  .verdict = TC_ACT_SHOT, .cnt = C(RX) | C(DROP_ETHERTYPE), .ct = CT_NONE },
	{ "arp-to-pod", P_TO_EP, IF_A, { .ethertype = 0x0806, .payload = 28 },
	  .verdict = TC_ACT_OK, .cnt = C(RX), .ct = CT_NONE },
	{ "lldp-to-pod", P_TO_EP, IF_A, { .ethertype = 0x88cc, .payload = 46 },
	  .verdict = TC_ACT_OK, .cnt = C(RX), .ct = CT_NONE },
	{ "arp-host-in", P_HOST_IN, IF_DATA, { .ethertype = 0x0806, .payload = 28 },
	  .verdict = TC_ACT_OK, .cnt = C(RX), .ct = CT_NONE },
	{ "vlan-host-in", P_HOST_IN, IF_DATA, { .ethertype = 0x8100, .payload = 46 },
	  .verdict = TC_ACT_OK, .cnt = C(RX), .ct = CT_NONE },
	{ "lldp-host-out", P_HOST_OUT, IF_DATA, { .ethertype = 0x88cc, .payload = 46 },
	  .verdict = TC_ACT_OK, .cnt = C(RX), .ct = CT_NONE },
	{ "arp-bare-header", P_FROM_EP, IF_A, { .ethertype = 0x0806 },
	  .verdict = TC_ACT_OK, .cnt = C(RX) | C(TO_STACK), .ct = CT_NONE },

	/* the data interfaces: host_in tracks only what goes to local pods,
	 * host_out nothing, but both drop what does not parse */
	{ "host-in-not-local-untracked", P_HOST_IN, IF_DATA,
	  { .family = 4, .src = REM_HI4, .dst = REM_LO4, .proto = IPPROTO_UDP, .sport = 1,
	    .dport = 2 },
	  .verdict = TC_ACT_OK, .cnt = C(RX) | C(TO_STACK), .ct = CT_NONE, .both = 1 },
	{ "host-out-untracked", P_HOST_OUT, IF_DATA, { UDP4 },
	  .verdict = TC_ACT_OK, .cnt = C(RX), .ct = CT_NONE, .both = 1 },
	{ "host-in-malformed", P_HOST_IN, IF_DATA, { TCP4(TH_SYN) }, doff4,
	  .verdict = TC_ACT_SHOT, .cnt = MALFORMED, .ct = CT_NONE, .both = 1 },
	{ "host-out-malformed", P_HOST_OUT, IF_DATA, { TCP4(TH_SYN) }, doff4,
	  .verdict = TC_ACT_SHOT, .cnt = MALFORMED, .ct = CT_NONE, .both = 1 },
	{ "to-ep-malformed", P_TO_EP, IF_A, { TCP4(TH_SYN) }, doff4,
	  .verdict = TC_ACT_SHOT, .cnt = MALFORMED, .ct = CT_NONE, .both = 1 },
};

void test_parse(void)
{
	run_pcases("parse", parse_cases, ARRAY_SIZE(parse_cases));
}
