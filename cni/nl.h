/* rtnetlink requests tern-cni makes (libmnl): one socket per network
 * namespace, so the process itself never stays in the pod's. */
#ifndef TERN_CNI_NL_H
#define TERN_CNI_NL_H

#include <net/if.h>
#include <stddef.h>
#include <stdint.h>

#include "cni/cni.h"

struct cni_nl;

/* A socket in the netns of netns_fd (-1: the current one). 0 or -errno. */
int cni_nl__open(int netns_fd, struct cni_nl **out);
void cni_nl__close(struct cni_nl *nl);

struct cni_link {
	int ifindex;
	char name[IFNAMSIZ];
	unsigned int flags;        /* IFF_UP, ... */
	uint8_t mac[6];
	char kind[16];             /* "veth", ... or "" */
	int peer_ifindex;          /* IFLA_LINK: a veth's peer, in its own netns */
	int mtu;
};

/* The link called name: 0, -ENODEV when there is none, or -errno. */
int cni_nl__link_get(struct cni_nl *nl, const char *name, struct cni_link *out);
/* A veth name <-> peer, peer created straight in the netns of
 * peer_netns_fd: no half-made pair is ever visible under a temporary
 * name. Fails with -EEXIST when either name is taken. */
int cni_nl__veth_add(struct cni_nl *nl, const char *name, const char *peer, int peer_netns_fd,
		     int mtu);
int cni_nl__link_up(struct cni_nl *nl, int ifindex);
int cni_nl__link_del(struct cni_nl *nl, int ifindex);
/* ip as a /32 or /128; IPv6 without duplicate address detection. */
int cni_nl__addr_add(struct cni_nl *nl, int ifindex, const struct cni_ip *ip);
/* A route in the main table to dst/dst_len through ifindex, via gw when
 * given (else on link). */
int cni_nl__route_add(struct cni_nl *nl, const struct cni_ip *dst, int dst_len,
		      const struct cni_ip *gw, int ifindex);
/* Answer neighbour solicitations for addr on ifindex (proxy NDP). */
int cni_nl__proxy_add(struct cni_nl *nl, int ifindex, const struct cni_ip *addr);

/* For CHECK: whether each exists. 1, 0, or -errno. */
int cni_nl__addr_has(struct cni_nl *nl, int ifindex, const struct cni_ip *ip, int prefixlen);
int cni_nl__route_has(struct cni_nl *nl, const struct cni_ip *dst, int dst_len,
		      const struct cni_ip *gw, int ifindex);
int cni_nl__proxy_has(struct cni_nl *nl, int ifindex, const struct cni_ip *addr);

#endif
