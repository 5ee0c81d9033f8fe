/* tc programs on interfaces through tcx links, pinned at
 * PIN/links/tc-in/<ifname> and PIN/links/tc-out/<ifname> so they outlive
 * the agent. */
#ifndef TERN_TC_HOOK_H
#define TERN_TC_HOOK_H

#include <linux/types.h>

enum tc_dir {
	TC_INGRESS = 0,
	TC_EGRESS = 1,
};

enum tc_hook_result {
	TC_HOOK_CREATED = 0,  /* a new link */
	TC_HOOK_ADOPTED = 1,  /* an existing pinned link, now running prog */
};

struct tc_hook_info {
	__u32 link_id;
	__u32 prog_id;
	__u32 ifindex;       /* 0: the interface is gone (link defunct) */
	__u32 attach_type;   /* BPF_TCX_INGRESS / BPF_TCX_EGRESS */
};

/* Attach prog_fd on ifindex; returns enum tc_hook_result or -errno. */
int tc_hook__attach(const char *pin_path, const char *ifname, int ifindex,
		    enum tc_dir dir, int prog_fd);
/* Detach and unpin; 0 (also when nothing was there) or -errno. With an
 * ifindex, a link that sits on another live interface of the same name (a
 * pod's new sandbox) is left alone. */
int tc_hook__detach(const char *pin_path, const char *ifname, enum tc_dir dir, int ifindex);
/* Describe a tcx link fd. 0 or -errno (-EPROTO: not a tcx link). */
int tc_hook__info(int link_fd, struct tc_hook_info *out);
/* The pin file of ifname/dir into buf. */
void tc_hook__pin_file(char *buf, size_t len, const char *pin_path, const char *ifname,
		       enum tc_dir dir);

/* ternd pins its endpoint programs at PIN/progs/<name> (replaced on every
 * load); tern-cni attaches them to a new pod's interface before ternd has
 * programmed it, so the pod starts fail-closed (drop_no_state). */
#define TC_PROG_FROM_EP "tern_from_ep"
#define TC_PROG_TO_EP "tern_to_ep"
void tc_hook__prog_pin_file(char *buf, size_t len, const char *pin_path, const char *prog);

#endif
