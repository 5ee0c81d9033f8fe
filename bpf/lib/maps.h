/* Every pinned map, declared once for all objects; the agent sizes them from
 * its config and reuses the pinned copies, so all programs share them. */
#ifndef TERN_BPF_MAPS_H
#define TERN_BPF_MAPS_H

#include "common.h"

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct tern_ct_key);
	__type(value, struct tern_ct_value);
	__uint(max_entries, TERN_CT_DEFAULT_MAX);
} tern_ct_v1 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32); /* ifindex */
	__type(value, struct tern_ifstate);
	__uint(max_entries, TERN_SLOTS_DEFAULT);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} tern_ifstate_v1 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct tern_addr);
	__type(value, struct tern_ep);
	__uint(max_entries, TERN_EP_DEFAULT_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} tern_ep_v1 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32); /* interface slot */
	__type(value, struct tern_counters);
	__uint(max_entries, TERN_SLOTS_DEFAULT);
} tern_counter_v1 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct tern_frag_key);
	__type(value, struct tern_frag_ports);
	__uint(max_entries, TERN_FRAG_MAX);
} tern_frag_v1 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct tern_nat_fe_key);
	__type(value, struct tern_nat_fe);
	__uint(max_entries, TERN_NAT_FE_DEFAULT_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} tern_nat_fe_v1 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct tern_nat_be_key);
	__type(value, struct tern_nat_be);
	__uint(max_entries, TERN_NAT_BE_DEFAULT_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} tern_nat_be_v1 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct tern_nat_aff_key);
	__type(value, struct tern_nat_aff);
	__uint(max_entries, TERN_NAT_AFF_DEFAULT_MAX);
} tern_nat_aff_v1 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct tern_nat_sock_key);
	__type(value, struct tern_nat_sock);
	__uint(max_entries, TERN_NAT_SOCK_DEFAULT_MAX);
} tern_nat_sock_v1 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct tern_nat_sockfwd_key);
	__type(value, struct tern_nat_sockfwd);
	__uint(max_entries, TERN_NAT_SOCKFWD_DEFAULT_MAX);
} tern_nat_sockfwd_v1 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct tern_nat_gone_key);
	__type(value, __u64);
	__uint(max_entries, TERN_NAT_GONE_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} tern_nat_gone_v1 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct tern_ct_key);
	__type(value, struct tern_nat_snat);
	__uint(max_entries, TERN_NAT_SNAT_DEFAULT_MAX);
} tern_nat_snat_v1 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct tern_addr);
	__uint(max_entries, 2);
} tern_node_v1 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, TERN_JMP_MAX);
} tern_jmp_v1 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct tern_scratch);
	__uint(max_entries, 1);
} tern_polctx_v2 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__type(key, struct tern_ipset_key);
	__type(value, __u32);
	__uint(max_entries, TERN_IPSET_DEFAULT_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} tern_ipset_v1 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__type(key, struct tern_polcnt_key);
	__type(value, __u64);
	__uint(max_entries, TERN_POLCNT_DEFAULT_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} tern_polcnt_v2 SEC(".maps");

#endif
