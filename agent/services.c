/* Services -> NAT frontends and backends: compute, diff, apply in order. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <netinet/in.h>

#include "agent/log.h"
#include "agent/services.h"
#include "agent/strmap.h"
#include "agent/vec.h"

struct fe_entry {
	struct tern_nat_fe_key k;
	struct tern_nat_fe v;
};

struct be_entry {
	struct tern_nat_be_key k;
	struct tern_nat_be v;
};

struct svc_sync {
	const struct tern_config *cfg;
	int fe_fd, be_fd;
	struct strmap *ids;      /* "ns/name/port/proto/family" -> svc_id */
	/* shadow: what the maps hold, sorted by key */
	struct fe_entry *fe;
	size_t n_fe;
	struct be_entry *be;
	size_t n_be;
	int shadow_valid;
	uint64_t gens[3];        /* model generations last applied */
	int node_fd;             /* tern_node_v1, -1: not kept */
	struct tern_addr node[2]; /* what it holds (IPv4, IPv6) */
};

struct bitmap {
	uint8_t *b;
	size_t bits;
};

/* One run's desired state and id bookkeeping. */
struct want {
	struct fe_entry *fe;
	size_t n_fe, cap_fe;
	struct be_entry *be;
	size_t n_be, cap_be;
	struct strmap *ids;      /* the ids this run uses */
	struct bitmap taken;     /* ids in use, old and new: not handed out */
	struct bitmap assigned;  /* ids given to an identity this run */
	uint32_t next_id;
	unsigned ports;
};

static int fe_cmp(const void *a, const void *b)
{
	return memcmp(&((const struct fe_entry *)a)->k, &((const struct fe_entry *)b)->k,
		      sizeof(struct tern_nat_fe_key));
}

static int be_cmp(const void *a, const void *b)
{
	const struct tern_nat_be_key *x = &((const struct be_entry *)a)->k;
	const struct tern_nat_be_key *y = &((const struct be_entry *)b)->k;

	if (x->svc_id != y->svc_id)
		return x->svc_id < y->svc_id ? -1 : 1;
	return x->ordinal < y->ordinal ? -1 : x->ordinal > y->ordinal;
}

struct svc_sync *svc_sync_new(const struct tern_config *cfg, int fe_fd, int be_fd)
{
	struct svc_sync *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->cfg = cfg;
	s->fe_fd = fe_fd;
	s->be_fd = be_fd;
	s->node_fd = -1;
	s->ids = strmap_new();
	if (!s->ids) {
		free(s);
		return NULL;
	}
	return s;
}

void svc_sync_free(struct svc_sync *s)
{
	if (!s)
		return;
	strmap_free(s->ids);
	free(s->fe);
	free(s->be);
	free(s);
}

void svc_sync_resync(struct svc_sync *s)
{
	s->shadow_valid = 0;
}

void svc_sync_node_map(struct svc_sync *s, int node_fd)
{
	s->node_fd = node_fd;
	/* unknown: write at the next run */
	memset(s->node, 0xff, sizeof(s->node));
}

/* This node's first address of each family into tern_node_v1. */
static void node_map_sync(struct svc_sync *s, const struct k8s_object *node)
{
	struct tern_addr want[2] = {};
	int have[2] = {};

	for (size_t i = 0; node && i < node->node.n_addrs; i++) {
		int v6 = !tern_addr_is_v4(&node->node.addrs[i]);

		if (!have[v6]) {
			want[v6] = node->node.addrs[i];
			have[v6] = 1;
		}
	}
	for (__u32 i = 0; i < 2; i++) {
		if (!memcmp(&want[i], &s->node[i], sizeof(want[i])))
			continue;
		if (bpf_map_update_elem(s->node_fd, &i, &want[i], BPF_ANY)) {
			log_error("node address map: %s", strerror(errno));
			continue;
		}
		s->node[i] = want[i];
	}
}

/* --- reading the maps ------------------------------------------------------ */

/* The maps entry by entry (get_next_key and lookup): for kernels without
 * batch operations on hash maps. */
static int shadow_read_each(struct svc_sync *s)
{
	struct tern_nat_fe_key fk, fnext;
	struct tern_nat_be_key bk, bnext;
	size_t cap_fe = 0, cap_be = 0;

	if (bpf_map_get_next_key(s->fe_fd, NULL, &fnext) == 0) {
		do {
			struct fe_entry *e = vec_push(&s->fe, &s->n_fe, &cap_fe, sizeof(*e));

			fk = fnext;
			if (!e)
				return -ENOMEM;
			e->k = fk;
			if (bpf_map_lookup_elem(s->fe_fd, &fk, &e->v))
				s->n_fe--;
		} while (bpf_map_get_next_key(s->fe_fd, &fk, &fnext) == 0);
	}
	if (bpf_map_get_next_key(s->be_fd, NULL, &bnext) == 0) {
		do {
			struct be_entry *e = vec_push(&s->be, &s->n_be, &cap_be, sizeof(*e));

			bk = bnext;
			if (!e)
				return -ENOMEM;
			e->k = bk;
			if (bpf_map_lookup_elem(s->be_fd, &bk, &e->v))
				s->n_be--;
		} while (bpf_map_get_next_key(s->be_fd, &bk, &bnext) == 0);
	}
	return 0;
}

/* Every entry of a hash map into *out, entries of esz bytes with the key at
 * 0 and the value at voff, read with BPF_MAP_LOOKUP_BATCH a chunk at a time:
 * at 10 000 services the 110 000 entries take a few dozen syscalls rather
 * than 220 000 (test/bench/bench_svc: a resync 265 ms -> 70 ms). */
static int map_read_batch(int fd, size_t ksz, size_t vsz, size_t esz, size_t voff,
			  void *out, size_t *n_out)
{
	enum { CHUNK = 4096 };
	char *keys = malloc(CHUNK * ksz), *vals = malloc(CHUNK * vsz);
	char tok[64]; /* the batch token (a bucket index for hash maps) */
	void **arr = out;
	size_t cap = 0;
	int err = 0, done = 0;

	*arr = NULL;
	*n_out = 0;
	if (!keys || !vals)
		err = -ENOMEM;
	for (void *in = NULL; !err && !done; in = tok) {
		__u32 count = CHUNK;

		if (bpf_map_lookup_batch(fd, in, tok, keys, vals, &count, NULL)) {
			if (errno != ENOENT) {
				err = -errno;
				break;
			}
			done = 1; /* the last chunk, maybe empty */
		}
		for (__u32 i = 0; i < count && !err; i++) {
			char *e = vec_push(arr, n_out, &cap, esz);

			if (!e) {
				err = -ENOMEM;
				break;
			}
			memcpy(e, keys + i * ksz, ksz);
			memcpy(e + voff, vals + i * vsz, vsz);
		}
	}
	free(keys);
	free(vals);
	if (err) {
		free(*arr);
		*arr = NULL;
		*n_out = 0;
	}
	return err;
}

static int shadow_read(struct svc_sync *s)
{
	int err;

	free(s->fe);
	free(s->be);
	s->fe = NULL;
	s->be = NULL;
	s->n_fe = s->n_be = 0;
	err = map_read_batch(s->fe_fd, sizeof(struct tern_nat_fe_key), sizeof(struct tern_nat_fe),
			     sizeof(struct fe_entry), offsetof(struct fe_entry, v), &s->fe, &s->n_fe);
	if (!err)
		err = map_read_batch(s->be_fd, sizeof(struct tern_nat_be_key),
				     sizeof(struct tern_nat_be), sizeof(struct be_entry),
				     offsetof(struct be_entry, v), &s->be, &s->n_be);
	if (err && err != -ENOMEM) {
		/* no batch operations here: one entry at a time */
		free(s->fe);
		s->fe = NULL;
		s->n_fe = 0;
		err = shadow_read_each(s);
	}
	if (err)
		return err;
	vec_sort(s->fe, s->n_fe, sizeof(*s->fe), fe_cmp);
	vec_sort(s->be, s->n_be, sizeof(*s->be), be_cmp);
	s->shadow_valid = 1;
	return 0;
}

/* --- ids -------------------------------------------------------------------- */

static int bitmap_set(struct bitmap *m, uint32_t id)
{
	if (id >= m->bits) {
		size_t bits = m->bits ? m->bits : 4096;

		while (bits <= id)
			bits *= 2;
		uint8_t *b = realloc(m->b, bits / 8);

		if (!b)
			return -ENOMEM;
		memset(b + m->bits / 8, 0, (bits - m->bits) / 8);
		m->b = b;
		m->bits = bits;
	}
	m->b[id / 8] |= 1 << (id % 8);
	return 0;
}

static int bitmap_has(const struct bitmap *m, uint32_t id)
{
	return id < m->bits && (m->b[id / 8] >> (id % 8)) & 1;
}

static void taken_from_ids(const char *key, uint32_t val, void *arg)
{
	(void)key;
	bitmap_set(&((struct want *)arg)->taken, val);
}

/* The svc_id of identity: kept from the last run, else adopted from a
 * frontend the maps hold at fe_key (a restart), else new. 0 on -ENOMEM. */
static uint32_t want_id(struct svc_sync *s, struct want *w, const char *identity,
			const struct tern_nat_fe_key *fe_key)
{
	uint32_t id;

	if (strmap_get(w->ids, identity, &id) == 0)
		return id;
	if (strmap_get(s->ids, identity, &id) != 0) {
		struct fe_entry probe = { .k = *fe_key }, *old;

		old = vec_find(&probe, s->fe, s->n_fe, sizeof(*s->fe), fe_cmp);
		id = old && !bitmap_has(&w->assigned, old->v.svc_id) ? old->v.svc_id : 0;
		if (!id) {
			while (bitmap_has(&w->taken, w->next_id))
				w->next_id++;
			id = w->next_id++;
		}
	}
	if (bitmap_set(&w->taken, id) || bitmap_set(&w->assigned, id) ||
	    strmap_set(w->ids, identity, id))
		return 0;
	return id;
}

/* --- desired state ------------------------------------------------------- */

static int slice_cmp(const void *a, const void *b)
{
	const struct k8s_object *x = *(const struct k8s_object *const *)a;
	const struct k8s_object *y = *(const struct k8s_object *const *)b;
	int c = strcmp(x->meta.ns, y->meta.ns);

	return c ? c : strcmp(x->eps.service, y->eps.service);
}

struct cand {
	struct tern_nat_be v;
	int local;
};

static int cand_cmp(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;

	if (x->local != y->local)
		return x->local ? -1 : 1; /* local backends first */
	int c = memcmp(&x->v.addr, &y->v.addr, sizeof(x->v.addr));

	return c ? c : (int)x->v.port - (int)y->v.port;
}

static int fe_add(struct want *w, const struct tern_addr *a, __be16 port, __u8 proto,
		  const struct tern_nat_fe *v)
{
	struct fe_entry *e = vec_push(&w->fe, &w->n_fe, &w->cap_fe, sizeof(*e));

	if (!e)
		return -ENOMEM;
	e->k.addr = *a;
	e->k.port = port;
	e->k.proto = proto;
	e->v = *v;
	return 0;
}

static int family_of(const struct tern_addr *a)
{
	return tern_addr_is_v4(a) ? 4 : 6;
}

/* The backends of one service port and family: ready endpoints, or when
 * none are, the serving-terminating ones; local first. */
static int port_backends(const struct svc_sync *s, const struct k8s_object *svc,
			 const struct k8s_service_port *sp, int fam,
			 const struct k8s_object *const *slices, size_t n_slices,
			 struct cand **out, size_t *n_out, size_t *n_local)
{
	struct cand *ready = NULL, *term = NULL;
	size_t n_ready = 0, cap_ready = 0, n_term = 0, cap_term = 0;

	for (size_t i = 0; i < n_slices; i++) {
		const struct k8s_endpointslice *es = &slices[i]->eps;
		uint16_t port = 0;

		if (es->family != fam)
			continue;
		for (size_t j = 0; j < es->n_ports; j++)
			if (!strcmp(es->ports[j].name, sp->name) && es->ports[j].proto == sp->proto)
				port = es->ports[j].port;
		if (!port)
			continue;
		for (size_t j = 0; j < es->n_endpoints; j++) {
			const struct k8s_eps_endpoint *ep = &es->endpoints[j];
			int term_ok = !ep->ready && ep->serving && ep->terminating;

			if (!ep->ready && !term_ok)
				continue;
			for (size_t k = 0; k < ep->n_addrs; k++) {
				struct cand *c = term_ok ? vec_push(&term, &n_term, &cap_term, sizeof(*c))
							 : vec_push(&ready, &n_ready, &cap_ready,
								    sizeof(*c));

				if (!c) {
					free(ready);
					free(term);
					return -ENOMEM;
				}
				c->v.addr = ep->addrs[k];
				c->v.port = htons(port);
				c->local = !strcmp(ep->node_name, s->cfg->node_name);
				c->v.flags = (c->local ? TERN_BE_F_LOCAL : 0) |
					     (term_ok ? TERN_BE_F_TERMINATING : 0);
			}
		}
	}
	(void)svc;
	if (n_ready) {
		free(term);
		*out = ready;
		*n_out = n_ready;
	} else {
		free(ready);
		*out = term;
		*n_out = n_term;
	}
	/* the same address in two slices counts once */
	vec_sort(*out, *n_out, sizeof(**out), cand_cmp);
	size_t n = 0;

	for (size_t i = 0; i < *n_out; i++)
		if (!n || cand_cmp(&(*out)[i], &(*out)[n - 1]))
			(*out)[n++] = (*out)[i];
	*n_out = n;
	*n_local = 0;
	for (size_t i = 0; i < n && (*out)[i].local; i++)
		(*n_local)++;
	return 0;
}

static int want_service(struct svc_sync *s, struct want *w, const struct k8s_object *o,
			const struct k8s_object *const *slices, size_t n_slices,
			const struct k8s_object *node)
{
	const struct k8s_service *svc = &o->svc;
	int err = 0;

	if (svc->headless || svc->type == K8S_SVC_EXTERNAL_NAME)
		return 0;
	for (size_t p = 0; p < svc->n_ports; p++) {
		const struct k8s_service_port *sp = &svc->ports[p];

		for (size_t f = 0; f < svc->n_cluster_ips; f++) {
			const struct tern_addr *cip = &svc->cluster_ips[f];
			int fam = family_of(cip);
			struct tern_nat_fe_key key = { .addr = *cip, .port = htons(sp->port),
						       .proto = sp->proto };
			char identity[512];
			struct cand *bes = NULL;
			size_t n_bes = 0, n_local = 0;

			snprintf(identity, sizeof(identity), "%s/%s/%s/%u/%d", o->meta.ns,
				 o->meta.name, sp->name, sp->proto, fam);
			uint32_t id = want_id(s, w, identity, &key);

			if (!id)
				return -ENOMEM;
			err = port_backends(s, o, sp, fam, slices, n_slices, &bes, &n_bes, &n_local);
			if (err)
				return err;
			for (size_t i = 0; i < n_bes; i++) {
				struct be_entry *e = vec_push(&w->be, &w->n_be, &w->cap_be,
							      sizeof(*e));

				if (!e) {
					free(bes);
					return -ENOMEM;
				}
				e->k.svc_id = id;
				e->k.ordinal = i;
				e->v = bes[i].v;
			}
			free(bes);

			struct tern_nat_fe v = {
				.svc_id = id,
				.count = n_bes > 0xffff ? 0xffff : n_bes,
				.local_count = n_local > 0xffff ? 0xffff : n_local,
				.flags = svc->affinity_client_ip ? TERN_FE_F_AFFINITY : 0,
				.affinity_timeout = svc->affinity_timeout,
			};
			struct tern_nat_fe ext = v;

			ext.flags |= TERN_FE_F_EXTERNAL | (svc->etp_local ? TERN_FE_F_ETP_LOCAL : 0);
			if (svc->itp_local)
				v.flags |= TERN_FE_F_ITP_LOCAL;
			err = fe_add(w, cip, key.port, sp->proto, &v);
			for (size_t i = 0; !err && i < svc->n_external_ips; i++)
				if (family_of(&svc->external_ips[i]) == fam)
					err = fe_add(w, &svc->external_ips[i], key.port, sp->proto, &ext);
			for (size_t i = 0; !err && i < svc->n_lb_ips; i++)
				if (family_of(&svc->lb_ips[i]) == fam &&
				    svc->type == K8S_SVC_LOAD_BALANCER)
					err = fe_add(w, &svc->lb_ips[i], key.port, sp->proto, &ext);
			if (sp->node_port && node && svc->type != K8S_SVC_CLUSTER_IP) {
				struct tern_nat_fe np = ext;

				np.flags |= TERN_FE_F_NODEPORT;
				for (size_t i = 0; !err && i < node->node.n_addrs; i++)
					if (family_of(&node->node.addrs[i]) == fam)
						err = fe_add(w, &node->node.addrs[i],
							     htons(sp->node_port), sp->proto, &np);
			}
			if (err)
				return err;
			w->ports++;
		}
	}
	return 0;
}

/* --- applying --------------------------------------------------------------- */

/* Write or delete in one batch call (falling back to one by one). */
static int map_apply(int fd, void *keys, void *vals, size_t n, size_t ksz, size_t vsz,
		     int del)
{
	__u32 count = n;
	int err;

	if (!n)
		return 0;
	err = del ? bpf_map_delete_batch(fd, keys, &count, NULL)
		  : bpf_map_update_batch(fd, keys, vals, &count, NULL);
	if (!err)
		return 0;
	for (size_t i = 0; i < n; i++) {
		void *k = (char *)keys + i * ksz;

		err = del ? bpf_map_delete_elem(fd, k)
			  : bpf_map_update_elem(fd, k, (char *)vals + i * vsz, BPF_ANY);
		if (err && !(del && errno == ENOENT))
			return -errno;
	}
	return 0;
}

/* Split entries into keys and values for the batch calls. */
struct batch {
	void *keys, *vals;
	size_t n;
};

static int batch_add(struct batch *b, size_t cap, const void *k, size_t ksz, const void *v,
		     size_t vsz)
{
	if (!b->keys) {
		b->keys = malloc(cap * ksz);
		b->vals = malloc(cap * (vsz ? vsz : 1));
		if (!b->keys || !b->vals)
			return -ENOMEM;
	}
	memcpy((char *)b->keys + b->n * ksz, k, ksz);
	if (v)
		memcpy((char *)b->vals + b->n * vsz, v, vsz);
	b->n++;
	return 0;
}

static void batch_free(struct batch *b)
{
	free(b->keys);
	free(b->vals);
}

static int apply(struct svc_sync *s, struct want *w, struct svc_stats *st)
{
	struct batch fe_del = {}, fe_put = {}, be_del = {}, be_put = {};
	size_t i, j;
	int err = 0;

	/* merge-diff the sorted desired and shadow arrays */
	for (i = j = 0; !err && (i < w->n_fe || j < s->n_fe);) {
		int c = i == w->n_fe ? 1 : j == s->n_fe ? -1 : fe_cmp(&w->fe[i], &s->fe[j]);

		if (c < 0 || (c == 0 && memcmp(&w->fe[i].v, &s->fe[j].v, sizeof(w->fe[i].v))))
			err = batch_add(&fe_put, w->n_fe, &w->fe[i].k, sizeof(w->fe[i].k),
					&w->fe[i].v, sizeof(w->fe[i].v));
		else if (c > 0)
			err = batch_add(&fe_del, s->n_fe, &s->fe[j].k, sizeof(s->fe[j].k), NULL, 0);
		i += c <= 0;
		j += c >= 0;
	}
	for (i = j = 0; !err && (i < w->n_be || j < s->n_be);) {
		int c = i == w->n_be ? 1 : j == s->n_be ? -1 : be_cmp(&w->be[i], &s->be[j]);

		if (c < 0 || (c == 0 && memcmp(&w->be[i].v, &s->be[j].v, sizeof(w->be[i].v))))
			err = batch_add(&be_put, w->n_be, &w->be[i].k, sizeof(w->be[i].k),
					&w->be[i].v, sizeof(w->be[i].v));
		else if (c > 0)
			err = batch_add(&be_del, s->n_be, &s->be[j].k, sizeof(s->be[j].k), NULL, 0);
		i += c <= 0;
		j += c >= 0;
	}
	/* frontends that go, go first; backends come before the frontends that
	 * count them, and go after the frontends stopped counting them */
	if (!err)
		err = map_apply(s->fe_fd, fe_del.keys, NULL, fe_del.n, sizeof(struct tern_nat_fe_key),
				0, 1);
	if (!err)
		err = map_apply(s->be_fd, be_put.keys, be_put.vals, be_put.n,
				sizeof(struct tern_nat_be_key), sizeof(struct tern_nat_be), 0);
	if (!err)
		err = map_apply(s->fe_fd, fe_put.keys, fe_put.vals, fe_put.n,
				sizeof(struct tern_nat_fe_key), sizeof(struct tern_nat_fe), 0);
	if (!err)
		err = map_apply(s->be_fd, be_del.keys, NULL, be_del.n,
				sizeof(struct tern_nat_be_key), 0, 1);
	st->fe_writes = fe_put.n + fe_del.n;
	st->be_writes = be_put.n + be_del.n;
	batch_free(&fe_del);
	batch_free(&fe_put);
	batch_free(&be_del);
	batch_free(&be_put);
	if (err)
		log_error("service maps: %s%s", strerror(-err), errno_hint(err));
	return err;
}

static int u32_cmp(const void *a, const void *b)
{
	__u32 x = *(const __u32 *)a, y = *(const __u32 *)b;

	return x < y ? -1 : x > y;
}

/* Order by address and port only. */
static int gone_cmp(const void *a, const void *b)
{
	return memcmp(a, b, offsetof(struct svc_gone, port) + sizeof(__be16));
}

/* (address, port) of every backend of a UDP frontend in fe/be, sorted. */
static int udp_backends(const struct fe_entry *fe, size_t n_fe, const struct be_entry *be,
			size_t n_be, struct svc_gone **out, size_t *n_out)
{
	__u32 *udp = calloc(n_fe + 1, sizeof(*udp));
	size_t n_udp = 0, cap = 0;

	*out = NULL;
	*n_out = 0;
	if (!udp)
		return -ENOMEM;
	for (size_t i = 0; i < n_fe; i++)
		if (fe[i].k.proto == IPPROTO_UDP)
			udp[n_udp++] = fe[i].v.svc_id;
	vec_sort(udp, n_udp, sizeof(*udp), u32_cmp);
	for (size_t i = 0; i < n_be; i++) {
		if (!vec_find(&be[i].k.svc_id, udp, n_udp, sizeof(*udp), u32_cmp))
			continue;
		struct svc_gone *g = vec_push(out, n_out, &cap, sizeof(*g));

		if (!g) {
			free(udp);
			return -ENOMEM;
		}
		g->addr = be[i].v.addr;
		g->port = be[i].v.port;
	}
	free(udp);
	vec_sort(*out, *n_out, sizeof(**out), gone_cmp);
	return 0;
}

static int has_udp(const struct fe_entry *fe, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (fe[i].k.proto == IPPROTO_UDP)
			return 1;
	return 0;
}

/* UDP backends in the shadow that the desired state no longer has (gone),
 * and the other way round (back: a gone one may be among them). Only UDP
 * services' backends are sorted and compared (usually a handful: DNS);
 * with no UDP service nothing is done. (Sorting every backend instead cost
 * 7 ms of a 30 ms run at 10 000 services: test/bench/bench_svc.) */
static int gone_udp(const struct svc_sync *s, const struct want *w, struct svc_gone **out,
		    size_t *n_out)
{
	struct svc_gone *old = NULL, *now = NULL;
	size_t n_old = 0, n_now = 0, cap = 0;
	int err;

	*out = NULL;
	*n_out = 0;
	if (!has_udp(s->fe, s->n_fe) && !has_udp(w->fe, w->n_fe))
		return 0;
	err = udp_backends(s->fe, s->n_fe, s->be, s->n_be, &old, &n_old);
	if (!err)
		err = udp_backends(w->fe, w->n_fe, w->be, w->n_be, &now, &n_now);
	for (int back = 0; !err && back < 2; back++) {
		const struct svc_gone *from = back ? now : old, *to = back ? old : now;
		size_t n_from = back ? n_now : n_old, n_to = back ? n_old : n_now;

		for (size_t i = 0; i < n_from; i++) {
			/* sorted: one address in two UDP services goes once */
			if ((i && !gone_cmp(&from[i], &from[i - 1])) ||
			    vec_find(&from[i], to, n_to, sizeof(*to), gone_cmp))
				continue;
			struct svc_gone *g = vec_push(out, n_out, &cap, sizeof(*g));

			if (!g) {
				err = -ENOMEM;
				break;
			}
			*g = from[i];
			g->back = back;
		}
	}
	free(old);
	free(now);
	return err;
}

int svc_sync_run(struct svc_sync *s, const struct model *m, struct svc_stats *st,
		 struct svc_gone **gone, size_t *n_gone)
{
	const struct k8s_object *const *svcs, *const *slices_sorted;
	const struct k8s_object **slices = NULL;
	size_t n_svcs = model_list(m, K8S_SERVICE, &svcs);
	size_t n_slices = model_list(m, K8S_ENDPOINTSLICE, &slices_sorted);
	uint64_t gens[3] = {
		model_kind_generation(m, K8S_SERVICE),
		model_kind_generation(m, K8S_ENDPOINTSLICE),
		model_kind_generation(m, K8S_NODE),
	};
	struct want w = { .next_id = 1 };
	int err = 0;

	memset(st, 0, sizeof(*st));
	*gone = NULL;
	*n_gone = 0;
	if (s->shadow_valid && !memcmp(gens, s->gens, sizeof(gens)))
		return 0; /* nothing services depend on changed */
	if (!s->shadow_valid && (err = shadow_read(s)))
		return err;

	w.ids = strmap_new();
	slices = malloc((n_slices + 1) * sizeof(*slices));
	if (!w.ids || !slices) {
		err = -ENOMEM;
		goto out;
	}
	/* ids the maps still use are not handed out again in this run */
	bitmap_set(&w.taken, 0);
	strmap_each(s->ids, taken_from_ids, &w);
	for (size_t i = 0; i < s->n_fe; i++)
		bitmap_set(&w.taken, s->fe[i].v.svc_id);
	for (size_t i = 0; i < s->n_be; i++)
		bitmap_set(&w.taken, s->be[i].k.svc_id);

	/* slices grouped by (namespace, service) */
	memcpy(slices, slices_sorted, n_slices * sizeof(*slices));
	vec_sort(slices, n_slices, sizeof(*slices), slice_cmp);

	const struct k8s_object *node = model_get(m, K8S_NODE, "", s->cfg->node_name);

	if (s->node_fd >= 0)
		node_map_sync(s, node);

	for (size_t i = 0; i < n_svcs && !err; i++) {
		const struct k8s_object *o = svcs[i];
		struct k8s_object key_obj = { .meta.ns = o->meta.ns };
		const struct k8s_object *kp = &key_obj;
		size_t lo = 0, hi = n_slices;

		key_obj.eps.service = o->meta.name;
		/* the first slice of this service */
		while (lo < hi) {
			size_t mid = (lo + hi) / 2;

			if (slice_cmp(&slices[mid], &kp) < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		size_t end = lo;

		while (end < n_slices && !slice_cmp(&slices[end], &kp))
			end++;
		err = want_service(s, &w, o, slices + lo, end - lo, node);
	}
	if (err)
		goto out;
	vec_sort(w.fe, w.n_fe, sizeof(*w.fe), fe_cmp);
	vec_sort(w.be, w.n_be, sizeof(*w.be), be_cmp);
	/* two services claiming one frontend: the first (by namespace/name) wins */
	size_t n = 0;

	for (size_t i = 0; i < w.n_fe; i++) {
		if (n && !fe_cmp(&w.fe[i], &w.fe[n - 1])) {
			char a[64];

			log_warn("service frontend %s:%u claimed twice; keeping the first",
				 tern_addr_str(&w.fe[i].k.addr, a, sizeof(a)), ntohs(w.fe[i].k.port));
			continue;
		}
		w.fe[n++] = w.fe[i];
	}
	w.n_fe = n;

	err = gone_udp(s, &w, gone, n_gone);
	if (!err)
		err = apply(s, &w, st);
	if (err) {
		s->shadow_valid = 0; /* re-read what the maps really hold next time */
		goto out;
	}
	/* the maps now hold the desired state */
	free(s->fe);
	free(s->be);
	s->fe = w.fe;
	s->n_fe = w.n_fe;
	s->be = w.be;
	s->n_be = w.n_be;
	w.fe = NULL;
	w.be = NULL;
	strmap_free(s->ids);
	s->ids = w.ids;
	w.ids = NULL;
	memcpy(s->gens, gens, sizeof(gens));
	st->ports = w.ports;
	st->frontends = s->n_fe;
	st->backends = s->n_be;
	st->gone_udp = *n_gone;
out:
	if (err) {
		free(*gone);
		*gone = NULL;
		*n_gone = 0;
	}
	free(slices);
	free(w.fe);
	free(w.be);
	free(w.taken.b);
	free(w.assigned.b);
	strmap_free(w.ids);
	return err;
}
