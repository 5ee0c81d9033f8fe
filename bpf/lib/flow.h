/* A flow's first packet, stage by stage: its state saved in the per-CPU
 * scratch, the source's egress and a local destination's ingress policy
 * (each a tail call that resumes in a continuation program), then the
 * conntrack entries, the service DNAT, and on its way. */
#ifndef TERN_BPF_FLOW_H
#define TERN_BPF_FLOW_H

#include "maps.h"
#include "counters.h"
#include "track.h"
#include "fwd.h"
#include "nat.h"
#include "policy.h"
#include "svc.h"
#include "pmtu.h"

/* On to a local pod (directly when the FIB knows the way), or the stack. */
static __always_inline int forward(struct __sk_buff *skb, const struct pkt *p,
				   struct tern_counters *row, __u32 dst_if)
{
	/* dst_if == in_if: a pod reaching itself through its service */
	if (dst_if && fwd__to_local_ep(skb, p, dst_if) == TC_ACT_REDIRECT) {
		count(row, TERN_CNT_FWD_PEER);
		return TC_ACT_REDIRECT;
	}
	count(row, TERN_CNT_TO_STACK);
	return TC_ACT_OK;
}

/* A service reply (its source now a frontend, maybe a node address) to a
 * client: straight into a local pod, else out past the stack, which would
 * take that source for a martian; too big for the way out, its sender is
 * told so (c: the flow's context, free to reuse by then). */
static __always_inline int forward_reply(struct __sk_buff *skb, struct pkt *p, struct ct_ctx *c,
					 struct tern_counters *row, __u32 dst_if)
{
	__u32 mtu = 0;
	int rc;

	if (dst_if)
		return forward(skb, p, row, dst_if);
	rc = fwd__out(skb, p, &mtu);
	if (rc == FWD_TOO_BIG) {
		rc = pmtu__reply(skb, p, c, mtu);
		if (rc < 0)
			return drop(row, TERN_CNT_DROP_TOO_BIG);
		count(row, TERN_CNT_TOO_BIG);
		return rc;
	}
	if (rc < 0)
		return drop(row, TERN_CNT_DROP_NO_ROUTE);
	count(row, TERN_CNT_FWD_OUT);
	return rc;
}

/* This packet's context, cleared, in the per-CPU scratch; NULL never
 * happens (a one-entry array) but the verifier wants it handled. */
static __always_inline struct flow_state *flow__begin(struct tern_scratch **sp)
{
	struct tern_scratch *s = scratch__get();
	struct flow_state *f;

	if (!s)
		return NULL;
	f = scratch__flow(s);
	__builtin_memset(&f->p, 0, sizeof(f->p));
	__builtin_memset(&f->c, 0, sizeof(f->c));
	*sp = s;
	return f;
}

/* A new flow's state starts empty: nothing of the last flow this CPU
 * judged may carry over (its NAT, hairpin, source NAT). */
static __always_inline void flow__clear(struct flow_state *f)
{
	f->magic = flow__magic();
	f->nat = 0;
	f->hairpin = 0;
	f->snat = 0;
}

/* The host interface of a local endpoint, or 0. */
static __always_inline __u32 local_ifindex(const struct tern_ep *ep)
{
	return ep && (ep->flags & TERN_EP_F_LOCAL) ? ep->ifindex : 0;
}

/* A packet of a flow conntrack knows (rc: its verdict; or one it does not
 * track): a service flow's translated, then on its way. */
static __always_inline int flow__known(struct __sk_buff *skb, struct pkt *p, struct ct_ctx *c,
				       int rc, struct tern_counters *row)
{
	int t = rc == CT_ESTABLISHED ? svc__established(skb, p, c) :
		rc == CT_RELATED ? svc__related(skb, p, c) : 0;
	__u32 dst_if = local_ifindex(bpf_map_lookup_elem(&tern_ep_v1, &p->t.dst));

	if (t < 0)
		return drop(row, TERN_CNT_DROP_MALFORMED);
	if (t == SVC_SRC_NAT)
		return forward_reply(skb, p, c, row, dst_if);
	return forward(skb, p, row, dst_if);
}

#define FLOW_GO_ON -1

/* A new flow to a service gets its backend (f records the NAT still to
 * do); one refused or with no backend for it ends here with its verdict.
 * FLOW_GO_ON otherwise. */
static __always_inline int flow__service(struct __sk_buff *skb, struct pkt *p, struct ct_ctx *c,
					 struct flow_state *f, int external,
					 struct tern_counters *row)
{
	flow__clear(f);
	switch (svc__new(skb, p, c, external, f)) {
	case SVC_REJECT:
		count(row, TERN_CNT_NAT_REJECT);
		return nat__reject(skb, p);
	case SVC_NO_BACKEND:
		return drop(row, TERN_CNT_DROP_NO_BACKEND);
	}
	return FLOW_GO_ON;
}

/* Keep what a first packet's continuation needs besides its parse and
 * conntrack context (which already live in f). */
static __always_inline void flow__save(struct flow_state *f, __u32 ifindex, __u32 slot,
				       const struct tern_ep *dst)
{
	f->ifindex = ifindex;
	f->slot = slot;
	f->dst_if = local_ifindex(dst);
	f->dst_ep_id = dst ? dst->ep_id : 0;
	f->dst_flags = dst ? dst->flags : 0;
}

/* The flow is allowed everywhere it needs to be: record it (for a service,
 * the backend's flow and the client's to the frontend), DNAT, send it on. */
static __always_inline int flow__finish(struct __sk_buff *skb, struct tern_scratch *s,
					struct tern_counters *row)
{
	struct flow_state *f = scratch__flow(s);

	if (!f->nat) {
		track__create(&f->p, row, &f->c);
		return forward(skb, &f->p, row, f->dst_if);
	}

	struct tern_addr be = f->p.t.dst, src = f->p.t.src;
	__be16 bport = f->p.t.dport, sport = f->p.t.sport;
	__u32 hp = f->hairpin ? TERN_CT_F_HAIRPIN : 0;
	__u32 sn = f->snat ? TERN_CT_F_SNAT : 0;
	__u64 now = track__now();

	/* the backend's entry, and where its replies go back to */
	if (ct__create_nat(&f->p, &f->c, now, TERN_CT_F_NAT_REV | hp | sn, &f->vip, f->vport)) {
		count(row, TERN_CNT_CT_FULL);
	} else {
		count(row, TERN_CNT_CT_NEW);
		count(row, TERN_CNT_NAT_NEW);
	}
	if (sn) {
		struct tern_nat_snat client = { .addr = f->client, .port = f->cport };

		bpf_map_update_elem(&tern_nat_snat_v1, &f->c.key, &client, BPF_ANY);
	}
	/* the client's entry: the packet on the wire still goes from the
	 * client to the frontend (the flow's context serves, it is done with) */
	f->p.t.dst = f->vip;
	f->p.t.dport = f->vport;
	if (hp)
		f->p.t.src = be;
	if (sn) {
		f->p.t.src = f->client;
		f->p.t.sport = f->cport;
	}
	f->c.sender_is_b = ct__key_of(&f->p.t, &f->c.key);
	ct__create_nat(&f->p, &f->c, now, TERN_CT_F_NAT_FWD | hp | sn, &be, bport);
	if (sn) {
		struct tern_nat_snat out = { .addr = src, .port = sport };

		bpf_map_update_elem(&tern_nat_snat_v1, &f->c.key, &out, BPF_ANY);
	}
	if (nat__rewrite(skb, &f->p, 0, &be, bport) ||
	    (hp && nat__rewrite(skb, &f->p, 1, &f->vip, f->p.t.sport)) ||
	    (sn && nat__rewrite(skb, &f->p, 1, &src, sport)))
		return drop(row, TERN_CNT_DROP_MALFORMED);
	/* a node address as source: past the stack */
	if (sn)
		return forward_reply(skb, &f->p, &f->c, row, 0);
	return forward(skb, &f->p, row, f->dst_if);
}

/* A new flow towards a local pod that isolates its ingress goes through
 * that pod's policy first (cont: where to resume). */
static __always_inline int flow__to_dst(struct __sk_buff *skb, struct tern_scratch *s,
					struct tern_counters *row, __u32 cont)
{
	struct flow_state *f = scratch__flow(s);

	if (f->dst_if && (f->dst_flags & TERN_EP_F_ISO_IN)) {
		/* policy sees pods, never a frontend: a hairpin's source is the
		 * frontend by now, its client the pod itself */
		policy__judge(skb, s, f->dst_ep_id, TERN_POL_INGRESS,
			      f->hairpin ? &f->p.t.dst : &f->p.t.src, cont);
		return drop(row, TERN_CNT_DROP_NO_POLICY);
	}
	return flow__finish(skb, s, row);
}

/* Resuming after a policy program: its verdict, the flow's counter row. */
static __always_inline struct tern_scratch *flow__resume(struct tern_counters **row)
{
	struct tern_scratch *s = scratch__get();

	*row = s ? counters__row(scratch__flow(s)->slot) : NULL;
	if (!s)
		return NULL;
	/* saved by a program of another build (an upgrade under way): its
	 * layout is not ours to read; fail closed */
	if (scratch__flow(s)->magic != flow__magic()) {
		count(*row, TERN_CNT_DROP_NO_POLICY);
		return NULL;
	}
	if (s->pol.verdict != TERN_POL_ALLOW) {
		count(*row, TERN_CNT_DROP_POLICY);
		return NULL;
	}
	return s;
}

#endif
