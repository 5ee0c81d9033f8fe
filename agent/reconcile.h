/* The reconciler: desired dataplane state as a pure function of the model
 * and the node's links, diffed against what the maps and pinned links hold,
 * applied with the fewest changes. Level-triggered: run it after any
 * change, or periodically, and it converges. */
#ifndef TERN_RECONCILE_H
#define TERN_RECONCILE_H

#include "agent/config.h"
#include "agent/dataplane.h"
#include "agent/model.h"
#include "agent/netlink.h"

struct reconciler;

struct reconcile_stats {
	unsigned attached;     /* tc hooks newly attached */
	unsigned adopted;      /* pinned hooks kept from before */
	unsigned detached;
	unsigned map_writes;   /* entries written or deleted */
	unsigned long long ct_flushed; /* conntrack entries of addresses that changed hands */
	unsigned errors;
};

struct reconciler *reconciler_new(const struct tern_config *cfg, struct dataplane *dp);
void reconciler_free(struct reconciler *r);
/* Keep the link table in step with netlink. */
void reconciler_link_event(struct reconciler *r, enum nl_event ev, const struct nl_link *l);
/* Read every link again (after lost events) into a fresh table, swapped in
 * only when the dump succeeds: a failed dump keeps the last good table, so
 * no pod loses its hooks for an interface it merely was not listed with.
 * 0 or -errno. */
int reconciler_links_redump(struct reconciler *r, struct nl_mon *nl);
/* Make the dataplane match m. 0, or -errno if some step failed (the rest
 * is still applied; the next run retries). */
int reconciler_run(struct reconciler *r, const struct model *m, struct reconcile_stats *st);
/* Lift the UDP gone-backend refusals (dataplane__udp_gone) on addresses a
 * local pod arrived at in the runs since the last call: that pod is not the
 * backend that went. Call after the services' sync of the same turn, which
 * may have just marked them. */
void reconciler_gone_forget(struct reconciler *r);

#endif
