/* tc program cost per packet, with BPF_PROG_TEST_RUN's repeat: tern's
 * programs on an established TCP flow (and a few other paths) divided by a
 * null tc program measured in the same run. Prints figures; never fails. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>
#include <linux/tcp.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <tern/ct.h>
#include <tern/ifstate.h>

#include "tc.skel.h"
#include "test/bench/bench_pkt.h"

#define REPEAT 2000000

/* An IPv4 TCP packet src:sport -> dst:dport with flags. */
static size_t tcp4(__u8 *buf, const char *src, const char *dst, __u16 sport, __u16 dport,
		   __u8 flags)
{
	__be32 s, d;

	inet_pton(AF_INET, src, &s);
	inet_pton(AF_INET, dst, &d);
	return bench_tcp4(buf, s, d, sport, dport, flags);
}

/* ns per run of prog over pkt (ctx: ifindex), best of 3 */
static double ns_per_pkt(int prog, void *pkt, size_t len, int ifindex, int *retval)
{
	double best = 1e18;

	for (int i = 0; i < 3; i++) {
		struct __sk_buff ctx = { .ifindex = ifindex, .ingress_ifindex = ifindex };
		__u8 out[256];
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = len,
			    .data_out = out, .data_size_out = sizeof(out), .ctx_in = &ctx,
			    .ctx_size_in = sizeof(ctx), .repeat = REPEAT);

		if (bpf_prog_test_run_opts(prog, &o)) {
			fprintf(stderr, "test_run: %s\n", strerror(errno));
			return -1;
		}
		*retval = o.retval;
		if (o.duration < best)
			best = o.duration; /* the kernel reports ns per repetition */
	}
	return best;
}

int main(void)
{
	struct tern_tc *skel;
	__u8 syn[256], synack[256], ack[256], other[256];
	size_t len;
	int lo, nullfd, rv;

	if (unshare(CLONE_NEWNET)) {
		perror("bench: unshare(CLONE_NEWNET)");
		return 1;
	}
	lo = if_nametoindex("lo");
	skel = tern_tc__open_and_load(); /* maps unpinned: private to this run */
	nullfd = bench_null_prog();
	if (!skel || nullfd < 0 || !lo) {
		fprintf(stderr, "bench: load failed: %s\n", strerror(errno));
		return 1;
	}
	/* lo plays the pod's host-side interface of 10.0.0.1 */
	struct tern_ifstate st = { .flags = TERN_IF_F_WORKLOAD, .slot = 1, .ep_id = 1 };

	inet_pton(AF_INET, "10.0.0.1", &st.ip4);
	bpf_map_update_elem(bpf_map__fd(skel->maps.tern_ifstate_v1), &lo, &st, BPF_ANY);

	int from_ep = bpf_program__fd(skel->progs.tern_from_ep);
	int to_ep = bpf_program__fd(skel->progs.tern_to_ep);

	len = tcp4(syn, "10.0.0.1", "10.0.0.2", 40000, 80, 0x02);
	tcp4(synack, "10.0.0.2", "10.0.0.1", 80, 40000, 0x12);
	tcp4(ack, "10.0.0.1", "10.0.0.2", 40000, 80, 0x10);
	tcp4(other, "10.0.0.1", "10.0.0.9", 40001, 80, 0x10);

	double base = ns_per_pkt(nullfd, ack, len, lo, &rv);
	/* open the flow so that `ack` is established */
	struct __sk_buff ctx = { .ifindex = lo, .ingress_ifindex = lo };
	LIBBPF_OPTS(bpf_test_run_opts, o1, .data_in = syn, .data_size_in = len, .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx));
	bpf_prog_test_run_opts(from_ep, &o1);
	LIBBPF_OPTS(bpf_test_run_opts, o2, .data_in = synack, .data_size_in = len, .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx));
	bpf_prog_test_run_opts(to_ep, &o2);
	bpf_prog_test_run_opts(from_ep, &o1);

	double est = ns_per_pkt(from_ep, ack, len, lo, &rv);
	int est_rv = rv;
	double est_rev = ns_per_pkt(to_ep, synack, len, lo, &rv);
	/* spoofed source: dropped early */
	tcp4(other, "10.0.0.7", "10.0.0.2", 40001, 80, 0x10);
	double spoof = ns_per_pkt(from_ep, other, len, lo, &rv);

	printf("tc program cost per packet (BPF_PROG_TEST_RUN, %d repeats, best of 3)\n", REPEAT);
	printf("  %-44s %7.1f ns   1.00x\n", "null tc program (baseline)", base);
	printf("  %-44s %7.1f ns  %5.2fx  (verdict %d)\n", "tern_from_ep, established TCP (pod->)", est,
	       est / base, est_rv);
	printf("  %-44s %7.1f ns  %5.2fx\n", "tern_to_ep, established TCP (->pod)", est_rev,
	       est_rev / base);
	printf("  %-44s %7.1f ns  %5.2fx\n", "tern_from_ep, spoofed source (drop)", spoof,
	       spoof / base);
	tern_tc__destroy(skel);
	close(nullfd);
	return 0;
}
