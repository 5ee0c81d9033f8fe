/* tcx links (kernel 6.6+): attach, adopt after a restart, detach. Debian
 * 12's uapi headers predate tcx, so its constants are spelled out here. */
#include <errno.h>
#include <stddef.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "agent/log.h"
#include "agent/link_pin.h"
#include "agent/tc_hook.h"

#define TERN_BPF_TCX_INGRESS 46
#define TERN_BPF_TCX_EGRESS 47
#define TERN_BPF_LINK_TYPE_TCX 11

/* struct bpf_link_info as far as its tcx member (uapi 6.6) */
struct tcx_link_info {
	__u32 type;
	__u32 id;
	__u32 prog_id;
	__u32 pad;
	__u32 ifindex;
	__u32 attach_type;
	__u64 spare[4];
};
/* the kernel's layout (uapi struct bpf_link_info, Linux 6.6+) */
_Static_assert(offsetof(struct tcx_link_info, prog_id) == 8, "bpf_link_info.prog_id");
_Static_assert(offsetof(struct tcx_link_info, ifindex) == 16, "bpf_link_info.tcx.ifindex");
_Static_assert(offsetof(struct tcx_link_info, attach_type) == 20, "bpf_link_info.tcx.attach_type");

static const char *const dir_suffix[] = { "in", "out" };

/* No dots in pin names: some kernels refuse lookups of dotted bpffs names. */
void tc_hook__pin_file(char *buf, size_t len, const char *pin_path, const char *ifname,
		       enum tc_dir dir)
{
	snprintf(buf, len, "%s/links/tc-%s/%s", pin_path, dir_suffix[dir], ifname);
}

void tc_hook__prog_pin_file(char *buf, size_t len, const char *pin_path, const char *prog)
{
	snprintf(buf, len, "%s/progs/%s", pin_path, prog);
}

int tc_hook__info(int link_fd, struct tc_hook_info *out)
{
	struct tcx_link_info li = {};
	__u32 len = sizeof(li);

	if (bpf_obj_get_info_by_fd(link_fd, &li, &len))
		return -errno;
	if (li.type != TERN_BPF_LINK_TYPE_TCX)
		return -EPROTO;
	out->link_id = li.id;
	out->prog_id = li.prog_id;
	out->ifindex = li.ifindex;
	out->attach_type = li.attach_type;
	return 0;
}

static __u32 dir_attach_type(enum tc_dir dir)
{
	return dir == TC_INGRESS ? TERN_BPF_TCX_INGRESS : TERN_BPF_TCX_EGRESS;
}

struct tcx_target {
	int ifindex;
	__u32 attach_type;
};

/* The pinned link still sits on this interface (not a recreated one). */
static int tcx_match(int link_fd, const void *arg)
{
	const struct tcx_target *t = arg;
	struct tc_hook_info info = {};

	return tc_hook__info(link_fd, &info) == 0 && info.ifindex == (__u32)t->ifindex &&
	       info.attach_type == t->attach_type;
}

int tc_hook__attach(const char *pin_path, const char *ifname, int ifindex,
		    enum tc_dir dir, int prog_fd)
{
	char pin[PATH_MAX];
	int fd, err;

	struct tcx_target t = { ifindex, dir_attach_type(dir) };

	tc_hook__pin_file(pin, sizeof(pin), pin_path, ifname, dir);
	err = link_pin__adopt(pin, prog_fd, tcx_match, &t);
	if (err == 1)
		return TC_HOOK_ADOPTED;
	if (err) {
		log_error("tc %s %s: update pinned link: %s", ifname, dir_suffix[dir],
			  strerror(-err));
		return err;
	}
	fd = bpf_link_create(prog_fd, ifindex, dir_attach_type(dir), NULL);
	if (fd < 0) {
		err = -errno;
		log_error("tc %s %s: attach: %s%s", ifname, dir_suffix[dir], strerror(-err),
			  err == -EINVAL ? " (tcx needs Linux 6.6 or newer)" : errno_hint(err));
		return err;
	}
	err = link_pin__pin(fd, pin);
	if (err) {
		log_error("tc %s %s: pin %s: %s", ifname, dir_suffix[dir], pin, strerror(-err));
		return err;
	}
	return TC_HOOK_CREATED;
}

int tc_hook__detach(const char *pin_path, const char *ifname, enum tc_dir dir, int ifindex)
{
	struct tc_hook_info info = {};
	char pin[PATH_MAX];
	int fd, other;

	tc_hook__pin_file(pin, sizeof(pin), pin_path, ifname, dir);
	if (ifindex) {
		fd = bpf_obj_get(pin);
		if (fd < 0)
			return errno == ENOENT ? 0 : -errno;
		other = tc_hook__info(fd, &info) == 0 && info.ifindex &&
			info.ifindex != (__u32)ifindex;
		close(fd);
		if (other)
			return 0; /* the same name's new interface: not ours to take */
	}
	return link_pin__detach(pin);
}
