// SPDX-License-Identifier: GPL-2.0
/* cgroup sock_addr programs: connect-time load balancing (lib/sock.h),
 * attached at bpf.cgroupPath. Each returns 1: tern never refuses a
 * syscall, it only rewrites its address. */
#include "lib/common.h"
#include "lib/maps.h"
#include "lib/sock.h"

char LICENSE[] SEC("license") = "GPL";

SEC("cgroup/connect4")
int tern_connect4(struct bpf_sock_addr *ctx)
{
	sock__connect(ctx, 0);
	return 1;
}

SEC("cgroup/connect6")
int tern_connect6(struct bpf_sock_addr *ctx)
{
	sock__connect(ctx, 1);
	return 1;
}

SEC("cgroup/sendmsg4")
int tern_sendmsg4(struct bpf_sock_addr *ctx)
{
	sock__sendmsg(ctx, 0);
	return 1;
}

SEC("cgroup/sendmsg6")
int tern_sendmsg6(struct bpf_sock_addr *ctx)
{
	sock__sendmsg(ctx, 1);
	return 1;
}

SEC("cgroup/recvmsg4")
int tern_recvmsg4(struct bpf_sock_addr *ctx)
{
	sock__recvmsg(ctx, 0);
	return 1;
}

SEC("cgroup/recvmsg6")
int tern_recvmsg6(struct bpf_sock_addr *ctx)
{
	sock__recvmsg(ctx, 1);
	return 1;
}

SEC("cgroup/getpeername4")
int tern_getpeername4(struct bpf_sock_addr *ctx)
{
	sock__getpeername(ctx, 0);
	return 1;
}

SEC("cgroup/getpeername6")
int tern_getpeername6(struct bpf_sock_addr *ctx)
{
	sock__getpeername(ctx, 1);
	return 1;
}
