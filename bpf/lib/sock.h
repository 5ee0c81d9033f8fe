/* Connect-time load balancing: a socket that connects (TCP, connected UDP)
 * or sends (unconnected UDP) to a service frontend is pointed at a backend
 * before any packet exists; recvmsg and getpeername show it the frontend
 * again. No packet of such a flow is ever NATed. An unconnected socket
 * keeps the backend it got for a VIP, as a conntrack entry would. */
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

/* The backend f keeps an unconnected UDP socket on, and its place (*ord),
 * or NULL: pick anew. It keeps it while the socket sends within the UDP
 * conntrack timeout (signed: another CPU may have stamped it after this one
 * read the clock) and the backend is still one of this service port's,
 * wherever the agent numbered it now. One that begins terminating while
 * others are ready leaves the table (the agent lists terminating backends
 * only when none is ready), so the socket moves; when all that is left
 * terminates, it stays. */
static __always_inline struct tern_nat_be *sock__fwd_check(struct tern_nat_sockfwd *f,
							   const struct tern_nat_fe *fe, __u32 n,
							   __u64 now, __u32 *ord)
{
	struct tern_nat_be *be;
	__u32 at = f->ordinal;

	if (f->svc_id != fe->svc_id ||
	    (__s64)(now - f->last_ns) >= (__s64)((__u64)ct_timeouts.udp * NSEC_PER_SEC))
		return NULL;
	be = nat__be_find(fe->svc_id, n, &f->addr, f->port, &at);
	if (!be)
		return NULL;
	f->ordinal = at;
	*ord = at;
	return be;
}

/* connect / sendmsg (dgram: an unconnected socket's datagram, which keeps
 * the socket's backend for that VIP): a frontend becomes one of its
 * backends. A frontend without backends is left alone: its packets reach
 * tc, which refuses them. */
static __always_inline void sock__balance(struct bpf_sock_addr *ctx, int v6, int dgram)
{
	struct tern_nat_fe_key k = { .port = (__be16)ctx->user_port, .proto = ctx->protocol };
	struct tern_nat_fe *fe;
	struct tern_nat_be *be = NULL;
	struct tern_addr client;
	__u64 now, cookie;
	__u32 n, ord = 0;
	int local_only, hit = 0;

	if (!sock__proto_on(ctx->protocol))
		return;
	sock__addr(ctx, v6, &k.addr);
	fe = bpf_map_lookup_elem(&tern_nat_fe_v1, &k);
	if (!fe || !fe->count)
		return;
	sock__client(ctx, &client);
	cookie = bpf_get_socket_cookie(ctx);
	now = bpf_ktime_get_ns();
	local_only = fe->flags & TERN_FE_F_ITP_LOCAL;
	n = local_only ? fe->local_count : fe->count;

	struct tern_nat_sockfwd_key fk = {
		.cookie = cookie,
		.vip = k.addr,
		.port = k.port,
		.proto = k.proto,
	};

	if (dgram) {
		struct tern_nat_sockfwd *f = bpf_map_lookup_elem(&tern_nat_sockfwd_v1, &fk);

		if (f) {
			be = sock__fwd_check(f, fe, n, now, &ord);
			hit = be != NULL;
			/* ClientIP affinity is left as it is: as with kube-proxy,
			 * only a new flow (a pick) renews it */
			if (hit)
				f->last_ns = now;
		}
	}
	if (!be)
		be = nat__pick_at(fe, &client, local_only, now, &ord);
	if (!be)
		return;
	if (dgram && !hit) {
		struct tern_nat_sockfwd fv = {
			.addr = be->addr,
			.port = be->port,
			.svc_id = fe->svc_id,
			.ordinal = ord,
			.last_ns = now,
		};

		bpf_map_update_elem(&tern_nat_sockfwd_v1, &fk, &fv, BPF_ANY);
	}

	struct tern_nat_sock_key sk = {
		.cookie = cookie,
		.backend = be->addr,
		.port = be->port,
	};
	struct tern_nat_sock sv = { .vip = k.addr, .port = k.port };
	struct tern_nat_sock *old = hit ? bpf_map_lookup_elem(&tern_nat_sock_v1, &sk) : NULL;

	/* a kept backend usually has its reverse entry already: a lookup is
	 * cheaper than an LRU update, which allocates */
	if (!old || !addr_eq(&old->vip, &k.addr) || old->port != k.port)
		bpf_map_update_elem(&tern_nat_sock_v1, &sk, &sv, BPF_ANY);
	sock__set_addr(ctx, v6, &be->addr, be->port);
}

/* The entry points: a connected socket is pinned to its backend by its
 * connect already; an unconnected one's datagrams keep theirs. */
static __always_inline void sock__connect(struct bpf_sock_addr *ctx, int v6)
{
	sock__balance(ctx, v6, 0);
}

static __always_inline void sock__sendmsg(struct bpf_sock_addr *ctx, int v6)
{
	sock__balance(ctx, v6, 1);
}

/* recvmsg / getpeername: the backend shows as the frontend it stands for.
 * A datagram received (recvmsg of an unconnected socket) keeps the socket
 * on its backend as one sent does, as a reply refreshes conntrack. */
static __always_inline void sock__unbalance(struct bpf_sock_addr *ctx, int v6, int recv)
{
	struct tern_nat_sock_key sk = {
		.cookie = bpf_get_socket_cookie(ctx),
		.port = (__be16)ctx->user_port,
	};
	struct tern_nat_sock *sv;

	sock__addr(ctx, v6, &sk.backend);
	sv = bpf_map_lookup_elem(&tern_nat_sock_v1, &sk);
	if (!sv)
		return;
	if (recv) { /* recvmsg hooks are UDP's only */
		struct tern_nat_sockfwd_key fk = {
			.cookie = sk.cookie, .vip = sv->vip, .port = sv->port,
			.proto = IPPROTO_UDP,
		};
		struct tern_nat_sockfwd *f = bpf_map_lookup_elem(&tern_nat_sockfwd_v1, &fk);

		if (f && addr_eq(&f->addr, &sk.backend) && f->port == sk.port)
			f->last_ns = bpf_ktime_get_ns();
	}
	sock__set_addr(ctx, v6, &sv->vip, sv->port);
}

static __always_inline void sock__recvmsg(struct bpf_sock_addr *ctx, int v6)
{
	sock__unbalance(ctx, v6, 1);
}

static __always_inline void sock__getpeername(struct bpf_sock_addr *ctx, int v6)
{
	sock__unbalance(ctx, v6, 0);
}

#endif
