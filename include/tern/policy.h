/* tern ABI: network policy. The agent compiles each local endpoint's
 * policy per direction into a program (policy/), installs it in the jump
 * map, and the tc programs tail-call it for a flow's first packet only.
 *
 * The contract a policy program keeps:
 *  - it reads the per-CPU tern_polctx_v2 entry 0 (struct tern_pol_ctx);
 *  - it decides: allow if any rule matches, else deny; it bumps the
 *    tern_polcnt_v2 counter {ctx.ep_id, dir, rule} of the rule that
 *    decided, or {.., TERN_POL_RULE_NONE} when none did (a drop);
 *  - it writes verdict and rule into the context;
 *  - it ends with bpf_tail_call(skb, tern_jmp_v1, ctx.cont), and returns
 *    TC_ACT_SHOT should that tail call fail.
 * A program too large for one piece tail-calls its next piece
 * (TERN_JMP_CHAIN) instead of denying; a missing piece denies.
 *
 * Nothing in a program depends on which endpoint runs it (the endpoint id
 * comes from the context, counters are keyed by it): equal policies give
 * byte-equal programs, which the agent loads once and installs for every
 * endpoint they apply to. */
#ifndef TERN_ABI_POLICY_H
#define TERN_ABI_POLICY_H

#include <stddef.h>
#include "addr.h"

#define TERN_MAP_JMP "tern_jmp_v1"        /* PROG_ARRAY: continuations + policies */
#define TERN_MAP_POLCTX "tern_polctx_v2"  /* PERCPU_ARRAY, 1 entry: tern_scratch */
#define TERN_MAP_IPSET "tern_ipset_v1"    /* LPM_TRIE: tern_ipset_key -> __u32 */
#define TERN_MAP_POLCNT "tern_polcnt_v2"  /* PERCPU_HASH: tern_polcnt_key -> __u64 hits */

/* Jump map layout. Indices below TERN_JMP_POLICY_BASE hold the tc
 * object's continuation programs; from there, each local endpoint has two
 * slots (ingress, egress); chained pieces of large policies live above
 * TERN_JMP_CHAIN_BASE, allocated by the agent. */
#define TERN_JMP_CONT_FROM_EP   0  /* after the source endpoint's egress policy */
#define TERN_JMP_CONT_FROM_EP_DST 1 /* after a local destination's ingress policy (pod -> pod) */
#define TERN_JMP_CONT_TO_EP     2  /* after the destination's ingress policy (stack -> pod) */
#define TERN_JMP_CONT_HOST_IN   3  /* after a local destination's ingress policy (outside -> pod) */
#define TERN_JMP_POLICY_BASE    16
#define TERN_JMP_POLICY(ep_id, dir) (TERN_JMP_POLICY_BASE + (ep_id) * 2 + (dir))
#define TERN_JMP_CHAIN_BASE     32768
#define TERN_JMP_MAX            65536

/* A chained policy's pieces after the first: two banks per endpoint and
 * direction, so a new chain is installed beside the running one and the
 * swap of the first piece switches banks atomically. Endpoints with ids
 * below TERN_JMP_CHAIN_EP_MAX can have chained policies. */
#define TERN_JMP_CHAIN_PIECES   8
#define TERN_JMP_CHAIN(ep_id, dir, bank, k)                                   \
	(TERN_JMP_CHAIN_BASE +                                                \
	 ((((ep_id) * 2 + (dir)) * 2 + (bank)) * TERN_JMP_CHAIN_PIECES + (k)))
#define TERN_JMP_CHAIN_EP_MAX   ((TERN_JMP_MAX - TERN_JMP_CHAIN_BASE) / (4 * TERN_JMP_CHAIN_PIECES))

#define TERN_POL_INGRESS 0
#define TERN_POL_EGRESS  1

#define TERN_POL_DENY  0
#define TERN_POL_ALLOW 1

/* What a policy program judges; the first packet of a flow, after service
 * NAT (policy sees pod addresses, never a service VIP). */
struct tern_pol_ctx {
	struct tern_addr peer;   /* NBO: the other end (ingress: the source,
	                          * egress: the destination) */
	__be16 port;             /* NBO: the destination port; ICMP: 0 */
	__u8 proto;              /* IPPROTO_* */
	__u8 dir;                /* TERN_POL_INGRESS / TERN_POL_EGRESS */
	__u32 ep_id;             /* whose policy this is */
	__u32 cont;              /* jump index to continue at */
	__u32 verdict;           /* out: TERN_POL_ALLOW / TERN_POL_DENY */
	__u32 rule;              /* out: the rule that decided, TERN_POL_RULE_NONE: none */
	__u32 pad;
};
TERN_ASSERT(sizeof(struct tern_pol_ctx) == 40, "pol ctx size");
TERN_ASSERT(offsetof(struct tern_pol_ctx, port) == 16, "pol ctx port");
TERN_ASSERT(offsetof(struct tern_pol_ctx, proto) == 18, "pol ctx proto");
TERN_ASSERT(offsetof(struct tern_pol_ctx, ep_id) == 20, "pol ctx ep_id");
TERN_ASSERT(offsetof(struct tern_pol_ctx, cont) == 24, "pol ctx cont");
TERN_ASSERT(offsetof(struct tern_pol_ctx, verdict) == 28, "pol ctx verdict");
TERN_ASSERT(offsetof(struct tern_pol_ctx, rule) == 32, "pol ctx rule");

/* The per-CPU scratch a first packet carries across tail calls. Policy
 * programs use pol only; the rest is the tc programs' own state (bytes
 * they lay out themselves, opaque here), so it can change without
 * touching the policy ABI. */
#define TERN_SCRATCH_PRIV 512
struct tern_scratch {
	struct tern_pol_ctx pol;
	__u8 priv[TERN_SCRATCH_PRIV];
};
TERN_ASSERT(offsetof(struct tern_scratch, pol) == 0, "scratch pol first");

/* Ipsets: one LPM trie for all sets. A member address is a full-length
 * prefix; a CIDR (ipBlock) a shorter one; an ipBlock's `except` is a
 * longer entry whose value is TERN_IPSET_EXCEPT. Named-port sets also
 * match the port and protocol: their entries cover every bit. A lookup
 * uses the full key length with the packet's address, port and protocol
 * and gets the longest match. */
#define TERN_IPSET_PREFIX_SET 32                        /* set_id only */
#define TERN_IPSET_PREFIX_ADDR (TERN_IPSET_PREFIX_SET + 128) /* + whole address */
#define TERN_IPSET_PREFIX_FULL (TERN_IPSET_PREFIX_ADDR + 24) /* + port, proto */

struct tern_ipset_key {
	__u32 prefixlen;         /* bits of what follows that must match */
	__be32 set_id;           /* NBO: a set's id, stable across restarts */
	struct tern_addr addr;   /* NBO */
	__be16 port;             /* NBO: named-port sets only */
	__u8 proto;              /* named-port sets only */
	__u8 pad;
};
TERN_ASSERT(sizeof(struct tern_ipset_key) == 28, "ipset key size");
TERN_ASSERT(offsetof(struct tern_ipset_key, addr) == 8, "ipset key addr");

#define TERN_IPSET_EXCEPT 0     /* value: inside a CIDR but excepted */
#define TERN_IPSET_MEMBER 1     /* value: a member */

/* Rule hit counters: per endpoint, direction and rule (the rule's number
 * in the endpoint's program, from 0), and the no-match drops. The agent
 * creates an endpoint's keys before installing its program and deletes
 * them after removing it; a program bumps only keys that exist. */
#define TERN_POL_RULE_NONE 0xffff

struct tern_polcnt_key {
	__u32 ep_id;
	__u16 rule;              /* TERN_POL_RULE_NONE: no rule matched (dropped) */
	__u8 dir;                /* TERN_POL_INGRESS / TERN_POL_EGRESS */
	__u8 pad;
};
TERN_ASSERT(sizeof(struct tern_polcnt_key) == 8, "polcnt key size");
TERN_ASSERT(offsetof(struct tern_polcnt_key, rule) == 4, "polcnt key rule");
TERN_ASSERT(offsetof(struct tern_polcnt_key, dir) == 6, "polcnt key dir");

#define TERN_IPSET_DEFAULT_MAX 262144
#define TERN_POLCNT_DEFAULT_MAX 262144  /* no prealloc: memory as keys exist */

#endif
