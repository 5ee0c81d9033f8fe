/* The rule model (rules.h): which policies select each local endpoint, the
 * rules they contribute in order, and the sets those rules name, shared by
 * definition. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tern/policy.h>

#include "policy/rules.h"
#include "policy/selector.h"

#define NS_NAME_LABEL "kubernetes.io/metadata.name"

/* Building state: the model under construction and a tree of set
 * definitions -> index, so each distinct set is made once. */
struct build {
	const struct model *m;
	const char *node;
	struct pol_model *pm;
	size_t cap_sets;
	void *defs;       /* tsearch tree of struct def_ix * */
	int err;
};

struct def_ix {
	const char *def;  /* the set's own string */
	size_t ix;
};

static int def_cmp(const void *a, const void *b)
{
	return strcmp(((const struct def_ix *)a)->def, ((const struct def_ix *)b)->def);
}

const char *pol_proto_name(uint8_t proto, char buf[8])
{
	switch (proto) {
	case IPPROTO_TCP:
		return "TCP";
	case IPPROTO_UDP:
		return "UDP";
	case IPPROTO_SCTP:
		return "SCTP";
	}
	snprintf(buf, 8, "%u", proto);
	return buf;
}

int pol_pod_counts(const struct k8s_object *pod)
{
	const struct k8s_pod *p = &pod->pod;

	/* a finished pod's IPs go back to the pool; a host-network pod's IPs
	 * are its node's, never selected as a pod's */
	return p->n_ips && !p->host_network && strcmp(p->phase, "Succeeded") != 0 &&
	       strcmp(p->phase, "Failed") != 0;
}

void pol_labels_free(struct k8s_labels *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->keys[i]);
		free(l->vals[i]);
	}
	free(l->keys);
	free(l->vals);
	memset(l, 0, sizeof(*l));
}

int pol_ns_labels(const struct model *m, const char *ns, struct k8s_labels *l)
{
	const struct k8s_object *o = model_get(m, K8S_NAMESPACE, "", ns);
	const struct k8s_labels *src = o ? &o->meta.labels : NULL;
	size_t n = src ? src->n : 0, at = 0;
	int have_name = src && k8s_labels_get(src, NS_NAME_LABEL);

	memset(l, 0, sizeof(*l));
	l->keys = calloc(n + 1, sizeof(*l->keys));
	l->vals = calloc(n + 1, sizeof(*l->vals));
	if (!l->keys || !l->vals)
		goto oom;
	/* merge the name label in, keeping keys sorted */
	for (size_t i = 0; i <= n; i++) {
		int name_here = !have_name && !at &&
				(i == n || strcmp(NS_NAME_LABEL, src->keys[i]) < 0);

		if (name_here) {
			l->keys[l->n] = strdup(NS_NAME_LABEL);
			l->vals[l->n] = strdup(ns);
			at = 1;
			if (!l->keys[l->n++] || !l->vals[l->n - 1])
				goto oom;
		}
		if (i == n)
			break;
		l->keys[l->n] = strdup(src->keys[i]);
		l->vals[l->n] = strdup(src->vals[i]);
		if (!l->keys[l->n++] || !l->vals[l->n - 1])
			goto oom;
	}
	return 0;
oom:
	pol_labels_free(l);
	return -ENOMEM;
}

/* ---- text ---- */

static void cidr_print(FILE *f, const struct k8s_cidr *c)
{
	char buf[INET6_ADDRSTRLEN];

	if (c->v4)
		fprintf(f, "%s/%u", inet_ntop(AF_INET, &c->addr.w[3], buf, sizeof(buf)),
			c->bits - 96);
	else
		fprintf(f, "%s/%u", inet_ntop(AF_INET6, c->addr.b, buf, sizeof(buf)), c->bits);
}

static void block_print(FILE *f, const struct k8s_np_peer *p)
{
	cidr_print(f, &p->cidr);
	for (size_t i = 0; i < p->n_except; i++) {
		fputs(i ? "," : " except ", f);
		cidr_print(f, &p->except[i]);
	}
}

/* s as text, "*" for empty, into a malloc'd string; NULL: no memory */
static char *sel_text(const struct k8s_selector *s)
{
	char *t = s ? selector_str(s) : strdup("");

	if (t && !*t) {
		free(t);
		t = strdup("*");
	}
	return t;
}

/* ---- sets ---- */

/* The index of the set defined by def (taking it), adding it if new. */
static size_t set_get(struct build *b, char *def, const struct pol_set *proto)
{
	struct def_ix key = { .def = def }, *ix;
	struct pol_model *pm = b->pm;
	void *found;

	if (!def) {
		b->err = -ENOMEM;
		return 0;
	}
	found = tfind(&key, &b->defs, def_cmp);
	if (found) {
		free(def);
		return (*(struct def_ix **)found)->ix;
	}
	if (pm->n_sets == b->cap_sets) {
		size_t cap = b->cap_sets ? b->cap_sets * 2 : 16;
		struct pol_set *grown = realloc(pm->sets, cap * sizeof(*grown));

		if (!grown)
			goto oom;
		pm->sets = grown;
		b->cap_sets = cap;
	}
	ix = malloc(sizeof(*ix));
	if (!ix)
		goto oom;
	ix->def = def;
	ix->ix = pm->n_sets;
	if (!tsearch(ix, &b->defs, def_cmp)) {
		free(ix);
		goto oom;
	}
	pm->sets[pm->n_sets] = *proto;
	pm->sets[pm->n_sets].def = def;
	pm->sets[pm->n_sets].id = 0;
	return pm->n_sets++;
oom:
	free(def);
	b->err = -ENOMEM;
	return 0;
}

/* A peer's set, and its text for the rule's description into f. */
static size_t peer_set(struct build *b, const struct k8s_object *np, const struct k8s_np_peer *p,
		       FILE *f)
{
	struct pol_set s = { .kind = POL_SET_PODS };
	char *def = NULL, *pod = NULL, *nss = NULL;
	size_t ix = 0;
	int n;

	if (p->is_block) {
		size_t len = 0;
		FILE *d = open_memstream(&def, &len);

		s.kind = POL_SET_CIDR;
		s.block = p;
		if (!d) {
			b->err = -ENOMEM;
			return 0;
		}
		fputs("cidr ", d);
		block_print(d, p);
		if (fclose(d)) {
			free(def);
			def = NULL;
		}
		block_print(f, p);
		return set_get(b, def, &s);
	}
	/* an empty podSelector and none at all pick the same pods */
	s.pod_sel = p->has_pod_sel && !selector_is_empty(&p->pod_sel) ? &p->pod_sel : NULL;
	pod = sel_text(s.pod_sel);
	if (p->has_ns_sel) {
		s.ns_sel = &p->ns_sel;
		nss = sel_text(s.ns_sel);
		n = pod && nss ? asprintf(&def, "pods nssel=%s sel=%s", nss, pod) : -1;
		fprintf(f, "pods(%s) in namespaces(%s)", pod ? pod : "?", nss ? nss : "?");
	} else {
		s.ns = np->meta.ns;
		n = pod ? asprintf(&def, "pods ns=%s sel=%s", s.ns, pod) : -1;
		fprintf(f, "pods(%s) in ns %s", pod ? pod : "?", s.ns);
	}
	ix = set_get(b, n < 0 ? NULL : def, &s);
	free(pod);
	free(nss);
	return ix;
}

/* ---- rules ---- */

static int port_push(struct pol_rule *r, size_t *cap, const struct pol_port *p)
{
	if (r->n_ports == *cap) {
		size_t c = *cap ? *cap * 2 : 4;
		struct pol_port *grown = realloc(r->ports, c * sizeof(*grown));

		if (!grown)
			return -ENOMEM;
		r->ports = grown;
		*cap = c;
	}
	r->ports[r->n_ports++] = *p;
	return 0;
}

/* One policy port for endpoint pod: numbers as they are, a named port
 * resolved on the pod itself (ingress) or made a set of every pod's ports
 * of that name (egress). */
static int rule_port(struct build *b, const struct k8s_object *pod, int dir,
		     const struct k8s_np_port *kp, struct pol_rule *r, size_t *cap, FILE *f)
{
	struct pol_port p = { .proto = kp->proto };
	char pb[8];
	const char *proto = pol_proto_name(kp->proto, pb);
	int found = 0;

	if (!*kp->name) {
		p.lo = kp->port;
		p.hi = !kp->port ? 65535 : kp->end_port ? kp->end_port : kp->port;
		if (!kp->port)
			fprintf(f, "%s/*", proto);
		else if (kp->end_port)
			fprintf(f, "%s/%u-%u", proto, kp->port, kp->end_port);
		else
			fprintf(f, "%s/%u", proto, kp->port);
		return port_push(r, cap, &p);
	}
	if (dir == TERN_POL_EGRESS) {
		struct pol_set s = { .kind = POL_SET_PORT, .port_name = kp->name, .proto = kp->proto };
		char *def = NULL;

		if (asprintf(&def, "port %s/%s", kp->name, proto) < 0)
			def = NULL;
		p.set = set_get(b, def, &s) + 1;
		fprintf(f, "%s/%s", proto, kp->name);
		return b->err ? b->err : port_push(r, cap, &p);
	}
	fprintf(f, "%s/%s(", proto, kp->name);
	for (size_t i = 0; i < pod->pod.n_ports; i++) {
		const struct k8s_container_port *cp = &pod->pod.ports[i];

		if (strcmp(cp->name, kp->name) || cp->proto != kp->proto)
			continue;
		p.lo = p.hi = cp->port;
		fprintf(f, "%s%u", found++ ? "," : "=", cp->port);
		if (port_push(r, cap, &p))
			return -ENOMEM;
	}
	fputs(found ? ")" : "not on this pod)", f);
	return 0;
}

static int rule_build(struct build *b, const struct k8s_object *pod, const struct k8s_object *np,
		      int dir, size_t i, struct pol_rule *r)
{
	static const char *const dirs[2] = { "ingress", "egress" };
	static const char *const towards[2] = { "from", "to" };
	const struct k8s_np_rule *kr = &np->np.rules[dir][i];
	size_t len = 0, cap = 0;
	FILE *f = open_memstream(&r->desc, &len);
	int err = 0;

	if (!f)
		return -ENOMEM;
	fprintf(f, "%s/%s %s[%zu]: %s ", np->meta.ns, np->meta.name, dirs[dir], i, towards[dir]);
	if (!kr->n_peers)
		fputs("anywhere", f);
	if (kr->n_peers) {
		r->peers = calloc(kr->n_peers, sizeof(*r->peers));
		r->peer_ids = calloc(kr->n_peers, sizeof(*r->peer_ids));
		if (!r->peers || !r->peer_ids)
			err = -ENOMEM;
	}
	for (size_t j = 0; j < kr->n_peers && !err; j++) {
		if (j)
			fputs(", ", f);
		r->peers[j] = peer_set(b, np, &kr->peers[j], f);
		r->n_peers++;
		err = b->err;
	}
	fputs(kr->n_ports ? "; ports " : "; any port", f);
	for (size_t j = 0; j < kr->n_ports && !err; j++) {
		if (j)
			fputs(", ", f);
		err = rule_port(b, pod, dir, &kr->ports[j], r, &cap, f);
	}
	/* ports were asked for and none exist on this pod */
	r->never = kr->n_ports && !r->n_ports;
	if (fclose(f) && !err)
		err = -ENOMEM;
	return err;
}

static int dir_push(struct pol_dir *d, size_t *cap, struct pol_rule **out)
{
	if (d->n_rules == *cap) {
		size_t c = *cap ? *cap * 2 : 8;
		struct pol_rule *grown = realloc(d->rules, c * sizeof(*grown));

		if (!grown)
			return -ENOMEM;
		d->rules = grown;
		*cap = c;
	}
	*out = &d->rules[d->n_rules++];
	memset(*out, 0, sizeof(**out));
	return 0;
}

/* The node's own rule, first in every isolated ingress. */
static int node_rule(struct build *b, struct pol_dir *d, size_t *cap)
{
	struct pol_set s = { .kind = POL_SET_NODE, .node = b->node };
	struct pol_rule *r;
	char *def = NULL;

	if (dir_push(d, cap, &r))
		return -ENOMEM;
	/* move it to the front */
	memmove(&d->rules[1], &d->rules[0], (d->n_rules - 1) * sizeof(*r));
	r = &d->rules[0];
	memset(r, 0, sizeof(*r));
	r->peers = calloc(1, sizeof(*r->peers));
	r->peer_ids = calloc(1, sizeof(*r->peer_ids));
	if (asprintf(&def, "node %s", b->node) < 0)
		def = NULL;
	if (asprintf(&r->desc, "node %s: the node's addresses (forwarded); any port",
		     b->node) < 0)
		r->desc = NULL;
	if (!r->peers || !r->peer_ids || !r->desc) {
		free(def);
		return -ENOMEM;
	}
	r->peers[0] = set_get(b, def, &s);
	r->n_peers = 1;
	return b->err;
}

static int ep_build(struct build *b, const struct k8s_object *const *nps, size_t n_np,
		    struct pol_ep *ep)
{
	const struct k8s_object *pod = ep->pod;
	size_t cap[2] = { 0, 0 };
	int err = 0;

	for (size_t i = 0; i < n_np && !err; i++) {
		const struct k8s_object *np = nps[i];

		if (strcmp(np->meta.ns, pod->meta.ns) ||
		    !selector_matches(&np->np.pod_sel, &pod->meta.labels))
			continue;
		for (int dir = 0; dir < 2 && !err; dir++) {
			if (!np->np.types[dir])
				continue;
			ep->dir[dir].isolated = 1;
			for (size_t j = 0; j < np->np.n_rules[dir] && !err; j++) {
				struct pol_rule *r;

				err = dir_push(&ep->dir[dir], &cap[dir], &r);
				if (!err)
					err = rule_build(b, pod, np, dir, j, r);
			}
		}
	}
	if (!err && ep->dir[TERN_POL_INGRESS].isolated)
		err = node_rule(b, &ep->dir[TERN_POL_INGRESS], &cap[TERN_POL_INGRESS]);
	return err;
}

static void def_ix_free(void *p)
{
	free(p); /* the string belongs to its set */
}

int pol_model_build(const struct model *m, const char *node, const struct pol_ep_in *eps,
		    size_t n, struct pol_model *out)
{
	const struct k8s_object *const *nps;
	size_t n_np = model_list(m, K8S_NETWORKPOLICY, &nps);
	struct build b = { .m = m, .node = node, .pm = out };
	int err = 0;

	memset(out, 0, sizeof(*out));
	out->eps = calloc(n ? n : 1, sizeof(*out->eps));
	if (!out->eps)
		return -ENOMEM;
	for (size_t i = 0; i < n && !err; i++) {
		out->eps[i].ep_id = eps[i].ep_id;
		out->eps[i].pod = eps[i].pod;
		out->n_eps++;
		err = ep_build(&b, nps, n_np, &out->eps[i]);
	}
	tdestroy(b.defs, def_ix_free);
	if (err)
		pol_model_free(out);
	return err;
}

void pol_model_resolve(struct pol_model *pm)
{
	for (size_t i = 0; i < pm->n_eps; i++) {
		for (int dir = 0; dir < 2; dir++) {
			struct pol_dir *d = &pm->eps[i].dir[dir];

			for (size_t j = 0; j < d->n_rules; j++) {
				struct pol_rule *r = &d->rules[j];

				for (size_t k = 0; k < r->n_peers; k++)
					r->peer_ids[k] = pm->sets[r->peers[k]].id;
				for (size_t k = 0; k < r->n_ports; k++)
					if (r->ports[k].set)
						r->ports[k].set_id = pm->sets[r->ports[k].set - 1].id;
			}
		}
	}
}

void pol_model_free(struct pol_model *pm)
{
	for (size_t i = 0; i < pm->n_eps; i++) {
		for (int dir = 0; dir < 2; dir++) {
			struct pol_dir *d = &pm->eps[i].dir[dir];

			for (size_t j = 0; j < d->n_rules; j++) {
				free(d->rules[j].desc);
				free(d->rules[j].peers);
				free(d->rules[j].peer_ids);
				free(d->rules[j].ports);
			}
			free(d->rules);
		}
	}
	free(pm->eps);
	for (size_t i = 0; i < pm->n_sets; i++)
		free(pm->sets[i].def);
	free(pm->sets);
	memset(pm, 0, sizeof(*pm));
}
