/* tern ABI: interfaces tern's tc programs run on (tern_ifstate_v1, key:
 * ifindex) and the endpoints map (tern_ep_v1, key: pod IP). */
#ifndef TERN_ABI_IFSTATE_H
#define TERN_ABI_IFSTATE_H

#include <stddef.h>
#include "addr.h"

#define TERN_MAP_IFSTATE "tern_ifstate_v1"
#define TERN_MAP_EP "tern_ep_v1"
#define TERN_EP_DEFAULT_MAX 65536

/* tern_ifstate.flags */
#define TERN_IF_F_WORKLOAD (1U << 0) /* host side of a local pod's veth */
#define TERN_IF_F_DATA     (1U << 1) /* a node data interface */
#define TERN_IF_F_ISO_IN   (1U << 2) /* workload: isolated for ingress (policy/) */
#define TERN_IF_F_ISO_EG   (1U << 3) /* workload: isolated for egress */

/* Slot 0 counts packets on interfaces that have no state (yet). */
#define TERN_SLOT_NONE 0

struct tern_ifstate {
	__u32 flags;             /* TERN_IF_F_* */
	__u32 slot;              /* row in tern_counter_v1, 1 .. slots-1 */
	__u32 ep_id;             /* workload: the endpoint's id (policy) */
	__be32 ip4;              /* NBO; workload: the pod's IPv4, 0: none */
	struct tern_addr ip6;    /* NBO; workload: the pod's IPv6, all-zero: none */
};
TERN_ASSERT(sizeof(struct tern_ifstate) == 32, "ifstate size");
TERN_ASSERT(offsetof(struct tern_ifstate, ip6) == 16, "ifstate ip6");

/* tern_ep.flags */
#define TERN_EP_F_LOCAL  (1U << 0) /* a pod on this node */
#define TERN_EP_F_ISO_IN (1U << 1) /* local: isolated for ingress, as TERN_IF_F_ISO_IN */

struct tern_ep {
	__u32 ifindex; /* local pod: its host-side interface; 0: not up yet */
	__u32 flags;   /* TERN_EP_F_* */
	__u32 ep_id;   /* endpoint id, stable while the pod lives */
	__u32 pad;
};
TERN_ASSERT(sizeof(struct tern_ep) == 16, "ep size");
TERN_ASSERT(offsetof(struct tern_ep, ep_id) == 8, "ep ep_id");

#endif
