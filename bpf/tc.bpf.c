// SPDX-License-Identifier: GPL-2.0
/* tc programs: tern_from_ep / tern_to_ep on the host side of each local
 * pod's veth (ingress / egress), tern_host_in / tern_host_out on the node's
 * data interfaces. */
#include "lib/common.h"
#include "lib/maps.h"
#include "lib/parse.h"
#include "lib/counters.h"
#include "lib/track.h"
#include "lib/ep.h"
#include "lib/fwd.h"

char LICENSE[] SEC("license") = "GPL";

/* Deliver p to the local pod behind ifindex, directly if we can. */
static __always_inline int deliver_local(struct __sk_buff *skb, struct pkt *p,
					 struct tern_counters *row, __u32 ifindex)
{
	int rc = fwd__to_local_ep(skb, p, ifindex);

	if (rc == TC_ACT_REDIRECT) {
		count(row, TERN_CNT_FWD_PEER);
		return rc;
	}
	count(row, TERN_CNT_TO_STACK);
	return TC_ACT_OK;
}

/* Pod -> node. */
SEC("tc")
int tern_from_ep(struct __sk_buff *skb)
{
	__u32 ifindex = skb->ifindex;
	struct tern_ifstate *ifs = bpf_map_lookup_elem(&tern_ifstate_v1, &ifindex);
	struct ct_ctx c = {};
	struct pkt p = {};
	int rc;

	if (!ifs)
		return drop(counters__row(TERN_SLOT_NONE), TERN_CNT_DROP_NO_STATE);
	struct tern_counters *row = counters__row(ifs->slot);

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
	rc = track__packet(&p, row, &c);
	if (rc)
		return drop(row, rc);

	__u32 dst_if = ep__local_ifindex(&p.t.dst);

	if (dst_if && dst_if != ifindex)
		return deliver_local(skb, &p, row, dst_if);
	count(row, TERN_CNT_TO_STACK);
	return TC_ACT_OK;
}

/* Node -> pod, for whatever the stack routes to it. */
SEC("tc")
int tern_to_ep(struct __sk_buff *skb)
{
	__u32 ifindex = skb->ifindex;
	struct tern_ifstate *ifs = bpf_map_lookup_elem(&tern_ifstate_v1, &ifindex);
	struct ct_ctx c = {};
	struct pkt p = {};
	int rc;

	if (!ifs)
		return drop(counters__row(TERN_SLOT_NONE), TERN_CNT_DROP_NO_STATE);
	struct tern_counters *row = counters__row(ifs->slot);

	count(row, TERN_CNT_RX);
	rc = parse_packet(skb, &p);
	if (rc == PARSE_NOT_IP)
		return TC_ACT_OK;
	if (rc)
		return drop(row, TERN_CNT_DROP_MALFORMED);
	rc = track__packet(&p, row, &c);
	if (rc)
		return drop(row, rc);
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

	__u32 dst_if = ep__local_ifindex(&p.t.dst);

	if (!dst_if) {
		count(row, TERN_CNT_TO_STACK);
		return TC_ACT_OK;
	}
	rc = track__packet(&p, row, &c);
	if (rc)
		return drop(row, rc);
	return deliver_local(skb, &p, row, dst_if);
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
