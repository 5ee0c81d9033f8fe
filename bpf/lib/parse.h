/* Packet parsing: Ethernet, IPv4, IPv6 with extension headers, TCP, UDP,
 * SCTP, ICMP/ICMPv6 and the packet quoted inside an ICMP error. Every read
 * is bounds-checked against the packet and against the IP length; anything
 * short or inconsistent is PARSE_MALFORMED, never guessed at. */
#ifndef TERN_BPF_PARSE_H
#define TERN_BPF_PARSE_H

#include "common.h"

/* Headers we read all lie in the first PARSE_PULL_LEN bytes. */
#define PARSE_PULL_LEN 256
#define IPV6_EXT_MAX 8

enum parse_rc {
	PARSE_OK = 0,
	PARSE_NOT_IP = 1,     /* ARP, VLAN, anything not IPv4/IPv6 */
	PARSE_MALFORMED = -1,
};

enum pkt_frag {
	PKT_FRAG_NONE = 0,
	PKT_FRAG_FIRST = 1,   /* offset 0, more fragments follow: has the L4 header */
	PKT_FRAG_LATER = 2,   /* offset > 0: no L4 header */
};

enum pkt_icmp {
	PKT_ICMP_NONE = 0,    /* not ICMP */
	PKT_ICMP_ECHO = 1,    /* echo request/reply: tracked by identifier */
	PKT_ICMP_ERROR = 2,   /* error quoting a packet: pkt.inner is its flow */
	PKT_ICMP_INFO = 3,    /* anything else (ND, MLD, ...): not tracked */
};

struct tuple {
	struct tern_addr src;
	struct tern_addr dst;
	__be16 sport;         /* NBO; ICMP echo request: identifier */
	__be16 dport;         /* NBO; ICMP echo reply: identifier */
	__u8 proto;
	__u8 pad[3];
};

struct pkt {
	struct tuple t;       /* this packet's flow */
	struct tuple inner;   /* PKT_ICMP_ERROR: the flow of the quoted packet */
	__u32 l4_off;         /* offset of the L4 header */
	__u32 l4_len;         /* L4 header + payload, from the IP length */
	__u32 frag_id;
	__u8 family;          /* AF_INET, AF_INET6 */
	__u8 frag;            /* enum pkt_frag */
	__u8 icmp;            /* enum pkt_icmp */
	__u8 tcp_flags;       /* FIN SYN RST PSH ACK URG */
	__u8 icmp_type;
	__u8 pad;
	__u16 eth_proto;      /* ETH_P_*, host order */
};


static __always_inline int ipv6_is_ext(__u8 nh)
{
	switch (nh) {
	case IPPROTO_HOPOPTS:
	case IPPROTO_ROUTING:
	case IPPROTO_FRAGMENT:
	case IPPROTO_DSTOPTS:
	case IPPROTO_AH:
	case 135: /* mobility */
	case 139: /* HIP */
	case 140: /* shim6 */
		return 1;
	}
	return 0;
}

struct ext_walk {
	__u32 off;      /* in: first header after the fixed one; out: upper-layer header */
	__u32 frag_id;  /* out: fragment header id */
	__u8 nh;        /* in: next header of the fixed header; out: upper-layer protocol */
	__u8 frag;      /* out: enum pkt_frag */
	__u8 pad[2];
};

/* Walk IPv6 extension headers. A global function: the verifier checks it
 * once, not once per path of every caller (two walks per packet, outer
 * and an ICMPv6 error's quote, would otherwise explode its state count). */
__noinline int ipv6_skip_ext(struct __sk_buff *skb, struct ext_walk *w)
{
	__u8 hdr[8];

	if (!skb || !w)
		return PARSE_MALFORMED;
	__u32 o = w->off;
	__u8 cur = w->nh;

	for (int i = 0; i < IPV6_EXT_MAX; i++) {
		if (!ipv6_is_ext(cur))
			break;
		if (o > PARSE_PULL_LEN || bpf_skb_load_bytes(skb, o, hdr, 8))
			return PARSE_MALFORMED;
		if (cur == IPPROTO_FRAGMENT) {
			__u16 fo = (hdr[2] << 8) | hdr[3];

			w->frag_id = ((__u32)hdr[4] << 24) | ((__u32)hdr[5] << 16) |
				     ((__u32)hdr[6] << 8) | hdr[7];
			if (fo & 0xfff8)
				w->frag = PKT_FRAG_LATER;
			else if (fo & 1)
				w->frag = PKT_FRAG_FIRST;
			cur = hdr[0];
			o += 8;
			if (w->frag == PKT_FRAG_LATER)
				break; /* what follows is payload, not headers */
			continue;
		}
		/* AH counts 4-octet units minus 2; the others 8-octet units minus 1 */
		if (cur == IPPROTO_AH)
			o += (hdr[1] + 2) * 4;
		else
			o += (hdr[1] + 1) * 8;
		cur = hdr[0];
	}
	if (ipv6_is_ext(cur) && w->frag != PKT_FRAG_LATER)
		return PARSE_MALFORMED; /* a longer chain than we walk */
	w->off = o;
	w->nh = cur;
	return PARSE_OK;
}

static __always_inline int icmp4_is_error(__u8 type)
{
	return type == ICMP_DEST_UNREACH || type == ICMP_TIME_EXCEEDED ||
	       type == ICMP_PARAMETERPROB || type == ICMP_SOURCE_QUENCH;
}

static __always_inline int icmp6_is_error(__u8 type)
{
	return type >= ICMPV6_DEST_UNREACH && type <= ICMPV6_PARAMPROB;
}

/* Ports of the upper-layer header at off (len bytes of it are in the IP
 * datagram). ICMP echo puts its identifier where the flow expects it. */
static __always_inline int parse_ports(void *data, void *data_end, __u32 off,
				       __u32 len, struct tuple *t, __u8 *tcp_flags)
{
	if (off > PARSE_PULL_LEN)
		return PARSE_MALFORMED;
	void *l4 = data + off;

	switch (t->proto) {
	case IPPROTO_TCP: {
		struct tcphdr *th = l4;

		if ((void *)(th + 1) > data_end || len < sizeof(*th))
			return PARSE_MALFORMED;
		if (th->doff < 5 || th->doff * 4U > len)
			return PARSE_MALFORMED;
		t->sport = th->source;
		t->dport = th->dest;
		if (tcp_flags)
			*tcp_flags = ((__u8 *)th)[13];
		return PARSE_OK;
	}
	case IPPROTO_UDP:
	case IPPROTO_SCTP: {
		/* both start with the two ports; SCTP's common header is 12 bytes */
		struct udphdr *uh = l4;
		__u32 min = t->proto == IPPROTO_UDP ? 8 : 12;

		if (l4 + min > data_end || len < min)
			return PARSE_MALFORMED;
		t->sport = uh->source;
		t->dport = uh->dest;
		return PARSE_OK;
	}
	}
	t->sport = 0;
	t->dport = 0;
	return PARSE_OK;
}

/* The packet an ICMP error quotes, at off (len bytes): its flow, as the
 * flow's own sender wrote it. Returns PARSE_OK with inner->proto == 0 when
 * the quote names no trackable flow. */
static __always_inline int parse_icmp_inner(struct __sk_buff *skb, void *data,
					    void *data_end, __u32 off,
					    __u32 len, __u8 family, struct tuple *inner)
{
	__u32 hlen;
	__u8 proto;
	__u8 frag = PKT_FRAG_NONE;

	if (off > PARSE_PULL_LEN)
		return PARSE_MALFORMED;
	if (family == AF_INET) {
		struct iphdr *ip = data + off;

		if ((void *)(ip + 1) > data_end || len < sizeof(*ip))
			return PARSE_MALFORMED;
		if (ip->version != 4 || ip->ihl < 5)
			return PARSE_MALFORMED;
		hlen = ip->ihl * 4;
		tern_addr_set_v4(&inner->src, ip->saddr);
		tern_addr_set_v4(&inner->dst, ip->daddr);
		proto = ip->protocol;
		if (bpf_ntohs(ip->frag_off) & 0x1fff)
			frag = PKT_FRAG_LATER;
	} else {
		struct ipv6hdr *ip6 = data + off;

		if ((void *)(ip6 + 1) > data_end || len < sizeof(*ip6))
			return PARSE_MALFORMED;
		if (ip6->version != 6)
			return PARSE_MALFORMED;
		__builtin_memcpy(&inner->src, &ip6->saddr, 16);
		__builtin_memcpy(&inner->dst, &ip6->daddr, 16);
		/* as for the outer header: such a quote would match IPv4 flows */
		if (tern_addr_is_v4(&inner->src) || tern_addr_is_v4(&inner->dst))
			return PARSE_MALFORMED;
		struct ext_walk w = { .off = off + sizeof(*ip6), .nh = ip6->nexthdr };

		if (ipv6_skip_ext(skb, &w))
			return PARSE_MALFORMED;
		proto = w.nh;
		frag = w.frag;
		hlen = w.off - off;
	}
	inner->proto = proto;
	if (frag == PKT_FRAG_LATER) {
		inner->proto = 0; /* a quoted later fragment has no ports */
		return PARSE_OK;
	}
	/* RFC 792/4443: at least 8 bytes of the upper-layer header follow */
	if (hlen + 8 > len)
		return PARSE_MALFORMED;
	off += hlen;
	if (off > PARSE_PULL_LEN)
		return PARSE_MALFORMED;
	__u8 *l4 = data + off;

	if ((void *)(l4 + 8) > data_end)
		return PARSE_MALFORMED;
	if (proto == IPPROTO_TCP || proto == IPPROTO_UDP || proto == IPPROTO_SCTP) {
		inner->sport = *(__be16 *)l4;
		inner->dport = *(__be16 *)(l4 + 2);
	} else if (proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6) {
		__u8 req = proto == IPPROTO_ICMP ? ICMP_ECHO : ICMPV6_ECHO_REQUEST;
		__u8 rep = proto == IPPROTO_ICMP ? ICMP_ECHOREPLY : ICMPV6_ECHO_REPLY;
		__be16 id = *(__be16 *)(l4 + 4);

		if (l4[0] == req) {
			inner->sport = id;
			inner->dport = 0;
		} else if (l4[0] == rep) {
			inner->sport = 0;
			inner->dport = id;
		} else {
			inner->proto = 0;
		}
	} else {
		inner->sport = 0;
		inner->dport = 0;
	}
	return PARSE_OK;
}

/* The ICMP/ICMPv6 header at p->l4_off. */
static __always_inline int parse_icmp(struct __sk_buff *skb, void *data, void *data_end,
				      struct pkt *p)
{
	__u32 off = p->l4_off;

	if (off > PARSE_PULL_LEN)
		return PARSE_MALFORMED;
	__u8 *h = data + off;

	if ((void *)(h + 8) > data_end || p->l4_len < 8)
		return PARSE_MALFORMED;
	__u8 type = h[0];
	__be16 id = *(__be16 *)(h + 4);
	int v4 = p->family == AF_INET;

	p->icmp_type = type;
	p->t.sport = 0;
	p->t.dport = 0;
	if (type == (v4 ? ICMP_ECHO : ICMPV6_ECHO_REQUEST)) {
		p->icmp = PKT_ICMP_ECHO;
		p->t.sport = id;
	} else if (type == (v4 ? ICMP_ECHOREPLY : ICMPV6_ECHO_REPLY)) {
		p->icmp = PKT_ICMP_ECHO;
		p->t.dport = id;
	} else if (v4 ? icmp4_is_error(type) : icmp6_is_error(type)) {
		p->icmp = PKT_ICMP_ERROR;
		if (p->frag != PKT_FRAG_NONE)
			return PARSE_MALFORMED; /* errors are never fragmented */
		return parse_icmp_inner(skb, data, data_end, off + 8, p->l4_len - 8,
					p->family, &p->inner);
	} else {
		p->icmp = PKT_ICMP_INFO;
	}
	return PARSE_OK;
}

static __always_inline int parse_ipv4(struct __sk_buff *skb, void *data,
				      void *data_end, struct pkt *p)
{
	struct iphdr *ip = data + ETH_HLEN;
	__u32 hlen, tot;
	__u16 fo;

	if ((void *)(ip + 1) > data_end)
		return PARSE_MALFORMED;
	if (ip->version != 4 || ip->ihl < 5)
		return PARSE_MALFORMED;
	hlen = ip->ihl * 4;
	tot = bpf_ntohs(ip->tot_len);
	if (tot == 0 && skb->gso_size)
		tot = skb->len - ETH_HLEN; /* BIG TCP: length lives in the skb */
	if (tot < hlen || tot > skb->len - ETH_HLEN)
		return PARSE_MALFORMED;
	if (data + ETH_HLEN + hlen > data_end)
		return PARSE_MALFORMED;
	p->family = AF_INET;
	tern_addr_set_v4(&p->t.src, ip->saddr);
	tern_addr_set_v4(&p->t.dst, ip->daddr);
	p->t.proto = ip->protocol;
	p->l4_off = ETH_HLEN + hlen;
	p->l4_len = tot - hlen;
	fo = bpf_ntohs(ip->frag_off);
	p->frag_id = bpf_ntohs(ip->id);
	if (fo & 0x1fff)
		p->frag = PKT_FRAG_LATER;
	else if (fo & 0x2000)
		p->frag = PKT_FRAG_FIRST;
	return PARSE_OK;
}

static __always_inline int parse_ipv6(struct __sk_buff *skb, void *data,
				      void *data_end, struct pkt *p)
{
	struct ipv6hdr *ip6 = data + ETH_HLEN;
	__u32 plen, off = ETH_HLEN + sizeof(*ip6);

	if ((void *)(ip6 + 1) > data_end)
		return PARSE_MALFORMED;
	if (ip6->version != 6)
		return PARSE_MALFORMED;
	plen = bpf_ntohs(ip6->payload_len);
	if (plen == 0 && skb->gso_size)
		plen = skb->len - off; /* BIG TCP */
	if (plen > skb->len - off)
		return PARSE_MALFORMED;
	p->family = AF_INET6;
	__builtin_memcpy(&p->t.src, &ip6->saddr, 16);
	__builtin_memcpy(&p->t.dst, &ip6->daddr, 16);
	/* ::ffff:0:0/96 is how the maps spell IPv4: such an IPv6 packet would
	 * share conntrack entries and endpoints with IPv4 flows and pods (and
	 * no IPv6 node owns one, RFC 4291 2.5.5.2) */
	if (tern_addr_is_v4(&p->t.src) || tern_addr_is_v4(&p->t.dst))
		return PARSE_MALFORMED;
	struct ext_walk w = { .off = off, .nh = ip6->nexthdr };

	if (ipv6_skip_ext(skb, &w))
		return PARSE_MALFORMED;
	off = w.off;
	if (off - ETH_HLEN - sizeof(*ip6) > plen)
		return PARSE_MALFORMED;
	p->frag = w.frag;
	p->frag_id = w.frag_id;
	p->t.proto = w.nh;
	p->l4_off = off;
	p->l4_len = plen - (off - ETH_HLEN - sizeof(*ip6));
	return PARSE_OK;
}

/* Parse the whole header stack of skb into p. */
static __always_inline int parse_packet(struct __sk_buff *skb, struct pkt *p)
{
	void *data, *data_end;
	__u16 proto;
	int rc;

	/* headers may sit in paged data (GRO); make our window linear once */
	if (skb->data_end - skb->data < PARSE_PULL_LEN &&
	    skb->data_end - skb->data < skb->len)
		bpf_skb_pull_data(skb, skb->len < PARSE_PULL_LEN ? skb->len : PARSE_PULL_LEN);
	data = (void *)(long)skb->data;
	data_end = (void *)(long)skb->data_end;

	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > data_end)
		return PARSE_MALFORMED;
	proto = bpf_ntohs(eth->h_proto);
	p->eth_proto = proto;
	if (proto == ETH_P_IP)
		rc = parse_ipv4(skb, data, data_end, p);
	else if (proto == ETH_P_IPV6)
		rc = parse_ipv6(skb, data, data_end, p);
	else
		return PARSE_NOT_IP;
	if (rc)
		return rc;

	if (p->frag == PKT_FRAG_LATER)
		return PARSE_OK; /* ports come from the first fragment */
	if (p->t.proto == IPPROTO_ICMP || p->t.proto == IPPROTO_ICMPV6) {
		if ((p->t.proto == IPPROTO_ICMP) != (p->family == AF_INET))
			return PARSE_MALFORMED;
		return parse_icmp(skb, data, data_end, p);
	}
	return parse_ports(data, data_end, p->l4_off, p->l4_len, &p->t, &p->tcp_flags);
}

#endif
