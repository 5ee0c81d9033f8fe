/* Kubernetes manifests (doc trees) decoded into k8s_objects: only the fields
 * tern needs, validated by the API server's rules, each error naming the
 * object, the field path and the line/col it came from. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/k8s.h"
#include "agent/k8s_dec.h"

/* Which rule an object's metadata.name follows (per kind, as the API
 * server's ValidateXName functions do). */
enum name_rule {
	NAME_SUBDOMAIN, /* DNS-1123 subdomain: Pod, Node, EndpointSlice, ... */
	NAME_LABEL,     /* DNS-1123 label: Namespace */
	NAME_1035,      /* DNS-1035 label: Service */
};

struct kind_info {
	const char *kind;
	const char *api_version;
	int namespaced;
	enum name_rule name_rule;
	int (*decode)(struct dec *d, const struct doc_node *doc, struct k8s_object *o);
};

/* ---- errors ---- */

/* Fill the error, "Kind ns/name: " + fmt, at node at; returns -EINVAL. */
int dec_fail(struct dec *d, const struct doc_node *at, const char *fmt, ...)
{
	char *msg = d->err->msg;
	size_t len = sizeof(d->err->msg), off = 0;
	va_list ap;

	if (d->kind && d->name)
		off = snprintf(msg, len, "%s %s%s%s: ", d->kind, d->ns, *d->ns ? "/" : "",
			       d->name);
	else if (d->kind)
		off = snprintf(msg, len, "%s: ", d->kind);
	if (off >= len)
		off = len - 1;
	va_start(ap, fmt);
	vsnprintf(msg + off, len - off, fmt, ap);
	va_end(ap);
	d->err->line = at ? at->line : 0;
	d->err->col = at ? at->col : 0;
	return -EINVAL;
}

int dec_oom(struct dec *d)
{
	snprintf(d->err->msg, sizeof(d->err->msg), "out of memory");
	d->err->line = d->err->col = 0;
	return -ENOMEM;
}

/* ---- typed access: absent and null both mean "not given" ---- */

static const char *type_name(enum doc_type t)
{
	switch (t) {
	case DOC_MAP:
		return "a map";
	case DOC_SEQ:
		return "a list";
	default:
		return "a scalar";
	}
}

/* map[key] if it is of type want; *out NULL when absent or null. */
int dec_child(struct dec *d, const struct doc_node *map, const char *key, const char *path,
	      enum doc_type want, const struct doc_node **out)
{
	const struct doc_node *n = map ? doc_get(map, key) : NULL;

	*out = NULL;
	if (!n || n->type == DOC_NULL)
		return 0;
	if (n->type != want)
		return dec_fail(d, n, "%s: must be %s", path, type_name(want));
	*out = n;
	return 0;
}

/* An item of a sequence that must be a map. */
int dec_item_map(struct dec *d, const struct doc_node *seq, size_t i, const char *path)
{
	const struct doc_node *n = seq->items[i];

	if (n->type != DOC_MAP)
		return dec_fail(d, n, "%s[%zu]: must be a map", path, i);
	return 0;
}

static char *dup_str(const char *s)
{
	return strdup(s ? s : "");
}

/* ---- name and label rules (k8s.io/apimachinery validation) ---- */

static int is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static int is_alnum(char c)
{
	return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

/* [a-z0-9]([-a-z0-9]*[a-z0-9])? */
static int dns_label_ok(const char *s, size_t len)
{
	if (!len || !is_lower_alnum(s[0]) || !is_lower_alnum(s[len - 1]))
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!is_lower_alnum(s[i]) && s[i] != '-')
			return 0;
	return 1;
}

/* Labels joined by '.'; like the API server, no per-label length limit. */
static int dns_subdomain_ok(const char *s, size_t len)
{
	const char *end = s + len;

	for (;;) {
		const char *dot = memchr(s, '.', end - s);
		size_t part = dot ? (size_t)(dot - s) : (size_t)(end - s);

		if (!dns_label_ok(s, part))
			return 0;
		if (!dot)
			return 1;
		s = dot + 1;
	}
}

/* Each check returns NULL when s is valid, else why not (to follow s). */
const char *check_dns_label(const char *s)
{
	if (strlen(s) > 63)
		return "is longer than 63 characters";
	if (!dns_label_ok(s, strlen(s)))
		return "is not a valid DNS-1123 label (lowercase letters, digits and '-', "
		       "starting and ending with a letter or digit)";
	return NULL;
}

const char *check_dns_subdomain(const char *s)
{
	if (strlen(s) > 253)
		return "is longer than 253 characters";
	if (!dns_subdomain_ok(s, strlen(s)))
		return "is not a valid DNS-1123 subdomain (lowercase letters, digits, '-' and "
		       "'.', starting and ending with a letter or digit)";
	return NULL;
}

static const char *check_dns1035_label(const char *s)
{
	if (strlen(s) > 63)
		return "is longer than 63 characters";
	if (!dns_label_ok(s, strlen(s)) || !(s[0] >= 'a' && s[0] <= 'z'))
		return "is not a valid DNS-1035 label (lowercase letters, digits and '-', "
		       "starting with a letter and ending with a letter or digit)";
	return NULL;
}

static const char *check_name(enum name_rule rule, const char *s)
{
	switch (rule) {
	case NAME_LABEL:
		return check_dns_label(s);
	case NAME_1035:
		return check_dns1035_label(s);
	default:
		return check_dns_subdomain(s);
	}
}

/* A label name or value: ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9] */
static int label_name_ok(const char *s, size_t len)
{
	if (!len || !is_alnum(s[0]) || !is_alnum(s[len - 1]))
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
			return 0;
	return 1;
}

/* A qualified name: [DNS-1123 subdomain '/'] name. */
const char *check_label_key(const char *s)
{
	const char *slash = strchr(s, '/');
	const char *name = slash ? slash + 1 : s;

	if (slash) {
		size_t plen = slash - s;

		if (plen > 253)
			return "has a prefix longer than 253 characters";
		if (!dns_subdomain_ok(s, plen))
			return "has a prefix that is not a valid DNS-1123 subdomain";
	}
	if (!*name)
		return "has an empty name";
	if (strlen(name) > 63)
		return "has a name longer than 63 characters";
	if (!label_name_ok(name, strlen(name)))
		return "is not a valid label key (an optional DNS subdomain and '/', then "
		       "letters, digits, '-', '_' and '.', starting and ending with a "
		       "letter or digit)";
	return NULL;
}

const char *check_label_value(const char *s)
{
	if (!*s)
		return NULL;
	if (strlen(s) > 63)
		return "is longer than 63 characters";
	if (!label_name_ok(s, strlen(s)))
		return "is not a valid label value (letters, digits, '-', '_' and '.', "
		       "starting and ending with a letter or digit)";
	return NULL;
}

/* IANA_SVC_NAME: 1-15 of [a-z0-9-], a letter somewhere, no leading,
 * trailing or doubled '-'. "" means unnamed. */
const char *check_port_name(const char *s)
{
	static const char bad[] = "is not a valid port name (IANA_SVC_NAME: lowercase letters, "
				  "digits and '-', at least one letter, no leading, trailing or "
				  "double '-')";
	size_t len = strlen(s);
	int letter = 0;

	if (!len)
		return NULL;
	if (len > 15)
		return "is longer than 15 characters";
	if (s[0] == '-' || s[len - 1] == '-' || strstr(s, "--"))
		return bad;
	for (size_t i = 0; i < len; i++) {
		if (s[i] >= 'a' && s[i] <= 'z')
			letter = 1;
		else if (!is_lower_alnum(s[i]) && s[i] != '-')
			return bad;
	}
	return letter ? NULL : bad;
}

/* ---- addresses ---- */

int tern_addr_parse(const char *s, struct tern_addr *out)
{
	struct tern_addr a;
	struct in_addr v4;

	if (!s)
		return -EINVAL;
	if (strchr(s, ':')) {
		if (inet_pton(AF_INET6, s, a.b) != 1)
			return -EINVAL;
	} else {
		if (inet_pton(AF_INET, s, &v4) != 1)
			return -EINVAL;
		tern_addr_set_v4(&a, v4.s_addr);
	}
	*out = a;
	return 0;
}

const char *tern_addr_str(const struct tern_addr *a, char *buf, size_t len)
{
	const char *ok;

	if (tern_addr_is_v4(a))
		ok = inet_ntop(AF_INET, &a->w[3], buf, len);
	else
		ok = inet_ntop(AF_INET6, a->b, buf, len);
	if (!ok && len)
		snprintf(buf, len, "?");
	return buf;
}

/* "10.0.0.0/24", "fd00::/64": an address and a prefix length that fits it. */
static int cidr_ok(const char *s)
{
	const char *slash = strchr(s, '/');
	char addr[INET6_ADDRSTRLEN];
	struct tern_addr a;
	unsigned len = 0;
	size_t digits;

	if (!slash || (size_t)(slash - s) >= sizeof(addr))
		return 0;
	memcpy(addr, s, slash - s);
	addr[slash - s] = '\0';
	if (tern_addr_parse(addr, &a))
		return 0;
	digits = strlen(slash + 1);
	if (!digits || digits > 3 || strspn(slash + 1, "0123456789") != digits)
		return 0;
	len = atoi(slash + 1);
	return len <= (strchr(addr, ':') ? 128u : 32u);
}

/* ---- metadata ---- */

static int label_pair_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int decode_labels(struct dec *d, const struct doc_node *meta, struct k8s_labels *l)
{
	const struct doc_node *map;
	char **pairs = NULL; /* key, value, key, value, ... sorted by key */
	int ret;

	ret = dec_child(d, meta, "labels", "metadata.labels", DOC_MAP, &map);
	if (ret || !map || !map->n)
		return ret;
	pairs = calloc(2 * map->n, sizeof(*pairs));
	l->keys = calloc(map->n, sizeof(*l->keys));
	l->vals = calloc(map->n, sizeof(*l->vals));
	if (!pairs || !l->keys || !l->vals) {
		ret = dec_oom(d);
		goto out;
	}
	for (size_t i = 0; i < map->n; i++) {
		const struct doc_node *v = map->items[i];
		const char *key = map->keys[i], *val = "", *why;

		if ((why = check_label_key(key))) {
			/* point at the key itself when the parser kept where it is */
			struct doc_node at = *v;

			if (map->key_pos) {
				at.line = map->key_pos[i].line;
				at.col = map->key_pos[i].col;
			}
			ret = dec_fail(d, &at, "metadata.labels: key \"%s\" %s", key, why);
			goto out;
		}
		if (v->type == DOC_SCALAR) {
			val = v->str;
		} else if (v->type != DOC_NULL) {
			ret = dec_fail(d, v, "metadata.labels.%s: must be a string", key);
			goto out;
		}
		if ((why = check_label_value(val))) {
			ret = dec_fail(d, v, "metadata.labels.%s: \"%s\" %s", key, val, why);
			goto out;
		}
		pairs[2 * i] = (char *)key;
		pairs[2 * i + 1] = (char *)val;
	}
	qsort(pairs, map->n, 2 * sizeof(*pairs), label_pair_cmp);
	for (size_t i = 0; i < map->n; i++) {
		if (i && strcmp(pairs[2 * i], pairs[2 * i - 2]) == 0) {
			ret = dec_fail(d, map, "metadata.labels: duplicate key \"%s\"", pairs[2 * i]);
			goto out;
		}
		l->keys[i] = strdup(pairs[2 * i]);
		l->vals[i] = strdup(pairs[2 * i + 1]);
		l->n = i + 1;
		if (!l->keys[i] || !l->vals[i]) {
			ret = dec_oom(d);
			goto out;
		}
	}
out:
	free(pairs);
	return ret;
}

static int decode_meta(struct dec *d, const struct doc_node *doc, const struct kind_info *ki,
		       struct k8s_meta *m)
{
	const struct doc_node *meta, *name, *ns, *uid, *rv;
	const char *why, *ns_str = "";
	int ret;

	ret = dec_child(d, doc, "metadata", "metadata", DOC_MAP, &meta);
	if (ret)
		return ret;
	if (!meta)
		return dec_fail(d, doc, "metadata: missing");
	if ((ret = dec_child(d, meta, "name", "metadata.name", DOC_SCALAR, &name)) ||
	    (ret = dec_child(d, meta, "namespace", "metadata.namespace", DOC_SCALAR, &ns)) ||
	    (ret = dec_child(d, meta, "uid", "metadata.uid", DOC_SCALAR, &uid)) ||
	    (ret = dec_child(d, meta, "resourceVersion", "metadata.resourceVersion", DOC_SCALAR,
			     &rv)))
		return ret;
	if (!name || !*name->str)
		return dec_fail(d, name ? name : meta, "metadata.name: missing");
	if ((why = check_name(ki->name_rule, name->str)))
		return dec_fail(d, name, "metadata.name: \"%s\" %s", name->str, why);
	/* the API server clears the namespace of a cluster-scoped object; so do we */
	if (ki->namespaced) {
		ns_str = ns && *ns->str ? ns->str : "default";
		if ((why = check_dns_label(ns_str)))
			return dec_fail(d, ns, "metadata.namespace: \"%s\" %s", ns_str, why);
	}
	m->ns = strdup(ns_str);
	m->name = strdup(name->str);
	m->uid = dup_str(uid ? uid->str : NULL);
	m->resource_version = dup_str(rv ? rv->str : NULL);
	if (!m->ns || !m->name || !m->uid || !m->resource_version)
		return dec_oom(d);
	d->ns = m->ns;
	d->name = m->name;
	return decode_labels(d, meta, &m->labels);
}

/* ---- Pod ---- */

static int pod_add_ip(struct dec *d, struct k8s_pod *p, const struct doc_node *n,
		      const char *path)
{
	struct tern_addr a;

	if (tern_addr_parse(n->str, &a))
		return dec_fail(d, n, "%s: \"%s\" is not an IP address", path, n->str);
	for (size_t i = 0; i < p->n_ips; i++)
		if (tern_addr_is_v4(&p->ips[i]) == tern_addr_is_v4(&a))
			return dec_fail(d, n, "%s: \"%s\" is a second IPv%d address (a pod has "
					"at most one per family)", path, n->str,
					tern_addr_is_v4(&a) ? 4 : 6);
	p->ips[p->n_ips++] = a;
	return 0;
}

static int decode_pod_ips(struct dec *d, const struct doc_node *status, struct k8s_pod *p)
{
	const struct doc_node *ips, *n;
	char path[64];
	int ret;

	ret = dec_child(d, status, "podIPs", "status.podIPs", DOC_SEQ, &ips);
	if (ret)
		return ret;
	if (!ips || !ips->n) {
		ret = dec_child(d, status, "podIP", "status.podIP", DOC_SCALAR, &n);
		if (ret || !n || !*n->str)
			return ret;
		return pod_add_ip(d, p, n, "status.podIP");
	}
	for (size_t i = 0; i < ips->n; i++) {
		if ((ret = dec_item_map(d, ips, i, "status.podIPs")))
			return ret;
		snprintf(path, sizeof(path), "status.podIPs[%zu].ip", i);
		if ((ret = dec_child(d, ips->items[i], "ip", path, DOC_SCALAR, &n)))
			return ret;
		if (!n)
			return dec_fail(d, ips->items[i], "%s: missing", path);
		if ((ret = pod_add_ip(d, p, n, path)))
			return ret;
	}
	return 0;
}

/* One of a container's ports[]; path is "spec.containers[i].ports[j]". */
static int decode_port(struct dec *d, const struct doc_node *pn, const char *path,
		       struct k8s_container_port *cp)
{
	const struct doc_node *port, *proto, *name;
	char port_path[128], proto_path[128], name_path[128];
	const char *why;
	int64_t v;
	int ret;

	snprintf(port_path, sizeof(port_path), "%s.containerPort", path);
	snprintf(proto_path, sizeof(proto_path), "%s.protocol", path);
	snprintf(name_path, sizeof(name_path), "%s.name", path);
	if ((ret = dec_child(d, pn, "containerPort", port_path, DOC_SCALAR, &port)) ||
	    (ret = dec_child(d, pn, "protocol", proto_path, DOC_SCALAR, &proto)) ||
	    (ret = dec_child(d, pn, "name", name_path, DOC_SCALAR, &name)))
		return ret;
	if (!port)
		return dec_fail(d, pn, "%s: missing", port_path);
	if (doc_int(port, 1, 65535, &v))
		return dec_fail(d, port, "%s: \"%s\" is not a port number (1-65535)", port_path,
				port->str);
	cp->port = v;
	cp->proto = IPPROTO_TCP;
	if (proto && strcmp(proto->str, "UDP") == 0)
		cp->proto = IPPROTO_UDP;
	else if (proto && strcmp(proto->str, "SCTP") == 0)
		cp->proto = IPPROTO_SCTP;
	else if (proto && strcmp(proto->str, "TCP") != 0)
		return dec_fail(d, proto, "%s: \"%s\" is not TCP, UDP or SCTP", proto_path,
				proto->str);
	if (name && (why = check_port_name(name->str)))
		return dec_fail(d, name, "%s: \"%s\" %s", name_path, name->str, why);
	cp->name = dup_str(name ? name->str : NULL);
	return cp->name ? 0 : dec_oom(d);
}

/* Every container's ports[], in document order (initContainers serve
 * nothing, so their ports are left out as kube-proxy does). */
static int decode_pod_ports(struct dec *d, const struct doc_node *spec, struct k8s_pod *p)
{
	const struct doc_node *cs, *ports;
	char ports_path[64], path[96];
	int ret;

	ret = dec_child(d, spec, "containers", "spec.containers", DOC_SEQ, &cs);
	for (size_t i = 0; !ret && cs && i < cs->n; i++) {
		struct k8s_container_port *grown;

		if ((ret = dec_item_map(d, cs, i, "spec.containers")))
			break;
		snprintf(ports_path, sizeof(ports_path), "spec.containers[%zu].ports", i);
		if ((ret = dec_child(d, cs->items[i], "ports", ports_path, DOC_SEQ, &ports)) ||
		    !ports)
			continue;
		grown = realloc(p->ports, (p->n_ports + ports->n) * sizeof(*p->ports));
		if (!grown)
			return dec_oom(d);
		p->ports = grown;
		for (size_t j = 0; !ret && j < ports->n; j++) {
			struct k8s_container_port *cp = &p->ports[p->n_ports];

			if ((ret = dec_item_map(d, ports, j, ports_path)))
				break;
			snprintf(path, sizeof(path), "%s[%zu]", ports_path, j);
			memset(cp, 0, sizeof(*cp));
			ret = decode_port(d, ports->items[j], path, cp);
			if (!ret)
				p->n_ports++;
		}
	}
	return ret;
}

static int decode_pod(struct dec *d, const struct doc_node *doc, struct k8s_object *o)
{
	const struct doc_node *spec, *status, *node, *hostnet, *phase;
	struct k8s_pod *p = &o->pod;
	const char *why;
	int ret;

	if ((ret = dec_child(d, doc, "spec", "spec", DOC_MAP, &spec)) ||
	    (ret = dec_child(d, doc, "status", "status", DOC_MAP, &status)) ||
	    (ret = dec_child(d, spec, "nodeName", "spec.nodeName", DOC_SCALAR, &node)) ||
	    (ret = dec_child(d, spec, "hostNetwork", "spec.hostNetwork", DOC_SCALAR, &hostnet)) ||
	    (ret = dec_child(d, status, "phase", "status.phase", DOC_SCALAR, &phase)))
		return ret;
	if (node && *node->str && (why = check_dns_subdomain(node->str)))
		return dec_fail(d, node, "spec.nodeName: \"%s\" %s", node->str, why);
	if (hostnet && doc_bool(hostnet, &p->host_network))
		return dec_fail(d, hostnet, "spec.hostNetwork: \"%s\" is not true or false",
				hostnet->str);
	p->node_name = dup_str(node ? node->str : NULL);
	p->phase = dup_str(phase ? phase->str : NULL);
	if (!p->node_name || !p->phase)
		return dec_oom(d);
	if ((ret = decode_pod_ips(d, status, p)))
		return ret;
	return decode_pod_ports(d, spec, p);
}

/* ---- Node ---- */

static int decode_node_addrs(struct dec *d, const struct doc_node *status, struct k8s_node *nd)
{
	const struct doc_node *addrs, *type, *addr;
	char path[64];
	int ret;

	ret = dec_child(d, status, "addresses", "status.addresses", DOC_SEQ, &addrs);
	if (ret || !addrs || !addrs->n)
		return ret;
	nd->addrs = calloc(addrs->n, sizeof(*nd->addrs));
	if (!nd->addrs)
		return dec_oom(d);
	for (size_t i = 0; i < addrs->n; i++) {
		const struct doc_node *a = addrs->items[i];

		if ((ret = dec_item_map(d, addrs, i, "status.addresses")))
			return ret;
		snprintf(path, sizeof(path), "status.addresses[%zu].type", i);
		if ((ret = dec_child(d, a, "type", path, DOC_SCALAR, &type)))
			return ret;
		if (!type)
			return dec_fail(d, a, "%s: missing", path);
		/* Hostname, InternalDNS, ExternalDNS: not addresses */
		if (strcmp(type->str, "InternalIP") && strcmp(type->str, "ExternalIP"))
			continue;
		snprintf(path, sizeof(path), "status.addresses[%zu].address", i);
		if ((ret = dec_child(d, a, "address", path, DOC_SCALAR, &addr)))
			return ret;
		if (!addr)
			return dec_fail(d, a, "%s: missing", path);
		if (tern_addr_parse(addr->str, &nd->addrs[nd->n_addrs]))
			return dec_fail(d, addr, "%s: \"%s\" is not an IP address", path, addr->str);
		nd->n_addrs++;
	}
	return 0;
}

static int node_add_cidr(struct dec *d, struct k8s_node *nd, const struct doc_node *n,
			 const char *path)
{
	if (!cidr_ok(n->str))
		return dec_fail(d, n, "%s: \"%s\" is not a CIDR", path, n->str);
	nd->pod_cidrs[nd->n_pod_cidrs] = strdup(n->str);
	if (!nd->pod_cidrs[nd->n_pod_cidrs])
		return dec_oom(d);
	nd->n_pod_cidrs++;
	return 0;
}

static int decode_node(struct dec *d, const struct doc_node *doc, struct k8s_object *o)
{
	const struct doc_node *spec, *status, *cidrs, *cidr;
	struct k8s_node *nd = &o->node;
	char path[64];
	int ret;

	if ((ret = dec_child(d, doc, "spec", "spec", DOC_MAP, &spec)) ||
	    (ret = dec_child(d, doc, "status", "status", DOC_MAP, &status)) ||
	    (ret = dec_child(d, spec, "podCIDRs", "spec.podCIDRs", DOC_SEQ, &cidrs)) ||
	    (ret = dec_child(d, spec, "podCIDR", "spec.podCIDR", DOC_SCALAR, &cidr)) ||
	    (ret = decode_node_addrs(d, status, nd)))
		return ret;
	if (cidrs && cidrs->n) {
		nd->pod_cidrs = calloc(cidrs->n, sizeof(*nd->pod_cidrs));
		if (!nd->pod_cidrs)
			return dec_oom(d);
		for (size_t i = 0; i < cidrs->n; i++) {
			snprintf(path, sizeof(path), "spec.podCIDRs[%zu]", i);
			if (cidrs->items[i]->type != DOC_SCALAR)
				return dec_fail(d, cidrs->items[i], "%s: must be a string", path);
			if ((ret = node_add_cidr(d, nd, cidrs->items[i], path)))
				return ret;
		}
	} else if (cidr && *cidr->str) {
		nd->pod_cidrs = calloc(1, sizeof(*nd->pod_cidrs));
		if (!nd->pod_cidrs)
			return dec_oom(d);
		return node_add_cidr(d, nd, cidr, "spec.podCIDR");
	}
	return 0;
}

/* ---- kinds ---- */

/* The one apiVersion tern accepts per kind; a kind without a decode
 * function (yet) is decoded for its metadata only. */
static const struct kind_info kinds[K8S_KIND_COUNT] = {
	[K8S_NAMESPACE] = { "Namespace", "v1", 0, NAME_LABEL, NULL },
	[K8S_NODE] = { "Node", "v1", 0, NAME_SUBDOMAIN, decode_node },
	[K8S_POD] = { "Pod", "v1", 1, NAME_SUBDOMAIN, decode_pod },
	[K8S_SERVICE] = { "Service", "v1", 1, NAME_1035, k8s_service_decode },
	[K8S_ENDPOINTSLICE] = { "EndpointSlice", "discovery.k8s.io/v1", 1, NAME_SUBDOMAIN,
			       k8s_eps_decode },
	[K8S_NETWORKPOLICY] = { "NetworkPolicy", "networking.k8s.io/v1", 1, NAME_SUBDOMAIN,
				k8s_netpol_decode },
};

const char *k8s_kind_name(enum k8s_kind k)
{
	if (k <= K8S_UNKNOWN || k >= K8S_KIND_COUNT)
		return "Unknown";
	return kinds[k].kind;
}

/* The kind named kind (len bytes of it), or K8S_UNKNOWN. */
static enum k8s_kind kind_lookup(const char *kind, size_t len)
{
	for (int k = K8S_UNKNOWN + 1; k < K8S_KIND_COUNT; k++)
		if (strlen(kinds[k].kind) == len && strncmp(kinds[k].kind, kind, len) == 0)
			return k;
	return K8S_UNKNOWN;
}

static int is_list_kind(const char *kind)
{
	size_t len = strlen(kind);

	return len >= 4 && strcmp(kind + len - 4, "List") == 0;
}

/* k8s_decode, with apiVersion and kind defaulting to def_api/def_kind (the
 * items of a typed list such as PodList leave them out). */
static int decode_one(const struct doc_node *doc, const char *def_api, const char *def_kind,
		      struct k8s_object **out, struct doc_error *err)
{
	const struct doc_node *api_n, *kind_n;
	struct dec d = { .err = err };
	const char *api, *kind;
	struct k8s_object *o;
	enum k8s_kind k;
	int ret;

	*out = NULL;
	memset(err, 0, sizeof(*err));
	if (!doc || doc->type != DOC_MAP)
		return dec_fail(&d, doc, "a manifest must be a map");
	if ((ret = dec_child(&d, doc, "apiVersion", "apiVersion", DOC_SCALAR, &api_n)) ||
	    (ret = dec_child(&d, doc, "kind", "kind", DOC_SCALAR, &kind_n)))
		return ret;
	api = api_n ? api_n->str : def_api;
	kind = kind_n ? kind_n->str : def_kind;
	if (!kind || !*kind)
		return dec_fail(&d, doc, "kind: missing");
	if (!api || !*api)
		return dec_fail(&d, doc, "apiVersion: missing");
	k = kind_lookup(kind, strlen(kind));
	if (k == K8S_UNKNOWN)
		return 1;
	d.kind = kinds[k].kind;
	if (strcmp(api, kinds[k].api_version) != 0)
		return dec_fail(&d, api_n ? api_n : doc, "apiVersion: \"%s\" does not serve kind %s "
				"(want \"%s\")", api, kind, kinds[k].api_version);
	o = calloc(1, sizeof(*o));
	if (!o)
		return dec_oom(&d);
	o->kind = k;
	ret = decode_meta(&d, doc, &kinds[k], &o->meta);
	if (!ret && kinds[k].decode)
		ret = kinds[k].decode(&d, doc, o);
	if (ret) {
		k8s_object_free(o);
		return ret;
	}
	*out = o;
	return 0;
}

int k8s_decode(const struct doc_node *doc, struct k8s_object **out, struct doc_error *err)
{
	return decode_one(doc, NULL, NULL, out, err);
}

/* A single manifest's result as a list of 0 or 1 items. */
static int items_one(int rc, struct k8s_object *obj, const struct doc_error *err,
		     struct k8s_item **items, size_t *n)
{
	if (rc == 1)
		return 0;
	if (rc < 0 && rc != -EINVAL)
		return rc;
	*items = calloc(1, sizeof(**items));
	if (!*items) {
		k8s_object_free(obj);
		return -ENOMEM;
	}
	(*items)[0].obj = obj;
	(*items)[0].err = *err;
	*n = 1;
	return 0;
}

int k8s_decode_list(const struct doc_node *doc, struct k8s_item **items, size_t *n)
{
	const char *def_api = NULL, *def_kind = NULL, *want_api = "v1";
	const struct doc_node *kind_n, *api_n, *list = NULL;
	struct doc_error err = { 0 };
	struct dec d = { .err = &err };
	struct k8s_object *obj;
	struct k8s_item *v;
	int rc;

	*items = NULL;
	*n = 0;
	kind_n = doc && doc->type == DOC_MAP ? doc_get(doc, "kind") : NULL;
	if (!kind_n || kind_n->type != DOC_SCALAR || !is_list_kind(kind_n->str)) {
		rc = decode_one(doc, NULL, NULL, &obj, &err);
		return items_one(rc, obj, &err, items, n);
	}

	d.kind = kind_n->str;
	if (strcmp(kind_n->str, "List") != 0) {
		/* PodList etc.: items default to the list's kind */
		enum k8s_kind k = kind_lookup(kind_n->str, strlen(kind_n->str) - 4);

		if (k == K8S_UNKNOWN)
			return 0; /* a list of something tern does not use */
		want_api = def_api = kinds[k].api_version;
		def_kind = kinds[k].kind;
	}
	api_n = doc_get(doc, "apiVersion");
	if (!api_n || api_n->type != DOC_SCALAR || strcmp(api_n->str, want_api) != 0)
		rc = dec_fail(&d, api_n ? api_n : doc, "apiVersion: must be \"%s\"", want_api);
	else
		rc = dec_child(&d, doc, "items", "items", DOC_SEQ, &list);
	if (rc)
		return items_one(rc, NULL, &err, items, n);
	if (!list || !list->n)
		return 0;

	v = calloc(list->n, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < list->n; i++) {
		rc = decode_one(list->items[i], def_api, def_kind, &obj, &err);
		if (rc == 1)
			continue;
		if (rc < 0 && rc != -EINVAL) {
			k8s_items_free(v, *n);
			*n = 0;
			return rc;
		}
		v[*n].obj = obj;
		v[*n].err = err;
		(*n)++;
	}
	if (*n)
		*items = v;
	else
		free(v);
	return 0;
}

void k8s_items_free(struct k8s_item *items, size_t n)
{
	for (size_t i = 0; i < n; i++)
		k8s_object_free(items[i].obj);
	free(items);
}

/* ---- labels, equality, free ---- */

const char *k8s_labels_get(const struct k8s_labels *l, const char *key)
{
	size_t lo = 0, hi = l->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(key, l->keys[mid]);

		if (c == 0)
			return l->vals[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

int k8s_labels_equal(const struct k8s_labels *a, const struct k8s_labels *b)
{
	if (a->n != b->n)
		return 0;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->keys[i], b->keys[i]) || strcmp(a->vals[i], b->vals[i]))
			return 0;
	return 1;
}

static int node_equal(const struct k8s_node *a, const struct k8s_node *b)
{
	if (a->n_addrs != b->n_addrs || a->n_pod_cidrs != b->n_pod_cidrs)
		return 0;
	if (a->n_addrs && memcmp(a->addrs, b->addrs, a->n_addrs * sizeof(*a->addrs)))
		return 0;
	for (size_t i = 0; i < a->n_pod_cidrs; i++)
		if (strcmp(a->pod_cidrs[i], b->pod_cidrs[i]))
			return 0;
	return 1;
}

static int pod_equal(const struct k8s_pod *a, const struct k8s_pod *b)
{
	if (strcmp(a->node_name, b->node_name) || a->host_network != b->host_network ||
	    strcmp(a->phase, b->phase) || a->n_ips != b->n_ips || a->n_ports != b->n_ports)
		return 0;
	if (a->n_ips && memcmp(a->ips, b->ips, a->n_ips * sizeof(a->ips[0])))
		return 0;
	for (size_t i = 0; i < a->n_ports; i++)
		if (strcmp(a->ports[i].name, b->ports[i].name) ||
		    a->ports[i].port != b->ports[i].port || a->ports[i].proto != b->ports[i].proto)
			return 0;
	return 1;
}

int k8s_object_equal(const struct k8s_object *a, const struct k8s_object *b)
{
	if (a->kind != b->kind || strcmp(a->meta.ns, b->meta.ns) ||
	    strcmp(a->meta.name, b->meta.name) || strcmp(a->meta.uid, b->meta.uid) ||
	    !k8s_labels_equal(&a->meta.labels, &b->meta.labels))
		return 0;
	switch (a->kind) {
	case K8S_NODE:
		return node_equal(&a->node, &b->node);
	case K8S_POD:
		return pod_equal(&a->pod, &b->pod);
	case K8S_SERVICE:
		return k8s_service_equal(&a->svc, &b->svc);
	case K8S_ENDPOINTSLICE:
		return k8s_eps_equal(&a->eps, &b->eps);
	case K8S_NETWORKPOLICY:
		return k8s_netpol_equal(&a->np, &b->np);
	default:
		return 1;
	}
}

void k8s_object_free(struct k8s_object *o)
{
	if (!o)
		return;
	free(o->meta.ns);
	free(o->meta.name);
	free(o->meta.uid);
	free(o->meta.resource_version);
	for (size_t i = 0; i < o->meta.labels.n; i++) {
		free(o->meta.labels.keys[i]);
		free(o->meta.labels.vals[i]);
	}
	free(o->meta.labels.keys);
	free(o->meta.labels.vals);
	switch (o->kind) {
	case K8S_NODE:
		free(o->node.addrs);
		for (size_t i = 0; i < o->node.n_pod_cidrs; i++)
			free(o->node.pod_cidrs[i]);
		free(o->node.pod_cidrs);
		break;
	case K8S_POD:
		free(o->pod.node_name);
		free(o->pod.phase);
		for (size_t i = 0; i < o->pod.n_ports; i++)
			free(o->pod.ports[i].name);
		free(o->pod.ports);
		break;
	case K8S_SERVICE:
		k8s_service_free(&o->svc);
		break;
	case K8S_ENDPOINTSLICE:
		k8s_eps_free(&o->eps);
		break;
	case K8S_NETWORKPOLICY:
		k8s_netpol_free(&o->np);
		break;
	default:
		break;
	}
	free(o);
}
