/* Includes, constants and load-time settings every tern BPF object shares. */
#ifndef TERN_BPF_COMMON_H
#define TERN_BPF_COMMON_H

#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/in.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <linux/icmpv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include <tern/addr.h>
#include <tern/ct.h>
#include <tern/counters.h>
#include <tern/ifstate.h>
#include <tern/frag.h>
#include <tern/nat.h>
#include <tern/policy.h>

#define AF_INET 2
#define AF_INET6 10
#define NSEC_PER_SEC 1000000000ULL

/* ICMPv4 types (linux/icmp.h drags in libc's socket headers) */
#define ICMP_ECHOREPLY 0
#define ICMP_DEST_UNREACH 3
#define ICMP_SOURCE_QUENCH 4
#define ICMP_ECHO 8
#define ICMP_TIME_EXCEEDED 11
#define ICMP_PARAMETERPROB 12

#ifndef IPPROTO_SCTP
#define IPPROTO_SCTP 132
#endif

/* Set by the agent through the skeleton before load. */
const volatile struct tern_ct_timeouts ct_timeouts = {
	.tcp_syn = 20, .tcp_established = 3600, .tcp_fin = 30, .tcp_rst = 10,
	.udp = 60, .icmp = 5, .other = 600,
};
const volatile __u32 counter_slots = TERN_SLOTS_DEFAULT;
/* BPF_F_IPV6 where the kernel knows it (Linux 6.16+): IPv6 L4 checksum
 * updates then keep skb->csum right for CHECKSUM_COMPLETE packets */
const volatile __u64 csum_ipv6_flag = 0;

#endif
