/* Per-interface, per-reason packet counters (tern_counter_v1). */
#ifndef TERN_BPF_COUNTERS_H
#define TERN_BPF_COUNTERS_H

#include "maps.h"

static __always_inline void counter__inc(__u32 slot, __u32 id)
{
	if (slot >= counter_slots)
		slot = TERN_SLOT_NONE;
	__u32 k = slot * TERN_CNT_MAX + id;
	__u64 *c = bpf_map_lookup_elem(&tern_counter_v1, &k);

	if (c)
		*c += 1; /* per-CPU: no atomics needed */
}

static __always_inline int drop(__u32 slot, __u32 id)
{
	counter__inc(slot, id);
	return TC_ACT_SHOT;
}

#endif
