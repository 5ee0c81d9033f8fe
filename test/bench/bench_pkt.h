/* Packets and a baseline for the BPF_PROG_TEST_RUN benchmarks. */
#ifndef TERN_BENCH_PKT_H
#define TERN_BENCH_PKT_H

#include <string.h>
#include <arpa/inet.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <linux/tcp.h>
#include <bpf/bpf.h>

static inline __u16 bench_csum(const void *p, size_t len)
{
	const __u8 *b = p;
	__u32 sum = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (b[i] << 8) | b[i + 1];
	if (len & 1)
		sum += b[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return ~sum;
}

/* An IPv4 TCP packet saddr:sport -> daddr:dport (NBO addresses) with
 * flags, 64 bytes of payload; its length. */
static inline size_t bench_tcp4(__u8 *buf, __be32 saddr, __be32 daddr, __u16 sport,
				__u16 dport, __u8 flags)
{
	struct ethhdr *eth = (void *)buf;
	struct iphdr *ip = (void *)(eth + 1);
	struct tcphdr *th = (void *)(ip + 1);
	size_t len = sizeof(*eth) + sizeof(*ip) + sizeof(*th) + 64;

	memset(buf, 0, len);
	eth->h_proto = htons(ETH_P_IP);
	ip->version = 4;
	ip->ihl = 5;
	ip->ttl = 64;
	ip->protocol = IPPROTO_TCP;
	ip->tot_len = htons(len - sizeof(*eth));
	ip->saddr = saddr;
	ip->daddr = daddr;
	ip->check = htons(bench_csum(ip, sizeof(*ip)));
	th->source = htons(sport);
	th->dest = htons(dport);
	th->doff = 5;
	((__u8 *)th)[13] = flags;
	return len;
}

/* The baseline: a tc program that only returns TC_ACT_OK. fd or -errno. */
static inline int bench_null_prog(void)
{
	struct bpf_insn insns[] = {
		{ .code = 0xb7, .dst_reg = 0, .imm = TC_ACT_OK }, /* r0 = TC_ACT_OK */
		{ .code = 0x95 },                                  /* exit */
	};

	return bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, "null", "GPL", insns, 2, NULL);
}

#endif
