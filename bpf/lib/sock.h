/* Connect-time load balancing: a socket that connects (TCP, connected UDP)
 * or sends (unconnected UDP) to a service frontend is pointed at a backend
 * before any packet exists; recvmsg and getpeername show it the frontend
 * again. No packet of such a flow is ever NATed. */
#ifndef TERN_BPF_SOCK_H
#define TERN_BPF_SOCK_H

#include "maps.h"
#include "nat.h"

/* Per protocol, set by the agent (services.connectTimeLB.*): off, tc NAT
 * translates that protocol's flows instead. */
const volatile __u8 ctlb_tcp = 1;
const volatile __u8 ctlb_udp = 1;
const volatile __u8 ctlb_sctp = 1;

static __always_inline int sock__proto_on(__u32 proto)
{
	switch (proto) {
	case IPPROTO_TCP:
		return ctlb_tcp;
	case IPPROTO_UDP:
		return ctlb_udp;
	case IPPROTO_SCTP:
		return ctlb_sctp;
	}
	return 0;
}

static __always_inline void sock__addr(const struct bpf_sock_addr *ctx, int v6,
				       struct tern_addr *a)
{
	if (!v6) {
		tern_addr_set_v4(a, ctx->user_ip4);
		return;
	}
	/* a dual-stack socket dialling ::ffff:a.b.c.d meets IPv4 frontends here */
	a->w[0] = ctx->user_ip6[0];
	a->w[1] = ctx->user_ip6[1];
	a->w[2] = ctx->user_ip6[2];
	a->w[3] = ctx->user_ip6[3];
}

static __always_inline void sock__set_addr(struct bpf_sock_addr *ctx, int v6,
					   const struct tern_addr *a, __be16 port)
{
	if (!v6) {
		ctx->user_ip4 = a->w[3];
	} else {
		ctx->user_ip6[0] = a->w[0];
		ctx->user_ip6[1] = a->w[1];
		ctx->user_ip6[2] = a->w[2];
		ctx->user_ip6[3] = a->w[3];
	}
	ctx->user_port = port;
}

/* Who the client is, for ClientIP affinity: its network namespace (a pod).
 * ff00::/8 is multicast, never a source, so it never meets an address. */
static __always_inline void sock__client(struct bpf_sock_addr *ctx, struct tern_addr *c)
{
	__u64 cookie = bpf_get_netns_cookie(ctx);

	c->w[0] = bpf_htonl(0xff000000);
	c->w[1] = 0;
	c->w[2] = (__u32)(cookie >> 32);
	c->w[3] = (__u32)cookie;
}

/* connect / sendmsg: a frontend becomes one of its backends. A frontend
 * without backends is left alone: its packets reach tc, which refuses them. */
static __always_inline void sock__balance(struct bpf_sock_addr *ctx, int v6)
{
	struct tern_nat_fe_key k = { .port = (__be16)ctx->user_port, .proto = ctx->protocol };
	struct tern_nat_fe *fe;
	struct tern_nat_be *be;
	struct tern_addr client;

	if (!sock__proto_on(ctx->protocol))
		return;
	sock__addr(ctx, v6, &k.addr);
	fe = bpf_map_lookup_elem(&tern_nat_fe_v1, &k);
	if (!fe || !fe->count)
		return;
	sock__client(ctx, &client);
	be = nat__pick(fe, &client, fe->flags & TERN_FE_F_ITP_LOCAL, bpf_ktime_get_ns());
	if (!be)
		return;

	struct tern_nat_sock_key sk = {
		.cookie = bpf_get_socket_cookie(ctx),
		.backend = be->addr,
		.port = be->port,
	};
	struct tern_nat_sock sv = { .vip = k.addr, .port = k.port };

	bpf_map_update_elem(&tern_nat_sock_v1, &sk, &sv, BPF_ANY);
	sock__set_addr(ctx, v6, &be->addr, be->port);
}

/* recvmsg / getpeername: the backend shows as the frontend it stands for. */
static __always_inline void sock__unbalance(struct bpf_sock_addr *ctx, int v6)
{
	struct tern_nat_sock_key sk = {
		.cookie = bpf_get_socket_cookie(ctx),
		.port = (__be16)ctx->user_port,
	};
	struct tern_nat_sock *sv;

	sock__addr(ctx, v6, &sk.backend);
	sv = bpf_map_lookup_elem(&tern_nat_sock_v1, &sk);
	if (sv)
		sock__set_addr(ctx, v6, &sv->vip, sv->port);
}

#endif
