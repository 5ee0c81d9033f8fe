/* Services in tc: a new flow to a frontend gets a backend (DNAT at
 * flow__finish); an established one is translated both ways, its client's
 * entry kept in step with the backend's; ICMP errors about one follow it. */
#ifndef TERN_BPF_SVC_H
#define TERN_BPF_SVC_H

#include "nat.h"
#include "track.h"
#include "policy.h"
#include "ep.h"

enum svc_verdict {
	SVC_NONE = 0,      /* not for a service (or one tc cannot translate) */
	SVC_NAT,           /* p's tuple is now the backend's */
	SVC_REJECT,        /* no endpoints: refuse */
	SVC_NO_BACKEND,    /* none this client may use (Local traffic policy): drop */
	SVC_SRC_NAT,       /* the packet's source is now a frontend or node address:
	                    * the stack would take it for a martian, so it goes out
	                    * past it */
};

/* A new UDP flow to a backend that just went (a socket connected to it
 * before it did): refused, so the client reconnects through the service. */
static __always_inline int svc__to_gone_backend(const struct pkt *p, __u64 now)
{
	struct tern_nat_gone_key k = { .addr = p->t.dst, .port = p->t.dport, .proto = p->t.proto };
	__u64 *until;

	if (p->t.proto != IPPROTO_UDP)
		return 0;
	until = bpf_map_lookup_elem(&tern_nat_gone_v1, &k);
	return until && now < *until;
}

/* Source NAT's ports (services.snatPorts), set by the agent before load:
 * a range the host's own sockets do not pick from (ip_local_port_range),
 * so neither steals the other's replies. */
const volatile __u16 snat_port_min = 20000;
const volatile __u16 snat_port_max = 29999;

/* Does a host socket own the tuple the backend's replies to p would come
 * back on (backend -> node address:port)? tern would take its packets. */
static __always_inline int svc__host_sock(struct __sk_buff *skb, const struct pkt *p)
{
	struct bpf_sock_tuple st = {};
	__u32 len;

	if (p->family == AF_INET) {
		st.ipv4.saddr = p->t.dst.w[3];
		st.ipv4.daddr = p->t.src.w[3];
		st.ipv4.sport = p->t.dport;
		st.ipv4.dport = p->t.sport;
		len = sizeof(st.ipv4);
	} else {
		__builtin_memcpy(st.ipv6.saddr, p->t.dst.w, 16);
		__builtin_memcpy(st.ipv6.daddr, p->t.src.w, 16);
		st.ipv6.sport = p->t.dport;
		st.ipv6.dport = p->t.sport;
		len = sizeof(st.ipv6);
	}
	/* each lookup takes a reference: released at once, only its being
	 * there matters */
	if (p->t.proto == IPPROTO_TCP) {
		struct bpf_sock *sk = bpf_skc_lookup_tcp(skb, &st, len, BPF_F_CURRENT_NETNS, 0);

		if (!sk)
			return 0;
		bpf_sk_release(sk);
		return 1;
	}
	struct bpf_sock *sk = bpf_sk_lookup_udp(skb, &st, len, BPF_F_CURRENT_NETNS, 0);

	if (!sk)
		return 0;
	bpf_sk_release(sk);
	return 1;
}

/* May p's source port be the flow's: no tern flow to that backend and no
 * host socket use it? */
static __always_inline int svc__snat_port_free(struct __sk_buff *skb, const struct pkt *p)
{
	struct tern_ct_key k;

	ct__key_of(&p->t, &k);
	return !bpf_map_lookup_elem(&tern_ct_v1, &k) && !svc__host_sock(skb, p);
}

/* From outside to a backend on another node: the source becomes this
 * node's address (the NodePort's own, else the node's) and a port of
 * snat_port_min..max no flow to that backend uses yet, so the backend's
 * replies come back here. A new flow's first packet only.
 * Returns 0, or -1 when no address or port is to be had. */
static __always_inline int svc__snat(struct __sk_buff *skb, struct pkt *p, struct flow_state *f,
				     const struct tern_nat_fe *fe)
{
	__u32 idx = p->family == AF_INET ? 0 : 1;
	struct tern_addr *node = bpf_map_lookup_elem(&tern_node_v1, &idx);
	__u32 span = (__u32)snat_port_max - snat_port_min + 1;
	__u16 port = bpf_ntohs(p->t.sport);

	f->client = p->t.src;
	f->cport = p->t.sport;
	if (fe->flags & TERN_FE_F_NODEPORT)
		p->t.src = f->vip;
	else if (node && !addr_is_zero(node))
		p->t.src = *node;
	else
		return -1;
	f->snat = 1;
	/* the client's port if in the range and free, else random ones in it */
	if (port >= snat_port_min && port <= snat_port_max && svc__snat_port_free(skb, p))
		return 0;
	for (int i = 0; i < 8; i++) {
		p->t.sport = bpf_htons((__u16)(snat_port_min + bpf_get_prandom_u32() % span));
		if (svc__snat_port_free(skb, p))
			return 0;
	}
	return -1;
}

/* A new flow: if p goes to a frontend (only external ones when external),
 * choose a backend and turn p's tuple and c's key into the backend's flow;
 * f records what the packet on the wire still says. */
static __always_inline int svc__new(struct __sk_buff *skb, struct pkt *p, struct ct_ctx *c,
				    int external, struct flow_state *f)
{
	struct tern_nat_fe *fe = nat__frontend(&p->t);
	struct tern_nat_be *be;

	if (!fe || (external && !(fe->flags & TERN_FE_F_EXTERNAL)))
		return svc__to_gone_backend(p, track__now()) ? SVC_REJECT : SVC_NONE;
	if (!fe->count)
		return SVC_REJECT;
	if (!nat__rewritable(p->t.proto))
		return SVC_NONE;
	be = nat__pick(fe, &p->t.src, fe->flags & (external ? TERN_FE_F_ETP_LOCAL :
							       TERN_FE_F_ITP_LOCAL),
		       track__now());
	if (!be)
		return SVC_NO_BACKEND;
	f->nat = 1;
	f->snat = 0;
	f->vip = p->t.dst;
	f->vport = p->t.dport;
	/* the backend is the client itself: it must see the frontend as peer */
	f->hairpin = addr_eq(&be->addr, &p->t.src);
	if (f->hairpin)
		p->t.src = p->t.dst;
	p->t.dst = be->addr;
	p->t.dport = be->port;
	if (external && !(be->flags & TERN_BE_F_LOCAL) && svc__snat(skb, p, f, fe))
		return SVC_NO_BACKEND;
	ct__key(&p->t, c);
	return SVC_NAT;
}

/* An established packet (CT_ESTABLISHED) of a service flow: the client's
 * to the frontend goes to the backend, the backend's reply comes from the
 * frontend. p and c describe the packet after. 0, SVC_SRC_NAT when the
 * packet's source became a frontend or node address, or -1 to drop. A
 * global function: verified once, not inlined into every path of every
 * program (svc__established below calls it for service flows only). */
__noinline int svc__established_nat(struct __sk_buff *skb, struct pkt *p, struct ct_ctx *c)
{
	if (!skb || !p || !c)
		return -1;
	__u32 hp = c->flags & TERN_CT_F_HAIRPIN;

	if ((c->flags & TERN_CT_F_NAT_FWD) && !c->reply) {
		struct tuple pre = p->t;
		__u8 fstate = c->state;
		__u64 now = track__now();

		__u32 sn = c->flags & TERN_CT_F_SNAT;
		struct tern_nat_snat *out = sn ? bpf_map_lookup_elem(&tern_nat_snat_v1, &c->key) : NULL;

		if (sn && !out)
			return -1; /* its source is gone with the map entry */
		if (nat__rewrite(skb, p, 0, &c->nat_addr, c->nat_port) ||
		    (hp && nat__rewrite(skb, p, 1, &pre.dst, p->t.sport)) ||
		    (out && nat__rewrite(skb, p, 1, &out->addr, out->port)))
			return -1;
		/* the backend's entry sees both ways: the flow's state is its;
		 * from here on c is that entry's */
		int v = ct__lookup(p, c, now);

		if (v == CT_NEW)
			ct__create_nat(p, c, now, TERN_CT_F_NAT_REV | hp | sn, &pre.dst, pre.dport);
		else if (v == CT_ESTABLISHED && c->state != fstate)
			ct__follow(&pre, c->state, c->flags, now);
		return sn ? SVC_SRC_NAT : 0;
	}
	if ((c->flags & TERN_CT_F_NAT_REV) && c->reply) {
		struct tern_nat_snat *client = NULL;

		if (c->flags & TERN_CT_F_SNAT) {
			client = bpf_map_lookup_elem(&tern_nat_snat_v1, &c->key);
			if (!client)
				return -1;
		}
		/* the client's entry: client -> frontend */
		struct tuple pre = {
			.src = client ? client->addr : hp ? p->t.src : p->t.dst,
			.dst = c->nat_addr,
			.sport = client ? client->port : p->t.dport,
			.dport = c->nat_port,
			.proto = p->t.proto,
		};

		if (c->touched)
			ct__follow(&pre, c->state, c->flags, track__now());
		if (nat__rewrite(skb, p, 1, &c->nat_addr, c->nat_port) ||
		    ((hp || client) && nat__rewrite(skb, p, 0, &pre.src, pre.sport)))
			return -1;
		return SVC_SRC_NAT;
	}
	return 0;
}

/* Is a this node's address (the one tern_node_v1 holds for its family)? */
static __always_inline int svc__is_node(const struct pkt *p, const struct tern_addr *a)
{
	__u32 idx = p->family == AF_INET ? 0 : 1;
	struct tern_addr *node = bpf_map_lookup_elem(&tern_node_v1, &idx);

	return node && addr_eq(node, a);
}

static __always_inline int svc__node_addr(const struct pkt *p)
{
	return svc__is_node(p, &p->t.dst);
}

static __always_inline int svc__src_node_addr(const struct pkt *p)
{
	return svc__is_node(p, &p->t.src);
}

/* An ICMP error (CT_RELATED) about a service flow. 0, SVC_SRC_NAT when it
 * now speaks for the frontend or comes from this node's address, or -1 to
 * drop. Global, as above. */
__noinline int svc__related_nat(struct __sk_buff *skb, struct pkt *p, struct ct_ctx *c)
{
	if (!skb || !p || !c)
		return -1;
	/* hairpin: the client is the backend, and sees it as the frontend,
	 * as the backend sees the client: both ends are translated */
	__u32 hp = c->flags & TERN_CT_F_HAIRPIN;
	/* source NAT: the quote names the node's address and port where the
	 * client's own stood (tern_nat_snat_v1 under the quoted flow's key) */
	struct tern_nat_snat *sn = NULL;
	struct tern_addr peer;

	if (c->flags & TERN_CT_F_SNAT) {
		sn = bpf_map_lookup_elem(&tern_nat_snat_v1, &c->key);
		if (!sn)
			return -1;
	}
	/* quoting the client's packet to the backend, on its way to the client */
	if ((c->flags & TERN_CT_F_NAT_REV) && !c->reply) {
		peer = p->inner.dst; /* the backend */
		if (nat__icmp_error(skb, p, 1, &c->nat_addr, c->nat_port) ||
		    (hp && nat__icmp_error(skb, p, 0, &peer, p->inner.sport)) ||
		    (sn && nat__icmp_error(skb, p, 0, &sn->addr, sn->port)))
			return -1;
		return SVC_SRC_NAT;
	}
	/* quoting a reply as the client got it, on its way to the frontend */
	if ((c->flags & TERN_CT_F_NAT_FWD) && c->reply) {
		peer = p->t.dst; /* the frontend */
		if (nat__icmp_error(skb, p, 0, &c->nat_addr, c->nat_port) ||
		    (hp && nat__icmp_error(skb, p, 1, &peer, p->inner.dport)) ||
		    (sn && nat__icmp_error(skb, p, 1, &sn->addr, sn->port)))
			return -1;
		/* to the backend elsewhere, maybe as the node: past the stack */
		return sn ? SVC_SRC_NAT : 0;
	}
	return 0;
}

/* Only service flows have anything to translate: the rest pay a test. */
static __always_inline int svc__established(struct __sk_buff *skb, struct pkt *p,
					    struct ct_ctx *c)
{
	if (!(c->flags & (TERN_CT_F_NAT_FWD | TERN_CT_F_NAT_REV)))
		return 0;
	return svc__established_nat(skb, p, c);
}

static __always_inline int svc__related(struct __sk_buff *skb, struct pkt *p,
					struct ct_ctx *c)
{
	if (!(c->flags & (TERN_CT_F_NAT_FWD | TERN_CT_F_NAT_REV)))
		return 0;
	return svc__related_nat(skb, p, c);
}

#endif
