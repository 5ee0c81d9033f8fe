/* The conntrack iterators (bpf/gc.bpf.c), run over the tc programs' own
 * tern_ct_v1: the GC deletes what has been idle past its state's timeout,
 * keeps the rest, and reports "scanned deleted" once per walk; the flush
 * deletes the flows of the addresses in its set, source-NAT halves too. */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <tern/nat.h>
#include "harness.h" /* the ABI types the skeleton names */
#include "gc.skel.h"

#define SEC 1000000000ull

static const struct {
	uint8_t proto, state;
	uint32_t timeout;
} kinds[] = {
	{ IPPROTO_TCP, TERN_CT_SYN_SENT, T_SYN },     { IPPROTO_TCP, TERN_CT_SYN_RECV, T_SYN },
	{ IPPROTO_TCP, TERN_CT_ESTABLISHED, T_EST },  { IPPROTO_TCP, TERN_CT_FIN_WAIT, T_FIN },
	{ IPPROTO_TCP, TERN_CT_TIME_WAIT, T_FIN },    { IPPROTO_TCP, TERN_CT_CLOSE, T_RST },
	{ IPPROTO_UDP, TERN_CT_NEW, T_UDP },          { IPPROTO_UDP, TERN_CT_ESTABLISHED, T_UDP },
	{ IPPROTO_ICMP, TERN_CT_ESTABLISHED, T_ICMP }, { IPPROTO_SCTP, TERN_CT_NEW, T_OTHER },
	{ 47, TERN_CT_ESTABLISHED, T_OTHER },
};

/* entry i of kind k: live (idle 1 s less than its timeout, or stamped a
 * second in the future) or expired (1 s more) */
enum age { LIVE, FUTURE, EXPIRED, NAGES };

static struct tern_ct_key gc_key(size_t k, enum age a, int v6)
{
	uint16_t port = (uint16_t)(1000 + k * 10 + a);

	uint8_t proto = kinds[k].proto;

	if (proto == IPPROTO_ICMP && v6)
		proto = IPPROTO_ICMPV6;
	return tct_key(v6 ? POD_A6 : POD_A4, port, v6 ? REM_HI6 : REM_HI4, 80, proto);
}

static int gc_fill(void)
{
	uint64_t now = tnow_ns();
	int n = 0;

	for (size_t k = 0; k < ARRAY_SIZE(kinds); k++) {
		for (int a = 0; a < NAGES; a++) {
			for (int v6 = 0; v6 <= 1; v6++) {
				struct tern_ct_key key = gc_key(k, (enum age)a, v6);
				int64_t t = (int64_t)kinds[k].timeout * (int64_t)SEC;
				int64_t ago = a == LIVE ? t - (int64_t)SEC :
					      a == FUTURE ? -(int64_t)SEC : t + (int64_t)SEC;
				struct tern_ct_value v = {
					.last_seen_ns = now - (uint64_t)ago,
					.created_ns = now - (uint64_t)ago,
					.state = kinds[k].state,
				};

				if (tct_put(&key, &v))
					return -1;
				n++;
			}
		}
	}
	return n;
}

/* One walk of prog over tern_ct_v1: the iterator's output line. */
static int iter_walk(struct bpf_program *prog, char *out, size_t n)
{
	union bpf_iter_link_info linfo;
	LIBBPF_OPTS(bpf_iter_attach_opts, opts, .link_info = &linfo,
		    .link_info_len = sizeof(linfo));
	struct bpf_link *link;
	size_t len = 0;
	ssize_t got;
	int fd, err = 0;

	memset(&linfo, 0, sizeof(linfo));
	linfo.map.map_fd = (__u32)tenv.ct;
	link = bpf_program__attach_iter(prog, &opts);
	if (!link)
		return -errno;
	fd = bpf_iter_create(bpf_link__fd(link));
	if (fd < 0) {
		err = -errno;
		bpf_link__destroy(link);
		return err;
	}
	while (len + 1 < n && (got = read(fd, out + len, n - 1 - len)) > 0)
		len += (size_t)got;
	if (got < 0)
		err = -errno;
	out[len] = '\0';
	close(fd);
	bpf_link__destroy(link);
	return err;
}

static void expect_walk(struct tern_gc *gc, unsigned long long scanned,
			unsigned long long deleted)
{
	unsigned long long s, d;
	char out[256];
	int err = iter_walk(gc->progs.tern_ct_gc, out, sizeof(out));

	if (err)
		case_fail("running the iterator: %s", strerror(-err));
	else if (sscanf(out, "%llu %llu", &s, &d) != 2 || s != scanned || d != deleted)
		case_fail("iterator wrote \"%.60s\", want \"%llu %llu\"", out, scanned, deleted);
}

/* Flows for the flush: each names a flushed address somewhere (or not). */
#define FLUSHED4 POD_A4
#define FLUSHED6 POD_A6
#define FLUSHED_REM REM_BE4 /* a remote backend: any address is flushed alike */

static const struct flush_flow {
	const char *what;
	const char *a;
	uint16_t pa;
	const char *b;
	uint16_t pb;
	uint8_t proto;
	uint32_t flags;
	const char *nat; /* nat_addr, or NULL */
	int gone;        /* the flush removes it */
} flush_flows[] = {
	{ "flushed address as side a", FLUSHED4, 40000, REM_HI4, 80, IPPROTO_TCP, 0, NULL, 1 },
	{ "flushed address as side b", REM_LO4, 40001, FLUSHED4, 8080, IPPROTO_UDP, 0, NULL, 1 },
	{ "flushed IPv6 address", FLUSHED6, 40002, REM_HI6, 443, IPPROTO_TCP, 0, NULL, 1 },
	{ "service flow translated to it", VIP4, 80, REM_HI4, 40003, IPPROTO_TCP,
	  TERN_CT_F_NAT_FWD, FLUSHED4, 1 },
	{ "source-NATed flow to it", NODE4, 40004, FLUSHED_REM, 80, IPPROTO_TCP,
	  TERN_CT_F_NAT_REV | TERN_CT_F_SNAT, NODE4, 1 },
	{ "another pod's flow", POD_B4, 40005, REM_HI4, 80, IPPROTO_TCP, 0, NULL, 0 },
	{ "another pod's IPv6 flow", POD_B6, 40006, REM_HI6, 80, IPPROTO_UDP, 0, NULL, 0 },
	{ "service flow to another backend", VIP4, 80, REM_HI4, 40007, IPPROTO_TCP,
	  TERN_CT_F_NAT_FWD, POD_B4, 0 },
	{ "another source-NATed flow", NODE4, 40008, REM_HI4, 80, IPPROTO_TCP,
	  TERN_CT_F_NAT_REV | TERN_CT_F_SNAT, NODE4, 0 },
};

static int flush_fill(struct tern_gc *gc)
{
	int snat = bpf_map__fd(gc->maps.tern_nat_snat_v1);

	for (size_t i = 0; i < ARRAY_SIZE(flush_flows); i++) {
		const struct flush_flow *f = &flush_flows[i];
		struct tern_ct_key k = tct_key(f->a, f->pa, f->b, f->pb, f->proto);
		struct tern_ct_value v = {
			.created_ns = tnow_ns(), .last_seen_ns = tnow_ns(),
			.state = TERN_CT_ESTABLISHED, .flags = f->flags | TERN_CT_F_REPLIED,
		};
		struct tern_nat_snat half = { .port = htons(40000) };

		if (f->nat)
			taddr(f->nat, &v.nat_addr);
		taddr(REM_HI4, &half.addr);
		if (tct_put(&k, &v) ||
		    ((f->flags & TERN_CT_F_SNAT) && bpf_map_update_elem(snat, &k, &half, BPF_ANY)))
			return -1;
	}
	return 0;
}

/* The flush set: addrs, each with cutoff before (CLOCK_MONOTONIC ns). */
static void flush_set(struct tern_gc *gc, const char *const *addrs, size_t n, uint64_t before)
{
	int fd = bpf_map__fd(gc->maps.ct_flush_addrs);

	for (size_t i = 0; i < n; i++) {
		struct tern_addr a;

		taddr(addrs[i], &a);
		if (bpf_map_update_elem(fd, &a, &before, BPF_ANY))
			case_fail("filling the flush set: %s", strerror(errno));
	}
}

static void expect_flush(struct tern_gc *gc, unsigned long long deleted)
{
	unsigned long long d;
	char out[64];
	int err = iter_walk(gc->progs.tern_ct_flush, out, sizeof(out));

	if (err)
		case_fail("running the flush iterator: %s", strerror(-err));
	else if (sscanf(out, "%llu", &d) != 1 || d != deleted)
		case_fail("flush iterator wrote \"%.60s\", want \"%llu\"", out, deleted);
}

static void test_flush(struct tern_gc *gc)
{
	static const char *const addrs[] = { FLUSHED4, FLUSHED6, FLUSHED_REM };
	int snat = bpf_map__fd(gc->maps.tern_nat_snat_v1);
	unsigned n_gone = 0;

	for (size_t i = 0; i < ARRAY_SIZE(flush_flows); i++)
		n_gone += flush_flows[i].gone;

	case_begin("bpf/gc/flush-empty-set-keeps-all");
	tmaps_clear();
	if (flush_fill(gc))
		case_fail("filling the maps: %s", strerror(errno));
	expect_flush(gc, 0);
	if (tct_count() != (int)ARRAY_SIZE(flush_flows))
		case_fail("%d entries left of %zu", tct_count(), ARRAY_SIZE(flush_flows));
	case_end();

	/* the new holder's flows, made after its state was written, stay */
	case_begin("bpf/gc/flush-keeps-newer-flows");
	flush_set(gc, addrs, ARRAY_SIZE(addrs), tnow_ns() - 1000000000ULL);
	expect_flush(gc, 0);
	if (tct_count() != (int)ARRAY_SIZE(flush_flows))
		case_fail("%d entries left of %zu", tct_count(), ARRAY_SIZE(flush_flows));
	case_end();

	case_begin("bpf/gc/flush-addresses");
	flush_set(gc, addrs, ARRAY_SIZE(addrs), tnow_ns() + 1000000000ULL);
	expect_flush(gc, n_gone);
	for (size_t i = 0; i < ARRAY_SIZE(flush_flows); i++) {
		const struct flush_flow *f = &flush_flows[i];
		struct tern_ct_key k = tct_key(f->a, f->pa, f->b, f->pb, f->proto);
		struct tern_nat_snat half;
		struct tern_ct_value v;

		if ((tct_get(&k, &v) != 0) != f->gone)
			case_fail("%s: entry %s", f->what, f->gone ? "kept" : "deleted");
		if ((f->flags & TERN_CT_F_SNAT) &&
		    (bpf_map_lookup_elem(snat, &k, &half) != 0) != f->gone)
			case_fail("%s: source-NAT half %s", f->what, f->gone ? "kept" : "deleted");
	}
	case_end();

	/* the count starts from zero each walk; what is left stays */
	case_begin("bpf/gc/flush-second-walk");
	expect_flush(gc, 0);
	if (tct_count() != (int)(ARRAY_SIZE(flush_flows) - n_gone))
		case_fail("%d entries left, want %zu", tct_count(), ARRAY_SIZE(flush_flows) - n_gone);
	case_end();
	tmaps_clear();
}

void test_gc(void)
{
	struct tern_gc *gc = tern_gc__open();
	int err, n;

	case_begin("bpf/gc/load");
	if (!gc) {
		case_fail("tern_gc__open: %s", strerror(errno));
		case_end();
		return;
	}
	gc->rodata->ct_timeouts = (struct tern_ct_timeouts){
		.tcp_syn = T_SYN, .tcp_established = T_EST, .tcp_fin = T_FIN,
		.tcp_rst = T_RST, .udp = T_UDP, .icmp = T_ICMP, .other = T_OTHER,
	};
	err = bpf_map__reuse_fd(gc->maps.tern_ct_v1, tenv.ct);
	if (!err)
		err = tern_gc__load(gc);
	if (err)
		case_fail("loading tern_gc over the tc programs' map: %s", strerror(-err));
	case_end();
	if (err)
		goto out;

	case_begin("bpf/gc/empty-map");
	tmaps_clear();
	expect_walk(gc, 0, 0);
	case_end();

	case_begin("bpf/gc/expired-deleted-live-kept");
	tmaps_clear();
	n = gc_fill();
	if (n < 0)
		case_fail("filling tern_ct_v1: %s", strerror(errno));
	expect_walk(gc, (unsigned)n, (unsigned)n / NAGES);
	for (size_t k = 0; k < ARRAY_SIZE(kinds); k++) {
		for (int v6 = 0; v6 <= 1; v6++) {
			struct tern_ct_key live = gc_key(k, LIVE, v6), fut = gc_key(k, FUTURE, v6);
			struct tern_ct_key old = gc_key(k, EXPIRED, v6);
			struct tern_ct_value v;

			if (tct_get(&live, &v) || tct_get(&fut, &v))
				case_fail("proto %u state %s: a live entry was deleted", kinds[k].proto,
					  tct_state_name(kinds[k].state));
			if (tct_get(&old, &v) == 0)
				case_fail("proto %u state %s: an expired entry was kept",
					  kinds[k].proto, tct_state_name(kinds[k].state));
		}
	}
	case_end();

	/* the totals start from zero each walk */
	case_begin("bpf/gc/second-walk");
	expect_walk(gc, (unsigned)(n - n / NAGES), 0);
	case_end();
	tmaps_clear();
	test_flush(gc);
out:
	tern_gc__destroy(gc);
}
