/* networking.k8s.io/v1 NetworkPolicy decoded and validated as the API
 * server's ValidateNetworkPolicy does: label selectors, ipBlocks, ports,
 * policyTypes and their defaults; every error names its field path. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/k8s_dec.h"

#define PATH_LEN 192

/* Field paths: base + suffix (or base[i]), cut short rather than overflowing. */
static void sub_path2(char out[PATH_LEN], const char *base, const char *sep, const char *key)
{
	size_t n = strnlen(base, PATH_LEN - 1), m;

	memcpy(out, base, n);
	m = strnlen(sep, PATH_LEN - 1 - n);
	memcpy(out + n, sep, m);
	n += m;
	m = strnlen(key, PATH_LEN - 1 - n);
	memcpy(out + n, key, m);
	out[n + m] = '\0';
}

static void sub_path(char out[PATH_LEN], const char *base, const char *suffix)
{
	sub_path2(out, base, "", suffix);
}

static void sub_index(char out[PATH_LEN], const char *base, size_t i)
{
	char idx[24];

	snprintf(idx, sizeof(idx), "[%zu]", i);
	sub_path2(out, base, "", idx);
}

static const struct {
	const char *name;
	enum k8s_sel_op op;
} sel_ops[] = {
	{ "In", K8S_SEL_IN },
	{ "NotIn", K8S_SEL_NOT_IN },
	{ "Exists", K8S_SEL_EXISTS },
	{ "DoesNotExist", K8S_SEL_DOES_NOT_EXIST },
};

static const struct {
	const char *name;
	uint8_t proto;
} protos[] = {
	{ "TCP", IPPROTO_TCP },
	{ "UDP", IPPROTO_UDP },
	{ "SCTP", IPPROTO_SCTP },
};

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ---- label selectors ---- */

static int decode_match_labels(struct dec *d, const struct doc_node *map, const char *path,
			       struct k8s_labels *l)
{
	size_t *order;
	int ret = 0;

	if (!map || !map->n)
		return 0;
	order = calloc(map->n, sizeof(*order));
	l->keys = calloc(map->n, sizeof(*l->keys));
	l->vals = calloc(map->n, sizeof(*l->vals));
	if (!order || !l->keys || !l->vals) {
		free(order);
		return dec_oom(d);
	}
	for (size_t i = 0; i < map->n && !ret; i++) {
		const struct doc_node *v = map->items[i];
		const char *key = map->keys[i], *why;

		if ((why = check_label_key(key))) {
			/* at the key itself when the parser kept where it is */
			struct doc_node at = *v;

			if (map->key_pos) {
				at.line = map->key_pos[i].line;
				at.col = map->key_pos[i].col;
			}
			ret = dec_fail(d, &at, "%s: key \"%s\" %s", path, key, why);
		}
		else if (v->type != DOC_SCALAR && v->type != DOC_NULL)
			ret = dec_fail(d, v, "%s.%s: must be a string", path, key);
		else if ((why = check_label_value(v->type == DOC_SCALAR ? v->str : "")))
			ret = dec_fail(d, v, "%s.%s: \"%s\" %s", path, key, v->str, why);
		for (size_t j = 0; j < i && !ret; j++)
			if (strcmp(map->keys[j], key) == 0)
				ret = dec_fail(d, v, "%s: duplicate key \"%s\"", path, key);
	}
	/* sorted by key, as metadata.labels: k8s_labels_get searches it */
	for (size_t i = 0; i < map->n && !ret; i++) {
		size_t at = l->n;

		while (at > 0 && strcmp(map->keys[order[at - 1]], map->keys[i]) > 0) {
			order[at] = order[at - 1];
			at--;
		}
		order[at] = i;
		l->n++;
	}
	for (size_t i = 0; i < l->n && !ret; i++) {
		const struct doc_node *v = map->items[order[i]];

		l->keys[i] = strdup(map->keys[order[i]]);
		l->vals[i] = strdup(v->type == DOC_SCALAR ? v->str : "");
		if (!l->keys[i] || !l->vals[i])
			ret = dec_oom(d);
	}
	free(order);
	return ret;
}

static int decode_expr_values(struct dec *d, const struct doc_node *seq, const char *path,
			      struct k8s_sel_expr *e)
{
	const char *why;

	if (!seq || !seq->n)
		return 0;
	e->values = calloc(seq->n, sizeof(*e->values));
	if (!e->values)
		return dec_oom(d);
	for (size_t i = 0; i < seq->n; i++) {
		const struct doc_node *v = seq->items[i];

		if (v->type != DOC_SCALAR)
			return dec_fail(d, v, "%s[%zu]: must be a string", path, i);
		if ((why = check_label_value(v->str)))
			return dec_fail(d, v, "%s[%zu]: \"%s\" %s", path, i, v->str, why);
		e->values[e->n_values] = strdup(v->str);
		if (!e->values[e->n_values])
			return dec_oom(d);
		e->n_values++;
	}
	/* a set: sorted, duplicates dropped */
	qsort(e->values, e->n_values, sizeof(*e->values), str_cmp);
	size_t n = 0;

	for (size_t i = 0; i < e->n_values; i++) {
		if (n && strcmp(e->values[n - 1], e->values[i]) == 0)
			free(e->values[i]);
		else
			e->values[n++] = e->values[i];
	}
	e->n_values = n;
	return 0;
}

static int decode_expr(struct dec *d, const struct doc_node *n, const char *path,
		       struct k8s_sel_expr *e)
{
	const struct doc_node *key, *op, *vals;
	char p_key[PATH_LEN], p_op[PATH_LEN], p_vals[PATH_LEN];
	const char *why;
	size_t i;
	int ret;

	sub_path(p_key, path, ".key");
	sub_path(p_op, path, ".operator");
	sub_path(p_vals, path, ".values");
	if ((ret = dec_child(d, n, "key", p_key, DOC_SCALAR, &key)) ||
	    (ret = dec_child(d, n, "operator", p_op, DOC_SCALAR, &op)) ||
	    (ret = dec_child(d, n, "values", p_vals, DOC_SEQ, &vals)))
		return ret;
	if (!key)
		return dec_fail(d, n, "%s: missing", p_key);
	if ((why = check_label_key(key->str)))
		return dec_fail(d, key, "%s: \"%s\" %s", p_key, key->str, why);
	if (!op)
		return dec_fail(d, n, "%s: missing", p_op);
	for (i = 0; i < sizeof(sel_ops) / sizeof(sel_ops[0]); i++)
		if (strcmp(op->str, sel_ops[i].name) == 0)
			break;
	if (i == sizeof(sel_ops) / sizeof(sel_ops[0]))
		return dec_fail(d, op, "%s: \"%s\" is not In, NotIn, Exists or DoesNotExist", p_op,
				op->str);
	e->op = sel_ops[i].op;
	e->key = strdup(key->str);
	if (!e->key)
		return dec_oom(d);
	if ((ret = decode_expr_values(d, vals, p_vals, e)))
		return ret;
	if ((e->op == K8S_SEL_IN || e->op == K8S_SEL_NOT_IN) && !e->n_values)
		return dec_fail(d, vals ? vals : n, "%s: must be non-empty for operator %s", p_vals,
				op->str);
	if ((e->op == K8S_SEL_EXISTS || e->op == K8S_SEL_DOES_NOT_EXIST) && e->n_values)
		return dec_fail(d, vals, "%s: must be empty for operator %s", p_vals, op->str);
	return 0;
}

/* A selector at map n (may be an empty map). */
static int decode_selector(struct dec *d, const struct doc_node *n, const char *path,
			   struct k8s_selector *s)
{
	const struct doc_node *ml, *me;
	char p_ml[PATH_LEN], p_me[PATH_LEN], p_item[PATH_LEN];
	int ret;

	sub_path(p_ml, path, ".matchLabels");
	sub_path(p_me, path, ".matchExpressions");
	if ((ret = dec_child(d, n, "matchLabels", p_ml, DOC_MAP, &ml)) ||
	    (ret = dec_child(d, n, "matchExpressions", p_me, DOC_SEQ, &me)) ||
	    (ret = decode_match_labels(d, ml, p_ml, &s->match)))
		return ret;
	if (!me || !me->n)
		return 0;
	s->exprs = calloc(me->n, sizeof(*s->exprs));
	if (!s->exprs)
		return dec_oom(d);
	for (size_t i = 0; i < me->n; i++) {
		if ((ret = dec_item_map(d, me, i, p_me)))
			return ret;
		sub_index(p_item, p_me, i);
		s->n_exprs++;
		if ((ret = decode_expr(d, me->items[i], p_item, &s->exprs[i])))
			return ret;
	}
	return 0;
}

/* ---- ipBlock ---- */

static void cidr_mask(struct k8s_cidr *c)
{
	for (int i = 0; i < 16; i++) {
		int keep = c->bits - i * 8;

		if (keep <= 0)
			c->addr.b[i] = 0;
		else if (keep < 8)
			c->addr.b[i] &= (uint8_t)(0xff << (8 - keep));
	}
}

/* "10.0.0.0/8", "fd00::/64"; host bits are cleared (the API server parses
 * CIDRs sloppily and so accepts them). 0 or -EINVAL. */
static int cidr_parse(const char *s, struct k8s_cidr *c)
{
	const char *slash = strchr(s, '/');
	char addr[INET6_ADDRSTRLEN];
	size_t digits;
	unsigned len;

	if (!slash || (size_t)(slash - s) >= sizeof(addr))
		return -EINVAL;
	memcpy(addr, s, slash - s);
	addr[slash - s] = '\0';
	if (tern_addr_parse(addr, &c->addr))
		return -EINVAL;
	digits = strlen(slash + 1);
	if (!digits || digits > 3 || strspn(slash + 1, "0123456789") != digits)
		return -EINVAL;
	len = (unsigned)atoi(slash + 1);
	c->v4 = !strchr(addr, ':');
	if (len > (c->v4 ? 32u : 128u))
		return -EINVAL;
	c->bits = (uint8_t)(c->v4 ? 96 + len : len);
	cidr_mask(c);
	return 0;
}

/* inner lies within outer and is longer */
static int cidr_strictly_inside(const struct k8s_cidr *inner, const struct k8s_cidr *outer)
{
	struct k8s_cidr cut = *inner;

	if (inner->v4 != outer->v4 || inner->bits <= outer->bits)
		return 0;
	cut.bits = outer->bits;
	cidr_mask(&cut);
	return memcmp(&cut.addr, &outer->addr, sizeof(cut.addr)) == 0;
}

static int decode_cidr(struct dec *d, const struct doc_node *n, const char *path,
		       struct k8s_cidr *c)
{
	if (n->type != DOC_SCALAR)
		return dec_fail(d, n, "%s: must be a string", path);
	if (cidr_parse(n->str, c))
		return dec_fail(d, n, "%s: \"%s\" is not a valid CIDR", path, n->str);
	return 0;
}

static int decode_ip_block(struct dec *d, const struct doc_node *n, const char *path,
			   struct k8s_np_peer *p)
{
	const struct doc_node *cidr, *except;
	char p_cidr[PATH_LEN], p_ex[PATH_LEN], p_item[PATH_LEN];
	int ret;

	sub_path(p_cidr, path, ".cidr");
	sub_path(p_ex, path, ".except");
	if ((ret = dec_child(d, n, "cidr", p_cidr, DOC_SCALAR, &cidr)) ||
	    (ret = dec_child(d, n, "except", p_ex, DOC_SEQ, &except)))
		return ret;
	if (!cidr || !*cidr->str)
		return dec_fail(d, cidr ? cidr : n, "%s: missing", p_cidr);
	if ((ret = decode_cidr(d, cidr, p_cidr, &p->cidr)))
		return ret;
	p->is_block = 1;
	if (!except || !except->n)
		return 0;
	p->except = calloc(except->n, sizeof(*p->except));
	if (!p->except)
		return dec_oom(d);
	for (size_t i = 0; i < except->n; i++) {
		const struct doc_node *e = except->items[i];

		sub_index(p_item, p_ex, i);
		if ((ret = decode_cidr(d, e, p_item, &p->except[i])))
			return ret;
		if (!cidr_strictly_inside(&p->except[i], &p->cidr))
			return dec_fail(d, e, "%s: \"%s\" must be a strict subset of cidr \"%s\"",
					p_item, e->str, cidr->str);
		p->n_except++;
	}
	return 0;
}

/* ---- peers, ports, rules ---- */

static int decode_peer(struct dec *d, const struct doc_node *n, const char *path,
		       struct k8s_np_peer *p)
{
	const struct doc_node *pod, *ns, *block;
	char p_pod[PATH_LEN], p_ns[PATH_LEN], p_block[PATH_LEN];
	int ret;

	sub_path(p_pod, path, ".podSelector");
	sub_path(p_ns, path, ".namespaceSelector");
	sub_path(p_block, path, ".ipBlock");
	if ((ret = dec_child(d, n, "podSelector", p_pod, DOC_MAP, &pod)) ||
	    (ret = dec_child(d, n, "namespaceSelector", p_ns, DOC_MAP, &ns)) ||
	    (ret = dec_child(d, n, "ipBlock", p_block, DOC_MAP, &block)))
		return ret;
	if (!pod && !ns && !block)
		return dec_fail(d, n, "%s: must specify a peer (podSelector, namespaceSelector "
				"or ipBlock)", path);
	if (block && (pod || ns))
		return dec_fail(d, block, "%s: may not specify more than 1 peer type (ipBlock "
				"with a selector)", path);
	if (block)
		return decode_ip_block(d, block, p_block, p);
	p->has_pod_sel = pod != NULL;
	p->has_ns_sel = ns != NULL;
	if (pod && (ret = decode_selector(d, pod, p_pod, &p->pod_sel)))
		return ret;
	if (ns && (ret = decode_selector(d, ns, p_ns, &p->ns_sel)))
		return ret;
	return 0;
}

static int decode_port(struct dec *d, const struct doc_node *n, const char *path,
		       struct k8s_np_port *pt)
{
	const struct doc_node *proto, *port, *end;
	char p_proto[PATH_LEN], p_port[PATH_LEN], p_end[PATH_LEN];
	const char *why = NULL;
	int64_t v;
	size_t i;
	int ret;

	sub_path(p_proto, path, ".protocol");
	sub_path(p_port, path, ".port");
	sub_path(p_end, path, ".endPort");
	if ((ret = dec_child(d, n, "protocol", p_proto, DOC_SCALAR, &proto)) ||
	    (ret = dec_child(d, n, "port", p_port, DOC_SCALAR, &port)) ||
	    (ret = dec_child(d, n, "endPort", p_end, DOC_SCALAR, &end)))
		return ret;
	pt->proto = IPPROTO_TCP;
	if (proto) {
		for (i = 0; i < sizeof(protos) / sizeof(protos[0]); i++)
			if (strcmp(proto->str, protos[i].name) == 0)
				break;
		if (i == sizeof(protos) / sizeof(protos[0]))
			return dec_fail(d, proto, "%s: \"%s\" is not TCP, UDP or SCTP", p_proto,
					proto->str);
		pt->proto = protos[i].proto;
	}
	/* an int is a number; anything else a name (as IntOrString) */
	if (port && doc_int(port, INT32_MIN, INT32_MAX, &v) == 0) {
		if (v < 1 || v > 65535)
			return dec_fail(d, port, "%s: %s must be between 1 and 65535", p_port,
					port->str);
		pt->port = (uint16_t)v;
	} else if (port) {
		if (!*port->str || (why = check_port_name(port->str)))
			return dec_fail(d, port, "%s: \"%s\" %s", p_port, port->str,
					*port->str ? why : "is not a port number or name");
	}
	pt->name = strdup(port && !pt->port ? port->str : "");
	if (!pt->name)
		return dec_oom(d);
	if (!end)
		return 0;
	if (doc_int(end, 1, 65535, &v))
		return dec_fail(d, end, "%s: \"%s\" is not a port number (1-65535)", p_end,
				end->str);
	if (!port)
		return dec_fail(d, end, "%s: may not be given without port", p_end);
	if (!pt->port)
		return dec_fail(d, end, "%s: may not be given with a named port", p_end);
	if (v < pt->port)
		return dec_fail(d, end, "%s: %s must be greater than or equal to port (%u)", p_end,
				end->str, pt->port);
	pt->end_port = (uint16_t)v;
	return 0;
}

/* One ingress (peers_key "from") or egress ("to") rule. */
static int decode_rule(struct dec *d, const struct doc_node *n, const char *path,
		       const char *peers_key, struct k8s_np_rule *r)
{
	const struct doc_node *peers, *ports;
	char p_peers[PATH_LEN], p_ports[PATH_LEN], p_item[PATH_LEN];
	int ret;

	sub_path2(p_peers, path, ".", peers_key);
	sub_path(p_ports, path, ".ports");
	if ((ret = dec_child(d, n, peers_key, p_peers, DOC_SEQ, &peers)) ||
	    (ret = dec_child(d, n, "ports", p_ports, DOC_SEQ, &ports)))
		return ret;
	if (peers && peers->n) {
		r->peers = calloc(peers->n, sizeof(*r->peers));
		if (!r->peers)
			return dec_oom(d);
		for (size_t i = 0; i < peers->n; i++) {
			if ((ret = dec_item_map(d, peers, i, p_peers)))
				return ret;
			sub_index(p_item, p_peers, i);
			r->n_peers++;
			if ((ret = decode_peer(d, peers->items[i], p_item, &r->peers[i])))
				return ret;
		}
	}
	if (ports && ports->n) {
		r->ports = calloc(ports->n, sizeof(*r->ports));
		if (!r->ports)
			return dec_oom(d);
		for (size_t i = 0; i < ports->n; i++) {
			if ((ret = dec_item_map(d, ports, i, p_ports)))
				return ret;
			sub_index(p_item, p_ports, i);
			r->n_ports++;
			if ((ret = decode_port(d, ports->items[i], p_item, &r->ports[i])))
				return ret;
		}
	}
	return 0;
}

static int decode_rules(struct dec *d, const struct doc_node *spec, int dir,
			struct k8s_networkpolicy *np)
{
	static const char *const keys[2] = { "ingress", "egress" };
	static const char *const peer_keys[2] = { "from", "to" };
	const struct doc_node *seq;
	char path[PATH_LEN], p_item[PATH_LEN];
	int ret;

	snprintf(path, sizeof(path), "spec.%s", keys[dir]);
	if ((ret = dec_child(d, spec, keys[dir], path, DOC_SEQ, &seq)) || !seq || !seq->n)
		return ret;
	np->rules[dir] = calloc(seq->n, sizeof(*np->rules[dir]));
	if (!np->rules[dir])
		return dec_oom(d);
	for (size_t i = 0; i < seq->n; i++) {
		if ((ret = dec_item_map(d, seq, i, path)))
			return ret;
		sub_index(p_item, path, i);
		np->n_rules[dir]++;
		if ((ret = decode_rule(d, seq->items[i], p_item, peer_keys[dir],
				       &np->rules[dir][i])))
			return ret;
	}
	return 0;
}

/* policyTypes; absent or empty: Ingress, plus Egress when there are
 * egress rules (the API server's defaulting). */
static int decode_types(struct dec *d, const struct doc_node *spec, struct k8s_networkpolicy *np)
{
	const struct doc_node *seq;
	int ret;

	if ((ret = dec_child(d, spec, "policyTypes", "spec.policyTypes", DOC_SEQ, &seq)))
		return ret;
	if (!seq || !seq->n) {
		np->types[K8S_NP_INGRESS] = 1;
		np->types[K8S_NP_EGRESS] = np->n_rules[K8S_NP_EGRESS] > 0;
		return 0;
	}
	if (seq->n > 2)
		return dec_fail(d, seq, "spec.policyTypes: may not specify more than two "
				"policyTypes");
	for (size_t i = 0; i < seq->n; i++) {
		const struct doc_node *t = seq->items[i];

		if (t->type == DOC_SCALAR && strcmp(t->str, "Ingress") == 0)
			np->types[K8S_NP_INGRESS] = 1;
		else if (t->type == DOC_SCALAR && strcmp(t->str, "Egress") == 0)
			np->types[K8S_NP_EGRESS] = 1;
		else
			return dec_fail(d, t, "spec.policyTypes[%zu]: \"%s\" is not Ingress or Egress",
					i, t->type == DOC_SCALAR ? t->str : "");
	}
	return 0;
}

int k8s_netpol_decode(struct dec *d, const struct doc_node *doc, struct k8s_object *o)
{
	struct k8s_networkpolicy *np = &o->np;
	const struct doc_node *spec, *pod;
	int ret;

	if ((ret = dec_child(d, doc, "spec", "spec", DOC_MAP, &spec)))
		return ret;
	if (!spec)
		return dec_fail(d, doc, "spec: missing");
	/* a required field, but a struct in Go: absent reads as {} */
	if ((ret = dec_child(d, spec, "podSelector", "spec.podSelector", DOC_MAP, &pod)) ||
	    (pod && (ret = decode_selector(d, pod, "spec.podSelector", &np->pod_sel))) ||
	    (ret = decode_rules(d, spec, K8S_NP_INGRESS, np)) ||
	    (ret = decode_rules(d, spec, K8S_NP_EGRESS, np)))
		return ret;
	return decode_types(d, spec, np);
}

/* ---- equality ---- */

static int selector_same(const struct k8s_selector *a, const struct k8s_selector *b)
{
	if (!k8s_labels_equal(&a->match, &b->match) || a->n_exprs != b->n_exprs)
		return 0;
	for (size_t i = 0; i < a->n_exprs; i++) {
		const struct k8s_sel_expr *x = &a->exprs[i], *y = &b->exprs[i];

		if (strcmp(x->key, y->key) || x->op != y->op || x->n_values != y->n_values)
			return 0;
		for (size_t j = 0; j < x->n_values; j++)
			if (strcmp(x->values[j], y->values[j]))
				return 0;
	}
	return 1;
}

static int cidr_same(const struct k8s_cidr *a, const struct k8s_cidr *b)
{
	return a->bits == b->bits && a->v4 == b->v4 && !memcmp(&a->addr, &b->addr, sizeof(a->addr));
}

static int peer_same(const struct k8s_np_peer *a, const struct k8s_np_peer *b)
{
	if (a->is_block != b->is_block || a->has_pod_sel != b->has_pod_sel ||
	    a->has_ns_sel != b->has_ns_sel || a->n_except != b->n_except)
		return 0;
	if (a->is_block) {
		if (!cidr_same(&a->cidr, &b->cidr))
			return 0;
		for (size_t i = 0; i < a->n_except; i++)
			if (!cidr_same(&a->except[i], &b->except[i]))
				return 0;
		return 1;
	}
	return selector_same(&a->pod_sel, &b->pod_sel) && selector_same(&a->ns_sel, &b->ns_sel);
}

static int rule_same(const struct k8s_np_rule *a, const struct k8s_np_rule *b)
{
	if (a->n_peers != b->n_peers || a->n_ports != b->n_ports)
		return 0;
	for (size_t i = 0; i < a->n_peers; i++)
		if (!peer_same(&a->peers[i], &b->peers[i]))
			return 0;
	for (size_t i = 0; i < a->n_ports; i++) {
		const struct k8s_np_port *x = &a->ports[i], *y = &b->ports[i];

		if (x->proto != y->proto || x->port != y->port || x->end_port != y->end_port ||
		    strcmp(x->name, y->name))
			return 0;
	}
	return 1;
}

int k8s_netpol_equal(const struct k8s_networkpolicy *a, const struct k8s_networkpolicy *b)
{
	if (!selector_same(&a->pod_sel, &b->pod_sel))
		return 0;
	for (int dir = 0; dir < 2; dir++) {
		if (a->types[dir] != b->types[dir] || a->n_rules[dir] != b->n_rules[dir])
			return 0;
		for (size_t i = 0; i < a->n_rules[dir]; i++)
			if (!rule_same(&a->rules[dir][i], &b->rules[dir][i]))
				return 0;
	}
	return 1;
}

/* ---- free ---- */

static void selector_free(struct k8s_selector *s)
{
	for (size_t i = 0; i < s->match.n; i++) {
		free(s->match.keys[i]);
		free(s->match.vals[i]);
	}
	free(s->match.keys);
	free(s->match.vals);
	for (size_t i = 0; i < s->n_exprs; i++) {
		free(s->exprs[i].key);
		for (size_t j = 0; j < s->exprs[i].n_values; j++)
			free(s->exprs[i].values[j]);
		free(s->exprs[i].values);
	}
	free(s->exprs);
}

void k8s_netpol_free(struct k8s_networkpolicy *np)
{
	selector_free(&np->pod_sel);
	for (int dir = 0; dir < 2; dir++) {
		for (size_t i = 0; i < np->n_rules[dir]; i++) {
			struct k8s_np_rule *r = &np->rules[dir][i];

			for (size_t j = 0; j < r->n_peers; j++) {
				selector_free(&r->peers[j].pod_sel);
				selector_free(&r->peers[j].ns_sel);
				free(r->peers[j].except);
			}
			free(r->peers);
			for (size_t j = 0; j < r->n_ports; j++)
				free(r->ports[j].name);
			free(r->ports);
		}
		free(np->rules[dir]);
	}
}
