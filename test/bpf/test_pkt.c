/* The packet builder and checksum checker themselves: known answers
 * computed outside this code, and corruption the checker must notice. Every
 * other group trusts these two. */
#include <netinet/in.h>
#include <string.h>

#include "harness.h"

static uint16_t get16(const uint8_t *b)
{
	return (uint16_t)(b[0] << 8 | b[1]);
}

/* Known answers: RFC 1071 sums worked out by an independent script. */
static void pkt_known_answers(void)
{
	struct pkt p;

	/* the classic example header 4500 0073 0000 4000 4011 b861 c0a8 0001 c0a8 00c7 */
	case_begin("bpf/pkt/known-ipv4-header");
	pkt_eth(&p, 0x0800);
	pkt_ip4(&p, "192.168.0.1", "192.168.0.199");
	pkt_payload(&p, 0x73 - 20);
	p.b[p.l3 + 4] = p.b[p.l3 + 5] = 0;
	p.b[p.l3 + 6] = 0x40;
	p.b[p.l3 + 9] = 17;
	pkt_finish(&p);
	if (get16(p.b + p.l3 + 10) != 0xb861)
		case_fail("checksum %04x, want b861", get16(p.b + p.l3 + 10));
	case_end();

	case_begin("bpf/pkt/known-tcp4");
	pkt_build(&p, &(struct pkt_spec){ .family = 4, .src = POD_A4, .dst = REM_LO4,
					  .proto = IPPROTO_TCP, .sport = 40000, .dport = 80,
					  .flags = TH_SYN });
	if (get16(p.b + p.l4 + 16) != 0xfa81)
		case_fail("checksum %04x, want fa81", get16(p.b + p.l4 + 16));
	case_end();

	case_begin("bpf/pkt/known-udp6");
	pkt_build(&p, &(struct pkt_spec){ .family = 6, .src = POD_A6, .dst = REM_LO6,
					  .proto = IPPROTO_UDP, .sport = 5000, .dport = 53,
					  .payload = 4 });
	if (get16(p.b + p.l4 + 6) != 0x2e40)
		case_fail("checksum %04x, want 2e40", get16(p.b + p.l4 + 6));
	case_end();

	case_begin("bpf/pkt/known-icmp6-echo");
	pkt_build(&p, &(struct pkt_spec){ .family = 6, .src = POD_A6, .dst = REM_HI6,
					  .proto = IPPROTO_ICMPV6, .type = 128, .id = 0x77 });
	if (get16(p.b + p.l4 + 2) != 0x8536)
		case_fail("checksum %04x, want 8536", get16(p.b + p.l4 + 2));
	case_end();
}

static const struct pkt_spec quoted_udp = {
	.family = 4, .src = POD_A4, .dst = REM_HI4, .proto = IPPROTO_UDP,
	.sport = 5000, .dport = 53, .payload = 30,
};

/* Every kind the builder makes passes the checker; any flipped byte after
 * the Ethernet header fails it. */
static const struct {
	const char *name;
	struct pkt_spec s;
} kinds[] = {
	{ "tcp4-opts", { .family = 4, .src = POD_A4, .dst = REM_HI4, .proto = IPPROTO_TCP,
			 .sport = 1, .dport = 2, .flags = TH_SYN, .tcp_opts = 8, .ip_opts = 8,
			 .payload = 7 } },
	{ "udp4", { .family = 4, .src = POD_A4, .dst = REM_HI4, .proto = IPPROTO_UDP,
		    .sport = 1, .dport = 2, .payload = 5 } },
	{ "sctp4", { .family = 4, .src = POD_A4, .dst = REM_HI4, .proto = IPPROTO_SCTP,
		     .sport = 1, .dport = 2, .payload = 16 } },
	{ "icmp4-echo", { .family = 4, .src = POD_A4, .dst = REM_HI4, .proto = IPPROTO_ICMP,
			  .type = 8, .id = 9, .payload = 3 } },
	{ "icmp4-error", { .family = 4, .src = ROUTER4, .dst = POD_A4, .proto = IPPROTO_ICMP,
			   .type = 3, .code = 3, .quote = &quoted_udp, .quote_len = 28 } },
	{ "tcp6-ext", { .family = 6, .src = POD_A6, .dst = REM_HI6, .proto = IPPROTO_TCP,
			.sport = 1, .dport = 2, .flags = TH_ACK, .n_ext = 5,
			.ext = { IPPROTO_HOPOPTS, IPPROTO_DSTOPTS, IPPROTO_ROUTING,
				 IPPROTO_FRAGMENT, IPPROTO_AH },
			.payload = 9 } },
	{ "udp6", { .family = 6, .src = POD_A6, .dst = REM_HI6, .proto = IPPROTO_UDP,
		    .sport = 1, .dport = 2, .payload = 1 } },
	{ "sctp6", { .family = 6, .src = POD_A6, .dst = REM_HI6, .proto = IPPROTO_SCTP,
		     .sport = 1, .dport = 2, .payload = 4 } },
	{ "icmp6-echo", { .family = 6, .src = POD_A6, .dst = REM_HI6, .proto = IPPROTO_ICMPV6,
			  .type = 128, .id = 9, .payload = 3 } },
};

/* Bytes no checksum covers: the start of the IPv6 header (version, class,
 * flow label, length, next header, hop limit), IPv6 extension headers, and
 * IPv6 addresses under SCTP, whose CRC has no pseudo-header. */
static int covered(const struct pkt *p, size_t off)
{
	if (p->family != 6)
		return 1;
	if (off < 14 + 8 || (off >= 14 + 40 && off < (size_t)p->l4))
		return 0;
	return p->proto != IPPROTO_SCTP || off >= 14 + 40;
}

static void pkt_checker(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(kinds); i++) {
		struct pkt p;
		char why[160];

		case_begin("bpf/pkt/checker-%s", kinds[i].name);
		pkt_build(&p, &kinds[i].s);
		if (pkt_check_csums(p.b, p.len, why, sizeof(why)))
			case_fail("built packet fails the checker: %s", why);
		for (size_t off = 14; off < p.len; off++) {
			if (!covered(&p, off))
				continue;
			p.b[off] ^= 0x10;
			if (pkt_check_csums(p.b, p.len, why, sizeof(why)) == 0)
				case_fail("byte %zu flipped, the checker did not notice", off);
			p.b[off] ^= 0x10;
		}
		case_end();
	}
}

/* Fragments put back together give the datagram's bytes. */
static void pkt_fragments(void)
{
	static const struct pkt_spec s4 = { .family = 4, .src = POD_A4, .dst = REM_HI4,
					    .proto = IPPROTO_UDP, .sport = 1, .dport = 2,
					    .payload = 40 };
	struct pkt_spec s6 = s4;
	const struct pkt_spec *specs[2] = { &s4, &s6 };

	s6.family = 6;
	s6.src = POD_A6;
	s6.dst = REM_HI6;
	for (int i = 0; i < 2; i++) {
		struct pkt whole, f1, f2;
		uint8_t joined[PKT_MAX];
		char why[160];
		size_t body, hdr;

		case_begin("bpf/pkt/fragments-v%d", i ? 6 : 4);
		pkt_build(&whole, specs[i]);
		body = whole.len - whole.l4;
		pkt_fragment(&f1, &whole, 0, 16, 1, 77);
		pkt_fragment(&f2, &whole, 16, body - 16, 0, 77);
		hdr = (size_t)f1.l4;
		if (f2.len - hdr != body - 16 || f1.len - hdr != 16)
			case_fail("fragment sizes %zu + %zu, want 16 + %zu", f1.len - hdr,
				  f2.len - hdr, body - 16);
		memcpy(joined, f1.b + hdr, 16);
		memcpy(joined + 16, f2.b + hdr, body - 16);
		expect_bytes("reassembled", joined, body, whole.b + whole.l4, body);
		if (pkt_check_csums(f1.b, f1.len, why, sizeof(why)) ||
		    pkt_check_csums(f2.b, f2.len, why, sizeof(why)))
			case_fail("fragment: %s", why);
		case_end();
	}
}

void test_pkt(void)
{
	pkt_known_answers();
	pkt_checker();
	pkt_fragments();
}
