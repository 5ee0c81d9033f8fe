/* Loading the BPF objects: load-time settings, pinned maps, the GC iterator. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <tern/counters.h>
#include <tern/ct.h>
#include <tern/frag.h>
#include <tern/ifstate.h>
#include <tern/nat.h>
#include <tern/policy.h>

#include "tc.skel.h"
#include "gc.skel.h"
#include "sock.skel.h"
#include "agent/cg_hook.h"
#include "agent/services.h"
#include "agent/dataplane.h"
#include "agent/log.h"
#include "agent/tc_hook.h"
#include "maps/maps.h"

static const char *const current_maps[] = {
	TERN_MAP_CT, TERN_MAP_IFSTATE, TERN_MAP_EP, TERN_MAP_COUNTERS, TERN_MAP_FRAG,
	TERN_MAP_JMP, TERN_MAP_POLCTX, TERN_MAP_IPSET, TERN_MAP_POLCNT,
	TERN_MAP_NAT_FE, TERN_MAP_NAT_BE, TERN_MAP_NAT_AFF, TERN_MAP_NAT_SOCK, TERN_MAP_NAT_SOCKFWD,
	TERN_MAP_NAT_GONE, TERN_MAP_NAT_SNAT, TERN_MAP_NODE,
	NULL,
};

static void map_sizes(const struct tern_config *cfg, struct map_size sz[16])
{
	struct map_size s[] = {
		{ TERN_MAP_CT, cfg->ct_max_entries },
		{ TERN_MAP_IFSTATE, cfg->max_interfaces },
		{ TERN_MAP_EP, cfg->max_endpoints },
		{ TERN_MAP_COUNTERS, cfg->max_interfaces },
		{ TERN_MAP_FRAG, TERN_FRAG_MAX },
		{ TERN_MAP_NAT_FE, TERN_NAT_FE_DEFAULT_MAX },
		{ TERN_MAP_NAT_BE, TERN_NAT_BE_DEFAULT_MAX },
		/* connect-time LB: one reverse entry per balanced socket and backend, one
		 * forward entry per unconnected UDP socket and VIP */
		{ TERN_MAP_NAT_SOCK, TERN_NAT_SOCK_DEFAULT_MAX },
		{ TERN_MAP_NAT_SOCKFWD, TERN_NAT_SOCKFWD_DEFAULT_MAX },
		/* a source-NATed flow's two entries, at most one per conntrack entry */
		{ TERN_MAP_NAT_SNAT, cfg->ct_max_entries },
		{ NULL, 0 },
	};

	memcpy(sz, s, sizeof(s));
}

/* Open, configure, size maps, load one object. */
static int load_object(struct bpf_object *obj, const struct tern_config *cfg, const char *what)
{
	struct maps_migration *mig = NULL;
	struct map_size sz[16];
	int err;

	map_sizes(cfg, sz);
	err = maps__prepare(obj, cfg->pin_path, sz, &mig);
	if (err)
		return err;
	err = bpf_object__load(obj);
	if (err) {
		log_error("load %s programs: %s%s", what, strerror(-err), errno_hint(err));
		maps__abort(mig);
		return err;
	}
	return maps__finish(mig);
}

/* Pin the endpoint programs at PIN/progs/ for tern-cni, which attaches
 * them to a new pod's interface before we know it: with no state there they
 * drop everything, so the pod starts fail-closed, also while we are down.
 * Each pin is replaced in one rename(), so tern-cni always finds one whole
 * program, the newest loaded. */
static int tc_progs__pin(struct tern_tc *tc, const char *pin_path)
{
	const struct {
		const char *name;
		struct bpf_program *prog;
	} progs[] = {
		{ TC_PROG_FROM_EP, tc->progs.tern_from_ep },
		{ TC_PROG_TO_EP, tc->progs.tern_to_ep },
	};
	char dir[PATH_MAX], pin[PATH_MAX], tmp[PATH_MAX + 8];
	int err;

	snprintf(dir, sizeof(dir), "%s/progs", pin_path);
	if (mkdir(dir, 0700) && errno != EEXIST) {
		err = -errno;
		log_error("create %s: %s%s", dir, strerror(-err), errno_hint(err));
		return err;
	}
	for (size_t i = 0; i < sizeof(progs) / sizeof(progs[0]); i++) {
		tc_hook__prog_pin_file(pin, sizeof(pin), pin_path, progs[i].name);
		/* no dot in the name: bpffs refuses lookups of dotted names */
		snprintf(tmp, sizeof(tmp), "%s_new", pin);
		unlink(tmp); /* left by an agent that died between pin and rename */
		if (bpf_obj_pin(bpf_program__fd(progs[i].prog), tmp)) {
			err = -errno;
			log_error("pin program %s at %s: %s%s", progs[i].name, tmp, strerror(-err),
				  errno_hint(err));
			return err;
		}
		if (rename(tmp, pin)) {
			err = -errno;
			log_error("rename %s to %s: %s", tmp, pin, strerror(-err));
			unlink(tmp);
			return err;
		}
	}
	return 0;
}

/* The value of an enumerator the running kernel's BTF has, or 0: features
 * newer than Debian's uapi headers (BPF_F_IPV6 came with Linux 6.16). */
static __u64 kernel_enum_value(const char *name)
{
	struct btf *btf = btf__load_vmlinux_btf();
	__u64 val = 0;

	if (!btf)
		return 0;
	for (__u32 id = 1; id < btf__type_cnt(btf) && !val; id++) {
		const struct btf_type *t = btf__type_by_id(btf, id);

		if (!btf_is_enum(t))
			continue;
		const struct btf_enum *e = btf_enum(t);

		for (__u16 i = 0; i < btf_vlen(t); i++)
			if (!strcmp(btf__name_by_offset(btf, e[i].name_off), name))
				val = (__u32)e[i].val;
	}
	btf__free(btf);
	return val;
}

/* A source-NAT range the host also picks local ports from lets a host
 * socket and a source-NATed flow share a tuple: said once, at start. */
static void snat_ports__check(const struct tern_port_range *r)
{
	FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "re");
	unsigned int lo, hi;

	if (!f)
		return;
	if (fscanf(f, "%u %u", &lo, &hi) == 2 && r->min <= hi && lo <= r->max)
		log_warn("services.snatPorts %u-%u overlaps the host's ephemeral ports "
			 "(net.ipv4.ip_local_port_range %u-%u): host sockets may clash with "
			 "source-NATed flows", r->min, r->max, lo, hi);
	fclose(f);
}

/* Connect-time LB on bpf.cgroupPath, every sock_addr program of it. */
static int dataplane__attach_cgroup(struct dataplane *dp)
{
	struct bpf_program *prog;
	__u64 id;
	int fd = cg_hook__open(dp->cfg->cgroup_path, &id), err = 0;

	if (fd < 0)
		return fd;
	bpf_object__for_each_program(prog, dp->sock->obj) {
		int rc = cg_hook__attach(dp->cfg->pin_path, fd, id, prog);

		if (rc < 0) {
			err = rc;
			break;
		}
	}
	close(fd);
	if (!err)
		log_info("connect-time load balancing on %s (tcp %s, udp %s, sctp %s)",
			 dp->cfg->cgroup_path, dp->cfg->ctlb_tcp ? "on" : "off",
			 dp->cfg->ctlb_udp ? "on" : "off", dp->cfg->ctlb_sctp ? "on" : "off");
	return err;
}

int dataplane__open(struct dataplane *dp, const struct tern_config *cfg)
{
	int err;

	memset(dp, 0, sizeof(*dp));
	dp->cfg = cfg;
	err = pin_dir__ensure(cfg->pin_path);
	if (err)
		return err;

	dp->tc = tern_tc__open();
	if (!dp->tc) {
		err = -errno;
		log_error("open tc object: %s", strerror(-err));
		goto fail;
	}
	dp->tc->rodata->ct_timeouts = cfg->ct_timeouts;
	dp->tc->rodata->counter_slots = cfg->max_interfaces;
	dp->tc->rodata->csum_ipv6_flag = kernel_enum_value("BPF_F_IPV6");
	dp->tc->rodata->snat_port_min = cfg->snat_ports.min;
	dp->tc->rodata->snat_port_max = cfg->snat_ports.max;
	snat_ports__check(&cfg->snat_ports);
	err = load_object(dp->tc->obj, cfg, "tc");
	if (!err)
		err = tc__install_continuations(dp->tc);
	if (!err)
		err = tc_progs__pin(dp->tc, cfg->pin_path);
	if (err)
		goto fail;

	dp->gc = tern_gc__open();
	if (!dp->gc) {
		err = -errno;
		log_error("open gc object: %s", strerror(-err));
		goto fail;
	}
	dp->gc->rodata->ct_timeouts = cfg->ct_timeouts;
	dp->gc->rodata->counter_slots = cfg->max_interfaces;
	err = load_object(dp->gc->obj, cfg, "conntrack GC");
	if (err)
		goto fail;

	dp->sock = tern_sock__open();
	if (!dp->sock) {
		err = -errno;
		log_error("open sock object: %s", strerror(-err));
		goto fail;
	}
	dp->sock->rodata->ctlb_tcp = !!cfg->ctlb_tcp;
	dp->sock->rodata->ctlb_udp = !!cfg->ctlb_udp;
	dp->sock->rodata->ctlb_sctp = !!cfg->ctlb_sctp;
	/* an unconnected UDP socket keeps its backend as long as conntrack would */
	dp->sock->rodata->ct_timeouts = cfg->ct_timeouts;
	err = load_object(dp->sock->obj, cfg, "connect-time LB");
	if (!err)
		err = dataplane__attach_cgroup(dp);
	if (err)
		goto fail;

	dp->ct_fd = bpf_map__fd(dp->tc->maps.tern_ct_v1);
	dp->ifstate_fd = bpf_map__fd(dp->tc->maps.tern_ifstate_v1);
	dp->ep_fd = bpf_map__fd(dp->tc->maps.tern_ep_v1);
	dp->counter_fd = bpf_map__fd(dp->tc->maps.tern_counter_v1);
	dp->nat_fe_fd = bpf_map__fd(dp->tc->maps.tern_nat_fe_v1);
	dp->nat_be_fd = bpf_map__fd(dp->tc->maps.tern_nat_be_v1);
	dp->nat_aff_fd = bpf_map__fd(dp->tc->maps.tern_nat_aff_v1);
	dp->node_fd = bpf_map__fd(dp->tc->maps.tern_node_v1);
	dp->jmp_fd = bpf_map__fd(dp->tc->maps.tern_jmp_v1);
	dp->polctx_fd = bpf_map__fd(dp->tc->maps.tern_polctx_v2);
	dp->ipset_fd = bpf_map__fd(dp->tc->maps.tern_ipset_v1);
	dp->polcnt_fd = bpf_map__fd(dp->tc->maps.tern_polcnt_v2);
	maps__remove_stale(cfg->pin_path, current_maps);
	return 0;
fail:
	dataplane__close(dp);
	return err;
}

int tc__install_continuations(struct tern_tc *tc)
{
	const struct {
		__u32 index;
		struct bpf_program *prog;
	} conts[] = {
		{ TERN_JMP_CONT_FROM_EP, tc->progs.tern_from_ep_cont },
		{ TERN_JMP_CONT_FROM_EP_DST, tc->progs.tern_from_ep_dst_cont },
		{ TERN_JMP_CONT_TO_EP, tc->progs.tern_to_ep_cont },
		{ TERN_JMP_CONT_HOST_IN, tc->progs.tern_host_in_cont },
	};
	int jmp = bpf_map__fd(tc->maps.tern_jmp_v1);

	for (size_t i = 0; i < sizeof(conts) / sizeof(conts[0]); i++) {
		int fd = bpf_program__fd(conts[i].prog);

		/* replaces the previous agent's program atomically */
		if (bpf_map_update_elem(jmp, &conts[i].index, &fd, BPF_ANY)) {
			int err = -errno;

			log_error("install continuation %s: %s", bpf_program__name(conts[i].prog),
				  strerror(-err));
			return err;
		}
	}
	return 0;
}

/* Attach (once) an iterator program over map_fd (-1: none), run it, and
 * read its one-line report into buf. 0 or -errno. */
static int iter__run(struct bpf_program *prog, struct bpf_link **link, int map_fd,
		     char *buf, size_t len)
{
	ssize_t n, got = 0;
	int fd, err = 0;

	if (!*link) {
		union bpf_iter_link_info li = { .map.map_fd = map_fd };
		DECLARE_LIBBPF_OPTS(bpf_iter_attach_opts, opts, .link_info = &li,
				    .link_info_len = sizeof(li));

		*link = bpf_program__attach_iter(prog, map_fd >= 0 ? &opts : NULL);
		if (!*link) {
			err = -errno;
			log_error("%s: attach iterator: %s", bpf_program__name(prog), strerror(-err));
			return err;
		}
	}
	fd = bpf_iter_create(bpf_link__fd(*link));
	if (fd < 0) {
		err = -errno;
		log_error("%s: create iterator: %s", bpf_program__name(prog), strerror(-err));
		return err;
	}
	/* the whole walk happens inside read() */
	while ((n = read(fd, buf + got, len - 1 - got)) > 0)
		got += n;
	if (n < 0)
		err = -errno;
	close(fd);
	buf[got] = '\0';
	return err;
}

static __u64 mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* Gone backends are refused for a while, then forgotten. */
static void gone__expire(struct dataplane *dp)
{
	int fd = bpf_map__fd(dp->tc->maps.tern_nat_gone_v1);
	struct tern_nat_gone_key k, next;
	__u64 until, now = mono_ns();
	int more = bpf_map_get_next_key(fd, NULL, &next) == 0;

	while (more) {
		k = next;
		more = bpf_map_get_next_key(fd, &k, &next) == 0;
		if (bpf_map_lookup_elem(fd, &k, &until) == 0 && until < now)
			bpf_map_delete_elem(fd, &k);
	}
}

int dataplane__ct_gc(struct dataplane *dp, __u64 *scanned, __u64 *deleted)
{
	char buf[128];
	int err = iter__run(dp->gc->progs.tern_ct_gc, &dp->gc_link,
			    bpf_map__fd(dp->gc->maps.tern_ct_v1), buf, sizeof(buf));

	gone__expire(dp);
	if (!err && sscanf(buf, "%llu %llu", (unsigned long long *)scanned,
			   (unsigned long long *)deleted) != 2)
		*scanned = *deleted = 0;
	return err;
}

/* Empty the flush set, whatever it holds: what a run left would be
 * flushed at every later one. */
static void flush_set__clear(int fd)
{
	struct tern_addr k;

	while (!bpf_map_get_next_key(fd, NULL, &k))
		if (bpf_map_delete_elem(fd, &k))
			break;
}

__u64 dataplane__flush_cutoff(void)
{
	/* a program that read the state from before finishes within
	 * microseconds of it; give it a millisecond */
	struct timespec settle = { .tv_nsec = 1000000 };

	nanosleep(&settle, NULL);
	return mono_ns();
}

static int addr_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct tern_addr));
}

int dataplane__ct_flush(struct dataplane *dp, const struct tern_addr *addrs,
			const __u64 *before_ns, size_t n, __u64 *deleted)
{
	int fd = bpf_map__fd(dp->gc->maps.ct_flush_addrs), err = 0;

	*deleted = 0;
	flush_set__clear(fd);
	for (size_t at = 0; at < n && !err; at += TERN_CT_FLUSH_MAX) {
		__u32 chunk = n - at < TERN_CT_FLUSH_MAX ? n - at : TERN_CT_FLUSH_MAX;
		unsigned long long d = 0;
		char buf[64];

		if (bpf_map_update_batch(fd, addrs + at, before_ns + at, &chunk, NULL)) {
			err = -errno;
			log_error("conntrack flush: fill the address set: %s%s", strerror(-err),
				  errno_hint(err));
		} else {
			err = iter__run(dp->gc->progs.tern_ct_flush, &dp->flush_link,
					bpf_map__fd(dp->gc->maps.tern_ct_v1), buf, sizeof(buf));
		}
		if (!err && sscanf(buf, "%llu", &d) == 1)
			*deleted += d;
		flush_set__clear(fd);
	}
	return err;
}

size_t dataplane__gone_forget(struct dataplane *dp, const struct tern_addr *addrs, size_t n)
{
	int fd = bpf_map__fd(dp->tc->maps.tern_nat_gone_v1);
	struct tern_nat_gone_key keys[TERN_NAT_GONE_MAX], k;
	size_t n_keys = 0, forgot = 0;
	void *prev = NULL;

	/* collect first: deleting while walking restarts the walk */
	while (n_keys < TERN_NAT_GONE_MAX && !bpf_map_get_next_key(fd, prev, &k)) {
		if (bsearch(&k.addr, addrs, n, sizeof(*addrs), addr_cmp))
			keys[n_keys++] = k;
		prev = &k;
	}
	for (size_t i = 0; i < n_keys; i++)
		forgot += bpf_map_delete_elem(fd, &keys[i]) == 0;
	if (forgot)
		log_info("UDP backends gone: %zu no longer refused, their addresses are a new "
			 "pod's", forgot);
	return forgot;
}

void dataplane__udp_gone(struct dataplane *dp, const struct svc_gone *g, size_t n)
{
	int fd = bpf_map__fd(dp->tc->maps.tern_nat_gone_v1);
	__u64 until = mono_ns() + TERN_NAT_GONE_SECONDS * 1000000000ULL;
	unsigned long long flows = 0, socks = 0;
	size_t n_gone = 0;
	char buf[64];

	for (size_t i = 0; i < n; i++) {
		struct tern_nat_gone_key k = { .addr = g[i].addr, .port = g[i].port,
					       .proto = IPPROTO_UDP };

		/* one that is a backend again is no longer refused */
		if (g[i].back) {
			bpf_map_delete_elem(fd, &k);
			continue;
		}
		n_gone++;
		if (bpf_map_update_elem(fd, &k, &until, BPF_ANY))
			log_warn("gone backends map: %s%s", strerror(errno), errno_hint(-errno));
	}
	if (!n_gone)
		return;
	if (iter__run(dp->gc->progs.tern_ct_gone, &dp->gone_link,
		      bpf_map__fd(dp->gc->maps.tern_ct_v1), buf, sizeof(buf)) == 0)
		sscanf(buf, "%llu", &flows);
	/* sockets of the namespace ternd runs in (host-network clients); a
	 * pod's socket gets ICMP unreachable from tc on its next send */
	if (iter__run(dp->gc->progs.tern_udp_gone, &dp->udp_gone_link, -1, buf,
		      sizeof(buf)) == 0)
		sscanf(buf, "%llu", &socks);
	log_info("%zu UDP backends gone: %llu flows removed, %llu sockets closed", n_gone, flows,
		 socks);
}

void dataplane__close(struct dataplane *dp)
{
	bpf_link__destroy(dp->gc_link);
	bpf_link__destroy(dp->gone_link);
	bpf_link__destroy(dp->udp_gone_link);
	bpf_link__destroy(dp->flush_link);
	tern_sock__destroy(dp->sock);
	tern_gc__destroy(dp->gc);
	tern_tc__destroy(dp->tc);
	dp->gc_link = NULL;
	dp->gone_link = NULL;
	dp->udp_gone_link = NULL;
	dp->flush_link = NULL;
	dp->gc = NULL;
	dp->sock = NULL;
	dp->tc = NULL;
}

int dataplane__prog_from_ep(const struct dataplane *dp)
{
	return bpf_program__fd(dp->tc->progs.tern_from_ep);
}

int dataplane__prog_to_ep(const struct dataplane *dp)
{
	return bpf_program__fd(dp->tc->progs.tern_to_ep);
}

int dataplane__prog_host_in(const struct dataplane *dp)
{
	return bpf_program__fd(dp->tc->progs.tern_host_in);
}

int dataplane__prog_host_out(const struct dataplane *dp)
{
	return bpf_program__fd(dp->tc->progs.tern_host_out);
}
