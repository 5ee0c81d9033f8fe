/* tern ABI: service load balancing. Frontends (what clients dial) point to a
 * service port's backends; connect-time LB (cgroup sock_addr programs) and
 * tc NAT both read them. */
#ifndef TERN_ABI_NAT_H
#define TERN_ABI_NAT_H

#include <stddef.h>
#include "addr.h"

#define TERN_MAP_NAT_FE "tern_nat_fe_v1"     /* HASH: tern_nat_fe_key -> tern_nat_fe */
#define TERN_MAP_NAT_BE "tern_nat_be_v1"     /* HASH: tern_nat_be_key -> tern_nat_be */
#define TERN_MAP_NAT_AFF "tern_nat_aff_v1"   /* LRU_HASH: ClientIP affinity */
#define TERN_MAP_NAT_SOCK "tern_nat_sock_v1" /* LRU_HASH: connect-time LB, backend -> VIP */
#define TERN_MAP_NAT_SOCKFWD "tern_nat_sockfwd_v1" /* LRU_HASH: unconnected UDP, VIP -> backend */
#define TERN_NAT_FE_DEFAULT_MAX 65536
#define TERN_NAT_BE_DEFAULT_MAX 262144
#define TERN_NAT_AFF_DEFAULT_MAX 65536
#define TERN_NAT_SOCK_DEFAULT_MAX 262144
#define TERN_NAT_SOCKFWD_DEFAULT_MAX 65536 /* ~8 MB; an evicted socket picks anew */

/* One address clients reach a service port at: a ClusterIP, an external
 * IP, a load-balancer IP, or a node address with a NodePort. */
struct tern_nat_fe_key {
	struct tern_addr addr;   /* NBO */
	__be16 port;             /* NBO */
	__u8 proto;              /* IPPROTO_TCP, _UDP, _SCTP */
	__u8 pad;
};
TERN_ASSERT(sizeof(struct tern_nat_fe_key) == 20, "nat fe key size");

/* tern_nat_fe.flags */
#define TERN_FE_F_EXTERNAL  (1U << 0) /* NodePort / external / LB address: tc NAT on data interfaces */
#define TERN_FE_F_ETP_LOCAL (1U << 1) /* externalTrafficPolicy: Local (external frontends) */
#define TERN_FE_F_ITP_LOCAL (1U << 2) /* internalTrafficPolicy: Local (ClusterIP frontends) */
#define TERN_FE_F_AFFINITY  (1U << 3) /* sessionAffinity: ClientIP */
#define TERN_FE_F_NODEPORT  (1U << 4) /* a node address + NodePort */

struct tern_nat_fe {
	__u32 svc_id;            /* the service port (per family): backends are (svc_id, 0 .. count-1) */
	__u16 count;             /* backends to choose from; 0: refuse (RST / ICMP unreachable) */
	__u16 local_count;       /* of those, the first ones, on this node */
	__u32 flags;             /* TERN_FE_F_* */
	__u32 affinity_timeout;  /* seconds (TERN_FE_F_AFFINITY) */
};
TERN_ASSERT(sizeof(struct tern_nat_fe) == 16, "nat fe size");

struct tern_nat_be_key {
	__u32 svc_id;
	__u32 ordinal;           /* 0 .. count-1; local backends first */
};
TERN_ASSERT(sizeof(struct tern_nat_be_key) == 8, "nat be key size");

/* tern_nat_be.flags */
#define TERN_BE_F_LOCAL       (1U << 0) /* on this node */
#define TERN_BE_F_TERMINATING (1U << 1) /* serving but terminating: chosen only when nothing else is left */

struct tern_nat_be {
	struct tern_addr addr;   /* NBO */
	__be16 port;             /* NBO */
	__u16 flags;             /* TERN_BE_F_* */
	__u32 pad;
};
TERN_ASSERT(sizeof(struct tern_nat_be) == 24, "nat be size");

/* ClientIP affinity: the backend a client last got for a service port. */
struct tern_nat_aff_key {
	__u32 svc_id;
	__u32 pad;
	/* NBO: the client's address (tc NAT); for connect-time LB, which sees
	 * no source address yet, its network namespace: ff00::/32 followed by
	 * the 64-bit netns cookie (multicast, so never a real source) */
	struct tern_addr client;
};
TERN_ASSERT(sizeof(struct tern_nat_aff_key) == 24, "nat aff key size");

struct tern_nat_aff {
	struct tern_addr addr;   /* NBO: the backend */
	__be16 port;             /* NBO */
	__u16 pad;
	__u32 ordinal;           /* where it was; checked against tern_nat_be_v1 on use */
	__u64 last_ns;           /* CLOCK_MONOTONIC ns */
};
TERN_ASSERT(sizeof(struct tern_nat_aff) == 32, "nat aff size");

/* Connect-time LB: which VIP a socket's backend stands for, so replies
 * (recvmsg) and getpeername show the VIP the application dialled. */
struct tern_nat_sock_key {
	__u64 cookie;            /* socket cookie */
	struct tern_addr backend;/* NBO */
	__be16 port;             /* NBO: backend port */
	__u16 pad;
	__u32 pad2;
};
TERN_ASSERT(sizeof(struct tern_nat_sock_key) == 32, "nat sock key size");

struct tern_nat_sock {
	struct tern_addr vip;    /* NBO */
	__be16 port;             /* NBO */
	__u16 pad;
	__u32 pad2;
};
TERN_ASSERT(sizeof(struct tern_nat_sock) == 24, "nat sock size");

/* Connect-time LB of an unconnected UDP socket: the backend its datagrams
 * to a VIP go to, kept while it sends within the UDP conntrack timeout, as
 * kube-proxy's conntrack keeps such a flow on one backend. */
struct tern_nat_sockfwd_key {
	__u64 cookie;            /* socket cookie */
	struct tern_addr vip;    /* NBO */
	__be16 port;             /* NBO: frontend port */
	__u8 proto;              /* IPPROTO_UDP */
	__u8 pad;
	__u32 pad2;
};
TERN_ASSERT(sizeof(struct tern_nat_sockfwd_key) == 32, "nat sockfwd key size");
TERN_ASSERT(offsetof(struct tern_nat_sockfwd_key, vip) == 8, "nat sockfwd key vip");

struct tern_nat_sockfwd {
	struct tern_addr addr;   /* NBO: the backend */
	__be16 port;             /* NBO */
	__u16 pad;
	__u32 svc_id;            /* the frontend's service port when chosen */
	__u32 ordinal;           /* where it was; checked against tern_nat_be_v1 on use */
	__u32 pad2;
	__u64 last_ns;           /* CLOCK_MONOTONIC ns of the last datagram */
};
TERN_ASSERT(sizeof(struct tern_nat_sockfwd) == 40, "nat sockfwd size");
TERN_ASSERT(offsetof(struct tern_nat_sockfwd, last_ns) == 32, "nat sockfwd last_ns");

/* Source NAT of traffic from outside to a backend on another node (so its
 * replies come back here): for the client's NAT_FWD entry, the node address
 * and port it goes out as; for the backend's NAT_REV entry, the client's
 * address and port the replies go back to. Keyed by the conntrack key. */
#define TERN_MAP_NAT_SNAT "tern_nat_snat_v1"  /* LRU_HASH: tern_ct_key -> tern_nat_snat */
#define TERN_NAT_SNAT_DEFAULT_MAX 65536

struct tern_nat_snat {
	struct tern_addr addr;   /* NBO */
	__be16 port;             /* NBO */
	__u16 pad;
	__u32 pad2;
};
TERN_ASSERT(sizeof(struct tern_nat_snat) == 24, "nat snat size");

/* This node's addresses to source-NAT with: index 0 IPv4, 1 IPv6
 * (all-zero: none). Written by the agent from its Node object. */
#define TERN_MAP_NODE "tern_node_v1"          /* ARRAY[2]: struct tern_addr */

/* UDP backends that just went away: their conntrack entries and the
 * sockets still connected to them are cleaned up, and new packets to them
 * are refused (ICMP port unreachable) so clients reconnect. */
#define TERN_MAP_NAT_GONE "tern_nat_gone_v1"  /* HASH: tern_nat_gone_key -> __u64 */
#define TERN_NAT_GONE_MAX 4096
#define TERN_NAT_GONE_SECONDS 60            /* how long a gone backend is refused */

struct tern_nat_gone_key {
	struct tern_addr addr;   /* NBO */
	__be16 port;             /* NBO */
	__u8 proto;              /* IPPROTO_UDP */
	__u8 pad;
};
TERN_ASSERT(sizeof(struct tern_nat_gone_key) == 20, "nat gone key size");
/* value: __u64, CLOCK_MONOTONIC ns until which it is refused */

#endif
