/* Fast forwarding: hand a packet straight to a local pod (bpf_redirect_peer
 * into its netns) when the FIB and the neighbour table already know the way;
 * otherwise the caller passes it to the stack, which resolves the neighbour
 * so the next packet can take the fast path. */
#ifndef TERN_BPF_FWD_H
#define TERN_BPF_FWD_H

#include "maps.h"
#include "parse.h"

/* Decrement the IPv4 TTL / IPv6 hop limit as the stack's forwarding would.
 * Returns -1 when it is already 1 or less: the stack sends the ICMP error. */
static __always_inline int fwd__dec_ttl(struct __sk_buff *skb, __u8 family)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;

	if (family == AF_INET) {
		struct iphdr *ip = data + ETH_HLEN;

		if ((void *)(ip + 1) > data_end || ip->ttl <= 1)
			return -1;
		/* ttl shares a 16-bit checksum word with protocol */
		__be16 old = *(__be16 *)&ip->ttl;

		ip->ttl--;
		__be16 new = *(__be16 *)&ip->ttl;
		__u32 sum = (__u16)~bpf_ntohs(ip->check) + (__u16)~bpf_ntohs(old) + bpf_ntohs(new);

		sum = (sum & 0xffff) + (sum >> 16);
		sum = (sum & 0xffff) + (sum >> 16);
		ip->check = bpf_htons(~sum & 0xffff);
		return 0;
	}
	struct ipv6hdr *ip6 = data + ETH_HLEN;

	if ((void *)(ip6 + 1) > data_end || ip6->hop_limit <= 1)
		return -1;
	/* no header checksum to balance it: let the helper fix skb->csum of
	 * a CHECKSUM_COMPLETE packet */
	__u8 hl = ip6->hop_limit - 1;

	return bpf_skb_store_bytes(skb, ETH_HLEN + offsetof(struct ipv6hdr, hop_limit), &hl, 1,
				   BPF_F_RECOMPUTE_CSUM) ? -1 : 0;
}

/* Look the way to p's destination up in the FIB, as the stack's forwarding
 * would from the interface p came in on. tot_len stays 0: the helper then
 * checks the skb itself and passes any GSO packet (fwd__out checks its
 * segments); a length would fail every GSO packet's MTU check. Returns the
 * BPF_FIB_LKUP_RET_* result. */
static __always_inline int fwd__fib(struct __sk_buff *skb, const struct pkt *p,
				    struct bpf_fib_lookup *fib)
{
	__builtin_memset(fib, 0, sizeof(*fib));
	fib->ifindex = skb->ingress_ifindex;
	fib->l4_protocol = p->t.proto;
	fib->sport = p->t.sport;
	fib->dport = p->t.dport;
	if (p->family == AF_INET) {
		fib->family = AF_INET;
		fib->ipv4_src = p->t.src.w[3];
		fib->ipv4_dst = p->t.dst.w[3];
	} else {
		fib->family = AF_INET6;
		__builtin_memcpy(fib->ipv6_src, &p->t.src, 16);
		__builtin_memcpy(fib->ipv6_dst, &p->t.dst, 16);
	}
	return bpf_fib_lookup(skb, fib, sizeof(*fib), 0);
}

/* The next hop's Ethernet addresses, from the FIB; 0 or -1. */
static __always_inline int fwd__set_macs(struct __sk_buff *skb, const struct bpf_fib_lookup *fib)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > data_end)
		return -1;
	__builtin_memcpy(eth->h_dest, fib->dmac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, fib->smac, ETH_ALEN);
	return 0;
}

/* Redirect p into the pod behind host interface ifindex. Returns
 * TC_ACT_REDIRECT, or -1 when the fast path does not apply. */
static __always_inline int fwd__to_local_ep(struct __sk_buff *skb, const struct pkt *p,
					    __u32 ifindex)
{
	struct bpf_fib_lookup fib;

	/* a tag the NIC took off stays in the skb and would reach the pod */
	if (skb->vlan_present)
		return -1;
	if (fwd__fib(skb, p, &fib) != BPF_FIB_LKUP_RET_SUCCESS || fib.ifindex != ifindex ||
	    fwd__dec_ttl(skb, p->family) || fwd__set_macs(skb, &fib))
		return -1;
	return bpf_redirect_peer(ifindex, 0);
}

#define FWD_NO_ROUTE -1
#define FWD_TOO_BIG -2

/* Send p out towards a destination beyond this node, past the stack: the
 * reply of a service flow whose source is now a frontend address (a node
 * address for NodePorts) that the stack would drop as martian. Returns the
 * verdict; FWD_NO_ROUTE when the FIB has no way (the caller drops);
 * FWD_TOO_BIG, *mtu set, when p does not fit the way out: the stack cannot
 * take it either, so the caller tells the sender (lib/pmtu.h). */
static __always_inline int fwd__out(struct __sk_buff *skb, const struct pkt *p, __u32 *mtu)
{
	struct bpf_fib_lookup fib;
	int rc = fwd__fib(skb, p, &fib);
	/* A GSO packet passes every plain MTU check (it may be segmented
	 * later), yet its segments are cut to gso_size: bigger than the
	 * way out, each is dropped there, and the sender (a pod's TCP over
	 * its veth, or a client's GRO'd burst) never hears why. Check the
	 * segments, as the stack's forwarding does; only for GSO packets,
	 * the others' check (the FIB's, or the one below) is enough. */
	__u64 segs = skb->gso_size ? BPF_MTU_CHK_SEGS : 0;
	__u32 len = 0;

	if (rc == BPF_FIB_LKUP_RET_NO_NEIGH) {
		/* the helper checks the MTU on a full success only */
		rc = bpf_check_mtu(skb, fib.ifindex, &len, 0, segs);
		if (rc == BPF_MTU_CHK_RET_FRAG_NEEDED || rc == BPF_MTU_CHK_RET_SEGS_TOOBIG) {
			*mtu = len;
			return FWD_TOO_BIG;
		}
		if (fwd__dec_ttl(skb, p->family))
			return FWD_NO_ROUTE;
		return bpf_redirect_neigh(fib.ifindex, NULL, 0, 0);
	}
	if (rc == BPF_FIB_LKUP_RET_FRAG_NEEDED) {
		*mtu = fib.mtu_result;
		return FWD_TOO_BIG;
	}
	if (rc != BPF_FIB_LKUP_RET_SUCCESS)
		return FWD_NO_ROUTE;
	if (segs && bpf_check_mtu(skb, fib.ifindex, &len, 0, segs) == BPF_MTU_CHK_RET_SEGS_TOOBIG) {
		*mtu = len;
		return FWD_TOO_BIG;
	}
	if (fwd__dec_ttl(skb, p->family) || fwd__set_macs(skb, &fib))
		return FWD_NO_ROUTE;
	return bpf_redirect(fib.ifindex, 0);
}

#endif
