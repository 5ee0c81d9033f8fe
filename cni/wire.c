/* A pod's veth wired as DESIGN.md's "Pod wiring" says: created, checked
 * against a previous result, and removed. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cni/cni.h"
#include "cni/nl.h"

__attribute__((format(printf, 3, 4)))
static int wiring_fail(struct cni_error *e, int err, const char *fmt, ...)
{
	size_t n;
	va_list ap;

	/* a busy kernel or a racing runtime: worth trying again */
	e->code = err == -EAGAIN || err == -EBUSY || err == -ENOBUFS ? CNI_ERR_TRY_AGAIN
								   : TERN_ERR_WIRING;
	snprintf(e->msg, sizeof(e->msg), "wiring the pod's interface failed");
	va_start(ap, fmt);
	vsnprintf(e->details, sizeof(e->details), fmt, ap);
	va_end(ap);
	n = strlen(e->details);
	snprintf(e->details + n, sizeof(e->details) - n, ": %s%s", strerror(-err),
		 err == -EPERM ? " (tern-cni needs CAP_NET_ADMIN and CAP_SYS_ADMIN: run it as root)"
			       : "");
	return err;
}

/* --- sysctls of the host netns (tern-cni runs in it) ------------------------ */

static int sysctl_write(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), err = 0;
	size_t len = strlen(val);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, val, len);
	if (n < 0)
		err = -errno;
	else if ((size_t)n != len)
		err = -EIO;
	close(fd);
	return err;
}

/* The value as an integer: 0 with *out, or -errno. */
static int sysctl_read(const char *path, long *out)
{
	char buf[32];
	int fd = open(path, O_RDONLY | O_CLOEXEC), err;
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	err = n < 0 ? -errno : n == 0 ? -EIO : 0;
	close(fd);
	if (err)
		return err;
	buf[n] = '\0';
	*out = strtol(buf, NULL, 10);
	return 0;
}

struct knob {
	int family;              /* which pods need it */
	const char *fmt;         /* path, %s: the host-side interface */
	const char *val;
};

/* Per host-side interface. accept_dad 0: its link-local address is the
 * one the pod's neighbour solicitations are answered from, and nothing on
 * a two-ended link can collide with it. */
static const struct knob host_knobs[] = {
	{ AF_INET, "/proc/sys/net/ipv4/conf/%s/proxy_arp", "1" },
	{ AF_INET, "/proc/sys/net/ipv4/neigh/%s/proxy_delay", "0" },
	{ AF_INET6, "/proc/sys/net/ipv6/conf/%s/proxy_ndp", "1" },
	{ AF_INET6, "/proc/sys/net/ipv6/neigh/%s/proxy_delay", "0" },
	{ AF_INET6, "/proc/sys/net/ipv6/conf/%s/accept_dad", "0" },
};

/* Node-wide: routing between pods and the node's interfaces. */
static const struct knob node_knobs[] = {
	{ AF_INET, "/proc/sys/net/ipv4/ip_forward", "1" },
	{ AF_INET6, "/proc/sys/net/ipv6/conf/all/forwarding", "1" },
};

static bool has_family(const struct cni_ip *ips, size_t n, int family)
{
	for (size_t i = 0; i < n; i++) {
		if (ips[i].family == family)
			return true;
	}
	return false;
}

static int knobs_set(const char *ifname, const struct cni_ip *ips, size_t n_ips,
		     struct cni_error *e)
{
	char path[128];
	long cur;
	int err;

	for (size_t i = 0; i < sizeof(host_knobs) / sizeof(host_knobs[0]); i++) {
		if (!has_family(ips, n_ips, host_knobs[i].family))
			continue;
		snprintf(path, sizeof(path), host_knobs[i].fmt, ifname);
		err = sysctl_write(path, host_knobs[i].val);
		if (err)
			return wiring_fail(e, err, "write %s to %s", host_knobs[i].val, path);
	}
	for (size_t i = 0; i < sizeof(node_knobs) / sizeof(node_knobs[0]); i++) {
		if (!has_family(ips, n_ips, node_knobs[i].family))
			continue;
		/* write only when off: on IPv6, setting forwarding also
		 * changes how every interface treats router advertisements */
		err = sysctl_read(node_knobs[i].fmt, &cur);
		if (!err && cur == 1)
			continue;
		err = sysctl_write(node_knobs[i].fmt, node_knobs[i].val);
		if (err)
			return wiring_fail(e, err, "write 1 to %s", node_knobs[i].fmt);
	}
	return 0;
}

/* --- ADD --------------------------------------------------------------------- */

static int netns_open(const struct cni_req *r, struct cni_error *e)
{
	int fd = open(r->netns, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return cni_fail(e, CNI_ERR_ENV, -errno, "invalid environment variables",
				"CNI_NETNS: %s: %s", r->netns, strerror(errno));
	return fd;
}

/* The pod's netns and a socket in it, and one in ours. */
struct ns_socks {
	int fd;
	struct cni_nl *pod, *host;
};

static int ns_socks__open(const struct cni_req *r, struct ns_socks *ns, struct cni_error *e)
{
	int err;

	*ns = (struct ns_socks){ .fd = -1 };
	ns->fd = netns_open(r, e);
	if (ns->fd < 0)
		return ns->fd;
	err = cni_nl__open(ns->fd, &ns->pod);
	if (err == -EINVAL)
		return cni_fail(e, CNI_ERR_ENV, err, "invalid environment variables",
				"CNI_NETNS: %s is not a network namespace", r->netns);
	if (err)
		return wiring_fail(e, err, "enter the pod's network namespace %s", r->netns);
	err = cni_nl__open(-1, &ns->host);
	if (err)
		return wiring_fail(e, err, "rtnetlink socket");
	return 0;
}

static void ns_socks__close(struct ns_socks *ns)
{
	cni_nl__close(ns->pod);
	cni_nl__close(ns->host);
	if (ns->fd >= 0)
		close(ns->fd);
}

int wire__precheck(const struct cni_req *r, struct cni_error *e)
{
	struct ns_socks ns;
	struct cni_link l;
	int err;

	err = ns_socks__open(r, &ns, e);
	if (err)
		goto out;
	err = cni_nl__link_get(ns.pod, r->ifname, &l);
	if (!err) {
		err = cni_fail(e, TERN_ERR_EXISTS, -EEXIST, "interface already exists",
			       "CNI_IFNAME %s already exists in %s", r->ifname, r->netns);
		goto out;
	}
	if (err != -ENODEV) {
		wiring_fail(e, err, "look up %s in %s", r->ifname, r->netns);
		goto out;
	}
	err = cni_nl__link_get(ns.host, r->host_ifname, &l);
	if (err == -ENODEV) {
		err = 0;
		goto out;
	}
	if (err) {
		wiring_fail(e, err, "look up %s", r->host_ifname);
		goto out;
	}
	/* The name is the pod's: a veth under it is left from an earlier
	 * sandbox of the same pod whose netns still exists (its DEL removes
	 * the pod-side end, which is gone with this one). Anything else
	 * under it is not ours to remove. */
	if (strcmp(l.kind, "veth")) {
		err = cni_fail(e, TERN_ERR_EXISTS, -EEXIST, "interface already exists",
			       "%s (pod %s/%s's host-side name) exists and is a %s, not a veth: "
			       "remove it", r->host_ifname, r->pod_ns, r->pod_name,
			       l.kind[0] ? l.kind : "device");
		goto out;
	}
	fprintf(stderr, "tern-cni: %s: removing the veth of an earlier sandbox of pod %s/%s\n",
		r->host_ifname, r->pod_ns, r->pod_name);
	err = cni_nl__link_del(ns.host, l.ifindex);
	if (err == -ENODEV)
		err = 0;
	if (err)
		wiring_fail(e, err, "remove the earlier sandbox's %s", r->host_ifname);
out:
	ns_socks__close(&ns);
	return err;
}

static void ip_const(const char *s, struct cni_ip *ip)
{
	cni_ip__parse(s, ip); /* the constants parse */
}

static int pod_side(const struct cni_req *r, struct cni_nl *pod, int ifindex,
		    const struct cni_ip *ips, size_t n_ips, struct cni_error *e)
{
	struct cni_ip gw4, gw6, any4 = { .family = AF_INET }, any6 = { .family = AF_INET6 };
	char ip_s[INET6_ADDRSTRLEN];
	int err;

	ip_const(CNI_GW4, &gw4);
	ip_const(CNI_GW6, &gw6);
	err = cni_nl__link_up(pod, ifindex);
	if (err)
		return wiring_fail(e, err, "set %s up in %s", r->ifname, r->netns);
	for (size_t i = 0; i < n_ips; i++) {
		err = cni_nl__addr_add(pod, ifindex, &ips[i]);
		if (err)
			return wiring_fail(e, err, "add %s/%d to %s in %s",
					   cni_ip__str(&ips[i], ip_s, sizeof(ip_s)),
					   ips[i].family == AF_INET ? 32 : 128, r->ifname, r->netns);
	}
	if (has_family(ips, n_ips, AF_INET)) {
		/* the gateway is on link: nothing else routes to it */
		err = cni_nl__route_add(pod, &gw4, 32, NULL, ifindex);
		if (!err)
			err = cni_nl__route_add(pod, &any4, 0, &gw4, ifindex);
		if (err)
			return wiring_fail(e, err, "add the default route via %s dev %s in %s",
					   CNI_GW4, r->ifname, r->netns);
	}
	if (has_family(ips, n_ips, AF_INET6)) {
		err = cni_nl__route_add(pod, &any6, 0, &gw6, ifindex);
		if (err)
			return wiring_fail(e, err, "add the default route via %s dev %s in %s",
					   CNI_GW6, r->ifname, r->netns);
	}
	return 0;
}

static int host_side(const struct cni_req *r, struct cni_nl *host, int ifindex,
		     const struct cni_ip *ips, size_t n_ips, struct cni_error *e)
{
	char ip_s[INET6_ADDRSTRLEN];
	struct cni_ip gw6;
	int err;

	ip_const(CNI_GW6, &gw6);
	err = knobs_set(r->host_ifname, ips, n_ips, e);
	if (err)
		return err;
	err = cni_nl__link_up(host, ifindex);
	if (err)
		return wiring_fail(e, err, "set %s up", r->host_ifname);
	if (has_family(ips, n_ips, AF_INET6)) {
		err = cni_nl__proxy_add(host, ifindex, &gw6);
		if (err)
			return wiring_fail(e, err, "add the proxy neighbour %s on %s", CNI_GW6,
					   r->host_ifname);
	}
	for (size_t i = 0; i < n_ips; i++) {
		err = cni_nl__route_add(host, &ips[i], ips[i].family == AF_INET ? 32 : 128, NULL,
					ifindex);
		if (err)
			return wiring_fail(e, err, "add the route to %s via %s",
					   cni_ip__str(&ips[i], ip_s, sizeof(ip_s)), r->host_ifname);
	}
	return 0;
}

int wire__add(const struct cni_req *r, const struct cni_progs *progs, const struct cni_ip *ips,
	      size_t n_ips, struct wiring *w, struct cni_error *e)
{
	struct ns_socks ns;
	struct cni_link hl = { 0 }, pl;
	bool created = false;
	int err;

	err = ns_socks__open(r, &ns, e);
	if (err)
		goto out;
	err = cni_nl__veth_add(ns.host, r->host_ifname, r->ifname, ns.fd, r->mtu);
	if (err == -EEXIST) {
		/* precheck saw both names free: something else got there first */
		cni_fail(e, TERN_ERR_EXISTS, err, "interface already exists",
			 "%s or %s in %s appeared while tern-cni was creating them",
			 r->host_ifname, r->ifname, r->netns);
		goto out;
	}
	if (err) {
		wiring_fail(e, err, "create veth %s <-> %s in %s (mtu %d)", r->host_ifname,
			    r->ifname, r->netns, r->mtu);
		goto out;
	}
	err = cni_nl__link_get(ns.host, r->host_ifname, &hl);
	if (err) {
		wiring_fail(e, err, "look up the new %s", r->host_ifname);
		goto out;
	}
	created = true;
	/* before either end is up: no packet passes without tern's programs */
	err = cni_hook__attach(r, progs, hl.ifindex, e);
	if (err)
		goto out;
	err = cni_nl__link_get(ns.pod, r->ifname, &pl);
	if (err) {
		wiring_fail(e, err, "look up the new %s in %s", r->ifname, r->netns);
		goto out;
	}
	err = pod_side(r, ns.pod, pl.ifindex, ips, n_ips, e);
	if (!err)
		err = host_side(r, ns.host, hl.ifindex, ips, n_ips, e);
	if (err)
		goto out;
	memcpy(w->host_mac, hl.mac, sizeof(w->host_mac));
	memcpy(w->pod_mac, pl.mac, sizeof(w->pod_mac));
	memcpy(w->ips, ips, n_ips * sizeof(ips[0]));
	w->n_ips = n_ips;
out:
	/* the pair goes as one, and the routes, the proxy entry and the
	 * links with it; then the links' pins */
	if (err && created) {
		int derr = cni_nl__link_del(ns.host, hl.ifindex);

		if (derr)
			fprintf(stderr, "tern-cni: could not remove %s after the failure: %s\n",
				r->host_ifname, strerror(-derr));
		else
			cni_hook__release(r);
	}
	ns_socks__close(&ns);
	return err;
}

/* --- DEL ----------------------------------------------------------------------- */

int wire__del(const struct cni_req *r, struct cni_error *e)
{
	struct cni_nl *pod = NULL;
	struct cni_link l;
	int fd, err;

	if (!r->netns)
		return 0;
	fd = open(r->netns, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return 0; /* the netns is gone, and the veth with it */
	if (fd < 0)
		return cni_fail(e, CNI_ERR_ENV, -errno, "invalid environment variables",
				"CNI_NETNS: %s: %s", r->netns, strerror(errno));
	err = cni_nl__open(fd, &pod);
	if (err == -EINVAL) {
		/* an unmounted netns leaves a plain file behind: also gone */
		err = 0;
		goto out;
	}
	if (err) {
		wiring_fail(e, err, "enter the pod's network namespace %s", r->netns);
		goto out;
	}
	err = cni_nl__link_get(pod, r->ifname, &l);
	if (err == -ENODEV) {
		err = 0;
		goto out;
	}
	if (err) {
		wiring_fail(e, err, "look up %s in %s", r->ifname, r->netns);
		goto out;
	}
	if (strcmp(l.kind, "veth")) {
		fprintf(stderr, "tern-cni: %s in %s is a %s, not tern's veth: left in place\n",
			r->ifname, r->netns, l.kind[0] ? l.kind : "device");
		goto out;
	}
	err = cni_nl__link_del(pod, l.ifindex);
	if (err == -ENODEV)
		err = 0;
	if (err)
		wiring_fail(e, err, "remove %s from %s", r->ifname, r->netns);
out:
	cni_nl__close(pod);
	close(fd);
	return err;
}

/* --- CHECK --------------------------------------------------------------------- */

/* What CHECK found wrong, as one "; "-separated list. */
struct problems {
	char buf[1800];
	size_t len;
	int n;
};

__attribute__((format(printf, 2, 3)))
static void problem(struct problems *p, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (p->len >= sizeof(p->buf) - 1)
		return;
	if (p->n++)
		p->len += (size_t)snprintf(p->buf + p->len, sizeof(p->buf) - p->len, "; ");
	if (p->len >= sizeof(p->buf) - 1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(p->buf + p->len, sizeof(p->buf) - p->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		p->len += (size_t)n;
	if (p->len > sizeof(p->buf) - 1)
		p->len = sizeof(p->buf) - 1;
}

/* What prevResult says about the pod: its interfaces' MACs and its IPs. */
struct prev {
	const char *host_mac, *pod_mac;  /* NULL when not given */
	size_t n_ips;
	struct cni_ip ips[2];
	int prefix[2];
};

static int prev_parse(const struct cni_req *r, struct prev *pv, struct cni_error *e)
{
	struct json_object *ifs, *ips, *v;
	int pod_idx = -1;

	memset(pv, 0, sizeof(*pv));
	if (!r->prev)
		return cni_fail(e, CNI_ERR_CONFIG, -EINVAL, "invalid network config",
				"prevResult: missing; CHECK compares against the ADD's result");
	if (!json_object_object_get_ex(r->prev, "interfaces", &ifs) ||
	    !json_object_is_type(ifs, json_type_array))
		return cni_fail(e, CNI_ERR_CONFIG, -EINVAL, "invalid network config",
				"prevResult.interfaces: missing");
	for (size_t i = 0; i < json_object_array_length(ifs); i++) {
		struct json_object *it = json_object_array_get_idx(ifs, i), *name, *mac, *sb;
		bool in_pod;

		if (!json_object_object_get_ex(it, "name", &name))
			continue;
		in_pod = json_object_object_get_ex(it, "sandbox", &sb) &&
			 *json_object_get_string(sb);
		json_object_object_get_ex(it, "mac", &mac);
		if (in_pod && !strcmp(json_object_get_string(name), r->ifname)) {
			pod_idx = (int)i;
			pv->pod_mac = mac ? json_object_get_string(mac) : NULL;
		} else if (!in_pod && !strcmp(json_object_get_string(name), r->host_ifname)) {
			pv->host_mac = mac ? json_object_get_string(mac) : NULL;
		}
	}
	if (pod_idx < 0)
		return cni_fail(e, CNI_ERR_CONFIG, -EINVAL, "invalid network config",
				"prevResult.interfaces: no %s with a sandbox", r->ifname);
	if (!json_object_object_get_ex(r->prev, "ips", &ips) ||
	    !json_object_is_type(ips, json_type_array))
		return 0;
	for (size_t i = 0; i < json_object_array_length(ips); i++) {
		struct json_object *it = json_object_array_get_idx(ips, i);
		char addr[INET6_ADDRSTRLEN + 8], *slash;

		if (!json_object_object_get_ex(it, "interface", &v) ||
		    json_object_get_int(v) != pod_idx)
			continue;
		if (!json_object_object_get_ex(it, "address", &v))
			continue;
		snprintf(addr, sizeof(addr), "%s", json_object_get_string(v));
		slash = strchr(addr, '/');
		if (slash)
			*slash = '\0';
		if (!slash || pv->n_ips == 2 || cni_ip__parse(addr, &pv->ips[pv->n_ips]))
			return cni_fail(e, CNI_ERR_CONFIG, -EINVAL, "invalid network config",
					"prevResult.ips[%zu].address: \"%s\": expected one "
					"address/prefix per family", i, json_object_get_string(v));
		pv->prefix[pv->n_ips++] = atoi(slash + 1);
	}
	return 0;
}

static void check_link(struct problems *p, const char *what, const struct cni_link *l,
		       const char *want_mac)
{
	char mac[18];

	if (strcmp(l->kind, "veth"))
		problem(p, "%s is a %s, not a veth", what, l->kind[0] ? l->kind : "device");
	if (!(l->flags & IFF_UP))
		problem(p, "%s is down", what);
	cni_mac__str(l->mac, mac, sizeof(mac));
	if (want_mac && strcasecmp(want_mac, mac))
		problem(p, "%s has MAC %s, the ADD result says %s", what, mac, want_mac);
}

static void check_knobs(struct problems *p, const struct cni_req *r, const struct prev *pv)
{
	char path[128];
	long cur;
	int err;

	for (size_t i = 0; i < sizeof(host_knobs) / sizeof(host_knobs[0]); i++) {
		/* accept_dad only speeds up the start */
		if (!has_family(pv->ips, pv->n_ips, host_knobs[i].family) ||
		    strstr(host_knobs[i].fmt, "accept_dad"))
			continue;
		snprintf(path, sizeof(path), host_knobs[i].fmt, r->host_ifname);
		err = sysctl_read(path, &cur);
		if (err)
			problem(p, "%s: %s", path, strerror(-err));
		else if (cur != atol(host_knobs[i].val))
			problem(p, "%s is %ld, want %s", path, cur, host_knobs[i].val);
	}
	for (size_t i = 0; i < sizeof(node_knobs) / sizeof(node_knobs[0]); i++) {
		if (!has_family(pv->ips, pv->n_ips, node_knobs[i].family))
			continue;
		err = sysctl_read(node_knobs[i].fmt, &cur);
		if (err)
			problem(p, "%s: %s", node_knobs[i].fmt, strerror(-err));
		else if (cur != 1)
			problem(p, "%s is %ld, want 1 (forwarding is off)", node_knobs[i].fmt, cur);
	}
}

/* has: 1 present, 0 missing, -errno could not tell */
__attribute__((format(printf, 3, 4)))
static void expect(struct problems *p, int has, const char *fmt, ...)
{
	char what[256];
	va_list ap;

	if (has == 1)
		return;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (has == 0)
		problem(p, "%s is missing", what);
	else
		problem(p, "%s: cannot tell: %s", what, strerror(-has));
}

static void check_routes(struct problems *p, const struct cni_req *r, struct cni_nl *pod,
			 struct cni_nl *host, const struct cni_link *pl, const struct cni_link *hl,
			 const struct prev *pv)
{
	struct cni_ip gw4, gw6, any4 = { .family = AF_INET }, any6 = { .family = AF_INET6 };
	char ip_s[INET6_ADDRSTRLEN];

	ip_const(CNI_GW4, &gw4);
	ip_const(CNI_GW6, &gw6);
	for (size_t i = 0; i < pv->n_ips; i++) {
		const struct cni_ip *ip = &pv->ips[i];

		cni_ip__str(ip, ip_s, sizeof(ip_s));
		expect(p, cni_nl__addr_has(pod, pl->ifindex, ip, pv->prefix[i]),
		       "address %s/%d on %s in %s", ip_s, pv->prefix[i], r->ifname, r->netns);
		expect(p, cni_nl__route_has(host, ip, ip->family == AF_INET ? 32 : 128, NULL,
					    hl->ifindex),
		       "route %s dev %s", ip_s, r->host_ifname);
	}
	if (has_family(pv->ips, pv->n_ips, AF_INET)) {
		expect(p, cni_nl__route_has(pod, &gw4, 32, NULL, pl->ifindex),
		       "route %s dev %s in %s", CNI_GW4, r->ifname, r->netns);
		expect(p, cni_nl__route_has(pod, &any4, 0, &gw4, pl->ifindex),
		       "default route via %s dev %s in %s", CNI_GW4, r->ifname, r->netns);
	}
	if (has_family(pv->ips, pv->n_ips, AF_INET6)) {
		expect(p, cni_nl__route_has(pod, &any6, 0, &gw6, pl->ifindex),
		       "default route via %s dev %s in %s", CNI_GW6, r->ifname, r->netns);
		expect(p, cni_nl__proxy_has(host, hl->ifindex, &gw6),
		       "proxy neighbour %s on %s", CNI_GW6, r->host_ifname);
	}
}

int wire__check(const struct cni_req *r, struct cni_error *e)
{
	struct ns_socks ns;
	struct problems p = { .len = 0 };
	struct cni_link hl, pl;
	struct prev pv;
	int err;

	err = prev_parse(r, &pv, e);
	if (err)
		return err;
	err = ns_socks__open(r, &ns, e);
	if (err)
		goto out;
	err = cni_nl__link_get(ns.host, r->host_ifname, &hl);
	if (err == -ENODEV)
		problem(&p, "host-side interface %s is missing", r->host_ifname);
	else if (err)
		problem(&p, "%s: %s", r->host_ifname, strerror(-err));
	else
		check_link(&p, r->host_ifname, &hl, pv.host_mac);
	if (!err) {
		err = cni_nl__link_get(ns.pod, r->ifname, &pl);
		if (err == -ENODEV)
			problem(&p, "%s is missing in %s", r->ifname, r->netns);
		else if (err)
			problem(&p, "%s in %s: %s", r->ifname, r->netns, strerror(-err));
	}
	if (!err) {
		check_link(&p, r->ifname, &pl, pv.pod_mac);
		/* each end names the other's ifindex */
		if (pl.peer_ifindex != hl.ifindex)
			problem(&p, "%s in %s is not the peer of %s", r->ifname, r->netns,
				r->host_ifname);
		check_routes(&p, r, ns.pod, ns.host, &pl, &hl, &pv);
		check_knobs(&p, r, &pv);
		for (int dir = 0; dir < 2; dir++)
			expect(&p, cni_hook__has(r, dir, hl.ifindex), "tern's tc %s program on %s",
			       dir ? "egress" : "ingress", r->host_ifname);
	}
	err = 0;
	if (p.n)
		err = cni_fail(e, TERN_ERR_CHECK, -EINVAL, "pod wiring differs from ADD's", "%s",
			       p.buf);
out:
	ns_socks__close(&ns);
	return err;
}
