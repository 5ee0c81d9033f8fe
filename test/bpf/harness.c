/* The BPF test harness (see harness.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "harness.h" /* the ABI types the skeleton names */
#include "tc.skel.h"
#include "agent/dataplane.h"

struct tenv tenv;
static struct tern_tc *tc;

static void wire_detach(void);
static int wire_fd = -1; /* run_wire's; kept open: closing one waits for RCU */

/* --- reporting ------------------------------------------------------- */

static char case_name[160];
static char case_first[512];  /* the first failure: goes on the FAIL line */
static char *case_details;    /* everything else, shown below it */
static size_t case_details_len;
static FILE *case_out;
static int case_nfail;
static int n_passed, n_failed;

void case_begin(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(case_name, sizeof(case_name), fmt, ap);
	va_end(ap);
	case_first[0] = '\0';
	case_nfail = 0;
	case_out = open_memstream(&case_details, &case_details_len);
	if (!case_out) {
		perror("open_memstream");
		exit(1);
	}
}

static void case_vnote(const char *fmt, va_list ap)
{
	fputs("    ", case_out);
	vfprintf(case_out, fmt, ap);
	fputc('\n', case_out);
}

void case_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (case_nfail++ == 0)
		vsnprintf(case_first, sizeof(case_first), fmt, ap);
	else
		case_vnote(fmt, ap);
	va_end(ap);
}

void case_note(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	case_vnote(fmt, ap);
	va_end(ap);
}

int case_failed(void)
{
	return case_nfail > 0;
}

void case_end(void)
{
	fclose(case_out);
	if (case_nfail) {
		printf("FAIL %s: %s\n", case_name, case_first);
		if (case_details_len)
			fputs(case_details, stdout);
		n_failed++;
	} else {
		printf("ok %s\n", case_name);
		n_passed++;
	}
	free(case_details);
	case_details = NULL;
	fflush(stdout);
}

int cases_failed(void)
{
	return n_failed;
}

int cases_passed(void)
{
	return n_passed;
}

/* --- setup ------------------------------------------------------------ */

static const struct iface_def {
	const char *name;    /* host side; its peer is name + "p" */
	const char *mac;     /* host side */
	const char *pod_mac; /* the peer, the pod's eth0 */
	int has_state;
	uint32_t flags, slot;
	const char *ip4, *ip6;
} ifaces[IF_COUNT] = {
	[IF_A] = { "tpa", "02:00:00:00:aa:00", "02:00:00:00:aa:01", 1,
		   TERN_IF_F_WORKLOAD, 1, POD_A4, POD_A6 },
	[IF_B] = { "tpb", "02:00:00:00:bb:00", "02:00:00:00:bb:01", 1,
		   TERN_IF_F_WORKLOAD, 2, POD_B4, POD_B6 },
	[IF_DATA] = { "tdata", "02:00:00:00:dd:00", "02:00:00:00:dd:01", 1,
		      TERN_IF_F_DATA, 3, NULL, NULL },
	[IF_V6ONLY] = { "tpc", "02:00:00:00:cc:00", "02:00:00:00:cc:01", 1,
			TERN_IF_F_WORKLOAD, 4, NULL, POD_C6 },
	[IF_V4ONLY] = { "tpd", "02:00:00:00:de:00", "02:00:00:00:de:01", 1,
			TERN_IF_F_WORKLOAD, 5, POD_D4, NULL },
	[IF_NOSTATE] = { "tnos", "02:00:00:00:0e:00", "02:00:00:00:0e:01", 0, 0, 0,
			 NULL, NULL },
	[IF_BIGSLOT] = { "tbig", "02:00:00:00:0f:00", "02:00:00:00:0f:01", 1,
			 TERN_IF_F_WORKLOAD, 5000, POD_E4, NULL },
};

int tenv_cmd(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = system(cmd);
	if (rc != 0)
		fprintf(stderr, "bpf_tests: `%s` failed (status %d)\n", cmd, rc);
	return rc ? -1 : 0;
}

static void mac_parse(const char *s, uint8_t mac[6])
{
	unsigned int m[6];

	if (sscanf(s, "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]) != 6)
		abort();
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)m[i];
}

void iface_macs(enum iface_id ifc, uint8_t host[6], uint8_t pod[6])
{
	mac_parse(ifaces[ifc].mac, host);
	mac_parse(ifaces[ifc].pod_mac, pod);
}

static int write_file(const char *path, const char *s)
{
	FILE *f = fopen(path, "w");
	int err = 0;

	if (!f || fputs(s, f) < 0)
		err = -errno;
	if (f && fclose(f) && !err)
		err = -errno;
	if (err)
		fprintf(stderr, "bpf_tests: writing %s: %s\n", path, strerror(-err));
	return err;
}

static int libbpf_quiet(enum libbpf_print_level lvl, const char *fmt, va_list ap)
{
	if (lvl == LIBBPF_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, ap); /* warnings carry the verifier log */
}

/* The node, in this process's private netns:
 *
 *   [pod A] tpap ==veth== tpa    10.1.0.2/32 fd00:1::2/128 dev tpa, neighbour permanent
 *   [pod B] tpbp ==veth== tpb    10.1.0.3/32 fd00:1::3/128 dev tpb, ...
 *   [pod C] tpcp ==veth== tpc    (IPv6 only)   [pod D] tpdp ==veth== tpd (IPv4 only)
 *   [wire]  tdatap ==veth== tdata                (a data interface)
 *           tnosp ==veth== tnos, tbigp ==veth== tbig (no ifstate; a slot too big)
 *
 * Each pod is a /32 (/128) route via its host side plus a permanent
 * neighbour entry, as tern-cni wires it; the fast path's FIB lookups use
 * them. Forwarding is on. The peers have IPv6 off: they send nothing of
 * their own (DAD, MLD) across a hook run_wire attaches. */
static int tenv_links(void)
{
	for (int i = 0; i < IF_COUNT; i++) {
		const struct iface_def *d = &ifaces[i];
		char peer[IF_NAMESIZE], path[128];

		snprintf(peer, sizeof(peer), "%sp", d->name);
		snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6", peer);
		if (tenv_cmd("ip link add %s address %s type veth peer name %s address %s",
			     d->name, d->mac, peer, d->pod_mac) ||
		    write_file(path, "1") ||
		    tenv_cmd("ip link set %s up && ip link set %s up", d->name, peer))
			return -1;
		if (d->ip4 && (tenv_cmd("ip route add %s/32 dev %s", d->ip4, d->name) ||
			       tenv_cmd("ip neigh add %s lladdr %s dev %s nud permanent",
					d->ip4, d->pod_mac, d->name)))
			return -1;
		if (d->ip6 && (tenv_cmd("ip -6 route add %s/128 dev %s", d->ip6, d->name) ||
			       tenv_cmd("ip -6 neigh add %s lladdr %s dev %s nud permanent",
					d->ip6, d->pod_mac, d->name)))
			return -1;
		tenv.ifindex[i] = (int)if_nametoindex(d->name);
		tenv.peer_ifindex[i] = (int)if_nametoindex(peer);
		if (!tenv.ifindex[i] || !tenv.peer_ifindex[i]) {
			fprintf(stderr, "bpf_tests: if_nametoindex(%s): %s\n", d->name,
				strerror(errno));
			return -1;
		}
	}
	/* a backend on another node, reached over the wire as a node would */
	if (tenv_cmd("ip route add %s/32 dev tdata && ip neigh add %s lladdr %s dev tdata "
		     "nud permanent", REM_BE4, REM_BE4, ifaces[IF_DATA].pod_mac) ||
	    tenv_cmd("ip -6 route add %s/128 dev tdata && ip -6 neigh add %s lladdr %s dev "
		     "tdata nud permanent", REM_BE6, REM_BE6, ifaces[IF_DATA].pod_mac))
		return -1;
	if (write_file("/proc/sys/net/ipv4/conf/all/forwarding", "1") ||
	    write_file("/proc/sys/net/ipv6/conf/all/forwarding", "1"))
		return -1;
	return 0;
}

static int tenv_ifstate(void)
{
	for (int i = 0; i < IF_COUNT; i++) {
		const struct iface_def *d = &ifaces[i];
		struct tern_ifstate st = { .flags = d->flags, .slot = d->slot, .ep_id = 100 + i };
		__u32 key = (__u32)tenv.ifindex[i];

		tenv.slot[i] = d->has_state && d->slot < TERN_SLOTS_DEFAULT ? d->slot : 0;
		if (!d->has_state)
			continue;
		if (d->ip4 && inet_pton(AF_INET, d->ip4, &st.ip4) != 1)
			return -1;
		if (d->ip6 && inet_pton(AF_INET6, d->ip6, &st.ip6) != 1)
			return -1;
		if (bpf_map_update_elem(tenv.ifstate, &key, &st, BPF_NOEXIST)) {
			fprintf(stderr, "bpf_tests: ifstate update: %s\n", strerror(errno));
			return -1;
		}
	}
	return 0;
}

int tenv_setup(void)
{
	int err;

	libbpf_set_print(libbpf_quiet);
	if (tenv_links())
		return -1;
	tc = tern_tc__open();
	if (!tc) {
		fprintf(stderr, "bpf_tests: tern_tc__open: %s\n", strerror(errno));
		return -1;
	}
	/* no pin paths are set: the maps live as long as this process */
	tc->rodata->ct_timeouts = (struct tern_ct_timeouts){
		.tcp_syn = T_SYN, .tcp_established = T_EST, .tcp_fin = T_FIN,
		.tcp_rst = T_RST, .udp = T_UDP, .icmp = T_ICMP, .other = T_OTHER,
	};
	tc->rodata->snat_port_min = T_SNAT_MIN;
	tc->rodata->snat_port_max = T_SNAT_MAX;
	err = tern_tc__load(tc);
	if (!err)
		err = tc__install_continuations(tc);
	if (err) {
		fprintf(stderr, "bpf_tests: tern_tc__load: %s\n", strerror(-err));
		return -1;
	}
	tenv.prog[P_FROM_EP] = bpf_program__fd(tc->progs.tern_from_ep);
	tenv.prog[P_TO_EP] = bpf_program__fd(tc->progs.tern_to_ep);
	tenv.prog[P_HOST_IN] = bpf_program__fd(tc->progs.tern_host_in);
	tenv.prog[P_HOST_OUT] = bpf_program__fd(tc->progs.tern_host_out);
	tenv.ct = bpf_map__fd(tc->maps.tern_ct_v1);
	tenv.ifstate = bpf_map__fd(tc->maps.tern_ifstate_v1);
	tenv.ep = bpf_map__fd(tc->maps.tern_ep_v1);
	tenv.counter = bpf_map__fd(tc->maps.tern_counter_v1);
	tenv.frag = bpf_map__fd(tc->maps.tern_frag_v1);
	tenv.nat_fe = bpf_map__fd(tc->maps.tern_nat_fe_v1);
	tenv.nat_be = bpf_map__fd(tc->maps.tern_nat_be_v1);
	tenv.nat_aff = bpf_map__fd(tc->maps.tern_nat_aff_v1);
	tenv.nat_gone = bpf_map__fd(tc->maps.tern_nat_gone_v1);
	/* the node's own addresses, as the agent writes them from its Node */
	for (__u32 i = 0; i < 2; i++) {
		struct tern_addr a;

		taddr(i ? NODE6 : NODE4, &a);
		bpf_map_update_elem(bpf_map__fd(tc->maps.tern_node_v1), &i, &a, BPF_ANY);
	}
	tenv.jmp = bpf_map__fd(tc->maps.tern_jmp_v1);
	tenv.polctx = bpf_map__fd(tc->maps.tern_polctx_v2);
	tenv.ipset = bpf_map__fd(tc->maps.tern_ipset_v1);
	tenv.polcnt = bpf_map__fd(tc->maps.tern_polcnt_v2);
	tenv.ncpu = libbpf_num_possible_cpus();
	if (tenv.ncpu <= 0) {
		fprintf(stderr, "bpf_tests: possible CPUs: %s\n", strerror(-tenv.ncpu));
		return -1;
	}
	return tenv_ifstate();
}

void tenv_teardown(void)
{
	/* the maps and programs go with the skeleton; the interfaces with
	 * the netns when this process exits */
	wire_detach();
	if (wire_fd >= 0)
		close(wire_fd);
	wire_fd = -1;
	tern_tc__destroy(tc);
	tc = NULL;
}

/* --- running ---------------------------------------------------------- */

static const char *const prog_names[P_COUNT] = {
	"tern_from_ep", "tern_to_ep", "tern_host_in", "tern_host_out",
};

const char *tprog_name(enum prog_id prog)
{
	return prog_names[prog];
}

static const char *const counter_names[TERN_CNT_MAX] = {
#define X_NAME(id, name, help) [TERN_CNT_##id] = name,
	TERN_COUNTERS(X_NAME)
#undef X_NAME
};

/* Every watched slot's row, summed over CPUs. */
static int counters_read(uint64_t sum[NSLOTS][TERN_CNT_MAX])
{
	static struct tern_counters *vals;

	if (!vals)
		vals = calloc(tenv.ncpu, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	memset(sum, 0, sizeof(uint64_t) * NSLOTS * TERN_CNT_MAX);
	for (__u32 slot = 0; slot < NSLOTS; slot++) {
		if (bpf_map_lookup_elem(tenv.counter, &slot, vals))
			return -errno;
		for (int cpu = 0; cpu < tenv.ncpu; cpu++)
			for (int id = 0; id < TERN_CNT_MAX; id++)
				sum[slot][id] += vals[cpu].c[id];
	}
	return 0;
}

static void delta(struct run *r, uint64_t before[NSLOTS][TERN_CNT_MAX],
		  uint64_t after[NSLOTS][TERN_CNT_MAX])
{
	for (int s = 0; s < NSLOTS; s++)
		for (int i = 0; i < TERN_CNT_MAX; i++)
			r->delta[s][i] = (int64_t)(after[s][i] - before[s][i]);
}

int run_prog_gso(enum prog_id prog, enum iface_id ifc, const uint8_t *in, size_t len,
		 uint32_t gso_size, struct run *r)
{
	static uint64_t before[NSLOTS][TERN_CNT_MAX], after[NSLOTS][TERN_CNT_MAX];
	/* ingress hooks see the interface as both; egress ones see what the
	 * stack forwarded in from the wire, or, with tenv.from_node, what the
	 * node itself sent (no ingress interface) */
	struct __sk_buff ctx = {
		.ifindex = (__u32)tenv.ifindex[ifc],
		.ingress_ifindex = prog == P_FROM_EP || prog == P_HOST_IN ?
					   (__u32)tenv.ifindex[ifc] :
				   tenv.from_node ? 0 : (__u32)tenv.ifindex[IF_DATA],
		.gso_size = gso_size,
		.gso_segs = gso_size ? (__u32)(len / gso_size + 1) : 0,
	};
	LIBBPF_OPTS(bpf_test_run_opts, opts,
		    .data_in = in,
		    .data_size_in = (__u32)len,
		    .data_out = r->out,
		    .data_size_out = sizeof(r->out),
		    .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx),
		    .repeat = 1);
	int err;

	memset(r, 0, sizeof(*r));
	err = counters_read(before);
	if (err)
		return err;
	if (bpf_prog_test_run_opts(tenv.prog[prog], &opts))
		return -errno;
	r->verdict = (int)opts.retval;
	r->out_len = opts.data_size_out;
	err = counters_read(after);
	if (err)
		return err;
	delta(r, before, after);
	return 0;
}

int run_prog_raw(enum prog_id prog, enum iface_id ifc, const uint8_t *in, size_t len,
		 struct run *r)
{
	return run_prog_gso(prog, ifc, in, len, 0, r);
}

int run_prog(enum prog_id prog, enum iface_id ifc, const uint8_t *in, size_t len,
	     struct run *r)
{
	int err = run_prog_raw(prog, ifc, in, len, r);

	if (err)
		case_fail("BPF_PROG_TEST_RUN %s (%zu bytes): %s", prog_names[prog], len,
			  strerror(-err));
	return err;
}

/* --- real frames --------------------------------------------------------
 * BPF_PROG_TEST_RUN refuses IP frames shorter than their IP header, yet
 * such frames do reach tc on a real interface. For those, the program is
 * attached to the veth and the frame sent through it: an ingress hook gets
 * it from the peer, an egress hook from a packet socket on the interface. */

static enum prog_id wire_prog = P_COUNT;
static enum iface_id wire_ifc;

static int is_ingress(enum prog_id prog)
{
	return prog == P_FROM_EP || prog == P_HOST_IN;
}

static void wire_detach(void)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);

	if (wire_prog == P_COUNT)
		return;
	hook.ifindex = tenv.ifindex[wire_ifc];
	bpf_tc_hook_destroy(&hook); /* the clsact qdisc, and with it the filter */
	wire_prog = P_COUNT;
}

static int wire_attach(enum prog_id prog, enum iface_id ifc)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = tenv.ifindex[ifc],
		    .attach_point = is_ingress(prog) ? BPF_TC_INGRESS : BPF_TC_EGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .prog_fd = tenv.prog[prog]);
	int err;

	if (wire_prog == prog && wire_ifc == ifc)
		return 0;
	wire_detach();
	err = bpf_tc_hook_create(&hook);
	if (err && err != -EEXIST)
		return err;
	wire_prog = prog;
	wire_ifc = ifc;
	return bpf_tc_attach(&hook, &opts);
}

void run_wire_end(void)
{
	wire_detach();
}

int run_wire(enum prog_id prog, enum iface_id ifc, const uint8_t *in, size_t len,
	     struct run *r)
{
	static uint64_t before[NSLOTS][TERN_CNT_MAX], after[NSLOTS][TERN_CNT_MAX];
	struct sockaddr_ll to = {
		.sll_family = AF_PACKET,
		.sll_ifindex = is_ingress(prog) ? tenv.peer_ifindex[ifc] : tenv.ifindex[ifc],
		.sll_halen = 6,
	};
	int err;

	memset(r, 0, sizeof(*r));
	r->verdict = -1; /* not visible from here */
	err = wire_attach(prog, ifc);
	if (err)
		return err;
	if (wire_fd < 0)
		wire_fd = socket(AF_PACKET, SOCK_RAW, 0);
	if (wire_fd < 0)
		return -errno;
	memcpy(to.sll_addr, in, 6);
	err = counters_read(before);
	/* ENOBUFS: an egress hook dropped it, which the counters tell apart */
	if (!err && sendto(wire_fd, in, len, 0, (struct sockaddr *)&to, sizeof(to)) < 0 &&
	    errno != ENOBUFS)
		err = -errno;
	/* the frame crosses the veth through the backlog: wait for a verdict */
	for (int i = 0; !err && i < 500; i++) {
		err = counters_read(after);
		delta(r, before, after);
		if (r->delta[tenv.slot[ifc]][TERN_CNT_DROP_MALFORMED] ||
		    r->delta[tenv.slot[ifc]][TERN_CNT_TO_STACK])
			break;
		usleep(1000);
	}
	return err;
}

/* --- checks ------------------------------------------------------------ */

static const char *verdict_name(int v)
{
	switch (v) {
	case TC_ACT_OK:
		return "TC_ACT_OK";
	case TC_ACT_SHOT:
		return "TC_ACT_SHOT";
	case TC_ACT_REDIRECT:
		return "TC_ACT_REDIRECT";
	}
	return "?";
}

void expect_verdict(const struct run *r, int want)
{
	if (r->verdict != want)
		case_fail("verdict %d (%s), want %d (%s)", r->verdict, verdict_name(r->verdict),
			  want, verdict_name(want));
}

void expect_counters(const struct run *r, enum iface_id ifc, uint32_t mask)
{
	char msg[512];
	size_t n = 0;

	msg[0] = '\0';
	for (int s = 0; s < NSLOTS; s++) {
		for (int i = 0; i < TERN_CNT_MAX; i++) {
			int64_t want = s == (int)tenv.slot[ifc] && ((mask >> i) & 1);

			if (r->delta[s][i] == want || n >= sizeof(msg) - 1)
				continue;
			n += (size_t)snprintf(msg + n, sizeof(msg) - n, "%sslot %d %s %+lld (want %+lld)",
					      n ? ", " : "", s,
					      counter_names[i] ? counter_names[i] : "?",
					      (long long)r->delta[s][i], (long long)want);
		}
	}
	if (n)
		case_fail("counters: %s", msg);
}

static void hex_rows(const char *tag, const uint8_t *b, size_t len, const uint8_t *other,
		     size_t olen, size_t row)
{
	char line[128], marks[128];
	size_t n = 0, m = 0;
	int differs = 0;

	n += (size_t)snprintf(line + n, sizeof(line) - n, "%s %04zx:", tag, row);
	m += (size_t)snprintf(marks + m, sizeof(marks) - m, "%*s", (int)n, "");
	for (size_t i = row; i < row + 16; i++) {
		int d = i < len && (i >= olen || b[i] != other[i]);

		differs |= d || (i < olen && i >= len);
		if (i < len)
			n += (size_t)snprintf(line + n, sizeof(line) - n, " %02x", b[i]);
		else
			n += (size_t)snprintf(line + n, sizeof(line) - n, "   ");
		m += (size_t)snprintf(marks + m, sizeof(marks) - m, "%s", d ? " ^^" : "   ");
	}
	case_note("%s", line);
	if (differs && strcmp(tag, "got ") == 0)
		case_note("%s", marks);
}

/* A hex diff, want above got, 16 bytes a row, differing bytes marked. */
void expect_bytes(const char *what, const uint8_t *got, size_t glen,
		  const uint8_t *want, size_t wlen)
{
	size_t first = 0, max = glen > wlen ? glen : wlen;

	if (glen == wlen && memcmp(got, want, glen) == 0)
		return;
	while (first < glen && first < wlen && got[first] == want[first])
		first++;
	case_fail("%s: %zu bytes, want %zu; first difference at byte %zu", what, glen, wlen,
		  first);
	for (size_t row = 0; row < max; row += 16) {
		hex_rows("want", want, wlen, got, glen, row);
		hex_rows("got ", got, glen, want, wlen, row);
	}
}

void expect_csums(const struct run *r)
{
	char why[160];

	if (pkt_check_csums(r->out, r->out_len, why, sizeof(why)))
		case_fail("output checksum: %s", why);
}

void expect_run(const struct run *r, const struct pkt *in, int verdict,
		enum iface_id ifc, uint32_t mask)
{
	expect_verdict(r, verdict);
	expect_counters(r, ifc, mask);
	if (r->verdict == TC_ACT_OK) {
		expect_bytes("output", r->out, r->out_len, in->b, in->len);
		expect_csums(r);
	} else if (r->verdict == TC_ACT_REDIRECT) {
		expect_csums(r);
	}
}

/* --- maps -------------------------------------------------------------- */

static void map_clear(int fd, size_t ksz)
{
	uint8_t key[64];

	/* always delete the first key: deleting while walking skips some */
	while (ksz <= sizeof(key) && bpf_map_get_next_key(fd, NULL, key) == 0)
		if (bpf_map_delete_elem(fd, key))
			break;
}

void tmaps_clear(void)
{
	map_clear(tenv.ct, sizeof(struct tern_ct_key));
	map_clear(tenv.frag, sizeof(struct tern_frag_key));
}

int tct_count(void)
{
	struct tern_ct_key k, next;
	int n = 0;

	for (int err = bpf_map_get_next_key(tenv.ct, NULL, &next); !err;
	     err = bpf_map_get_next_key(tenv.ct, &k, &next)) {
		k = next;
		n++;
	}
	return n;
}

int tct_get(const struct tern_ct_key *k, struct tern_ct_value *v)
{
	return bpf_map_lookup_elem(tenv.ct, k, v) ? -errno : 0;
}

int tct_put(const struct tern_ct_key *k, const struct tern_ct_value *v)
{
	return bpf_map_update_elem(tenv.ct, k, v, BPF_ANY) ? -errno : 0;
}

void taddr(const char *s, struct tern_addr *a)
{
	memset(a, 0, sizeof(*a));
	if (strchr(s, ':')) {
		if (inet_pton(AF_INET6, s, a->b) == 1)
			return;
	} else {
		__u32 v4;

		if (inet_pton(AF_INET, s, &v4) == 1) {
			tern_addr_set_v4(a, v4);
			return;
		}
	}
	fprintf(stderr, "bpf_tests: bad address %s\n", s);
	abort();
}

struct tern_ct_key tct_key(const char *a, uint16_t pa, const char *b, uint16_t pb,
			  uint8_t proto)
{
	struct tern_ct_key k;

	memset(&k, 0, sizeof(k));
	taddr(a, &k.addr_a);
	taddr(b, &k.addr_b);
	k.port_a = htons(pa);
	k.port_b = htons(pb);
	k.proto = proto;
	return k;
}

struct tern_ct_key tct_key_of(const struct pkt_spec *s)
{
	uint8_t src[18], dst[18]; /* address, then port: both in network order */
	struct tern_addr a;
	uint16_t sport = s->sport, dport = s->dport;
	uint8_t proto = s->proto;

	if (proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6) {
		/* echo: the identifier is the requester's port, 0 the responder's */
		int request = s->type == 8 || s->type == 128;

		sport = request ? s->id : 0;
		dport = request ? 0 : s->id;
	} else if (proto != IPPROTO_TCP && proto != IPPROTO_UDP && proto != IPPROTO_SCTP) {
		sport = dport = 0;
	}
	taddr(s->src, &a);
	memcpy(src, a.b, 16);
	taddr(s->dst, &a);
	memcpy(dst, a.b, 16);
	src[16] = sport >> 8;
	src[17] = sport & 0xff;
	dst[16] = dport >> 8;
	dst[17] = dport & 0xff;
	if (memcmp(src, dst, sizeof(src)) <= 0)
		return tct_key(s->src, sport, s->dst, dport, proto);
	return tct_key(s->dst, dport, s->src, sport, proto);
}

const char *tct_state_name(int state)
{
	static const char *const names[] = {
		"NEW", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT", "TIME_WAIT", "CLOSE",
	};

	if (state < 0)
		return "(no entry)";
	return state < (int)ARRAY_SIZE(names) ? names[state] : "?";
}

static void key_str(const struct tern_ct_key *k, char *buf, size_t n)
{
	char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN];

	inet_ntop(AF_INET6, k->addr_a.b, a, sizeof(a));
	inet_ntop(AF_INET6, k->addr_b.b, b, sizeof(b));
	snprintf(buf, n, "[%s]:%u <-> [%s]:%u proto %u", a, ntohs(k->port_a), b,
		 ntohs(k->port_b), k->proto);
}

static void note_ct_dump(void)
{
	struct tern_ct_key k, next;
	struct tern_ct_value v;
	char ks[200];

	case_note("tern_ct_v1 holds %d entries:", tct_count());
	for (int err = bpf_map_get_next_key(tenv.ct, NULL, &next); !err;
	     err = bpf_map_get_next_key(tenv.ct, &k, &next)) {
		k = next;
		key_str(&k, ks, sizeof(ks));
		if (bpf_map_lookup_elem(tenv.ct, &k, &v) == 0)
			case_note("  %s: %s flags %#x", ks, tct_state_name(v.state), v.flags);
	}
}

void expect_ct(const struct tern_ct_key *k, int state, uint32_t flags)
{
	struct tern_ct_value v;
	char ks[200];

	key_str(k, ks, sizeof(ks));
	if (tct_get(k, &v)) {
		case_fail("no conntrack entry %s", ks);
		note_ct_dump();
		return;
	}
	if (v.state != state || v.flags != flags)
		case_fail("conntrack %s: state %s flags %#x, want %s flags %#x", ks,
			  tct_state_name(v.state), v.flags, tct_state_name(state), flags);
}

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t tnow_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

uint64_t tstamp_floor_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC_COARSE);
}

/* --- IPv6 twins of IPv4 specs ------------------------------------------ */

static const char *const addr_pairs[][2] = {
	{ POD_A4, POD_A6 }, { POD_B4, POD_B6 }, { REM_LO4, REM_LO6 },
	{ REM_HI4, REM_HI6 }, { ROUTER4, ROUTER6 }, { "10.1.0.99", "fd00:1::99" },
	{ "10.1.0.7", "fd00:1::7" }, { "10.1.0.8", "fd00:1::8" }, { "10.1.0.9", "fd00:1::9" },
	{ "10.1.0.10", "fd00:1::a" }, { VIP4, VIP6 }, { VIP_LO4, VIP_LO6 }, { NODE4, NODE6 },
	{ EXT4, EXT6 }, { REM_BE4, REM_BE6 },
};

static const char *addr_to6(const char *a)
{
	for (size_t i = 0; i < ARRAY_SIZE(addr_pairs); i++)
		if (strcmp(a, addr_pairs[i][0]) == 0)
			return addr_pairs[i][1];
	fprintf(stderr, "bpf_tests: no IPv6 twin for %s\n", a);
	abort();
}

struct pkt_spec spec_to6(const struct pkt_spec *s, struct pkt_spec *quote_buf)
{
	struct pkt_spec r = *s;

	if (s->family != 4 || s->ip_opts) {
		fprintf(stderr, "bpf_tests: spec_to6 takes IPv4 specs without options\n");
		abort();
	}
	r.family = 6;
	r.src = addr_to6(s->src);
	r.dst = addr_to6(s->dst);
	if (s->proto == IPPROTO_ICMP) {
		r.proto = IPPROTO_ICMPV6;
		r.code = 0;
		switch (s->type) {
		case 8:
			r.type = 128;
			break;
		case 0:
			r.type = 129;
			break;
		case 3: /* port unreachable, or fragmentation needed */
			r.type = s->code == 4 ? 2 : 1;
			r.code = s->code == 3 ? 4 : 0;
			break;
		case 11:
			r.type = 3;
			break;
		case 12:
			r.type = 4;
			break;
		default:
			fprintf(stderr, "bpf_tests: no ICMPv6 twin for ICMP type %u\n", s->type);
			abort();
		}
	}
	if (s->quote) {
		*quote_buf = spec_to6(s->quote, quote_buf + 1);
		r.quote = quote_buf;
		/* a v6 header is 20 bytes longer: quote the same L4 bytes */
		if (s->quote_len)
			r.quote_len = s->quote_len + 20;
	}
	return r;
}

/* --- single-packet tables ---------------------------------------------- */

static void run_pcase(const char *group, const struct pcase *c, int v6)
{
	struct pkt_spec spec = c->spec, pre, qbuf[8];
	const struct pkt_spec *prep = c->pre;
	struct pkt p;
	struct run r;
	int err;

	if (v6) {
		spec = spec_to6(&c->spec, qbuf);
		if (c->pre) {
			pre = spec_to6(c->pre, qbuf + 4);
			prep = &pre;
		}
	}
	case_begin("bpf/%s/%s%s", group, c->name, v6 ? "/v6" : "");
	tmaps_clear();
	if (prep) {
		pkt_build(&p, prep);
		if (run_prog(c->pre_prog, IF_A, p.b, p.len, &r) == 0 && r.verdict != TC_ACT_OK)
			case_fail("the packet opening the flow: verdict %d", r.verdict);
	}
	pkt_build(&p, &spec);
	if (c->mangle)
		c->mangle(&p);
	err = run_prog_gso(c->prog, c->ifc, p.b, p.len, c->gso_size, &r);
	if (err) {
		case_fail("BPF_PROG_TEST_RUN %s: %s", tprog_name(c->prog), strerror(-err));
	} else {
		expect_run(&r, &p, c->verdict, c->ifc, c->cnt);
		if (c->ct == CT_NONE && tct_count() != 0) {
			case_fail("conntrack: %d entries, want none", tct_count());
			note_ct_dump();
		}
		if (c->ct == CT_ONE) {
			struct tern_ct_key k = tct_key_of(prep ? prep : &spec);
			struct tern_ct_value v;
			char ks[200];

			key_str(&k, ks, sizeof(ks));
			if (tct_get(&k, &v) || tct_count() != 1) {
				case_fail("conntrack: want exactly %s", ks);
				note_ct_dump();
			} else if (v.state != c->ct_state) {
				case_fail("conntrack %s: state %s, want %s", ks,
					  tct_state_name(v.state), tct_state_name(c->ct_state));
			}
		}
	}
	case_end();
}

void run_pcases(const char *group, const struct pcase *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		run_pcase(group, &c[i], 0);
		if (c[i].both)
			run_pcase(group, &c[i], 1);
	}
}
