/* `ternctl status`: where tern's programs are attached (the link pins under
 * PIN/links) and how full each pinned tern_* map is. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "agent/tc_hook.h"
#include "ctl/ctl.h"

/* tcx (Linux 6.6) postdates Debian 12's uapi headers, as in agent/tc_hook.c */
#define LINK_TYPE_TCX 11
#define TCX_INGRESS 46

struct link_row {
	char pin[2 * NAME_MAX + 2]; /* path under links/: tc-in/eth0 */
	int not_link;               /* something else pinned there: left out */
	int err;                    /* -errno reading it, 0 when the rest is valid */
	const char *dir;            /* tcx: "in"/"out"; else the link type's name */
	int has_ifindex;            /* tcx, xdp: attached to an interface */
	__u32 ifindex;              /* 0: the interface is gone (defunct link) */
	__u32 prog_id;
	__u32 link_id;
	char prog[BPF_OBJ_NAME_LEN];
};

struct link_rows {
	struct link_row *r;
	int n, cap;
};

struct map_row {
	char name[NAME_MAX + 1];
	int not_map;              /* a pinned program or link: left out */
	int err;
	__u32 id, type, key_size, value_size, max_entries;
	long entries;
};

static int not_dot(const struct dirent *de)
{
	return de->d_name[0] != '.';
}

static int is_pin(const struct dirent *de)
{
	return not_dot(de) && de->d_type != DT_DIR;
}

static int is_tern_pin(const struct dirent *de)
{
	return is_pin(de) && strncmp(de->d_name, "tern_", 5) == 0;
}

static void prog_name(__u32 id, char *buf, size_t len)
{
	struct bpf_prog_info info = {};
	__u32 ilen = sizeof(info);
	int fd = bpf_prog_get_fd_by_id(id);

	snprintf(buf, len, "?");
	if (fd < 0)
		return;
	if (bpf_obj_get_info_by_fd(fd, &info, &ilen) == 0)
		snprintf(buf, len, "%s", info.name);
	close(fd);
}

static void link_read(const char *links_dir, struct link_row *r)
{
	struct bpf_link_info li = {};
	__u32 len = sizeof(li);
	char path[PATH_MAX];
	int fd;

	r->err = ctl__path(path, sizeof(path), links_dir, r->pin);
	if (r->err)
		return;
	fd = bpf_obj_get(path);
	if (fd < 0) {
		r->err = -errno;
		return;
	}
	if (!ctl__fd_is(fd, "link")) {
		r->not_link = 1;
		goto out;
	}
	if (bpf_obj_get_info_by_fd(fd, &li, &len)) {
		r->err = -errno;
		goto out;
	}
	r->link_id = li.id;
	r->prog_id = li.prog_id;
	if (li.type == LINK_TYPE_TCX) {
		struct tc_hook_info ti;

		r->err = tc_hook__info(fd, &ti);
		if (r->err)
			goto out;
		r->dir = ti.attach_type == TCX_INGRESS ? "in" : "out";
		r->has_ifindex = 1;
		r->ifindex = ti.ifindex;
	} else if (li.type == BPF_LINK_TYPE_XDP) {
		r->dir = "xdp";
		r->has_ifindex = 1;
		r->ifindex = li.xdp.ifindex;
	} else {
		r->dir = libbpf_bpf_link_type_str(li.type);
		if (!r->dir)
			r->dir = "?";
	}
	prog_name(r->prog_id, r->prog, sizeof(r->prog));
out:
	close(fd);
}

/* The pin's file name: the interface it is attached to. */
static const char *link_iface(const struct link_row *r)
{
	const char *slash = strrchr(r->pin, '/');

	return slash ? slash + 1 : r->pin;
}

static int links_add(struct link_rows *l, const char *sub, const char *name)
{
	struct link_row *r;

	if (l->n == l->cap) {
		int cap = l->cap ? l->cap * 2 : 16;
		struct link_row *rows = realloc(l->r, cap * sizeof(*rows));

		if (!rows)
			return -ENOMEM;
		l->r = rows;
		l->cap = cap;
	}
	r = &l->r[l->n++];
	memset(r, 0, sizeof(*r));
	snprintf(r->pin, sizeof(r->pin), "%s%s%s", sub ? sub : "", sub ? "/" : "", name);
	return 0;
}

/* By interface, then by where it is pinned (tc-in before tc-out). */
static int link_cmp(const void *x, const void *y)
{
	const struct link_row *a = x, *b = y;
	int d = strcmp(link_iface(a), link_iface(b));

	return d ? d : strcmp(a->pin, b->pin);
}

/* Every pin below PIN/links, one directory level down (tc-in/eth0,
 * tc-out/eth0). No links/ yet: nothing attached. */
static int links_collect(const char *links_dir, struct link_rows *l)
{
	struct dirent **top = NULL, **sub = NULL;
	int ntop, nsub = 0, err = 0;

	ntop = scandir(links_dir, &top, not_dot, alphasort);
	if (ntop < 0)
		return errno == ENOENT ? 0 : -errno;
	for (int i = 0; i < ntop && !err; i++) {
		char dir[PATH_MAX];

		if (top[i]->d_type != DT_DIR) {
			err = links_add(l, NULL, top[i]->d_name);
			continue;
		}
		err = ctl__path(dir, sizeof(dir), links_dir, top[i]->d_name);
		if (err)
			break;
		nsub = scandir(dir, &sub, is_pin, alphasort);
		if (nsub < 0) {
			err = -errno;
			break;
		}
		for (int j = 0; j < nsub; j++) {
			if (!err)
				err = links_add(l, top[i]->d_name, sub[j]->d_name);
			free(sub[j]);
		}
		free(sub);
	}
	for (int i = 0; i < ntop; i++)
		free(top[i]);
	free(top);
	if (!err && l->n)
		qsort(l->r, l->n, sizeof(*l->r), link_cmp);
	return err;
}

static void map_read(const char *pin_path, struct map_row *r)
{
	LIBBPF_OPTS(bpf_obj_get_opts, opts, .file_flags = BPF_F_RDONLY);
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	char path[PATH_MAX];
	int fd;

	r->err = ctl__path(path, sizeof(path), pin_path, r->name);
	if (r->err)
		return;
	fd = bpf_obj_get_opts(path, &opts);
	if (fd < 0) {
		/* older kernels refuse read-only opens of programs and links */
		r->not_map = errno == EINVAL;
		r->err = -errno;
		return;
	}
	if (!ctl__fd_is(fd, "map")) {
		r->not_map = 1;
		close(fd);
		return;
	}
	if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
		r->err = -errno;
		close(fd);
		return;
	}
	r->id = info.id;
	r->type = info.type;
	r->key_size = info.key_size;
	r->value_size = info.value_size;
	r->max_entries = info.max_entries;
	r->entries = ctl__map_count(fd);
	if (r->entries < 0)
		r->err = (int)r->entries;
	close(fd);
}

static const char *map_type(__u32 type, char *buf, size_t len)
{
	const char *s = libbpf_bpf_map_type_str(type);

	if (s)
		return s;
	snprintf(buf, len, "type %u", type);
	return buf;
}

static int is_array(__u32 type)
{
	return type == BPF_MAP_TYPE_ARRAY || type == BPF_MAP_TYPE_PERCPU_ARRAY ||
	       type == BPF_MAP_TYPE_PROG_ARRAY;
}

static int print_text(const struct ctl *c, const struct link_row *links, int nlinks,
		      const struct map_row *maps, int nmaps)
{
	struct table t;
	int err = 0;

	printf("Programs (links pinned in %s/links):\n", c->pin_path);
	table__init(&t, 6, (1U << 4) | (1U << 5));
	err = table__row(&t, "INTERFACE", "DIR", "IFINDEX", "PROGRAM", "PROG ID", "LINK ID");
	for (int i = 0; i < nlinks && !err; i++) {
		const struct link_row *r = &links[i];
		char ifindex[16], prog_id[16], link_id[16];

		if (r->err) {
			err = table__row(&t, link_iface(r), NULL, NULL, strerror(-r->err), NULL, NULL);
			continue;
		}
		snprintf(ifindex, sizeof(ifindex), "%u", r->ifindex);
		snprintf(prog_id, sizeof(prog_id), "%u", r->prog_id);
		snprintf(link_id, sizeof(link_id), "%u", r->link_id);
		err = table__row(&t, link_iface(r), r->dir,
				 !r->has_ifindex ? NULL : r->ifindex ? ifindex : "defunct",
				 r->prog, prog_id, link_id);
	}
	if (!err) {
		if (nlinks)
			table__print(&t, stdout, "  ");
		else
			printf("  none\n");
	}
	table__free(&t);

	printf("\nMaps (pinned in %s):\n", c->pin_path);
	table__init(&t, 7, (1U << 2) | (1U << 3) | (1U << 4) | (1U << 5) | (1U << 6));
	if (!err)
		err = table__row(&t, "NAME", "TYPE", "ENTRIES", "MAX", "USED", "KEY", "VALUE");
	for (int i = 0; i < nmaps && !err; i++) {
		const struct map_row *r = &maps[i];
		char type[16], entries[24], max[16], used[16], key[16], value[16];

		if (r->err) {
			err = table__row(&t, r->name, strerror(-r->err), NULL, NULL, NULL, NULL,
					 NULL);
			continue;
		}
		snprintf(entries, sizeof(entries), "%ld", r->entries);
		snprintf(max, sizeof(max), "%u", r->max_entries);
		/* an array always holds max_entries: its fill says nothing */
		snprintf(used, sizeof(used), "%.1f%%",
			 r->max_entries ? 100.0 * r->entries / r->max_entries : 0.0);
		snprintf(key, sizeof(key), "%u", r->key_size);
		snprintf(value, sizeof(value), "%u", r->value_size);
		err = table__row(&t, r->name, map_type(r->type, type, sizeof(type)), entries, max,
				 is_array(r->type) ? NULL : used, key, value);
	}
	if (!err) {
		if (nmaps)
			table__print(&t, stdout, "  ");
		else
			printf("  none\n");
	}
	table__free(&t);
	if (err)
		ctl__err("out of memory");
	return err;
}

static struct json_object *err_json(int err)
{
	return err ? json_object_new_string(strerror(-err)) : NULL;
}

static int print_json(const struct ctl *c, const struct link_row *links, int nlinks,
		      const struct map_row *maps, int nmaps)
{
	struct json_object *o = json_object_new_object();
	struct json_object *la = json_object_new_array(), *ma = json_object_new_array();
	char buf[16];

	json_object_object_add(o, "pin_path", json_object_new_string(c->pin_path));
	json_object_object_add(o, "links", la);
	json_object_object_add(o, "maps", ma);
	for (int i = 0; i < nlinks; i++) {
		const struct link_row *r = &links[i];
		struct json_object *e = json_object_new_object();
		int ok = !r->err;

		json_object_object_add(e, "pin", json_object_new_string(r->pin));
		json_object_object_add(e, "interface", json_object_new_string(link_iface(r)));
		json_object_object_add(e, "direction", ok ? json_object_new_string(r->dir) : NULL);
		json_object_object_add(e, "ifindex", ok && r->has_ifindex ?
					json_object_new_int64(r->ifindex) : NULL);
		json_object_object_add(e, "defunct", json_object_new_boolean(
					ok && r->has_ifindex && !r->ifindex));
		json_object_object_add(e, "prog_id", ok ? json_object_new_int64(r->prog_id) : NULL);
		json_object_object_add(e, "prog_name", ok ? json_object_new_string(r->prog) : NULL);
		json_object_object_add(e, "link_id", ok ? json_object_new_int64(r->link_id) : NULL);
		json_object_object_add(e, "error", err_json(r->err));
		json_object_array_add(la, e);
	}
	for (int i = 0; i < nmaps; i++) {
		const struct map_row *r = &maps[i];
		struct json_object *e = json_object_new_object();
		int ok = !r->err;

		json_object_object_add(e, "name", json_object_new_string(r->name));
		json_object_object_add(e, "id", ok ? json_object_new_int64(r->id) : NULL);
		json_object_object_add(e, "type", ok ? json_object_new_string(
					map_type(r->type, buf, sizeof(buf))) : NULL);
		json_object_object_add(e, "key_size", ok ? json_object_new_int64(r->key_size) : NULL);
		json_object_object_add(e, "value_size", ok ? json_object_new_int64(r->value_size)
							   : NULL);
		json_object_object_add(e, "max_entries", ok ? json_object_new_int64(r->max_entries)
							    : NULL);
		json_object_object_add(e, "entries", ok ? json_object_new_int64(r->entries) : NULL);
		json_object_object_add(e, "error", err_json(r->err));
		json_object_array_add(ma, e);
	}
	return ctl__json_print(o);
}

int status__show(struct ctl *c)
{
	struct dirent **mnames = NULL;
	struct link_rows links = {};
	struct map_row *maps = NULL;
	char links_dir[PATH_MAX];
	int nmaps, nmaps_shown = 0, nlinks_shown = 0, err = 0, failed = 0;

	nmaps = scandir(c->pin_path, &mnames, is_tern_pin, alphasort);
	if (nmaps < 0)
		return ctl__open_failed(c->pin_path, -errno);
	err = ctl__path(links_dir, sizeof(links_dir), c->pin_path, "links");
	if (!err)
		err = links_collect(links_dir, &links);
	if (err) {
		ctl__open_failed(links_dir, err);
		goto out;
	}
	maps = calloc(nmaps + 1, sizeof(*maps));
	if (!maps) {
		err = -ENOMEM;
		ctl__err("out of memory");
		goto out;
	}
	for (int i = 0; i < links.n; i++) {
		struct link_row *r = &links.r[nlinks_shown];

		if (i != nlinks_shown)
			*r = links.r[i];
		link_read(links_dir, r);
		if (r->not_link)
			continue;
		if (r->err) {
			ctl__err("%s/%s: %s", links_dir, r->pin, strerror(-r->err));
			failed = r->err;
		}
		nlinks_shown++;
	}
	for (int i = 0; i < nmaps; i++) {
		struct map_row *r = &maps[nmaps_shown];

		memset(r, 0, sizeof(*r)); /* may hold a skipped non-map */
		snprintf(r->name, sizeof(r->name), "%s", mnames[i]->d_name);
		map_read(c->pin_path, r);
		if (r->not_map)
			continue;
		if (r->err) {
			ctl__err("%s/%s: %s", c->pin_path, r->name, strerror(-r->err));
			failed = r->err;
		}
		nmaps_shown++;
	}
	err = c->json ? print_json(c, links.r, nlinks_shown, maps, nmaps_shown)
		      : print_text(c, links.r, nlinks_shown, maps, nmaps_shown);
	if (!err)
		err = failed; /* shown, but the exit status says it was incomplete */
out:
	for (int i = 0; i < nmaps; i++)
		free(mnames[i]);
	free(mnames);
	free(links.r);
	free(maps);
	return err;
}
