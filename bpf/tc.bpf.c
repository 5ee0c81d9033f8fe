// SPDX-License-Identifier: GPL-2.0
/* tc programs: tern_from_ep / tern_to_ep on the host side of each local
 * pod's veth (ingress / egress), tern_host_in / tern_host_out on the node's
 * data interfaces, and the *_cont programs a flow's first packet continues
 * in after an endpoint's policy program judged it (lib/policy.h). Services
 * are translated here when connect-time load balancing did not (lib/svc.h). */
#include "lib/common.h"
#include "lib/maps.h"
#include "lib/parse.h"
#include "lib/counters.h"
#include "lib/track.h"
#include "lib/ep.h"
#include "lib/fwd.h"
#include "lib/policy.h"
#include "lib/flow.h"
#include "lib/svc.h"

char LICENSE[] SEC("license") = "GPL";

/* Pod -> node. */
SEC("tc")
int tern_from_ep(struct __sk_buff *skb)
{
	__u32 ifindex = skb->ifindex;
	struct tern_ifstate *ifs = bpf_map_lookup_elem(&tern_ifstate_v1, &ifindex);
	struct tern_counters *row;
	struct tern_scratch *s;
	struct flow_state *f = flow__begin(&s);
	int rc;

	if (!f)
		return TC_ACT_SHOT;
	struct pkt *p = &f->p;
	struct ct_ctx *c = &f->c;

	if (!ifs)
		return drop(counters__row(TERN_SLOT_NONE), TERN_CNT_DROP_NO_STATE);
	row = counters__row(ifs->slot);
	count(row, TERN_CNT_RX);
	rc = parse_packet(skb, p);
	if (rc == PARSE_NOT_IP) {
		if (p->eth_proto != ETH_P_ARP)
			return drop(row, TERN_CNT_DROP_ETHERTYPE);
		count(row, TERN_CNT_TO_STACK);
		return TC_ACT_OK;
	}
	if (rc)
		return drop(row, TERN_CNT_DROP_MALFORMED);
	if (!ep__src_ok(ifs, p)) {
		if (!ep__is_link_local_nd(p))
			return drop(row, TERN_CNT_DROP_SPOOF);
		count(row, TERN_CNT_CT_UNTRACKED);
		count(row, TERN_CNT_TO_STACK);
		return TC_ACT_OK;
	}
	rc = track__lookup(p, row, c);
	if (track__drop_reason(rc))
		return drop(row, track__drop_reason(rc));
	/* no flow to allow it (a stray RST, an ICMP error or message of no
	 * flow): an isolated end lets only the link's control traffic by */
	if (rc == CT_UNTRACKED && !ep__is_link_control(p) &&
	    ((ifs->flags & TERN_IF_F_ISO_EG) || ep__iso_in(&p->t.dst)))
		return drop(row, TERN_CNT_DROP_POLICY);
	if (rc != CT_NEW)
		return flow__known(skb, p, c, rc, row);

	rc = flow__service(skb, p, c, f, 0, row);
	if (rc != FLOW_GO_ON)
		return rc;
	flow__save(f, ifindex, ifs->slot, bpf_map_lookup_elem(&tern_ep_v1, &p->t.dst));
	if (ifs->flags & TERN_IF_F_ISO_EG) {
		policy__judge(skb, s, ifs->ep_id, TERN_POL_EGRESS, &p->t.dst, TERN_JMP_CONT_FROM_EP);
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
	struct tern_scratch *s;
	struct flow_state *f = flow__begin(&s);
	int rc;

	if (!f)
		return TC_ACT_SHOT;
	struct pkt *p = &f->p;
	struct ct_ctx *c = &f->c;

	if (!ifs)
		return drop(counters__row(TERN_SLOT_NONE), TERN_CNT_DROP_NO_STATE);
	row = counters__row(ifs->slot);
	count(row, TERN_CNT_RX);
	rc = parse_packet(skb, p);
	if (rc == PARSE_NOT_IP)
		return TC_ACT_OK;
	if (rc)
		return drop(row, TERN_CNT_DROP_MALFORMED);
	rc = track__lookup(p, row, c);
	if (track__drop_reason(rc))
		return drop(row, track__drop_reason(rc));

	/* what the node itself sends its pods (kubelet probes) is never judged:
	 * its source address is the kernel's pick among the node's */
	int from_node = skb->ingress_ifindex == 0;
	int judged = (ifs->flags & TERN_IF_F_ISO_IN) && !from_node;

	if (rc == CT_UNTRACKED && judged && !ep__is_link_control(p))
		return drop(row, TERN_CNT_DROP_POLICY);
	if (rc != CT_NEW) {
		/* a service flow's reply that came through the stack (from a
		 * host-network backend, or in on another interface) */
		if ((rc == CT_ESTABLISHED ? svc__established(skb, p, c) :
		     rc == CT_RELATED ? svc__related(skb, p, c) : 0) < 0)
			return drop(row, TERN_CNT_DROP_MALFORMED);
		return TC_ACT_OK;
	}
	if (!judged) {
		track__create(p, row, c);
		return TC_ACT_OK;
	}

	flow__clear(f);
	flow__save(f, ifindex, ifs->slot, NULL);
	policy__judge(skb, s, ifs->ep_id, TERN_POL_INGRESS, &p->t.src, TERN_JMP_CONT_TO_EP);
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

/* Outside -> node: packets for local pods go straight to them; NodePorts,
 * external and load-balancer IPs are translated to their backends. */
SEC("tc")
int tern_host_in(struct __sk_buff *skb)
{
	__u32 ifindex = skb->ifindex;
	struct tern_ifstate *ifs = bpf_map_lookup_elem(&tern_ifstate_v1, &ifindex);
	__u32 slot = ifs ? ifs->slot : TERN_SLOT_NONE;
	struct tern_counters *row = counters__row(slot);
	struct tern_scratch *s;
	struct flow_state *f = flow__begin(&s);
	int rc;

	if (!f)
		return TC_ACT_OK;
	struct pkt *p = &f->p;
	struct ct_ctx *c = &f->c;

	count(row, TERN_CNT_RX);
	rc = parse_packet(skb, p);
	if (rc == PARSE_NOT_IP)
		return TC_ACT_OK;
	if (rc)
		return drop(row, TERN_CNT_DROP_MALFORMED);

	struct tern_ep *dst = bpf_map_lookup_elem(&tern_ep_v1, &p->t.dst);
	struct tern_nat_fe *fe = local_ifindex(dst) ? NULL : nat__frontend(&p->t);

	/* the node's own traffic is none of ours, but for the replies of flows
	 * tern sent on to other nodes as the node itself */
	if (!local_ifindex(dst) && !(fe && (fe->flags & TERN_FE_F_EXTERNAL)) &&
	    p->icmp != PKT_ICMP_ERROR) {
		if (svc__node_addr(p) && ct__lookup(p, c, track__now()) == CT_ESTABLISHED &&
		    (c->flags & TERN_CT_F_SNAT) && c->reply) {
			if (svc__established(skb, p, c) < 0)
				return drop(row, TERN_CNT_DROP_MALFORMED);
			return forward_reply(skb, p, c, row,
					     local_ifindex(bpf_map_lookup_elem(&tern_ep_v1, &p->t.dst)));
		}
		count(row, TERN_CNT_TO_STACK);
		return TC_ACT_OK;
	}
	rc = track__lookup(p, row, c);
	if (track__drop_reason(rc))
		return drop(row, track__drop_reason(rc));
	if (rc == CT_UNTRACKED && !ep__is_link_control(p) && ep__iso_in(&p->t.dst))
		return drop(row, TERN_CNT_DROP_POLICY);
	if (rc != CT_NEW)
		return flow__known(skb, p, c, rc, row);

	rc = flow__service(skb, p, c, f, 1, row);
	if (rc != FLOW_GO_ON)
		return rc;
	if (!f->nat && !local_ifindex(dst)) {
		count(row, TERN_CNT_TO_STACK);
		return TC_ACT_OK;
	}
	flow__save(f, ifindex, slot, bpf_map_lookup_elem(&tern_ep_v1, &p->t.dst));
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
	struct tern_scratch *s;
	struct flow_state *f = flow__begin(&s);
	int rc;

	if (!f)
		return TC_ACT_OK;
	struct pkt *p = &f->p;
	struct ct_ctx *c = &f->c;

	count(row, TERN_CNT_RX);
	rc = parse_packet(skb, p);
	if (rc == PARSE_MALFORMED)
		return drop(row, TERN_CNT_DROP_MALFORMED);
	if (rc || p->frag == PKT_FRAG_LATER)
		return TC_ACT_OK;
	/* the reply of a host-network backend to a client outside: it must
	 * leave as the frontend the client dialled */
	if (svc__src_node_addr(p) && ct__lookup(p, c, track__now()) == CT_ESTABLISHED &&
	    (c->flags & TERN_CT_F_NAT_REV) && c->reply && svc__established(skb, p, c) < 0)
		return drop(row, TERN_CNT_DROP_MALFORMED);
	return TC_ACT_OK;
}
