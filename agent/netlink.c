/* rtnetlink over libmnl: link events on one subscribed socket; link and
 * address dumps, each on a fresh socket of its own. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <libmnl/libmnl.h>

#include "agent/log.h"
#include "agent/netlink.h"
#include "agent/nl_ctl.h"

/* The kernel sizes dump replies to the reader's buffer, up to 32 KiB;
 * one link or address message is far smaller. */
#define NL_BUF_SIZE 32768
/* A node may create hundreds of veths at once, several messages each; the
 * kernel doubles this for its overhead. Overruns still happen, and cost a
 * re-dump, not correctness. */
#define NL_EV_RCVBUF (8 << 20)
/* A dump the kernel flags as interrupted by a change is tried again. */
#define NL_DUMP_TRIES 10

struct nl_mon {
	struct mnl_socket *sk;
	_Alignas(struct nlmsghdr) char buf[NL_BUF_SIZE];
};

/* Which attributes a parse keeps and the type each must validate as.
 * Types past max or left MNL_TYPE_UNSPEC are skipped, so attributes a
 * newer kernel adds are ignored, never misread. */
struct attr_policy {
	const enum mnl_attr_data_type *type;
	int max;
	const struct nlattr **tb;
};

static const enum mnl_attr_data_type link_attrs[IFLA_MAX + 1] = {
	[IFLA_IFNAME] = MNL_TYPE_NUL_STRING,
	[IFLA_ADDRESS] = MNL_TYPE_BINARY,
	[IFLA_LINKINFO] = MNL_TYPE_NESTED,
};

static const enum mnl_attr_data_type linkinfo_attrs[IFLA_INFO_MAX + 1] = {
	[IFLA_INFO_KIND] = MNL_TYPE_NUL_STRING,
};

static const enum mnl_attr_data_type addr_attrs[IFA_MAX + 1] = {
	[IFA_ADDRESS] = MNL_TYPE_BINARY,
	[IFA_LOCAL] = MNL_TYPE_BINARY,
	[IFA_FLAGS] = MNL_TYPE_U32,
};

static int attr_cb(const struct nlattr *a, void *data)
{
	struct attr_policy *p = data;
	int t = mnl_attr_get_type(a);

	if (t > p->max || p->type[t] == MNL_TYPE_UNSPEC)
		return MNL_CB_OK;
	if (mnl_attr_validate(a, p->type[t]) < 0)
		return MNL_CB_ERROR;
	p->tb[t] = a;
	return MNL_CB_OK;
}

/* Fill l from an RTM_NEWLINK/RTM_DELLINK. 0; -ENOENT: not about a link as
 * such; -EBADMSG: malformed. */
static int link_parse(const struct nlmsghdr *nlh, struct nl_link *l)
{
	const struct nlattr *tb[IFLA_MAX + 1] = { 0 };
	const struct nlattr *info[IFLA_INFO_MAX + 1] = { 0 };
	struct attr_policy p = { link_attrs, IFLA_MAX, tb };
	struct attr_policy pi = { linkinfo_attrs, IFLA_INFO_MAX, info };
	const struct ifinfomsg *ifi;
	const char *name;

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*ifi))
		return -EBADMSG;
	ifi = mnl_nlmsg_get_payload(nlh);
	/* The bridge reports ports joining and leaving as AF_BRIDGE
	 * RTM_NEWLINK/RTM_DELLINK on the same group: the link stays. */
	if (ifi->ifi_family != AF_UNSPEC)
		return -ENOENT;
	if (mnl_attr_parse(nlh, sizeof(*ifi), attr_cb, &p) != MNL_CB_OK)
		return -EBADMSG;
	if (ifi->ifi_index <= 0 || !tb[IFLA_IFNAME])
		return -EBADMSG;
	name = mnl_attr_get_str(tb[IFLA_IFNAME]);
	if (strlen(name) >= sizeof(l->name))
		return -EBADMSG;
	if (tb[IFLA_LINKINFO] &&
	    mnl_attr_parse_nested(tb[IFLA_LINKINFO], attr_cb, &pi) != MNL_CB_OK)
		return -EBADMSG;

	memset(l, 0, sizeof(*l));
	l->ifindex = ifi->ifi_index;
	strcpy(l->name, name);
	l->flags = ifi->ifi_flags;
	if (tb[IFLA_ADDRESS] &&
	    mnl_attr_get_payload_len(tb[IFLA_ADDRESS]) == sizeof(l->mac))
		memcpy(l->mac, mnl_attr_get_payload(tb[IFLA_ADDRESS]), sizeof(l->mac));
	/* A kind longer than the field is cut; none tern acts on is. */
	if (info[IFLA_INFO_KIND])
		snprintf(l->kind, sizeof(l->kind), "%s",
			 mnl_attr_get_str(info[IFLA_INFO_KIND]));
	return 0;
}

struct link_ctx {
	nl_link_cb cb;
	void *arg;
};

static int link_msg_cb(const struct nlmsghdr *nlh, void *data)
{
	struct link_ctx *c = data;
	struct nl_link l;
	int err;

	if (nlh->nlmsg_type != RTM_NEWLINK && nlh->nlmsg_type != RTM_DELLINK)
		return MNL_CB_OK;
	err = link_parse(nlh, &l);
	if (err == -EBADMSG)
		log_warn("netlink: malformed link message (type %u, %u bytes) ignored",
			 nlh->nlmsg_type, nlh->nlmsg_len);
	if (err)
		return MNL_CB_OK;
	c->cb(nlh->nlmsg_type == RTM_NEWLINK ? NL_LINK_NEW : NL_LINK_DEL, &l, c->arg);
	return MNL_CB_OK;
}

/* Dump type, asking with a zeroed header of hdrlen bytes (ifinfomsg,
 * ifaddrmsg: every family, no filter), and run cb on each reply. A socket
 * of its own keeps replies apart from events and from the leftovers of a
 * dump cut short. 0 or -errno; -EINTR: the kernel flagged the dump as
 * interrupted by a change. */
static int dump_once(uint16_t type, size_t hdrlen, mnl_cb_t cb, void *data)
{
	struct mnl_socket *sk = NULL;
	struct nlmsghdr *nlh;
	unsigned int seq = (unsigned int)time(NULL), portid;
	char *buf;
	ssize_t n;
	int ret, err = 0;

	buf = malloc(NL_BUF_SIZE);
	if (!buf)
		return -ENOMEM;
	sk = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (!sk) {
		err = -errno;
		goto out;
	}
	if (mnl_socket_bind(sk, 0, MNL_SOCKET_AUTOPID) < 0) {
		err = -errno;
		goto out;
	}
	portid = mnl_socket_get_portid(sk);

	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = seq;
	mnl_nlmsg_put_extra_header(nlh, hdrlen);
	if (mnl_socket_sendto(sk, nlh, nlh->nlmsg_len) < 0) {
		err = -errno;
		goto out;
	}
	for (;;) {
		n = mnl_socket_recvfrom(sk, buf, NL_BUF_SIZE);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = -errno;
			goto out;
		}
		ret = mnl_cb_run2(buf, n, seq, portid, cb, data,
				  nl_ctl_cbs, NLMSG_MIN_TYPE);
		if (ret < 0) {
			err = -errno;
			goto out;
		}
		if (ret == MNL_CB_STOP)
			break;
	}
out:
	if (sk)
		mnl_socket_close(sk);
	free(buf);
	return err;
}

/* Bursts overflow the default buffer; FORCE (CAP_NET_ADMIN) goes past
 * net.core.rmem_max, which is often small. */
static void grow_rcvbuf(int fd)
{
	int sz = NL_EV_RCVBUF;

	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) == 0)
		return;
	log_warn("netlink: SO_RCVBUFFORCE: %s; the event buffer is capped by "
		 "net.core.rmem_max, so bursts may cost re-dumps", strerror(errno));
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz)) < 0)
		log_warn("netlink: SO_RCVBUF: %s", strerror(errno));
}

int nl_mon_open(struct nl_mon **out)
{
	struct nl_mon *m;
	int err;

	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->sk = mnl_socket_open2(NETLINK_ROUTE, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (!m->sk) {
		err = -errno;
		log_warn("netlink: socket: %s%s", strerror(-err), errno_hint(err));
		goto fail;
	}
	grow_rcvbuf(mnl_socket_get_fd(m->sk));
	if (mnl_socket_bind(m->sk, RTMGRP_LINK, MNL_SOCKET_AUTOPID) < 0) {
		err = -errno;
		log_warn("netlink: bind to link events: %s%s", strerror(-err),
			 errno_hint(err));
		goto fail;
	}
	*out = m;
	return 0;
fail:
	nl_mon_close(m);
	return err;
}

int nl_mon_fd(const struct nl_mon *m)
{
	return mnl_socket_get_fd(m->sk);
}

/* m is already subscribed, so a change racing the dump also shows up as
 * an event afterwards: the caller converges on the latest state. */
int nl_mon_dump(struct nl_mon *m, nl_link_cb cb, void *arg)
{
	struct link_ctx c = { cb, arg };
	int err = -EINTR;

	(void)m;
	/* Links an interrupted try reported are reported again: NEW is
	 * idempotent. */
	for (int i = 0; i < NL_DUMP_TRIES && err == -EINTR; i++)
		err = dump_once(RTM_GETLINK, sizeof(struct ifinfomsg), link_msg_cb, &c);
	if (err == -EINTR)
		err = -EAGAIN;
	if (err)
		log_warn("netlink: link dump: %s%s", strerror(-err), errno_hint(err));
	return err;
}

/* After an overrun, the events still queued may be older than the lost
 * ones: replayed after the re-dump they would undo it. */
static void discard_pending(struct nl_mon *m)
{
	for (;;) {
		if (mnl_socket_recvfrom(m->sk, m->buf, sizeof(m->buf)) >= 0)
			continue;
		if (errno != EINTR && errno != ENOBUFS && errno != ENOSPC)
			return;
	}
}

int nl_mon_process(struct nl_mon *m, nl_link_cb cb, void *arg)
{
	struct link_ctx c = { cb, arg };
	ssize_t n;
	int err;

	for (;;) {
		n = mnl_socket_recvfrom(m->sk, m->buf, sizeof(m->buf));
		if (n < 0) {
			err = -errno;
			if (err == -EAGAIN)
				return 0;
			if (err == -EINTR)
				continue;
			/* ENOSPC: a message too big for buf was cut, so lost */
			if (err == -ENOBUFS || err == -ENOSPC) {
				log_warn("netlink: link events lost (%s): dumping again",
					 strerror(-err));
				discard_pending(m);
				return -ENOBUFS;
			}
			log_warn("netlink: reading link events: %s", strerror(-err));
			return err;
		}
		if (mnl_cb_run(m->buf, n, 0, 0, link_msg_cb, &c) < 0)
			log_warn("netlink: bad link event datagram (%zd bytes): %s",
				 n, strerror(errno));
	}
}

void nl_mon_close(struct nl_mon *m)
{
	if (!m)
		return;
	if (m->sk)
		mnl_socket_close(m->sk);
	free(m);
}

/* Fill a from an RTM_NEWADDR. 0; -ENOENT: not IPv4/IPv6; -EBADMSG. */
static int addr_parse(const struct nlmsghdr *nlh, struct nl_addr *a)
{
	const struct nlattr *tb[IFA_MAX + 1] = { 0 };
	struct attr_policy p = { addr_attrs, IFA_MAX, tb };
	const struct ifaddrmsg *ifa;
	const struct nlattr *at;
	size_t len;

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*ifa))
		return -EBADMSG;
	ifa = mnl_nlmsg_get_payload(nlh);
	if (ifa->ifa_family == AF_INET)
		len = 4;
	else if (ifa->ifa_family == AF_INET6)
		len = 16;
	else
		return -ENOENT;
	if (mnl_attr_parse(nlh, sizeof(*ifa), attr_cb, &p) != MNL_CB_OK)
		return -EBADMSG;
	/* IFA_LOCAL is the address itself; IFA_ADDRESS is the peer on a
	 * point-to-point IPv4 link, and the address everywhere else. */
	at = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
	if (!at || mnl_attr_get_payload_len(at) != len)
		return -EBADMSG;

	memset(a, 0, sizeof(*a));
	a->ifindex = ifa->ifa_index;
	a->family = ifa->ifa_family;
	memcpy(a->addr, mnl_attr_get_payload(at), len);
	a->prefixlen = ifa->ifa_prefixlen;
	a->scope = ifa->ifa_scope;
	/* ifa_flags holds only the low 8 bits of IFA_FLAGS */
	a->flags = tb[IFA_FLAGS] ? mnl_attr_get_u32(tb[IFA_FLAGS]) : ifa->ifa_flags;
	return 0;
}

struct addr_ctx {
	int ifindex;
	struct nl_addr *v;
	size_t n, cap;
};

static int addr_msg_cb(const struct nlmsghdr *nlh, void *data)
{
	struct addr_ctx *c = data;
	struct nl_addr a, *v;
	int err;

	if (nlh->nlmsg_type != RTM_NEWADDR)
		return MNL_CB_OK;
	err = addr_parse(nlh, &a);
	if (err == -EBADMSG)
		log_warn("netlink: malformed address message (%u bytes) ignored",
			 nlh->nlmsg_len);
	if (err || (c->ifindex && a.ifindex != c->ifindex))
		return MNL_CB_OK;
	if (c->n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 16;

		v = realloc(c->v, cap * sizeof(*v));
		if (!v) {
			errno = ENOMEM;
			return MNL_CB_ERROR;
		}
		c->v = v;
		c->cap = cap;
	}
	c->v[c->n++] = a;
	return MNL_CB_OK;
}

int nl_addr_dump(int ifindex, struct nl_addr **out, size_t *n)
{
	struct addr_ctx c = { .ifindex = ifindex };
	int err = -EINTR;

	*out = NULL;
	*n = 0;
	/* An interrupted try may mix old and new: start over. */
	for (int i = 0; i < NL_DUMP_TRIES && err == -EINTR; i++) {
		c.n = 0;
		err = dump_once(RTM_GETADDR, sizeof(struct ifaddrmsg), addr_msg_cb, &c);
	}
	if (err == -EINTR)
		err = -EAGAIN;
	if (err || c.n == 0) {
		free(c.v);
		if (err)
			log_warn("netlink: address dump: %s%s", strerror(-err),
				 errno_hint(err));
		return err;
	}
	*out = c.v;
	*n = c.n;
	return 0;
}
