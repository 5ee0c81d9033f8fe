/* cgroup programs through pinned links: attach or adopt. */
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "agent/cg_hook.h"
#include "agent/link_pin.h"
#include "agent/log.h"

#define CGROUP2_MAGIC 0x63677270
#define TERN_BPF_LINK_TYPE_CGROUP 3

/* struct bpf_link_info as far as its cgroup member */
struct cg_link_info {
	__u32 type;
	__u32 id;
	__u32 prog_id;
	__u32 pad;
	__u64 cgroup_id;
	__u32 attach_type;
	__u32 pad2;
	__u64 spare[2];
};
/* the kernel's layout (uapi struct bpf_link_info) */
_Static_assert(offsetof(struct cg_link_info, cgroup_id) == 16, "bpf_link_info.cgroup.cgroup_id");
_Static_assert(offsetof(struct cg_link_info, attach_type) == 24, "bpf_link_info.cgroup.attach_type");

struct cg_target {
	__u64 cgroup_id;
	__u32 attach_type;
};

int cg_hook__open(const char *path, __u64 *cgroup_id)
{
	struct statfs sfs;
	struct stat st;
	int fd;

	if (statfs(path, &sfs) || stat(path, &st)) {
		int err = -errno;

		log_error("bpf.cgroupPath %s: %s", path, strerror(-err));
		return err;
	}
	if ((unsigned long)sfs.f_type != CGROUP2_MAGIC) {
		log_error("bpf.cgroupPath %s is not a cgroup v2 directory (on hybrid hosts it "
			  "is mounted elsewhere, e.g. /sys/fs/cgroup/unified)", path);
		return -ENOTDIR;
	}
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		int err = -errno;

		log_error("open %s: %s", path, strerror(-err));
		return err;
	}
	*cgroup_id = st.st_ino; /* a cgroup v2 directory's inode is its id */
	return fd;
}

static int cg_match(int link_fd, const void *arg)
{
	const struct cg_target *t = arg;
	struct cg_link_info li = {};
	__u32 len = sizeof(li);

	return bpf_obj_get_info_by_fd(link_fd, &li, &len) == 0 &&
	       li.type == TERN_BPF_LINK_TYPE_CGROUP && li.cgroup_id == t->cgroup_id &&
	       li.attach_type == t->attach_type;
}

int cg_hook__attach(const char *pin_path, int cgroup_fd, __u64 cgroup_id,
		    struct bpf_program *prog)
{
	struct cg_target t = { cgroup_id, bpf_program__expected_attach_type(prog) };
	const char *name = bpf_program__name(prog);
	int prog_fd = bpf_program__fd(prog), fd, err;
	char pin[PATH_MAX];

	snprintf(pin, sizeof(pin), "%s/links/cgroup/%s", pin_path, name);
	err = link_pin__adopt(pin, prog_fd, cg_match, &t);
	if (err)
		goto out;
	fd = bpf_link_create(prog_fd, cgroup_fd, t.attach_type, NULL);
	err = fd < 0 ? -errno : link_pin__pin(fd, pin);
out:
	if (err < 0)
		log_error("cgroup %s: attach: %s%s", name, strerror(-err), errno_hint(err));
	return err;
}
