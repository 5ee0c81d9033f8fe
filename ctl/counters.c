/* `ternctl counters`: tern_counter_v1 per interface (a slot's row, found
 * through tern_ifstate_v1), summed over CPUs, named by TERN_COUNTERS. */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <tern/counters.h>
#include <tern/ifstate.h>

#include "ctl/ctl.h"
#include "maps/maps.h"

static const struct {
	const char *name;
	const char *help;
} counter_info[TERN_CNT_COUNT] = {
#define TERN_X_INFO(id, name, help) [TERN_CNT_##id] = { name, help },
	TERN_COUNTERS(TERN_X_INFO)
#undef TERN_X_INFO
};

/* One interface's row of counters. */
struct row {
	__u32 ifindex;
	__u32 slot;
	char name[IF_NAMESIZE];
	int named;               /* name resolved (or slot 0's label) */
	__u64 v[TERN_CNT_MAX];
};

static int row_cmp(const void *x, const void *y)
{
	const struct row *a = x, *b = y;

	if (a->slot != b->slot)
		return a->slot < b->slot ? -1 : 1;
	return a->ifindex < b->ifindex ? -1 : a->ifindex > b->ifindex;
}

/* Sum r's slot row over the possible CPUs. */
static int row_read(int fd, int ncpu, struct row *r)
{
	struct tern_counters *per_cpu = calloc(ncpu, sizeof(*per_cpu));
	int err = 0;

	if (!per_cpu)
		return -ENOMEM;
	if (bpf_map_lookup_elem(fd, &r->slot, per_cpu)) {
		err = -errno;
		goto out;
	}
	for (__u32 id = 0; id < TERN_CNT_MAX; id++) {
		r->v[id] = 0;
		for (int cpu = 0; cpu < ncpu; cpu++)
			r->v[id] += per_cpu[cpu].c[id];
	}
out:
	free(per_cpu);
	return err;
}

/* Counter id's name; ids a newer dataplane added are shown by number. */
static const char *counter_name(__u32 id, char *buf, size_t len)
{
	if (id < TERN_CNT_COUNT)
		return counter_info[id].name;
	snprintf(buf, len, "counter_%u", id);
	return buf;
}

/* Shown: non-zero counters; with --all also the zero ones this build knows. */
static int shown(const struct ctl *c, const struct row *r, __u32 id)
{
	return r->v[id] || (c->all && id < TERN_CNT_COUNT);
}

static int print_text(const struct ctl *c, const struct row *rows, size_t n)
{
	int err = 0;

	for (size_t i = 0; i < n && !err; i++) {
		const struct row *r = &rows[i];
		struct table t;

		if (r->slot == TERN_SLOT_NONE)
			printf("%s (slot %u)\n", r->name, r->slot);
		else if (r->named)
			printf("%s (ifindex %u, slot %u)\n", r->name, r->ifindex, r->slot);
		else
			printf("ifindex %u, not in this network namespace (slot %u)\n", r->ifindex,
			       r->slot);
		table__init(&t, 3, 1U << 1);
		for (__u32 id = 0; id < TERN_CNT_MAX && !err; id++) {
			char name[24], val[24];

			if (!shown(c, r, id))
				continue;
			snprintf(val, sizeof(val), "%llu", (unsigned long long)r->v[id]);
			err = table__row(&t, counter_name(id, name, sizeof(name)), val,
					 id < TERN_CNT_COUNT ? counter_info[id].help
							     : "(newer than this ternctl)");
		}
		if (!err)
			table__print(&t, stdout, "  ");
		table__free(&t);
	}
	if (err)
		ctl__err("out of memory");
	return err;
}

static int print_json(const struct ctl *c, const struct row *rows, size_t n)
{
	struct json_object *o = json_object_new_object();
	struct json_object *ifs = json_object_new_array();

	json_object_object_add(o, "interfaces", ifs);
	for (size_t i = 0; i < n; i++) {
		const struct row *r = &rows[i];
		struct json_object *e = json_object_new_object();
		struct json_object *cnt = json_object_new_object();

		json_object_object_add(e, "ifindex", json_object_new_int64(r->ifindex));
		json_object_object_add(e, "name", r->named ? json_object_new_string(r->name) : NULL);
		json_object_object_add(e, "slot", json_object_new_int64(r->slot));
		for (__u32 id = 0; id < TERN_CNT_MAX; id++) {
			char name[24];

			if (shown(c, r, id))
				json_object_object_add(cnt, counter_name(id, name, sizeof(name)),
						       json_object_new_uint64(r->v[id]));
		}
		json_object_object_add(e, "counters", cnt);
		json_object_array_add(ifs, e);
	}
	return ctl__json_print(o);
}

int counters__show(struct ctl *c)
{
	struct map_dump ifs = {};
	struct row *rows = NULL;
	size_t n = 0;
	int cnt_fd = -1, if_fd = -1, ncpu, max, err;
	__u32 slots;

	cnt_fd = ctl__map_open(c, TERN_MAP_COUNTERS, sizeof(__u32), sizeof(struct tern_counters));
	if (cnt_fd < 0)
		return cnt_fd;
	if_fd = ctl__map_open(c, TERN_MAP_IFSTATE, sizeof(__u32), sizeof(struct tern_ifstate));
	if (if_fd < 0) {
		err = if_fd;
		goto out;
	}
	ncpu = libbpf_num_possible_cpus();
	max = map__max_entries(cnt_fd);
	if (ncpu < 0 || max < 0) {
		err = ncpu < 0 ? ncpu : max;
		ctl__err("%s/%s: %s", c->pin_path, TERN_MAP_COUNTERS, strerror(-err));
		goto out;
	}
	slots = (__u32)max;
	err = ctl__map_dump(if_fd, &ifs);
	if (err) {
		ctl__err("read %s/%s: %s", c->pin_path, TERN_MAP_IFSTATE, strerror(-err));
		goto out;
	}
	rows = calloc(ifs.n + 1, sizeof(*rows));
	if (!rows) {
		err = -ENOMEM;
		ctl__err("out of memory");
		goto out;
	}
	/* slot 0: packets on interfaces without state */
	snprintf(rows[0].name, sizeof(rows[0].name), "(no state)");
	rows[0].named = 1;
	n = 1;
	for (size_t i = 0; i < ifs.n; i++) {
		const __u32 *ifindex = (const __u32 *)ifs.keys + i;
		const struct tern_ifstate *st = (const struct tern_ifstate *)ifs.values + i;
		struct row *r = &rows[n];

		if (st->slot >= slots) {
			ctl__err("warning: ifindex %u has slot %u, beyond the %u the counter map "
				 "holds; skipped", *ifindex, st->slot, slots);
			continue;
		}
		r->ifindex = *ifindex;
		r->slot = st->slot;
		r->named = if_indextoname(*ifindex, r->name) != NULL;
		n++;
	}
	qsort(rows, n, sizeof(*rows), row_cmp);
	for (size_t i = 0; i < n; i++) {
		err = row_read(cnt_fd, ncpu, &rows[i]);
		if (err) {
			ctl__err("read %s/%s slot %u: %s", c->pin_path, TERN_MAP_COUNTERS,
				 rows[i].slot, strerror(-err));
			goto out;
		}
	}
	err = c->json ? print_json(c, rows, n) : print_text(c, rows, n);
out:
	free(rows);
	map_dump__free(&ifs);
	if (if_fd >= 0)
		close(if_fd);
	close(cnt_fd);
	return err;
}
