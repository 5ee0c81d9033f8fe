/* `ternctl nat dump` and `ternctl nat affinity`: the service tables read back
 * as the dataplane sees them: each service port's frontends
 * (tern_nat_fe_v1) with its backends in ordinal order (tern_nat_be_v1), and
 * the ClientIP affinity entries (tern_nat_aff_v1) with what the next packet
 * would make of them. */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <tern/nat.h>

#include "ctl/ctl.h"

struct fe {
	struct tern_nat_fe_key k;
	struct tern_nat_fe v;
};

struct be {
	struct tern_nat_be_key k;
	struct tern_nat_be v;
};

/* read_map fills arrays of these from a map's keys and values, back to back */
_Static_assert(sizeof(struct fe) == sizeof(struct tern_nat_fe_key) + sizeof(struct tern_nat_fe),
	       "fe record has no padding");
_Static_assert(sizeof(struct be) == sizeof(struct tern_nat_be_key) + sizeof(struct tern_nat_be),
	       "be record has no padding");

/* One service port: its frontends and backend entries, as ranges of the
 * sorted tables. */
struct svc_view {
	__u32 id;
	size_t f0, f1;  /* frontends: fes[f0, f1); none for leftover backends */
	size_t b0, b1;  /* backend entries: bes[b0, b1) */
	size_t unused0; /* bes[unused0, b1): ordinals at or past count, unreachable */
	__u32 count;    /* the most backends any of its frontends points to */
	__u32 timeout;  /* a frontend's affinity timeout; 0: no affinity */
};

/* Both tables in memory, frontends sorted by service then address,
 * backends by service then ordinal; one view per service id in either. */
struct nat_tables {
	size_t n_fes, n_bes, n_views;
	struct fe *fes;
	struct be *bes;
	struct svc_view *views;
};

struct flag_name {
	__u32 bit;
	const char *text; /* text output */
	const char *json; /* JSON boolean field */
	int timed;        /* text: followed by the affinity timeout */
};

static const struct flag_name fe_flags[] = {
	{ TERN_FE_F_EXTERNAL, "external", "external", 0 },
	{ TERN_FE_F_NODEPORT, "nodeport", "nodeport", 0 },
	{ TERN_FE_F_ETP_LOCAL, "etp-local", "etp_local", 0 },
	{ TERN_FE_F_ITP_LOCAL, "itp-local", "itp_local", 0 },
	{ TERN_FE_F_AFFINITY, "affinity", "affinity", 1 },
};

static const struct flag_name be_flags[] = {
	{ TERN_BE_F_LOCAL, "local", "local", 0 },
	{ TERN_BE_F_TERMINATING, "terminating", "terminating", 0 },
};

#define N_FLAGS(t) (sizeof(t) / sizeof(t[0]))

/* flags as "external,nodeport"; the affinity timeout after "affinity:";
 * bits this build does not know in hex; "-" for none. */
static const char *flags_text(__u32 flags, const struct flag_name *names, size_t n,
			      __u32 timeout, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && off < len; i++) {
		if (!(flags & names[i].bit))
			continue;
		off += snprintf(buf + off, len - off, "%s%s", off ? "," : "", names[i].text);
		if (names[i].timed && off < len)
			off += snprintf(buf + off, len - off, ":%us", timeout);
		flags &= ~names[i].bit;
	}
	if (flags && off < len)
		snprintf(buf + off, len - off, "%s%#x", off ? "," : "", flags);
	return buf[0] ? buf : "-";
}

static void flags_json(struct json_object *o, __u32 flags, const struct flag_name *names,
		       size_t n)
{
	json_object_object_add(o, "flags", json_object_new_int64(flags));
	for (size_t i = 0; i < n; i++)
		json_object_object_add(o, names[i].json,
				       json_object_new_boolean(!!(flags & names[i].bit)));
}

static int addr_order(const struct tern_addr *x, const struct tern_addr *y)
{
	return memcmp(x->b, y->b, sizeof(x->b));
}

/* By service; in a service the in-cluster frontends first, then by
 * address (IPv4 before IPv6), port and protocol. */
static int fe_cmp(const void *x, const void *y)
{
	const struct fe *a = x, *b = y;
	__u32 ea = a->v.flags & TERN_FE_F_EXTERNAL, eb = b->v.flags & TERN_FE_F_EXTERNAL;
	int d;

	if (a->v.svc_id != b->v.svc_id)
		return a->v.svc_id < b->v.svc_id ? -1 : 1;
	if (ea != eb)
		return ea ? 1 : -1;
	if ((d = addr_order(&a->k.addr, &b->k.addr)))
		return d;
	if (a->k.port != b->k.port)
		return ntohs(a->k.port) < ntohs(b->k.port) ? -1 : 1;
	return (int)a->k.proto - (int)b->k.proto;
}

/* On struct be, or on a bare key (bsearch): both start with the key. */
static int be_cmp(const void *x, const void *y)
{
	const struct tern_nat_be_key *a = x, *b = y;

	if (a->svc_id != b->svc_id)
		return a->svc_id < b->svc_id ? -1 : 1;
	if (a->ordinal != b->ordinal)
		return a->ordinal < b->ordinal ? -1 : 1;
	return 0;
}

/* Read one map whole into an array of {key, value} records. */
static int read_map(const struct ctl *c, const char *name, __u32 key_size, __u32 value_size,
		    void **out, size_t *n)
{
	struct map_dump d = {};
	size_t rec = key_size + value_size;
	char *v;
	int fd, err;

	*out = NULL;
	*n = 0;
	fd = ctl__map_open(c, name, key_size, value_size);
	if (fd < 0)
		return fd;
	err = ctl__map_dump(fd, &d);
	close(fd);
	if (err) {
		ctl__err("read %s/%s: %s", c->pin_path, name, strerror(-err));
		return err;
	}
	v = calloc(d.n ? d.n : 1, rec);
	if (!v) {
		map_dump__free(&d);
		ctl__err("out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < d.n; i++) {
		memcpy(v + i * rec, (char *)d.keys + i * key_size, key_size);
		memcpy(v + i * rec + key_size, (char *)d.values + i * value_size, value_size);
	}
	*out = v;
	*n = d.n;
	map_dump__free(&d);
	return 0;
}

static void tables__free(struct nat_tables *t)
{
	free(t->fes);
	free(t->bes);
	free(t->views);
	memset(t, 0, sizeof(*t));
}

/* Walk both sorted tables together, one view per service id. */
static int views_build(struct nat_tables *t)
{
	size_t fi = 0, bi = 0;

	t->views = calloc(t->n_fes + t->n_bes + 1, sizeof(*t->views));
	if (!t->views)
		return -ENOMEM;
	while (fi < t->n_fes || bi < t->n_bes) {
		struct svc_view *v = &t->views[t->n_views++];

		if (fi < t->n_fes && (bi == t->n_bes || t->fes[fi].v.svc_id <= t->bes[bi].k.svc_id))
			v->id = t->fes[fi].v.svc_id;
		else
			v->id = t->bes[bi].k.svc_id;
		for (v->f0 = fi; fi < t->n_fes && t->fes[fi].v.svc_id == v->id; fi++) {
			const struct tern_nat_fe *f = &t->fes[fi].v;

			if (f->count > v->count)
				v->count = f->count;
			if ((f->flags & TERN_FE_F_AFFINITY) && !v->timeout)
				v->timeout = f->affinity_timeout;
		}
		v->f1 = fi;
		for (v->b0 = bi; bi < t->n_bes && t->bes[bi].k.svc_id == v->id; bi++)
			;
		v->b1 = bi;
		for (v->unused0 = v->b0; v->unused0 < v->b1; v->unused0++)
			if (t->bes[v->unused0].k.ordinal >= v->count)
				break;
	}
	return 0;
}

static int view_cmp(const void *key, const void *elem)
{
	__u32 id = *(const __u32 *)key, vid = ((const struct svc_view *)elem)->id;

	return id == vid ? 0 : id < vid ? -1 : 1;
}

static const struct svc_view *view_find(const struct nat_tables *t, __u32 id)
{
	return bsearch(&id, t->views, t->n_views, sizeof(*t->views), view_cmp);
}

static int tables__read(const struct ctl *c, struct nat_tables *t)
{
	void *fes, *bes;
	int err;

	memset(t, 0, sizeof(*t));
	err = read_map(c, TERN_MAP_NAT_FE, sizeof(struct tern_nat_fe_key),
		       sizeof(struct tern_nat_fe), &fes, &t->n_fes);
	if (err)
		return err;
	t->fes = fes;
	err = read_map(c, TERN_MAP_NAT_BE, sizeof(struct tern_nat_be_key),
		       sizeof(struct tern_nat_be), &bes, &t->n_bes);
	if (err) {
		tables__free(t);
		return err;
	}
	t->bes = bes;
	qsort(t->fes, t->n_fes, sizeof(*t->fes), fe_cmp);
	qsort(t->bes, t->n_bes, sizeof(*t->bes), be_cmp);
	err = views_build(t);
	if (err) {
		ctl__err("out of memory");
		tables__free(t);
	}
	return err;
}

static const struct be *backend_find(const struct nat_tables *t, __u32 svc_id, __u32 ordinal)
{
	struct tern_nat_be_key k = { .svc_id = svc_id, .ordinal = ordinal };

	return bsearch(&k, t->bes, t->n_bes, sizeof(*t->bes), be_cmp);
}

/* What a backend row shows: ordinals below count are in use (and missing
 * when the map lacks them, which breaks the service); with --all, entries
 * at or above count too, which no packet reaches. */
struct be_row {
	__u32 ordinal;
	const struct tern_nat_be *be; /* NULL: missing */
	int unused;
};

/* The i-th backend row of v; 0 when there is none. */
static int be_row_get(const struct nat_tables *t, const struct svc_view *v, int all, size_t i,
		      struct be_row *r)
{
	size_t j;

	memset(r, 0, sizeof(*r));
	if (i < v->count) {
		const struct be *b = backend_find(t, v->id, i);

		r->ordinal = i;
		r->be = b ? &b->v : NULL;
		return 1;
	}
	j = v->unused0 + (i - v->count);
	if (!all || j >= v->b1)
		return 0;
	r->ordinal = t->bes[j].k.ordinal;
	r->be = &t->bes[j].v;
	r->unused = 1;
	return 1;
}

/* "local,terminating", "unused" appended for rows past count. */
static const char *be_row_flags(const struct be_row *r, char *buf, size_t len)
{
	const char *s;
	size_t off;

	if (!r->be)
		return "missing";
	s = flags_text(r->be->flags, be_flags, N_FLAGS(be_flags), 0, buf, len);
	if (!r->unused)
		return s;
	off = s == buf ? strlen(buf) : 0;
	snprintf(buf + off, len - off, "%sunused", off ? "," : "");
	return buf;
}

static const char *fe_text(const struct tern_nat_fe_key *k, char *buf, size_t len)
{
	char ep[FMT_EP_LEN], proto[8];

	snprintf(buf, len, "%s/%s", fmt_endpoint(&k->addr, ntohs(k->port), ep, sizeof(ep)),
		 fmt_proto(k->proto, proto, sizeof(proto)));
	return buf;
}

static int print_service_text(const struct nat_tables *t, const struct svc_view *v, int all,
			      size_t *n_bes)
{
	struct table ft, bt;
	struct be_row r;
	int err;

	printf("service %u\n", v->id);
	table__init(&ft, 4, 0x6);
	err = table__row(&ft, "FRONTEND", "BACKENDS", "LOCAL", "FLAGS");
	for (size_t i = v->f0; i < v->f1 && !err; i++) {
		const struct fe *f = &t->fes[i];
		char fe[FMT_EP_LEN + 8], count[8], local[8], fl[128];

		snprintf(count, sizeof(count), "%u", f->v.count);
		snprintf(local, sizeof(local), "%u", f->v.local_count);
		err = table__row(&ft, fe_text(&f->k, fe, sizeof(fe)), count, local,
				 flags_text(f->v.flags, fe_flags, N_FLAGS(fe_flags),
					    f->v.affinity_timeout, fl, sizeof(fl)));
	}
	if (!err && v->f1 > v->f0)
		table__print(&ft, stdout, "  ");
	else if (!err)
		printf("  no frontends\n");
	table__free(&ft);

	table__init(&bt, 3, 0x1);
	if (!err)
		err = table__row(&bt, "#", "BACKEND", "FLAGS");
	for (size_t i = 0; !err && be_row_get(t, v, all, i, &r); i++) {
		char ord[12], ep[FMT_EP_LEN], fl[64];

		snprintf(ord, sizeof(ord), "%u", r.ordinal);
		if (r.be)
			fmt_endpoint(&r.be->addr, ntohs(r.be->port), ep, sizeof(ep));
		err = table__row(&bt, ord, r.be ? ep : NULL, be_row_flags(&r, fl, sizeof(fl)));
		*n_bes += r.be && !r.unused;
	}
	if (!err && bt.nrows > 1)
		table__print(&bt, stdout, "  ");
	else if (!err && v->f1 > v->f0)
		printf("  no backends (refuse)\n");
	table__free(&bt);
	return err;
}

static struct json_object *service_json(const struct nat_tables *t, const struct svc_view *v,
					int all, size_t *n_bes)
{
	struct json_object *o = json_object_new_object();
	struct json_object *fes = json_object_new_array(), *bes = json_object_new_array();
	char buf[FMT_ADDR_LEN], proto[8];
	struct be_row r;

	json_object_object_add(o, "svc_id", json_object_new_int64(v->id));
	for (size_t i = v->f0; i < v->f1; i++) {
		const struct fe *f = &t->fes[i];
		struct json_object *j = json_object_new_object();
		int aff = !!(f->v.flags & TERN_FE_F_AFFINITY);

		json_object_object_add(j, "addr", json_object_new_string(
						  fmt_addr(&f->k.addr, buf, sizeof(buf))));
		json_object_object_add(j, "port", json_object_new_int(ntohs(f->k.port)));
		json_object_object_add(j, "proto", json_object_new_string(
						   fmt_proto(f->k.proto, proto, sizeof(proto))));
		json_object_object_add(j, "proto_num", json_object_new_int(f->k.proto));
		json_object_object_add(j, "family",
				       json_object_new_int(tern_addr_is_v4(&f->k.addr) ? 4 : 6));
		json_object_object_add(j, "count", json_object_new_int(f->v.count));
		json_object_object_add(j, "local_count", json_object_new_int(f->v.local_count));
		flags_json(j, f->v.flags, fe_flags, N_FLAGS(fe_flags));
		json_object_object_add(j, "affinity_timeout",
				       aff ? json_object_new_int64(f->v.affinity_timeout) : NULL);
		json_object_array_add(fes, j);
	}
	for (size_t i = 0; be_row_get(t, v, all, i, &r); i++) {
		struct json_object *j = json_object_new_object();

		json_object_object_add(j, "ordinal", json_object_new_int64(r.ordinal));
		json_object_object_add(j, "addr", r.be ? json_object_new_string(
						  fmt_addr(&r.be->addr, buf, sizeof(buf))) : NULL);
		json_object_object_add(j, "port", r.be ? json_object_new_int(ntohs(r.be->port))
						       : NULL);
		json_object_object_add(j, "family", r.be ? json_object_new_int(
						    tern_addr_is_v4(&r.be->addr) ? 4 : 6) : NULL);
		flags_json(j, r.be ? r.be->flags : 0, be_flags, N_FLAGS(be_flags));
		json_object_object_add(j, "missing", json_object_new_boolean(!r.be));
		json_object_object_add(j, "unused", json_object_new_boolean(r.unused));
		json_object_array_add(bes, j);
		*n_bes += r.be && !r.unused;
	}
	json_object_object_add(o, "frontends", fes);
	json_object_object_add(o, "backends", bes);
	return o;
}

int nat__dump(struct ctl *c)
{
	size_t n_svcs = 0, n_bes = 0;
	struct nat_tables t;
	struct json_stream js;
	int err;

	err = tables__read(c, &t);
	if (err)
		return err;
	if (c->json)
		ctl__json_array_begin(&js);
	for (size_t i = 0; i < t.n_views && !err; i++) {
		const struct svc_view *v = &t.views[i];

		/* backends no frontend points to: leftovers, shown with --all */
		if (v->f1 == v->f0 && !c->all)
			continue;
		if (c->json)
			err = ctl__json_array_add(&js, service_json(&t, v, c->all, &n_bes));
		else
			err = print_service_text(&t, v, c->all, &n_bes);
		n_svcs++;
	}
	if (c->json)
		ctl__json_array_end(&js);
	else if (!err)
		printf("%zu service port%s, %zu frontend%s, %zu backend%s\n", n_svcs,
		       n_svcs == 1 ? "" : "s", t.n_fes, t.n_fes == 1 ? "" : "s", n_bes,
		       n_bes == 1 ? "" : "s");
	if (err)
		ctl__err("out of memory");
	tables__free(&t);
	return err;
}

/* ---- affinity ---- */

struct aff {
	struct tern_nat_aff_key k;
	struct tern_nat_aff v;
	__u64 age_ns;
	const char *state;
};

static int aff_cmp(const void *x, const void *y)
{
	const struct aff *a = x, *b = y;

	if (a->k.svc_id != b->k.svc_id)
		return a->k.svc_id < b->k.svc_id ? -1 : 1;
	return addr_order(&a->k.client, &b->k.client);
}

/* Is addr:port among v's backends in use (ordinals below count)? Where
 * it is does not matter: nat__be_find looks for it past its ordinal. */
static int view_has_backend(const struct nat_tables *t, const struct svc_view *v,
			    const struct tern_addr *addr, __be16 port)
{
	for (size_t i = v->b0; i < v->unused0; i++)
		if (!addr_order(&t->bes[i].v.addr, addr) && t->bes[i].v.port == port)
			return 1;
	return 0;
}

/* What the next packet from this client does with the entry, as
 * nat__pick in bpf/lib/nat.h decides: follows it ("active"), or picks
 * afresh because it is too old ("expired"), its backend is no longer among
 * the service's first count backends ("stale"; the ordinal may differ: the
 * packet finds it and stores its new one), or the service port has no
 * affinity (any more). Judged against the largest count of the service's
 * frontends; one with a Local traffic policy chooses among its first
 * local_count only. */
static const char *aff_state(const struct nat_tables *t, const struct aff *a)
{
	const struct svc_view *v = view_find(t, a->k.svc_id);

	if (!v || !v->timeout)
		return "no-affinity";
	if (a->age_ns >= (__u64)v->timeout * 1000000000ULL)
		return "expired";
	if (!view_has_backend(t, v, &a->v.addr, a->v.port))
		return "stale";
	return "active";
}

/* Connect-time load balancing keys affinity by the client's network
 * namespace, not an address: ff00::/32 (multicast, never a source) holding
 * the netns cookie (bpf/lib/sock.h, sock__client). 1 with *cookie set for
 * those. */
static int aff_client_netns(const struct tern_addr *a, __u64 *cookie)
{
	if (a->w[0] != htonl(0xff000000) || a->w[1])
		return 0;
	*cookie = (__u64)a->w[2] << 32 | a->w[3];
	return 1;
}

static const char *aff_client_text(const struct tern_addr *a, char *buf, size_t len)
{
	__u64 cookie;

	if (aff_client_netns(a, &cookie))
		snprintf(buf, len, "netns:%llu", (unsigned long long)cookie);
	else
		fmt_addr(a, buf, len);
	return buf;
}

static int print_aff_text(const struct aff *affs, size_t n)
{
	struct table tb;
	int err;

	table__init(&tb, 6, 0x9);
	err = table__row(&tb, "SERVICE", "CLIENT", "BACKEND", "ORDINAL", "AGE", "STATE");
	for (size_t i = 0; i < n && !err; i++) {
		const struct aff *a = &affs[i];
		char svc[12], client[FMT_ADDR_LEN], be[FMT_EP_LEN], ord[12], age[24];

		snprintf(svc, sizeof(svc), "%u", a->k.svc_id);
		snprintf(ord, sizeof(ord), "%u", a->v.ordinal);
		err = table__row(&tb, svc, aff_client_text(&a->k.client, client, sizeof(client)),
				 fmt_endpoint(&a->v.addr, ntohs(a->v.port), be, sizeof(be)), ord,
				 fmt_duration(a->age_ns, age, sizeof(age)), a->state);
	}
	if (!err) {
		if (n)
			table__print(&tb, stdout, "");
		printf("%zu entr%s\n", n, n == 1 ? "y" : "ies");
	}
	table__free(&tb);
	return err;
}

static struct json_object *aff_json(const struct aff *a)
{
	struct json_object *o = json_object_new_object();
	char buf[FMT_ADDR_LEN];
	__u64 cookie;
	int netns = aff_client_netns(&a->k.client, &cookie);

	json_object_object_add(o, "svc_id", json_object_new_int64(a->k.svc_id));
	json_object_object_add(o, "client", netns ? NULL : json_object_new_string(
					    fmt_addr(&a->k.client, buf, sizeof(buf))));
	json_object_object_add(o, "client_netns", netns ? json_object_new_uint64(cookie) : NULL);
	json_object_object_add(o, "backend", json_object_new_string(
					     fmt_addr(&a->v.addr, buf, sizeof(buf))));
	json_object_object_add(o, "backend_port", json_object_new_int(ntohs(a->v.port)));
	json_object_object_add(o, "ordinal", json_object_new_int64(a->v.ordinal));
	json_object_object_add(o, "age_ms", json_object_new_uint64(a->age_ns / 1000000));
	json_object_object_add(o, "state", json_object_new_string(a->state));
	return o;
}

int nat__affinity(struct ctl *c)
{
	struct nat_tables t;
	struct aff *affs = NULL;
	void *recs = NULL;
	size_t n = 0;
	__u64 now;
	int err;

	err = tables__read(c, &t);
	if (err)
		return err;
	now = ctl__now_ns();
	err = read_map(c, TERN_MAP_NAT_AFF, sizeof(struct tern_nat_aff_key),
		       sizeof(struct tern_nat_aff), &recs, &n);
	if (err)
		goto out;
	affs = calloc(n ? n : 1, sizeof(*affs));
	if (!affs) {
		err = -ENOMEM;
		ctl__err("out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const char *r = (const char *)recs + i * (sizeof(affs->k) + sizeof(affs->v));
		struct aff *a = &affs[i];

		memcpy(&a->k, r, sizeof(a->k));
		memcpy(&a->v, r + sizeof(a->k), sizeof(a->v));
		/* refreshed after we read the clock: age 0 rather than negative */
		a->age_ns = now > a->v.last_ns ? now - a->v.last_ns : 0;
	}
	qsort(affs, n, sizeof(*affs), aff_cmp);
	for (size_t i = 0; i < n; i++)
		affs[i].state = aff_state(&t, &affs[i]);

	if (c->json) {
		struct json_stream js;

		ctl__json_array_begin(&js);
		for (size_t i = 0; i < n && !err; i++)
			err = ctl__json_array_add(&js, aff_json(&affs[i]));
		ctl__json_array_end(&js);
	} else {
		err = print_aff_text(affs, n);
	}
	if (err)
		ctl__err("out of memory");
out:
	free(affs);
	free(recs);
	tables__free(&t);
	return err;
}
