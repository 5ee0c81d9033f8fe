/* tcx links (kernel 6.6+): attach, adopt after a restart, detach. Debian
 * 12's uapi headers predate tcx, so its constants are spelled out here. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "agent/log.h"
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

static const char *const dir_suffix[] = { "in", "out" };

/* No dots in pin names: some kernels refuse lookups of dotted bpffs names. */
void tc_hook__pin_file(char *buf, size_t len, const char *pin_path, const char *ifname,
		       enum tc_dir dir)
{
	snprintf(buf, len, "%s/links/tc-%s/%s", pin_path, dir_suffix[dir], ifname);
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

/* An existing pin for this interface and direction: keep the link and
 * swap its program atomically. Returns 1 when adopted, 0 when there was
 * nothing usable (a stale pin is removed), -errno on failure. */
static int tc_hook__adopt(const char *pin, int ifindex, enum tc_dir dir, int prog_fd)
{
	struct tc_hook_info info;
	int fd = bpf_obj_get(pin), err;

	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	err = tc_hook__info(fd, &info);
	if (err || info.ifindex != (__u32)ifindex || info.attach_type != dir_attach_type(dir)) {
		/* the interface went (or was recreated): drop the defunct link */
		log_debug("removing stale tc link %s", pin);
		close(fd);
		unlink(pin);
		return 0;
	}
	err = bpf_link_update(fd, prog_fd, NULL);
	if (err)
		err = -errno;
	close(fd);
	return err ? err : 1;
}

int tc_hook__attach(const char *pin_path, const char *ifname, int ifindex,
		    enum tc_dir dir, int prog_fd)
{
	char pin[PATH_MAX];
	int fd, err;

	tc_hook__pin_file(pin, sizeof(pin), pin_path, ifname, dir);
	err = tc_hook__adopt(pin, ifindex, dir, prog_fd);
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
	if (bpf_obj_pin(fd, pin)) {
		err = -errno;
		log_error("tc %s %s: pin %s: %s", ifname, dir_suffix[dir], pin, strerror(-err));
		close(fd); /* the link goes with its last reference */
		return err;
	}
	close(fd);
	return TC_HOOK_CREATED;
}

int tc_hook__detach(const char *pin_path, const char *ifname, enum tc_dir dir)
{
	char pin[PATH_MAX];
	int fd, err = 0;

	tc_hook__pin_file(pin, sizeof(pin), pin_path, ifname, dir);
	fd = bpf_obj_get(pin);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	/* detach now, even if someone else holds the link open */
	if (bpf_link_detach(fd) && errno != EINVAL && errno != ENOLINK)
		err = -errno;
	close(fd);
	if (unlink(pin) && errno != ENOENT && !err)
		err = -errno;
	return err;
}
