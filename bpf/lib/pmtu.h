/* Path MTU for packets tern sends out past the stack (fwd__out): one too
 * big for the way out gets its sender an ICMP fragmentation needed (IPv4,
 * DF set) or ICMPv6 packet too big, as the stack's forwarding would send.
 * The stack cannot do it for us: the packet's source is already a frontend
 * or node address by then, which the stack drops as martian, and its error
 * would go to that address, not to the sender. So the error is built here
 * about the packet as it stands, then translated back through its flow
 * like any ICMP error (svc__related), and sent out where the packet came
 * in. */
#ifndef TERN_BPF_PMTU_H
#define TERN_BPF_PMTU_H

#include "nat.h"
#include "svc.h"
#include "track.h"

#define ICMP_FRAG_NEEDED 4 /* an ICMP_DEST_UNREACH code */

/* The ICMP checksum over the message (pmtu__answer's) as it finally
 * stands: the translation's incremental updates leave a CHECKSUM_PARTIAL
 * skb's field alone. */
static __always_inline int pmtu__seal(struct __sk_buff *skb, struct reject_buf *rb,
				      const struct pkt *p)
{
	struct icmp_answer *msg = &rb->l4.msg;

	if (p->family == AF_INET) {
		if (bpf_skb_load_bytes(skb, p->l4_off, msg, 8 + 28))
			return -1;
		msg->check = 0;
		msg->check = csum_fold(bpf_csum_diff(NULL, 0, (__u32 *)msg, 8 + 28, 0));
	} else {
		if (bpf_skb_load_bytes(skb, p->l4_off, msg, 8 + 48))
			return -1;
		msg->check = 0;
		/* nat__answer_csum sums an answer: from ri.dst back to ri.src */
		rb->ri.src = p->t.dst;
		rb->ri.dst = p->t.src;
		rb->ri.family = AF_INET6;
		msg->check = nat__answer_csum(rb, 8 + 48, IPPROTO_ICMPV6);
	}
	return bpf_skb_store_bytes(skb, p->l4_off + 2, &msg->check, 2, 0) ? -1 : 0;
}

/* Turn p (too big for a way out of mtu bytes) into the ICMP error its
 * sender gets, about the packet as it stands, from the node's address;
 * p then describes the error. 0, or -1 when none is to be sent: an ICMP
 * error (never an error about one), a fragment, IPv4 without DF (the stack
 * would fragment it, which tc cannot), IPv4 options or IPv6 extension
 * headers (not quoted here), no node address. A global function: off the
 * fast path, verified once. */
__noinline int pmtu__answer(struct __sk_buff *skb, struct pkt *p, __u32 mtu)
{
	struct tern_scratch *s = scratch__get();
	struct reject_buf *rb = s ? scratch__work(s) : NULL;

	if (!skb || !p || !rb)
		return -1;
	int v4 = p->family == AF_INET;
	__u32 idx = v4 ? 0 : 1;
	struct tern_addr *node = bpf_map_lookup_elem(&tern_node_v1, &idx);
	struct icmp_answer *msg = &rb->l4.msg;
	__u8 proto = v4 ? IPPROTO_ICMP : IPPROTO_ICMPV6;
	__u8 df;

	if (p->icmp == PKT_ICMP_ERROR || p->frag != PKT_FRAG_NONE ||
	    p->l4_off != ETH_HLEN + (v4 ? 20 : 40) || !node || addr_is_zero(node))
		return -1;
	if (v4 && (bpf_skb_load_bytes(skb, ETH_HLEN + 6, &df, 1) || !(df & 0x40)))
		return -1;
	/* a GSO packet is CHECKSUM_PARTIAL, its offset its TCP checksum's, and
	 * the error built in its place keeps that (no helper resets it): back
	 * into a pod's veth the peer trusts it, but a NIC would write a
	 * checksum into the quote. From elsewhere (GRO'd on a data interface)
	 * it is dropped and counted. */
	if (skb->gso_size) {
		__u32 ifindex = skb->ifindex;
		struct tern_ifstate *in = bpf_map_lookup_elem(&tern_ifstate_v1, &ifindex);

		if (!in || !(in->flags & TERN_IF_F_WORKLOAD))
			return -1;
	}

	/* the IP header and 8 bytes of what follows: ports and TCP sequence,
	 * all a sender needs to find its flow (RFC 792, RFC 1191) */
	__builtin_memset(msg, 0, sizeof(*msg));
	if (v4) {
		if (bpf_skb_load_bytes(skb, ETH_HLEN, msg->quote, 28))
			return -1;
		msg->type = ICMP_DEST_UNREACH;
		msg->code = ICMP_FRAG_NEEDED;
		msg->unused = bpf_htonl(mtu & 0xffff); /* next-hop MTU, RFC 1191 */
	} else {
		if (bpf_skb_load_bytes(skb, ETH_HLEN, msg->quote, 48))
			return -1;
		msg->type = ICMPV6_PKT_TOOBIG;
		msg->unused = bpf_htonl(mtu);
	}
	__u32 mlen = v4 ? 8 + 28 : 8 + 48;

	rb->ri = (struct reject_info){
		.src = p->t.src,
		.dst = *node,
		.family = p->family,
		.l4_off = p->l4_off,
	};
	if (bpf_skb_change_tail(skb, ETH_HLEN + (v4 ? 20 : 40) + mlen, 0) ||
	    nat__answer(skb, rb, mlen, proto))
		return -1;
	p->inner = p->t;
	p->t.src = *node;
	p->t.dst = rb->ri.src;
	p->t.sport = 0;
	p->t.dport = 0;
	p->t.proto = proto;
	p->icmp = PKT_ICMP_ERROR;
	p->icmp_type = msg->type;
	p->tcp_flags = 0;
	p->l4_len = mlen;
	return 0;
}

/* p is too big for a way out of mtu bytes: its sender gets the ICMP
 * error, translated back through p's flow to what the sender sent, out of
 * the interface p came in on. Returns the verdict, or -1 to drop (see
 * pmtu__answer; or the flow is gone). c is reused. */
static __always_inline int pmtu__reply(struct __sk_buff *skb, struct pkt *p, struct ct_ctx *c,
				       __u32 mtu)
{
	struct tern_scratch *s = scratch__get();

	if (!s || pmtu__answer(skb, p, mtu) ||
	    ct__lookup(p, c, track__now()) != CT_RELATED || svc__related(skb, p, c) < 0 ||
	    pmtu__seal(skb, scratch__work(s), p))
		return -1;
	return bpf_redirect(skb->ifindex, 0);
}

#endif
