/* Link events from rtnetlink (libmnl): a full dump at start, then
 * RTM_NEWLINK/RTM_DELLINK as interfaces appear, change and go; and a
 * one-shot dump of interface addresses. */
#ifndef TERN_NETLINK_H
#define TERN_NETLINK_H

#include <net/if.h>
#include <stddef.h>
#include <stdint.h>

struct nl_link {
	int ifindex;
	char name[IF_NAMESIZE];
	unsigned int flags;        /* IFF_UP, IFF_LOWER_UP, ... */
	uint8_t mac[6];
	char kind[16];             /* IFLA_INFO_KIND: "veth", "bridge", ... or "" */
};

enum nl_event {
	NL_LINK_NEW = 1,           /* appeared, or changed (name, flags) */
	NL_LINK_DEL = 2,
};

typedef void (*nl_link_cb)(enum nl_event ev, const struct nl_link *l, void *arg);

struct nl_mon;

/* Open a socket subscribed to link events in the current netns. 0 or -errno. */
int nl_mon_open(struct nl_mon **out);
int nl_mon_fd(const struct nl_mon *m);
/* Report every existing link as NL_LINK_NEW. Links gone since an earlier
 * dump are not reported: after a re-dump the caller forgets every link the
 * dump did not report. 0 or -errno (-EAGAIN: links kept changing). */
int nl_mon_dump(struct nl_mon *m, nl_link_cb cb, void *arg);
/* Read and report pending events without blocking. 0 or -errno; -ENOBUFS
 * means events were lost (the ones still queued are dropped too, as they
 * may be older than the lost ones): the caller must dump again. */
int nl_mon_process(struct nl_mon *m, nl_link_cb cb, void *arg);
void nl_mon_close(struct nl_mon *m);

/* One IPv4 or IPv6 address of a link. */
struct nl_addr {
	int ifindex;
	int family;                /* AF_INET or AF_INET6 */
	uint8_t addr[16];          /* NBO; IPv4 uses the first 4 bytes */
	uint8_t prefixlen;
	uint8_t scope;             /* RT_SCOPE_UNIVERSE, RT_SCOPE_LINK, ... */
	uint32_t flags;            /* IFA_F_SECONDARY, IFA_F_TENTATIVE, ... */
};

/* The IPv4 and IPv6 addresses of link ifindex (0: of every link) in the
 * current netns, as one consistent snapshot: *out is a malloc'd array of *n
 * entries (NULL when 0) the caller frees. 0 or -errno (-EAGAIN: addresses
 * kept changing). */
int nl_addr_dump(int ifindex, struct nl_addr **out, size_t *n);

#endif
