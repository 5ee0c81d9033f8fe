/* Network policy: a flow's first packet is judged by the endpoint's own
 * compiled program (include/tern/policy.h), tail-called through tern_jmp_v1;
 * it continues in a tc continuation program that reads the verdict. State
 * crosses the tail calls in the per-CPU scratch (tern_polctx_v2). */
#ifndef TERN_BPF_POLICY_H
#define TERN_BPF_POLICY_H

#include "maps.h"
#include "parse.h"
#include "ct.h"

/* Every packet's parse and conntrack context, and what a first packet's tc
 * program keeps across its policy tail calls: in tern_scratch.priv, per
 * CPU, so that the programs' stack stays small. Its layout
 * is the tc object's own and may change between builds: magic tells a
 * continuation whether the program that saved it was of its own build (an
 * upgrade swaps them one at a time). Bump FLOW_STATE_VERSION with any
 * change of layout. */
#define FLOW_STATE_VERSION 2
struct flow_state {
	__u32 magic;         /* flow__magic() */
	struct pkt p;        /* the packet as parsed; its tuple after service NAT */
	struct ct_ctx c;     /* the (post-NAT) flow's conntrack key and side */
	__u32 ifindex;       /* the interface it came in on */
	__u32 slot;          /* that interface's counter row */
	__u32 dst_if;        /* a local destination's host interface, 0: none */
	__u32 dst_ep_id;     /* that destination's endpoint */
	__u32 dst_flags;     /* its tern_ep flags */
	__u8 nat;            /* the packet still goes to vip:vport; DNAT at the end */
	__u8 hairpin;        /* ... and comes from its own backend: SNAT to vip too */
	__u8 snat;           /* ... to a backend elsewhere: its source becomes p.t.src */
	__u8 pad;
	struct tern_addr vip;
	__be16 vport;
	__be16 cport;        /* snat: the client's own address and port */
	struct tern_addr client;
};
_Static_assert(sizeof(struct flow_state) <= TERN_SCRATCH_PRIV, "flow state fits the scratch");

static __always_inline __u32 flow__magic(void)
{
	return 0x7e200000 | (FLOW_STATE_VERSION << 12) | sizeof(struct flow_state);
}

static __always_inline struct tern_scratch *scratch__get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&tern_polctx_v2, &zero);
}

static __always_inline struct flow_state *scratch__flow(struct tern_scratch *s)
{
	return (struct flow_state *)s->priv;
}

/* Working memory after the flow state, for what must not overwrite it
 * (nat.h's refusals) */
#define SCRATCH_WORK_OFF ((sizeof(struct flow_state) + 7) & ~7UL)

static __always_inline void *scratch__work(struct tern_scratch *s)
{
	return s->priv + SCRATCH_WORK_OFF;
}

/* Hand the flow to ep_id's policy for dir; the policy continues at cont.
 * Returns only when no program is installed: the caller fails closed. */
static __always_inline void policy__judge(struct __sk_buff *skb, struct tern_scratch *s,
					  __u32 ep_id, __u8 dir, const struct tern_addr *peer,
					  __u32 cont)
{
	struct flow_state *f = scratch__flow(s);

	s->pol.peer = *peer;
	s->pol.port = f->p.t.dport;
	s->pol.proto = f->p.t.proto;
	s->pol.dir = dir;
	s->pol.ep_id = ep_id;
	s->pol.cont = cont;
	s->pol.verdict = TERN_POL_DENY;
	s->pol.rule = ~0U;
	bpf_tail_call(skb, &tern_jmp_v1, TERN_JMP_POLICY(ep_id, dir));
}

#endif
