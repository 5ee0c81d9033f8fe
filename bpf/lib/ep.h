/* Workload endpoints: which source addresses a pod may use, and whether a
 * destination is a pod on this node. */
#ifndef TERN_BPF_EP_H
#define TERN_BPF_EP_H

#include "maps.h"
#include "parse.h"

static __always_inline int addr_is_zero(const struct tern_addr *a)
{
	return !(a->w[0] | a->w[1] | a->w[2] | a->w[3]);
}

/* fe80::/10, or :: as duplicate address detection sends it */
static __always_inline int addr6_is_linklocal_or_any(const struct tern_addr *a)
{
	return (a->b[0] == 0xfe && (a->b[1] & 0xc0) == 0x80) || addr_is_zero(a);
}

/* Neighbour discovery and MLD a pod sends from its link-local address to
 * reach its gateway: allowed, never tracked. */
static __always_inline int ep__is_link_local_nd(const struct pkt *p)
{
	return p->family == AF_INET6 && p->icmp == PKT_ICMP_INFO &&
	       addr6_is_linklocal_or_any(&p->t.src);
}

/* Neighbour discovery and MLD: the link's own control traffic, which no
 * policy judges. */
static __always_inline int ep__is_link_control(const struct pkt *p)
{
	__u8 t = p->icmp_type;

	return p->family == AF_INET6 && p->icmp == PKT_ICMP_INFO &&
	       ((t >= 130 && t <= 137) || t == 143);
}

/* Whether dst is a local pod that isolates its ingress. */
static __always_inline int ep__iso_in(const struct tern_addr *dst)
{
	struct tern_ep *ep = bpf_map_lookup_elem(&tern_ep_v1, dst);

	return ep && (ep->flags & TERN_EP_F_LOCAL) && (ep->flags & TERN_EP_F_ISO_IN);
}

/* The pod behind ifs really owns p's source address. */
static __always_inline int ep__src_ok(const struct tern_ifstate *ifs, const struct pkt *p)
{
	if (p->family == AF_INET)
		return ifs->ip4 && p->t.src.w[3] == ifs->ip4;
	if (addr_is_zero(&ifs->ip6))
		return 0;
	return p->t.src.w[0] == ifs->ip6.w[0] && p->t.src.w[1] == ifs->ip6.w[1] &&
	       p->t.src.w[2] == ifs->ip6.w[2] && p->t.src.w[3] == ifs->ip6.w[3];
}

/* The host interface of the local pod that owns dst, or 0. */
static __always_inline __u32 ep__local_ifindex(const struct tern_addr *dst)
{
	struct tern_ep *ep = bpf_map_lookup_elem(&tern_ep_v1, dst);

	if (!ep || !(ep->flags & TERN_EP_F_LOCAL))
		return 0;
	return ep->ifindex;
}

#endif
