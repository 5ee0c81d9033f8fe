/* The conntrack step every tc hook runs on a parsed IP packet: look the
 * flow up (advancing it), and record a new one once it is let through. */
#ifndef TERN_BPF_TRACK_H
#define TERN_BPF_TRACK_H

#include "ct.h"
#include "counters.h"
#include "frag.h"

/* track__lookup's verdicts beyond enum ct_verdict */
#define TRACK_DROP_FRAG 16 /* a later fragment of a datagram we never saw start */

/* The coarse clock: tick resolution is plenty for timeouts in whole
 * seconds, and it costs a fraction of a fine clock read. */
static __always_inline __u64 track__now(void)
{
	return bpf_ktime_get_coarse_ns();
}

/* Look p's flow up. Returns an enum ct_verdict or TRACK_DROP_FRAG. */
static __always_inline int track__lookup(struct pkt *p, struct tern_counters *row,
					 struct ct_ctx *c)
{
	int v;

	if (p->frag != PKT_FRAG_NONE) {
		count(row, TERN_CNT_FRAG);
		if (frag__ports(p))
			return TRACK_DROP_FRAG;
	}
	v = ct__lookup(p, c, track__now());
	if (v == CT_RELATED)
		count(row, TERN_CNT_CT_RELATED);
	else if (v == CT_UNTRACKED)
		count(row, TERN_CNT_CT_UNTRACKED);
	return v;
}

/* The counter to drop a track__lookup verdict with, or 0 to go on. */
static __always_inline __u32 track__drop_reason(int v)
{
	if (v == CT_INVALID)
		return TERN_CNT_DROP_TCP_INVALID;
	if (v == TRACK_DROP_FRAG)
		return TERN_CNT_DROP_FRAG;
	return 0;
}

/* Record the CT_NEW flow of p, now that it is let through. */
static __always_inline void track__create(struct pkt *p, struct tern_counters *row,
					  struct ct_ctx *c)
{
	count(row, ct__create(p, c, track__now()) ? TERN_CNT_CT_FULL : TERN_CNT_CT_NEW);
}

#endif
