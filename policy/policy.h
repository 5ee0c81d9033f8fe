/* Network policy for the reconciler: from the model and the local
 * endpoints, the ipsets' members, each isolated endpoint's compiled and
 * installed programs, its rule counters, and which directions it isolates.
 *
 * Two phases around the reconciler's own map writes, so that a program is
 * in place before an isolation flag points at it and is removed only
 * after the flag is gone:
 *   policy_apply    add set members, load and install programs
 *   (the reconciler writes the isolation flags)
 *   policy_cleanup  remove programs, counters and members nobody wants */
#ifndef TERN_POLICY_POLICY_H
#define TERN_POLICY_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "agent/model.h"
#include "policy/rules.h"

struct policy;

struct policy_opts {
	const char *node;          /* this node's name */
	int jmp_fd, polctx_fd, ipset_fd, polcnt_fd;
	size_t piece_insns;        /* split programs past this; 0: the default */
};

struct policy_stats {
	unsigned loaded;           /* pieces loaded into the kernel */
	unsigned adopted;          /* pieces kept from a previous agent */
	unsigned installed;        /* programs swapped in */
	unsigned removed;          /* jump slots emptied */
	unsigned set_writes;       /* ipset entries added or deleted */
	unsigned errors;
};

/* Isolation bits for an endpoint, as policy_apply reports them. */
#define POLICY_ISO_IN  (1U << 0)
#define POLICY_ISO_EG  (1U << 1)
#define POLICY_ISO_KEEP (1U << 2) /* not known this run: keep what the maps say */

struct policy *policy_new(const struct policy_opts *o);
void policy_free(struct policy *p);

/* Phase 1. iso[i] gets eps[i]'s isolation bits: set whenever a policy
 * isolates it, whether or not its program could be installed (an
 * isolated endpoint without a program drops: fail closed). 0, or the
 * first -errno (what could be done is done; the next run retries). */
int policy_apply(struct policy *p, const struct model *m, const struct pol_ep_in *eps, size_t n,
		 unsigned *iso, struct policy_stats *st);
/* Phase 2, after the isolation flags are written. */
int policy_cleanup(struct policy *p, struct policy_stats *st);

#endif
