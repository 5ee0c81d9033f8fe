/* cgroup programs (connect-time load balancing) through links pinned at
 * PIN/links/cgroup/<program name>, adopted after a restart like tc hooks. */
#ifndef TERN_CG_HOOK_H
#define TERN_CG_HOOK_H

#include <bpf/libbpf.h>

/* Open bpf.cgroupPath (a cgroup v2 directory). fd or -errno, logged. */
int cg_hook__open(const char *path, __u64 *cgroup_id);
/* Attach prog to the cgroup at its section's hook; 1 adopted, 0 new, -errno. */
int cg_hook__attach(const char *pin_path, int cgroup_fd, __u64 cgroup_id,
		    struct bpf_program *prog);

#endif
