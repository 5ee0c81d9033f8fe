/* Loading the BPF objects: load-time settings, pinned maps, the GC iterator. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <tern/counters.h>
#include <tern/ct.h>
#include <tern/frag.h>
#include <tern/ifstate.h>
#include <tern/nat.h>
#include <tern/policy.h>

#include "tc.skel.h"
#include "gc.skel.h"
#include "agent/dataplane.h"
#include "agent/log.h"
#include "maps/maps.h"

static const char *const current_maps[] = {
	TERN_MAP_CT, TERN_MAP_IFSTATE, TERN_MAP_EP, TERN_MAP_COUNTERS, TERN_MAP_FRAG,
	TERN_MAP_JMP, TERN_MAP_POLCTX, TERN_MAP_IPSET, TERN_MAP_POLCNT, NULL,
};

static void map_sizes(const struct tern_config *cfg, struct map_size *sz)
{
	struct map_size s[] = {
		{ TERN_MAP_CT, cfg->ct_max_entries },
		{ TERN_MAP_IFSTATE, cfg->max_interfaces },
		{ TERN_MAP_EP, cfg->max_endpoints },
		{ TERN_MAP_COUNTERS, cfg->max_interfaces },
		{ TERN_MAP_FRAG, TERN_FRAG_MAX },
		{ NULL, 0 },
	};

	memcpy(sz, s, sizeof(s));
}

/* Open, configure, size maps, load one object. */
static int load_object(struct bpf_object *obj, const struct tern_config *cfg, const char *what)
{
	struct maps_migration *mig = NULL;
	struct map_size sz[6];
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
	err = load_object(dp->tc->obj, cfg, "tc");
	if (!err)
		err = tc__install_continuations(dp->tc);
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

	dp->ct_fd = bpf_map__fd(dp->tc->maps.tern_ct_v1);
	dp->ifstate_fd = bpf_map__fd(dp->tc->maps.tern_ifstate_v1);
	dp->ep_fd = bpf_map__fd(dp->tc->maps.tern_ep_v1);
	dp->counter_fd = bpf_map__fd(dp->tc->maps.tern_counter_v1);
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

int dataplane__ct_gc(struct dataplane *dp, __u64 *scanned, __u64 *deleted)
{
	char buf[128];
	ssize_t n, got = 0;
	int fd, err = 0;

	if (!dp->gc_link) {
		union bpf_iter_link_info li = { .map.map_fd = bpf_map__fd(dp->gc->maps.tern_ct_v1) };
		DECLARE_LIBBPF_OPTS(bpf_iter_attach_opts, opts, .link_info = &li,
				    .link_info_len = sizeof(li));

		dp->gc_link = bpf_program__attach_iter(dp->gc->progs.tern_ct_gc, &opts);
		if (!dp->gc_link) {
			err = -errno;
			log_error("conntrack GC: attach iterator: %s", strerror(-err));
			return err;
		}
	}
	fd = bpf_iter_create(bpf_link__fd(dp->gc_link));
	if (fd < 0) {
		err = -errno;
		log_error("conntrack GC: create iterator: %s", strerror(-err));
		return err;
	}
	/* the whole walk happens inside read(); it prints one summary line */
	while ((n = read(fd, buf + got, sizeof(buf) - 1 - got)) > 0)
		got += n;
	if (n < 0)
		err = -errno;
	close(fd);
	buf[got] = '\0';
	if (!err && sscanf(buf, "%llu %llu", (unsigned long long *)scanned,
			   (unsigned long long *)deleted) != 2)
		*scanned = *deleted = 0;
	return err;
}

void dataplane__close(struct dataplane *dp)
{
	bpf_link__destroy(dp->gc_link);
	tern_gc__destroy(dp->gc);
	tern_tc__destroy(dp->tc);
	dp->gc_link = NULL;
	dp->gc = NULL;
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
