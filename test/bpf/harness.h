/* The BPF test harness: the tc skeleton loaded with unpinned maps inside a
 * private network namespace, BPF_PROG_TEST_RUN wrappers, map helpers, a
 * table runner for single-packet cases, and per-case reporting (one
 * "ok bpf/<group>/<case>" or "FAIL ..." line, hex diffs on failure). */
#ifndef TERN_TEST_BPF_HARNESS_H
#define TERN_TEST_BPF_HARNESS_H

#include <stddef.h>
#include <stdint.h>
#include <linux/pkt_cls.h>

#include <tern/addr.h>
#include <tern/counters.h>
#include <tern/ct.h>
#include <tern/frag.h>
#include <tern/ifstate.h>

#include "pkt.h"

/* Addresses. The remotes sit on both sides of the pods so that either end
 * of a flow can be the key's side a; REM_LO* are below the pods in numeric
 * order but above them if compared as little-endian words, which catches a
 * key normalised in the wrong byte order. */
#define POD_A4 "10.1.0.2"
#define POD_A6 "fd00:1::2"
#define POD_B4 "10.1.0.3"
#define POD_B6 "fd00:1::3"
#define POD_C6 "fd00:1::4"  /* IF_V6ONLY */
#define POD_D4 "10.1.0.5"   /* IF_V4ONLY */
#define POD_E4 "10.1.0.6"   /* IF_BIGSLOT */
#define REM_LO4 "10.0.0.200"
#define REM_LO6 "fc00:5::9"
#define REM_HI4 "192.0.2.10"
#define REM_HI6 "fd00:9::1"
#define ROUTER4 "192.0.2.254" /* sends ICMP errors */
#define ROUTER6 "fd00:9::fe"
/* services (test_nat.c, test_reject.c) */
#define VIP4 "10.96.0.10"     /* a ClusterIP, above the pods */
#define VIP6 "fd00:96::a"
#define VIP_LO4 "10.0.96.10"  /* a ClusterIP below the pods */
#define VIP_LO6 "fc00:96::a"
#define NODE4 "192.0.2.2"     /* the node's address: NodePorts */
#define NODE6 "fd00:9::2"
#define EXT4 "198.51.100.7"   /* an external IP */
#define EXT6 "fd00:51::7"
#define REM_BE4 "10.2.0.5"    /* a backend on another node */
#define REM_BE6 "fd00:2::5"

/* conntrack timeouts (s) loaded into the programs: all different, so a
 * state judged by another state's timeout shows */
#define T_SYN 11
#define T_EST 22
#define T_FIN 33
#define T_RST 44
#define T_UDP 55
#define T_ICMP 66
#define T_OTHER 77

/* source NAT's ports loaded into the programs: not the default range, and
 * holding the client port (50000) the source-NAT cases keep */
#define T_SNAT_MIN 50000
#define T_SNAT_MAX 50999

enum prog_id { P_FROM_EP, P_TO_EP, P_HOST_IN, P_HOST_OUT, P_COUNT };

/* The interfaces of the test netns (veth pairs, the host side named here). */
enum iface_id {
	IF_A,       /* pod A's host side: slot 1, POD_A4 + POD_A6 */
	IF_B,       /* pod B's host side: slot 2, POD_B4 + POD_B6 */
	IF_DATA,    /* a node data interface: slot 3 */
	IF_V6ONLY,  /* slot 4, POD_C6 only */
	IF_V4ONLY,  /* slot 5, POD_D4 only */
	IF_NOSTATE, /* no tern_ifstate_v1 entry */
	IF_BIGSLOT, /* slot 5000, past counter_slots: counts in slot 0 */
	IF_COUNT,
};

/* Counter slots the harness watches: every row a test may touch. */
#define NSLOTS 8

struct tenv {
	int prog[P_COUNT];
	int ct, ifstate, ep, counter, frag; /* map fds */
	int nat_fe, nat_be, nat_aff, nat_gone;
	int jmp, polctx, ipset, polcnt;     /* policy maps (test_policy) */
	int from_node;                      /* egress runs: the node sent it itself */
	int ifindex[IF_COUNT];
	int peer_ifindex[IF_COUNT];         /* the pod's (or the wire's) end */
	uint32_t slot[IF_COUNT];            /* the row the programs count in */
	int ncpu;
};
extern struct tenv tenv;

/* The programs' verdict and output, and every watched counter's change. */
struct run {
	int verdict;
	uint8_t out[PKT_MAX + 256];
	uint32_t out_len;
	int64_t delta[NSLOTS][TERN_CNT_MAX];
};

#define C(id) (1u << TERN_CNT_##id)

int tenv_setup(void);
void tenv_teardown(void);
/* the MACs of ifc's host side and of the pod's end (its neighbour entry) */
void iface_macs(enum iface_id ifc, uint8_t host[6], uint8_t pod[6]);
/* a shell command in the test netns; 0 or -1 (and the command printed) */
int tenv_cmd(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

int run_prog(enum prog_id prog, enum iface_id ifc, const uint8_t *in, size_t len,
	     struct run *r);
/* run_prog without reporting: 0 or -errno; _gso with skb->gso_size set, as
 * GRO leaves it on a BIG TCP super-packet */
int run_prog_gso(enum prog_id prog, enum iface_id ifc, const uint8_t *in, size_t len,
		 uint32_t gso_size, struct run *r);
int run_prog_raw(enum prog_id prog, enum iface_id ifc, const uint8_t *in, size_t len,
		 struct run *r);
/* The frame through the real interface, the program attached to its tc
 * hook: for frames BPF_PROG_TEST_RUN refuses. Counters only (verdict -1);
 * waits until the frame is counted dropped-malformed or passed. */
int run_wire(enum prog_id prog, enum iface_id ifc, const uint8_t *in, size_t len,
	     struct run *r);
void run_wire_end(void); /* detach what run_wire attached */
const char *tprog_name(enum prog_id prog);

/* Reporting: one case at a time. case_fail's first reason goes on the FAIL
 * line, the rest (and case_note's hex dumps) on indented lines below. */
void case_begin(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void case_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void case_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int case_failed(void);
void case_end(void);
int cases_failed(void);
int cases_passed(void);

/* Checks; each reports through case_fail. */
void expect_verdict(const struct run *r, int want);
void expect_counters(const struct run *r, enum iface_id ifc, uint32_t mask);
void expect_bytes(const char *what, const uint8_t *got, size_t glen,
		  const uint8_t *want, size_t wlen);
void expect_csums(const struct run *r);
/* verdict, counters; a passed packet unchanged with valid checksums */
void expect_run(const struct run *r, const struct pkt *in, int verdict,
		enum iface_id ifc, uint32_t mask);

/* Conntrack and fragment maps. */
void tmaps_clear(void);           /* empties tern_ct_v1 and tern_frag_v1 */
int tct_count(void);
int tct_get(const struct tern_ct_key *k, struct tern_ct_value *v);
int tct_put(const struct tern_ct_key *k, const struct tern_ct_value *v);
void taddr(const char *s, struct tern_addr *a); /* IPv4 as ::ffff:a.b.c.d */
/* the key written out by hand: (a, pa) is side a */
struct tern_ct_key tct_key(const char *a, uint16_t pa, const char *b, uint16_t pb,
			  uint8_t proto);
/* the key of s's flow, normalised here independently of the programs */
struct tern_ct_key tct_key_of(const struct pkt_spec *s);
const char *tct_state_name(int state);
void expect_ct(const struct tern_ct_key *k, int state, uint32_t flags);
uint64_t tnow_ns(void); /* CLOCK_MONOTONIC, as bpf_ktime_get_ns */
/* The least stamp a tc program can write from now on: its conntrack clock
 * is the coarse one (bpf_ktime_get_coarse_ns), up to a tick behind. */
uint64_t tstamp_floor_ns(void);

/* s for IPv6: the same roles' IPv6 addresses, ICMPv6 for ICMP. quote_buf
 * holds the converted quote chain, if any (two for an error quoting an
 * error); NULL when s quotes nothing. */
struct pkt_spec spec_to6(const struct pkt_spec *s, struct pkt_spec *quote_buf);

/* A single-packet case. */
enum ct_expect {
	CT_ANY = 0, /* not checked */
	CT_NONE,    /* tern_ct_v1 is empty afterwards */
	CT_ONE,     /* it holds exactly the entry of pre's flow (or spec's), in ct_state */
};

struct pcase {
	const char *name;
	enum prog_id prog;
	enum iface_id ifc;
	struct pkt_spec spec;
	void (*mangle)(struct pkt *p); /* after building: break something on purpose */
	const struct pkt_spec *pre;    /* run first on IF_A, through pre_prog: opens a flow */
	enum prog_id pre_prog;
	int verdict;
	uint32_t cnt;                  /* C(...) expected +1 in ifc's slot, the rest unchanged */
	enum ct_expect ct;
	uint8_t ct_state;
	uint8_t both;                  /* run as given and as IPv6 (spec_to6) */
	uint16_t gso_size;             /* skb->gso_size for the run */
};

/* Runs each case from clear maps; names are bpf/<group>/<name>[/v6]. */
void run_pcases(const char *group, const struct pcase *c, size_t n);

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* The groups, one file each. */
void test_pkt(void);
void test_parse(void);
void test_trunc(void);
void test_ep(void);
void test_ct(void);
void test_timeout(void);
void test_gc(void);
void test_icmp(void);
void test_frag(void);
void test_fwd(void);
void test_nat(void);
void test_reject(void);
void test_sock(void);
void test_policy(void);

#endif
