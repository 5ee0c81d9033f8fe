/* The packet builder and checksum checker (see pkt.h). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pkt.h"

#ifndef IPPROTO_MH
#define IPPROTO_MH 135
#endif

static void put16(uint8_t *b, uint16_t v)
{
	b[0] = v >> 8;
	b[1] = v;
}

static void put32(uint8_t *b, uint32_t v)
{
	put16(b, v >> 16);
	put16(b + 2, v);
}

static uint16_t get16(const uint8_t *b)
{
	return (uint16_t)(b[0] << 8 | b[1]);
}

/* A wrong packet description is a bug in a test: stop loudly. */
static void die(const char *what)
{
	fprintf(stderr, "pkt: %s\n", what);
	abort();
}

/* n zeroed bytes at the end of p */
static uint8_t *grow(struct pkt *p, size_t n)
{
	uint8_t *at = p->b + p->len;

	if (p->len + n > PKT_MAX)
		die("packet too long for PKT_MAX");
	memset(at, 0, n);
	p->len += n;
	return at;
}

static void parse_addr(int af, const char *s, uint8_t *out)
{
	if (!s || inet_pton(af, s, out) != 1)
		die("bad address");
}

static uint64_t sum_add(uint64_t sum, const uint8_t *b, size_t n)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		sum += get16(b + i);
	if (n & 1)
		sum += (uint16_t)(b[n - 1] << 8);
	return sum;
}

static uint16_t sum_fold(uint64_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

uint16_t pkt_csum16(const uint8_t *b, size_t n)
{
	return sum_fold(sum_add(0, b, n));
}

/* The pseudo-header of RFC 793 (v4) / RFC 8200 8.1 (v6) */
static uint64_t sum_pseudo(int family, const uint8_t *src, const uint8_t *dst,
			   uint32_t len, uint8_t proto)
{
	uint64_t sum = 0;
	size_t alen = family == 4 ? 4 : 16;

	sum = sum_add(sum, src, alen);
	sum = sum_add(sum, dst, alen);
	return sum + (len >> 16) + (len & 0xffff) + proto;
}

/* SCTP's CRC32c (RFC 4960 appendix B), bitwise: slow and obvious */
static uint32_t crc32c(const uint8_t *b, size_t n)
{
	uint32_t c = 0xffffffffu;

	for (size_t i = 0; i < n; i++) {
		c ^= b[i];
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0x82f63b78u & (0u - (c & 1)));
	}
	return ~c;
}

void pkt_eth(struct pkt *p, uint16_t ethertype)
{
	static const uint8_t src[6] = PKT_MAC_SRC, dst[6] = PKT_MAC_DST;
	uint8_t *e;

	memset(p, 0, sizeof(*p));
	p->l3 = p->l4 = p->nh = -1;
	e = grow(p, 14);
	memcpy(e, dst, 6);
	memcpy(e + 6, src, 6);
	put16(e + 12, ethertype);
}

void pkt_ip4(struct pkt *p, const char *src, const char *dst)
{
	uint8_t *ip;

	p->l3 = (int)p->len;
	ip = grow(p, 20);
	ip[0] = 0x45;
	put16(ip + 4, 0x1234); /* id */
	ip[8] = 64;            /* ttl */
	parse_addr(AF_INET, src, ip + 12);
	parse_addr(AF_INET, dst, ip + 16);
	p->family = 4;
	p->nh = p->l3 + 9;
}

void pkt_ip4_opts(struct pkt *p, size_t n)
{
	uint8_t *ip = p->b + p->l3, *o;

	if (p->family != 4 || n % 4 || n > 40 || p->len != p->l3 + (ip[0] & 15) * 4u)
		die("IPv4 options go right after the IPv4 header");
	o = grow(p, n);
	memset(o, 1, n); /* NOPs after a router alert, as IGMP sends */
	if (n >= 4) {
		o[0] = 0x94;
		o[1] = 4;
	}
	ip[0] = 0x40 | (5 + n / 4);
}

void pkt_ip6(struct pkt *p, const char *src, const char *dst)
{
	uint8_t *ip;

	p->l3 = (int)p->len;
	ip = grow(p, 40);
	ip[0] = 0x60;
	ip[7] = 64; /* hop limit */
	parse_addr(AF_INET6, src, ip + 8);
	parse_addr(AF_INET6, dst, ip + 24);
	p->family = 6;
	p->nh = p->l3 + 6;
}

void pkt_frag6_hdr(struct pkt *p, uint16_t off, int more, uint32_t id)
{
	size_t at = p->len;
	uint8_t *h;

	if (p->family != 6 || off % 8)
		die("bad IPv6 fragment header");
	p->b[p->nh] = IPPROTO_FRAGMENT;
	h = grow(p, 8);
	put16(h + 2, off | (more ? 1 : 0));
	put32(h + 4, id);
	p->nh = (int)at;
}

void pkt_ext6(struct pkt *p, uint8_t type, size_t n)
{
	size_t at = p->len;
	uint8_t *h;

	if (type == IPPROTO_FRAGMENT) {
		pkt_frag6_hdr(p, 0, 0, 0xa70a1c); /* atomic fragment (RFC 6946) */
		return;
	}
	if (!n)
		n = type == IPPROTO_AH ? 24 : 8;
	if (p->family != 6 || n % 8 || n < (type == IPPROTO_AH ? 16u : 8u) || n > 2048)
		die("bad IPv6 extension header size");
	p->b[p->nh] = type;
	h = grow(p, n);
	p->nh = (int)at;
	switch (type) {
	case IPPROTO_AH:
		h[1] = n / 4 - 2;
		put32(h + 4, 0x100); /* SPI */
		put32(h + 8, 1);     /* sequence number; the ICV stays zero */
		return;
	case IPPROTO_ROUTING:
		h[2] = 253; /* an experimental routing type ... */
		h[3] = 0;   /* ... with no segments left: every node skips it */
		break;
	case IPPROTO_HOPOPTS:
	case IPPROTO_DSTOPTS:
		h[2] = 1; /* one PadN option fills the header */
		h[3] = n - 4;
		break;
	}
	h[1] = n / 8 - 1;
}

static uint8_t *l4_begin(struct pkt *p, uint8_t proto, size_t n)
{
	if (p->nh < 0)
		die("L4 header without an IP header");
	p->b[p->nh] = proto;
	p->l4 = (int)p->len;
	p->proto = proto;
	return grow(p, n);
}

void pkt_tcp(struct pkt *p, uint16_t sport, uint16_t dport, uint8_t flags, size_t optlen)
{
	uint8_t *h;

	if (optlen % 4 || optlen > 40)
		die("bad TCP option length");
	h = l4_begin(p, IPPROTO_TCP, 20 + optlen);
	put16(h, sport);
	put16(h + 2, dport);
	put32(h + 4, 0x01020304);
	if (flags & TH_ACK)
		put32(h + 8, 0x0a0b0c0d);
	h[12] = (uint8_t)((20 + optlen) / 4) << 4;
	h[13] = flags;
	put16(h + 14, 65535);
	if (optlen) {
		memset(h + 20, 1, optlen); /* NOPs after an MSS option */
		h[20] = 2;
		h[21] = 4;
		put16(h + 22, 1460);
	}
}

void pkt_udp(struct pkt *p, uint16_t sport, uint16_t dport)
{
	uint8_t *h = l4_begin(p, IPPROTO_UDP, 8);

	put16(h, sport);
	put16(h + 2, dport);
}

void pkt_sctp(struct pkt *p, uint16_t sport, uint16_t dport)
{
	uint8_t *h = l4_begin(p, IPPROTO_SCTP, 12);

	put16(h, sport);
	put16(h + 2, dport);
	put32(h + 4, 0x11223344); /* verification tag */
}

static void icmp_hdr(struct pkt *p, uint8_t proto, uint8_t type, uint8_t code, uint32_t rest)
{
	uint8_t *h = l4_begin(p, proto, 8);

	h[0] = type;
	h[1] = code;
	put32(h + 4, rest);
}

void pkt_icmp(struct pkt *p, uint8_t type, uint8_t code, uint32_t rest)
{
	icmp_hdr(p, p->family == 4 ? IPPROTO_ICMP : IPPROTO_ICMPV6, type, code, rest);
}

void pkt_l4raw(struct pkt *p, uint8_t proto)
{
	l4_begin(p, proto, 0);
}

void pkt_payload(struct pkt *p, size_t n)
{
	uint8_t *d = grow(p, n);

	for (size_t i = 0; i < n; i++)
		d[i] = (uint8_t)('a' + i % 26);
}

void pkt_append(struct pkt *p, const void *data, size_t n)
{
	memcpy(grow(p, n), data, n);
}

void pkt_quote(struct pkt *p, const struct pkt *inner, size_t n)
{
	size_t all = inner->len - inner->l3;

	if (inner->l3 < 0)
		die("quoting a packet without an IP header");
	pkt_append(p, inner->b + inner->l3, n && n < all ? n : all);
}

void pkt_finish(struct pkt *p)
{
	uint8_t *ip, *l4, *src, *dst;
	size_t iplen, l4len;
	int csum_at;
	uint64_t sum;

	if (p->l3 < 0)
		return;
	ip = p->b + p->l3;
	iplen = p->len - p->l3;
	if (p->family == 4) {
		put16(ip + 2, iplen);
		put16(ip + 10, 0);
		put16(ip + 10, ~pkt_csum16(ip, (ip[0] & 15) * 4));
		src = ip + 12;
		dst = ip + 16;
	} else {
		put16(ip + 4, iplen - 40);
		src = ip + 8;
		dst = ip + 24;
	}
	if (p->l4 < 0 || p->frag)
		return;
	l4 = p->b + p->l4;
	l4len = p->len - p->l4;
	switch (p->proto) {
	case IPPROTO_TCP:
		csum_at = 16;
		break;
	case IPPROTO_UDP:
		put16(l4 + 4, l4len);
		csum_at = 6;
		break;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		csum_at = 2;
		break;
	case IPPROTO_SCTP: {
		uint32_t c;

		memset(l4 + 8, 0, 4);
		c = crc32c(l4, l4len);
		for (int i = 0; i < 4; i++)
			l4[8 + i] = (uint8_t)(c >> (8 * i)); /* little-endian, as Linux */
		return;
	}
	default:
		return;
	}
	put16(l4 + csum_at, 0);
	sum = p->proto == IPPROTO_ICMP ? 0 : sum_pseudo(p->family, src, dst, l4len, p->proto);
	sum = sum_fold(sum_add(sum, l4, l4len));
	if (p->proto == IPPROTO_UDP && sum == 0xffff)
		sum = 0; /* so the result is 0xffff: 0 means "no checksum" */
	put16(l4 + csum_at, (uint16_t)~sum);
}

void pkt_fragment(struct pkt *out, const struct pkt *whole, size_t off, size_t n,
		  int more, uint32_t id)
{
	size_t body;

	if (whole->l4 < 0 || whole->l3 < 0)
		die("fragmenting a packet without headers");
	body = whole->len - whole->l4;
	if (off % 8 || off + n > body || (more && n % 8))
		die("bad fragment bounds");
	memset(out, 0, sizeof(*out));
	memcpy(out->b, whole->b, whole->l4);
	out->len = whole->l4;
	out->l3 = whole->l3;
	out->nh = whole->nh;
	out->family = whole->family;
	out->proto = whole->proto;
	out->frag = 1;
	if (whole->family == 4) {
		uint8_t *ip = out->b + out->l3;

		put16(ip + 4, (uint16_t)id);
		put16(ip + 6, (uint16_t)(off / 8) | (more ? 0x2000 : 0));
	} else {
		pkt_frag6_hdr(out, (uint16_t)off, more, id);
		out->b[out->nh] = whole->proto;
	}
	out->l4 = off == 0 ? (int)out->len : -1;
	pkt_append(out, whole->b + whole->l4 + off, n);
	pkt_finish(out);
}

static int is_echo(uint8_t type)
{
	return type == 0 || type == 8 || type == 128 || type == 129;
}

void pkt_build(struct pkt *p, const struct pkt_spec *s)
{
	if (s->family == 4) {
		pkt_eth(p, 0x0800);
		pkt_ip4(p, s->src, s->dst);
		if (s->ip_opts)
			pkt_ip4_opts(p, s->ip_opts);
		if (s->ttl)
			p->b[p->l3 + 8] = s->ttl;
		if (s->df)
			p->b[p->l3 + 6] |= 0x40;
	} else if (s->family == 6) {
		pkt_eth(p, 0x86dd);
		pkt_ip6(p, s->src, s->dst);
		if (s->ttl)
			p->b[p->l3 + 7] = s->ttl;
		for (int i = 0; i < s->n_ext && i < PKT_EXT_MAX; i++)
			pkt_ext6(p, s->ext[i], s->ext_len[i]);
	} else {
		pkt_eth(p, s->ethertype);
		pkt_payload(p, s->payload);
		return;
	}
	switch (s->proto) {
	case IPPROTO_TCP:
		pkt_tcp(p, s->sport, s->dport, s->flags, s->tcp_opts);
		break;
	case IPPROTO_UDP:
		pkt_udp(p, s->sport, s->dport);
		break;
	case IPPROTO_SCTP:
		pkt_sctp(p, s->sport, s->dport);
		break;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6: {
		uint32_t rest = 0;

		if (is_echo(s->type))
			rest = (uint32_t)s->id << 16 | 1; /* sequence 1 */
		else if (s->proto == IPPROTO_ICMPV6 && s->type == 2)
			rest = 1280; /* packet too big: the MTU */
		icmp_hdr(p, s->proto, s->type, s->code, rest);
		break;
	}
	default:
		pkt_l4raw(p, s->proto);
	}
	if (s->quote) {
		struct pkt inner;

		pkt_build(&inner, s->quote);
		pkt_quote(p, &inner, s->quote_len);
	}
	pkt_payload(p, s->payload);
	pkt_finish(p);
}

struct pkt_spec pkt_spec_reverse(const struct pkt_spec *s)
{
	struct pkt_spec r = *s;

	r.src = s->dst;
	r.dst = s->src;
	r.sport = s->dport;
	r.dport = s->sport;
	if (s->proto == IPPROTO_ICMP || s->proto == IPPROTO_ICMPV6) {
		switch (s->type) { /* an echo's answer */
		case 8:
			r.type = 0;
			break;
		case 0:
			r.type = 8;
			break;
		case 128:
			r.type = 129;
			break;
		case 129:
			r.type = 128;
			break;
		}
	}
	return r;
}

/* --- the checker ---------------------------------------------------- */

static int l4_ok(int family, const uint8_t *src, const uint8_t *dst, uint8_t proto,
		 const uint8_t *l4, size_t len, char *why, size_t whylen)
{
	uint64_t sum;

	switch (proto) {
	case IPPROTO_TCP:
	case IPPROTO_UDP:
	case IPPROTO_ICMPV6:
		if (len < (proto == IPPROTO_TCP ? 20u : proto == IPPROTO_UDP ? 8u : 4u)) {
			snprintf(why, whylen, "L4 protocol %u: %zu bytes is too short", proto, len);
			return -1;
		}
		if (proto == IPPROTO_UDP && family == 4 && get16(l4 + 6) == 0)
			return 0; /* IPv4 UDP without checksum */
		sum = sum_pseudo(family, src, dst, len, proto);
		break;
	case IPPROTO_ICMP:
		if (len < 4) {
			snprintf(why, whylen, "ICMP: %zu bytes is too short", len);
			return -1;
		}
		sum = 0;
		break;
	case IPPROTO_SCTP: {
		uint8_t tmp[PKT_MAX];
		uint32_t want = 0, got;

		if (len < 12 || len > sizeof(tmp)) {
			snprintf(why, whylen, "SCTP: %zu bytes", len);
			return -1;
		}
		memcpy(tmp, l4, len);
		for (int i = 0; i < 4; i++)
			want |= (uint32_t)l4[8 + i] << (8 * i);
		memset(tmp + 8, 0, 4);
		got = crc32c(tmp, len);
		if (got != want) {
			snprintf(why, whylen, "SCTP CRC32c %08x, want %08x", want, got);
			return -1;
		}
		return 0;
	}
	default:
		return 0; /* nothing we know to check */
	}
	sum = sum_fold(sum_add(sum, l4, len));
	if (sum != 0xffff) {
		snprintf(why, whylen, "L4 protocol %u checksum bad (sum %04x)", proto,
			 (unsigned)sum);
		return -1;
	}
	return 0;
}

int pkt_check_csums(const uint8_t *b, size_t len, char *why, size_t whylen)
{
	const uint8_t *ip = b + 14;
	size_t iplen;

	snprintf(why, whylen, "ok");
	if (len < 14)
		return 0;
	if (get16(b + 12) == 0x0800) {
		size_t hl, tot;

		if (len < 34) {
			snprintf(why, whylen, "IPv4 header truncated");
			return -1;
		}
		hl = (ip[0] & 15) * 4u;
		tot = get16(ip + 2);
		if (tot == 0)
			tot = len - 14; /* BIG TCP: the length is the skb's */
		if (hl < 20 || tot < hl || tot > len - 14 || hl > len - 14) {
			snprintf(why, whylen, "IPv4 lengths inconsistent (ihl %zu, total %zu)", hl, tot);
			return -1;
		}
		if (pkt_csum16(ip, hl) != 0xffff) {
			snprintf(why, whylen, "IPv4 header checksum %04x bad", get16(ip + 10));
			return -1;
		}
		if (get16(ip + 6) & 0x3fff)
			return 0; /* a fragment: its L4 checksum covers the datagram */
		return l4_ok(4, ip + 12, ip + 16, ip[9], ip + hl, tot - hl, why, whylen);
	}
	if (get16(b + 12) != 0x86dd)
		return 0;
	if (len < 54) {
		snprintf(why, whylen, "IPv6 header truncated");
		return -1;
	}
	iplen = 40 + get16(ip + 4);
	if (iplen == 40 && ip[6] != 59)
		iplen = len - 14; /* BIG TCP (no jumbo option): the length is the skb's */
	if (iplen > len - 14) {
		snprintf(why, whylen, "IPv6 payload length past the frame");
		return -1;
	}
	size_t off = 40;
	uint8_t nh = ip[6];

	for (int i = 0; i < 16; i++) {
		const uint8_t *h = ip + off;

		if (nh != IPPROTO_HOPOPTS && nh != IPPROTO_ROUTING && nh != IPPROTO_DSTOPTS &&
		    nh != IPPROTO_AH && nh != IPPROTO_FRAGMENT && nh != IPPROTO_MH)
			break;
		if (off + 8 > iplen) {
			snprintf(why, whylen, "IPv6 extension header past the payload");
			return -1;
		}
		if (nh == IPPROTO_FRAGMENT) {
			if (get16(h + 2) & 0xfff9)
				return 0; /* a fragment */
			off += 8;
		} else if (nh == IPPROTO_AH) {
			off += (h[1] + 2) * 4u;
		} else {
			off += (h[1] + 1) * 8u;
		}
		nh = h[0];
	}
	if (off > iplen) {
		snprintf(why, whylen, "IPv6 extension header past the payload");
		return -1;
	}
	return l4_ok(6, ip + 8, ip + 24, nh, ip + off, iplen - off, why, whylen);
}
