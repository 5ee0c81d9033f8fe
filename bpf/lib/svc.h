/* Services in tc: a new flow to a frontend gets a backend (DNAT at
 * flow__finish); an established one is translated both ways, its client's
 * entry kept in step with the backend's; ICMP errors about one follow it. */
#ifndef TERN_BPF_SVC_H
#define TERN_BPF_SVC_H

#include "nat.h"
#include "track.h"
#include "policy.h"

enum svc_verdict {
	SVC_NONE = 0,      /* not for a service (or one tc cannot translate) */
	SVC_NAT,           /* p's tuple is now the backend's */
	SVC_REJECT,        /* no endpoints: refuse */
	SVC_NO_BACKEND,    /* none this client may use (Local traffic policy): drop */
	SVC_REPLIED,       /* an established reply now comes from the frontend */
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

/* A new flow: if p goes to a frontend (only external ones when external),
 * choose a backend and turn p's tuple and c's key into the backend's flow;
 * f records what the packet on the wire still says. */
static __always_inline int svc__new(struct pkt *p, struct ct_ctx *c, int external,
				    struct flow_state *f)
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
	f->vip = p->t.dst;
	f->vport = p->t.dport;
	/* the backend is the client itself: it must see the frontend as peer */
	f->hairpin = addr_eq(&be->addr, &p->t.src);
	if (f->hairpin)
		p->t.src = p->t.dst;
	p->t.dst = be->addr;
	p->t.dport = be->port;
	ct__key(&p->t, c);
	return SVC_NAT;
}

/* An established packet (CT_ESTABLISHED) of a service flow: the client's
 * to the frontend goes to the backend, the backend's reply comes from the
 * frontend. p and c describe the packet after. 0, SVC_REPLIED when a reply
 * got the frontend as its source, or -1 to drop. */
static __always_inline int svc__established(struct __sk_buff *skb, struct pkt *p,
					    struct ct_ctx *c)
{
	__u32 hp = c->flags & TERN_CT_F_HAIRPIN;

	if ((c->flags & TERN_CT_F_NAT_FWD) && !c->reply) {
		struct tuple pre = p->t;
		__u8 fstate = c->state;
		__u64 now = track__now();

		if (nat__rewrite(skb, p, 0, &c->nat_addr, c->nat_port) ||
		    (hp && nat__rewrite(skb, p, 1, &pre.dst, p->t.sport)))
			return -1;
		/* the backend's entry sees both ways: the flow's state is its;
		 * from here on c is that entry's */
		int v = ct__lookup(p, c, now);

		if (v == CT_NEW)
			ct__create_nat(p, c, now, TERN_CT_F_NAT_REV | hp, &pre.dst, pre.dport);
		else if (v == CT_ESTABLISHED && c->state != fstate)
			ct__follow(&pre, c->state, now);
		return 0;
	}
	if ((c->flags & TERN_CT_F_NAT_REV) && c->reply) {
		/* the client's entry: client -> frontend */
		struct tuple pre = {
			.src = hp ? p->t.src : p->t.dst,
			.dst = c->nat_addr,
			.sport = p->t.dport,
			.dport = c->nat_port,
			.proto = p->t.proto,
		};

		if (c->touched)
			ct__follow(&pre, c->state, track__now());
		if (nat__rewrite(skb, p, 1, &c->nat_addr, c->nat_port) ||
		    (hp && nat__rewrite(skb, p, 0, &pre.src, p->t.dport)))
			return -1;
		return SVC_REPLIED;
	}
	return 0;
}

/* An ICMP error (CT_RELATED) about a service flow. 0, SVC_REPLIED when it
 * now speaks for the frontend, or -1 to drop. */
static __always_inline int svc__related(struct __sk_buff *skb, struct pkt *p,
					struct ct_ctx *c)
{
	/* hairpin: the client is the backend, and sees it as the frontend,
	 * as the backend sees the client: both ends are translated */
	__u32 hp = c->flags & TERN_CT_F_HAIRPIN;
	struct tern_addr peer;

	/* quoting the client's packet to the backend, on its way to the client */
	if ((c->flags & TERN_CT_F_NAT_REV) && !c->reply) {
		peer = p->inner.dst; /* the backend */
		if (nat__icmp_error(skb, p, 1, &c->nat_addr, c->nat_port) ||
		    (hp && nat__icmp_error(skb, p, 0, &peer, p->inner.sport)))
			return -1;
		return SVC_REPLIED;
	}
	/* quoting a reply as the client got it, on its way to the frontend */
	if ((c->flags & TERN_CT_F_NAT_FWD) && c->reply) {
		peer = p->t.dst; /* the frontend */
		if (nat__icmp_error(skb, p, 0, &c->nat_addr, c->nat_port) ||
		    (hp && nat__icmp_error(skb, p, 1, &peer, p->inner.dport)))
			return -1;
	}
	return 0;
}

#endif
