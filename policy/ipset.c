/* Ipsets (ipset.h): set ids, members from the model, and tern_ipset_v1. */
#include <arpa/inet.h>
#include <errno.h>
#include <search.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>

#include "agent/log.h"
#include "policy/ipset.h"
#include "policy/selector.h"
#include "policy/sha256.h"

/* ---- ids ---- */

uint32_t ipset_id_of(const char *def)
{
	uint8_t d[SHA256_LEN];
	uint32_t id;

	sha256(def, strlen(def), d);
	id = ((uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 | (uint32_t)d[2] << 8 | d[3]) &
	     0x7fffffff;
	return id ? id : 1;
}

struct id_entry {
	char *def;
	uint32_t id;
};

struct ipset_ids {
	void *by_def;   /* tsearch tree of struct id_entry * */
	void *by_id;    /* the same entries, by id */
};

static int by_def_cmp(const void *a, const void *b)
{
	return strcmp(((const struct id_entry *)a)->def, ((const struct id_entry *)b)->def);
}

static int by_id_cmp(const void *a, const void *b)
{
	uint32_t x = ((const struct id_entry *)a)->id, y = ((const struct id_entry *)b)->id;

	return x < y ? -1 : x > y;
}

struct ipset_ids *ipset_ids_new(void)
{
	return calloc(1, sizeof(struct ipset_ids));
}

static void id_entry_free(void *p)
{
	struct id_entry *e = p;

	free(e->def);
	free(e);
}

static void noop_free(void *p)
{
	(void)p;
}

void ipset_ids_free(struct ipset_ids *ids)
{
	if (!ids)
		return;
	tdestroy(ids->by_id, noop_free);
	tdestroy(ids->by_def, id_entry_free);
	free(ids);
}

static struct id_entry *ids_find_def(struct ipset_ids *ids, const char *def)
{
	struct id_entry key = { .def = (char *)def };
	void *f = tfind(&key, &ids->by_def, by_def_cmp);

	return f ? *(struct id_entry **)f : NULL;
}

static int ids_has_id(struct ipset_ids *ids, uint32_t id)
{
	struct id_entry key = { .id = id };

	return tfind(&key, &ids->by_id, by_id_cmp) != NULL;
}

static int ids_add(struct ipset_ids *ids, const char *def, uint32_t id)
{
	struct id_entry *e = calloc(1, sizeof(*e));

	if (!e || !(e->def = strdup(def)))
		goto oom;
	e->id = id;
	if (!tsearch(e, &ids->by_def, by_def_cmp))
		goto oom;
	if (!tsearch(e, &ids->by_id, by_id_cmp)) {
		tdelete(e, &ids->by_def, by_def_cmp);
		goto oom;
	}
	return 0;
oom:
	if (e)
		free(e->def);
	free(e);
	return -ENOMEM;
}

int ipset_ids__assign(struct ipset_ids *ids, struct pol_set *sets, size_t n)
{
	struct ipset_ids *next = ipset_ids_new();
	int err = 0;

	if (!next)
		return -ENOMEM;
	/* first every definition that has an id already: it keeps it */
	for (size_t i = 0; i < n && !err; i++) {
		struct id_entry *e = ids_find_def(ids, sets[i].def);

		sets[i].id = 0;
		if (e && !ids_find_def(next, sets[i].def)) {
			sets[i].id = e->id;
			err = ids_add(next, sets[i].def, e->id);
		} else if (e) {
			sets[i].id = e->id;
		}
	}
	/* then the new ones, in order: a collision moves to the next free id */
	for (size_t i = 0; i < n && !err; i++) {
		struct id_entry *e;
		uint32_t id;

		if (sets[i].id)
			continue;
		e = ids_find_def(next, sets[i].def);
		if (e) {
			sets[i].id = e->id;
			continue;
		}
		id = ipset_id_of(sets[i].def);
		while (ids_has_id(next, id))
			id = (id + 1) & 0x7fffffff ? (id + 1) & 0x7fffffff : 1;
		sets[i].id = id;
		err = ids_add(next, sets[i].def, id);
	}
	if (err) {
		ipset_ids_free(next);
		return err;
	}
	/* swap: what is not in use any more is forgotten */
	tdestroy(ids->by_id, noop_free);
	tdestroy(ids->by_def, id_entry_free);
	*ids = *next;
	free(next);
	return 0;
}

/* ---- members ---- */

struct entries {
	struct ipset_entry *v;
	size_t n, cap;
};

static int entries_push(struct entries *e, uint32_t set_id, const struct tern_addr *a,
			unsigned bits, __be16 port, uint8_t proto, uint32_t value)
{
	struct ipset_entry *x;

	if (e->n == e->cap) {
		size_t c = e->cap ? e->cap * 2 : 256;
		struct ipset_entry *grown = realloc(e->v, c * sizeof(*grown));

		if (!grown)
			return -ENOMEM;
		e->v = grown;
		e->cap = c;
	}
	x = &e->v[e->n++];
	memset(x, 0, sizeof(*x));
	x->key.prefixlen = TERN_IPSET_PREFIX_SET + bits;
	x->key.set_id = htonl(set_id);
	x->key.addr = *a;
	x->key.port = port;
	x->key.proto = proto;
	x->value = value;
	return 0;
}

/* A whole address: the set's member. */
static int push_addr(struct entries *e, uint32_t set_id, const struct tern_addr *a)
{
	return entries_push(e, set_id, a, 128, 0, 0, TERN_IPSET_MEMBER);
}

static int cidr_entries(struct entries *e, const struct pol_set *s)
{
	const struct k8s_np_peer *p = s->block;
	struct tern_addr mapped;
	int err;

	err = entries_push(e, s->id, &p->cidr.addr, p->cidr.bits, 0, 0, TERN_IPSET_MEMBER);
	for (size_t i = 0; i < p->n_except && !err; i++)
		err = entries_push(e, s->id, &p->except[i].addr, p->except[i].bits, 0, 0,
				   TERN_IPSET_EXCEPT);
	/* IPv4 lives at ::ffff:0:0/96 in the map: an IPv6 block that covers
	 * it (::/0, say) must not take IPv4 peers along */
	tern_addr_set_v4(&mapped, 0);
	if (!err && !p->cidr.v4 && p->cidr.bits < 96 &&
	    !memcmp(&p->cidr.addr, &mapped, p->cidr.bits / 8) &&
	    (p->cidr.bits % 8 == 0 ||
	     !((p->cidr.addr.b[p->cidr.bits / 8] ^ mapped.b[p->cidr.bits / 8]) &
	       (0xff << (8 - p->cidr.bits % 8)))))
		err = entries_push(e, s->id, &mapped, 96, 0, 0, TERN_IPSET_EXCEPT);
	return err;
}

/* The pods of one namespace: a run of the sorted pod list. */
struct ns_group {
	const char *ns;
	size_t first, n;
	struct k8s_labels labels;  /* the namespace's, as selectors see them */
	int have_labels;
};

struct pods_view {
	const struct model *m;
	const struct k8s_object *const *pods;
	size_t n_pods;
	struct ns_group *groups;
	size_t n_groups;
};

static int view_init(struct pods_view *v, const struct model *m)
{
	memset(v, 0, sizeof(*v));
	v->m = m;
	v->n_pods = model_list(m, K8S_POD, &v->pods);
	v->groups = calloc(v->n_pods ? v->n_pods : 1, sizeof(*v->groups));
	if (!v->groups)
		return -ENOMEM;
	for (size_t i = 0; i < v->n_pods; i++) {
		if (!v->n_groups || strcmp(v->groups[v->n_groups - 1].ns, v->pods[i]->meta.ns)) {
			v->groups[v->n_groups].ns = v->pods[i]->meta.ns;
			v->groups[v->n_groups++].first = i;
		}
		v->groups[v->n_groups - 1].n++;
	}
	return 0;
}

static void view_free(struct pods_view *v)
{
	for (size_t i = 0; i < v->n_groups; i++)
		pol_labels_free(&v->groups[i].labels);
	free(v->groups);
}

static const struct k8s_labels *group_labels(struct pods_view *v, struct ns_group *g)
{
	if (!g->have_labels) {
		if (pol_ns_labels(v->m, g->ns, &g->labels))
			return NULL;
		g->have_labels = 1;
	}
	return &g->labels;
}

static int pods_entries(struct entries *e, struct pods_view *v, const struct pol_set *s)
{
	int err = 0;

	for (size_t gi = 0; gi < v->n_groups && !err; gi++) {
		struct ns_group *g = &v->groups[gi];

		if (s->ns) {
			if (strcmp(s->ns, g->ns))
				continue;
		} else {
			const struct k8s_labels *l = group_labels(v, g);

			if (!l)
				return -ENOMEM;
			if (!selector_matches(s->ns_sel, l))
				continue;
		}
		for (size_t i = g->first; i < g->first + g->n && !err; i++) {
			const struct k8s_object *pod = v->pods[i];

			if (!pol_pod_counts(pod) ||
			    (s->pod_sel && !selector_matches(s->pod_sel, &pod->meta.labels)))
				continue;
			for (size_t k = 0; k < pod->pod.n_ips && !err; k++)
				err = push_addr(e, s->id, &pod->pod.ips[k]);
		}
	}
	return err;
}

static int port_entries(struct entries *e, struct pods_view *v, const struct pol_set *s)
{
	int err = 0;

	for (size_t i = 0; i < v->n_pods && !err; i++) {
		const struct k8s_object *pod = v->pods[i];

		if (!pol_pod_counts(pod))
			continue;
		for (size_t j = 0; j < pod->pod.n_ports && !err; j++) {
			const struct k8s_container_port *cp = &pod->pod.ports[j];

			if (cp->proto != s->proto || strcmp(cp->name, s->port_name))
				continue;
			for (size_t k = 0; k < pod->pod.n_ips && !err; k++)
				err = entries_push(e, s->id, &pod->pod.ips[k], 128 + 24,
						   htons(cp->port), cp->proto, TERN_IPSET_MEMBER);
		}
	}
	return err;
}

static int node_entries(struct entries *e, const struct model *m, const struct pol_set *s)
{
	const struct k8s_object *node = model_get(m, K8S_NODE, "", s->node);
	int err = 0;

	for (size_t i = 0; node && i < node->node.n_addrs && !err; i++)
		err = push_addr(e, s->id, &node->node.addrs[i]);
	return err;
}

const char *ipset_errno_hint(int err)
{
	/* an LPM trie says it is full with ENOSPC, where hashes say E2BIG */
	return err == -ENOSPC || err == -E2BIG ? " (" TERN_MAP_IPSET " is full)" : errno_hint(err);
}

int ipset_entry_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct tern_ipset_key));
}

int ipset_members(const struct model *m, const struct pol_set *sets, size_t n,
		  struct ipset_entry **out, size_t *n_out)
{
	struct entries e = { 0 };
	struct pods_view v;
	int err = view_init(&v, m);

	for (size_t i = 0; i < n && !err; i++) {
		switch (sets[i].kind) {
		case POL_SET_PODS:
			err = pods_entries(&e, &v, &sets[i]);
			break;
		case POL_SET_CIDR:
			err = cidr_entries(&e, &sets[i]);
			break;
		case POL_SET_PORT:
			err = port_entries(&e, &v, &sets[i]);
			break;
		case POL_SET_NODE:
			err = node_entries(&e, m, &sets[i]);
			break;
		}
	}
	view_free(&v);
	if (err) {
		free(e.v);
		return err;
	}
	if (e.n)
		qsort(e.v, e.n, sizeof(*e.v), ipset_entry_cmp);
	/* one entry per key: two pods never share an IP, but a stale pod
	 * object may still claim one */
	size_t k = 0;

	for (size_t i = 0; i < e.n; i++)
		if (!k || ipset_entry_cmp(&e.v[k - 1], &e.v[i]))
			e.v[k++] = e.v[i];
	*out = e.v;
	*n_out = k;
	return 0;
}

/* ---- the map ---- */

struct ipset_map {
	int fd;
	struct ipset_entry *v;  /* what the map holds, sorted */
	size_t n;
};

int ipset_map__open(int fd, struct ipset_map **out)
{
	struct ipset_map *im = calloc(1, sizeof(*im));
	struct entries e = { 0 };
	struct tern_ipset_key key, next;
	int err = 0;

	if (!im)
		return -ENOMEM;
	im->fd = fd;
	if (fd >= 0 && bpf_map_get_next_key(fd, NULL, &next) == 0) {
		do {
			__u32 value;

			key = next;
			if (bpf_map_lookup_elem(fd, &key, &value))
				continue; /* gone meanwhile */
			err = entries_push(&e, 0, &key.addr, 0, 0, 0, value);
			if (err)
				break;
			e.v[e.n - 1].key = key;
		} while (bpf_map_get_next_key(fd, &key, &next) == 0);
	}
	if (err) {
		free(e.v);
		free(im);
		return err;
	}
	if (e.n)
		qsort(e.v, e.n, sizeof(*e.v), ipset_entry_cmp);
	im->v = e.v;
	im->n = e.n;
	*out = im;
	return 0;
}

void ipset_map__free(struct ipset_map *im)
{
	if (!im)
		return;
	free(im->v);
	free(im);
}

size_t ipset_map__entries(const struct ipset_map *im, const struct ipset_entry **out)
{
	*out = im->v;
	return im->n;
}

/* The map's new contents: adds keep everything and take want's values;
 * prunes keep only what want has. */
static int ipset_map__merge(struct ipset_map *im, const struct ipset_entry *want, size_t n,
			    int prune, unsigned *writes)
{
	struct ipset_entry *next = malloc((im->n + n + 1) * sizeof(*next));
	size_t i = 0, j = 0, k = 0;
	int err = 0;

	if (!next)
		return -ENOMEM;
	while (i < im->n || j < n) {
		int c = i == im->n ? 1 : j == n ? -1 : ipset_entry_cmp(&im->v[i], &want[j]);

		if (c < 0) {            /* only in the map */
			if (!prune) {
				next[k++] = im->v[i];
			} else if (im->fd >= 0 && bpf_map_delete_elem(im->fd, &im->v[i].key) &&
				   errno != ENOENT) {
				if (!err)
					err = -errno;
				next[k++] = im->v[i];
			} else {
				(*writes)++;
			}
			i++;
		} else if (c > 0) {     /* only wanted */
			if (!prune) {
				if (im->fd >= 0 &&
				    bpf_map_update_elem(im->fd, &want[j].key, &want[j].value, BPF_ANY)) {
					if (!err)
						err = -errno;
				} else {
					next[k++] = want[j];
					(*writes)++;
				}
			}
			j++;
		} else {                /* both: the value may differ */
			if (!prune && im->v[i].value != want[j].value) {
				if (im->fd >= 0 &&
				    bpf_map_update_elem(im->fd, &want[j].key, &want[j].value, BPF_ANY)) {
					if (!err)
						err = -errno;
					next[k++] = im->v[i];
				} else {
					next[k++] = want[j];
					(*writes)++;
				}
			} else {
				next[k++] = im->v[i];
			}
			i++;
			j++;
		}
	}
	free(im->v);
	im->v = next;
	im->n = k;
	if (err)
		log_error("ipset map (%s): %s%s", prune ? "delete" : "update", strerror(-err),
			  ipset_errno_hint(err));
	return err;
}

int ipset_map__add(struct ipset_map *im, const struct ipset_entry *want, size_t n,
		   unsigned *writes)
{
	return ipset_map__merge(im, want, n, 0, writes);
}

int ipset_map__prune(struct ipset_map *im, const struct ipset_entry *want, size_t n,
		     unsigned *writes)
{
	return ipset_map__merge(im, want, n, 1, writes);
}
