/* rtnetlink for tern-cni over libmnl: links, addresses, routes and proxy
 * neighbours, created and looked up through a socket bound to one netns. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <libmnl/libmnl.h>

#include "agent/nl_ctl.h"
#include "cni/nl.h"

/* Replies to tern-cni's requests and dumps of one pod's worth of state
 * fit many times over; the kernel sizes dump batches to the buffer. */
#define NL_BUF_SIZE 32768
/* A dump the kernel flags as interrupted by a change is tried again. */
#define NL_DUMP_TRIES 10

struct cni_nl {
	struct mnl_socket *sk;
	unsigned int seq;
	unsigned int portid;
	_Alignas(struct nlmsghdr) char buf[NL_BUF_SIZE];
};

int cni_nl__open(int netns_fd, struct cni_nl **out)
{
	struct cni_nl *nl = calloc(1, sizeof(*nl));
	int self = -1, err = 0;

	if (!nl)
		return -ENOMEM;
	if (netns_fd >= 0) {
		self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
		if (self < 0 || setns(netns_fd, CLONE_NEWNET)) {
			err = -errno;
			goto out;
		}
	}
	/* a socket stays in the netns it was made in, wherever we go next */
	nl->sk = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (!nl->sk || mnl_socket_bind(nl->sk, 0, MNL_SOCKET_AUTOPID) < 0)
		err = -errno;
	/* Going back to a netns we were just in cannot fail short of the
	 * kernel running out of memory; carrying on in the pod's netns would
	 * wire the wrong node, so stop here. */
	if (self >= 0 && setns(self, CLONE_NEWNET)) {
		fprintf(stderr, "tern-cni: cannot return to the host network namespace: %s\n",
			strerror(errno));
		abort();
	}
	if (!err) {
		nl->portid = mnl_socket_get_portid(nl->sk);
		nl->seq = (unsigned int)time(NULL);
	}
out:
	if (self >= 0)
		close(self);
	if (err) {
		cni_nl__close(nl);
		return err;
	}
	*out = nl;
	return 0;
}

void cni_nl__close(struct cni_nl *nl)
{
	if (!nl)
		return;
	if (nl->sk)
		mnl_socket_close(nl->sk);
	free(nl);
}

static struct nlmsghdr *msg_new(struct cni_nl *nl, uint16_t type, uint16_t flags, size_t hdrlen)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(nl->buf);

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = ++nl->seq;
	mnl_nlmsg_put_extra_header(nlh, hdrlen);
	return nlh;
}

/* Send nlh and read replies until cb (or the ACK, when cb is NULL) says
 * done. 0 or -errno (the kernel's answer). */
static int talk(struct cni_nl *nl, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	unsigned int seq = nlh->nlmsg_seq;
	ssize_t n;
	int ret;

	if (!cb)
		nlh->nlmsg_flags |= NLM_F_ACK;
	if (mnl_socket_sendto(nl->sk, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		n = mnl_socket_recvfrom(nl->sk, nl->buf, sizeof(nl->buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		ret = mnl_cb_run(nl->buf, (size_t)n, seq, nl->portid, cb, data);
		if (ret < 0)
			return -errno;
		if (ret == MNL_CB_STOP)
			return 0;
	}
}

/* The rest of an interrupted dump is still queued: read up to its end,
 * or the next request would read it as its own reply. */
static void drain(struct cni_nl *nl, unsigned int seq)
{
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nl->sk, nl->buf, sizeof(nl->buf));
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)nl->buf;
		int len = (int)n;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		for (; mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
			if (nlh->nlmsg_seq == seq &&
			    (nlh->nlmsg_type == NLMSG_DONE || nlh->nlmsg_type == NLMSG_ERROR))
				return;
		}
	}
}

/* Dump type, asking with hdr (hdrlen bytes), running cb on every reply;
 * an interrupted dump is started over, so cb must tolerate repeats. */
static int dump(struct cni_nl *nl, uint16_t type, const void *hdr, size_t hdrlen, mnl_cb_t cb,
		void *data)
{
	int err = -EINTR;

	for (int i = 0; i < NL_DUMP_TRIES && err == -EINTR; i++) {
		struct nlmsghdr *nlh = msg_new(nl, type, NLM_F_DUMP, hdrlen);
		unsigned int seq = nlh->nlmsg_seq;

		memcpy(mnl_nlmsg_get_payload(nlh), hdr, hdrlen);
		if (mnl_socket_sendto(nl->sk, nlh, nlh->nlmsg_len) < 0)
			return -errno;
		for (;;) {
			ssize_t n = mnl_socket_recvfrom(nl->sk, nl->buf, sizeof(nl->buf));
			int ret;

			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return -errno;
			ret = mnl_cb_run2(nl->buf, (size_t)n, seq, nl->portid, cb, data,
					  nl_ctl_cbs, NLMSG_MIN_TYPE);
			if (ret < 0) {
				err = -errno;
				break;
			}
			if (ret == MNL_CB_STOP) {
				err = 0;
				break;
			}
		}
		if (err == -EINTR)
			drain(nl, seq);
	}
	return err == -EINTR ? -EAGAIN : err;
}

/* --- links ------------------------------------------------------------------ */

struct attrs {
	const struct nlattr **tb;
	int max;
};

static int attr_cb(const struct nlattr *a, void *data)
{
	struct attrs *at = data;
	int t = mnl_attr_get_type(a);

	if (t <= at->max)
		at->tb[t] = a;
	return MNL_CB_OK;
}

static int link_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[IFLA_MAX + 1] = { 0 }, *info[IFLA_INFO_MAX + 1] = { 0 };
	struct attrs at = { tb, IFLA_MAX }, ai = { info, IFLA_INFO_MAX };
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	struct cni_link *l = data;

	if (nlh->nlmsg_type != RTM_NEWLINK || mnl_nlmsg_get_payload_len(nlh) < sizeof(*ifi) ||
	    mnl_attr_parse(nlh, sizeof(*ifi), attr_cb, &at) != MNL_CB_OK || !tb[IFLA_IFNAME] ||
	    mnl_attr_validate(tb[IFLA_IFNAME], MNL_TYPE_NUL_STRING) < 0) {
		errno = EBADMSG;
		return MNL_CB_ERROR;
	}
	memset(l, 0, sizeof(*l));
	l->ifindex = ifi->ifi_index;
	l->flags = ifi->ifi_flags;
	snprintf(l->name, sizeof(l->name), "%s", mnl_attr_get_str(tb[IFLA_IFNAME]));
	if (tb[IFLA_ADDRESS] && mnl_attr_get_payload_len(tb[IFLA_ADDRESS]) == sizeof(l->mac))
		memcpy(l->mac, mnl_attr_get_payload(tb[IFLA_ADDRESS]), sizeof(l->mac));
	if (tb[IFLA_LINK] && mnl_attr_validate(tb[IFLA_LINK], MNL_TYPE_U32) == 0)
		l->peer_ifindex = (int)mnl_attr_get_u32(tb[IFLA_LINK]);
	if (tb[IFLA_MTU] && mnl_attr_validate(tb[IFLA_MTU], MNL_TYPE_U32) == 0)
		l->mtu = (int)mnl_attr_get_u32(tb[IFLA_MTU]);
	if (tb[IFLA_LINKINFO] &&
	    mnl_attr_parse_nested(tb[IFLA_LINKINFO], attr_cb, &ai) == MNL_CB_OK &&
	    info[IFLA_INFO_KIND] && mnl_attr_validate(info[IFLA_INFO_KIND], MNL_TYPE_STRING) == 0)
		snprintf(l->kind, sizeof(l->kind), "%.*s",
			 (int)strnlen(mnl_attr_get_payload(info[IFLA_INFO_KIND]),
				      mnl_attr_get_payload_len(info[IFLA_INFO_KIND])),
			 (const char *)mnl_attr_get_payload(info[IFLA_INFO_KIND]));
	return MNL_CB_STOP;
}

int cni_nl__link_get(struct cni_nl *nl, const char *name, struct cni_link *out)
{
	struct nlmsghdr *nlh = msg_new(nl, RTM_GETLINK, 0, sizeof(struct ifinfomsg));

	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	return talk(nl, nlh, link_cb, out);
}

int cni_nl__veth_add(struct cni_nl *nl, const char *name, const char *peer, int peer_netns_fd,
		     int mtu)
{
	struct nlmsghdr *nlh = msg_new(nl, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL,
				       sizeof(struct ifinfomsg));
	struct nlattr *linkinfo, *data, *peer_nest;
	struct ifinfomsg *pifi;

	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	mnl_attr_put_u32(nlh, IFLA_MTU, (uint32_t)mtu);
	linkinfo = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
	data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
	peer_nest = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
	/* the peer's attributes follow an ifinfomsg of its own */
	pifi = (struct ifinfomsg *)((char *)nlh + nlh->nlmsg_len);
	memset(pifi, 0, MNL_ALIGN(sizeof(*pifi)));
	nlh->nlmsg_len += MNL_ALIGN(sizeof(*pifi));
	mnl_attr_put_strz(nlh, IFLA_IFNAME, peer);
	mnl_attr_put_u32(nlh, IFLA_MTU, (uint32_t)mtu);
	mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, (uint32_t)peer_netns_fd);
	mnl_attr_nest_end(nlh, peer_nest);
	mnl_attr_nest_end(nlh, data);
	mnl_attr_nest_end(nlh, linkinfo);
	return talk(nl, nlh, NULL, NULL);
}

int cni_nl__link_up(struct cni_nl *nl, int ifindex)
{
	struct nlmsghdr *nlh = msg_new(nl, RTM_NEWLINK, 0, sizeof(struct ifinfomsg));
	struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);

	ifi->ifi_index = ifindex;
	ifi->ifi_flags = IFF_UP;
	ifi->ifi_change = IFF_UP;
	return talk(nl, nlh, NULL, NULL);
}

int cni_nl__link_del(struct cni_nl *nl, int ifindex)
{
	struct nlmsghdr *nlh = msg_new(nl, RTM_DELLINK, 0, sizeof(struct ifinfomsg));
	struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);

	ifi->ifi_index = ifindex;
	return talk(nl, nlh, NULL, NULL);
}

/* --- addresses ---------------------------------------------------------------- */

static size_t ip_len(const struct cni_ip *ip)
{
	return ip->family == AF_INET ? 4 : 16;
}

int cni_nl__addr_add(struct cni_nl *nl, int ifindex, const struct cni_ip *ip)
{
	struct nlmsghdr *nlh = msg_new(nl, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL,
				       sizeof(struct ifaddrmsg));
	struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);

	ifa->ifa_family = (uint8_t)ip->family;
	ifa->ifa_prefixlen = ip->family == AF_INET ? 32 : 128;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = (uint32_t)ifindex;
	/* the pod is alone on its link: nobody to collide with, and DAD
	 * would hold the address back for a second after the pod starts */
	if (ip->family == AF_INET6)
		ifa->ifa_flags = IFA_F_NODAD;
	if (ip->family == AF_INET)
		mnl_attr_put(nlh, IFA_LOCAL, 4, ip->addr);
	mnl_attr_put(nlh, IFA_ADDRESS, ip_len(ip), ip->addr);
	return talk(nl, nlh, NULL, NULL);
}

struct addr_match {
	int ifindex;
	const struct cni_ip *ip;
	int prefixlen;
	int found;
};

static int addr_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[IFA_MAX + 1] = { 0 };
	struct attrs at = { tb, IFA_MAX };
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	struct addr_match *m = data;
	const struct nlattr *a;

	if (nlh->nlmsg_type != RTM_NEWADDR || mnl_nlmsg_get_payload_len(nlh) < sizeof(*ifa) ||
	    mnl_attr_parse(nlh, sizeof(*ifa), attr_cb, &at) != MNL_CB_OK)
		return MNL_CB_OK;
	a = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
	if ((int)ifa->ifa_index == m->ifindex && ifa->ifa_family == m->ip->family &&
	    ifa->ifa_prefixlen == m->prefixlen && a &&
	    mnl_attr_get_payload_len(a) == ip_len(m->ip) &&
	    !memcmp(mnl_attr_get_payload(a), m->ip->addr, ip_len(m->ip)))
		m->found = 1;
	return MNL_CB_OK;
}

int cni_nl__addr_has(struct cni_nl *nl, int ifindex, const struct cni_ip *ip, int prefixlen)
{
	struct ifaddrmsg hdr = { .ifa_family = (uint8_t)ip->family };
	struct addr_match m = { ifindex, ip, prefixlen, 0 };
	int err = dump(nl, RTM_GETADDR, &hdr, sizeof(hdr), addr_cb, &m);

	return err ? err : m.found;
}

/* --- routes ------------------------------------------------------------------- */

int cni_nl__route_add(struct cni_nl *nl, const struct cni_ip *dst, int dst_len,
		      const struct cni_ip *gw, int ifindex)
{
	struct nlmsghdr *nlh = msg_new(nl, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL,
				       sizeof(struct rtmsg));
	struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);

	rtm->rtm_family = (uint8_t)dst->family;
	rtm->rtm_dst_len = (uint8_t)dst_len;
	rtm->rtm_table = RT_TABLE_MAIN;
	rtm->rtm_protocol = RTPROT_BOOT; /* as `ip route add` makes them */
	rtm->rtm_type = RTN_UNICAST;
	/* as `ip route add` picks it: an IPv4 route without a gateway is on
	 * this link only */
	rtm->rtm_scope = dst->family == AF_INET && !gw ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE;
	if (dst_len)
		mnl_attr_put(nlh, RTA_DST, ip_len(dst), dst->addr);
	if (gw)
		mnl_attr_put(nlh, RTA_GATEWAY, ip_len(gw), gw->addr);
	mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)ifindex);
	return talk(nl, nlh, NULL, NULL);
}

struct route_match {
	const struct cni_ip *dst;
	int dst_len;
	const struct cni_ip *gw;
	int ifindex;
	int found;
};

static int route_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[RTA_MAX + 1] = { 0 };
	struct attrs at = { tb, RTA_MAX };
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	struct route_match *m = data;
	size_t len = ip_len(m->dst);
	uint32_t table;

	if (nlh->nlmsg_type != RTM_NEWROUTE || mnl_nlmsg_get_payload_len(nlh) < sizeof(*rtm) ||
	    mnl_attr_parse(nlh, sizeof(*rtm), attr_cb, &at) != MNL_CB_OK)
		return MNL_CB_OK;
	table = tb[RTA_TABLE] ? mnl_attr_get_u32(tb[RTA_TABLE]) : rtm->rtm_table;
	if (rtm->rtm_family != m->dst->family || table != RT_TABLE_MAIN ||
	    rtm->rtm_dst_len != m->dst_len || rtm->rtm_type != RTN_UNICAST)
		return MNL_CB_OK;
	if (m->dst_len && (!tb[RTA_DST] || mnl_attr_get_payload_len(tb[RTA_DST]) != len ||
			   memcmp(mnl_attr_get_payload(tb[RTA_DST]), m->dst->addr, len)))
		return MNL_CB_OK;
	if (!tb[RTA_OIF] || (int)mnl_attr_get_u32(tb[RTA_OIF]) != m->ifindex)
		return MNL_CB_OK;
	if (m->gw && (!tb[RTA_GATEWAY] || mnl_attr_get_payload_len(tb[RTA_GATEWAY]) != len ||
		      memcmp(mnl_attr_get_payload(tb[RTA_GATEWAY]), m->gw->addr, len)))
		return MNL_CB_OK;
	m->found = 1;
	return MNL_CB_OK;
}

int cni_nl__route_has(struct cni_nl *nl, const struct cni_ip *dst, int dst_len,
		      const struct cni_ip *gw, int ifindex)
{
	struct rtmsg hdr = { .rtm_family = (uint8_t)dst->family };
	struct route_match m = { dst, dst_len, gw, ifindex, 0 };
	int err = dump(nl, RTM_GETROUTE, &hdr, sizeof(hdr), route_cb, &m);

	return err ? err : m.found;
}

/* --- proxy neighbours ----------------------------------------------------------- */

int cni_nl__proxy_add(struct cni_nl *nl, int ifindex, const struct cni_ip *addr)
{
	struct nlmsghdr *nlh = msg_new(nl, RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_EXCL,
				       sizeof(struct ndmsg));
	struct ndmsg *ndm = mnl_nlmsg_get_payload(nlh);

	ndm->ndm_family = (uint8_t)addr->family;
	ndm->ndm_ifindex = ifindex;
	ndm->ndm_flags = NTF_PROXY;
	ndm->ndm_state = NUD_PERMANENT;
	mnl_attr_put(nlh, NDA_DST, ip_len(addr), addr->addr);
	return talk(nl, nlh, NULL, NULL);
}

struct proxy_match {
	int ifindex;
	const struct cni_ip *addr;
	int found;
};

static int proxy_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[NDA_MAX + 1] = { 0 };
	struct attrs at = { tb, NDA_MAX };
	const struct ndmsg *ndm = mnl_nlmsg_get_payload(nlh);
	struct proxy_match *m = data;
	size_t len = ip_len(m->addr);

	if (nlh->nlmsg_type != RTM_NEWNEIGH || mnl_nlmsg_get_payload_len(nlh) < sizeof(*ndm) ||
	    mnl_attr_parse(nlh, sizeof(*ndm), attr_cb, &at) != MNL_CB_OK)
		return MNL_CB_OK;
	if ((ndm->ndm_flags & NTF_PROXY) && ndm->ndm_ifindex == m->ifindex && tb[NDA_DST] &&
	    mnl_attr_get_payload_len(tb[NDA_DST]) == len &&
	    !memcmp(mnl_attr_get_payload(tb[NDA_DST]), m->addr->addr, len))
		m->found = 1;
	return MNL_CB_OK;
}

int cni_nl__proxy_has(struct cni_nl *nl, int ifindex, const struct cni_ip *addr)
{
	/* NTF_PROXY in the request asks for the proxy table */
	struct ndmsg hdr = { .ndm_family = (uint8_t)addr->family, .ndm_flags = NTF_PROXY };
	struct proxy_match m = { ifindex, addr, 0 };
	int err = dump(nl, RTM_GETNEIGH, &hdr, sizeof(hdr), proxy_cb, &m);

	return err ? err : m.found;
}
