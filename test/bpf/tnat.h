/* Service helpers for the NAT tests (test_nat.c, test_reject.c): the NAT
 * maps written from small tables, expected packets built independently of
 * the programs, and conntrack entries of NATed flows checked field by field. */
#ifndef TERN_TEST_BPF_TNAT_H
#define TERN_TEST_BPF_TNAT_H

#include <tern/nat.h>

#include "harness.h"

#define TNAT_BE_MAX 4

/* A frontend and its backends (ordinals 0.. in order; entries past count
 * are decoys a correct pick never returns). Addresses are IPv4 and get
 * their IPv6 twins (spec_to6's pairs) in a v6 run. */
struct svc_def {
	const char *addr;
	uint16_t port;
	uint8_t proto;
	uint32_t id;
	uint16_t count, local_count;
	uint32_t flags;            /* TERN_FE_F_* */
	uint32_t aff_timeout;
	struct {
		const char *addr;
		uint16_t port;
	} be[TNAT_BE_MAX];
};

/* one IPv4 test address's IPv6 twin (v6), or itself */
const char *tnat_addr(const char *a4, int v6);
void tnat_clear(void);              /* NAT maps, conntrack, fragments */
int tnat_svc(const struct svc_def *d, int v6);
int tnat_fe(const char *addr, uint16_t port, uint8_t proto, uint32_t id, uint16_t count,
	    uint16_t local_count, uint32_t flags, uint32_t aff_timeout);
int tnat_be(uint32_t id, uint32_t ordinal, const char *addr, uint16_t port, uint16_t flags);
/* tern_nat_gone_v1: addr:port (UDP) refused until now + rel_ns */
int tnat_gone(const char *addr, uint16_t port, int64_t rel_ns);
/* pods A and B as local endpoints in tern_ep_v1 (both families); _end removes them */
int tnat_eps(void);
void tnat_eps_end(void);

/* What forwarding to local pod `to` makes of a finished frame: the FIB's
 * MACs (the TTL is the spec's business). */
void tnat_fib_macs(struct pkt *p, enum iface_id to);

/* The refusal of the finished frame in (RFC 9293 3.10.7.1 RST for TCP,
 * ICMP port unreachable quoting its IP header and 8 bytes for UDP), as a
 * frontend without endpoints answers it: back to its sender, MACs swapped,
 * a fresh IP header (TTL 64; IPv4: id 0, DF). Built from in's bytes. */
void tnat_answer(struct pkt *out, const struct pkt *in);

/* The ICMP error the sender of the finished frame in gets when it is too
 * big for a way out of mtu bytes (IPv4: fragmentation needed, IPv6:
 * packet too big): from the node's address `from`, quoting in's IP header
 * and 8 bytes as in had them, MACs swapped, a fresh IP header (TTL 64;
 * IPv4: id 0, DF). Built from in's bytes. */
void tnat_too_big(struct pkt *out, const struct pkt *in, const char *from, uint32_t mtu);

/* A NATed flow's conntrack entry: the tuple of the packet that opened it
 * (INIT_B follows from it), state, flags other than INIT_B, NAT address. */
struct ct_exp {
	uint8_t proto;
	const char *src, *dst;
	uint16_t sport, dport;
	uint8_t state;
	uint32_t flags;
	const char *nat;           /* NULL: zero */
	uint16_t nat_port;
};
/* checks e (IPv4 spelling; v6: its twin); reports through case_fail */
void tnat_expect_ct(const struct ct_exp *e, int v6);
/* the entry of e's tuple, 0 or -ENOENT */
int tnat_ct_get(const struct ct_exp *e, int v6, struct tern_ct_key *k, struct tern_ct_value *v);

#endif
