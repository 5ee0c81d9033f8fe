/* tern's programs on a pod's interface from the moment it exists: ternd
 * pins its endpoint programs under PIN/progs/, and tern-cni attaches them
 * to the host side of a new veth with tcx links pinned where ternd's own
 * would be, so ternd adopts them when it takes the pod over. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "agent/link_pin.h"
#include "agent/tc_hook.h"
#include "cni/cni.h"

static const char *const dir_name[] = { "ingress", "egress" };

static const char *perm_hint(int err)
{
	return err == -EPERM || err == -EACCES
		       ? " (tern-cni needs CAP_BPF, CAP_NET_ADMIN and CAP_SYS_ADMIN: run it as root)"
		       : "";
}

void cni_progs__close(struct cni_progs *p)
{
	if (p->from_ep >= 0)
		close(p->from_ep);
	if (p->to_ep >= 0)
		close(p->to_ep);
	p->from_ep = p->to_ep = -1;
}

int cni_progs__open(const struct cni_req *r, struct cni_progs *p, struct cni_error *e)
{
	const char *const names[] = { TC_PROG_FROM_EP, TC_PROG_TO_EP };
	int *const fds[] = { &p->from_ep, &p->to_ep };
	char pin[PATH_MAX];

	p->from_ep = p->to_ep = -1;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		int fd, err;

		tc_hook__prog_pin_file(pin, sizeof(pin), r->pin_path, names[i]);
		fd = bpf_obj_get(pin);
		if (fd >= 0) {
			*fds[i] = fd;
			continue;
		}
		err = -errno;
		cni_progs__close(p);
		/* without them the pod would run with no policy and no
		 * anti-spoofing: it waits for ternd instead */
		if (err == -ENOENT)
			return cni_fail(e, CNI_ERR_TRY_AGAIN, err, "tern's programs are not pinned yet",
					"%s: %s: ternd has not run on this node yet, or its "
					"bpf.pinPath is not the conflist's bpfPinPath (%s); the pod "
					"is wired once ternd has started", pin, strerror(-err),
					r->pin_path);
		return cni_fail(e, TERN_ERR_WIRING, err, "opening tern's programs failed",
				"%s: %s%s", pin, strerror(-err), perm_hint(err));
	}
	return 0;
}

int cni_hook__attach(const struct cni_req *r, const struct cni_progs *p, int ifindex,
		     struct cni_error *e)
{
	for (int dir = TC_INGRESS; dir <= TC_EGRESS; dir++) {
		int prog = dir == TC_INGRESS ? p->from_ep : p->to_ep;
		int rc = tc_hook__attach(r->pin_path, r->host_ifname, ifindex, dir, prog);

		/* ternd attached and pinned its own between our look and our
		 * pin: the second look adopts it */
		if (rc == -EEXIST)
			rc = tc_hook__attach(r->pin_path, r->host_ifname, ifindex, dir, prog);
		if (rc < 0) {
			char pin[PATH_MAX];

			tc_hook__pin_file(pin, sizeof(pin), r->pin_path, r->host_ifname, dir);
			return cni_fail(e, rc == -EAGAIN || rc == -EBUSY ? CNI_ERR_TRY_AGAIN
									  : TERN_ERR_WIRING,
					rc, "attaching tern's programs failed",
					"tcx %s of %s, pinned at %s: %s%s", dir_name[dir],
					r->host_ifname, pin, strerror(-rc), perm_hint(rc));
		}
	}
	return 0;
}

/* The link pinned at pin: 0 with *info, or -errno (-ENOENT: none). */
static int pinned_info(const char *pin, struct tc_hook_info *info)
{
	int fd = bpf_obj_get(pin), err;

	if (fd < 0)
		return -errno;
	err = tc_hook__info(fd, info);
	close(fd);
	return err;
}

void cni_hook__release(const struct cni_req *r)
{
	if (!r->pin_path || !r->host_ifname[0])
		return;
	for (int dir = TC_INGRESS; dir <= TC_EGRESS; dir++) {
		struct tc_hook_info info;
		char pin[PATH_MAX];
		int err;

		tc_hook__pin_file(pin, sizeof(pin), r->pin_path, r->host_ifname, dir);
		err = pinned_info(pin, &info);
		/* gone (ternd detached it, or DEL ran before): nothing to do;
		 * live: a newer sandbox's of the same pod */
		if (err == -ENOENT || (!err && info.ifindex))
			continue;
		if (!err)
			err = link_pin__detach(pin);
		if (err == -EPROTO)
			fprintf(stderr, "tern-cni: %s is not a tcx link: left in place\n", pin);
		else if (err)
			fprintf(stderr, "tern-cni: %s: could not remove the pinned link: %s\n", pin,
				strerror(-err));
	}
}

int cni_hook__has(const struct cni_req *r, int dir, int ifindex)
{
	struct tc_hook_info info;
	char pin[PATH_MAX];
	int err;

	tc_hook__pin_file(pin, sizeof(pin), r->pin_path, r->host_ifname, dir);
	err = pinned_info(pin, &info);
	if (err == -ENOENT)
		return 0;
	return err ? err : info.ifindex == (__u32)ifindex;
}
