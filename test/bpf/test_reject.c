/* Refusal: a frontend without endpoints (count 0) answers a new TCP flow
 * with a RST (RFC 9293 3.10.7.1) and a UDP datagram with ICMP port
 * unreachable, sent back out of the interface the packet came in on
 * (TC_ACT_REDIRECT), as kube-proxy's REJECT makes "connection refused" at
 * once. Every answer is compared byte for byte with one built here from
 * the refused packet; none leaves conntrack state; a reset is never
 * answered. The last cases attach the programs to the veths and catch the
 * answer on the sender's side, which is where the redirect must put it.
 *
 *   [pod A] tpap ==veth== tpa  (tern_from_ep)   clients
 *   [wire]  tdatap ==veth== tdata (tern_host_in) external clients
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tnat.h"

#define FE0(a, p, pr, fl) { .addr = (a), .port = (p), .proto = IPPROTO_##pr, .id = 40 + (p), \
			    .flags = (fl) }
/* every frontend here has no endpoints; some keep a stale backend entry,
 * which a correct refusal ignores */
static const struct svc_def fes[] = {
	FE0(VIP4, 80, TCP, 0),
	FE0(VIP4, 53, UDP, 0),
	FE0(VIP4, 132, SCTP, 0),
	FE0(VIP4, 81, TCP, TERN_FE_F_ITP_LOCAL),
	FE0(NODE4, 30080, TCP, TERN_FE_F_EXTERNAL | TERN_FE_F_NODEPORT),
	FE0(NODE4, 30053, UDP, TERN_FE_F_EXTERNAL | TERN_FE_F_NODEPORT),
	FE0(NODE4, 30081, TCP, TERN_FE_F_EXTERNAL | TERN_FE_F_NODEPORT | TERN_FE_F_ETP_LOCAL),
	{ .addr = VIP4, .port = 82, .proto = IPPROTO_TCP, .id = 122, .be = { { POD_B4, 8080 } } },
};

struct rcase {
	const char *name;
	enum prog_id prog;
	enum iface_id ifc;
	struct pkt_spec spec;
	int verdict;
	uint32_t cnt;
	uint8_t answer;            /* TC_ACT_REDIRECT with tnat_answer's packet */
	uint8_t fam;               /* 4: IPv4 only; 6: IPv6 only; 0: both */
	void (*mangle)(struct pkt *p);
};

#define POD .prog = P_FROM_EP, .ifc = IF_A
#define WIRE .prog = P_HOST_IN, .ifc = IF_DATA
#define TCP(s, d, dp, fl) .family = 4, .proto = IPPROTO_TCP, .src = (s), .sport = 40000, \
			  .dst = (d), .dport = (dp), .flags = (fl)
#define UDP(s, d, dp) .family = 4, .proto = IPPROTO_UDP, .src = (s), .sport = 40000, \
		      .dst = (d), .dport = (dp)
#define REFUSED .verdict = TC_ACT_REDIRECT, .cnt = C(RX) | C(NAT_REJECT), .answer = 1
#define SHOT_REJECT .verdict = TC_ACT_SHOT, .cnt = C(RX) | C(NAT_REJECT)
#define UNTRACKED .verdict = TC_ACT_OK, .cnt = C(RX) | C(CT_UNTRACKED) | C(TO_STACK)

static void put32(uint8_t *b, uint32_t v)
{
	b[0] = (uint8_t)(v >> 24);
	b[1] = (uint8_t)(v >> 16);
	b[2] = (uint8_t)(v >> 8);
	b[3] = (uint8_t)v;
}

/* sequence numbers that wrap: SYN + 1 byte from 0xfffffffe acks 0 */
static void seq_wraps(struct pkt *p)
{
	put32(p->b + p->l4 + 4, 0xfffffffe);
	pkt_finish(p);
}

static void ack_high(struct pkt *p)
{
	put32(p->b + p->l4 + 8, 0xffffffff);
	pkt_finish(p);
}

static const struct rcase rcases[] = {
	/* TCP: RST, from the frontend's address and port */
	{ "tcp-syn", POD, { TCP(POD_A4, VIP4, 80, TH_SYN) }, REFUSED },
	{ "tcp-syn-options", POD, { TCP(POD_A4, VIP4, 80, TH_SYN), .tcp_opts = 20 }, REFUSED },
	{ "tcp-syn-ip-options", POD, { TCP(POD_A4, VIP4, 80, TH_SYN), .ip_opts = 8 }, REFUSED,
	  .fam = 4 },
	{ "tcp-syn-ext-headers", POD, { .family = 6, .proto = IPPROTO_TCP, .src = POD_A6,
					.sport = 40000, .dst = VIP6, .dport = 80, .flags = TH_SYN,
					.n_ext = 1, .ext = { IPPROTO_DSTOPTS } }, REFUSED, .fam = 6 },
	/* a SYN with data (TCP Fast Open): acked, SYN and data */
	{ "tcp-syn-data", POD, { TCP(POD_A4, VIP4, 80, TH_SYN), .payload = 10 }, REFUSED },
	{ "tcp-syn-seq-wraps", POD, { TCP(POD_A4, VIP4, 80, TH_SYN), .payload = 1 }, REFUSED,
	  .mangle = seq_wraps },
	/* with an ACK: <SEQ=SEG.ACK><CTL=RST> */
	{ "tcp-ack-data", POD, { TCP(POD_A4, VIP4, 80, TH_PSH | TH_ACK), .payload = 20 },
	  REFUSED },
	{ "tcp-ack-high", POD, { TCP(POD_A4, VIP4, 80, TH_ACK) }, REFUSED, .mangle = ack_high },
	{ "tcp-fin-ack", POD, { TCP(POD_A4, VIP4, 80, TH_FIN | TH_ACK) }, REFUSED },
	{ "tcp-syn-ack", POD, { TCP(POD_A4, VIP4, 80, TH_SYN | TH_ACK) }, REFUSED },
	/* a reset is never answered */
	{ "tcp-rst", POD, { TCP(POD_A4, VIP4, 80, TH_RST) }, UNTRACKED },
	{ "tcp-rst-ack", POD, { TCP(POD_A4, VIP4, 80, TH_RST | TH_ACK) }, UNTRACKED },
	/* the backend entry a count of 0 leaves behind is not used */
	{ "tcp-stale-backend", POD, { TCP(POD_A4, VIP4, 82, TH_SYN) }, REFUSED },
	/* no endpoints at all: refused whatever the traffic policy */
	{ "tcp-itp-local", POD, { TCP(POD_A4, VIP4, 81, TH_SYN) }, REFUSED },

	/* UDP: ICMP port unreachable quoting the IP header and 8 bytes */
	{ "udp", POD, { UDP(POD_A4, VIP4, 53), .payload = 20 }, REFUSED },
	{ "udp-empty", POD, { UDP(POD_A4, VIP4, 53) }, REFUSED },
	{ "udp-long", POD, { UDP(POD_A4, VIP4, 53), .payload = 1400 }, REFUSED },
	{ "udp-ttl-1", POD, { UDP(POD_A4, VIP4, 53), .ttl = 1 }, REFUSED },
	/* what the answer cannot quote plainly is dropped (documented) */
	{ "udp-ip-options", POD, { UDP(POD_A4, VIP4, 53), .ip_opts = 8 }, SHOT_REJECT, .fam = 4 },
	{ "udp-ext-headers", POD, { .family = 6, .proto = IPPROTO_UDP, .src = POD_A6,
				    .sport = 40000, .dst = VIP6, .dport = 53, .n_ext = 1,
				    .ext = { IPPROTO_HOPOPTS } }, SHOT_REJECT, .fam = 6 },
	{ "sctp", POD, { .family = 4, .proto = IPPROTO_SCTP, .src = POD_A4, .sport = 40000,
			 .dst = VIP4, .dport = 132 }, SHOT_REJECT },

	/* from outside, on a data interface */
	{ "nodeport-tcp", WIRE, { TCP(REM_HI4, NODE4, 30080, TH_SYN), .tcp_opts = 12 }, REFUSED },
	{ "nodeport-udp", WIRE, { UDP(REM_LO4, NODE4, 30053), .payload = 9 }, REFUSED },
	{ "nodeport-etp-local", WIRE, { TCP(REM_HI4, NODE4, 30081, TH_SYN) }, REFUSED },
	{ "nodeport-rst", WIRE, { TCP(REM_HI4, NODE4, 30080, TH_RST | TH_ACK) }, UNTRACKED },
	/* a ClusterIP is no frontend from outside: passed on, not refused */
	{ "clusterip-from-outside", WIRE, { TCP(REM_HI4, VIP4, 80, TH_SYN) },
	  .verdict = TC_ACT_OK, .cnt = C(RX) | C(TO_STACK) },
};

static void setup_fes(int v6)
{
	tnat_clear();
	for (size_t i = 0; i < ARRAY_SIZE(fes); i++)
		tnat_svc(&fes[i], v6);
}

static void run_rcase(const struct rcase *c, int v6)
{
	struct pkt_spec spec = v6 && c->spec.family == 4 ? spec_to6(&c->spec, NULL) : c->spec;
	struct pkt p, want;
	struct run r;

	case_begin("bpf/reject/%s/v%d", c->name, spec.family);
	setup_fes(v6);
	pkt_build(&p, &spec);
	if (c->mangle)
		c->mangle(&p);
	if (run_prog(c->prog, c->ifc, p.b, p.len, &r) == 0) {
		expect_verdict(&r, c->verdict);
		expect_counters(&r, c->ifc, c->cnt);
		if (c->answer) {
			tnat_answer(&want, &p);
			expect_bytes("answer", r.out, r.out_len, want.b, want.len);
			expect_csums(&r);
		} else if (c->verdict == TC_ACT_OK) {
			expect_bytes("output", r.out, r.out_len, p.b, p.len);
		}
		if (tct_count())
			case_fail("conntrack: %d entries, want none", tct_count());
	}
	case_end();
}

/* The programs on the real interfaces: the answer leaves by the interface
 * the refused packet came in on, so the sender's end of the veth gets it. */
static void on_the_wire(enum prog_id prog, enum iface_id ifc, const struct pkt_spec *s4,
			int v6)
{
	struct pkt_spec spec = v6 ? spec_to6(s4, NULL) : *s4;
	struct sockaddr_ll ll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL),
				  .sll_ifindex = tenv.peer_ifindex[ifc] };
	struct pkt p, want;
	struct run r;
	uint8_t buf[2048];
	int fd, err, got = 0;

	case_begin("bpf/reject/on-the-wire/%s/v%d", prog == P_HOST_IN ? "data" : "pod",
		   spec.family);
	setup_fes(v6);
	pkt_build(&p, &spec);
	tnat_answer(&want, &p);
	fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK, htons(ETH_P_ALL));
	if (fd < 0 || bind(fd, (struct sockaddr *)&ll, sizeof(ll))) {
		case_fail("packet socket on the peer: %s", strerror(errno));
		goto out;
	}
	err = run_wire(prog, ifc, p.b, p.len, &r);
	if (err) {
		case_fail("attaching or sending: %s", strerror(-err));
		goto out;
	}
	for (int i = 0; i < 200 && !got; i++) {
		struct sockaddr_ll from;
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);

		if (n < 0) {
			if (errno != EAGAIN) {
				case_fail("recvfrom: %s", strerror(errno));
				break;
			}
			poll(&(struct pollfd){ .fd = fd, .events = POLLIN }, 1, 10);
			continue;
		}
		if (from.sll_pkttype == PACKET_OUTGOING)
			continue; /* the refused packet itself, on its way in */
		got = 1;
		expect_bytes("answer on the sender's side", buf, (size_t)n, want.b, want.len);
	}
	if (!got)
		case_fail("no answer reached %s's peer", ifc == IF_DATA ? "tdata" : "tpa");
	expect_counters(&r, ifc, C(RX) | C(NAT_REJECT));
out:
	if (fd >= 0)
		close(fd);
	run_wire_end();
	case_end();
}

void test_reject(void)
{
	static const struct pkt_spec syn = { TCP(POD_A4, VIP4, 80, TH_SYN) };
	static const struct pkt_spec np_udp = { UDP(REM_HI4, NODE4, 30053), .payload = 4 };

	for (size_t i = 0; i < ARRAY_SIZE(rcases); i++) {
		if (rcases[i].fam != 6)
			run_rcase(&rcases[i], 0);
		if (rcases[i].fam != 4)
			run_rcase(&rcases[i], 1);
	}
	/* one of each hook, one of each family: each costs run_wire's wait */
	on_the_wire(P_FROM_EP, IF_A, &syn, 0);
	on_the_wire(P_HOST_IN, IF_DATA, &np_udp, 1);
	tnat_clear();
}
