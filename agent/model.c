/* The in-memory model: per kind, the objects ordered by namespace then
 * name, with a sorted array for model_list rebuilt lazily after changes.
 *
 * Why a balanced tree (glibc tsearch, a red-black tree) rather than a hash
 * table or a sorted array: lookup, upsert and delete are O(log n) (about 17
 * string compares at 100 000 objects), and an in-order walk yields
 * model_list's order directly, so the cached array is rebuilt in O(n) with
 * no sort. A sorted array would cost an O(n) memmove per insert or delete
 * (an initial load of n objects O(n^2)); a hash table would need a sort on
 * every rebuild. */
#include <errno.h>
#include <search.h>
#include <stdlib.h>
#include <string.h>

#include "agent/model.h"

struct kind_store {
	void *root;                      /* tsearch tree of struct k8s_object * */
	size_t n;
	const struct k8s_object **list;  /* model_list's cache; room for cap */
	size_t cap;
	size_t n_list;
	int list_valid;
	uint64_t gen;
};

struct model {
	struct kind_store kinds[K8S_KIND_COUNT];
	uint64_t gen;
};

static int obj_cmp(const void *a, const void *b)
{
	const struct k8s_object *x = a, *y = b;
	int c = strcmp(x->meta.ns, y->meta.ns);

	return c ? c : strcmp(x->meta.name, y->meta.name);
}

static int kind_ok(enum k8s_kind kind)
{
	return kind > K8S_UNKNOWN && kind < K8S_KIND_COUNT;
}

static void changed(struct model *m, struct kind_store *ks)
{
	ks->list_valid = 0;
	ks->gen++;
	m->gen++;
}

struct model *model_new(void)
{
	return calloc(1, sizeof(struct model));
}

static void free_obj(void *o)
{
	k8s_object_free(o);
}

void model_free(struct model *m)
{
	if (!m)
		return;
	for (int k = 0; k < K8S_KIND_COUNT; k++) {
		tdestroy(m->kinds[k].root, free_obj);
		free(m->kinds[k].list);
	}
	free(m);
}

int model_upsert(struct model *m, struct k8s_object *obj)
{
	struct k8s_object **slot, *old;
	struct kind_store *ks;

	if (!obj || !kind_ok(obj->kind)) {
		k8s_object_free(obj);
		return -EINVAL;
	}
	ks = &m->kinds[obj->kind];
	/* Room in the list cache for one more, so that model_list never
	 * allocates and so never fails. */
	if (ks->n == ks->cap) {
		size_t cap = ks->cap ? 2 * ks->cap : 64;
		const struct k8s_object **list = realloc(ks->list, cap * sizeof(*list));

		if (!list) {
			k8s_object_free(obj);
			return -ENOMEM;
		}
		ks->list = list;
		ks->cap = cap;
	}
	slot = tsearch(obj, &ks->root, obj_cmp);
	if (!slot) {
		k8s_object_free(obj);
		return -ENOMEM;
	}
	if (*slot == obj) {
		ks->n++;
		changed(m, ks);
		return 1;
	}
	old = *slot;
	if (k8s_object_equal(old, obj)) {
		k8s_object_free(obj);
		return 0;
	}
	/* same namespace/name, so the tree's order holds */
	*slot = obj;
	k8s_object_free(old);
	changed(m, ks);
	return 1;
}

/* A stand-in object to search the tree with. */
static struct k8s_object key_of(const char *ns, const char *name)
{
	struct k8s_object key = { 0 };

	key.meta.ns = (char *)ns;
	key.meta.name = (char *)name;
	return key;
}

int model_delete(struct model *m, enum k8s_kind kind, const char *ns, const char *name)
{
	struct k8s_object key = key_of(ns, name), **slot, *obj;
	struct kind_store *ks;

	if (!kind_ok(kind))
		return 0;
	ks = &m->kinds[kind];
	slot = tfind(&key, &ks->root, obj_cmp);
	if (!slot)
		return 0;
	obj = *slot;
	tdelete(&key, &ks->root, obj_cmp);
	k8s_object_free(obj);
	ks->n--;
	changed(m, ks);
	return 1;
}

const struct k8s_object *model_get(const struct model *m, enum k8s_kind kind,
				   const char *ns, const char *name)
{
	struct k8s_object key = key_of(ns, name), **slot;

	if (!kind_ok(kind))
		return NULL;
	slot = tfind(&key, &m->kinds[kind].root, obj_cmp);
	return slot ? *slot : NULL;
}

static void collect(const void *nodep, VISIT which, void *ctx)
{
	struct kind_store *ks = ctx;

	/* in order: an inner node between its subtrees, a leaf once */
	if (which == postorder || which == leaf)
		ks->list[ks->n_list++] = *(const struct k8s_object *const *)nodep;
}

size_t model_list(const struct model *m, enum k8s_kind kind,
		  const struct k8s_object *const **objs)
{
	struct kind_store *ks;

	*objs = NULL;
	if (!kind_ok(kind))
		return 0;
	/* the cache is not part of the model's state: rebuilding it keeps
	 * model_list logically const */
	ks = (struct kind_store *)&m->kinds[kind];
	if (!ks->list_valid) {
		ks->n_list = 0;
		twalk_r(ks->root, collect, ks);
		ks->list_valid = 1;
	}
	*objs = ks->list;
	return ks->n_list;
}

uint64_t model_generation(const struct model *m)
{
	return m->gen;
}

uint64_t model_kind_generation(const struct model *m, enum k8s_kind kind)
{
	return kind_ok(kind) ? m->kinds[kind].gen : 0;
}
