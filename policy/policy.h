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
	/* Test seam, NULL in ternd: called where a run can fail as a whole
	 * (step "rules": building the rule model); a -errno it returns fails
	 * the run there, as running out of memory would. */
	int (*fault)(const char *step);
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
#define POLICY_ISO_BOTH (POLICY_ISO_IN | POLICY_ISO_EG)
#define POLICY_ISO_UNKNOWN (1U << 2) /* no answer this run: the run failed */
#define POLICY_ISO_NEW (1U << 3)     /* held: the maps have no entry yet */

/* Fail closed (DESIGN.md), the one rule: the isolation bits a map entry
 * of an endpoint (its interface's, or one of its addresses') gets this
 * run. answer: policy_apply's for the endpoint, or POLICY_ISO_UNKNOWN
 * when there is none (the run failed, or could not be made); held: the
 * bits the entry has in the maps now, or POLICY_ISO_NEW.
 *  - an answer is taken as it is;
 *  - without one, an entry keeps what it holds (policy_apply keeps the
 *    endpoint's programs too);
 *  - without one, a new entry is isolated both ways; policy_apply left
 *    the slots of an endpoint the maps do not hold (pol_ep_in.held 0)
 *    empty, so its new flows drop (drop_no_policy) until a run succeeds.
 * Without an answer an entry never loses a bit: never open. */
unsigned policy_iso_resolve(unsigned answer, unsigned held);

struct policy *policy_new(const struct policy_opts *o);
void policy_free(struct policy *p);

/* Phase 1. iso[i] gets eps[i]'s isolation bits: set whenever a policy
 * isolates it, whether or not its program could be installed (an
 * isolated endpoint without a program drops: fail closed); or, when the
 * run fails as a whole, POLICY_ISO_UNKNOWN for every endpoint: those the
 * maps hold keep their programs, the others get their slots emptied
 * (see policy_iso_resolve). 0, or the first -errno (what could be done
 * is done; the next run retries). */
int policy_apply(struct policy *p, const struct model *m, const struct pol_ep_in *eps, size_t n,
		 unsigned *iso, struct policy_stats *st);
/* Phase 2, after the isolation flags are written. */
int policy_cleanup(struct policy *p, struct policy_stats *st);

#endif
