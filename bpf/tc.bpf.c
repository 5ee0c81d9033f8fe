// SPDX-License-Identifier: GPL-2.0
/* tc programs: tern_from_ep / tern_to_ep on the host side of each local
 * pod's veth (ingress / egress), tern_host_in / tern_host_out on the node's
 * data interfaces, and the *_cont programs a flow's first packet continues
 * in after an endpoint's policy program judged it (lib/policy.h). */
#include "lib/common.h"
#include "lib/maps.h"
#include "lib/parse.h"
#include "lib/counters.h"
#include "lib/track.h"
#include "lib/ep.h"
#include "lib/fwd.h"
#include "lib/policy.h"

char LICENSE[] SEC("license") = "GPL";

/* On to a local pod (directly when the FIB knows the way), or the stack. */
static __always_inline int forward(struct __sk_buff *skb, const struct pkt *p,
				   struct tern_counters *row, __u32 in_if, __u32 dst_if)
{
	if (dst_if && dst_if != in_if && fwd__to_local_ep(skb, p, dst_if) == TC_ACT_REDIRECT) {
		count(row, TERN_CNT_FWD_PEER);
		return TC_ACT_REDIRECT;
	}
	count(row, TERN_CNT_TO_STACK);
	return TC_ACT_OK;
}

/* A first packet's state, kept across its policy tail calls. */
static __always_inline struct tern_scratch *flow__save(const struct pkt *p,
						       const struct ct_ctx *c, __u32 ifindex,
						       __u32 slot, const struct tern_ep *dst)
{
	struct tern_scratch *s = scratch__get();
	struct flow_state *f;

	if (!s)
		return NULL;
	f = scratch__flow(s);
	f->p = *p;
	f->c = *c;
	f->ifindex = ifindex;
	f->slot = slot;
	f->dst_if = dst && (dst->flags & TERN_EP_F_LOCAL) ? dst->ifindex : 0;
	f->dst_ep_id = dst ? dst->ep_id : 0;
	f->dst_flags = dst ? dst->flags : 0;
	return s;
}

/* The flow is allowed everywhere it needs to be: record it, send it on. */
static __always_inline int flow__finish(struct __sk_buff *skb, struct tern_scratch *s,
					struct tern_counters *row)
{
	struct flow_state *f = scratch__flow(s);

	track__create(&f->p, row, &f->c);
	return forward(skb, &f->p, row, f->ifindex, f->dst_if);
}

/* A new flow towards a local pod that isolates its ingress goes through
 * that pod's policy first (cont: where to resume). */
static __always_inline int flow__to_dst(struct __sk_buff *skb, struct tern_scratch *s,
					struct tern_counters *row, __u32 cont)
{
	struct flow_state *f = scratch__flow(s);

	if (f->dst_if && (f->dst_flags & TERN_EP_F_ISO_IN)) {
		policy__judge(skb, s, f->dst_ep_id, TERN_POL_INGRESS, &f->p.t.src, cont);
		return drop(row, TERN_CNT_DROP_NO_POLICY);
	}
	return flow__finish(skb, s, row);
}

/* Resuming after a policy program: its verdict, the flow's counter row. */
static __always_inline struct tern_scratch *flow__resume(struct tern_counters **row)
{
	struct tern_scratch *s = scratch__get();

	*row = s ? counters__row(scratch__flow(s)->slot) : NULL;
	if (s && s->pol.verdict != TERN_POL_ALLOW) {
		count(*row, TERN_CNT_DROP_POLICY);
		return NULL;
	}
	return s;
}

/* Pod -> node. */
SEC("tc")
int tern_from_ep(struct __sk_buff *skb)
{
	__u32 ifindex = skb->ifindex;
	struct tern_ifstate *ifs = bpf_map_lookup_elem(&tern_ifstate_v1, &ifindex);
	struct tern_counters *row;
	struct ct_ctx c = {};
	struct pkt p = {};
	int rc;

	if (!ifs)
		return drop(counters__row(TERN_SLOT_NONE), TERN_CNT_DROP_NO_STATE);
	row = counters__row(ifs->slot);
	count(row, TERN_CNT_RX);
	rc = parse_packet(skb, &p);
	if (rc == PARSE_NOT_IP) {
		if (p.eth_proto != ETH_P_ARP)
			return drop(row, TERN_CNT_DROP_ETHERTYPE);
		count(row, TERN_CNT_TO_STACK);
		return TC_ACT_OK;
	}
	if (rc)
		return drop(row, TERN_CNT_DROP_MALFORMED);
	if (!ep__src_ok(ifs, &p)) {
		if (!ep__is_link_local_nd(&p))
			return drop(row, TERN_CNT_DROP_SPOOF);
		count(row, TERN_CNT_CT_UNTRACKED);
		count(row, TERN_CNT_TO_STACK);
		return TC_ACT_OK;
	}
	rc = track__lookup(&p, row, &c);
	if (track__drop_reason(rc))
		return drop(row, track__drop_reason(rc));

	struct tern_ep *dst = bpf_map_lookup_elem(&tern_ep_v1, &p.t.dst);

	if (rc != CT_NEW)
		return forward(skb, &p, row, ifindex,
			       dst && (dst->flags & TERN_EP_F_LOCAL) ? dst->ifindex : 0);

	struct tern_scratch *s = flow__save(&p, &c, ifindex, ifs->slot, dst);

	if (!s)
		return drop(row, TERN_CNT_DROP_NO_POLICY);
	if (ifs->flags & TERN_IF_F_ISO_EG) {
		policy__judge(skb, s, ifs->ep_id, TERN_POL_EGRESS, &p.t.dst, TERN_JMP_CONT_FROM_EP);
		return drop(row, TERN_CNT_DROP_NO_POLICY);
	}
	return flow__to_dst(skb, s, row, TERN_JMP_CONT_FROM_EP_DST);
}

/* Pod -> node, after the pod's egress policy. */
SEC("tc")
int tern_from_ep_cont(struct __sk_buff *skb)
{
	struct tern_counters *row;
	struct tern_scratch *s = flow__resume(&row);

	if (!s)
		return TC_ACT_SHOT;
	return flow__to_dst(skb, s, row, TERN_JMP_CONT_FROM_EP_DST);
}

/* Pod -> local pod, after the destination's ingress policy. */
SEC("tc")
int tern_from_ep_dst_cont(struct __sk_buff *skb)
{
	struct tern_counters *row;
	struct tern_scratch *s = flow__resume(&row);

	if (!s)
		return TC_ACT_SHOT;
	return flow__finish(skb, s, row);
}

/* Node -> pod, for whatever the stack routes to it. */
SEC("tc")
int tern_to_ep(struct __sk_buff *skb)
{
	__u32 ifindex = skb->ifindex;
	struct tern_ifstate *ifs = bpf_map_lookup_elem(&tern_ifstate_v1, &ifindex);
	struct tern_counters *row;
	struct ct_ctx c = {};
	struct pkt p = {};
	int rc;

	if (!ifs)
		return drop(counters__row(TERN_SLOT_NONE), TERN_CNT_DROP_NO_STATE);
	row = counters__row(ifs->slot);
	count(row, TERN_CNT_RX);
	rc = parse_packet(skb, &p);
	if (rc == PARSE_NOT_IP)
		return TC_ACT_OK;
	if (rc)
		return drop(row, TERN_CNT_DROP_MALFORMED);
	rc = track__lookup(&p, row, &c);
	if (track__drop_reason(rc))
		return drop(row, track__drop_reason(rc));
	if (rc != CT_NEW)
		return TC_ACT_OK;
	if (!(ifs->flags & TERN_IF_F_ISO_IN)) {
		track__create(&p, row, &c);
		return TC_ACT_OK;
	}

	struct tern_scratch *s = flow__save(&p, &c, ifindex, ifs->slot, NULL);

	if (s)
		policy__judge(skb, s, ifs->ep_id, TERN_POL_INGRESS, &p.t.src, TERN_JMP_CONT_TO_EP);
	return drop(row, TERN_CNT_DROP_NO_POLICY);
}

/* Node -> pod, after the pod's ingress policy. */
SEC("tc")
int tern_to_ep_cont(struct __sk_buff *skb __attribute__((unused)))
{
	struct tern_counters *row;
	struct tern_scratch *s = flow__resume(&row);

	if (!s)
		return TC_ACT_SHOT;
	track__create(&scratch__flow(s)->p, row, &scratch__flow(s)->c);
	return TC_ACT_OK;
}

/* Outside -> node: packets for local pods go straight to them. */
SEC("tc")
int tern_host_in(struct __sk_buff *skb)
{
	__u32 ifindex = skb->ifindex;
	struct tern_ifstate *ifs = bpf_map_lookup_elem(&tern_ifstate_v1, &ifindex);
	struct tern_counters *row = counters__row(ifs ? ifs->slot : TERN_SLOT_NONE);
	struct ct_ctx c = {};
	struct pkt p = {};
	int rc;

	count(row, TERN_CNT_RX);
	rc = parse_packet(skb, &p);
	if (rc == PARSE_NOT_IP)
		return TC_ACT_OK;
	if (rc)
		return drop(row, TERN_CNT_DROP_MALFORMED);

	struct tern_ep *dst = bpf_map_lookup_elem(&tern_ep_v1, &p.t.dst);

	if (!dst || !(dst->flags & TERN_EP_F_LOCAL) || !dst->ifindex) {
		count(row, TERN_CNT_TO_STACK);
		return TC_ACT_OK;
	}
	rc = track__lookup(&p, row, &c);
	if (track__drop_reason(rc))
		return drop(row, track__drop_reason(rc));
	if (rc != CT_NEW)
		return forward(skb, &p, row, ifindex, dst->ifindex);

	struct tern_scratch *s = flow__save(&p, &c, ifindex, ifs ? ifs->slot : TERN_SLOT_NONE, dst);

	if (!s)
		return drop(row, TERN_CNT_DROP_NO_POLICY);
	return flow__to_dst(skb, s, row, TERN_JMP_CONT_HOST_IN);
}

/* Outside -> local pod, after the pod's ingress policy. */
SEC("tc")
int tern_host_in_cont(struct __sk_buff *skb)
{
	struct tern_counters *row;
	struct tern_scratch *s = flow__resume(&row);

	if (!s)
		return TC_ACT_SHOT;
	return flow__finish(skb, s, row);
}

/* Node -> outside. */
SEC("tc")
int tern_host_out(struct __sk_buff *skb)
{
	__u32 ifindex = skb->ifindex;
	struct tern_ifstate *ifs = bpf_map_lookup_elem(&tern_ifstate_v1, &ifindex);
	struct tern_counters *row = counters__row(ifs ? ifs->slot : TERN_SLOT_NONE);
	struct pkt p = {};

	count(row, TERN_CNT_RX);
	if (parse_packet(skb, &p) == PARSE_MALFORMED)
		return drop(row, TERN_CNT_DROP_MALFORMED);
	return TC_ACT_OK;
}
