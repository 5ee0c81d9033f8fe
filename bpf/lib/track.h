/* The conntrack step every tc hook runs on a parsed IP packet. */
#ifndef TERN_BPF_TRACK_H
#define TERN_BPF_TRACK_H

#include "ct.h"
#include "counters.h"
#include "frag.h"

/* Track p; returns 0 to go on, or the counter id of the reason to drop. */
static __always_inline int track__packet(struct pkt *p, struct tern_counters *row,
					 struct ct_ctx *c)
{
	/* the coarse clock: tick resolution is plenty for timeouts in whole
	 * seconds, and it costs a fraction of a fine clock read */
	__u64 now = bpf_ktime_get_coarse_ns();

	if (p->frag != PKT_FRAG_NONE) {
		count(row, TERN_CNT_FRAG);
		if (frag__ports(p))
			return TERN_CNT_DROP_FRAG;
	}
	switch (ct__lookup(p, c, now)) {
	case CT_INVALID:
		return TERN_CNT_DROP_TCP_INVALID;
	case CT_NEW:
		count(row, ct__create(p, c, now) ? TERN_CNT_CT_FULL : TERN_CNT_CT_NEW);
		break;
	case CT_RELATED:
		count(row, TERN_CNT_CT_RELATED);
		break;
	case CT_UNTRACKED:
		count(row, TERN_CNT_CT_UNTRACKED);
		break;
	case CT_ESTABLISHED:
		break;
	}
	return 0;
}

#endif
