/* Service NAT in tc: frontends, choosing a backend (ClientIP affinity),
 * rewriting addresses and ports with incremental checksum updates, the
 * packet quoted inside an ICMP error, and refusing connections to a
 * service without endpoints (TCP RST, ICMP port unreachable), as
 * kube-proxy's REJECT does. */
#ifndef TERN_BPF_NAT_H
#define TERN_BPF_NAT_H

#include "maps.h"
#include "parse.h"
#include "ct.h"
#include "policy.h"

/* The frontend t is addressed to, or NULL. */
static __always_inline struct tern_nat_fe *nat__frontend(const struct tuple *t)
{
	struct tern_nat_fe_key k = {
		.addr = t->dst,
		.port = t->dport,
		.proto = t->proto,
	};

	if (t->proto != IPPROTO_TCP && t->proto != IPPROTO_UDP && t->proto != IPPROTO_SCTP)
		return NULL;
	return bpf_map_lookup_elem(&tern_nat_fe_v1, &k);
}

static __always_inline int addr_eq(const struct tern_addr *a, const struct tern_addr *b)
{
	return a->w[0] == b->w[0] && a->w[1] == b->w[1] && a->w[2] == b->w[2] &&
	       a->w[3] == b->w[3];
}

/* bpf_loop's state for nat__be_find. */
struct be_find {
	struct tern_addr addr;
	__be16 port;
	__u16 pad;
	__u32 svc_id;
	__u32 found;
};

static long be_find__step(__u32 i, void *ctx)
{
	struct be_find *f = ctx;
	struct tern_nat_be_key bk = { .svc_id = f->svc_id, .ordinal = i };
	struct tern_nat_be *be = bpf_map_lookup_elem(&tern_nat_be_v1, &bk);

	if (be && addr_eq(&be->addr, &f->addr) && be->port == f->port) {
		f->found = i;
		return 1;
	}
	return 0;
}

/* The backend addr:port among svc_id's first n, and its place (*ord);
 * NULL when it is not there. Looked for at *ord first: the agent numbers
 * backends by address, so one that goes moves those after it down a place,
 * and a client kept on one of them (affinity, an unconnected UDP socket)
 * must not lose it for that. The walk runs only then, once per client. */
static __always_inline struct tern_nat_be *nat__be_find(__u32 svc_id, __u32 n,
							 const struct tern_addr *addr,
							 __be16 port, __u32 *ord)
{
	struct tern_nat_be_key bk = { .svc_id = svc_id, .ordinal = *ord };
	struct be_find f = { .addr = *addr, .port = port, .svc_id = svc_id, .found = n };
	struct tern_nat_be *be;

	if (*ord < n) {
		be = bpf_map_lookup_elem(&tern_nat_be_v1, &bk);
		if (be && addr_eq(&be->addr, addr) && be->port == port)
			return be;
	}
	bpf_loop(n, be_find__step, &f, 0);
	if (f.found >= n)
		return NULL;
	bk.ordinal = f.found;
	*ord = f.found;
	return bpf_map_lookup_elem(&tern_nat_be_v1, &bk);
}

/* Choose one of fe's backends for client (among the local ones only when
 * local_only), and where it is (*ord); NULL when there is none to choose. */
static __always_inline struct tern_nat_be *nat__pick_at(const struct tern_nat_fe *fe,
							const struct tern_addr *client,
							int local_only, __u64 now, __u32 *ord)
{
	__u32 n = local_only ? fe->local_count : fe->count;
	struct tern_nat_be_key bk = { .svc_id = fe->svc_id };
	struct tern_nat_aff_key ak = { .svc_id = fe->svc_id, .client = *client };
	struct tern_nat_be *be;

	if (!n)
		return NULL;
	if (fe->flags & TERN_FE_F_AFFINITY) {
		struct tern_nat_aff *a = bpf_map_lookup_elem(&tern_nat_aff_v1, &ak);

		/* still fresh (signed: another CPU may have stamped it after
		 * this one read the clock), and that backend still there */
		if (a &&
		    (__s64)(now - a->last_ns) < (__s64)((__u64)fe->affinity_timeout * NSEC_PER_SEC)) {
			__u32 at = a->ordinal;

			be = nat__be_find(fe->svc_id, n, &a->addr, a->port, &at);
			if (be) {
				a->ordinal = at;
				a->last_ns = now;
				*ord = at;
				return be;
			}
		}
	}
	bk.ordinal = bpf_get_prandom_u32() % n;
	be = bpf_map_lookup_elem(&tern_nat_be_v1, &bk);
	if (be && (fe->flags & TERN_FE_F_AFFINITY)) {
		struct tern_nat_aff a = {
			.addr = be->addr,
			.port = be->port,
			.ordinal = bk.ordinal,
			.last_ns = now,
		};

		bpf_map_update_elem(&tern_nat_aff_v1, &ak, &a, BPF_ANY);
	}
	*ord = bk.ordinal;
	return be;
}

static __always_inline struct tern_nat_be *nat__pick(const struct tern_nat_fe *fe,
						     const struct tern_addr *client,
						     int local_only, __u64 now)
{
	__u32 ord;

	return nat__pick_at(fe, client, local_only, now, &ord);
}

/* Where proto keeps its checksum in the L4 header; 0: none we can update
 * incrementally (SCTP's CRC32c covers the whole packet). */
static __always_inline __u32 nat__csum_off(__u8 proto)
{
	if (proto == IPPROTO_TCP)
		return 16;
	if (proto == IPPROTO_UDP)
		return 6;
	return 0;
}

/* tc NAT rewrites TCP and UDP; SCTP services are balanced at connect time. */
static __always_inline int nat__rewritable(__u8 proto)
{
	return proto == IPPROTO_TCP || proto == IPPROTO_UDP;
}

/* Rewrite the source (is_src) or destination address and port of the
 * packet p describes, fixing the IPv4 header and L4 checksums, and p->t
 * with it. 0, or -1 when a helper failed (the caller drops). */
static __always_inline int nat__rewrite(struct __sk_buff *skb, struct pkt *p, int is_src,
					const struct tern_addr *addr, __be16 port)
{
	__u32 csum = p->l4_off + nat__csum_off(p->t.proto);
	__u64 mangled0 = p->t.proto == IPPROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0;
	struct tern_addr *old = is_src ? &p->t.src : &p->t.dst;
	__be16 *oport = is_src ? &p->t.sport : &p->t.dport;
	/* a later fragment has no L4 header: what follows its IP header is
	 * payload; the first fragment's checksum update covered the datagram */
	int l4 = p->frag != PKT_FRAG_LATER;

	if (p->family == AF_INET) {
		__u32 at = ETH_HLEN + (is_src ? 12 : 16);

		if (bpf_l3_csum_replace(skb, ETH_HLEN + 10, old->w[3], addr->w[3], 4) ||
		    (l4 && bpf_l4_csum_replace(skb, csum, old->w[3], addr->w[3],
					       BPF_F_PSEUDO_HDR | mangled0 | 4)) ||
		    bpf_skb_store_bytes(skb, at, &addr->w[3], 4, 0))
			return -1;
	} else {
		__u32 at = ETH_HLEN + (is_src ? 8 : 24);
		__s64 diff = bpf_csum_diff(old->w, 16, (__u32 *)addr->w, 16, 0);

		/* csum_ipv6_flag: an IPv6 address is no part of skb->csum's
		 * pseudo header for the kernel to adjust */
		if ((l4 && bpf_l4_csum_replace(skb, csum, 0, diff,
					       BPF_F_PSEUDO_HDR | mangled0 | csum_ipv6_flag)) ||
		    bpf_skb_store_bytes(skb, at, addr->b, 16, 0))
			return -1;
	}
	if (l4 && port != *oport &&
	    (bpf_l4_csum_replace(skb, csum, *oport, port, mangled0 | 2) ||
	     bpf_skb_store_bytes(skb, p->l4_off + (is_src ? 0 : 2), &port, 2, 0)))
		return -1;
	*old = *addr;
	*oport = port;
	return 0;
}

/* The quote's own L4 checksum, where the quote holds it (UDP's always,
 * TCP's only in a long quote): it covers the quoted address (d_addr: its
 * change as a checksum diff) and port. ICMP's sum follows the field. A
 * quote cut short of its data still gets the sum a translated datagram
 * would have carried, so the sender sees its own bytes. */
static __always_inline int nat__quote_l4(struct __sk_buff *skb, const struct pkt *p,
					 __u32 in_l4, __s64 d_addr, __be16 oport, __be16 port)
{
	__u32 off = nat__csum_off(p->inner.proto);
	__u32 at = in_l4 + off;
	__u64 mm0 = p->inner.proto == IPPROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0;
	__be16 o, n;

	if (!off || at + 2 > p->l4_off + p->l4_len)
		return 0;
	if (bpf_skb_load_bytes(skb, at, &o, 2) ||
	    bpf_l4_csum_replace(skb, at, 0, d_addr, mm0) ||
	    (oport != port && bpf_l4_csum_replace(skb, at, oport, port, mm0 | 2)) ||
	    bpf_skb_load_bytes(skb, at, &n, 2))
		return -1;
	if (o != n && bpf_l4_csum_replace(skb, p->l4_off + 2, o, n, 2))
		return -1;
	return 0;
}

/* An ICMP error about a NATed flow: rewrite the outer address on one side
 * (outer_src: its source) and the quoted packet's address and port on the
 * other (the quote travels the opposite way), with every checksum the
 * change touches: outer IPv4 header, ICMP (ICMPv6 also over the pseudo
 * header), quoted IPv4 header, quoted L4 header. */
static __always_inline int nat__icmp_error(struct __sk_buff *skb, struct pkt *p, int outer_src,
					   const struct tern_addr *addr, __be16 port)
{
	__u32 icmp_csum = p->l4_off + 2;
	__u32 in_ip = p->l4_off + 8;
	struct tern_addr *outer = outer_src ? &p->t.src : &p->t.dst;
	struct tern_addr *inner = outer_src ? &p->inner.dst : &p->inner.src;
	__be16 *iport = outer_src ? &p->inner.dport : &p->inner.sport;
	/* an error from a router on the way keeps the router as its source */
	int outer_too = addr_eq(outer, inner);

	if (p->family == AF_INET) {
		__u8 ihl;
		__be16 ocsum, ncsum;

		if (bpf_skb_load_bytes(skb, in_ip, &ihl, 1))
			return -1;
		__u32 in_l4 = in_ip + (ihl & 0xf) * 4;
		__u32 in_addr = in_ip + (outer_src ? 16 : 12);

		/* the quoted header, its checksum, and what ICMP's sum sees */
		if (bpf_skb_load_bytes(skb, in_ip + 10, &ocsum, 2) ||
		    bpf_l3_csum_replace(skb, in_ip + 10, inner->w[3], addr->w[3], 4) ||
		    bpf_skb_load_bytes(skb, in_ip + 10, &ncsum, 2) ||
		    bpf_l4_csum_replace(skb, icmp_csum, inner->w[3], addr->w[3], 4) ||
		    bpf_l4_csum_replace(skb, icmp_csum, ocsum, ncsum, 2) ||
		    bpf_skb_store_bytes(skb, in_addr, &addr->w[3], 4, 0))
			return -1;
		if (*iport != port &&
		    (bpf_l4_csum_replace(skb, icmp_csum, *iport, port, 2) ||
		     bpf_skb_store_bytes(skb, in_l4 + (outer_src ? 2 : 0), &port, 2, 0)))
			return -1;
		if (nat__quote_l4(skb, p, in_l4,
				  bpf_csum_diff(&inner->w[3], 4, (__u32 *)&addr->w[3], 4, 0),
				  *iport, port))
			return -1;
		/* the outer header: ICMPv4 has no pseudo header */
		if (outer_too &&
		    (bpf_l3_csum_replace(skb, ETH_HLEN + 10, outer->w[3], addr->w[3], 4) ||
		     bpf_skb_store_bytes(skb, ETH_HLEN + (outer_src ? 12 : 16), &addr->w[3], 4, 0)))
			return -1;
	} else {
		__u32 in_addr = in_ip + (outer_src ? 24 : 8);
		/* a quote with extension headers is not rewritten: dropped */
		__u32 in_l4 = in_ip + 40;
		__u8 nh;

		if (bpf_skb_load_bytes(skb, in_ip + 6, &nh, 1) || nh != p->inner.proto)
			return -1;
		__s64 d_in = bpf_csum_diff(inner->w, 16, (__u32 *)addr->w, 16, 0);
		__s64 d_out = bpf_csum_diff(outer->w, 16, (__u32 *)addr->w, 16, 0);

		if (bpf_l4_csum_replace(skb, icmp_csum, 0, d_in, 0) ||
		    bpf_skb_store_bytes(skb, in_addr, addr->b, 16, 0))
			return -1;
		if (*iport != port &&
		    (bpf_l4_csum_replace(skb, icmp_csum, *iport, port, 2) ||
		     bpf_skb_store_bytes(skb, in_l4 + (outer_src ? 2 : 0), &port, 2, 0)))
			return -1;
		if (nat__quote_l4(skb, p, in_l4, d_in, *iport, port))
			return -1;
		if (outer_too &&
		    (bpf_l4_csum_replace(skb, icmp_csum, 0, d_out, BPF_F_PSEUDO_HDR | csum_ipv6_flag) ||
		     bpf_skb_store_bytes(skb, ETH_HLEN + (outer_src ? 8 : 24), addr->b, 16, 0)))
			return -1;
	}
	if (outer_too)
		*outer = *addr;
	*inner = *addr;
	*iport = port;
	return 0;
}

/* What a refusal needs from the packet it answers. */
struct reject_info {
	struct tern_addr src, dst; /* of the packet refused */
	__be16 sport, dport;
	__u8 family;
	__u8 proto;
	__u8 tcp_flags;
	__u8 pad;
	__be32 seq, ack;           /* TCP */
	__u32 seg_len;             /* TCP payload */
	__u32 l4_off;
};

struct pseudo4 {
	__be32 src, dst;
	__u8 zero, proto;
	__be16 len;
};

struct pseudo6 {
	struct tern_addr src, dst;
	__be32 len;
	__u8 zero[3];
	__u8 nh;
};

struct icmp_answer {
	__u8 type, code;
	__be16 check;
	__be32 unused;
	__u8 quote[48];            /* IPv4: 20 + 8 bytes, IPv6: 40 + 8 */
};

/* A refusal's working memory: in the scratch after the flow state (which
 * holds the packet being refused), keeping the stack of the programs that
 * refuse within the verifier's budget. */
struct reject_buf {
	struct reject_info ri;
	union {
		struct tcphdr th;
		struct icmp_answer msg;
	} l4;
	union {
		struct iphdr ip;
		struct ipv6hdr ip6;
	} l3;
	union {
		struct pseudo4 v4;
		struct pseudo6 v6;
	} ph;
	struct ethhdr eth;
	__u8 mac[ETH_ALEN];
};
_Static_assert(SCRATCH_WORK_OFF + sizeof(struct reject_buf) <= TERN_SCRATCH_PRIV,
	       "reject buffer fits the scratch after the flow state");

static __always_inline __u16 csum_fold(__s64 sum)
{
	__u64 s = (__u64)sum;

	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (__u16)~s;
}

/* The L4 checksum over the pseudo header of the answer and len bytes of
 * rb's L4 header. */
static __always_inline __u16 nat__answer_csum(struct reject_buf *rb, __u32 len, __u8 proto)
{
	struct reject_info *ri = &rb->ri;
	__s64 sum;

	if (ri->family == AF_INET) {
		rb->ph.v4 = (struct pseudo4){ ri->dst.w[3], ri->src.w[3], 0, proto, bpf_htons(len) };
		sum = bpf_csum_diff(NULL, 0, (__u32 *)&rb->ph.v4, sizeof(rb->ph.v4), 0);
	} else {
		rb->ph.v6 = (struct pseudo6){ .src = ri->dst, .dst = ri->src, .len = bpf_htonl(len),
					      .nh = proto };
		sum = bpf_csum_diff(NULL, 0, (__u32 *)&rb->ph.v6, sizeof(rb->ph.v6), 0);
	}
	return csum_fold(bpf_csum_diff(NULL, 0, (__u32 *)&rb->l4, len & 0x7c, sum));
}

/* Turn skb into the answer to the packet rb describes: MACs swapped, a
 * fresh IP header from its destination back to its source, then l4_len
 * bytes of rb's L4 part. */
static __always_inline int nat__answer(struct __sk_buff *skb, struct reject_buf *rb,
				       __u32 l4_len, __u8 proto)
{
	struct reject_info *ri = &rb->ri;

	if (l4_len > sizeof(rb->l4) || bpf_skb_load_bytes(skb, 0, &rb->eth, sizeof(rb->eth)))
		return -1;
	__builtin_memcpy(rb->mac, rb->eth.h_dest, ETH_ALEN);
	__builtin_memcpy(rb->eth.h_dest, rb->eth.h_source, ETH_ALEN);
	__builtin_memcpy(rb->eth.h_source, rb->mac, ETH_ALEN);
	if (bpf_skb_store_bytes(skb, 0, &rb->eth, sizeof(rb->eth), 0))
		return -1;
	if (ri->family == AF_INET) {
		rb->l3.ip = (struct iphdr){
			.version = 4,
			.ihl = 5,
			.ttl = 64,
			.protocol = proto,
			.frag_off = bpf_htons(0x4000), /* DF */
			.tot_len = bpf_htons(sizeof(struct iphdr) + l4_len),
			.saddr = ri->dst.w[3],
			.daddr = ri->src.w[3],
		};
		rb->l3.ip.check = csum_fold(bpf_csum_diff(NULL, 0, (__u32 *)&rb->l3.ip,
							  sizeof(rb->l3.ip), 0));
		return bpf_skb_store_bytes(skb, ETH_HLEN, &rb->l3.ip, sizeof(rb->l3.ip), 0) ||
		       bpf_skb_store_bytes(skb, ETH_HLEN + sizeof(rb->l3.ip), &rb->l4,
					   l4_len & 0x7f, 0);
	}
	rb->l3.ip6 = (struct ipv6hdr){
		.version = 6,
		.hop_limit = 64,
		.nexthdr = proto,
		.payload_len = bpf_htons(l4_len),
	};
	__builtin_memcpy(&rb->l3.ip6.saddr, &ri->dst, 16);
	__builtin_memcpy(&rb->l3.ip6.daddr, &ri->src, 16);
	return bpf_skb_store_bytes(skb, ETH_HLEN, &rb->l3.ip6, sizeof(rb->l3.ip6), 0) ||
	       bpf_skb_store_bytes(skb, ETH_HLEN + sizeof(rb->l3.ip6), &rb->l4, l4_len & 0x7f, 0);
}

/* Refuse a TCP connection: the packet becomes the RST its sender gets
 * (RFC 9293 3.10.7.1), sent back out of the interface it came in on. A
 * global function: verified once, off the fast path. */
__noinline int nat__reject_tcp(struct __sk_buff *skb, struct reject_buf *rb)
{
	if (!skb || !rb)
		return TC_ACT_SHOT;
	struct reject_info *ri = &rb->ri;
	struct tcphdr *th = &rb->l4.th;
	__u32 len = ETH_HLEN + (ri->family == AF_INET ? 20 : 40) + sizeof(*th);

	__builtin_memset(th, 0, sizeof(*th));
	th->source = ri->dport;
	th->dest = ri->sport;
	th->doff = 5;
	th->rst = 1;
	if (ri->tcp_flags & TERN_TCP_ACK) {
		th->seq = ri->ack;
	} else {
		__u32 n = ri->seg_len + !!(ri->tcp_flags & TERN_TCP_SYN) +
			  !!(ri->tcp_flags & TERN_TCP_FIN);

		th->ack = 1;
		th->ack_seq = bpf_htonl(bpf_ntohl(ri->seq) + n);
	}
	th->check = nat__answer_csum(rb, sizeof(*th), IPPROTO_TCP);
	if (bpf_skb_change_tail(skb, len, 0) || nat__answer(skb, rb, sizeof(*th), IPPROTO_TCP))
		return TC_ACT_SHOT;
	return bpf_redirect(skb->ifindex, 0);
}

/* Refuse a UDP datagram: ICMP port unreachable quoting its IP header and
 * the 8 bytes after it, back out of the interface it came in on. Only
 * datagrams without IPv4 options or IPv6 extension headers: others are
 * dropped. */
__noinline int nat__reject_udp(struct __sk_buff *skb, struct reject_buf *rb)
{
	if (!skb || !rb)
		return TC_ACT_SHOT;
	struct reject_info *ri = &rb->ri;
	struct icmp_answer *msg = &rb->l4.msg;
	int v4 = ri->family == AF_INET;

	__builtin_memset(msg, 0, sizeof(*msg));
	if (v4) {
		if (ri->l4_off != ETH_HLEN + 20 ||
		    bpf_skb_load_bytes(skb, ETH_HLEN, msg->quote, 28))
			return TC_ACT_SHOT;
		msg->type = 3; /* destination unreachable */
		msg->code = 3; /* port unreachable */
		/* ICMPv4: no pseudo header */
		msg->check = csum_fold(bpf_csum_diff(NULL, 0, (__u32 *)msg, 8 + 28, 0));
	} else {
		if (ri->l4_off != ETH_HLEN + 40 ||
		    bpf_skb_load_bytes(skb, ETH_HLEN, msg->quote, 48))
			return TC_ACT_SHOT;
		msg->type = 1; /* destination unreachable */
		msg->code = 4; /* port unreachable */
		msg->check = nat__answer_csum(rb, 8 + 48, IPPROTO_ICMPV6);
	}
	__u32 mlen = v4 ? 8 + 28 : 8 + 48;
	__u32 len = ETH_HLEN + (v4 ? 20 : 40) + mlen;

	if (bpf_skb_change_tail(skb, len, 0) ||
	    nat__answer(skb, rb, mlen, v4 ? IPPROTO_ICMP : IPPROTO_ICMPV6))
		return TC_ACT_SHOT;
	return bpf_redirect(skb->ifindex, 0);
}

/* Refuse p (to a service without endpoints); the verdict to return. */
static __always_inline int nat__reject(struct __sk_buff *skb, const struct pkt *p)
{
	struct tern_scratch *s = scratch__get();
	struct reject_buf *rb = s ? scratch__work(s) : NULL;

	if (!rb || (p->t.proto == IPPROTO_TCP && (p->tcp_flags & TERN_TCP_RST)))
		return TC_ACT_SHOT; /* never answer a reset */
	rb->ri = (struct reject_info){
		.src = p->t.src,
		.dst = p->t.dst,
		.sport = p->t.sport,
		.dport = p->t.dport,
		.family = p->family,
		.proto = p->t.proto,
		.tcp_flags = p->tcp_flags,
		.l4_off = p->l4_off,
	};
	if (p->t.proto == IPPROTO_TCP) {
		__u8 doff;

		if (bpf_skb_load_bytes(skb, p->l4_off + 4, &rb->ri.seq, 4) ||
		    bpf_skb_load_bytes(skb, p->l4_off + 8, &rb->ri.ack, 4) ||
		    bpf_skb_load_bytes(skb, p->l4_off + 12, &doff, 1))
			return TC_ACT_SHOT;
		rb->ri.seg_len = p->l4_len - (doff >> 4) * 4;
		return nat__reject_tcp(skb, rb);
	}
	if (p->t.proto == IPPROTO_UDP)
		return nat__reject_udp(skb, rb);
	return TC_ACT_SHOT;
}

#endif
