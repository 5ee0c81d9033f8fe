// SPDX-License-Identifier: GPL-2.0
/* Conntrack sweeps in the kernel, map iterators the agent runs: expiry
 * every few seconds (entries idle past their state's timeout; one line
 * "scanned deleted" for the agent's metrics), and on demand the flows of
 * UDP backends that went and of addresses that changed hands. */
#include "lib/common.h"
#include "lib/maps.h"
#include "lib/ct.h"

char LICENSE[] SEC("license") = "GPL";

/* bpf_iter__bpf_map_elem from the kernel, as the uapi headers lack it */
struct bpf_iter_meta {
	void *seq;
	__u64 session_id;
	__u64 seq_num;
} __attribute__((preserve_access_index));

struct bpf_iter__bpf_map_elem {
	struct bpf_iter_meta *meta;
	void *map;
	void *key;
	void *value;
} __attribute__((preserve_access_index));

__u64 scanned, deleted;

/* Delete the flow judged from the snapshot (k, v), and a source-NATed
 * flow's other half with it (tern_nat_snat_v1 has the same key). Only if
 * the entry is still the one judged: the walk reads entries as the tc
 * programs move them on, and one may have been refreshed, or replaced by a
 * new flow of the same key, since. 1 when the entry went. */
static __always_inline __u64 ct_drop(struct tern_ct_key *k, const struct tern_ct_value *v)
{
	struct tern_ct_value *cur = bpf_map_lookup_elem(&tern_ct_v1, k);

	if (!cur || cur->created_ns != v->created_ns || cur->last_seen_ns != v->last_seen_ns)
		return 0;
	if (v->flags & TERN_CT_F_SNAT)
		bpf_map_delete_elem(&tern_nat_snat_v1, k);
	return bpf_map_delete_elem(&tern_ct_v1, k) == 0;
}

SEC("iter/bpf_map_elem")
int tern_ct_gc(struct bpf_iter__bpf_map_elem *ctx)
{
	struct tern_ct_key *k = ctx->key;
	struct tern_ct_value *v = ctx->value;

	if (!k || !v) {
		/* end of the walk: report and reset for the next run */
		BPF_SEQ_PRINTF(ctx->meta->seq, "%llu %llu\n", scanned, deleted);
		scanned = 0;
		deleted = 0;
		return 0;
	}
	scanned++;
	/* a copy: judged and dropped as one (and map lookups take no
	 * read-only iterator memory) */
	struct tern_ct_key key = *k;
	struct tern_ct_value val = *v;

	/* iterators may not read the coarse clock the tc programs stamp with;
	 * the fine one shares its timebase and runs at most a tick ahead */
	if (ct__expired(&key, &val, bpf_ktime_get_ns()))
		deleted += ct_drop(&key, &val);
	return 0;
}

/* A UDP backend that went: is (addr, port) one? */
static __always_inline int gone(const struct tern_addr *addr, __be16 port)
{
	struct tern_nat_gone_key k = { .addr = *addr, .port = port, .proto = IPPROTO_UDP };

	return bpf_map_lookup_elem(&tern_nat_gone_v1, &k) != NULL;
}

__u64 gone_deleted;

/* Conntrack entries of UDP flows aimed at a backend that went: the tc NAT
 * pair (the client's entry names the backend in nat_*, the backend's has
 * it as one side) and plain flows of sockets that connected to it. */
SEC("iter/bpf_map_elem")
int tern_ct_gone(struct bpf_iter__bpf_map_elem *ctx)
{
	struct tern_ct_key *k = ctx->key;
	struct tern_ct_value *v = ctx->value;

	if (!k || !v) {
		BPF_SEQ_PRINTF(ctx->meta->seq, "%llu\n", gone_deleted);
		gone_deleted = 0;
		return 0;
	}
	if (k->proto != IPPROTO_UDP)
		return 0;
	/* a copy, as in tern_ct_gc */
	struct tern_ct_key key = *k;
	struct tern_ct_value val = *v;

	if (((val.flags & TERN_CT_F_NAT_FWD) && gone(&val.nat_addr, val.nat_port)) ||
	    gone(&key.addr_a, key.port_a) || gone(&key.addr_b, key.port_b))
		gone_deleted += ct_drop(&key, &val);
	return 0;
}

/* The addresses tern_ct_flush removes the flows of, each with its cutoff
 * (CLOCK_MONOTONIC ns): only entries created before it go, the flows of a
 * new holder, made after its state was written, are its own. The agent
 * fills it for one sweep and empties it after. Not pinned: nothing else
 * reads it. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct tern_addr);
	__type(value, __u64);
	__uint(max_entries, TERN_CT_FLUSH_MAX);
} ct_flush_addrs SEC(".maps");

/* Does an entry created at created go, as naming a? */
static __always_inline int flushed(const struct tern_addr *a, __u64 created)
{
	__u64 *before = bpf_map_lookup_elem(&ct_flush_addrs, a);

	return before && created < *before;
}

__u64 flush_deleted;

/* Flows of addresses that changed hands (a local pod's that went, or that
 * another pod took): either end, or the address a service flow was
 * translated to or from. Their entries would otherwise let a new pod at
 * the address inherit established flows its policy never judged, and keep
 * steering service flows to it. */
SEC("iter/bpf_map_elem")
int tern_ct_flush(struct bpf_iter__bpf_map_elem *ctx)
{
	struct tern_ct_key *k = ctx->key;
	struct tern_ct_value *v = ctx->value;

	if (!k || !v) {
		BPF_SEQ_PRINTF(ctx->meta->seq, "%llu\n", flush_deleted);
		flush_deleted = 0;
		return 0;
	}
	/* a copy, as in tern_ct_gc */
	struct tern_ct_key key = *k;
	struct tern_ct_value val = *v;

	if (flushed(&key.addr_a, val.created_ns) || flushed(&key.addr_b, val.created_ns) ||
	    ((val.flags & (TERN_CT_F_NAT_FWD | TERN_CT_F_NAT_REV)) &&
	     flushed(&val.nat_addr, val.created_ns)))
		flush_deleted += ct_drop(&key, &val);
	return 0;
}

/* Kernel socket types as far as we read them (CO-RE relocates the offsets;
 * the ___k flavour keeps the kernel's in6_addr apart from the uapi one). */
struct in6_addr___k {
	union {
		__u32 u6_addr32[4];
	} in6_u;
} __attribute__((preserve_access_index));

struct sock_common {
	__be32 skc_daddr;
	__be16 skc_dport;
	unsigned short skc_family;
	volatile unsigned char skc_state;
	struct in6_addr___k skc_v6_daddr;
} __attribute__((preserve_access_index));

struct sock {
	struct sock_common __sk_common;
} __attribute__((preserve_access_index));

struct inet_sock {
	struct sock sk;
} __attribute__((preserve_access_index));

struct udp_sock {
	struct inet_sock inet;
} __attribute__((preserve_access_index));

struct bpf_iter__udp {
	struct bpf_iter_meta *meta;
	struct udp_sock *udp_sk;
} __attribute__((preserve_access_index));

extern int bpf_sock_destroy(struct sock_common *sk) __ksym __weak;

#define TCP_ESTABLISHED 1 /* a connected UDP socket's state */

__u64 socks_destroyed;

/* UDP sockets of this network namespace still connected to a backend that
 * went: closed (their owners see an error and reconnect). */
SEC("iter/udp")
int tern_udp_gone(struct bpf_iter__udp *ctx)
{
	struct udp_sock *us = ctx->udp_sk;
	struct tern_addr a;

	if (!us) {
		BPF_SEQ_PRINTF(ctx->meta->seq, "%llu\n", socks_destroyed);
		socks_destroyed = 0;
		return 0;
	}
	struct sock_common *sk = &us->inet.sk.__sk_common;

	if (sk->skc_state != TCP_ESTABLISHED)
		return 0;
	if (sk->skc_family == AF_INET) {
		tern_addr_set_v4(&a, sk->skc_daddr);
	} else {
		a.w[0] = sk->skc_v6_daddr.in6_u.u6_addr32[0];
		a.w[1] = sk->skc_v6_daddr.in6_u.u6_addr32[1];
		a.w[2] = sk->skc_v6_daddr.in6_u.u6_addr32[2];
		a.w[3] = sk->skc_v6_daddr.in6_u.u6_addr32[3];
	}
	if (gone(&a, sk->skc_dport) && bpf_sock_destroy && bpf_sock_destroy(sk) == 0)
		socks_destroyed++;
	return 0;
}
