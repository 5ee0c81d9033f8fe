/* A small packet builder for the BPF tests: Ethernet, IPv4 (with options),
 * IPv6 (with extension headers), TCP/UDP/SCTP/ICMP/ICMPv6, ICMP errors
 * quoting another packet, fragments; and a checker for every checksum of a
 * finished packet. Packets are built front to back, then pkt_finish() fills
 * in lengths and checksums. */
#ifndef TERN_TEST_PKT_H
#define TERN_TEST_PKT_H

#include <stddef.h>
#include <stdint.h>

#define PKT_MAX 1536
#define PKT_EXT_MAX 12

/* MACs every built frame carries unless a test changes them */
#define PKT_MAC_SRC { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 }
#define PKT_MAC_DST { 0x02, 0x00, 0x00, 0x00, 0x00, 0x02 }

#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_PSH 0x08
#define TH_ACK 0x10
#define TH_URG 0x20
#define TH_ECE 0x40
#define TH_CWR 0x80

struct pkt {
	uint8_t b[PKT_MAX];
	size_t len;
	int l3;           /* IP header offset; -1: none */
	int l4;           /* upper-layer header offset; -1: none */
	int nh;           /* offset of the byte naming the next header */
	uint8_t family;   /* 4, 6; 0: not IP */
	uint8_t proto;    /* upper-layer protocol */
	uint8_t frag;     /* a fragment: its L4 checksum is the datagram's, left alone */
};

/* Low-level steps, in packet order. */
void pkt_eth(struct pkt *p, uint16_t ethertype);
void pkt_ip4(struct pkt *p, const char *src, const char *dst);
void pkt_ip4_opts(struct pkt *p, size_t n);         /* n: a multiple of 4, <= 40 */
void pkt_ip6(struct pkt *p, const char *src, const char *dst);
void pkt_ext6(struct pkt *p, uint8_t type, size_t n); /* 0: the kind's default size */
void pkt_frag6_hdr(struct pkt *p, uint16_t off, int more, uint32_t id);
void pkt_tcp(struct pkt *p, uint16_t sport, uint16_t dport, uint8_t flags, size_t optlen);
void pkt_udp(struct pkt *p, uint16_t sport, uint16_t dport);
void pkt_sctp(struct pkt *p, uint16_t sport, uint16_t dport);
/* ICMP or ICMPv6 by the packet's family; rest: the header's last 4 bytes */
void pkt_icmp(struct pkt *p, uint8_t type, uint8_t code, uint32_t rest);
void pkt_l4raw(struct pkt *p, uint8_t proto);        /* a protocol we build no header for */
void pkt_payload(struct pkt *p, size_t n);
void pkt_append(struct pkt *p, const void *data, size_t n);
/* n bytes of inner from its IP header on (0: all): an ICMP error's quote */
void pkt_quote(struct pkt *p, const struct pkt *inner, size_t n);
/* IP lengths, UDP length, IPv4 header checksum, L4 checksum */
void pkt_finish(struct pkt *p);

/* A fragment of the finished datagram whole: bytes [off, off+n) of what
 * follows its headers (v4: the IP header; v6: the extension headers, then a
 * fragment header goes in). more: the MF bit. */
void pkt_fragment(struct pkt *out, const struct pkt *whole, size_t off, size_t n,
		  int more, uint32_t id);

/* A declarative packet, for tables. */
struct pkt_spec {
	uint8_t family;                 /* 4 or 6; 0: a non-IP frame of ethertype */
	uint16_t ethertype;
	const char *src, *dst;
	uint8_t proto;                  /* TCP/UDP/SCTP/ICMP/ICMPv6 get a header; others none */
	uint16_t sport, dport;          /* host order */
	uint8_t flags;                  /* TCP */
	uint8_t tcp_opts;               /* TCP option bytes, a multiple of 4 */
	uint8_t type, code;             /* ICMP, ICMPv6 */
	uint16_t id;                    /* ICMP echo identifier */
	uint8_t ttl;                    /* TTL / hop limit; 0: 64 */
	uint8_t ip_opts;                /* IPv4 option bytes, a multiple of 4 */
	uint8_t df;                     /* IPv4: don't fragment */
	uint8_t n_ext;                  /* IPv6 extension headers, in order */
	uint8_t ext[PKT_EXT_MAX];       /* IPPROTO_HOPOPTS, ...; FRAGMENT: an atomic one */
	uint16_t ext_len[PKT_EXT_MAX];  /* bytes; 0: the kind's default */
	uint16_t payload;               /* bytes after the L4 header */
	const struct pkt_spec *quote;   /* ICMP error: the packet it quotes */
	uint16_t quote_len;             /* bytes of it from its IP header; 0: all */
};

void pkt_build(struct pkt *p, const struct pkt_spec *s);
/* The answer to s: addresses and ports swapped, an echo request made a
 * reply (and the other way round). */
struct pkt_spec pkt_spec_reverse(const struct pkt_spec *s);

/* Every checksum in frame b: 0, or -1 with the reason in why. */
int pkt_check_csums(const uint8_t *b, size_t len, char *why, size_t whylen);

/* The Internet checksum of n bytes, folded, not inverted; a building block
 * the tests also use for known-answer checks. */
uint16_t pkt_csum16(const uint8_t *b, size_t n);

#endif
