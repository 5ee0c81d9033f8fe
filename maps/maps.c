/* Pinned maps: create-or-reuse, resize migration, stale pin removal. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "agent/log.h"
#include "maps/maps.h"

struct migrate_one {
	char old_pin[PATH_MAX + 8];
	struct bpf_map *map; /* the replacement, loaded by then */
};

struct maps_migration {
	int n;
	struct migrate_one m[16];
};

static int is_bpffs(const char *path)
{
	struct statfs st;

	return statfs(path, &st) == 0 && (unsigned long)st.f_type == BPF_FS_MAGIC_VALUE;
}

static int mkdir_p(const char *path)
{
	char buf[PATH_MAX];

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0700) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0700) && errno != EEXIST)
		return -errno;
	return 0;
}

int pin_dir__ensure(const char *pin_path)
{
	char links[PATH_MAX];
	int err;

	/* like the kubelet's bpffs mount on a node: only the standard place */
	if (strncmp(pin_path, "/sys/fs/bpf/", 12) == 0 && !is_bpffs("/sys/fs/bpf")) {
		if (mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700")) {
			err = -errno;
			log_error("mount bpffs on /sys/fs/bpf: %s%s", strerror(-err),
				  errno_hint(err));
			return err;
		}
		log_info("mounted bpffs on /sys/fs/bpf");
	}
	err = mkdir_p(pin_path);
	if (err) {
		log_error("create pin directory %s: %s", pin_path, strerror(-err));
		return err;
	}
	if (!is_bpffs(pin_path)) {
		log_error("%s is not on a bpf filesystem (mount -t bpf bpf <dir>)", pin_path);
		return -ENOTSUP;
	}
	static const char *const dirs[] = { "tc-in", "tc-out", "cgroup" };

	for (int i = 0; i < 3; i++) {
		snprintf(links, sizeof(links), "%s/links/%s", pin_path, dirs[i]);
		err = mkdir_p(links);
		if (err) {
			log_error("create %s: %s", links, strerror(-err));
			return err;
		}
	}
	return 0;
}

static __u32 size_for(const struct map_size *sizes, const char *name, __u32 dflt)
{
	for (; sizes && sizes->name; sizes++)
		if (strcmp(sizes->name, name) == 0)
			return sizes->max_entries;
	return dflt;
}

int maps__prepare(struct bpf_object *obj, const char *pin_path,
		  const struct map_size *sizes, struct maps_migration **out)
{
	struct maps_migration *mig = calloc(1, sizeof(*mig));
	struct bpf_map *map;
	int err = 0;

	if (!mig)
		return -ENOMEM;
	bpf_object__for_each_map(map, obj) {
		const char *name = bpf_map__name(map);
		struct bpf_map_info info = {};
		__u32 len = sizeof(info);
		char pin[PATH_MAX];
		int fd;

		if (bpf_map__is_internal(map) || strncmp(name, "tern_", 5) != 0)
			continue; /* .rodata, .bss: per object */
		err = bpf_map__set_max_entries(map, size_for(sizes, name, bpf_map__max_entries(map)));
		if (err)
			goto out;
		snprintf(pin, sizeof(pin), "%s/%s", pin_path, name);
		err = bpf_map__set_pin_path(map, pin);
		if (err)
			goto out;

		fd = bpf_obj_get(pin);
		if (fd < 0) {
			if (errno == ENOENT)
				continue; /* libbpf creates and pins it at load */
			err = -errno;
			log_error("open pinned map %s: %s%s", pin, strerror(-err), errno_hint(err));
			goto out;
		}
		err = bpf_obj_get_info_by_fd(fd, &info, &len);
		if (err) {
			err = -errno;
			close(fd);
			goto out;
		}
		if (info.type == bpf_map__type(map) && info.key_size == bpf_map__key_size(map) &&
		    info.value_size == bpf_map__value_size(map) &&
		    info.max_entries == bpf_map__max_entries(map) &&
		    info.map_flags == bpf_map__map_flags(map)) {
			err = bpf_map__reuse_fd(map, fd);
			close(fd);
			if (err)
				goto out;
			log_debug("reusing pinned map %s", pin);
			continue;
		}
		close(fd);
		/* a program array's values are program ids, not to be copied:
		 * the agent fills a new one itself */
		if (info.type == bpf_map__type(map) && info.key_size == bpf_map__key_size(map) &&
		    info.value_size == bpf_map__value_size(map) &&
		    info.type != BPF_MAP_TYPE_PROG_ARRAY &&
		    mig->n < (int)(sizeof(mig->m) / sizeof(mig->m[0]))) {
			struct migrate_one *m = &mig->m[mig->n];

			snprintf(m->old_pin, sizeof(m->old_pin), "%s_old", pin);
			if (rename(pin, m->old_pin)) {
				err = -errno;
				goto out;
			}
			m->map = map;
			mig->n++;
			log_info("map %s: max_entries %u -> %u, flags %#x -> %#x: migrating entries",
				 name, info.max_entries, bpf_map__max_entries(map), info.map_flags,
				 bpf_map__map_flags(map));
			continue;
		}
		log_warn("map %s: pinned layout (type %u key %u value %u) differs from this "
			 "build's without a version bump; replacing it", name, info.type,
			 info.key_size, info.value_size);
		if (unlink(pin)) {
			err = -errno;
			goto out;
		}
	}
out:
	if (err) {
		log_error("prepare maps: %s%s", strerror(-err), errno_hint(err));
		free(mig);
		return err;
	}
	*out = mig;
	return 0;
}

/* Copy every entry of old_fd into new_fd; per-CPU values are copied whole. */
static int map__copy(int old_fd, int new_fd, const struct bpf_map_info *oi, __u32 new_max)
{
	int ncpu = libbpf_num_possible_cpus();
	bool percpu = oi->type == BPF_MAP_TYPE_PERCPU_ARRAY || oi->type == BPF_MAP_TYPE_PERCPU_HASH ||
		      oi->type == BPF_MAP_TYPE_LRU_PERCPU_HASH;
	bool array = oi->type == BPF_MAP_TYPE_ARRAY || oi->type == BPF_MAP_TYPE_PERCPU_ARRAY;
	size_t vsz = percpu ? (size_t)((oi->value_size + 7) & ~7U) * ncpu : oi->value_size;
	void *key = calloc(1, oi->key_size), *next = calloc(1, oi->key_size);
	void *val = calloc(1, vsz);
	long copied = 0, dropped = 0;
	int err = 0;

	if (!key || !next || !val) {
		err = -ENOMEM;
		goto out;
	}
	if (bpf_map_get_next_key(old_fd, NULL, next))
		goto out; /* empty */
	do {
		memcpy(key, next, oi->key_size);
		if (array && *(__u32 *)key >= new_max)
			continue;
		if (bpf_map_lookup_elem(old_fd, key, val))
			continue; /* gone meanwhile */
		if (bpf_map_update_elem(new_fd, key, val, BPF_ANY))
			dropped++; /* smaller map, full */
		else
			copied++;
	} while (bpf_map_get_next_key(old_fd, key, next) == 0);
	if (dropped)
		log_warn("map migration: %ld entries copied, %ld did not fit", copied, dropped);
	else
		log_info("map migration: %ld entries copied", copied);
out:
	free(key);
	free(next);
	free(val);
	return err;
}

int maps__finish(struct maps_migration *mig)
{
	int err = 0;

	if (!mig)
		return 0;
	for (int i = 0; i < mig->n; i++) {
		struct migrate_one *m = &mig->m[i];
		struct bpf_map_info oi = {};
		__u32 len = sizeof(oi);
		int old_fd = bpf_obj_get(m->old_pin);

		if (old_fd < 0)
			continue;
		if (bpf_obj_get_info_by_fd(old_fd, &oi, &len) == 0)
			err = map__copy(old_fd, bpf_map__fd(m->map), &oi,
					bpf_map__max_entries(m->map));
		close(old_fd);
		if (!err)
			unlink(m->old_pin);
	}
	free(mig);
	return err;
}

void maps__abort(struct maps_migration *mig)
{
	if (!mig)
		return;
	for (int i = 0; i < mig->n; i++) {
		char pin[PATH_MAX];
		size_t n = strlen(mig->m[i].old_pin) - 4; /* drop "_old" */

		snprintf(pin, sizeof(pin), "%.*s", (int)n, mig->m[i].old_pin);
		unlink(pin); /* a half-made replacement, if it got pinned */
		rename(mig->m[i].old_pin, pin);
	}
	free(mig);
}

int maps__remove_stale(const char *pin_path, const char *const *keep)
{
	DIR *d = opendir(pin_path);
	struct dirent *de;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		const char *const *k;
		char pin[PATH_MAX];

		if (strncmp(de->d_name, "tern_", 5) != 0)
			continue;
		for (k = keep; *k; k++)
			if (strcmp(*k, de->d_name) == 0)
				break;
		if (*k)
			continue;
		snprintf(pin, sizeof(pin), "%s/%s", pin_path, de->d_name);
		log_info("removing stale pinned map %s", pin);
		unlink(pin);
	}
	closedir(d);
	return 0;
}

int map__open_pinned(const char *pin_path, const char *name)
{
	char pin[PATH_MAX];
	int fd;

	snprintf(pin, sizeof(pin), "%s/%s", pin_path, name);
	fd = bpf_obj_get(pin);
	if (fd < 0)
		return -errno;
	return fd;
}

long map__count(int fd)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	long n = 0;
	void *key, *next;

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	if (info.type == BPF_MAP_TYPE_ARRAY || info.type == BPF_MAP_TYPE_PERCPU_ARRAY ||
	    info.type == BPF_MAP_TYPE_PROG_ARRAY)
		return info.max_entries;
	key = calloc(2, info.key_size ? info.key_size : 1);
	if (!key)
		return -ENOMEM;
	next = (char *)key + info.key_size;
	if (bpf_map_get_next_key(fd, NULL, next) == 0) {
		do {
			n++;
			memcpy(key, next, info.key_size);
		} while (bpf_map_get_next_key(fd, key, next) == 0);
	}
	free(key);
	return n;
}

int map__max_entries(int fd)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	return info.max_entries;
}
