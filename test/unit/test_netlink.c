/* The link monitor and address dump against real links, in a network
 * namespace of the test's own: the root one is never touched.
 *
 *   [test netns]  lo
 *                 va ==veth== vb     d0 (plain)      per-test plain links/veths
 *                 bp0 ==veth== bp1   bp0 joins and leaves bpbr (bridge)
 *                 fl0..fl299 (plain, link group 7)
 *
 * "plain" is the first kind this kernel has of dummy, ifb, bridge: links
 * that need no parent or parameters (some kernels build without dummy).
 */
#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <libmnl/libmnl.h>

#include "agent/netlink.h"
#include "test/unit/unit.h"

#define N_FLOOD 300

static const char *plain;

/* Run a shell command in the test's netns; 0 on success. */
__attribute__((format(printf, 1, 2)))
static int sh(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = system(cmd);
	if (rc != 0)
		fprintf(stderr, "  command failed (%d): %s\n", rc, cmd);
	return rc;
}

/* Create N_FLOOD plain links fl0.. in one `ip -batch`, all in one link
 * group: deleting the group is one kernel call, not 300 slow ones. */
#define FLOOD_GROUP 7

static int flood_add(void)
{
	FILE *f = popen("ip -batch -", "w");

	if (!f)
		return -1;
	for (int i = 0; i < N_FLOOD; i++)
		fprintf(f, "link add fl%d group %d type %s\n", i, FLOOD_GROUP, plain);
	return pclose(f);
}

static int flood_del(void)
{
	return sh("ip link del group %d", FLOOD_GROUP);
}

/* ---- an event log ---- */

#define MAX_EVENTS 1024

struct rec {
	int n;
	enum nl_event ev[MAX_EVENTS];
	struct nl_link l[MAX_EVENTS];
};

static void rec_cb(enum nl_event ev, const struct nl_link *l, void *arg)
{
	struct rec *r = arg;

	if (r->n < MAX_EVENTS) {
		r->ev[r->n] = ev;
		r->l[r->n] = *l;
	}
	r->n++;
}

/* The last event ev for ifindex (0: any) named name (NULL: any). */
static const struct nl_link *rec_last(const struct rec *r, enum nl_event ev,
				      int ifindex, const char *name)
{
	for (int i = (r->n < MAX_EVENTS ? r->n : MAX_EVENTS) - 1; i >= 0; i--) {
		if (r->ev[i] != ev || (ifindex && r->l[i].ifindex != ifindex))
			continue;
		if (!name || strcmp(r->l[i].name, name) == 0)
			return &r->l[i];
	}
	return NULL;
}

static int rec_count(const struct rec *r, enum nl_event ev, int ifindex)
{
	int n = 0;

	for (int i = 0; i < r->n && i < MAX_EVENTS; i++)
		n += r->ev[i] == ev && (!ifindex || r->l[i].ifindex == ifindex);
	return n;
}

/* A monitor with the initial dump and anything queued already consumed. */
static struct nl_mon *mon_ready(struct rec *r)
{
	struct nl_mon *m = NULL;

	CHECK_INT(nl_mon_open(&m), 0);
	if (!m)
		return NULL;
	CHECK_INT(nl_mon_dump(m, rec_cb, r), 0);
	CHECK_INT(nl_mon_process(m, rec_cb, r), 0);
	memset(r, 0, sizeof(*r));
	return m;
}

/* ---- what a consumer keeps: links by ifindex, re-dumped on overrun ---- */

#define TABLE_LINKS 1024

struct table {
	int n;
	struct nl_link l[TABLE_LINKS];
	bool seen[TABLE_LINKS];
	int overruns;
};

static int table_find(const struct table *t, int ifindex)
{
	for (int i = 0; i < t->n; i++)
		if (t->l[i].ifindex == ifindex)
			return i;
	return -1;
}

static const struct nl_link *table_by_name(const struct table *t, const char *name)
{
	for (int i = 0; i < t->n; i++)
		if (strcmp(t->l[i].name, name) == 0)
			return &t->l[i];
	return NULL;
}

static void table_cb(enum nl_event ev, const struct nl_link *l, void *arg)
{
	struct table *t = arg;
	int i = table_find(t, l->ifindex);

	if (ev == NL_LINK_DEL) {
		if (i >= 0) {
			t->n--;
			t->l[i] = t->l[t->n];
			t->seen[i] = t->seen[t->n];
		}
		return;
	}
	if (i < 0) {
		if (t->n == TABLE_LINKS)
			return;
		i = t->n++;
	}
	t->l[i] = *l;
	t->seen[i] = true;
}

/* Dump, then forget links the dump did not report. */
static int table_dump(struct nl_mon *m, struct table *t)
{
	int err;

	memset(t->seen, 0, sizeof(t->seen));
	err = nl_mon_dump(m, table_cb, t);
	if (err)
		return err;
	for (int i = t->n - 1; i >= 0; i--) {
		if (!t->seen[i]) {
			t->n--;
			t->l[i] = t->l[t->n];
			t->seen[i] = t->seen[t->n];
		}
	}
	return 0;
}

static int table_sync(struct nl_mon *m, struct table *t)
{
	int err;

	while ((err = nl_mon_process(m, table_cb, t)) == -ENOBUFS) {
		t->overruns++;
		err = table_dump(m, t);
		if (err)
			return err;
	}
	return err;
}

/* ---- tests ---- */

static const uint8_t mac_va[6] = { 0x02, 0x00, 0x00, 0x00, 0x0a, 0x01 };
static const uint8_t mac_vb[6] = { 0x02, 0x00, 0x00, 0x00, 0x0b, 0x01 };
static const uint8_t mac_d0[6] = { 0x02, 0x00, 0x00, 0x00, 0xd0, 0x01 };

static void test_dump(void)
{
	static struct rec r;
	const struct nl_link *l;
	struct nl_mon *m = NULL;

	memset(&r, 0, sizeof(r));
	CHECK_INT(sh("ip link add va address 02:00:00:00:0a:01 type veth "
		     "peer name vb address 02:00:00:00:0b:01"), 0);
	CHECK_INT(sh("ip link add d0 address 02:00:00:00:d0:01 type %s", plain), 0);
	CHECK_INT(nl_mon_open(&m), 0);
	if (!m)
		return;
	CHECK(nl_mon_fd(m) >= 0);
	CHECK_INT(nl_mon_dump(m, rec_cb, &r), 0);
	CHECK_INT(rec_count(&r, NL_LINK_DEL, 0), 0);

	l = rec_last(&r, NL_LINK_NEW, 0, "lo");
	CHECK(l != NULL);
	if (l) {
		CHECK_INT(l->ifindex, 1);
		CHECK((l->flags & (IFF_LOOPBACK | IFF_UP)) == (IFF_LOOPBACK | IFF_UP));
		CHECK_STR(l->kind, "");
	}
	l = rec_last(&r, NL_LINK_NEW, 0, "va");
	CHECK(l != NULL);
	if (l) {
		CHECK_INT(l->ifindex, if_nametoindex("va"));
		CHECK(memcmp(l->mac, mac_va, 6) == 0);
		CHECK_STR(l->kind, "veth");
		CHECK(!(l->flags & IFF_UP));
	}
	l = rec_last(&r, NL_LINK_NEW, 0, "vb");
	CHECK(l != NULL);
	if (l) {
		CHECK_INT(l->ifindex, if_nametoindex("vb"));
		CHECK(memcmp(l->mac, mac_vb, 6) == 0);
		CHECK_STR(l->kind, "veth");
	}
	l = rec_last(&r, NL_LINK_NEW, 0, "d0");
	CHECK(l != NULL);
	if (l) {
		CHECK_INT(l->ifindex, if_nametoindex("d0"));
		CHECK(memcmp(l->mac, mac_d0, 6) == 0);
		CHECK_STR(l->kind, plain);
	}
	nl_mon_close(m);
	sh("ip link del va");
	sh("ip link del d0");
}

static void test_veth_events(void)
{
	static struct rec r;
	const struct nl_link *a, *b;
	struct nl_mon *m = mon_ready(&r);

	if (!m)
		return;
	CHECK_INT(sh("ip link add ea type veth peer name eb"), 0);
	CHECK_INT(nl_mon_process(m, rec_cb, &r), 0);
	a = rec_last(&r, NL_LINK_NEW, 0, "ea");
	b = rec_last(&r, NL_LINK_NEW, 0, "eb");
	CHECK(a && b);
	if (a && b) {
		CHECK_INT(a->ifindex, if_nametoindex("ea"));
		CHECK_INT(b->ifindex, if_nametoindex("eb"));
		CHECK_STR(a->kind, "veth");
		CHECK_STR(b->kind, "veth");
	}
	CHECK_INT(rec_count(&r, NL_LINK_DEL, 0), 0);

	/* deleting one end takes both */
	memset(&r, 0, sizeof(r));
	CHECK_INT(sh("ip link del ea"), 0);
	CHECK_INT(nl_mon_process(m, rec_cb, &r), 0);
	CHECK(rec_last(&r, NL_LINK_DEL, 0, "ea") != NULL);
	CHECK(rec_last(&r, NL_LINK_DEL, 0, "eb") != NULL);
	nl_mon_close(m);
}

static void test_rename(void)
{
	static struct rec r;
	const struct nl_link *l;
	struct nl_mon *m;
	int ifindex;

	CHECK_INT(sh("ip link add rn0 type %s", plain), 0);
	ifindex = if_nametoindex("rn0");
	m = mon_ready(&r);
	if (!m)
		return;
	CHECK_INT(sh("ip link set rn0 name rn1"), 0);
	CHECK_INT(nl_mon_process(m, rec_cb, &r), 0);
	l = rec_last(&r, NL_LINK_NEW, ifindex, NULL);
	CHECK(l != NULL);
	if (l) {
		CHECK_STR(l->name, "rn1");
		CHECK_STR(l->kind, plain);
	}
	CHECK_INT(rec_count(&r, NL_LINK_DEL, 0), 0);
	nl_mon_close(m);
	sh("ip link del rn1");
}

static void test_up_down(void)
{
	static struct rec r;
	const struct nl_link *l;
	struct nl_mon *m;
	int ifindex;

	CHECK_INT(sh("ip link add ud0 type %s", plain), 0);
	ifindex = if_nametoindex("ud0");
	m = mon_ready(&r);
	if (!m)
		return;
	CHECK_INT(sh("ip link set ud0 up"), 0);
	CHECK_INT(nl_mon_process(m, rec_cb, &r), 0);
	l = rec_last(&r, NL_LINK_NEW, ifindex, "ud0");
	CHECK(l && (l->flags & IFF_UP));

	memset(&r, 0, sizeof(r));
	CHECK_INT(sh("ip link set ud0 down"), 0);
	CHECK_INT(nl_mon_process(m, rec_cb, &r), 0);
	l = rec_last(&r, NL_LINK_NEW, ifindex, "ud0");
	CHECK(l && !(l->flags & IFF_UP));
	nl_mon_close(m);
	sh("ip link del ud0");
}

static void test_delete(void)
{
	static struct rec r;
	const struct nl_link *l;
	struct nl_mon *m;
	int ifindex;

	CHECK_INT(sh("ip link add dl0 type %s", plain), 0);
	ifindex = if_nametoindex("dl0");
	m = mon_ready(&r);
	if (!m)
		return;
	CHECK_INT(sh("ip link del dl0"), 0);
	CHECK_INT(nl_mon_process(m, rec_cb, &r), 0);
	l = rec_last(&r, NL_LINK_DEL, ifindex, "dl0");
	CHECK(l != NULL);
	if (l)
		CHECK_STR(l->kind, plain);
	CHECK_INT(rec_count(&r, NL_LINK_DEL, 0), 1);
	nl_mon_close(m);
}

/* A port leaving a bridge comes as an AF_BRIDGE RTM_DELLINK: the port
 * itself stays, so no DEL may reach the caller. */
static void test_bridge_port(void)
{
	static struct rec r;
	struct nl_mon *m;
	int ifindex;

	CHECK_INT(sh("ip link add bpbr type bridge"), 0);
	CHECK_INT(sh("ip link add bp0 type veth peer name bp1"), 0);
	ifindex = if_nametoindex("bp0");
	m = mon_ready(&r);
	if (!m)
		return;
	CHECK_INT(sh("ip link set bp0 master bpbr"), 0);
	CHECK_INT(sh("ip link set bp0 nomaster"), 0);
	CHECK_INT(nl_mon_process(m, rec_cb, &r), 0);
	CHECK(rec_last(&r, NL_LINK_NEW, ifindex, "bp0") != NULL);
	CHECK_INT(rec_count(&r, NL_LINK_DEL, 0), 0);
	nl_mon_close(m);
	sh("ip link del bp0");
	sh("ip link del bpbr");
}

static void check_flood(const struct table *t, bool present)
{
	int missing = 0, wrong = 0;
	char name[IF_NAMESIZE];

	for (int i = 0; i < N_FLOOD; i++) {
		const struct nl_link *l;

		snprintf(name, sizeof(name), "fl%d", i);
		l = table_by_name(t, name);
		if (present && !l)
			missing++;
		else if (!present && l)
			wrong++;
		else if (l && (l->ifindex != (int)if_nametoindex(name) ||
			       strcmp(l->kind, plain) != 0))
			wrong++;
	}
	CHECK_INT(missing, 0);
	CHECK_INT(wrong, 0);
}

/* A table built from a fresh dump: what the kernel holds now. */
static int fresh_count(struct nl_mon *m)
{
	static struct table t;

	memset(&t, 0, sizeof(t));
	CHECK_INT(table_dump(m, &t), 0);
	return t.n;
}

static void test_many(void)
{
	static struct table t;
	struct nl_mon *m = NULL;

	memset(&t, 0, sizeof(t));
	CHECK_INT(nl_mon_open(&m), 0);
	if (!m)
		return;
	CHECK_INT(table_dump(m, &t), 0);
	CHECK_INT(flood_add(), 0);
	CHECK_INT(table_sync(m, &t), 0);
	check_flood(&t, true);
	CHECK_INT(t.n, fresh_count(m));

	CHECK_INT(flood_del(), 0);
	CHECK_INT(table_sync(m, &t), 0);
	check_flood(&t, false);
	CHECK_INT(t.n, fresh_count(m));
	nl_mon_close(m);
}

/* Force an overrun with a tiny buffer. st0 goes up (queued), the flood
 * overruns the socket, then st0 goes down (lost). After the re-dump, the
 * stale "up" still queued must not win over the dump's "down". */
static void test_overrun(void)
{
	static struct table t;
	const struct nl_link *l;
	struct nl_mon *m = NULL;
	int small = 1;

	memset(&t, 0, sizeof(t));
	CHECK_INT(sh("ip link add st0 type %s", plain), 0);
	CHECK_INT(nl_mon_open(&m), 0);
	if (!m)
		return;
	CHECK_INT(setsockopt(nl_mon_fd(m), SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
	CHECK_INT(table_dump(m, &t), 0);
	CHECK_INT(table_sync(m, &t), 0);

	CHECK_INT(sh("ip link set st0 up"), 0);
	CHECK_INT(flood_add(), 0);
	CHECK_INT(sh("ip link set st0 down"), 0);
	CHECK_INT(nl_mon_process(m, table_cb, &t), -ENOBUFS);
	CHECK_INT(table_dump(m, &t), 0);
	CHECK_INT(table_sync(m, &t), 0);
	l = table_by_name(&t, "st0");
	CHECK(l && !(l->flags & IFF_UP));
	check_flood(&t, true);
	CHECK_INT(t.n, fresh_count(m));

	/* deletions lost in an overrun are caught by the dump's sweep */
	CHECK_INT(flood_del(), 0);
	CHECK_INT(table_sync(m, &t), 0);
	CHECK(t.overruns > 0);
	check_flood(&t, false);
	CHECK_INT(t.n, fresh_count(m));
	nl_mon_close(m);
	sh("ip link del st0");
}

/* Append one hand-made link message to buf at *off. */
static struct nlmsghdr *put_link(char *buf, size_t *off, uint16_t type,
				 uint8_t family, int ifindex)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf + *off);
	struct ifinfomsg *ifi;

	nlh->nlmsg_type = type;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = family;
	ifi->ifi_index = ifindex;
	return nlh;
}

/* Malformed messages (sent by hand, as root may, to the monitor's port)
 * are skipped with a warning; the good one among them still gets through. */
static void test_malformed(void)
{
	static struct rec r;
	_Alignas(struct nlmsghdr) char buf[4096];
	struct sockaddr_nl me = { 0 }, dst = { .nl_family = AF_NETLINK };
	socklen_t len = sizeof(me);
	struct nlmsghdr *nlh;
	struct nlattr *nest;
	const struct nl_link *l;
	struct nl_mon *m;
	size_t off = 0;
	int fd;

	m = mon_ready(&r);
	if (!m)
		return;
	CHECK_INT(getsockname(nl_mon_fd(m), (struct sockaddr *)&me, &len), 0);
	dst.nl_pid = me.nl_pid;
	memset(buf, 0, sizeof(buf));

	/* payload shorter than struct ifinfomsg */
	nlh = mnl_nlmsg_put_header(buf + off);
	nlh->nlmsg_type = RTM_NEWLINK;
	mnl_nlmsg_put_extra_header(nlh, 4);
	off += nlh->nlmsg_len;
	/* name without its NUL */
	nlh = put_link(buf, &off, RTM_NEWLINK, AF_UNSPEC, 4001);
	mnl_attr_put(nlh, IFLA_IFNAME, 3, "bad");
	off += nlh->nlmsg_len;
	/* name longer than IFNAMSIZ */
	nlh = put_link(buf, &off, RTM_NEWLINK, AF_UNSPEC, 4002);
	mnl_attr_put_strz(nlh, IFLA_IFNAME, "a-name-far-too-long-for-a-link");
	off += nlh->nlmsg_len;
	/* no name at all */
	nlh = put_link(buf, &off, RTM_DELLINK, AF_UNSPEC, 4003);
	off += nlh->nlmsg_len;
	/* kind without its NUL */
	nlh = put_link(buf, &off, RTM_NEWLINK, AF_UNSPEC, 4004);
	mnl_attr_put_strz(nlh, IFLA_IFNAME, "badkind");
	nest = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put(nlh, IFLA_INFO_KIND, 4, "veth");
	mnl_attr_nest_end(nlh, nest);
	off += nlh->nlmsg_len;
	/* zero ifindex */
	nlh = put_link(buf, &off, RTM_NEWLINK, AF_UNSPEC, 0);
	mnl_attr_put_strz(nlh, IFLA_IFNAME, "zero");
	off += nlh->nlmsg_len;
	/* well formed, but a bridge port event */
	nlh = put_link(buf, &off, RTM_DELLINK, AF_BRIDGE, 4005);
	mnl_attr_put_strz(nlh, IFLA_IFNAME, "port");
	off += nlh->nlmsg_len;
	/* the good one, with an attribute type no kernel has yet */
	nlh = put_link(buf, &off, RTM_NEWLINK, AF_UNSPEC, 4242);
	mnl_attr_put_strz(nlh, IFLA_IFNAME, "fake0");
	mnl_attr_put(nlh, IFLA_ADDRESS, 6, mac_d0);
	mnl_attr_put_u32(nlh, 4000, 7);
	nest = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
	mnl_attr_nest_end(nlh, nest);
	off += nlh->nlmsg_len;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	CHECK(fd >= 0);
	if (fd >= 0) {
		CHECK_INT(sendto(fd, buf, off, 0, (struct sockaddr *)&dst, sizeof(dst)),
			  (long long)off);
		close(fd);
	}
	CHECK_INT(nl_mon_process(m, rec_cb, &r), 0);
	CHECK_INT(r.n, 1);
	l = rec_last(&r, NL_LINK_NEW, 4242, "fake0");
	CHECK(l != NULL);
	if (l) {
		CHECK(memcmp(l->mac, mac_d0, 6) == 0);
		CHECK_STR(l->kind, "veth");
	}
	nl_mon_close(m);
}

static const struct nl_addr *find_addr(const struct nl_addr *v, size_t n,
				       int family, const char *s)
{
	uint8_t want[16] = { 0 };

	if (inet_pton(family, s, want) != 1)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (v[i].family == family && memcmp(v[i].addr, want, 16) == 0)
			return &v[i];
	return NULL;
}

static void test_addr_dump(void)
{
	struct nl_addr *v = NULL;
	const struct nl_addr *a;
	size_t n = 0;
	int ifindex;

	CHECK_INT(sh("ip link add ad0 type %s && ip link set ad0 up && "
		     "ip addr add 10.1.2.3/24 dev ad0 && "
		     "ip addr add 10.1.2.4/24 dev ad0 && "
		     "ip addr add 10.9.9.1 peer 10.9.9.2 dev ad0 && "
		     "ip -6 addr add 2001:db8::5/64 dev ad0 nodad", plain), 0);
	CHECK_INT(sh("ip link add ad1 type %s", plain), 0);
	ifindex = if_nametoindex("ad0");

	CHECK_INT(nl_addr_dump(ifindex, &v, &n), 0);
	for (size_t i = 0; i < n; i++)
		CHECK_INT(v[i].ifindex, ifindex);
	a = find_addr(v, n, AF_INET, "10.1.2.3");
	CHECK(a && a->prefixlen == 24 && a->scope == RT_SCOPE_UNIVERSE &&
	      !(a->flags & IFA_F_SECONDARY));
	a = find_addr(v, n, AF_INET, "10.1.2.4");
	CHECK(a && a->prefixlen == 24 && (a->flags & IFA_F_SECONDARY));
	/* a point-to-point address is the local end, not the peer */
	a = find_addr(v, n, AF_INET, "10.9.9.1");
	CHECK(a && a->prefixlen == 32);
	CHECK(find_addr(v, n, AF_INET, "10.9.9.2") == NULL);
	a = find_addr(v, n, AF_INET6, "2001:db8::5");
	CHECK(a && a->prefixlen == 64 && (a->flags & IFA_F_NODAD));
	CHECK(find_addr(v, n, AF_INET, "127.0.0.1") == NULL);
	free(v);

	CHECK_INT(nl_addr_dump(0, &v, &n), 0);
	a = find_addr(v, n, AF_INET, "127.0.0.1");
	CHECK(a && a->ifindex == 1 && a->prefixlen == 8 && a->scope == RT_SCOPE_HOST);
	a = find_addr(v, n, AF_INET6, "::1");
	CHECK(a && a->ifindex == 1 && a->prefixlen == 128);
	CHECK(find_addr(v, n, AF_INET, "10.1.2.3") != NULL);
	free(v);

	/* a link without addresses */
	v = (struct nl_addr *)&n;
	CHECK_INT(nl_addr_dump(if_nametoindex("ad1"), &v, &n), 0);
	CHECK(v == NULL);
	CHECK_INT(n, 0);
	if (v != (struct nl_addr *)&n)
		free(v);

	sh("ip link del ad0");
	sh("ip link del ad1");
}

/* Our own netns, or no test at all: nothing may reach the root one. */
static int enter_own_netns(void)
{
	struct stat before, after;

	if (stat("/proc/self/ns/net", &before) < 0)
		return -errno;
	if (unshare(CLONE_NEWNET) < 0)
		return -errno;
	if (stat("/proc/self/ns/net", &after) < 0)
		return -errno;
	if (before.st_ino == after.st_ino && before.st_dev == after.st_dev)
		return -EEXIST;
	return system("ip link set lo up") == 0 ? 0 : -EIO;
}

static const char *plain_kind(void)
{
	static const char *const kinds[] = { "dummy", "ifb", "bridge" };

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		char cmd[64];

		snprintf(cmd, sizeof(cmd), "ip link add probe0 type %s 2>/dev/null", kinds[i]);
		if (system(cmd) == 0) {
			sh("ip link del probe0");
			return kinds[i];
		}
	}
	return NULL;
}

int main(void)
{
	int err;

	UNIT_BEGIN("netlink");
	err = enter_own_netns();
	if (err) {
		printf("FAIL unit/netlink/netns: no network namespace of our own: %s\n",
		       strerror(-err));
		return 1;
	}
	plain = plain_kind();
	if (!plain) {
		printf("FAIL unit/netlink/kinds: the kernel has none of dummy, ifb, bridge\n");
		return 1;
	}
	RUN(test_dump);
	RUN(test_veth_events);
	RUN(test_rename);
	RUN(test_up_down);
	RUN(test_delete);
	RUN(test_bridge_port);
	RUN(test_many);
	RUN(test_overrun);
	RUN(test_malformed);
	RUN(test_addr_dump);
	return UNIT_END();
}
