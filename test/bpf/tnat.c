/* Service helpers for the NAT tests (see tnat.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>

#include "tnat.h"

const char *tnat_addr(const char *a4, int v6)
{
	struct pkt_spec s = { .family = 4, .src = a4, .dst = a4 };

	return v6 ? spec_to6(&s, NULL).src : a4;
}

static void map_empty(int fd, size_t ksz)
{
	uint8_t key[64];

	while (ksz <= sizeof(key) && bpf_map_get_next_key(fd, NULL, key) == 0)
		if (bpf_map_delete_elem(fd, key))
			break;
}

void tnat_clear(void)
{
	map_empty(tenv.nat_fe, sizeof(struct tern_nat_fe_key));
	map_empty(tenv.nat_be, sizeof(struct tern_nat_be_key));
	map_empty(tenv.nat_aff, sizeof(struct tern_nat_aff_key));
	map_empty(tenv.nat_gone, sizeof(struct tern_nat_gone_key));
	tmaps_clear();
}

int tnat_fe(const char *addr, uint16_t port, uint8_t proto, uint32_t id, uint16_t count,
	    uint16_t local_count, uint32_t flags, uint32_t aff_timeout)
{
	struct tern_nat_fe_key k = { .port = htons(port), .proto = proto };
	struct tern_nat_fe v = {
		.svc_id = id,
		.count = count,
		.local_count = local_count,
		.flags = flags,
		.affinity_timeout = aff_timeout,
	};

	taddr(addr, &k.addr);
	if (bpf_map_update_elem(tenv.nat_fe, &k, &v, BPF_ANY)) {
		case_fail("tern_nat_fe_v1 update %s:%u: %s", addr, port, strerror(errno));
		return -1;
	}
	return 0;
}

int tnat_be(uint32_t id, uint32_t ordinal, const char *addr, uint16_t port, uint16_t flags)
{
	struct tern_nat_be_key k = { .svc_id = id, .ordinal = ordinal };
	struct tern_nat_be v = { .port = htons(port), .flags = flags };

	taddr(addr, &v.addr);
	if (bpf_map_update_elem(tenv.nat_be, &k, &v, BPF_ANY)) {
		case_fail("tern_nat_be_v1 update (%u, %u): %s", id, ordinal, strerror(errno));
		return -1;
	}
	return 0;
}

int tnat_svc(const struct svc_def *d, int v6)
{
	if (tnat_fe(tnat_addr(d->addr, v6), d->port, d->proto, d->id, d->count, d->local_count,
		    d->flags, d->aff_timeout))
		return -1;
	for (uint32_t i = 0; i < TNAT_BE_MAX && d->be[i].addr; i++)
		/* as the agent numbers them: the first local_count are local */
		if (tnat_be(d->id, i, tnat_addr(d->be[i].addr, v6), d->be[i].port,
			    i < d->local_count ? TERN_BE_F_LOCAL : 0))
			return -1;
	return 0;
}

int tnat_gone(const char *addr, uint16_t port, int64_t rel_ns)
{
	struct tern_nat_gone_key k = { .port = htons(port), .proto = IPPROTO_UDP };
	__u64 until = (__u64)((int64_t)tnow_ns() + rel_ns);

	taddr(addr, &k.addr);
	if (bpf_map_update_elem(tenv.nat_gone, &k, &until, BPF_ANY)) {
		case_fail("tern_nat_gone_v1 update: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static int ep_put(const char *addr, enum iface_id ifc)
{
	struct tern_addr a;
	struct tern_ep ep = { .ifindex = (__u32)tenv.ifindex[ifc], .flags = TERN_EP_F_LOCAL,
			      .ep_id = 100 + ifc };

	taddr(addr, &a);
	return bpf_map_update_elem(tenv.ep, &a, &ep, BPF_ANY) ? -errno : 0;
}

int tnat_eps(void)
{
	return ep_put(POD_A4, IF_A) || ep_put(POD_A6, IF_A) || ep_put(POD_B4, IF_B) ||
	       ep_put(POD_B6, IF_B);
}

void tnat_eps_end(void)
{
	static const char *const addrs[] = { POD_A4, POD_A6, POD_B4, POD_B6 };
	struct tern_addr a;

	for (size_t i = 0; i < ARRAY_SIZE(addrs); i++) {
		taddr(addrs[i], &a);
		bpf_map_delete_elem(tenv.ep, &a);
	}
}

void tnat_fib_macs(struct pkt *p, enum iface_id to)
{
	uint8_t host[6], pod[6];

	iface_macs(to, host, pod);
	memcpy(p->b, pod, 6);
	memcpy(p->b + 6, host, 6);
}

static void put16(uint8_t *b, uint16_t v)
{
	b[0] = v >> 8;
	b[1] = v & 0xff;
}

static void put32(uint8_t *b, uint32_t v)
{
	put16(b, v >> 16);
	put16(b + 2, v & 0xffff);
}

/* What the kernel's answers carry: IPv4 id 0 and DF; back the way in. */
static void answer_finish(struct pkt *out, const struct pkt *in, uint8_t *oip, int v4)
{
	if (v4) {
		put16(oip + 4, 0);      /* id */
		put16(oip + 6, 0x4000); /* DF */
	}
	pkt_finish(out);
	memcpy(out->b, in->b + 6, 6);
	memcpy(out->b + 6, in->b, 6);
}

static uint32_t get32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

void tnat_answer(struct pkt *out, const struct pkt *in)
{
	const uint8_t *ip = in->b + in->l3, *l4 = in->b + in->l4;
	int v4 = in->family == 4;
	size_t alen = v4 ? 4 : 16;
	const uint8_t *src = ip + (v4 ? 12 : 8), *dst = ip + (v4 ? 16 : 24);
	uint8_t *oip;

	pkt_eth(out, v4 ? 0x0800 : 0x86dd);
	if (v4)
		pkt_ip4(out, "0.0.0.0", "0.0.0.0");
	else
		pkt_ip6(out, "::", "::");
	oip = out->b + out->l3;
	memcpy(oip + (v4 ? 12 : 8), dst, alen);
	memcpy(oip + (v4 ? 16 : 24), src, alen);
	if (in->proto == IPPROTO_TCP) {
		uint8_t flags = l4[13];
		size_t seg = in->len - in->l4 - (l4[12] >> 4) * 4u;
		uint32_t n = (uint32_t)seg + !!(flags & TH_SYN) + !!(flags & TH_FIN);
		uint8_t *th;

		pkt_tcp(out, (uint16_t)(l4[2] << 8 | l4[3]), (uint16_t)(l4[0] << 8 | l4[1]),
			flags & TH_ACK ? TH_RST : TH_RST | TH_ACK, 0);
		th = out->b + out->l4;
		put32(th + 4, flags & TH_ACK ? get32(l4 + 8) : 0);
		put32(th + 8, flags & TH_ACK ? 0 : get32(l4 + 4) + n);
		put16(th + 14, 0); /* window */
	} else {
		pkt_icmp(out, v4 ? 3 : 1, v4 ? 3 : 4, 0);
		pkt_append(out, ip, v4 ? 28 : 48);
	}
	answer_finish(out, in, oip, v4);
}

void tnat_too_big(struct pkt *out, const struct pkt *in, const char *from, uint32_t mtu)
{
	const uint8_t *ip = in->b + in->l3;
	int v4 = in->family == 4;
	uint8_t *oip;

	pkt_eth(out, v4 ? 0x0800 : 0x86dd);
	if (v4)
		pkt_ip4(out, from, "0.0.0.0");
	else
		pkt_ip6(out, from, "::");
	oip = out->b + out->l3;
	memcpy(oip + (v4 ? 16 : 24), ip + (v4 ? 12 : 8), v4 ? 4 : 16);
	pkt_icmp(out, v4 ? 3 : 2, v4 ? 4 : 0, mtu);
	pkt_append(out, ip, v4 ? 28 : 48);
	answer_finish(out, in, oip, v4);
}

int tnat_ct_get(const struct ct_exp *e, int v6, struct tern_ct_key *k, struct tern_ct_value *v)
{
	struct pkt_spec s = {
		.family = 4, .src = e->src, .dst = e->dst, .proto = e->proto,
		.sport = e->sport, .dport = e->dport,
	};

	if (v6)
		s = spec_to6(&s, NULL);
	*k = tct_key_of(&s);
	return tct_get(k, v);
}

static const char *ct_flag_str(uint32_t f, char *buf, size_t n)
{
	static const char *const names[] = { "INIT_B", "REPLIED", "PICKED_UP", "NAT_FWD",
					     "NAT_REV", "HAIRPIN" };
	size_t at = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < 32; i++)
		if (f & (1u << i))
			at += (size_t)snprintf(buf + at, n - at, "%s%s", at ? "|" : "",
					       i < ARRAY_SIZE(names) ? names[i] : "?");
	if (!at)
		snprintf(buf, n, "0");
	return buf;
}

void tnat_expect_ct(const struct ct_exp *e, int v6)
{
	struct tern_ct_key k;
	struct tern_ct_value v;
	struct tern_addr src, nat;
	char got[96], want[96], na[INET6_ADDRSTRLEN];
	uint32_t flags = e->flags;
	const char *s4 = tnat_addr(e->src, v6);

	if (tnat_ct_get(e, v6, &k, &v)) {
		case_fail("no conntrack entry for %s:%u -> %s:%u proto %u", s4, e->sport,
			  tnat_addr(e->dst, v6), e->dport, e->proto);
		return;
	}
	/* the opener is side b unless the key starts with it */
	taddr(s4, &src);
	if (memcmp(&k.addr_a, &src, sizeof(src)) || k.port_a != htons(e->sport))
		flags |= TERN_CT_F_INIT_B;
	memset(&nat, 0, sizeof(nat));
	if (e->nat)
		taddr(tnat_addr(e->nat, v6), &nat);
	if (v.state != e->state || v.flags != flags)
		case_fail("conntrack of %s:%u -> %s:%u: state %s flags %s, want %s flags %s", s4,
			  e->sport, tnat_addr(e->dst, v6), e->dport, tct_state_name(v.state),
			  ct_flag_str(v.flags, got, sizeof(got)), tct_state_name(e->state),
			  ct_flag_str(flags, want, sizeof(want)));
	if (memcmp(&v.nat_addr, &nat, sizeof(nat)) || v.nat_port != htons(e->nat_port)) {
		inet_ntop(AF_INET6, v.nat_addr.b, na, sizeof(na));
		case_fail("conntrack of %s:%u -> %s:%u: nat [%s]:%u, want %s:%u", s4, e->sport,
			  tnat_addr(e->dst, v6), e->dport, na, ntohs(v.nat_port),
			  e->nat ? tnat_addr(e->nat, v6) : "::", e->nat_port);
	}
	if (v.pad0 || v.pad1 || v.pad2)
		case_fail("conntrack of %s:%u -> %s:%u: padding not zero", s4, e->sport,
			  tnat_addr(e->dst, v6), e->dport);
}
