/* ternctl's access to the pinned maps (opened read-only, checked against
 * the ABI, read whole in batches) and its error and JSON output. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "agent/log.h"
#include "ctl/ctl.h"

/* The kernel's "operation not supported" for map types without batch ops;
 * not in the uapi headers. */
#define KERNEL_ENOTSUPP 524
#define WALK_BATCH 4096

void ctl__err(const char *fmt, ...)
{
	va_list ap;

	fputs("ternctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int ctl__path(char *buf, size_t len, const char *dir, const char *name)
{
	int n = snprintf(buf, len, "%s/%s", dir, name);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int ctl__open_failed(const char *path, int err)
{
	ctl__err("%s: %s%s", path, strerror(-err),
		 err == -ENOENT ? " (is ternd running? --pin-path)" : errno_hint(err));
	return err;
}

int ctl__fd_is(int fd, const char *kind)
{
	char link[64], target[64];
	size_t klen = strlen(kind);
	ssize_t n;

	/* the fd's anon inode names its kind: "anon_inode:bpf-map",
	 * "anon_inode:bpf-prog", "anon_inode:bpf-link" (older kernels:
	 * "bpf_link") */
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, target, sizeof(target) - 1);
	if (n < 0)
		return 1; /* no /proc: cannot tell, trust the pin's place */
	target[n] = '\0';
	return strncmp(target, "anon_inode:bpf", 14) == 0 &&
	       (target[14] == '-' || target[14] == '_') && strncmp(target + 15, kind, klen) == 0 &&
	       target[15 + klen] == '\0';
}

int ctl__map_open(const struct ctl *c, const char *name, __u32 key_size, __u32 value_size)
{
	LIBBPF_OPTS(bpf_obj_get_opts, opts, .file_flags = BPF_F_RDONLY);
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	char path[PATH_MAX];
	int fd, err;

	err = ctl__path(path, sizeof(path), c->pin_path, name);
	if (err)
		return ctl__open_failed(name, err);
	fd = bpf_obj_get_opts(path, &opts);
	if (fd < 0)
		return ctl__open_failed(path, -errno);
	if (!ctl__fd_is(fd, "map")) {
		ctl__err("%s: not a map", path);
		close(fd);
		return -EBADF;
	}
	if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
		err = -errno;
		ctl__err("%s: %s", path, strerror(-err));
		close(fd);
		return err;
	}
	if ((key_size && info.key_size != key_size) ||
	    (value_size && info.value_size != value_size)) {
		ctl__err("%s: key/value is %u/%u bytes, this ternctl reads %u/%u "
			 "(ternctl and ternd from different builds?)",
			 path, info.key_size, info.value_size, key_size, value_size);
		close(fd);
		return -EPROTO;
	}
	return fd;
}

static int is_percpu(__u32 type)
{
	return type == BPF_MAP_TYPE_PERCPU_ARRAY || type == BPF_MAP_TYPE_PERCPU_HASH ||
	       type == BPF_MAP_TYPE_LRU_PERCPU_HASH;
}

/* For map types without batch ops: next key, lookup, one at a time. An
 * entry deleted between the two is skipped. */
static int walk_by_key(int fd, const struct map_walk *w, void *key, void *next, void *val,
		       map_walk_fn fn, void *arg)
{
	int err;

	if (bpf_map_get_next_key(fd, NULL, next))
		return errno == ENOENT ? 0 : -errno;
	do {
		memcpy(key, next, w->key_size);
		if (bpf_map_lookup_elem(fd, key, val))
			continue;
		err = fn(w, key, val, 1, arg);
		if (err)
			return err;
	} while (bpf_map_get_next_key(fd, key, next) == 0);
	return 0;
}

int ctl__map_walk(int fd, map_walk_fn fn, void *arg)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info), chunk = WALK_BATCH;
	struct map_walk w;
	void *keys = NULL, *vals = NULL, *in = NULL, *out = NULL;
	int ncpu = libbpf_num_possible_cpus(), err = 0, first = 1;

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	if (ncpu < 0)
		return ncpu;
	w.type = info.type;
	w.key_size = info.key_size;
	w.value_size = is_percpu(info.type) ? ((info.value_size + 7) & ~7U) * ncpu
					    : info.value_size;
	/* batch cursors: a bucket number for hashes, a key for arrays */
	in = calloc(2, info.key_size + 8);
	keys = calloc(chunk, w.key_size);
	vals = calloc(chunk, w.value_size ? w.value_size : 1);
	if (!in || !keys || !vals) {
		err = -ENOMEM;
		goto out;
	}
	out = (char *)in + info.key_size + 8;
	for (;;) {
		LIBBPF_OPTS(bpf_map_batch_opts, opts);
		__u32 n = chunk;
		int rc = bpf_map_lookup_batch(fd, first ? NULL : in, out, keys, vals, &n, &opts);
		int e = rc ? errno : 0;

		if (rc && e != ENOENT) {
			if (first && (e == KERNEL_ENOTSUPP || e == EOPNOTSUPP || e == EINVAL)) {
				err = walk_by_key(fd, &w, keys, (char *)keys + w.key_size, vals,
						  fn, arg);
				goto out;
			}
			if (e == ENOSPC && chunk < (1U << 20)) {
				/* one hash bucket holds more than a batch: grow */
				void *k2 = realloc(keys, (size_t)chunk * 2 * w.key_size);
				void *v2 = k2 ? realloc(vals, (size_t)chunk * 2 * w.value_size) : NULL;

				if (k2)
					keys = k2;
				if (v2)
					vals = v2;
				if (!k2 || !v2) {
					err = -ENOMEM;
					goto out;
				}
				chunk *= 2;
				continue;
			}
			err = -e;
			goto out;
		}
		if (n) {
			err = fn(&w, keys, vals, n, arg);
			if (err)
				goto out;
		}
		if (e == ENOENT)
			break; /* that was the last batch */
		memcpy(in, out, info.key_size + 8);
		first = 0;
	}
out:
	free(in);
	free(keys);
	free(vals);
	return err;
}

static int dump_append(const struct map_walk *w, const void *keys, const void *values,
		       __u32 n, void *arg)
{
	struct map_dump *d = arg;
	void *k = realloc(d->keys, (d->n + n) * w->key_size);
	void *v = k ? realloc(d->values, (d->n + n) * w->value_size + 1) : NULL;

	if (k)
		d->keys = k;
	if (v)
		d->values = v;
	if (!k || !v)
		return -ENOMEM;
	d->w = *w;
	memcpy((char *)d->keys + d->n * w->key_size, keys, (size_t)n * w->key_size);
	memcpy((char *)d->values + d->n * w->value_size, values, (size_t)n * w->value_size);
	d->n += n;
	return 0;
}

int ctl__map_dump(int fd, struct map_dump *d)
{
	int err;

	memset(d, 0, sizeof(*d));
	err = ctl__map_walk(fd, dump_append, d);
	if (err)
		map_dump__free(d);
	return err;
}

void map_dump__free(struct map_dump *d)
{
	free(d->keys);
	free(d->values);
	memset(d, 0, sizeof(*d));
}

static int count_batch(const struct map_walk *w, const void *keys, const void *values,
		       __u32 n, void *arg)
{
	(void)w;
	(void)keys;
	(void)values;
	*(long *)arg += n;
	return 0;
}

long ctl__map_count(int fd)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	long n = 0;
	int err;

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	if (info.type == BPF_MAP_TYPE_ARRAY || info.type == BPF_MAP_TYPE_PERCPU_ARRAY ||
	    info.type == BPF_MAP_TYPE_PROG_ARRAY)
		return info.max_entries;
	err = ctl__map_walk(fd, count_batch, &n);
	return err ? err : n;
}

__u64 ctl__now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + (__u64)ts.tv_nsec;
}

#define JSON_FLAGS (JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | \
		    JSON_C_TO_STRING_NOSLASHESCAPE)

int ctl__json_print(struct json_object *o)
{
	const char *s;

	if (!o)
		return -ENOMEM;
	s = json_object_to_json_string_ext(o, JSON_FLAGS);
	if (s)
		printf("%s\n", s);
	json_object_put(o);
	return s ? 0 : -ENOMEM;
}

void ctl__json_array_begin(struct json_stream *js)
{
	js->n = 0;
	fputc('[', stdout);
}

int ctl__json_array_add(struct json_stream *js, struct json_object *o)
{
	const char *s = o ? json_object_to_json_string_ext(o, JSON_FLAGS) : NULL;

	if (!s) {
		json_object_put(o);
		return -ENOMEM;
	}
	/* indented one level, as json-c prints an array's members */
	fputs(js->n++ ? ",\n  " : "\n  ", stdout);
	for (const char *nl; (nl = strchr(s, '\n')); s = nl + 1) {
		fwrite(s, 1, nl + 1 - s, stdout);
		fputs("  ", stdout);
	}
	fputs(s, stdout);
	json_object_put(o);
	return 0;
}

void ctl__json_array_end(struct json_stream *js)
{
	fputs(js->n ? "\n]\n" : "]\n", stdout);
}
