/* IP fragments: the first fragment records its ports, later ones borrow
 * them, so a fragmented datagram is one flow. A later fragment that arrives
 * before its first is dropped (the sender's retransmission recovers). */
#ifndef TERN_BPF_FRAG_H
#define TERN_BPF_FRAG_H

#include "maps.h"
#include "parse.h"

/* 0, or -1 when p is a later fragment of a datagram we never saw start. */
static __always_inline int frag__ports(struct pkt *p)
{
	struct tern_frag_key k = {
		.src = p->t.src,
		.dst = p->t.dst,
		.id = p->frag_id,
		.proto = p->family == AF_INET ? p->t.proto : 0,
	};

	if (p->frag == PKT_FRAG_FIRST) {
		struct tern_frag_ports v = {
			.sport = p->t.sport,
			.dport = p->t.dport,
			.proto = p->t.proto,
		};

		if (p->icmp == PKT_ICMP_NONE || p->icmp == PKT_ICMP_ECHO)
			bpf_map_update_elem(&tern_frag_v1, &k, &v, BPF_ANY);
		return 0;
	}
	if (p->frag != PKT_FRAG_LATER)
		return 0;

	struct tern_frag_ports *v = bpf_map_lookup_elem(&tern_frag_v1, &k);

	if (!v)
		return -1;
	p->t.sport = v->sport;
	p->t.dport = v->dport;
	p->t.proto = v->proto;
	if (p->t.proto == IPPROTO_ICMP || p->t.proto == IPPROTO_ICMPV6)
		p->icmp = PKT_ICMP_ECHO; /* the only ICMP we record */
	return 0;
}

#endif
