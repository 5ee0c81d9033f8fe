/* The loaded dataplane: the BPF objects (tc, conntrack GC) with their maps
 * pinned under bpf.pinPath and configured from the agent's config. */
#ifndef TERN_DATAPLANE_H
#define TERN_DATAPLANE_H

#include <stddef.h>
#include <linux/types.h>
#include <tern/addr.h>

#include "agent/config.h"

struct tern_tc;
struct tern_gc;
struct tern_sock;
struct bpf_link;

struct dataplane {
	const struct tern_config *cfg;
	struct tern_tc *tc;
	struct tern_gc *gc;
	struct tern_sock *sock;
	struct bpf_link *gc_link;
	struct bpf_link *gone_link;
	struct bpf_link *udp_gone_link;
	struct bpf_link *flush_link;
	/* map fds, owned by the skeletons */
	int ct_fd;
	int ifstate_fd;
	int ep_fd;
	int counter_fd;
	int nat_fe_fd;
	int nat_be_fd;
	int nat_aff_fd;
	int node_fd;
	int jmp_fd;      /* network policy (policy/): the jump map, scratch, */
	int polctx_fd;   /* ipsets and rule counters */
	int ipset_fd;
	int polcnt_fd;
};

/* Load every object, reusing or creating the pinned maps. 0 or -errno. */
int dataplane__open(struct dataplane *dp, const struct tern_config *cfg);
/* Expire idle conntrack entries (in the kernel); 0 or -errno. */
int dataplane__ct_gc(struct dataplane *dp, __u64 *scanned, __u64 *deleted);
/* A flush cutoff for state just written (CLOCK_MONOTONIC ns, the clock
 * conntrack entries are stamped with at creation): waits a moment for the
 * programs that read the state from before, then now. */
__u64 dataplane__flush_cutoff(void);
/* Delete every conntrack entry naming addrs[i] (either end, or a service
 * flow's NAT address) created before before_ns[i], with its source-NAT
 * half: one sweep in the kernel per TERN_CT_FLUSH_MAX addresses, which
 * must be distinct. *deleted: entries removed. 0 or -errno (logged). */
int dataplane__ct_flush(struct dataplane *dp, const struct tern_addr *addrs,
			const __u64 *before_ns, size_t n, __u64 *deleted);
/* Stop refusing the UDP backends gone at any of addrs (sorted): a new pod
 * holds the address. Returns how many entries went. */
size_t dataplane__gone_forget(struct dataplane *dp, const struct tern_addr *addrs, size_t n);
struct svc_gone;
/* UDP backends that went (agent/services.h): refused for a while, their
 * conntrack entries removed, connected host sockets closed; those marked
 * back are no longer refused. */
void dataplane__udp_gone(struct dataplane *dp, const struct svc_gone *g, size_t n);
/* Close our fds; pinned maps and links stay and keep traffic flowing. */
void dataplane__close(struct dataplane *dp);

/* Put the tc object's continuation programs into tern_jmp_v1, where policy
 * programs resume a flow (include/tern/policy.h). 0 or -errno. */
int tc__install_continuations(struct tern_tc *tc);

/* Program fds for attaching. */
int dataplane__prog_from_ep(const struct dataplane *dp);
int dataplane__prog_to_ep(const struct dataplane *dp);
int dataplane__prog_host_in(const struct dataplane *dp);
int dataplane__prog_host_out(const struct dataplane *dp);

#endif
