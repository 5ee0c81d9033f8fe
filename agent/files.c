/* The files datastore: every manifest in one directory, watched with
 * inotify, and which file defines which object, so that an edit or a
 * removal applies just its difference to the model.
 *
 * Ownership: a file defines every object its good documents decode to.
 * When several files define one object, the model holds the version of the
 * file applied last (the latest write; at start-up, the latest mtime, then
 * the name). When that file drops the object or goes away, the file applied
 * latest among those still defining it is re-read and its version applied;
 * an object is deleted from the model only once no file defines it. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/doc.h"
#include "agent/files.h"
#include "agent/log.h"

#define WATCH_MASK (IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE | \
		    IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)

struct file;

/* A file defining an object, and when that file was last applied. */
struct def {
	struct file *file;
	uint64_t seq;
};

/* One object some file defines, and every file that defines it. */
struct obj_key {
	enum k8s_kind kind;
	char *ns;
	char *name;
	size_t n_defs;
	struct def *defs;
};

struct file {
	char *name;               /* within the directory */
	size_t n_keys;
	struct obj_key **keys;    /* what it defined when last applied */
	unsigned scan;            /* the last rescan that saw it */
	int restore;              /* queued to be re-read */
};

struct files_ds {
	char *dir;
	struct model *m;
	int fd;                   /* inotify */
	int wd;
	int gone;                 /* the directory itself went away */
	void *files;              /* tsearch tree of struct file *, by name */
	size_t n_files;
	void *keys;               /* tsearch tree of struct obj_key * */
	uint64_t seq;             /* counts applies: orders the writes */
	unsigned scan;
};

/* ---- the key and file indexes ---- */

static int key_cmp(const void *a, const void *b)
{
	const struct obj_key *x = a, *y = b;
	int c;

	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	c = strcmp(x->ns, y->ns);
	return c ? c : strcmp(x->name, y->name);
}

static int file_cmp(const void *a, const void *b)
{
	return strcmp(((const struct file *)a)->name, ((const struct file *)b)->name);
}

static void key_free(void *p)
{
	struct obj_key *k = p;

	free(k->ns);
	free(k->name);
	free(k->defs);
	free(k);
}

static void file_free(void *p)
{
	struct file *f = p;

	free(f->name);
	free(f->keys);
	free(f);
}

static struct obj_key *key_find(struct files_ds *ds, const struct k8s_object *o)
{
	struct obj_key probe = { .kind = o->kind, .ns = o->meta.ns, .name = o->meta.name };
	struct obj_key **slot = tfind(&probe, &ds->keys, key_cmp);

	return slot ? *slot : NULL;
}

static struct def *key_def(struct obj_key *k, const struct file *f)
{
	for (size_t i = 0; i < k->n_defs; i++)
		if (k->defs[i].file == f)
			return &k->defs[i];
	return NULL;
}

/* The file whose version of the object the model holds. */
static struct file *key_winner(const struct obj_key *k)
{
	const struct def *best = NULL;

	for (size_t i = 0; i < k->n_defs; i++)
		if (!best || k->defs[i].seq > best->seq)
			best = &k->defs[i];
	return best ? best->file : NULL;
}

/* f's definition of o's key, created (with seq 0) when new; NULL: ENOMEM. */
static struct def *key_define(struct files_ds *ds, const struct k8s_object *o, struct file *f,
			      struct obj_key **out)
{
	struct obj_key *k = key_find(ds, o), **slot;
	struct def *d, *defs;

	if (!k) {
		k = calloc(1, sizeof(*k));
		if (!k)
			return NULL;
		k->kind = o->kind;
		k->ns = strdup(o->meta.ns);
		k->name = strdup(o->meta.name);
		slot = k->ns && k->name ? tsearch(k, &ds->keys, key_cmp) : NULL;
		if (!slot) {
			key_free(k);
			return NULL;
		}
	}
	*out = k;
	if ((d = key_def(k, f)))
		return d;
	defs = realloc(k->defs, (k->n_defs + 1) * sizeof(*defs));
	if (!defs) {
		if (!k->n_defs) {
			tdelete(k, &ds->keys, key_cmp);
			key_free(k);
		}
		return NULL;
	}
	k->defs = defs;
	d = &k->defs[k->n_defs++];
	d->file = f;
	d->seq = 0;
	return d;
}

static struct file *file_find(struct files_ds *ds, const char *name)
{
	struct file probe = { .name = (char *)name }, **slot;

	slot = tfind(&probe, &ds->files, file_cmp);
	return slot ? *slot : NULL;
}

static struct file *file_get(struct files_ds *ds, const char *name)
{
	struct file *f = file_find(ds, name);

	if (f)
		return f;
	f = calloc(1, sizeof(*f));
	if (!f || !(f->name = strdup(name)) || !tsearch(f, &ds->files, file_cmp)) {
		if (f)
			file_free(f);
		log_error("%s/%s: out of memory", ds->dir, name);
		return NULL;
	}
	ds->n_files++;
	return f;
}

/* ---- reading a file ---- */

static int is_manifest(const char *name)
{
	size_t len = strlen(name);
	static const char *const exts[] = { ".yaml", ".yml", ".json" };

	/* hidden files, editor swap and backup files */
	if (name[0] == '.' || (len && name[len - 1] == '~'))
		return 0;
	for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
		size_t elen = strlen(exts[i]);

		if (len > elen && strcmp(name + len - elen, exts[i]) == 0)
			return 1;
	}
	return 0;
}

/* The whole of path, NUL-terminated. 0 or -errno. */
static int read_all(const char *path, char **out, size_t *out_len)
{
	size_t len = 0, cap;
	struct stat st;
	char *buf = NULL, *grown;
	int fd, err = 0;
	ssize_t got;

	/* O_NONBLOCK: a FIFO named x.yaml must not hang the agent */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		err = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		err = -EINVAL;
		goto out;
	}
	/* st_size is a hint: the file may grow while it is read */
	cap = (size_t)st.st_size + 4096;
	buf = malloc(cap);
	if (!buf) {
		err = -ENOMEM;
		goto out;
	}
	for (;;) {
		if (len + 1 == cap) {
			grown = realloc(buf, 2 * cap);
			if (!grown) {
				err = -ENOMEM;
				goto out;
			}
			buf = grown;
			cap *= 2;
		}
		got = read(fd, buf + len, cap - len - 1);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			err = -errno;
			goto out;
		}
		if (!got)
			break;
		len += got;
	}
	buf[len] = '\0';
	*out = buf;
	*out_len = len;
	buf = NULL;
out:
	free(buf);
	close(fd);
	return err;
}

static void warn_at(const char *path, int line, int col, const char *msg)
{
	if (line)
		log_warn("%s:%d:%d: %s", path, line, col, msg);
	else
		log_warn("%s: %s", path, msg);
}

/* Read and decode dir/name: the objects of its good documents, in order;
 * bad ones are logged (unless quiet) and left out. 0, or -errno when the
 * file could not be read (logged unless it is simply gone). */
static int file_load(struct files_ds *ds, const char *name, int quiet,
		     struct k8s_object ***objs, size_t *n)
{
	struct doc_list docs = { 0 };
	struct k8s_object **v = NULL, **grown;
	size_t len = 0, cap = 0, cnt = 0;
	char *path = NULL, *buf = NULL;
	int err;

	*objs = NULL;
	*n = 0;
	if (asprintf(&path, "%s/%s", ds->dir, name) < 0)
		return -ENOMEM;
	err = read_all(path, &buf, &len);
	if (err == -EINVAL)
		log_warn("%s: not a regular file; ignored", path);
	else if (err && err != -ENOENT)
		log_warn("%s: cannot read: %s; its objects are kept as they were", path,
			 strerror(-err));
	if (err || (err = doc_parse_yaml_stream(buf, len, &docs)))
		goto out;
	for (size_t i = 0; i < docs.n; i++) {
		struct k8s_item *items;
		size_t n_items;

		if (!docs.docs[i]) {
			if (!quiet)
				warn_at(path, docs.errors[i].line, docs.errors[i].col,
					docs.errors[i].msg);
			continue;
		}
		if ((err = k8s_decode_list(docs.docs[i], &items, &n_items)))
			goto out;
		for (size_t j = 0; j < n_items; j++) {
			struct doc_error *e = &items[j].err;

			if (!items[j].obj) {
				if (!quiet)
					warn_at(path, e->line, e->col, e->msg);
				continue;
			}
			if (cnt == cap) {
				cap = cap ? 2 * cap : 16;
				grown = realloc(v, cap * sizeof(*v));
				if (!grown) {
					k8s_items_free(items, n_items);
					err = -ENOMEM;
					goto out;
				}
				v = grown;
			}
			v[cnt++] = items[j].obj;
			items[j].obj = NULL;
		}
		k8s_items_free(items, n_items);
	}
	*objs = v;
	*n = cnt;
	v = NULL;
out:
	if (err == -ENOMEM)
		log_error("%s: out of memory", path);
	for (size_t i = 0; v && i < cnt; i++)
		k8s_object_free(v[i]);
	free(v);
	doc_list_free(&docs);
	free(buf);
	free(path);
	return err;
}

/* ---- applying a file ---- */

/* Upsert r's version of every object r is now the winner of: after the
 * file that won them dropped them. */
static int file_restore(struct files_ds *ds, struct file *r)
{
	struct k8s_object **objs;
	int changes = 0, ret;
	size_t n;

	r->restore = 0;
	if (file_load(ds, r->name, 1, &objs, &n))
		return 0;
	for (size_t i = 0; i < n; i++) {
		struct obj_key *k = key_find(ds, objs[i]);

		if (k && key_winner(k) == r) {
			ret = model_upsert(ds->m, objs[i]);
			changes += ret > 0 ? ret : 0;
		} else {
			k8s_object_free(objs[i]);
		}
	}
	free(objs);
	return changes;
}

/* f no longer defines k: delete the object if no file does, else queue the
 * new winner to be re-read when f's version was the one applied. */
static int key_drop(struct files_ds *ds, struct obj_key *k, struct file *f,
		    struct file **restore, size_t *n_restore)
{
	int was_winner = key_winner(k) == f;
	struct def *d = key_def(k, f);
	struct file *w;
	int changes;

	*d = k->defs[--k->n_defs];
	if (!k->n_defs) {
		changes = model_delete(ds->m, k->kind, k->ns, k->name);
		tdelete(k, &ds->keys, key_cmp);
		key_free(k);
		return changes;
	}
	w = key_winner(k);
	if (was_winner && !w->restore) {
		w->restore = 1;
		restore[(*n_restore)++] = w;
	}
	return 0;
}

/* Make objs (taken over) what f defines: upsert them all (f is now the
 * latest write), drop what f defined before and no longer does. Returns
 * the number of model changes. */
static int file_apply(struct files_ds *ds, struct file *f, struct k8s_object **objs, size_t n)
{
	uint64_t seq = ++ds->seq;
	struct obj_key **keys, *k;
	struct file **restore;
	size_t n_keys = 0, n_restore = 0, i;
	int changes = 0, ret, oom = 0;

	/* room for the old keys too: on ENOMEM f keeps them all */
	keys = calloc(n + f->n_keys + 1, sizeof(*keys));
	restore = calloc(f->n_keys + 1, sizeof(*restore));
	if (!keys || !restore)
		oom = 1;
	for (i = 0; i < n && !oom; i++) {
		struct def *d = key_define(ds, objs[i], f, &k);

		if (!d) {
			oom = 1;
			break;
		}
		if (d->seq != seq) /* not already listed: once per key */
			keys[n_keys++] = k;
		else
			log_warn("%s/%s: defines %s %s%s%s twice; the later one applies", ds->dir,
				 f->name, k8s_kind_name(k->kind), k->ns, *k->ns ? "/" : "",
				 k->name);
		d->seq = seq;
		ret = model_upsert(ds->m, objs[i]);
		objs[i] = NULL;
		if (ret < 0)
			log_error("%s/%s: %s", ds->dir, f->name, strerror(-ret));
		else
			changes += ret;
	}
	for (; i < n; i++)
		k8s_object_free(objs[i]);
	free(objs);
	if (oom) {
		log_error("%s/%s: out of memory; keeping what it defined before", ds->dir, f->name);
		if (!keys)
			goto out;
	}

	for (i = 0; i < f->n_keys; i++) {
		k = f->keys[i];
		if (key_def(k, f)->seq == seq)
			continue;
		if (oom)
			keys[n_keys++] = k;
		else
			changes += key_drop(ds, k, f, restore, &n_restore);
	}
	free(f->keys);
	f->keys = keys;
	f->n_keys = n_keys;
	keys = NULL;
	for (i = 0; i < n_restore; i++)
		changes += file_restore(ds, restore[i]);
out:
	free(keys);
	free(restore);
	return changes;
}

static int file_gone(struct files_ds *ds, const char *name);

/* dir/name was written or moved in: apply its content. */
static int file_changed(struct files_ds *ds, const char *name)
{
	struct k8s_object **objs;
	struct file *f;
	size_t n;
	int err;

	err = file_load(ds, name, 0, &objs, &n);
	if (err == -ENOENT)
		return file_gone(ds, name); /* removed meanwhile */
	if (err)
		return 0; /* unreadable: keep its objects as they were */
	f = file_get(ds, name);
	if (!f) {
		for (size_t i = 0; i < n; i++)
			k8s_object_free(objs[i]);
		free(objs);
		return 0;
	}
	return file_apply(ds, f, objs, n);
}

/* dir/name was removed or moved away: remove what only it defined. */
static int file_gone(struct files_ds *ds, const char *name)
{
	struct file *f = file_find(ds, name);
	int changes;

	if (!f)
		return 0;
	changes = file_apply(ds, f, NULL, 0);
	tdelete(f, &ds->files, file_cmp);
	ds->n_files--;
	file_free(f);
	return changes;
}

/* ---- scanning the directory ---- */

struct scan_entry {
	char *name;
	struct timespec mtime;
};

static int scan_entry_cmp(const void *a, const void *b)
{
	const struct scan_entry *x = a, *y = b;

	if (x->mtime.tv_sec != y->mtime.tv_sec)
		return x->mtime.tv_sec < y->mtime.tv_sec ? -1 : 1;
	if (x->mtime.tv_nsec != y->mtime.tv_nsec)
		return x->mtime.tv_nsec < y->mtime.tv_nsec ? -1 : 1;
	return strcmp(x->name, y->name);
}

struct stale {
	struct file **v;
	size_t n;
	unsigned scan;
};

static void collect_stale(const void *nodep, VISIT which, void *ctx)
{
	struct file *f = *(struct file *const *)nodep;
	struct stale *s = ctx;

	if ((which == postorder || which == leaf) && f->scan != s->scan)
		s->v[s->n++] = f;
}

/* Apply every manifest in the directory, oldest write first so the latest
 * wins, and remove the files no longer there: at start-up, and whenever
 * events may have been missed. Returns model changes or -errno. */
static int dir_rescan(struct files_ds *ds)
{
	struct scan_entry *ents = NULL;
	struct stale stale = { 0 };
	size_t n = 0, cap = 0;
	struct dirent *de;
	int changes = 0, err = 0;
	DIR *d;

	d = opendir(ds->dir);
	if (!d) {
		err = -errno;
		log_error("%s: %s", ds->dir, strerror(-err));
		return err;
	}
	while ((de = readdir(d))) {
		struct stat st;

		if (!is_manifest(de->d_name) ||
		    fstatat(dirfd(d), de->d_name, &st, 0) || S_ISDIR(st.st_mode))
			continue;
		if (n == cap) {
			struct scan_entry *grown;

			cap = cap ? 2 * cap : 64;
			grown = realloc(ents, cap * sizeof(*ents));
			if (!grown) {
				err = -ENOMEM;
				goto out;
			}
			ents = grown;
		}
		ents[n].mtime = st.st_mtim;
		ents[n].name = strdup(de->d_name);
		if (!ents[n++].name) {
			err = -ENOMEM;
			goto out;
		}
	}
	if (n)
		qsort(ents, n, sizeof(*ents), scan_entry_cmp);

	stale.scan = ++ds->scan;
	for (size_t i = 0; i < n; i++) {
		struct file *f;

		changes += file_changed(ds, ents[i].name);
		if ((f = file_find(ds, ents[i].name)))
			f->scan = stale.scan;
	}
	stale.v = calloc(ds->n_files + 1, sizeof(*stale.v));
	if (!stale.v) {
		err = -ENOMEM;
		goto out;
	}
	twalk_r(ds->files, collect_stale, &stale);
	for (size_t i = 0; i < stale.n; i++)
		changes += file_gone(ds, stale.v[i]->name);
out:
	if (err == -ENOMEM)
		log_error("%s: out of memory", ds->dir);
	for (size_t i = 0; i < n; i++)
		free(ents[i].name);
	free(ents);
	free(stale.v);
	closedir(d);
	return err ? err : changes;
}

/* ---- the datastore ---- */

static const char *inotify_hint(int err)
{
	switch (err) {
	case ENOSPC:
		return " (raise fs.inotify.max_user_watches)";
	case EMFILE:
		return " (raise fs.inotify.max_user_instances)";
	}
	return "";
}

int files_ds_open(const char *dir, struct model *m, struct files_ds **out)
{
	struct files_ds *ds;
	int err;

	ds = calloc(1, sizeof(*ds));
	if (!ds || !(ds->dir = strdup(dir))) {
		free(ds);
		return -ENOMEM;
	}
	ds->m = m;
	ds->wd = -1;
	ds->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (ds->fd < 0) {
		err = -errno;
		log_error("inotify_init1: %s%s", strerror(-err), inotify_hint(-err));
		goto fail;
	}
	/* watch first, then read: a write during the scan is not lost */
	ds->wd = inotify_add_watch(ds->fd, dir, WATCH_MASK);
	if (ds->wd < 0) {
		err = -errno;
		log_error("%s: cannot watch: %s%s", dir, strerror(-err), inotify_hint(-err));
		goto fail;
	}
	err = dir_rescan(ds);
	if (err < 0)
		goto fail;
	log_info("%s: %zu manifest files", dir, ds->n_files);
	*out = ds;
	return 0;
fail:
	files_ds_close(ds);
	return err;
}

int files_ds_fd(const struct files_ds *ds)
{
	return ds->fd;
}

static int handle_event(struct files_ds *ds, const struct inotify_event *ev)
{
	struct stat st;
	char *path;
	int is_link;

	if (ds->gone)
		return 0;
	if (ev->mask & IN_Q_OVERFLOW) {
		log_warn("%s: inotify queue overflowed; rereading the directory", ds->dir);
		return dir_rescan(ds);
	}
	if (ev->wd != ds->wd)
		return 0;
	if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED)) {
		/* keep the objects: the dataplane goes on as it was */
		log_error("%s: the directory was removed or moved; no longer watching it, its "
			  "objects are kept as they were", ds->dir);
		ds->gone = 1;
		return 0;
	}
	if (!ev->len || (ev->mask & IN_ISDIR))
		return 0;
	/* a ConfigMap volume swaps its "..data" symlink to publish an update */
	if (strcmp(ev->name, "..data") == 0 && (ev->mask & (IN_MOVED_TO | IN_CREATE)))
		return dir_rescan(ds);
	if (!is_manifest(ev->name))
		return 0;
	if (ev->mask & (IN_DELETE | IN_MOVED_FROM))
		return file_gone(ds, ev->name);
	if (ev->mask & (IN_CLOSE_WRITE | IN_MOVED_TO))
		return file_changed(ds, ev->name);
	/* IN_CREATE: a new file is read once written (IN_CLOSE_WRITE), but a
	 * new symlink is complete as soon as it exists */
	if (asprintf(&path, "%s/%s", ds->dir, ev->name) < 0)
		return 0;
	is_link = lstat(path, &st) == 0 && S_ISLNK(st.st_mode);
	free(path);
	return is_link ? file_changed(ds, ev->name) : 0;
}

int files_ds_process(struct files_ds *ds)
{
	char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
	const struct inotify_event *ev;
	int changes = 0, ret;
	ssize_t len;

	for (;;) {
		len = read(ds->fd, buf, sizeof(buf));
		if (len < 0 && errno == EINTR)
			continue;
		if (len < 0 && errno == EAGAIN)
			break;
		if (len < 0) {
			ret = -errno;
			log_error("%s: reading inotify events: %s", ds->dir, strerror(-ret));
			return ret;
		}
		for (char *p = buf; p < buf + len; p += sizeof(*ev) + ev->len) {
			ev = (const struct inotify_event *)p;
			ret = handle_event(ds, ev);
			if (ret > 0)
				changes += ret;
		}
	}
	return changes;
}

void files_ds_close(struct files_ds *ds)
{
	if (!ds)
		return;
	if (ds->fd >= 0)
		close(ds->fd);
	tdestroy(ds->files, file_free);
	tdestroy(ds->keys, key_free);
	free(ds->dir);
	free(ds);
}
