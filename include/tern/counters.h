/* tern ABI: the per-CPU counters map (tern_counter_v1): key an interface
 * slot (tern_ifstate.slot), value its row of TERN_CNT_MAX packet counters,
 * so a program finds all its counters with one lookup. */
#ifndef TERN_ABI_COUNTERS_H
#define TERN_ABI_COUNTERS_H

#include "addr.h"

#define TERN_MAP_COUNTERS "tern_counter_v1"
#define TERN_CNT_MAX 32
#define TERN_SLOTS_DEFAULT 1024

/* X(id, name, help): ids are ABI; append only, never reorder. */
#define TERN_COUNTERS(X)                                                        \
	X(RX, "rx", "packets seen")                                             \
	X(FWD_PEER, "fwd_peer", "delivered straight into a local pod")          \
	X(TO_STACK, "to_stack", "passed to the kernel stack")                   \
	X(CT_NEW, "ct_new", "flows created")                                    \
	X(CT_RELATED, "ct_related", "ICMP errors matched to a tracked flow")    \
	X(CT_UNTRACKED, "ct_untracked", "IP packets no flow applies to")        \
	X(CT_FULL, "ct_full", "flows not tracked: conntrack map full")         \
	X(DROP_MALFORMED, "drop_malformed", "truncated or malformed headers")   \
	X(DROP_SPOOF, "drop_spoof", "source address is not the pod's")          \
	X(DROP_NO_STATE, "drop_no_state", "interface not programmed (fail closed)") \
	X(DROP_ETHERTYPE, "drop_ethertype", "non-IP, non-ARP frame from a pod") \
	X(DROP_FRAG, "drop_frag", "IP fragment of an unknown datagram")         \
	X(DROP_TCP_INVALID, "drop_tcp_invalid", "TCP packet invalid for its flow") \
	X(FRAG, "frag", "IP fragments seen")                                    \
	X(DROP_POLICY, "drop_policy", "denied by network policy")               \
	X(DROP_NO_POLICY, "drop_no_policy", "isolated, policy not installed yet (fail closed)") \
	X(NAT_NEW, "nat_new", "service flows load-balanced in tc")             \
	X(NAT_REJECT, "nat_reject", "refused: service without endpoints")       \
	X(DROP_NO_BACKEND, "drop_no_backend", "no local endpoint (Local policy) or no free SNAT port") \
	X(FWD_OUT, "fwd_out", "service replies sent out past the stack")       \
	X(DROP_NO_ROUTE, "drop_no_route", "translated, but the FIB has no way out") \
	X(TOO_BIG, "too_big", "translated, too big for the way out: ICMP too-big sent back") \
	X(DROP_TOO_BIG, "drop_too_big", "translated, too big for the way out, no ICMP to send")

enum tern_counter_id {
#define TERN_X_ENUM(id, name, help) TERN_CNT_##id,
	TERN_COUNTERS(TERN_X_ENUM)
#undef TERN_X_ENUM
	TERN_CNT_COUNT,
};
TERN_ASSERT(TERN_CNT_COUNT <= TERN_CNT_MAX, "counter ids fit a slot row");
/* ids are ABI: the last ones added stay where docs/maps.md says */
TERN_ASSERT(TERN_CNT_DROP_NO_ROUTE == 20, "counter id drop_no_route");
TERN_ASSERT(TERN_CNT_TOO_BIG == 21, "counter id too_big");
TERN_ASSERT(TERN_CNT_DROP_TOO_BIG == 22, "counter id drop_too_big");

struct tern_counters {
	__u64 c[TERN_CNT_MAX]; /* indexed by enum tern_counter_id */
};
TERN_ASSERT(sizeof(struct tern_counters) == 256, "counters row size");

#endif
