/* Service NAT in tc: flows to frontends from pods (tern_from_ep) and from
 * outside (tern_host_in), packet by packet, each output compared byte for
 * byte with the packet built afresh with the translated addresses (so every
 * incrementally updated checksum is checked against a full computation),
 * both conntrack entries checked after every packet; then backend choice,
 * ClientIP affinity and fragments.
 *
 *   this process's netns (the node), forwarding on
 *
 *   [pod A] tpap ==veth== tpa  (tern_from_ep)  10.1.0.2  fd00:1::2   clients, hairpin backend
 *   [pod B] tpbp ==veth== tpb  (tern_from_ep)  10.1.0.3  fd00:1::3   backends
 *   [wire]  tdatap ==veth== tdata (tern_host_in)
 *             192.0.2.0/24, 10.0.0.0/24, fd00:9::/64, fc00:5::/64 via tdata, neighbours
 *             permanent (tdatap's MAC): external clients, routers
 *             10.2.0.5 fd00:2::5: a backend on another node (the stack routes it)
 *
 *   VIP 10.96.0.10 / fd00:96::a, VIP_LO 10.0.96.10 / fc00:96::a: ClusterIPs
 *   NODE 192.0.2.2 / fd00:9::2: NodePorts;  EXT 198.51.100.7 / fd00:51::7: external IP
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <tern/policy.h>

#include "tnat.h"

#define TO(i) ((i) + 1)
#define NCT(n) ((n) + 1)

struct nstep {
	enum prog_id prog;
	enum iface_id ifc;
	struct pkt_spec in;
	struct pkt_spec out;      /* what leaves; .family 0: the input as it came */
	int verdict;
	uint32_t cnt;             /* C(...) +1 in ifc's slot, nothing else */
	int to;                   /* TO(ifc): forwarded by the FIB into ifc (its MACs, TTL - 1) */
	int answer;               /* out is the input's refusal (tnat_answer) */
	uint16_t too_big;         /* out is the input's ICMP too big for this MTU (tnat_too_big) */
	void (*mangle)(struct pkt *p);  /* on the input and the expected output */
	void (*before)(int v6);   /* map surgery first */
	void (*after)(int v6);    /* extra checks */
	struct ct_exp ct[2];      /* entries afterwards */
	uint8_t nct;              /* NCT(n): exactly n entries afterwards; 0: unchecked */
};

struct ncase {
	const char *name;
	const struct svc_def *svc[3];
	uint8_t fam;              /* 4: IPv4 only; 6: IPv6 only (its specs IPv6); 0: both */
	struct nstep steps[9];
};

/* --- services ------------------------------------------------------------ */

#define FE(a, p, pr) .addr = (a), .port = (p), .proto = IPPROTO_##pr
static const struct svc_def svc_tcp = { FE(VIP4, 80, TCP), .id = 1, .count = 1,
	.local_count = 1, .be = { { POD_B4, 8080 } } };
static const struct svc_def svc_udp = { FE(VIP4, 53, UDP), .id = 2, .count = 1,
	.local_count = 1, .be = { { POD_B4, 5353 } } };
static const struct svc_def svc_lo_tcp = { FE(VIP_LO4, 80, TCP), .id = 3, .count = 1,
	.local_count = 1, .be = { { POD_A4, 8080 } } };
static const struct svc_def svc_rem_tcp = { FE(VIP4, 81, TCP), .id = 4, .count = 1,
	.be = { { REM_BE4, 8080 } } };
static const struct svc_def svc_rem_udp = { FE(VIP4, 54, UDP), .id = 5, .count = 1,
	.be = { { REM_BE4, 5353 } } };
static const struct svc_def svc_same_port = { FE(VIP4, 5353, UDP), .id = 6, .count = 1,
	.local_count = 1, .be = { { POD_B4, 5353 } } };
static const struct svc_def svc_np = { FE(NODE4, 30080, TCP), .id = 7, .count = 1,
	.local_count = 1, .flags = TERN_FE_F_EXTERNAL | TERN_FE_F_NODEPORT,
	.be = { { POD_B4, 8080 } } };
static const struct svc_def svc_ext_udp = { FE(EXT4, 53, UDP), .id = 8, .count = 1,
	.local_count = 1, .flags = TERN_FE_F_EXTERNAL, .be = { { POD_B4, 5353 } } };
static const struct svc_def svc_np_etp = { FE(NODE4, 30081, TCP), .id = 9, .count = 1,
	.flags = TERN_FE_F_EXTERNAL | TERN_FE_F_NODEPORT | TERN_FE_F_ETP_LOCAL,
	.be = { { REM_BE4, 8080 } } };
static const struct svc_def svc_np_etp_local = { FE(NODE4, 30082, TCP), .id = 16, .count = 2,
	.local_count = 1, .flags = TERN_FE_F_EXTERNAL | TERN_FE_F_NODEPORT | TERN_FE_F_ETP_LOCAL,
	.be = { { POD_B4, 8080 }, { REM_BE4, 8080 } } };
static const struct svc_def svc_np_remote = { FE(NODE4, 30083, TCP), .id = 17, .count = 1,
	.flags = TERN_FE_F_EXTERNAL | TERN_FE_F_NODEPORT, .be = { { REM_BE4, 8080 } } };
static const struct svc_def svc_np_remote_udp = { FE(NODE4, 30084, UDP), .id = 19, .count = 1,
	.flags = TERN_FE_F_EXTERNAL | TERN_FE_F_NODEPORT, .be = { { REM_BE4, 5353 } } };
static const struct svc_def svc_np_hostnet = { FE(NODE4, 30090, TCP), .id = 18, .count = 1,
	.local_count = 1, .flags = TERN_FE_F_EXTERNAL | TERN_FE_F_NODEPORT,
	.be = { { NODE4, 8443 } } };
static const struct svc_def svc_ext_itp = { FE(EXT4, 80, TCP), .id = 10, .count = 1,
	.flags = TERN_FE_F_EXTERNAL | TERN_FE_F_ITP_LOCAL, .be = { { REM_BE4, 8080 } } };
static const struct svc_def svc_itp = { FE(VIP4, 80, TCP), .id = 11, .count = 1,
	.flags = TERN_FE_F_ITP_LOCAL, .be = { { REM_BE4, 8080 } } };
static const struct svc_def svc_hole = { FE(VIP4, 80, TCP), .id = 12, .count = 1,
	.local_count = 1 };
static const struct svc_def svc_sctp = { FE(VIP4, 80, SCTP), .id = 13, .count = 1,
	.local_count = 1, .be = { { POD_B4, 8080 } } };
static const struct svc_def svc_hp_tcp = { FE(VIP4, 82, TCP), .id = 14, .count = 1,
	.local_count = 1, .be = { { POD_A4, 8080 } } };
static const struct svc_def svc_hp_udp = { FE(VIP4, 55, UDP), .id = 15, .count = 1,
	.local_count = 1, .be = { { POD_A4, 5353 } } };

/* --- packets ------------------------------------------------------------- */

#define T4(s, sp, d, dp, fl) .family = 4, .proto = IPPROTO_TCP, .src = (s), .sport = (sp), \
			     .dst = (d), .dport = (dp), .flags = (fl)
#define U4(s, sp, d, dp) .family = 4, .proto = IPPROTO_UDP, .src = (s), .sport = (sp), \
			 .dst = (d), .dport = (dp)
#define ERR4(s, d, t, c, q) .family = 4, .proto = IPPROTO_ICMP, .src = (s), .dst = (d), \
			    .type = (t), .code = (c), .quote = (q)

#define SA TH_SYN | TH_ACK
#define PA TH_PSH | TH_ACK
#define FA TH_FIN | TH_ACK

#define FROM(i) .prog = P_FROM_EP, .ifc = (i)
#define HOSTIN .prog = P_HOST_IN, .ifc = IF_DATA
#define FWD_TO(i) .verdict = TC_ACT_REDIRECT, .to = TO(i), .cnt = C(RX) | C(FWD_PEER)
#define NEW_TO(i) .verdict = TC_ACT_REDIRECT, .to = TO(i), \
		  .cnt = C(RX) | C(CT_NEW) | C(NAT_NEW) | C(FWD_PEER)
#define NEW_STACK .verdict = TC_ACT_OK, .cnt = C(RX) | C(CT_NEW) | C(NAT_NEW) | C(TO_STACK)
#define REPLY_OUT .verdict = TC_ACT_REDIRECT, .to = TO(IF_DATA), .cnt = C(RX) | C(FWD_OUT)
#define REL_TO(i) .verdict = TC_ACT_REDIRECT, .to = TO(i), \
		  .cnt = C(RX) | C(CT_RELATED) | C(FWD_PEER)

/* conntrack entries: the tuple that opened them */
#define E_T(s, sp, d, dp, st, fl, n, np) \
	{ IPPROTO_TCP, (s), (d), (sp), (dp), TERN_CT_##st, (fl), (n), (np) }
#define E_U(s, sp, d, dp, st, fl, n, np) \
	{ IPPROTO_UDP, (s), (d), (sp), (dp), TERN_CT_##st, (fl), (n), (np) }
#define REV TERN_CT_F_NAT_REV
#define FWD TERN_CT_F_NAT_FWD
#define RPL TERN_CT_F_REPLIED
#define HP TERN_CT_F_HAIRPIN
#define SN TERN_CT_F_SNAT
#define PICK TERN_CT_F_PICKED_UP

/* pod A's TCP flow to svc_tcp, both entries in state st */
#define TCP_AB(st, rf) { E_T(POD_A4, 40000, POD_B4, 8080, st, REV | (rf), VIP4, 80), \
			 E_T(POD_A4, 40000, VIP4, 80, st, FWD | ((rf) & RPL), POD_B4, 8080) }, NCT(2)
#define UDP_AB(st, rf) { E_U(POD_A4, 40000, POD_B4, 5353, st, REV | (rf), VIP4, 53), \
			 E_U(POD_A4, 40000, VIP4, 53, st, FWD | ((rf) & RPL), POD_B4, 5353) }, NCT(2)

/* packets the ICMP errors quote */
static const struct pkt_spec q_a_b_udp = { U4(POD_A4, 40000, POD_B4, 5353), .payload = 30 };
static const struct pkt_spec q_a_vip_udp = { U4(POD_A4, 40000, VIP4, 53), .payload = 30 };
static const struct pkt_spec q_b_a_udp = { U4(POD_B4, 5353, POD_A4, 40000), .payload = 60 };
static const struct pkt_spec q_vip_a_udp = { U4(VIP4, 53, POD_A4, 40000), .payload = 60 };
static const struct pkt_spec q_a_rem_tcp = { T4(POD_A4, 40000, REM_BE4, 8080, TH_SYN) };
static const struct pkt_spec q_a_vip81_tcp = { T4(POD_A4, 40000, VIP4, 81, TH_SYN) };
static const struct pkt_spec q_a_rem_udp = { U4(POD_A4, 40000, REM_BE4, 5353), .payload = 1000 };
static const struct pkt_spec q_a_vip54_udp = { U4(POD_A4, 40000, VIP4, 54), .payload = 1000 };
static const struct pkt_spec q_ext_rl_udp = { U4(EXT4, 53, REM_LO4, 40001), .payload = 60 };
static const struct pkt_spec q_b_rl_udp = { U4(POD_B4, 5353, REM_LO4, 40001), .payload = 60 };
static const struct pkt_spec q_rl_b_udp = { U4(REM_LO4, 40001, POD_B4, 5353), .payload = 30 };
static const struct pkt_spec q_rl_ext_udp = { U4(REM_LO4, 40001, EXT4, 53), .payload = 30 };
static const struct pkt_spec q_a_b_udp_opts = { U4(POD_A4, 40000, POD_B4, 5353), .payload = 30,
	.ip_opts = 8 };
static const struct pkt_spec q_a_vip_udp_opts = { U4(POD_A4, 40000, VIP4, 53), .payload = 30,
	.ip_opts = 8 };
static const struct pkt_spec q_vip_a_hp = { U4(VIP4, 40000, POD_A4, 5353), .payload = 10 };
static const struct pkt_spec q_a_vip_hp = { U4(POD_A4, 40000, VIP4, 55), .payload = 10 };
static const struct pkt_spec q_vip55_a_hp = { U4(VIP4, 55, POD_A4, 40000), .payload = 20 };
static const struct pkt_spec q_a_vip40_hp = { U4(POD_A4, 5353, VIP4, 40000), .payload = 20 };
/* a NodePort flow source-NATed to a remote backend, as the wire sees it
 * beyond the node (n_rb: node -> backend) and as its client does (rh_np) */
static const struct pkt_spec q_n_rb_udp = { U4(NODE4, 50000, REM_BE4, 5353), .payload = 30 };
static const struct pkt_spec q_rh_np_udp = { U4(REM_HI4, 50000, NODE4, 30084), .payload = 30 };
static const struct pkt_spec q_rb_n_udp = { U4(REM_BE4, 5353, NODE4, 50000), .payload = 40 };
static const struct pkt_spec q_np_rh_udp = { U4(NODE4, 30084, REM_HI4, 50000), .payload = 40 };
static const struct pkt_spec q_n_rb_tcp = { T4(NODE4, 50000, REM_BE4, 8080, TH_SYN) };
static const struct pkt_spec q_rh_np_tcp = { T4(REM_HI4, 50000, NODE4, 30083, TH_SYN) };
static const struct pkt_spec q_rl_b_udp_big = { U4(REM_LO4, 40001, POD_B4, 5353), .payload = 1300 };
static const struct pkt_spec q6_a_b_ext = { .family = 6, .proto = IPPROTO_UDP, .src = POD_A6,
	.sport = 40000, .dst = POD_B6, .dport = 5353, .n_ext = 2,
	.ext = { IPPROTO_HOPOPTS, IPPROTO_DSTOPTS } };

/* --- map surgery and extra checks ---------------------------------------- */

static const struct ct_exp e_rev_tcp = E_T(POD_A4, 40000, POD_B4, 8080, ESTABLISHED, REV, VIP4, 80);
static const struct ct_exp e_fwd_tcp = E_T(POD_A4, 40000, VIP4, 80, ESTABLISHED, FWD, POD_B4, 8080);

static void ct_delete(const struct ct_exp *e, int v6)
{
	struct tern_ct_key k;
	struct tern_ct_value v;

	if (tnat_ct_get(e, v6, &k, &v) || bpf_map_delete_elem(tenv.ct, &k))
		case_fail("setup: conntrack entry to delete is missing");
}

/* last seen 15 s ago: alive (T_EST 22 s), and stale enough to be refreshed */
static void ct_age(const struct ct_exp *e, int v6)
{
	struct tern_ct_key k;
	struct tern_ct_value v;

	if (tnat_ct_get(e, v6, &k, &v)) {
		case_fail("setup: conntrack entry to age is missing");
		return;
	}
	v.last_seen_ns = tnow_ns() - 15 * 1000000000ull;
	tct_put(&k, &v);
}

static void expect_fresh(const struct ct_exp *e, int v6, const char *what)
{
	struct tern_ct_key k;
	struct tern_ct_value v;

	if (tnat_ct_get(e, v6, &k, &v) == 0 && v.last_seen_ns < tstamp_floor_ns() - 1000000000ull)
		case_fail("%s: last seen %.1f s ago, want refreshed", what,
			  (double)(tnow_ns() - v.last_seen_ns) / 1e9);
}

static void rev_delete(int v6)
{
	ct_delete(&e_rev_tcp, v6);
}

static void both_age(int v6)
{
	ct_age(&e_rev_tcp, v6);
	ct_age(&e_fwd_tcp, v6);
}

static void fwd_fresh(int v6)
{
	expect_fresh(&e_fwd_tcp, v6, "the client's entry after a reply");
}

static void rev_fresh(int v6)
{
	expect_fresh(&e_rev_tcp, v6, "the backend's entry after a client packet");
}

static void gone_b_now(int v6)
{
	tnat_gone(tnat_addr(POD_B4, v6), 5353, 60 * 1000000000ll);
}

static void gone_b_past(int v6)
{
	tnat_gone(tnat_addr(POD_B4, v6), 5353, -1000000000ll);
}

/* IPv4 UDP without a checksum */
/* the wire's MTU below the packets' size for one step (MTU_SMALL) */
#define MTU_SMALL 1280
static void mtu_small(int v6)
{
	(void)v6;
	tenv_cmd("ip link set tdata mtu %d", MTU_SMALL);
}

static void mtu_back(int v6)
{
	(void)v6;
	tenv_cmd("ip link set tdata mtu 1500");
}

static void udp_csum0(struct pkt *p)
{
	p->b[p->l4 + 6] = 0;
	p->b[p->l4 + 7] = 0;
}

/* --- the flows ----------------------------------------------------------- */

static const struct ncase ncases[] = {
	{ "clusterip-tcp", { &svc_tcp }, 0, {
		{ FROM(IF_A), { T4(POD_A4, 40000, VIP4, 80, TH_SYN), .tcp_opts = 20 },
		  { T4(POD_A4, 40000, POD_B4, 8080, TH_SYN), .tcp_opts = 20 }, NEW_TO(IF_B),
		  .ct = TCP_AB(SYN_SENT, 0) },
		{ FROM(IF_B), { T4(POD_B4, 8080, POD_A4, 40000, SA), .tcp_opts = 20 },
		  { T4(VIP4, 80, POD_A4, 40000, SA), .tcp_opts = 20 }, FWD_TO(IF_A),
		  .ct = TCP_AB(SYN_RECV, RPL) },
		{ FROM(IF_A), { T4(POD_A4, 40000, VIP4, 80, TH_ACK) },
		  { T4(POD_A4, 40000, POD_B4, 8080, TH_ACK) }, FWD_TO(IF_B),
		  .ct = TCP_AB(ESTABLISHED, RPL) },
		{ FROM(IF_A), { T4(POD_A4, 40000, VIP4, 80, PA), .payload = 100 },
		  { T4(POD_A4, 40000, POD_B4, 8080, PA), .payload = 100 }, FWD_TO(IF_B),
		  .ct = TCP_AB(ESTABLISHED, RPL) },
		{ FROM(IF_B), { T4(POD_B4, 8080, POD_A4, 40000, PA), .payload = 1001 },
		  { T4(VIP4, 80, POD_A4, 40000, PA), .payload = 1001 }, FWD_TO(IF_A),
		  .ct = TCP_AB(ESTABLISHED, RPL) },
		{ FROM(IF_A), { T4(POD_A4, 40000, VIP4, 80, FA) },
		  { T4(POD_A4, 40000, POD_B4, 8080, FA) }, FWD_TO(IF_B),
		  .ct = TCP_AB(FIN_WAIT, RPL) },
		{ FROM(IF_B), { T4(POD_B4, 8080, POD_A4, 40000, FA) },
		  { T4(VIP4, 80, POD_A4, 40000, FA) }, FWD_TO(IF_A),
		  .ct = TCP_AB(TIME_WAIT, RPL) },
		{ FROM(IF_A), { T4(POD_A4, 40000, VIP4, 80, TH_ACK) },
		  { T4(POD_A4, 40000, POD_B4, 8080, TH_ACK) }, FWD_TO(IF_B),
		  .ct = TCP_AB(TIME_WAIT, RPL) },
	} },
	{ "clusterip-udp", { &svc_udp }, 0, {
		{ FROM(IF_A), { U4(POD_A4, 40000, VIP4, 53), .payload = 30 },
		  { U4(POD_A4, 40000, POD_B4, 5353), .payload = 30 }, NEW_TO(IF_B),
		  .ct = UDP_AB(NEW, 0) },
		{ FROM(IF_B), { U4(POD_B4, 5353, POD_A4, 40000), .payload = 61 },
		  { U4(VIP4, 53, POD_A4, 40000), .payload = 61 }, FWD_TO(IF_A),
		  .ct = UDP_AB(ESTABLISHED, RPL) },
		{ FROM(IF_A), { U4(POD_A4, 40000, VIP4, 53), .payload = 7 },
		  { U4(POD_A4, 40000, POD_B4, 5353), .payload = 7 }, FWD_TO(IF_B),
		  .ct = UDP_AB(ESTABLISHED, RPL) },
	} },
	/* the client is side b of both keys */
	{ "clusterip-tcp-client-side-b", { &svc_lo_tcp }, 0, {
		{ FROM(IF_B), { T4(POD_B4, 40000, VIP_LO4, 80, TH_SYN) },
		  { T4(POD_B4, 40000, POD_A4, 8080, TH_SYN) }, NEW_TO(IF_A),
		  .ct = { E_T(POD_B4, 40000, POD_A4, 8080, SYN_SENT, REV, VIP_LO4, 80),
			  E_T(POD_B4, 40000, VIP_LO4, 80, SYN_SENT, FWD, POD_A4, 8080) }, NCT(2) },
		{ FROM(IF_A), { T4(POD_A4, 8080, POD_B4, 40000, SA) },
		  { T4(VIP_LO4, 80, POD_B4, 40000, SA) }, FWD_TO(IF_B),
		  .ct = { E_T(POD_B4, 40000, POD_A4, 8080, SYN_RECV, REV | RPL, VIP_LO4, 80),
			  E_T(POD_B4, 40000, VIP_LO4, 80, SYN_RECV, FWD | RPL, POD_A4, 8080) } },
		{ FROM(IF_B), { T4(POD_B4, 40000, VIP_LO4, 80, TH_ACK) },
		  { T4(POD_B4, 40000, POD_A4, 8080, TH_ACK) }, FWD_TO(IF_A),
		  .ct = { E_T(POD_B4, 40000, POD_A4, 8080, ESTABLISHED, REV | RPL, VIP_LO4, 80),
			  E_T(POD_B4, 40000, VIP_LO4, 80, ESTABLISHED, FWD | RPL, POD_A4, 8080) },
		  NCT(2) },
	} },
	/* the backend on another node: out through the stack, replies in on the wire */
	{ "remote-backend-tcp", { &svc_rem_tcp }, 0, {
		{ FROM(IF_A), { T4(POD_A4, 40000, VIP4, 81, TH_SYN) },
		  { T4(POD_A4, 40000, REM_BE4, 8080, TH_SYN) }, NEW_STACK,
		  .ct = { E_T(POD_A4, 40000, REM_BE4, 8080, SYN_SENT, REV, VIP4, 81),
			  E_T(POD_A4, 40000, VIP4, 81, SYN_SENT, FWD, REM_BE4, 8080) }, NCT(2) },
		{ HOSTIN, { T4(REM_BE4, 8080, POD_A4, 40000, SA) },
		  { T4(VIP4, 81, POD_A4, 40000, SA) }, FWD_TO(IF_A),
		  .ct = { E_T(POD_A4, 40000, REM_BE4, 8080, SYN_RECV, REV | RPL, VIP4, 81),
			  E_T(POD_A4, 40000, VIP4, 81, SYN_RECV, FWD | RPL, REM_BE4, 8080) } },
		{ FROM(IF_A), { T4(POD_A4, 40000, VIP4, 81, TH_ACK) },
		  { T4(POD_A4, 40000, REM_BE4, 8080, TH_ACK) }, .verdict = TC_ACT_OK,
		  .cnt = C(RX) | C(TO_STACK),
		  .ct = { E_T(POD_A4, 40000, REM_BE4, 8080, ESTABLISHED, REV | RPL, VIP4, 81),
			  E_T(POD_A4, 40000, VIP4, 81, ESTABLISHED, FWD | RPL, REM_BE4, 8080) },
		  NCT(2) },
	} },
	/* a reply that skips from_ep's peer (redirected straight to the pod) is
	 * still translated back on the pod's side */
	{ "reply-translated-in-to-ep", { &svc_rem_tcp }, 4, {
		{ FROM(IF_A), { T4(POD_A4, 40000, VIP4, 81, TH_SYN) },
		  { T4(POD_A4, 40000, REM_BE4, 8080, TH_SYN) }, NEW_STACK },
		{ .prog = P_TO_EP, .ifc = IF_A, { T4(REM_BE4, 8080, POD_A4, 40000, SA) },
		  { T4(VIP4, 81, POD_A4, 40000, SA) }, .verdict = TC_ACT_OK, .cnt = C(RX) },
	} },
	/* a NodePort whose endpoint is host-network: the node's own reply leaves
	 * through host_out, which gives it the NodePort back */
	{ "nodeport-host-network-reply", { &svc_np_hostnet }, 4, {
		{ HOSTIN, { T4(REM_HI4, 50000, NODE4, 30090, TH_SYN) },
		  { T4(REM_HI4, 50000, NODE4, 8443, TH_SYN) }, NEW_STACK },
		{ .prog = P_HOST_OUT, .ifc = IF_DATA, { T4(NODE4, 8443, REM_HI4, 50000, SA) },
		  { T4(NODE4, 30090, REM_HI4, 50000, SA) }, .verdict = TC_ACT_OK, .cnt = C(RX) },
	} },
	/* targetPort == port: only the address changes */
	{ "same-port-udp", { &svc_same_port }, 0, {
		{ FROM(IF_A), { U4(POD_A4, 40000, VIP4, 5353), .payload = 3 },
		  { U4(POD_A4, 40000, POD_B4, 5353), .payload = 3 }, NEW_TO(IF_B),
		  .ct = { E_U(POD_A4, 40000, POD_B4, 5353, NEW, REV, VIP4, 5353),
			  E_U(POD_A4, 40000, VIP4, 5353, NEW, FWD, POD_B4, 5353) }, NCT(2) },
		{ FROM(IF_B), { U4(POD_B4, 5353, POD_A4, 40000) },
		  { U4(VIP4, 5353, POD_A4, 40000) }, FWD_TO(IF_A) },
	} },
	{ "nodeport-tcp", { &svc_np }, 0, {
		{ HOSTIN, { T4(REM_HI4, 50000, NODE4, 30080, TH_SYN), .tcp_opts = 8 },
		  { T4(REM_HI4, 50000, POD_B4, 8080, TH_SYN), .tcp_opts = 8 }, NEW_TO(IF_B),
		  .ct = { E_T(REM_HI4, 50000, POD_B4, 8080, SYN_SENT, REV, NODE4, 30080),
			  E_T(REM_HI4, 50000, NODE4, 30080, SYN_SENT, FWD, POD_B4, 8080) },
		  NCT(2) },
		{ FROM(IF_B), { T4(POD_B4, 8080, REM_HI4, 50000, SA) },
		  { T4(NODE4, 30080, REM_HI4, 50000, SA) }, REPLY_OUT,
		  .ct = { E_T(REM_HI4, 50000, POD_B4, 8080, SYN_RECV, REV | RPL, NODE4, 30080),
			  E_T(REM_HI4, 50000, NODE4, 30080, SYN_RECV, FWD | RPL, POD_B4, 8080) } },
		{ HOSTIN, { T4(REM_HI4, 50000, NODE4, 30080, TH_ACK) },
		  { T4(REM_HI4, 50000, POD_B4, 8080, TH_ACK) }, FWD_TO(IF_B),
		  .ct = { E_T(REM_HI4, 50000, POD_B4, 8080, ESTABLISHED, REV | RPL, NODE4, 30080),
			  E_T(REM_HI4, 50000, NODE4, 30080, ESTABLISHED, FWD | RPL, POD_B4, 8080) },
		  NCT(2) },
	} },
	/* Cluster policy, the backend on another node: the node becomes the
	 * client, so the reply comes back here and goes on to the real one */
	{ "nodeport-remote-snat", { &svc_np_remote }, 0, {
		{ HOSTIN, { T4(REM_HI4, 50000, NODE4, 30083, TH_SYN) },
		  { T4(NODE4, 50000, REM_BE4, 8080, TH_SYN) }, .verdict = TC_ACT_REDIRECT,
		  .to = TO(IF_DATA), .cnt = C(RX) | C(CT_NEW) | C(NAT_NEW) | C(FWD_OUT),
		  .ct = { E_T(NODE4, 50000, REM_BE4, 8080, SYN_SENT, REV | SN, NODE4, 30083),
			  E_T(REM_HI4, 50000, NODE4, 30083, SYN_SENT, FWD | SN, REM_BE4, 8080) },
		  NCT(2) },
		{ HOSTIN, { T4(REM_BE4, 8080, NODE4, 50000, SA) },
		  { T4(NODE4, 30083, REM_HI4, 50000, SA) }, REPLY_OUT,
		  .ct = { E_T(NODE4, 50000, REM_BE4, 8080, SYN_RECV, REV | SN | RPL, NODE4, 30083),
			  E_T(REM_HI4, 50000, NODE4, 30083, SYN_RECV, FWD | SN | RPL, REM_BE4, 8080) } },
		{ HOSTIN, { T4(REM_HI4, 50000, NODE4, 30083, TH_ACK) },
		  { T4(NODE4, 50000, REM_BE4, 8080, TH_ACK) }, REPLY_OUT,
		  .ct = { E_T(NODE4, 50000, REM_BE4, 8080, ESTABLISHED, REV | SN | RPL, NODE4, 30083),
			  E_T(REM_HI4, 50000, NODE4, 30083, ESTABLISHED, FWD | SN | RPL, REM_BE4, 8080) },
		  NCT(2) },
	} },
	{ "externalip-udp", { &svc_ext_udp }, 0, {
		{ HOSTIN, { U4(REM_LO4, 40001, EXT4, 53), .payload = 30 },
		  { U4(REM_LO4, 40001, POD_B4, 5353), .payload = 30 }, NEW_TO(IF_B),
		  .ct = { E_U(REM_LO4, 40001, POD_B4, 5353, NEW, REV, EXT4, 53),
			  E_U(REM_LO4, 40001, EXT4, 53, NEW, FWD, POD_B4, 5353) }, NCT(2) },
		{ FROM(IF_B), { U4(POD_B4, 5353, REM_LO4, 40001), .payload = 60 },
		  { U4(EXT4, 53, REM_LO4, 40001), .payload = 60 }, REPLY_OUT,
		  .ct = { E_U(REM_LO4, 40001, POD_B4, 5353, ESTABLISHED, REV | RPL, EXT4, 53),
			  E_U(REM_LO4, 40001, EXT4, 53, ESTABLISHED, FWD | RPL, POD_B4, 5353) } },
	} },
	/* externalTrafficPolicy: Local: the local endpoint only, the client's address kept */
	{ "nodeport-etp-local", { &svc_np_etp_local }, 0, {
		{ HOSTIN, { T4(REM_HI4, 50000, NODE4, 30082, TH_SYN) },
		  { T4(REM_HI4, 50000, POD_B4, 8080, TH_SYN) }, NEW_TO(IF_B), .nct = NCT(2) },
		{ HOSTIN, { T4(REM_LO4, 50001, NODE4, 30082, TH_SYN) },
		  { T4(REM_LO4, 50001, POD_B4, 8080, TH_SYN) }, NEW_TO(IF_B), .nct = NCT(4) },
		{ HOSTIN, { T4(REM_HI4, 50002, NODE4, 30082, TH_SYN) },
		  { T4(REM_HI4, 50002, POD_B4, 8080, TH_SYN) }, NEW_TO(IF_B), .nct = NCT(6) },
	} },
	/* only frontends flagged external are translated on a data interface */
	{ "clusterip-from-outside", { &svc_tcp }, 0, {
		{ HOSTIN, { T4(REM_HI4, 50000, VIP4, 80, TH_SYN) }, {}, .verdict = TC_ACT_OK,
		  .cnt = C(RX) | C(TO_STACK), .nct = NCT(0) },
	} },
	{ "etp-local-without-local-backend", { &svc_np_etp }, 0, {
		{ HOSTIN, { T4(REM_HI4, 50000, NODE4, 30081, TH_SYN) }, {},
		  .verdict = TC_ACT_SHOT, .cnt = C(RX) | C(DROP_NO_BACKEND), .nct = NCT(0) },
		{ HOSTIN, { U4(REM_HI4, 50000, NODE4, 30081) }, {}, .verdict = TC_ACT_OK,
		  .cnt = C(RX) | C(TO_STACK), .nct = NCT(0) }, /* UDP: no frontend */
	} },
	/* pods reaching an external frontend use every endpoint, as kube-proxy */
	{ "etp-local-from-pod", { &svc_np_etp }, 0, {
		{ FROM(IF_A), { T4(POD_A4, 40000, NODE4, 30081, TH_SYN) },
		  { T4(POD_A4, 40000, REM_BE4, 8080, TH_SYN) }, NEW_STACK, .nct = NCT(2) },
	} },
	/* from outside to a backend on another node: as the node itself, out
	 * over the wire past the stack */
	{ "itp-local-from-outside", { &svc_ext_itp }, 0, {
		{ HOSTIN, { T4(REM_HI4, 50000, EXT4, 80, TH_SYN) },
		  { T4(NODE4, 50000, REM_BE4, 8080, TH_SYN) }, .verdict = TC_ACT_REDIRECT,
		  .to = TO(IF_DATA), .cnt = C(RX) | C(CT_NEW) | C(NAT_NEW) | C(FWD_OUT),
		  .nct = NCT(2) },
	} },
	{ "itp-local-without-local-backend", { &svc_itp }, 0, {
		{ FROM(IF_A), { T4(POD_A4, 40000, VIP4, 80, TH_SYN) }, {},
		  .verdict = TC_ACT_SHOT, .cnt = C(RX) | C(DROP_NO_BACKEND), .nct = NCT(0) },
	} },
	/* count says 1, the backend entry is missing: never a made-up backend */
	{ "backend-entry-missing", { &svc_hole }, 0, {
		{ FROM(IF_A), { T4(POD_A4, 40000, VIP4, 80, TH_SYN) }, {},
		  .verdict = TC_ACT_SHOT, .cnt = C(RX) | C(DROP_NO_BACKEND), .nct = NCT(0) },
	} },
	{ "other-port-not-translated", { &svc_tcp }, 0, {
		{ FROM(IF_A), { T4(POD_A4, 40000, VIP4, 8080, TH_SYN) }, {}, .verdict = TC_ACT_OK,
		  .cnt = C(RX) | C(CT_NEW) | C(TO_STACK),
		  .ct = { E_T(POD_A4, 40000, VIP4, 8080, SYN_SENT, 0, NULL, 0) }, .nct = NCT(1) },
	} },
	{ "other-protocol-not-translated", { &svc_tcp }, 0, {
		{ FROM(IF_A), { U4(POD_A4, 40000, VIP4, 80) }, {}, .verdict = TC_ACT_OK,
		  .cnt = C(RX) | C(CT_NEW) | C(TO_STACK),
		  .ct = { E_U(POD_A4, 40000, VIP4, 80, NEW, 0, NULL, 0) }, .nct = NCT(1) },
	} },
	/* SCTP is balanced at connect time only */
	{ "sctp-not-translated", { &svc_sctp }, 0, {
		{ FROM(IF_A), { .family = 4, .proto = IPPROTO_SCTP, .src = POD_A4, .sport = 40000,
				.dst = VIP4, .dport = 80 }, {}, .verdict = TC_ACT_OK,
		  .cnt = C(RX) | C(CT_NEW) | C(TO_STACK), .nct = NCT(1) },
	} },
	{ "ping-vip-not-translated", { &svc_tcp }, 0, {
		{ FROM(IF_A), { .family = 4, .proto = IPPROTO_ICMP, .src = POD_A4, .dst = VIP4,
				.type = 8, .id = 80 }, {}, .verdict = TC_ACT_OK,
		  .cnt = C(RX) | C(CT_NEW) | C(TO_STACK), .nct = NCT(1) },
	} },
	/* a closed flow's tuple opened again: a new pick, both entries afresh */
	{ "reopen-after-rst", { &svc_tcp }, 0, {
		{ FROM(IF_A), { T4(POD_A4, 40000, VIP4, 80, TH_SYN) },
		  { T4(POD_A4, 40000, POD_B4, 8080, TH_SYN) }, NEW_TO(IF_B),
		  .ct = TCP_AB(SYN_SENT, 0) },
		{ FROM(IF_B), { T4(POD_B4, 8080, POD_A4, 40000, TH_RST | TH_ACK) },
		  { T4(VIP4, 80, POD_A4, 40000, TH_RST | TH_ACK) }, FWD_TO(IF_A),
		  .ct = TCP_AB(CLOSE, RPL) },
		{ FROM(IF_A), { T4(POD_A4, 40000, VIP4, 80, TH_SYN) },
		  { T4(POD_A4, 40000, POD_B4, 8080, TH_SYN) }, NEW_TO(IF_B),
		  .ct = TCP_AB(SYN_SENT, 0) },
	} },
	{ "rst-from-client", { &svc_tcp }, 0, {
		{ FROM(IF_A), { T4(POD_A4, 40000, VIP4, 80, TH_SYN) },
		  { T4(POD_A4, 40000, POD_B4, 8080, TH_SYN) }, NEW_TO(IF_B) },
		{ FROM(IF_B), { T4(POD_B4, 8080, POD_A4, 40000, SA) },
		  { T4(VIP4, 80, POD_A4, 40000, SA) }, FWD_TO(IF_A) },
		{ FROM(IF_A), { T4(POD_A4, 40000, VIP4, 80, TH_RST) },
		  { T4(POD_A4, 40000, POD_B4, 8080, TH_RST) }, FWD_TO(IF_B),
		  .ct = TCP_AB(CLOSE, RPL) },
	} },
	/* the backend's entry evicted mid-flow: the next client packet restores it */
	{ "backend-entry-lost", { &svc_tcp }, 0, {
		{ FROM(IF_A), { T4(POD_A4, 40000, VIP4, 80, TH_SYN) },
		  { T4(POD_A4, 40000, POD_B4, 8080, TH_SYN) }, NEW_TO(IF_B) },
		{ FROM(IF_B), { T4(POD_B4, 8080, POD_A4, 40000, SA) },
		  { T4(VIP4, 80, POD_A4, 40000, SA) }, FWD_TO(IF_A) },
		{ FROM(IF_A), { T4(POD_A4, 40000, VIP4, 80, TH_ACK) },
		  { T4(POD_A4, 40000, POD_B4, 8080, TH_ACK) }, FWD_TO(IF_B),
		  .ct = TCP_AB(ESTABLISHED, RPL) },
		{ FROM(IF_A), { T4(POD_A4, 40000, VIP4, 80, PA), .payload = 10 },
		  { T4(POD_A4, 40000, POD_B4, 8080, PA), .payload = 10 }, FWD_TO(IF_B),
		  .before = rev_delete,
		  /* the client's entry was answered before: it stays so */
		  .ct = { E_T(POD_A4, 40000, POD_B4, 8080, ESTABLISHED, REV | PICK, VIP4, 80),
			  E_T(POD_A4, 40000, VIP4, 80, ESTABLISHED, FWD | RPL, POD_B4, 8080) },
		  NCT(2) },
		{ FROM(IF_B), { T4(POD_B4, 8080, POD_A4, 40000, TH_ACK) },
		  { T4(VIP4, 80, POD_A4, 40000, TH_ACK) }, FWD_TO(IF_A),
		  .ct = TCP_AB(ESTABLISHED, PICK | RPL) },
	} },
	/* replies keep the client's entry alive, client packets the backend's */
	{ "entries-kept-alive", { &svc_tcp }, 0, {
		{ FROM(IF_A), { T4(POD_A4, 40000, VIP4, 80, TH_SYN) },
		  { T4(POD_A4, 40000, POD_B4, 8080, TH_SYN) }, NEW_TO(IF_B) },
		{ FROM(IF_B), { T4(POD_B4, 8080, POD_A4, 40000, SA) },
		  { T4(VIP4, 80, POD_A4, 40000, SA) }, FWD_TO(IF_A) },
		{ FROM(IF_A), { T4(POD_A4, 40000, VIP4, 80, TH_ACK) },
		  { T4(POD_A4, 40000, POD_B4, 8080, TH_ACK) }, FWD_TO(IF_B) },
		{ FROM(IF_B), { T4(POD_B4, 8080, POD_A4, 40000, PA), .payload = 5 },
		  { T4(VIP4, 80, POD_A4, 40000, PA), .payload = 5 }, FWD_TO(IF_A),
		  .before = both_age, .after = fwd_fresh },
		{ FROM(IF_A), { T4(POD_A4, 40000, VIP4, 80, PA), .payload = 5 },
		  { T4(POD_A4, 40000, POD_B4, 8080, PA), .payload = 5 }, FWD_TO(IF_B),
		  .before = both_age, .after = rev_fresh },
	} },
	/* a pod reaching itself through its service: it sees the frontend as its peer */
	{ "hairpin-tcp", { &svc_hp_tcp }, 0, {
		{ FROM(IF_A), { T4(POD_A4, 40000, VIP4, 82, TH_SYN) },
		  { T4(VIP4, 40000, POD_A4, 8080, TH_SYN) }, NEW_TO(IF_A),
		  .ct = { E_T(VIP4, 40000, POD_A4, 8080, SYN_SENT, REV | HP, VIP4, 82),
			  E_T(POD_A4, 40000, VIP4, 82, SYN_SENT, FWD | HP, POD_A4, 8080) },
		  NCT(2) },
		{ FROM(IF_A), { T4(POD_A4, 8080, VIP4, 40000, SA) },
		  { T4(VIP4, 82, POD_A4, 40000, SA) }, FWD_TO(IF_A),
		  .ct = { E_T(VIP4, 40000, POD_A4, 8080, SYN_RECV, REV | HP | RPL, VIP4, 82),
			  E_T(POD_A4, 40000, VIP4, 82, SYN_RECV, FWD | HP | RPL, POD_A4, 8080) } },
		{ FROM(IF_A), { T4(POD_A4, 40000, VIP4, 82, TH_ACK) },
		  { T4(VIP4, 40000, POD_A4, 8080, TH_ACK) }, FWD_TO(IF_A),
		  .ct = { E_T(VIP4, 40000, POD_A4, 8080, ESTABLISHED, REV | HP | RPL, VIP4, 82),
			  E_T(POD_A4, 40000, VIP4, 82, ESTABLISHED, FWD | HP | RPL, POD_A4, 8080) },
		  NCT(2) },
		{ FROM(IF_A), { T4(POD_A4, 8080, VIP4, 40000, PA), .payload = 33 },
		  { T4(VIP4, 82, POD_A4, 40000, PA), .payload = 33 }, FWD_TO(IF_A) },
	} },
	{ "hairpin-udp", { &svc_hp_udp }, 0, {
		{ FROM(IF_A), { U4(POD_A4, 40000, VIP4, 55), .payload = 10 },
		  { U4(VIP4, 40000, POD_A4, 5353), .payload = 10 }, NEW_TO(IF_A),
		  .ct = { E_U(VIP4, 40000, POD_A4, 5353, NEW, REV | HP, VIP4, 55),
			  E_U(POD_A4, 40000, VIP4, 55, NEW, FWD | HP, POD_A4, 5353) }, NCT(2) },
		{ FROM(IF_A), { U4(POD_A4, 5353, VIP4, 40000), .payload = 20 },
		  { U4(VIP4, 55, POD_A4, 40000), .payload = 20 }, FWD_TO(IF_A),
		  .ct = { E_U(VIP4, 40000, POD_A4, 5353, ESTABLISHED, REV | HP | RPL, VIP4, 55),
			  E_U(POD_A4, 40000, VIP4, 55, ESTABLISHED, FWD | HP | RPL, POD_A4, 5353) } },
	} },
	/* IPv4 UDP without checksum stays without */
	{ "udp-checksum-zero", { &svc_udp }, 4, {
		{ FROM(IF_A), { U4(POD_A4, 40000, VIP4, 53), .payload = 30 },
		  { U4(POD_A4, 40000, POD_B4, 5353), .payload = 30 }, NEW_TO(IF_B),
		  .mangle = udp_csum0 },
		{ FROM(IF_B), { U4(POD_B4, 5353, POD_A4, 40000), .payload = 3 },
		  { U4(VIP4, 53, POD_A4, 40000), .payload = 3 }, FWD_TO(IF_A),
		  .mangle = udp_csum0 },
	} },
	{ "ip-options", { &svc_tcp }, 4, {
		{ FROM(IF_A), { T4(POD_A4, 40000, VIP4, 80, TH_SYN), .ip_opts = 8 },
		  { T4(POD_A4, 40000, POD_B4, 8080, TH_SYN), .ip_opts = 8 }, NEW_TO(IF_B) },
		{ FROM(IF_B), { T4(POD_B4, 8080, POD_A4, 40000, SA), .ip_opts = 4 },
		  { T4(VIP4, 80, POD_A4, 40000, SA), .ip_opts = 4 }, FWD_TO(IF_A) },
	} },
	{ "extension-headers", { &svc_udp }, 6, {
		{ FROM(IF_A), { .family = 6, .proto = IPPROTO_UDP, .src = POD_A6, .sport = 40000,
				.dst = VIP6, .dport = 53, .n_ext = 2,
				.ext = { IPPROTO_HOPOPTS, IPPROTO_DSTOPTS }, .ext_len = { 16, 8 } },
		  { .family = 6, .proto = IPPROTO_UDP, .src = POD_A6, .sport = 40000, .dst = POD_B6,
		    .dport = 5353, .n_ext = 2, .ext = { IPPROTO_HOPOPTS, IPPROTO_DSTOPTS },
		    .ext_len = { 16, 8 } }, NEW_TO(IF_B) },
		{ FROM(IF_B), { .family = 6, .proto = IPPROTO_UDP, .src = POD_B6, .sport = 5353,
				.dst = POD_A6, .dport = 40000, .n_ext = 1,
				.ext = { IPPROTO_FRAGMENT } },
		  { .family = 6, .proto = IPPROTO_UDP, .src = VIP6, .sport = 53, .dst = POD_A6,
		    .dport = 40000, .n_ext = 1, .ext = { IPPROTO_FRAGMENT } }, FWD_TO(IF_A) },
	} },

	/* ICMP errors about NATed flows */
	{ "error-from-backend", { &svc_udp }, 0, {
		{ FROM(IF_A), { U4(POD_A4, 40000, VIP4, 53), .payload = 30 },
		  { U4(POD_A4, 40000, POD_B4, 5353), .payload = 30 }, NEW_TO(IF_B) },
		{ FROM(IF_B), { ERR4(POD_B4, POD_A4, 3, 3, &q_a_b_udp) },
		  { ERR4(VIP4, POD_A4, 3, 3, &q_a_vip_udp) }, REL_TO(IF_A),
		  .ct = UDP_AB(NEW, 0) },
	} },
	{ "error-from-router", { &svc_rem_tcp }, 0, {
		{ FROM(IF_A), { T4(POD_A4, 40000, VIP4, 81, TH_SYN) },
		  { T4(POD_A4, 40000, REM_BE4, 8080, TH_SYN) }, NEW_STACK },
		{ HOSTIN, { ERR4(ROUTER4, POD_A4, 3, 4, &q_a_rem_tcp), .quote_len = 28 },
		  { ERR4(ROUTER4, POD_A4, 3, 4, &q_a_vip81_tcp), .quote_len = 28 }, REL_TO(IF_A) },
	} },
	{ "error-from-remote-backend", { &svc_rem_udp }, 0, {
		{ FROM(IF_A), { U4(POD_A4, 40000, VIP4, 54), .payload = 1000 },
		  { U4(POD_A4, 40000, REM_BE4, 5353), .payload = 1000 }, NEW_STACK },
		{ HOSTIN, { ERR4(REM_BE4, POD_A4, 3, 3, &q_a_rem_udp) },
		  { ERR4(VIP4, POD_A4, 3, 3, &q_a_vip54_udp) }, REL_TO(IF_A) },
	} },
	{ "error-from-client-about-reply", { &svc_udp }, 0, {
		{ FROM(IF_A), { U4(POD_A4, 40000, VIP4, 53), .payload = 30 },
		  { U4(POD_A4, 40000, POD_B4, 5353), .payload = 30 }, NEW_TO(IF_B) },
		{ FROM(IF_B), { U4(POD_B4, 5353, POD_A4, 40000), .payload = 60 },
		  { U4(VIP4, 53, POD_A4, 40000), .payload = 60 }, FWD_TO(IF_A) },
		{ FROM(IF_A), { ERR4(POD_A4, VIP4, 3, 3, &q_vip_a_udp) },
		  { ERR4(POD_A4, POD_B4, 3, 3, &q_b_a_udp) }, REL_TO(IF_B),
		  .ct = UDP_AB(ESTABLISHED, RPL) },
	} },
	{ "error-from-outside-about-reply", { &svc_ext_udp }, 0, {
		{ HOSTIN, { U4(REM_LO4, 40001, EXT4, 53), .payload = 30 },
		  { U4(REM_LO4, 40001, POD_B4, 5353), .payload = 30 }, NEW_TO(IF_B) },
		{ FROM(IF_B), { U4(POD_B4, 5353, REM_LO4, 40001), .payload = 60 },
		  { U4(EXT4, 53, REM_LO4, 40001), .payload = 60 }, REPLY_OUT },
		{ HOSTIN, { ERR4(REM_LO4, EXT4, 3, 3, &q_ext_rl_udp) },
		  { ERR4(REM_LO4, POD_B4, 3, 3, &q_b_rl_udp) }, REL_TO(IF_B) },
	} },
	/* the backend's error to a client outside: from the frontend, out past the stack */
	{ "error-from-backend-to-outside", { &svc_ext_udp }, 0, {
		{ HOSTIN, { U4(REM_LO4, 40001, EXT4, 53), .payload = 30 },
		  { U4(REM_LO4, 40001, POD_B4, 5353), .payload = 30 }, NEW_TO(IF_B) },
		{ FROM(IF_B), { ERR4(POD_B4, REM_LO4, 3, 3, &q_rl_b_udp) },
		  { ERR4(EXT4, REM_LO4, 3, 3, &q_rl_ext_udp) }, .verdict = TC_ACT_REDIRECT,
		  .to = TO(IF_DATA), .cnt = C(RX) | C(CT_RELATED) | C(FWD_OUT) },
	} },
	{ "error-quote-ip-options", { &svc_udp }, 4, {
		{ FROM(IF_A), { U4(POD_A4, 40000, VIP4, 53), .payload = 30, .ip_opts = 8 },
		  { U4(POD_A4, 40000, POD_B4, 5353), .payload = 30, .ip_opts = 8 },
		  NEW_TO(IF_B) },
		{ FROM(IF_B), { ERR4(POD_B4, POD_A4, 3, 3, &q_a_b_udp_opts) },
		  { ERR4(VIP4, POD_A4, 3, 3, &q_a_vip_udp_opts) }, REL_TO(IF_A) },
	} },
	{ "error-hairpin", { &svc_hp_udp }, 0, {
		{ FROM(IF_A), { U4(POD_A4, 40000, VIP4, 55), .payload = 10 },
		  { U4(VIP4, 40000, POD_A4, 5353), .payload = 10 }, NEW_TO(IF_A) },
		{ FROM(IF_A), { ERR4(POD_A4, VIP4, 3, 3, &q_vip_a_hp) },
		  { ERR4(VIP4, POD_A4, 3, 3, &q_a_vip_hp) }, REL_TO(IF_A) },
	} },
	/* the client (the backend too) refusing a reply it got from the frontend */
	{ "error-hairpin-about-reply", { &svc_hp_udp }, 0, {
		{ FROM(IF_A), { U4(POD_A4, 40000, VIP4, 55), .payload = 10 },
		  { U4(VIP4, 40000, POD_A4, 5353), .payload = 10 }, NEW_TO(IF_A) },
		{ FROM(IF_A), { U4(POD_A4, 5353, VIP4, 40000), .payload = 20 },
		  { U4(VIP4, 55, POD_A4, 40000), .payload = 20 }, FWD_TO(IF_A) },
		{ FROM(IF_A), { ERR4(POD_A4, VIP4, 3, 3, &q_vip55_a_hp) },
		  { ERR4(VIP4, POD_A4, 3, 3, &q_a_vip40_hp) }, REL_TO(IF_A) },
	} },
	/* a quote with extension headers is not rewritten (documented): dropped */
	{ "error-quote-extension-headers", { &svc_udp }, 6, {
		{ FROM(IF_A), { .family = 6, .proto = IPPROTO_UDP, .src = POD_A6, .sport = 40000,
				.dst = VIP6, .dport = 53, .n_ext = 2,
				.ext = { IPPROTO_HOPOPTS, IPPROTO_DSTOPTS } },
		  { .family = 6, .proto = IPPROTO_UDP, .src = POD_A6, .sport = 40000, .dst = POD_B6,
		    .dport = 5353, .n_ext = 2, .ext = { IPPROTO_HOPOPTS, IPPROTO_DSTOPTS } },
		  NEW_TO(IF_B) },
		{ FROM(IF_B), { .family = 6, .proto = IPPROTO_ICMPV6, .src = POD_B6, .dst = POD_A6,
				.type = 1, .code = 4, .quote = &q6_a_b_ext }, {},
		  .verdict = TC_ACT_SHOT, .cnt = C(RX) | C(CT_RELATED) | C(DROP_MALFORMED) },
	} },

	/* ICMP errors about flows source-NATed to a backend on another node:
	 * the quote names the node's address and port; the client gets its own */
	{ "error-snat-from-backend", { &svc_np_remote_udp }, 0, {
		{ HOSTIN, { U4(REM_HI4, 50000, NODE4, 30084), .payload = 30 },
		  { U4(NODE4, 50000, REM_BE4, 5353), .payload = 30 }, .verdict = TC_ACT_REDIRECT,
		  .to = TO(IF_DATA), .cnt = C(RX) | C(CT_NEW) | C(NAT_NEW) | C(FWD_OUT) },
		{ HOSTIN, { ERR4(REM_BE4, NODE4, 3, 3, &q_n_rb_udp) },
		  { ERR4(NODE4, REM_HI4, 3, 3, &q_rh_np_udp) }, .verdict = TC_ACT_REDIRECT,
		  .to = TO(IF_DATA), .cnt = C(RX) | C(CT_RELATED) | C(FWD_OUT),
		  .ct = { E_U(NODE4, 50000, REM_BE4, 5353, NEW, REV | SN, NODE4, 30084),
			  E_U(REM_HI4, 50000, NODE4, 30084, NEW, FWD | SN, REM_BE4, 5353) },
		  NCT(2) },
	} },
	/* a router on the way to the backend: path MTU reaches the client */
	{ "error-snat-from-router", { &svc_np_remote }, 0, {
		{ HOSTIN, { T4(REM_HI4, 50000, NODE4, 30083, TH_SYN) },
		  { T4(NODE4, 50000, REM_BE4, 8080, TH_SYN) }, .verdict = TC_ACT_REDIRECT,
		  .to = TO(IF_DATA), .cnt = C(RX) | C(CT_NEW) | C(NAT_NEW) | C(FWD_OUT) },
		{ HOSTIN, { ERR4(ROUTER4, NODE4, 3, 4, &q_n_rb_tcp), .quote_len = 28 },
		  { ERR4(ROUTER4, REM_HI4, 3, 4, &q_rh_np_tcp), .quote_len = 28 },
		  .verdict = TC_ACT_REDIRECT, .to = TO(IF_DATA),
		  .cnt = C(RX) | C(CT_RELATED) | C(FWD_OUT) },
	} },
	/* the client refusing a reply: to the backend, from the node's address */
	{ "error-snat-from-client-about-reply", { &svc_np_remote_udp }, 0, {
		{ HOSTIN, { U4(REM_HI4, 50000, NODE4, 30084), .payload = 30 },
		  { U4(NODE4, 50000, REM_BE4, 5353), .payload = 30 }, .verdict = TC_ACT_REDIRECT,
		  .to = TO(IF_DATA), .cnt = C(RX) | C(CT_NEW) | C(NAT_NEW) | C(FWD_OUT) },
		{ HOSTIN, { U4(REM_BE4, 5353, NODE4, 50000), .payload = 40 },
		  { U4(NODE4, 30084, REM_HI4, 50000), .payload = 40 }, REPLY_OUT },
		{ HOSTIN, { ERR4(REM_HI4, NODE4, 3, 3, &q_np_rh_udp) },
		  { ERR4(NODE4, REM_BE4, 3, 3, &q_rb_n_udp) }, .verdict = TC_ACT_REDIRECT,
		  .to = TO(IF_DATA), .cnt = C(RX) | C(CT_RELATED) | C(FWD_OUT),
		  .ct = { E_U(NODE4, 50000, REM_BE4, 5353, ESTABLISHED, REV | SN | RPL, NODE4, 30084),
			  E_U(REM_HI4, 50000, NODE4, 30084, ESTABLISHED, FWD | SN | RPL, REM_BE4,
			      5353) }, NCT(2) },
	} },
	/* a quote cut short of the 8 L4 bytes: dropped, never guessed at */
	{ "error-snat-truncated", { &svc_np_remote_udp }, 0, {
		{ HOSTIN, { U4(REM_HI4, 50000, NODE4, 30084), .payload = 30 },
		  { U4(NODE4, 50000, REM_BE4, 5353), .payload = 30 }, .verdict = TC_ACT_REDIRECT,
		  .to = TO(IF_DATA), .cnt = C(RX) | C(CT_NEW) | C(NAT_NEW) | C(FWD_OUT) },
		{ HOSTIN, { ERR4(REM_BE4, NODE4, 3, 3, &q_n_rb_udp), .quote_len = 24 }, {},
		  .verdict = TC_ACT_SHOT, .cnt = C(RX) | C(DROP_MALFORMED), NCT(2) },
	} },

	/* Path MTU: a packet sent out past the stack that does not fit the
	 * way out gets its sender ICMP fragmentation needed / packet too big,
	 * quoting the packet as the sender sent it */
	{ "too-big-reply-to-outside", { &svc_ext_udp }, 0, {
		{ HOSTIN, { U4(REM_LO4, 40001, EXT4, 53), .payload = 30 },
		  { U4(REM_LO4, 40001, POD_B4, 5353), .payload = 30 }, NEW_TO(IF_B) },
		{ FROM(IF_B), { U4(POD_B4, 5353, REM_LO4, 40001), .payload = 1300, .df = 1 }, {},
		  .too_big = MTU_SMALL, .verdict = TC_ACT_REDIRECT, .cnt = C(RX) | C(TOO_BIG),
		  .before = mtu_small, .after = mtu_back, .nct = NCT(2) },
		/* what fits still goes */
		{ FROM(IF_B), { U4(POD_B4, 5353, REM_LO4, 40001), .payload = 1200, .df = 1 },
		  { U4(EXT4, 53, REM_LO4, 40001), .payload = 1200, .df = 1 }, REPLY_OUT,
		  .before = mtu_small, .after = mtu_back },
	} },
	/* a client the neighbour table does not know yet (the FIB then checks
	 * no MTU): the same */
	{ "too-big-no-neighbour", { &svc_ext_udp }, 0, {
		{ HOSTIN, { U4(ROUTER4, 40001, EXT4, 53), .payload = 30 },
		  { U4(ROUTER4, 40001, POD_B4, 5353), .payload = 30 }, NEW_TO(IF_B) },
		{ FROM(IF_B), { U4(POD_B4, 5353, ROUTER4, 40001), .payload = 1300, .df = 1 }, {},
		  .too_big = MTU_SMALL, .verdict = TC_ACT_REDIRECT, .cnt = C(RX) | C(TOO_BIG),
		  .before = mtu_small, .after = mtu_back },
		/* bpf_redirect_neigh: the MACs are the neighbour code's to write */
		{ FROM(IF_B), { U4(POD_B4, 5353, ROUTER4, 40001), .payload = 1200, .df = 1 },
		  { U4(EXT4, 53, ROUTER4, 40001), .payload = 1200, .df = 1, .ttl = 63 },
		  .verdict = TC_ACT_REDIRECT, .cnt = C(RX) | C(FWD_OUT), .before = mtu_small,
		  .after = mtu_back },
	} },
	/* IPv4 without DF is the stack's to fragment, which it cannot do with
	 * a node address as source: dropped, counted */
	{ "too-big-without-df", { &svc_ext_udp }, 4, {
		{ HOSTIN, { U4(REM_LO4, 40001, EXT4, 53), .payload = 30 },
		  { U4(REM_LO4, 40001, POD_B4, 5353), .payload = 30 }, NEW_TO(IF_B) },
		{ FROM(IF_B), { U4(POD_B4, 5353, REM_LO4, 40001), .payload = 1300 }, {},
		  .verdict = TC_ACT_SHOT, .cnt = C(RX) | C(DROP_TOO_BIG), .before = mtu_small,
		  .after = mtu_back },
	} },
	/* never an ICMP error about an ICMP error */
	{ "too-big-icmp-error", { &svc_ext_udp }, 0, {
		{ HOSTIN, { U4(REM_LO4, 40001, EXT4, 53), .payload = 30 },
		  { U4(REM_LO4, 40001, POD_B4, 5353), .payload = 30 }, NEW_TO(IF_B) },
		{ FROM(IF_B), { ERR4(POD_B4, REM_LO4, 3, 3, &q_rl_b_udp_big), .df = 1 }, {},
		  .verdict = TC_ACT_SHOT, .cnt = C(RX) | C(CT_RELATED) | C(DROP_TOO_BIG),
		  .before = mtu_small, .after = mtu_back },
	} },
	/* the client's packet, source-NATed towards a remote backend */
	{ "too-big-snat-client", { &svc_np_remote_udp }, 0, {
		{ HOSTIN, { U4(REM_HI4, 50000, NODE4, 30084), .payload = 30 },
		  { U4(NODE4, 50000, REM_BE4, 5353), .payload = 30 }, .verdict = TC_ACT_REDIRECT,
		  .to = TO(IF_DATA), .cnt = C(RX) | C(CT_NEW) | C(NAT_NEW) | C(FWD_OUT) },
		{ HOSTIN, { U4(REM_HI4, 50000, NODE4, 30084), .payload = 1300, .df = 1 }, {},
		  .too_big = MTU_SMALL, .verdict = TC_ACT_REDIRECT, .cnt = C(RX) | C(TOO_BIG),
		  .before = mtu_small, .after = mtu_back, .nct = NCT(2) },
	} },
	/* ... and the remote backend's reply to it */
	{ "too-big-snat-reply", { &svc_np_remote_udp }, 0, {
		{ HOSTIN, { U4(REM_HI4, 50000, NODE4, 30084), .payload = 30 },
		  { U4(NODE4, 50000, REM_BE4, 5353), .payload = 30 }, .verdict = TC_ACT_REDIRECT,
		  .to = TO(IF_DATA), .cnt = C(RX) | C(CT_NEW) | C(NAT_NEW) | C(FWD_OUT) },
		{ HOSTIN, { U4(REM_BE4, 5353, NODE4, 50000), .payload = 1300, .df = 1 }, {},
		  .too_big = MTU_SMALL, .verdict = TC_ACT_REDIRECT, .cnt = C(RX) | C(TOO_BIG),
		  .before = mtu_small, .after = mtu_back, .nct = NCT(2) },
	} },
	/* the first packet of such a flow: both entries made, then the error */
	{ "too-big-snat-first", { &svc_np_remote_udp }, 0, {
		{ HOSTIN, { U4(REM_HI4, 50000, NODE4, 30084), .payload = 1300, .df = 1 }, {},
		  .too_big = MTU_SMALL, .verdict = TC_ACT_REDIRECT,
		  .cnt = C(RX) | C(CT_NEW) | C(NAT_NEW) | C(TOO_BIG), .before = mtu_small,
		  .after = mtu_back, .nct = NCT(2) },
	} },

	/* UDP to a backend that just went: refused for a while, then not */
	{ "gone-backend-refused", {}, 0, {
		{ FROM(IF_A), { U4(POD_A4, 40000, POD_B4, 5353), .payload = 12 }, {},
		  .before = gone_b_now, .answer = 1, .verdict = TC_ACT_REDIRECT,
		  .cnt = C(RX) | C(NAT_REJECT), .nct = NCT(0) },
	} },
	{ "gone-backend-refused-from-outside", {}, 0, {
		{ HOSTIN, { U4(REM_HI4, 40000, POD_B4, 5353), .payload = 12 }, {},
		  .before = gone_b_now, .answer = 1, .verdict = TC_ACT_REDIRECT,
		  .cnt = C(RX) | C(NAT_REJECT), .nct = NCT(0) },
	} },
	{ "gone-backend-time-passed", {}, 0, {
		{ FROM(IF_A), { U4(POD_A4, 40000, POD_B4, 5353) }, {}, .before = gone_b_past,
		  .verdict = TC_ACT_REDIRECT, .to = TO(IF_B),
		  .cnt = C(RX) | C(CT_NEW) | C(FWD_PEER), .nct = NCT(1) },
	} },
	{ "gone-backend-other-port", {}, 0, {
		{ FROM(IF_A), { U4(POD_A4, 40000, POD_B4, 5354) }, {}, .before = gone_b_now,
		  .verdict = TC_ACT_REDIRECT, .to = TO(IF_B),
		  .cnt = C(RX) | C(CT_NEW) | C(FWD_PEER), .nct = NCT(1) },
	} },
	{ "gone-backend-tcp", {}, 0, {
		{ FROM(IF_A), { T4(POD_A4, 40000, POD_B4, 5353, TH_SYN) }, {}, .before = gone_b_now,
		  .verdict = TC_ACT_REDIRECT, .to = TO(IF_B),
		  .cnt = C(RX) | C(CT_NEW) | C(FWD_PEER), .nct = NCT(1) },
	} },
	/* an established flow is the agent's to clean up, not refused here */
	{ "gone-backend-established", {}, 0, {
		{ FROM(IF_A), { U4(POD_A4, 40000, POD_B4, 5353) }, {}, .verdict = TC_ACT_REDIRECT,
		  .to = TO(IF_B), .cnt = C(RX) | C(CT_NEW) | C(FWD_PEER) },
		{ FROM(IF_A), { U4(POD_A4, 40000, POD_B4, 5353) }, {}, .before = gone_b_now,
		  .verdict = TC_ACT_REDIRECT, .to = TO(IF_B), .cnt = C(RX) | C(FWD_PEER),
		  .nct = NCT(1) },
	} },
};

/* --- running a flow ------------------------------------------------------- */

static struct pkt_spec conv(const struct pkt_spec *s, int v6, struct pkt_spec *qbuf)
{
	return v6 && s->family == 4 ? spec_to6(s, qbuf) : *s;
}

static void expected_out(const struct nstep *st, const struct pkt_spec *in,
			 const struct pkt_spec *out, const struct pkt *inp, struct pkt *want)
{
	struct pkt_spec o = out->family ? *out : *in;

	if (st->answer) {
		tnat_answer(want, inp);
		return;
	}
	if (st->too_big) {
		tnat_too_big(want, inp, tnat_addr(NODE4, inp->family == 6), st->too_big);
		return;
	}
	if (st->to)
		o.ttl = (uint8_t)((in->ttl ? in->ttl : 64) - 1);
	pkt_build(want, &o);
	if (st->mangle) {
		st->mangle(want);
	}
	if (st->to)
		tnat_fib_macs(want, (enum iface_id)(st->to - 1));
}

static void run_ncase(const struct ncase *c, int v6)
{
	struct pkt_spec qin[8], qout[8];

	case_begin("bpf/nat/%s/v%d", c->name, v6 ? 6 : 4);
	tnat_clear();
	for (size_t i = 0; i < ARRAY_SIZE(c->svc) && c->svc[i]; i++)
		if (tnat_svc(c->svc[i], v6))
			break;
	for (size_t i = 0; i < ARRAY_SIZE(c->steps) && c->steps[i].in.family && !case_failed();
	     i++) {
		const struct nstep *st = &c->steps[i];
		struct pkt_spec in = conv(&st->in, v6, qin);
		struct pkt_spec out = conv(&st->out, v6, qout);
		struct pkt p, want;
		struct run r;
		int nf = 0;

		if (st->before)
			st->before(v6);
		pkt_build(&p, &in);
		if (st->mangle)
			st->mangle(&p);
		if (run_prog(st->prog, st->ifc, p.b, p.len, &r))
			break;
		expect_verdict(&r, st->verdict);
		expect_counters(&r, st->ifc, st->cnt);
		if (st->verdict != TC_ACT_SHOT) {
			expected_out(st, &in, &out, &p, &want);
			expect_bytes("output", r.out, r.out_len, want.b, want.len);
			expect_csums(&r);
		}
		for (size_t k = 0; k < ARRAY_SIZE(st->ct) && st->ct[k].src; k++)
			tnat_expect_ct(&st->ct[k], v6);
		if (st->nct && (nf = tct_count()) != st->nct - 1)
			case_fail("conntrack: %d entries, want %d", nf, st->nct - 1);
		if (st->after)
			st->after(v6);
		if (case_failed())
			case_note("at packet %zu (%s on %s)", i + 1, tprog_name(st->prog),
				  st->ifc == IF_DATA ? "the wire" : st->ifc == IF_A ? "pod A" : "pod B");
	}
	case_end();
}

/* --- backend choice ------------------------------------------------------- */

#define NBE 16

static const char *be_addr(int i, int v6)
{
	static char buf[2][NBE * 2][48];

	snprintf(buf[v6][i], sizeof(buf[v6][i]), v6 ? "fd00:3::%x" : "10.3.0.%d", i + 1);
	return buf[v6][i];
}

/* backends 0 .. n-1 at 10.3.0.1.., port 9000 + i (the first nlocal on this
 * node), and decoys past them */
static void be_many(uint32_t id, int n, int nlocal, int decoys, int v6)
{
	for (int i = 0; i < n + decoys; i++)
		tnat_be(id, (uint32_t)i, be_addr(i, v6), (uint16_t)(9000 + i),
			i < nlocal ? TERN_BE_F_LOCAL : 0);
}

/* the backend ordinal a new flow from client:sport got (by its output),
 * -1 when it was not translated to one of them */
static int pick(enum prog_id prog, enum iface_id ifc, const char *client, uint16_t sport,
		const char *fe, uint16_t port, int v6)
{
	struct pkt_spec s = { .family = v6 ? 6 : 4, .proto = IPPROTO_TCP, .src = client,
			      .sport = sport, .dst = fe, .dport = port, .flags = TH_SYN };
	struct pkt p;
	struct run r;
	struct tern_addr got, want;
	int off;

	pkt_build(&p, &s);
	if (run_prog(prog, ifc, p.b, p.len, &r))
		return -1;
	if (r.verdict == TC_ACT_SHOT || r.out_len < p.len)
		return -1;
	memset(&got, 0, sizeof(got));
	off = p.l3 + (v6 ? 24 : 16);
	if (v6)
		memcpy(got.b, r.out + off, 16);
	else
		tern_addr_set_v4(&got, *(uint32_t *)(r.out + off));
	for (int i = 0; i < 2 * NBE; i++) {
		taddr(be_addr(i, v6), &want);
		if (!memcmp(&got, &want, sizeof(got)) &&
		    r.out[p.l4 + 2] * 256 + r.out[p.l4 + 3] == 9000 + i)
			return i;
	}
	return -1;
}

static int aff_get(uint32_t id, const char *client, struct tern_nat_aff *a)
{
	struct tern_nat_aff_key k = { .svc_id = id };

	taddr(client, &k.client);
	return bpf_map_lookup_elem(tenv.nat_aff, &k, a) ? -errno : 0;
}

static void aff_put(uint32_t id, const char *client, int ordinal, const char *addr,
		    uint16_t port, uint64_t last_ns)
{
	struct tern_nat_aff_key k = { .svc_id = id };
	struct tern_nat_aff a = { .port = htons(port), .ordinal = (uint32_t)ordinal,
				  .last_ns = last_ns };

	taddr(client, &k.client);
	taddr(addr, &a.addr);
	if (bpf_map_update_elem(tenv.nat_aff, &k, &a, BPF_ANY))
		case_fail("tern_nat_aff_v1 update: %s", strerror(errno));
}

/* the affinity entry of client names backend ordinal o, seen just now */
static void expect_aff(uint32_t id, const char *client, int o, int v6)
{
	struct tern_nat_aff a;
	struct tern_addr want;

	if (aff_get(id, client, &a)) {
		case_fail("no affinity entry for %s", client);
		return;
	}
	taddr(be_addr(o, v6), &want);
	if ((int)a.ordinal != o || memcmp(&a.addr, &want, sizeof(want)) ||
	    ntohs(a.port) != 9000 + o)
		case_fail("affinity entry for %s: ordinal %u port %u, want the backend it got (%d)",
			  client, a.ordinal, ntohs(a.port), o);
	if (a.last_ns < tstamp_floor_ns() - 1000000000ull)
		case_fail("affinity entry for %s: last used %.1f s ago", client,
			  (double)(tnow_ns() - a.last_ns) / 1e9);
}

static void pick_begin(const char *name, int v6)
{
	case_begin("bpf/nat/pick/%s/v%d", name, v6 ? 6 : 4);
	tnat_clear();
}

/* count 4 with decoys at 4..7: every flow gets one of 0..3, all of them turn up */
static void pick_range(int v6)
{
	const char *vip = tnat_addr(VIP4, v6), *a = tnat_addr(POD_A4, v6);
	int seen[2 * NBE] = { 0 }, bad = -2;

	pick_begin("within-count", v6);
	tnat_fe(vip, 80, IPPROTO_TCP, 20, 4, 0, 0, 0);
	be_many(20, 4, 0, 4, v6);
	for (int i = 0; i < 64; i++) {
		int o = pick(P_FROM_EP, IF_A, a, (uint16_t)(30000 + i), vip, 80, v6);

		if (o < 0 || o >= 4)
			bad = o;
		else
			seen[o]++;
	}
	if (bad != -2)
		case_fail("a flow got %s", bad < 0 ? "no backend" : "a backend past count");
	for (int o = 0; o < 4; o++)
		if (!seen[o])
			case_fail("64 flows never got backend %d of 4", o);
	if (tct_count() != 128)
		case_fail("conntrack: %d entries, want two per flow", tct_count());
	case_end();
}

/* a Local traffic policy: only the first local_count backends */
static void pick_local(int v6, int external)
{
	const char *fe = tnat_addr(external ? NODE4 : VIP4, v6);
	const char *cl = tnat_addr(external ? REM_HI4 : POD_A4, v6);
	uint32_t flags = external ? TERN_FE_F_EXTERNAL | TERN_FE_F_NODEPORT | TERN_FE_F_ETP_LOCAL :
				    TERN_FE_F_ITP_LOCAL;
	int seen[2 * NBE] = { 0 }, bad = 0;

	pick_begin(external ? "etp-local" : "itp-local", v6);
	tnat_fe(fe, 80, IPPROTO_TCP, 21, 6, 2, flags, 0);
	be_many(21, 6, 2, 0, v6);
	for (int i = 0; i < 40; i++) {
		int o = pick(external ? P_HOST_IN : P_FROM_EP, external ? IF_DATA : IF_A, cl,
			     (uint16_t)(30000 + i), fe, 80, v6);

		if (o < 0 || o >= 2)
			bad++;
		else
			seen[o]++;
	}
	if (bad)
		case_fail("%d of 40 flows got no backend or a non-local one", bad);
	if (!seen[0] || !seen[1])
		case_fail("40 flows used local backends %d and %d times: want both", seen[0],
			  seen[1]);
	case_end();
}

/* without affinity flows spread; with it a client sticks to one backend */
static void pick_affinity(int v6)
{
	const char *vip = tnat_addr(VIP4, v6), *a = tnat_addr(POD_A4, v6),
		   *b = tnat_addr(POD_B4, v6);
	struct tern_nat_aff aff;
	int first = -1, other = 0, o;

	pick_begin("no-affinity-spreads", v6);
	tnat_fe(vip, 80, IPPROTO_TCP, 22, NBE, 0, 0, 0);
	be_many(22, NBE, 0, 0, v6);
	for (int i = 0; i < 24; i++) {
		o = pick(P_FROM_EP, IF_A, a, (uint16_t)(30000 + i), vip, 80, v6);
		if (first < 0)
			first = o;
		other |= o != first;
	}
	if (!other)
		case_fail("24 flows over %d backends all got backend %d", NBE, first);
	if (aff_get(22, a, &aff) == 0)
		case_fail("an affinity entry without TERN_FE_F_AFFINITY");
	case_end();

	pick_begin("affinity-same-client", v6);
	tnat_fe(vip, 80, IPPROTO_TCP, 23, NBE, 0, TERN_FE_F_AFFINITY, 100);
	be_many(23, NBE, 0, 0, v6);
	for (int c = 0; c < 2; c++) {
		const char *cl = c ? b : a;

		first = -1;
		for (int i = 0; i < 24; i++) {
			o = pick(P_FROM_EP, c ? IF_B : IF_A, cl, (uint16_t)(30000 + i), vip, 80, v6);
			if (first < 0)
				first = o;
			if (o != first || o < 0) {
				case_fail("client %s: flow %d got backend %d, the first got %d", cl, i,
					  o, first);
				break;
			}
		}
		if (first >= 0)
			expect_aff(23, cl, first, v6);
	}
	case_end();
}

/* the remembered backend is not used: timed out, moved, or beyond count */
static void pick_affinity_renew(int v6)
{
	const char *vip = tnat_addr(VIP4, v6), *a = tnat_addr(POD_A4, v6);
	uint64_t old = tnow_ns() - 101 * 1000000000ull;
	int differs = 0, o;

	pick_begin("affinity-timeout", v6);
	tnat_fe(vip, 80, IPPROTO_TCP, 24, NBE, 0, TERN_FE_F_AFFINITY, 100);
	be_many(24, NBE, 0, 0, v6);
	for (int i = 0; i < 16 && !case_failed(); i++) {
		aff_put(24, a, 5, be_addr(5, v6), 9005, old);
		o = pick(P_FROM_EP, IF_A, a, (uint16_t)(30000 + i), vip, 80, v6);
		differs += o != 5;
		if (o >= 0)
			expect_aff(24, a, o, v6);
	}
	if (!differs)
		case_fail("16 flows after the timeout all kept the remembered backend");
	case_end();

	/* ordinal 5 now holds another backend: the old one is gone */
	pick_begin("affinity-backend-moved", v6);
	tnat_fe(vip, 80, IPPROTO_TCP, 25, NBE, 0, TERN_FE_F_AFFINITY, 100);
	be_many(25, NBE, 0, 0, v6);
	for (int i = 0; i < 8 && !case_failed(); i++) {
		aff_put(25, a, 5, be_addr(NBE + 3, v6), 9005, tnow_ns());
		o = pick(P_FROM_EP, IF_A, a, (uint16_t)(30000 + i), vip, 80, v6);
		if (o < 0 || o >= NBE)
			case_fail("flow %d: backend %d", i, o);
		else
			expect_aff(25, a, o, v6);
	}
	case_end();

	/* scaled down to 4: ordinal 10 is past the end (its entry still there) */
	pick_begin("affinity-beyond-count", v6);
	tnat_fe(vip, 80, IPPROTO_TCP, 26, 4, 0, TERN_FE_F_AFFINITY, 100);
	be_many(26, NBE, 0, 0, v6);
	for (int i = 0; i < 8 && !case_failed(); i++) {
		aff_put(26, a, 10, be_addr(10, v6), 9010, tnow_ns());
		o = pick(P_FROM_EP, IF_A, a, (uint16_t)(30000 + i), vip, 80, v6);
		if (o < 0 || o >= 4)
			case_fail("flow %d: backend %d, want one of 0..3", i, o);
		else
			expect_aff(26, a, o, v6);
	}
	case_end();

	/* Local policy: a remembered non-local backend is not for this client */
	pick_begin("affinity-itp-local", v6);
	tnat_fe(vip, 80, IPPROTO_TCP, 27, NBE, 2, TERN_FE_F_AFFINITY | TERN_FE_F_ITP_LOCAL, 100);
	be_many(27, NBE, 0, 0, v6);
	for (int i = 0; i < 8 && !case_failed(); i++) {
		aff_put(27, a, 5, be_addr(5, v6), 9005, tnow_ns());
		o = pick(P_FROM_EP, IF_A, a, (uint16_t)(30000 + i), vip, 80, v6);
		if (o < 0 || o >= 2)
			case_fail("flow %d: backend %d, want a local one (0, 1)", i, o);
	}
	case_end();
}

/* A stamp from another CPU can be a little ahead of this one's clock: the
 * entry is fresh, not 2^64 ns old (as conntrack's expiry already knows). */
static void pick_affinity_skew(int v6)
{
	const char *vip = tnat_addr(VIP4, v6), *a = tnat_addr(POD_A4, v6);

	pick_begin("affinity-stamp-ahead", v6);
	tnat_fe(vip, 80, IPPROTO_TCP, 28, NBE, 0, TERN_FE_F_AFFINITY, 100);
	be_many(28, NBE, 0, 0, v6);
	for (int i = 0; i < 8 && !case_failed(); i++) {
		aff_put(28, a, 5, be_addr(5, v6), 9005, tnow_ns() + 50000000ull);
		int o = pick(P_FROM_EP, IF_A, a, (uint16_t)(30000 + i), vip, 80, v6);

		if (o != 5)
			case_fail("flow %d: backend %d, want the remembered 5", i, o);
	}
	case_end();
}

/* --- checksums ------------------------------------------------------------ */

/* Many ports and lengths: the incremental updates against full computation. */
static void csum_sweep(int v6)
{
	static const uint16_t sports[] = { 1, 2, 0x7fff, 0x8000, 0x8001, 0xfffe, 0xffff, 0x1234,
					   40000, 53 };
	static const uint16_t lens[] = { 0, 1, 2, 3, 17, 200 };
	const char *vip = tnat_addr(VIP4, v6), *a = tnat_addr(POD_A4, v6),
		   *rb = tnat_addr(REM_BE4, v6);

	case_begin("bpf/nat/csum-sweep/v%d", v6 ? 6 : 4);
	tnat_clear();
	tnat_fe(vip, 80, IPPROTO_TCP, 30, 1, 0, 0, 0);
	tnat_be(30, 0, rb, 0xfffe, 0);
	tnat_fe(vip, 80, IPPROTO_UDP, 31, 1, 0, 0, 0);
	tnat_be(31, 0, rb, 1, 0);
	for (int proto = 0; proto < 2; proto++) {
		for (size_t i = 0; i < ARRAY_SIZE(sports) && !case_failed(); i++) {
			for (size_t j = 0; j < ARRAY_SIZE(lens) && !case_failed(); j++) {
				struct pkt_spec s = {
					.family = v6 ? 6 : 4, .src = a, .dst = vip,
					.proto = proto ? IPPROTO_UDP : IPPROTO_TCP,
					.sport = sports[i], .dport = 80, .flags = TH_SYN,
					.payload = lens[j],
				}, o = s;
				struct pkt p, want;
				struct run r;

				o.dst = rb;
				o.dport = proto ? 1 : 0xfffe;
				tmaps_clear();
				pkt_build(&p, &s);
				pkt_build(&want, &o);
				if (run_prog(P_FROM_EP, IF_A, p.b, p.len, &r))
					break;
				expect_verdict(&r, TC_ACT_OK);
				expect_bytes("output", r.out, r.out_len, want.b, want.len);
				expect_csums(&r);
				if (case_failed())
					case_note("%s sport %u, payload %u", proto ? "UDP" : "TCP",
						  sports[i], lens[j]);
			}
		}
	}
	case_end();
}

/* A UDP checksum that comes out as 0 after the rewrite goes as 0xffff: 0
 * would say "no checksum" (IPv4) or be invalid (IPv6). */
static void csum_udp_ffff(int v6)
{
	const char *vip = tnat_addr(VIP4, v6), *a = tnat_addr(POD_A4, v6),
		   *rb = tnat_addr(REM_BE4, v6);
	struct pkt_spec s = { .family = v6 ? 6 : 4, .proto = IPPROTO_UDP, .src = a, .sport = 4000,
			      .dst = vip, .dport = 53, .payload = 2 }, o = s;
	struct pkt p, want;
	struct run r;
	uint32_t v;

	case_begin("bpf/nat/udp-checksum-ffff/v%d", v6 ? 6 : 4);
	tnat_clear();
	tnat_fe(vip, 53, IPPROTO_UDP, 32, 1, 0, 0, 0);
	tnat_be(32, 0, rb, 5353, 0);
	o.dst = rb;
	o.dport = 5353;
	pkt_build(&want, &o);
	/* the two payload bytes that make the translated datagram's sum 0xffff */
	for (v = 0; v <= 0xffff; v++) {
		want.b[want.l4 + 8] = (uint8_t)(v >> 8);
		want.b[want.l4 + 9] = (uint8_t)v;
		pkt_finish(&want);
		if (want.b[want.l4 + 6] == 0xff && want.b[want.l4 + 7] == 0xff)
			break;
	}
	pkt_build(&p, &s);
	p.b[p.l4 + 8] = (uint8_t)(v >> 8);
	p.b[p.l4 + 9] = (uint8_t)v;
	pkt_finish(&p);
	if (v > 0xffff) {
		case_fail("no payload gives checksum 0xffff");
	} else if (run_prog(P_FROM_EP, IF_A, p.b, p.len, &r) == 0) {
		expect_verdict(&r, TC_ACT_OK);
		expect_bytes("output", r.out, r.out_len, want.b, want.len);
		expect_csums(&r);
	}
	case_end();
}

/* --- fragments ------------------------------------------------------------ */

/* A UDP datagram to a frontend in two fragments: the first carries the
 * ports and the checksum, the later one only addresses; its payload is
 * not touched. Replies likewise. */
static void fragments(int v6)
{
	static const struct pkt_spec whole4 = { U4(POD_A4, 40000, VIP4, 53), .payload = 1000 };
	static const struct pkt_spec nat4 = { U4(POD_A4, 40000, POD_B4, 5353), .payload = 1000,
					      .ttl = 63 };
	static const struct pkt_spec rwhole4 = { U4(POD_B4, 5353, POD_A4, 40000), .payload = 900 };
	static const struct pkt_spec rnat4 = { U4(VIP4, 53, POD_A4, 40000), .payload = 900,
					       .ttl = 63 };
	const struct pkt_spec *ins[2] = { &whole4, &rwhole4 }, *outs[2] = { &nat4, &rnat4 };

	case_begin("bpf/nat/fragments/v%d", v6 ? 6 : 4);
	tnat_clear();
	tnat_svc(&svc_udp, v6);
	for (int dir = 0; dir < 2 && !case_failed(); dir++) {
		struct pkt_spec si = conv(ins[dir], v6, NULL), so = conv(outs[dir], v6, NULL);
		struct pkt whole, nat, f, want;
		struct run r;
		enum iface_id from = dir ? IF_B : IF_A, to = dir ? IF_A : IF_B;

		pkt_build(&whole, &si);
		pkt_build(&nat, &so);
		for (int part = 0; part < 2 && !case_failed(); part++) {
			size_t off = part ? 512 : 0, n = part ? whole.len - whole.l4 - 512 : 512;

			pkt_fragment(&f, &whole, off, n, !part, 0x4242 + dir);
			pkt_fragment(&want, &nat, off, n, !part, 0x4242 + dir);
			tnat_fib_macs(&want, to);
			if (run_prog(P_FROM_EP, from, f.b, f.len, &r))
				break;
			expect_verdict(&r, TC_ACT_REDIRECT);
			expect_counters(&r, from, C(RX) | C(FRAG) | C(FWD_PEER) |
					(dir || part ? 0 : C(CT_NEW) | C(NAT_NEW)));
			expect_bytes("output", r.out, r.out_len, want.b, want.len);
			expect_csums(&r);
			if (case_failed())
				case_note("the %s's %s fragment", dir ? "reply" : "request",
					  part ? "later" : "first");
		}
	}
	case_end();
}

/* --- policy ----------------------------------------------------------------- */

static struct bpf_insn insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm)
{
	return (struct bpf_insn){ .code = code, .dst_reg = dst, .src_reg = src, .off = off,
				  .imm = imm };
}

/* A policy program that judges everything `verdict` and continues where
 * the context says (the contract of include/tern/policy.h, counters aside). */
static int policy_prog(uint32_t verdict)
{
	struct bpf_insn p[] = {
		insn(BPF_ALU64 | BPF_MOV | BPF_X, 6, 1, 0, 0),
		insn(BPF_ST | BPF_MEM | BPF_W, 10, 0, -4, 0),
		insn(BPF_ALU64 | BPF_MOV | BPF_X, 2, 10, 0, 0),
		insn(BPF_ALU64 | BPF_ADD | BPF_K, 2, 0, 0, -4),
		insn(BPF_LD | BPF_DW | BPF_IMM, 1, BPF_PSEUDO_MAP_FD, 0, tenv.polctx),
		insn(0, 0, 0, 0, 0),
		insn(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_map_lookup_elem),
		insn(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 6, 0),
		insn(BPF_ST | BPF_MEM | BPF_W, 0, 0, offsetof(struct tern_pol_ctx, verdict),
		     (int32_t)verdict),
		insn(BPF_LDX | BPF_MEM | BPF_W, 3, 0, offsetof(struct tern_pol_ctx, cont), 0),
		insn(BPF_ALU64 | BPF_MOV | BPF_X, 1, 6, 0, 0),
		insn(BPF_LD | BPF_DW | BPF_IMM, 2, BPF_PSEUDO_MAP_FD, 0, tenv.jmp),
		insn(0, 0, 0, 0, 0),
		insn(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_tail_call),
		insn(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, TC_ACT_SHOT),
		insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0),
	};

	return bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, "tern_test_pol", "GPL", p, ARRAY_SIZE(p),
			     NULL);
}

static int ep_flags(enum iface_id ifc, const char *addr, uint32_t flags)
{
	struct tern_addr a;
	struct tern_ep ep = { .ifindex = (__u32)tenv.ifindex[ifc],
			      .flags = TERN_EP_F_LOCAL | flags, .ep_id = 100 + ifc };

	taddr(addr, &a);
	return bpf_map_update_elem(tenv.ep, &a, &ep, BPF_ANY);
}

static int if_flags(enum iface_id ifc, uint32_t set, uint32_t clear)
{
	__u32 k = (__u32)tenv.ifindex[ifc];
	struct tern_ifstate st;

	if (bpf_map_lookup_elem(tenv.ifstate, &k, &st))
		return -1;
	st.flags = (st.flags | set) & ~clear;
	return bpf_map_update_elem(tenv.ifstate, &k, &st, BPF_ANY);
}

/* what the last policy program judged (on whichever CPU ran it) */
static int polctx_last(struct tern_pol_ctx *out, int reset)
{
	struct tern_scratch *v = calloc((size_t)tenv.ncpu, sizeof(*v));
	__u32 zero = 0;
	int found = -1;

	if (!v)
		return -1;
	if (reset) {
		bpf_map_update_elem(tenv.polctx, &zero, v, BPF_ANY);
	} else if (bpf_map_lookup_elem(tenv.polctx, &zero, v) == 0) {
		for (int i = 0; i < tenv.ncpu; i++)
			if (v[i].pol.ep_id) {
				*out = v[i].pol;
				found = 0;
			}
	}
	free(v);
	return found;
}

struct polnat {
	const char *name;
	const struct svc_def *svc;
	enum iface_id iso;        /* the endpoint whose policy judges */
	uint8_t dir;              /* TERN_POL_INGRESS: its ingress; else egress (client) */
	uint32_t verdict;
	struct pkt_spec in, out;  /* out: what leaves when allowed */
	enum iface_id to;
	const char *peer;         /* what the policy must see */
	uint16_t port;
};

/* Policy judges a service flow after its DNAT: pod addresses and the
 * backend's port, never the frontend; allowed, it is translated as usual;
 * denied, nothing of it stays behind. */
static const struct polnat polnats[] = {
	{ "backend-ingress-allows", &svc_tcp, IF_B, TERN_POL_INGRESS, TERN_POL_ALLOW,
	  { T4(POD_A4, 40000, VIP4, 80, TH_SYN) }, { T4(POD_A4, 40000, POD_B4, 8080, TH_SYN) },
	  IF_B, POD_A4, 8080 },
	{ "backend-ingress-denies", &svc_tcp, IF_B, TERN_POL_INGRESS, TERN_POL_DENY,
	  { T4(POD_A4, 40000, VIP4, 80, TH_SYN) }, {}, IF_B, POD_A4, 8080 },
	{ "client-egress-allows", &svc_udp, IF_A, TERN_POL_EGRESS, TERN_POL_ALLOW,
	  { U4(POD_A4, 40000, VIP4, 53), .payload = 4 },
	  { U4(POD_A4, 40000, POD_B4, 5353), .payload = 4 }, IF_B, POD_B4, 5353 },
	{ "client-egress-denies", &svc_udp, IF_A, TERN_POL_EGRESS, TERN_POL_DENY,
	  { U4(POD_A4, 40000, VIP4, 53), .payload = 4 }, {}, IF_B, POD_B4, 5353 },
	/* hairpin: the pod's own address, not the frontend it arrives from */
	{ "hairpin-ingress", &svc_hp_tcp, IF_A, TERN_POL_INGRESS, TERN_POL_ALLOW,
	  { T4(POD_A4, 40000, VIP4, 82, TH_SYN) }, { T4(VIP4, 40000, POD_A4, 8080, TH_SYN) },
	  IF_A, POD_A4, 8080 },
};

static void run_polnat(const struct polnat *c, int v6, int prog)
{
	const char *pod = c->iso == IF_A ? POD_A4 : POD_B4;
	__u32 idx = TERN_JMP_POLICY(100 + c->iso, c->dir);
	struct pkt_spec in = conv(&c->in, v6, NULL), out = conv(&c->out, v6, NULL);
	struct tern_pol_ctx pol;
	struct tern_addr want;
	struct pkt p, w;
	struct run r;
	int allow = c->verdict == TERN_POL_ALLOW;
	char got[INET6_ADDRSTRLEN];

	case_begin("bpf/nat/policy/%s/v%d", c->name, v6 ? 6 : 4);
	tnat_clear();
	tnat_svc(c->svc, v6);
	if (bpf_map_update_elem(tenv.jmp, &idx, &prog, BPF_ANY) ||
	    (c->dir == TERN_POL_INGRESS ? ep_flags(c->iso, tnat_addr(pod, v6), TERN_EP_F_ISO_IN) :
					   if_flags(c->iso, TERN_IF_F_ISO_EG, 0))) {
		case_fail("setup: %s", strerror(errno));
		goto out;
	}
	polctx_last(&pol, 1);
	pkt_build(&p, &in);
	if (run_prog(P_FROM_EP, IF_A, p.b, p.len, &r))
		goto out;
	expect_verdict(&r, allow ? TC_ACT_REDIRECT : TC_ACT_SHOT);
	expect_counters(&r, IF_A, allow ? C(RX) | C(CT_NEW) | C(NAT_NEW) | C(FWD_PEER) :
					  C(RX) | C(DROP_POLICY));
	if (allow) {
		out.ttl = 63;
		pkt_build(&w, &out);
		tnat_fib_macs(&w, c->to);
		expect_bytes("output", r.out, r.out_len, w.b, w.len);
	}
	if (tct_count() != (allow ? 2 : 0))
		case_fail("conntrack: %d entries, want %d", tct_count(), allow ? 2 : 0);
	taddr(tnat_addr(c->peer, v6), &want);
	if (polctx_last(&pol, 0))
		case_fail("no policy program ran");
	else if (memcmp(&pol.peer, &want, sizeof(want)) || ntohs(pol.port) != c->port ||
		 pol.dir != c->dir || pol.ep_id != 100u + c->iso)
		case_fail("the policy judged peer %s port %u dir %u ep %u, want %s port %u "
			  "dir %u ep %u", inet_ntop(AF_INET6, pol.peer.b, got, sizeof(got)),
			  ntohs(pol.port), pol.dir, pol.ep_id, tnat_addr(c->peer, v6), c->port,
			  c->dir, 100 + c->iso);
out:
	bpf_map_delete_elem(tenv.jmp, &idx);
	if (c->dir == TERN_POL_INGRESS)
		ep_flags(c->iso, tnat_addr(pod, v6), 0);
	else
		if_flags(c->iso, 0, TERN_IF_F_ISO_EG);
	case_end();
}

static void policy_nat(void)
{
	int allow = policy_prog(TERN_POL_ALLOW), deny = policy_prog(TERN_POL_DENY);

	case_begin("bpf/nat/policy/load");
	if (allow < 0 || deny < 0)
		case_fail("loading the test policy programs: %s", strerror(errno));
	case_end();
	for (size_t i = 0; allow >= 0 && deny >= 0 && i < ARRAY_SIZE(polnats); i++)
		for (int v6 = 0; v6 < 2; v6++)
			run_polnat(&polnats[i], v6,
				   polnats[i].verdict == TERN_POL_ALLOW ? allow : deny);
	if (allow >= 0)
		close(allow);
	if (deny >= 0)
		close(deny);
}

/* --- source NAT's ports ---------------------------------------------------- */

/* A NodePort flow from client:sport to a backend on another node (TCP:
 * svc_np_remote, UDP: svc_np_remote_udp); the source port it went out
 * with (checked to be the node's), or -1. */
static int snat_port(const char *client, uint16_t sport, int udp, int v6)
{
	struct pkt_spec s = { .family = v6 ? 6 : 4, .proto = udp ? IPPROTO_UDP : IPPROTO_TCP,
			      .src = tnat_addr(client, v6), .sport = sport,
			      .dst = tnat_addr(NODE4, v6), .dport = udp ? 30084 : 30083,
			      .flags = udp ? 0 : TH_SYN, .payload = udp ? 8 : 0 };
	struct tern_addr got, want;
	struct pkt p;
	struct run r;

	pkt_build(&p, &s);
	if (run_prog(P_HOST_IN, IF_DATA, p.b, p.len, &r))
		return -1;
	if (r.verdict != TC_ACT_REDIRECT || r.out_len != p.len) {
		case_fail("%s:%u: verdict %d, %u bytes out, want it sent on", client, sport,
			  r.verdict, r.out_len);
		return -1;
	}
	expect_csums(&r);
	memset(&got, 0, sizeof(got));
	if (v6)
		memcpy(got.b, r.out + p.l3 + 8, 16);
	else
		tern_addr_set_v4(&got, *(uint32_t *)(r.out + p.l3 + 12));
	taddr(tnat_addr(NODE4, v6), &want);
	if (memcmp(&got, &want, sizeof(got)))
		case_fail("%s:%u: the source is not the node's address", client, sport);
	return r.out[p.l4] * 256 + r.out[p.l4 + 1];
}

static void snat_reset(int v6)
{
	tnat_clear();
	tnat_svc(&svc_np_remote, v6);
	tnat_svc(&svc_np_remote_udp, v6);
}

static void snat_begin(const char *name, int v6)
{
	case_begin("bpf/nat/snat-port/%s/v%d", name, v6 ? 6 : 4);
	snat_reset(v6);
}

static int snat_in_range(int port)
{
	return port >= T_SNAT_MIN && port <= T_SNAT_MAX;
}

/* the client's port, in the range and free, is the flow's */
static void snat_kept(int v6)
{
	static const uint16_t ports[] = { T_SNAT_MIN, T_SNAT_MIN + 500, T_SNAT_MAX };

	snat_begin("client-port-kept", v6);
	for (int udp = 0; udp < 2; udp++)
		for (size_t i = 0; i < ARRAY_SIZE(ports); i++) {
			int got = snat_port(REM_HI4, ports[i], udp, v6);

			if (got != ports[i])
				case_fail("%s from port %u went out from %d, want it kept",
					  udp ? "UDP" : "TCP", ports[i], got);
		}
	case_end();
}

/* outside the range, always one inside it */
static void snat_outside(int v6)
{
	static const uint16_t ports[] = { T_SNAT_MIN - 1, T_SNAT_MAX + 1, 1, 1024, 20000,
					  32768, 40000, 60999, 65535 };

	snat_begin("outside-range-replaced", v6);
	for (int udp = 0; udp < 2; udp++)
		for (size_t i = 0; i < ARRAY_SIZE(ports); i++) {
			int got = snat_port(REM_HI4, ports[i], udp, v6);

			if (!snat_in_range(got))
				case_fail("%s from port %u went out from %d, want %u..%u",
					  udp ? "UDP" : "TCP", ports[i], got, T_SNAT_MIN, T_SNAT_MAX);
		}
	case_end();
}

/* a port a flow to that backend holds: another one of the range */
static void snat_taken(int v6)
{
	static const char *const clients[] = { REM_HI4, REM_LO4, ROUTER4, EXT4 };
	int used[ARRAY_SIZE(clients)];

	snat_begin("taken-port-replaced", v6);
	for (size_t i = 0; i < ARRAY_SIZE(clients); i++) {
		used[i] = snat_port(clients[i], T_SNAT_MIN + 7, 0, v6);
		if (i == 0 ? used[i] != T_SNAT_MIN + 7 : !snat_in_range(used[i]))
			case_fail("client %zu went out from %d, want %s", i, used[i],
				  i == 0 ? "its own port" : "another port in the range");
		for (size_t j = 0; j < i; j++)
			if (used[j] == used[i])
				case_fail("clients %zu and %zu share port %d", j, i, used[i]);
	}
	case_end();
}

/* addr:port (either family) into ss; its length */
static socklen_t sa_set(struct sockaddr_storage *ss, const char *addr, uint16_t port)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		return sizeof(*s4);
	}
	inet_pton(AF_INET6, addr, &s6->sin6_addr);
	s6->sin6_family = AF_INET6;
	s6->sin6_port = htons(port);
	return sizeof(*s6);
}

/* A host socket connected to the backend from the node's address and
 * port, as a host-network ingress controller's: the flow keeps off it.
 * The node's address is this netns's own meanwhile (on lo): a TCP socket
 * bound to a foreign one (IP_FREEBIND) connects from 0.0.0.0. */
static void snat_host_socket(int v6)
{
	const uint16_t port = T_SNAT_MIN + 100;

	snat_begin("host-socket-avoided", v6);
	if (tenv_cmd("ip link set lo up && ip addr add %s/%d dev lo%s", v6 ? NODE6 : NODE4,
		     v6 ? 128 : 32, v6 ? " nodad" : "")) {
		case_fail("setup: the node's address on lo");
		case_end();
		return;
	}
	for (int udp = 0; udp < 2; udp++) {
		struct sockaddr_storage local, peer;
		socklen_t len = sa_set(&local, tnat_addr(NODE4, v6), port);
		int fd, got;

		sa_set(&peer, tnat_addr(REM_BE4, v6), udp ? 5353 : 8080);
		fd = socket(v6 ? AF_INET6 : AF_INET, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK,
			    0);
		/* TCP: left in SYN_SENT, nobody answers on the wire */
		if (fd < 0 || bind(fd, (struct sockaddr *)&local, len) ||
		    (connect(fd, (struct sockaddr *)&peer, len) && errno != EINPROGRESS)) {
			case_fail("setup: %s socket: %s", udp ? "UDP" : "TCP", strerror(errno));
			if (fd >= 0)
				close(fd);
			continue;
		}
		got = snat_port(REM_HI4, port, udp, v6);
		if (got == port || !snat_in_range(got))
			case_fail("%s from port %u went out from %d, want another in %u..%u",
				  udp ? "UDP" : "TCP", port, got, T_SNAT_MIN, T_SNAT_MAX);
		/* without the socket, the same flow keeps the port */
		close(fd);
		snat_reset(v6);
		got = snat_port(REM_HI4, port, udp, v6);
		if (got != port)
			case_fail("%s from port %u went out from %d once the socket closed, want "
				  "it kept", udp ? "UDP" : "TCP", port, got);
	}
	tenv_cmd("ip addr del %s/%d dev lo", v6 ? NODE6 : NODE4, v6 ? 128 : 32);
	case_end();
}

/* --- setup ------------------------------------------------------------------ */

/* routes and neighbours for the hosts beyond the wire, in this process's netns */
static const char *const wire_routes[][2] = {
	{ "192.0.2.0/24", REM_HI4 }, { "10.0.0.0/24", REM_LO4 },
	{ "fd00:9::/64", REM_HI6 }, { "fc00:5::/64", REM_LO6 },
};

static int wire_setup(void)
{
	uint8_t host[6], peer[6];
	char mac[24];

	iface_macs(IF_DATA, host, peer);
	snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", peer[0], peer[1], peer[2],
		 peer[3], peer[4], peer[5]);
	for (size_t i = 0; i < ARRAY_SIZE(wire_routes); i++)
		if (tenv_cmd("ip route add %s dev tdata", wire_routes[i][0]) ||
		    tenv_cmd("ip neigh replace %s lladdr %s dev tdata nud permanent",
			     wire_routes[i][1], mac))
			return -1;
	return 0;
}

static void wire_teardown(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(wire_routes); i++) {
		tenv_cmd("ip neigh del %s dev tdata", wire_routes[i][1]);
		tenv_cmd("ip route del %s dev tdata", wire_routes[i][0]);
	}
}

void test_nat(void)
{
	case_begin("bpf/nat/setup");
	if (tnat_eps() || wire_setup())
		case_fail("endpoints, routes or neighbours could not be added");
	case_end();
	for (size_t i = 0; i < ARRAY_SIZE(ncases); i++) {
		if (ncases[i].fam != 6)
			run_ncase(&ncases[i], 0);
		if (ncases[i].fam != 4)
			run_ncase(&ncases[i], 1);
	}
	for (int v6 = 0; v6 < 2; v6++) {
		pick_range(v6);
		pick_local(v6, 0);
		pick_local(v6, 1);
		pick_affinity(v6);
		pick_affinity_renew(v6);
		pick_affinity_skew(v6);
		csum_sweep(v6);
		csum_udp_ffff(v6);
		fragments(v6);
		snat_kept(v6);
		snat_outside(v6);
		snat_taken(v6);
		snat_host_socket(v6);
	}
	policy_nat();
	tnat_clear();
	wire_teardown();
	tnat_eps_end();
}
