/* Per-interface, per-reason packet counters (tern_counter_v1): a program
 * looks up its interface's row once and bumps counters in it. */
#ifndef TERN_BPF_COUNTERS_H
#define TERN_BPF_COUNTERS_H

#include "maps.h"

/* The row of slot (slots past the map's end count as TERN_SLOT_NONE). */
static __always_inline struct tern_counters *counters__row(__u32 slot)
{
	if (slot >= counter_slots)
		slot = TERN_SLOT_NONE;
	return bpf_map_lookup_elem(&tern_counter_v1, &slot);
}

static __always_inline void count(struct tern_counters *row, __u32 id)
{
	if (row && id < TERN_CNT_MAX)
		row->c[id] += 1; /* per-CPU: no atomics needed */
}

static __always_inline int drop(struct tern_counters *row, __u32 id)
{
	count(row, id);
	return TC_ACT_SHOT;
}

#endif
