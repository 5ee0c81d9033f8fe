// SPDX-License-Identifier: GPL-2.0
/* Conntrack expiry in the kernel: a map iterator the agent runs every few
 * seconds; it deletes entries idle past their state's timeout and writes
 * one line "scanned deleted" for the agent's metrics. */
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
	/* iterators may not read the coarse clock the tc programs stamp with;
	 * the fine one shares its timebase and runs at most a tick ahead */
	if (ct__expired(k, v, bpf_ktime_get_ns())) {
		struct tern_ct_key dk = *k;

		if (bpf_map_delete_elem(&tern_ct_v1, &dk) == 0)
			deleted++;
	}
	return 0;
}
