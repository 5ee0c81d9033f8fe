/* Truncation: every packet kind cut at every length from 14 bytes (an
 * Ethernet header) to one byte short, through every program. Each cut
 * leaves an IP length longer than the frame, so each must be dropped as
 * malformed and counted, never parsed from bytes that are not there. The
 * same packets with Ethernet padding must pass unchanged.
 *
 * BPF_PROG_TEST_RUN (6.18) refuses IP frames shorter than the fixed IP
 * header; those lengths are sent through the real veth with the program
 * attached (run_wire), as such frames reach tc on a real interface too. */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"

static const struct pkt_spec udp_to_pod = {
	.family = 4, .src = REM_HI4, .dst = POD_A4, .proto = IPPROTO_UDP,
	.sport = 53, .dport = 5353, .payload = 12,
};
static const struct pkt_spec tcp_to_pod = {
	.family = 4, .src = REM_HI4, .dst = POD_A4, .proto = IPPROTO_TCP,
	.sport = 80, .dport = 40000, .flags = TH_SYN | TH_ACK, .tcp_opts = 4,
};

/* All sent by pod A, so that the full packet passes tern_from_ep. */
static const struct {
	const char *name;
	struct pkt_spec s;
	int both;            /* also as IPv6 */
	int frag;            /* cut the first fragment of s, 16 bytes of its body */
} kinds[] = {
	{ "tcp", { .family = 4, .src = POD_A4, .dst = REM_HI4, .proto = IPPROTO_TCP,
		   .sport = 40000, .dport = 80, .flags = TH_SYN, .tcp_opts = 12, .payload = 5 },
	  1, 0 },
	{ "udp", { .family = 4, .src = POD_A4, .dst = REM_HI4, .proto = IPPROTO_UDP,
		   .sport = 5353, .dport = 53, .payload = 3 }, 1, 0 },
	{ "sctp", { .family = 4, .src = POD_A4, .dst = REM_HI4, .proto = IPPROTO_SCTP,
		    .sport = 1, .dport = 2, .payload = 4 }, 1, 0 },
	{ "icmp-echo", { .family = 4, .src = POD_A4, .dst = REM_HI4, .proto = IPPROTO_ICMP,
			 .type = 8, .id = 7, .payload = 4 }, 1, 0 },
	{ "icmp-error-udp", { .family = 4, .src = POD_A4, .dst = REM_HI4,
			      .proto = IPPROTO_ICMP, .type = 3, .code = 3,
			      .quote = &udp_to_pod }, 1, 0 },
	{ "icmp-error-tcp", { .family = 4, .src = POD_A4, .dst = REM_HI4,
			      .proto = IPPROTO_ICMP, .type = 11, .quote = &tcp_to_pod }, 1, 0 },
	{ "proto-253", { .family = 4, .src = POD_A4, .dst = REM_HI4, .proto = 253,
			 .payload = 6 }, 1, 0 },
	{ "ip4-options-tcp", { .family = 4, .src = POD_A4, .dst = REM_HI4, .proto = IPPROTO_TCP,
			       .sport = 40000, .dport = 80, .flags = TH_ACK, .ip_opts = 12 },
	  0, 0 },
	{ "first-fragment-udp", { .family = 4, .src = POD_A4, .dst = REM_HI4,
				  .proto = IPPROTO_UDP, .sport = 5353, .dport = 53,
				  .payload = 40 }, 1, 1 },
	{ "ext-chain-udp", { .family = 6, .src = POD_A6, .dst = REM_HI6, .proto = IPPROTO_UDP,
			     .sport = 5353, .dport = 53, .n_ext = 4,
			     .ext = { IPPROTO_HOPOPTS, IPPROTO_DSTOPTS, IPPROTO_ROUTING,
				      IPPROTO_AH }, .payload = 2 }, 0, 0 },
	{ "ext-chain-tcp", { .family = 6, .src = POD_A6, .dst = REM_HI6, .proto = IPPROTO_TCP,
			     .sport = 40000, .dport = 80, .flags = TH_ACK, .n_ext = 3,
			     .ext = { IPPROTO_HOPOPTS, IPPROTO_FRAGMENT, IPPROTO_DSTOPTS },
			     .ext_len = { 16, 0, 8 } }, 0, 0 },
	{ "ext-icmp6-ns", { .family = 6, .src = POD_A6, .dst = REM_HI6, .proto = IPPROTO_ICMPV6,
			    .type = 135, .n_ext = 1, .ext = { IPPROTO_HOPOPTS }, .payload = 20 },
	  0, 0 },
};

static const struct {
	enum prog_id prog;
	enum iface_id ifc;
} hooks[] = {
	{ P_FROM_EP, IF_A }, { P_TO_EP, IF_A }, { P_HOST_IN, IF_DATA }, { P_HOST_OUT, IF_DATA },
};

/* The shortest frame BPF_PROG_TEST_RUN takes with this ethertype: the
 * kernel refuses IP frames shorter than the fixed IP header. */
static size_t test_run_min(const struct pkt *p)
{
	uint16_t type = (uint16_t)(p->b[12] << 8 | p->b[13]);

	return type == 0x0800 ? 14 + 20 : type == 0x86dd ? 14 + 40 : 14;
}

/* One reported case per packet and program; the first few bad lengths are
 * listed. Lengths the test run refuses go through the real interface. */
static void trunc_one(const char *name, const struct pkt *p, enum prog_id prog,
		      enum iface_id ifc)
{
	static const uint8_t zero[64];
	static const size_t pads[] = { 1, 2, 7, 46 };
	uint32_t slot = tenv.slot[ifc];
	struct run r;
	int bad = 0, err;

	case_begin("bpf/trunc/%s/%s", name, tprog_name(prog));
	tmaps_clear();
	for (size_t len = 14; len < p->len; len++) {
		int wire = 0;

		/* nothing attached while the test run counts: the kernel's
		 * own traffic on the interface would count too */
		if (len >= test_run_min(p))
			run_wire_end();
		err = run_prog_raw(prog, ifc, p->b, len, &r);
		if (err == -EINVAL && len < test_run_min(p)) {
			wire = 1;
			err = run_wire(prog, ifc, p->b, len, &r);
		}
		if (err) {
			case_fail("running %zu bytes%s: %s", len, wire ? " on the wire" : "",
				  strerror(-err));
			break;
		}
		/* on the wire the kernel's own traffic may add to rx */
		if ((wire || r.verdict == TC_ACT_SHOT) && r.delta[slot][TERN_CNT_DROP_MALFORMED] == 1 &&
		    (wire ? r.delta[slot][TERN_CNT_RX] >= 1 : r.delta[slot][TERN_CNT_RX] == 1))
			continue;
		if (bad++ < 4)
			case_note("cut to %zu of %zu bytes%s: verdict %d, drop_malformed %+lld", len,
				  p->len, wire ? " (on the wire)" : "", r.verdict,
				  (long long)r.delta[slot][TERN_CNT_DROP_MALFORMED]);
		if (bad == 1 && !wire)
			expect_counters(&r, ifc, C(RX) | C(DROP_MALFORMED));
	}
	if (bad)
		case_fail("%d of %zu cut lengths not dropped as malformed", bad, p->len - 14);
	if (tct_count())
		case_fail("cut packets left %d conntrack entries", tct_count());

	/* whole, then padded: passes, unchanged */
	struct pkt padded = *p;

	for (size_t i = 0; i <= ARRAY_SIZE(pads); i++) {
		if (i)
			pkt_append(&padded, zero, pads[i - 1]);
		if (run_prog(prog, ifc, padded.b, padded.len, &r))
			break;
		if (r.verdict != TC_ACT_OK) {
			case_fail("%zu-byte frame (%zu of padding): verdict %d, want TC_ACT_OK",
				  padded.len, padded.len - p->len, r.verdict);
			break;
		}
		expect_bytes("output", r.out, r.out_len, padded.b, padded.len);
		expect_csums(&r);
	}
	case_end();
}

void test_trunc(void)
{
	for (size_t k = 0; k < ARRAY_SIZE(kinds); k++) {
		for (int v6 = 0; v6 <= kinds[k].both; v6++) {
			struct pkt_spec s = kinds[k].s, qbuf[2];
			struct pkt p, whole;
			char name[64];

			if (v6)
				s = spec_to6(&kinds[k].s, qbuf);
			pkt_build(&p, &s);
			if (kinds[k].frag) {
				whole = p;
				pkt_fragment(&p, &whole, 0, 16, 1, 0x4242);
			}
			snprintf(name, sizeof(name), "%s-v%d", kinds[k].name, s.family);
			for (size_t h = 0; h < ARRAY_SIZE(hooks); h++)
				trunc_one(name, &p, hooks[h].prog, hooks[h].ifc);
		}
	}
	run_wire_end();
}
