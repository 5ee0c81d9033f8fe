/* Conntrack: one normalised entry per flow in tern_ct_v1, a TCP state
 * machine, UDP/ICMP/other flows, ICMP errors matched to the flow they quote.
 * ct__lookup judges and advances an existing flow; ct__create records a new
 * one once the caller has decided to let it through. */
#ifndef TERN_BPF_CT_H
#define TERN_BPF_CT_H

#include "maps.h"
#include "parse.h"

enum ct_verdict {
	CT_NEW = 0,         /* no live entry: caller decides, then ct__create */
	CT_ESTABLISHED = 1, /* part of a tracked flow (either direction) */
	CT_RELATED = 2,     /* ICMP error about a tracked flow */
	CT_UNTRACKED = 3,   /* nothing to track: ND, unrelated ICMP error, TCP RST without flow */
	CT_INVALID = 4,     /* TCP flags no real stack sends */
};

struct ct_ctx {
	struct tern_ct_key key;
	__u8 sender_is_b;   /* this packet travels from side b to side a */
	__u8 reply;         /* CT_ESTABLISHED: sent by the side that did not open the flow */
	__u8 state;         /* the entry's state after this packet */
	__u8 touched;       /* CT_ESTABLISHED: last_seen or state was written */
	__u32 flags;        /* CT_ESTABLISHED / CT_RELATED: the entry's TERN_CT_F_* */
	struct tern_addr nat_addr; /* ... and its NAT address, port */
	__be16 nat_port;
	__u16 pad2;
};

/* Bit (flags & 0x3f) set: a combination of FIN SYN RST PSH ACK URG that
 * a TCP stack sends (as nf_conntrack's tcp_valid_flags). */
#define TCP_VALID_FLAGS                                                        \
	((1ULL << 0x02) | (1ULL << 0x22) | (1ULL << 0x12) | (1ULL << 0x04) |    \
	 (1ULL << 0x14) | (1ULL << 0x1c) | (1ULL << 0x11) | (1ULL << 0x31) |    \
	 (1ULL << 0x10) | (1ULL << 0x30) | (1ULL << 0x19) | (1ULL << 0x39) |    \
	 (1ULL << 0x18) | (1ULL << 0x38))

static __always_inline int tcp_flags_valid(__u8 flags)
{
	return (TCP_VALID_FLAGS >> (flags & 0x3f)) & 1;
}

/* Numeric order of two addresses: <0, 0, >0. */
static __always_inline int addr_cmp(const struct tern_addr *x, const struct tern_addr *y)
{
	for (int i = 0; i < 4; i++) {
		__u32 a = bpf_ntohl(x->w[i]), b = bpf_ntohl(y->w[i]);

		if (a != b)
			return a < b ? -1 : 1;
	}
	return 0;
}

/* t's normalised key into k; returns 1 when t's sender is side b. */
static __always_inline int ct__key_of(const struct tuple *t, struct tern_ct_key *k)
{
	int cmp = addr_cmp(&t->src, &t->dst);

	if (cmp == 0)
		cmp = (int)bpf_ntohs(t->sport) - (int)bpf_ntohs(t->dport);
	if (cmp > 0) {
		k->addr_a = t->dst;
		k->addr_b = t->src;
		k->port_a = t->dport;
		k->port_b = t->sport;
	} else {
		k->addr_a = t->src;
		k->addr_b = t->dst;
		k->port_a = t->sport;
		k->port_b = t->dport;
	}
	k->proto = t->proto;
	k->pad[0] = k->pad[1] = k->pad[2] = 0;
	return cmp > 0;
}

static __always_inline void ct__key(const struct tuple *t, struct ct_ctx *c)
{
	c->sender_is_b = ct__key_of(t, &c->key);
}

static __always_inline __u64 ct__timeout_ns(__u8 proto, __u8 state)
{
	__u32 s;

	if (proto == IPPROTO_TCP) {
		switch (state) {
		case TERN_CT_ESTABLISHED:
			s = ct_timeouts.tcp_established;
			break;
		case TERN_CT_FIN_WAIT:
		case TERN_CT_TIME_WAIT:
			s = ct_timeouts.tcp_fin;
			break;
		case TERN_CT_CLOSE:
			s = ct_timeouts.tcp_rst;
			break;
		default:
			s = ct_timeouts.tcp_syn;
		}
	} else if (proto == IPPROTO_UDP) {
		s = ct_timeouts.udp;
	} else if (proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6) {
		s = ct_timeouts.icmp;
	} else {
		s = ct_timeouts.other;
	}
	return (__u64)s * NSEC_PER_SEC;
}

static __always_inline int ct__expired(const struct tern_ct_key *k,
				       const struct tern_ct_value *v, __u64 now)
{
	/* signed: another CPU may stamp the entry after this one read the
	 * clock; that entry is fresh, not 2^64 ns old */
	return (__s64)(now - v->last_seen_ns) > (__s64)ct__timeout_ns(k->proto, v->state);
}

/* The TCP state after a packet with flags from the opener (from_init) or
 * the responder; seen_a/seen_b already include this packet. */
static __always_inline __u8 ct__tcp_next(__u8 state, __u8 flags, int from_init,
					 __u8 seen_a, __u8 seen_b)
{
	if (flags & TERN_TCP_RST)
		return TERN_CT_CLOSE;
	if (state == TERN_CT_CLOSE)
		return state;
	if ((seen_a & TERN_TCP_FIN) && (seen_b & TERN_TCP_FIN))
		return TERN_CT_TIME_WAIT;
	if (flags & TERN_TCP_FIN)
		return TERN_CT_FIN_WAIT;
	if (state == TERN_CT_SYN_SENT && !from_init &&
	    (flags & (TERN_TCP_SYN | TERN_TCP_ACK)) == (TERN_TCP_SYN | TERN_TCP_ACK))
		return TERN_CT_SYN_RECV;
	if (state == TERN_CT_SYN_RECV && from_init && (flags & TERN_TCP_ACK) &&
	    !(flags & TERN_TCP_SYN))
		return TERN_CT_ESTABLISHED;
	return state;
}

/* A SYN opening a new connection on a closed flow's tuple starts it over. */
static __always_inline int ct__tcp_reopens(const struct tern_ct_value *v, __u8 flags)
{
	return (flags & (TERN_TCP_SYN | TERN_TCP_ACK)) == TERN_TCP_SYN &&
	       (v->state == TERN_CT_CLOSE || v->state == TERN_CT_TIME_WAIT);
}

/* Refresh last_seen at most this often: saves dirtying the entry's cache
 * line on every packet; timeouts are whole seconds. */
#define CT_TOUCH_NS (NSEC_PER_SEC / 8)

static __always_inline enum ct_verdict ct__lookup(struct pkt *p, struct ct_ctx *c, __u64 now)
{
	struct tern_ct_value *v;

	if (p->icmp == PKT_ICMP_ERROR) {
		if (!p->inner.proto)
			return CT_UNTRACKED;
		ct__key(&p->inner, c);
		v = bpf_map_lookup_elem(&tern_ct_v1, &c->key);
		/* the error travels back to whoever sent the quoted packet */
		if (v && !ct__expired(&c->key, v, now) &&
		    addr_cmp(&p->t.dst, &p->inner.src) == 0) {
			c->reply = !!(v->flags & TERN_CT_F_INIT_B) != c->sender_is_b;
			c->flags = v->flags;
			c->nat_addr = v->nat_addr;
			c->nat_port = v->nat_port;
			return CT_RELATED;
		}
		return CT_UNTRACKED;
	}
	if (p->icmp == PKT_ICMP_INFO)
		return CT_UNTRACKED;
	/* a later fragment carries no TCP header, so no flags to judge */
	if (p->t.proto == IPPROTO_TCP && p->frag != PKT_FRAG_LATER &&
	    !tcp_flags_valid(p->tcp_flags))
		return CT_INVALID;

	ct__key(&p->t, c);
	v = bpf_map_lookup_elem(&tern_ct_v1, &c->key);
	if (!v || ct__expired(&c->key, v, now)) {
		if (p->t.proto == IPPROTO_TCP && (p->tcp_flags & TERN_TCP_RST))
			return CT_UNTRACKED; /* a reset for a flow we do not know */
		return CT_NEW;
	}

	/* work from one snapshot and write only what this packet changes in
	 * it: comparing with the live entry instead would let a CPU holding an
	 * older snapshot undo another CPU's transition */
	__u32 snap_flags = v->flags;
	__u8 snap_state = v->state;
	int from_init = !!(snap_flags & TERN_CT_F_INIT_B) == c->sender_is_b;
	__u8 state = snap_state;
	__u32 flags = snap_flags;

	if (p->t.proto == IPPROTO_TCP) {
		__u8 f = p->tcp_flags;

		if (ct__tcp_reopens(v, f))
			return CT_NEW;
		__u8 snap_a = v->tcp_seen_a, snap_b = v->tcp_seen_b;
		__u8 seen_a = snap_a | (c->sender_is_b ? 0 : f);
		__u8 seen_b = snap_b | (c->sender_is_b ? f : 0);

		state = ct__tcp_next(state, f, from_init, seen_a, seen_b);
		/* bytes only ever gain bits, and every packet ORs its own in */
		if (seen_a != snap_a)
			v->tcp_seen_a = seen_a;
		if (seen_b != snap_b)
			v->tcp_seen_b = seen_b;
	} else if (!from_init) {
		state = TERN_CT_ESTABLISHED;
	}
	if (!from_init)
		flags |= TERN_CT_F_REPLIED;
	c->touched = 0;
	if (state != snap_state) {
		v->state = state;
		c->touched = 1;
	}
	if (flags != snap_flags)
		__sync_fetch_and_or(&v->flags, flags & ~snap_flags);
	if (now - v->last_seen_ns > CT_TOUCH_NS) {
		v->last_seen_ns = now;
		c->touched = 1;
	}
	c->reply = !from_init;
	c->state = state;
	c->flags = flags;
	/* only service flows have anything there: spare the rest the copy */
	if (flags & (TERN_CT_F_NAT_FWD | TERN_CT_F_NAT_REV)) {
		c->nat_addr = v->nat_addr;
		c->nat_port = v->nat_port;
	}
	return CT_ESTABLISHED;
}

/* Record the flow of a CT_NEW packet; its sender is the opener. nat_flags
 * (TERN_CT_F_NAT_*) with nat_addr/nat_port mark a service NAT entry.
 * Returns 0, or -1 when the map refused the entry. */
static __always_inline int ct__create_nat(struct pkt *p, struct ct_ctx *c, __u64 now,
					  __u32 nat_flags, const struct tern_addr *nat_addr,
					  __be16 nat_port)
{
	struct tern_ct_value v = {
		/* the fine clock, once per flow: the agent's flush of an address
		 * that changed hands keeps exactly what was made after its cutoff */
		.created_ns = bpf_ktime_get_ns(),
		.last_seen_ns = now,
		.flags = (c->sender_is_b ? TERN_CT_F_INIT_B : 0) | nat_flags,
		.state = TERN_CT_NEW,
		.nat_port = nat_port,
	};

	if (nat_addr)
		v.nat_addr = *nat_addr;

	if (p->t.proto == IPPROTO_TCP) {
		__u8 f = p->tcp_flags;

		if (c->sender_is_b)
			v.tcp_seen_b = f;
		else
			v.tcp_seen_a = f;
		if ((f & (TERN_TCP_SYN | TERN_TCP_ACK)) == TERN_TCP_SYN) {
			v.state = TERN_CT_SYN_SENT;
		} else if (f & TERN_TCP_SYN) {
			/* picked up at the SYN+ACK: the receiver opened it */
			v.state = TERN_CT_SYN_RECV;
			v.flags = (c->sender_is_b ? 0 : TERN_CT_F_INIT_B) |
				  TERN_CT_F_REPLIED | TERN_CT_F_PICKED_UP | nat_flags;
		} else {
			v.state = f & TERN_TCP_FIN ? TERN_CT_FIN_WAIT : TERN_CT_ESTABLISHED;
			v.flags |= TERN_CT_F_PICKED_UP;
		}
	}
	c->reply = 0;
	c->state = v.state;
	c->flags = v.flags;
	return bpf_map_update_elem(&tern_ct_v1, &c->key, &v, BPF_ANY) ? -1 : 0;
}

/* Bring the entry of tuple t to state (and REPLIED, when flags has it) and
 * mark it seen now: the client's NAT_FWD entry follows its flow's NAT_REV
 * entry, which sees both ways. */
static __always_inline void ct__follow(const struct tuple *t, __u8 state, __u32 flags,
				       __u64 now)
{
	struct tern_ct_key k;
	struct tern_ct_value *v;

	ct__key_of(t, &k);
	v = bpf_map_lookup_elem(&tern_ct_v1, &k);
	if (!v)
		return;
	v->last_seen_ns = now;
	if (v->state != state)
		v->state = state;
	if ((flags & TERN_CT_F_REPLIED) && !(v->flags & TERN_CT_F_REPLIED))
		v->flags |= TERN_CT_F_REPLIED;
}

static __always_inline int ct__create(struct pkt *p, struct ct_ctx *c, __u64 now)
{
	return ct__create_nat(p, c, now, 0, NULL, 0);
}

#endif
