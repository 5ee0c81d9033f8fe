/* tern ABI: the conntrack map (tern_ct_v1): one entry per flow, both directions. */
#ifndef TERN_ABI_CT_H
#define TERN_ABI_CT_H

#include <stddef.h>
#include "addr.h"

#define TERN_MAP_CT "tern_ct_v1"
#define TERN_CT_DEFAULT_MAX 262144
/* Addresses one flush sweep (bpf/gc.bpf.c tern_ct_flush) takes; the agent
 * sweeps again for more. */
#define TERN_CT_FLUSH_MAX 1024

/* The key is normalised: (addr_a, port_a) is the smaller end, compared
 * address first, then port, so a flow and its reply find the same entry.
 * ICMP echo uses the identifier as the requester's port and 0 as the
 * responder's; other ICMP is not tracked on its own. */
struct tern_ct_key {
	struct tern_addr addr_a; /* NBO */
	struct tern_addr addr_b; /* NBO */
	__be16 port_a;           /* NBO */
	__be16 port_b;           /* NBO */
	__u8 proto;              /* the packet's IP protocol (IPPROTO_*) */
	__u8 pad[3];
};
TERN_ASSERT(sizeof(struct tern_ct_key) == 40, "ct key size");
TERN_ASSERT(offsetof(struct tern_ct_key, port_a) == 32, "ct key port_a");
TERN_ASSERT(offsetof(struct tern_ct_key, proto) == 36, "ct key proto");

enum tern_ct_state {
	TERN_CT_NEW = 0,         /* non-TCP, one direction seen */
	TERN_CT_ESTABLISHED = 1, /* non-TCP replied, or TCP handshake done */
	TERN_CT_SYN_SENT = 2,
	TERN_CT_SYN_RECV = 3,    /* SYN+ACK seen from the responder */
	TERN_CT_FIN_WAIT = 4,    /* FIN seen from one side */
	TERN_CT_TIME_WAIT = 5,   /* FIN seen from both sides */
	TERN_CT_CLOSE = 6,       /* RST seen */
	TERN_CT_STATE_MAX,
};

/* value.flags */
#define TERN_CT_F_INIT_B    (1U << 0) /* side b opened the flow (else side a) */
#define TERN_CT_F_REPLIED   (1U << 1) /* the responder has sent a packet */
#define TERN_CT_F_PICKED_UP (1U << 2) /* created mid-stream (loose pickup) */
/* Service NAT in tc (NodePort, external IPs, pods when connect-time LB is
 * off) keeps two entries per flow: */
#define TERN_CT_F_NAT_FWD   (1U << 3) /* the client's tuple to the frontend; nat_* is the backend */
#define TERN_CT_F_NAT_REV   (1U << 4) /* the tuple to the backend; nat_* is the frontend, restored on replies */
#define TERN_CT_F_HAIRPIN   (1U << 5) /* a pod reaching itself through its service: its
                                       * source is the frontend address too */
#define TERN_CT_F_SNAT      (1U << 6) /* from outside to a backend on another node: the
                                       * source became this node's (tern_nat_snat_v1) */

/* value.tcp_seen_* */
#define TERN_TCP_SYN 0x02
#define TERN_TCP_RST 0x04
#define TERN_TCP_FIN 0x01
#define TERN_TCP_ACK 0x10

struct tern_ct_value {
	__u64 created_ns;        /* CLOCK_MONOTONIC ns, exact */
	__u64 last_seen_ns;      /* CLOCK_MONOTONIC ns, tick resolution */
	__u32 flags;             /* TERN_CT_F_* */
	__u8 state;              /* enum tern_ct_state */
	__u8 tcp_seen_a;         /* TCP flags sent by side a, accumulated */
	__u8 tcp_seen_b;         /* TCP flags sent by side b, accumulated */
	__u8 pad0;
	/* Service NAT: the address and port the client dialled (restored on
	 * replies). Zero when the flow is not NATed. */
	struct tern_addr nat_addr; /* NBO */
	__be16 nat_port;           /* NBO */
	__u16 pad1;
	__u32 pad2;
};
TERN_ASSERT(sizeof(struct tern_ct_value) == 48, "ct value size");
TERN_ASSERT(offsetof(struct tern_ct_value, flags) == 16, "ct value flags");
TERN_ASSERT(offsetof(struct tern_ct_value, nat_addr) == 24, "ct value nat_addr");

/* Timeouts in seconds; the agent passes them to the programs at load. */
struct tern_ct_timeouts {
	__u32 tcp_syn;           /* SYN_SENT, SYN_RECV */
	__u32 tcp_established;
	__u32 tcp_fin;           /* FIN_WAIT, TIME_WAIT */
	__u32 tcp_rst;           /* CLOSE */
	__u32 udp;
	__u32 icmp;
	__u32 other;
	__u32 pad;
};
TERN_ASSERT(sizeof(struct tern_ct_timeouts) == 32, "ct timeouts size");

#endif
