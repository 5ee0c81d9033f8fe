/* Workload interfaces: a pod may send only from its own addresses (plus
 * link-local neighbour discovery), and an interface tern has no state for
 * fails closed in both directions. */
#include <netinet/in.h>

#include "harness.h"

#define PASS_NEW (C(RX) | C(CT_NEW) | C(TO_STACK))
#define SPOOF (C(RX) | C(DROP_SPOOF))
#define ND_PASS (C(RX) | C(CT_UNTRACKED) | C(TO_STACK))
#define NO_STATE C(DROP_NO_STATE)

#define UDP(s, d) .family = 4, .src = (s), .dst = (d), .proto = IPPROTO_UDP, \
		  .sport = 5353, .dport = 53
#define UDP6(s, d) .family = 6, .src = (s), .dst = (d), .proto = IPPROTO_UDP, \
		   .sport = 5353, .dport = 53
#define ICMP6(s, d, t) .family = 6, .src = (s), .dst = (d), .proto = IPPROTO_ICMPV6, \
		       .type = (t), .payload = 24

static const struct pkt_spec udp_to_pod6 = {
	.family = 6, .src = REM_HI6, .dst = POD_A6, .proto = IPPROTO_UDP, .sport = 53,
	.dport = 5353,
};

static const struct pcase ep_cases[] = {
	{ "own-address", P_FROM_EP, IF_A, { UDP(POD_A4, REM_HI4) }, .verdict = TC_ACT_OK,
	  .cnt = PASS_NEW, .ct = CT_ONE, .both = 1 },
	{ "other-address", P_FROM_EP, IF_A, { UDP("10.1.0.99", REM_HI4) },
	  .verdict = TC_ACT_SHOT, .cnt = SPOOF, .ct = CT_NONE, .both = 1 },
	{ "other-pods-address", P_FROM_EP, IF_A, { UDP(POD_B4, REM_HI4) },
	  .verdict = TC_ACT_SHOT, .cnt = SPOOF, .ct = CT_NONE, .both = 1 },
	{ "tcp-syn-spoofed", P_FROM_EP, IF_A,
	  { .family = 4, .src = REM_LO4, .dst = REM_HI4, .proto = IPPROTO_TCP, .sport = 1,
	    .dport = 2, .flags = TH_SYN },
	  .verdict = TC_ACT_SHOT, .cnt = SPOOF, .ct = CT_NONE, .both = 1 },
	/* every word of the IPv6 address counts */
	{ "other-address-word-0", P_FROM_EP, IF_A, { UDP6("fd01:1::2", REM_HI6) },
	  .verdict = TC_ACT_SHOT, .cnt = SPOOF, .ct = CT_NONE },
	{ "other-address-word-1", P_FROM_EP, IF_A, { UDP6("fd00:1:0:1::2", REM_HI6) },
	  .verdict = TC_ACT_SHOT, .cnt = SPOOF, .ct = CT_NONE },
	{ "other-address-word-2", P_FROM_EP, IF_A, { UDP6("fd00:1::1:0:0:2", REM_HI6) },
	  .verdict = TC_ACT_SHOT, .cnt = SPOOF, .ct = CT_NONE },
	/* a pod without an address of a family sends nothing of it */
	{ "v6-only-pod-sends-v4", P_FROM_EP, IF_V6ONLY, { UDP("0.0.0.0", REM_HI4) },
	  .verdict = TC_ACT_SHOT, .cnt = SPOOF, .ct = CT_NONE },
	{ "v6-only-pod-sends-v6", P_FROM_EP, IF_V6ONLY, { UDP6(POD_C6, REM_HI6) },
	  .verdict = TC_ACT_OK, .cnt = PASS_NEW, .ct = CT_ONE },
	{ "v4-only-pod-sends-v6-unspecified", P_FROM_EP, IF_V4ONLY, { UDP6("::", REM_HI6) },
	  .verdict = TC_ACT_SHOT, .cnt = SPOOF, .ct = CT_NONE },
	{ "v4-only-pod-sends-v4", P_FROM_EP, IF_V4ONLY, { UDP(POD_D4, REM_HI4) },
	  .verdict = TC_ACT_OK, .cnt = PASS_NEW, .ct = CT_ONE },

	/* link-local neighbour discovery and MLD: passed, never tracked */
	{ "nd-ns-link-local", P_FROM_EP, IF_A, { ICMP6("fe80::1", "ff02::1:ff00:2", 135) },
	  .verdict = TC_ACT_OK, .cnt = ND_PASS, .ct = CT_NONE },
	{ "nd-ns-dad-unspecified", P_FROM_EP, IF_A, { ICMP6("::", "ff02::1:ff00:2", 135) },
	  .verdict = TC_ACT_OK, .cnt = ND_PASS, .ct = CT_NONE },
	{ "nd-rs-link-local", P_FROM_EP, IF_A, { ICMP6("fe80::1", "ff02::2", 133) },
	  .verdict = TC_ACT_OK, .cnt = ND_PASS, .ct = CT_NONE },
	{ "nd-na-link-local", P_FROM_EP, IF_A, { ICMP6("fe80::1", "fe80::2", 136) },
	  .verdict = TC_ACT_OK, .cnt = ND_PASS, .ct = CT_NONE },
	{ "mld2-report-hopopts", P_FROM_EP, IF_A,
	  { ICMP6("fe80::1", "ff02::16", 143), .n_ext = 1, .ext = { IPPROTO_HOPOPTS } },
	  .verdict = TC_ACT_OK, .cnt = ND_PASS, .ct = CT_NONE },
	{ "mld2-report-unspecified", P_FROM_EP, IF_A,
	  { ICMP6("::", "ff02::16", 143), .n_ext = 1, .ext = { IPPROTO_HOPOPTS } },
	  .verdict = TC_ACT_OK, .cnt = ND_PASS, .ct = CT_NONE },
	{ "nd-on-v4-only-pod", P_FROM_EP, IF_V4ONLY, { ICMP6("fe80::1", "ff02::2", 133) },
	  .verdict = TC_ACT_OK, .cnt = ND_PASS, .ct = CT_NONE },
	{ "nd-from-own-global", P_FROM_EP, IF_A, { ICMP6(POD_A6, "ff02::1:ff00:1", 135) },
	  .verdict = TC_ACT_OK, .cnt = ND_PASS, .ct = CT_NONE },
	/* fe80::/10 exactly */
	{ "nd-febf", P_FROM_EP, IF_A, { ICMP6("febf:ffff::1", "ff02::2", 133) },
	  .verdict = TC_ACT_OK, .cnt = ND_PASS, .ct = CT_NONE },
	{ "nd-fec0-spoofed", P_FROM_EP, IF_A, { ICMP6("fec0::1", "ff02::2", 133) },
	  .verdict = TC_ACT_SHOT, .cnt = SPOOF, .ct = CT_NONE },
	{ "nd-fe7f-spoofed", P_FROM_EP, IF_A, { ICMP6("fe7f::1", "ff02::2", 133) },
	  .verdict = TC_ACT_SHOT, .cnt = SPOOF, .ct = CT_NONE },
	/* link-local is for neighbour discovery only */
	{ "echo-link-local", P_FROM_EP, IF_A, { ICMP6("fe80::1", REM_HI6, 128), .id = 1 },
	  .verdict = TC_ACT_SHOT, .cnt = SPOOF, .ct = CT_NONE },
	{ "udp-link-local", P_FROM_EP, IF_A, { UDP6("fe80::1", "fe80::2") },
	  .verdict = TC_ACT_SHOT, .cnt = SPOOF, .ct = CT_NONE },
	{ "icmp6-error-link-local", P_FROM_EP, IF_A,
	  { .family = 6, .src = "fe80::1", .dst = REM_HI6, .proto = IPPROTO_ICMPV6, .type = 1,
	    .code = 4, .quote = &udp_to_pod6 },
	  .verdict = TC_ACT_SHOT, .cnt = SPOOF, .ct = CT_NONE },

	/* no tern_ifstate_v1 entry: fail closed, counted in slot 0 */
	{ "no-state-from-ep", P_FROM_EP, IF_NOSTATE, { UDP(POD_A4, REM_HI4) },
	  .verdict = TC_ACT_SHOT, .cnt = NO_STATE, .ct = CT_NONE, .both = 1 },
	{ "no-state-to-ep", P_TO_EP, IF_NOSTATE, { UDP(REM_HI4, POD_A4) },
	  .verdict = TC_ACT_SHOT, .cnt = NO_STATE, .ct = CT_NONE, .both = 1 },
	{ "no-state-from-ep-arp", P_FROM_EP, IF_NOSTATE, { .ethertype = 0x0806, .payload = 28 },
	  .verdict = TC_ACT_SHOT, .cnt = NO_STATE, .ct = CT_NONE },
	{ "no-state-to-ep-arp", P_TO_EP, IF_NOSTATE, { .ethertype = 0x0806, .payload = 28 },
	  .verdict = TC_ACT_SHOT, .cnt = NO_STATE, .ct = CT_NONE },
	/* data interfaces need no state: they count in slot 0 */
	{ "no-state-host-in", P_HOST_IN, IF_NOSTATE, { UDP(REM_HI4, REM_LO4) },
	  .verdict = TC_ACT_OK, .cnt = C(RX) | C(TO_STACK), .ct = CT_NONE, .both = 1 },
	{ "no-state-host-out", P_HOST_OUT, IF_NOSTATE, { UDP(REM_LO4, REM_HI4) },
	  .verdict = TC_ACT_OK, .cnt = C(RX), .ct = CT_NONE, .both = 1 },
	/* a slot past counter_slots counts in slot 0, not out of the map */
	{ "slot-past-counter-slots", P_FROM_EP, IF_BIGSLOT, { UDP(POD_E4, REM_HI4) },
	  .verdict = TC_ACT_OK, .cnt = PASS_NEW, .ct = CT_ONE },
};

void test_ep(void)
{
	run_pcases("ep", ep_cases, ARRAY_SIZE(ep_cases));
}
