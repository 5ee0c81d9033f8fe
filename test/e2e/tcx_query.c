/* Ask the kernel which programs run on an interface's tcx hooks (bpftool
 * 7.1 predates tcx): prints "ingress NAME" / "egress NAME" per program. */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>

#define TCX_INGRESS 46
#define TCX_EGRESS 47

int main(int argc, char **argv)
{
	unsigned int ifindex = argc == 2 ? if_nametoindex(argv[1]) : 0;

	if (!ifindex) {
		fprintf(stderr, "usage: tcx_query IFNAME (an existing interface)\n");
		return 2;
	}
	for (int dir = 0; dir < 2; dir++) {
		__u32 ids[64], cnt = 64;

		if (bpf_prog_query(ifindex, dir ? TCX_EGRESS : TCX_INGRESS, 0, NULL, ids, &cnt)) {
			fprintf(stderr, "query: %s\n", strerror(errno));
			return 1;
		}
		for (__u32 i = 0; i < cnt; i++) {
			struct bpf_prog_info info = {};
			__u32 len = sizeof(info);
			int fd = bpf_prog_get_fd_by_id(ids[i]);

			if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len))
				continue;
			printf("%s %s\n", dir ? "egress" : "ingress", info.name);
			close(fd);
		}
	}
	return 0;
}
