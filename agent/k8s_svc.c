/* v1 Service and discovery.k8s.io/v1 EndpointSlice decoded from a doc tree,
 * validated and defaulted as the API server does, so the service calculator
 * sees exactly what kube-proxy would. */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/k8s_dec.h"

#define SVC_AFFINITY_DEFAULT 10800 /* seconds, the API's default for ClientIP */
#define SVC_AFFINITY_MAX 86400
#define EPS_MAX_ENDPOINTS 1000
#define EPS_MAX_ADDRESSES 100
#define EPS_MAX_PORTS 20000

static const char *const svc_type_names[] = {
	[K8S_SVC_CLUSTER_IP] = "ClusterIP",
	[K8S_SVC_NODE_PORT] = "NodePort",
	[K8S_SVC_LOAD_BALANCER] = "LoadBalancer",
	[K8S_SVC_EXTERNAL_NAME] = "ExternalName",
};

/* ---- shared by both kinds ---- */

static const char *proto_name(uint8_t proto)
{
	switch (proto) {
	case IPPROTO_UDP:
		return "UDP";
	case IPPROTO_SCTP:
		return "SCTP";
	default:
		return "TCP";
	}
}

/* protocol: TCP (also when absent), UDP or SCTP. */
static int decode_proto(struct dec *d, const struct doc_node *n, const char *path,
			uint8_t *proto)
{
	*proto = IPPROTO_TCP;
	if (!n || strcmp(n->str, "TCP") == 0)
		return 0;
	if (strcmp(n->str, "UDP") == 0)
		*proto = IPPROTO_UDP;
	else if (strcmp(n->str, "SCTP") == 0)
		*proto = IPPROTO_SCTP;
	else
		return dec_fail(d, n, "%s: \"%s\" is not TCP, UDP or SCTP", path, n->str);
	return 0;
}

/* A port number field: 1..65535, written as an integer ("80" quoted is a
 * string, which the API refuses for an integer field). */
static int decode_port_num(struct dec *d, const struct doc_node *n, const char *path,
			   uint16_t *port)
{
	int64_t v;

	if (doc_int(n, 1, 65535, &v))
		return dec_fail(d, n, "%s: \"%s\" is not a port number (1-65535)", path, n->str);
	*port = v;
	return 0;
}

/* A port name that must be a DNS-1123 label (Service and EndpointSlice
 * ports; container ports use IANA_SVC_NAME instead). */
static int check_label_name(struct dec *d, const struct doc_node *n, const char *path)
{
	const char *why = check_dns_label(n->str);

	return why ? dec_fail(d, n, "%s: \"%s\" %s", path, n->str, why) : 0;
}

static char *str_or_empty(const struct doc_node *n)
{
	return strdup(n ? n->str : "");
}

/* map[key], a scalar or absent, named "prefix.key" in errors. */
static int dec_scalar(struct dec *d, const struct doc_node *map, const char *prefix,
		      const char *key, const struct doc_node **out)
{
	char path[96];

	snprintf(path, sizeof(path), "%s.%s", prefix, key);
	return dec_child(d, map, key, path, DOC_SCALAR, out);
}

/* ---- Service: addresses ---- */

/* Why a is not usable as an external IP, or NULL: the API refuses the
 * unspecified, loopback, link-local and link-local multicast ranges. */
static const char *special_ip(const struct tern_addr *a)
{
	static const uint8_t zero[16];

	if (tern_addr_is_v4(a)) {
		const uint8_t *b = &a->b[12];

		if (!b[0] && !b[1] && !b[2] && !b[3])
			return "is unspecified";
		if (b[0] == 127)
			return "is in the loopback range (127.0.0.0/8)";
		if (b[0] == 169 && b[1] == 254)
			return "is link-local (169.254.0.0/16)";
		if (b[0] == 224 && b[1] == 0 && b[2] == 0)
			return "is link-local multicast (224.0.0.0/24)";
		return NULL;
	}
	if (memcmp(a->b, zero, 16) == 0)
		return "is unspecified";
	if (memcmp(a->b, zero, 15) == 0 && a->b[15] == 1)
		return "is the loopback address";
	if (a->b[0] == 0xfe && (a->b[1] & 0xc0) == 0x80)
		return "is link-local (fe80::/10)";
	if (a->b[0] == 0xff && a->b[1] == 0x02)
		return "is link-local multicast (ff02::/16)";
	return NULL;
}

static int svc_add_cluster_ip(struct dec *d, struct k8s_service *s, const struct doc_node *n,
			      const char *path)
{
	struct tern_addr a;

	if (tern_addr_parse(n->str, &a))
		return dec_fail(d, n, "%s: \"%s\" is not an IP address", path, n->str);
	for (size_t i = 0; i < s->n_cluster_ips; i++)
		if (tern_addr_is_v4(&s->cluster_ips[i]) == tern_addr_is_v4(&a))
			return dec_fail(d, n, "%s: \"%s\" is a second IPv%d address (a service "
					"has at most one per family)", path, n->str,
					tern_addr_is_v4(&a) ? 4 : 6);
	s->cluster_ips[s->n_cluster_ips++] = a;
	return 0;
}

/* spec.clusterIPs (dual-stack) or, in older manifests, spec.clusterIP
 * alone; "None" makes the service headless; "" is not allocated (yet). */
static int decode_cluster_ips(struct dec *d, const struct doc_node *spec,
			      struct k8s_service *s)
{
	const struct doc_node *ip, *ips, *first;
	char path[48];
	int ret;

	if ((ret = dec_child(d, spec, "clusterIP", "spec.clusterIP", DOC_SCALAR, &ip)) ||
	    (ret = dec_child(d, spec, "clusterIPs", "spec.clusterIPs", DOC_SEQ, &ips)))
		return ret;
	if (ips && ips->n) {
		first = ips->items[0];
		for (size_t i = 0; i < ips->n && !ret; i++) {
			const struct doc_node *at = ips->items[i];

			snprintf(path, sizeof(path), "spec.clusterIPs[%zu]", i);
			if (at->type != DOC_SCALAR)
				return dec_fail(d, at, "%s: must be a string", path);
			if (i == 0 && ip && *ip->str && strcmp(at->str, ip->str))
				return dec_fail(d, at, "%s: \"%s\" must be spec.clusterIP (\"%s\") "
						"when both are given", path, at->str, ip->str);
			if (i == 2)
				return dec_fail(d, at, "%s: a third address (a service has at most "
						"one per family)", path);
			if (strcmp(at->str, "None") == 0 && ips->n > 1)
				return dec_fail(d, at, "%s: \"None\" must be the only entry", path);
			if (strcmp(at->str, "None") == 0)
				s->headless = 1;
			else
				ret = svc_add_cluster_ip(d, s, at, path);
		}
		snprintf(path, sizeof(path), "spec.clusterIPs[0]");
	} else {
		first = ip;
		if (ip && strcmp(ip->str, "None") == 0)
			s->headless = 1;
		else if (ip && *ip->str)
			ret = svc_add_cluster_ip(d, s, ip, "spec.clusterIP");
		snprintf(path, sizeof(path), "spec.clusterIP");
	}
	if (ret)
		return ret;
	if (s->headless && (s->type == K8S_SVC_NODE_PORT || s->type == K8S_SVC_LOAD_BALANCER))
		return dec_fail(d, first, "%s: \"None\" may not be used when spec.type is %s",
				path, svc_type_names[s->type]);
	if (s->type == K8S_SVC_EXTERNAL_NAME && (s->headless || s->n_cluster_ips))
		return dec_fail(d, first, "%s: must be empty when spec.type is ExternalName",
				path);
	return 0;
}

/* spec.externalIPs: addresses this node also answers the service at. */
static int decode_external_ips(struct dec *d, const struct doc_node *spec,
			       struct k8s_service *s)
{
	const struct doc_node *ips;
	char path[48];
	int ret;

	ret = dec_child(d, spec, "externalIPs", "spec.externalIPs", DOC_SEQ, &ips);
	if (ret || !ips || !ips->n)
		return ret;
	s->external_ips = calloc(ips->n, sizeof(*s->external_ips));
	if (!s->external_ips)
		return dec_oom(d);
	for (size_t i = 0; i < ips->n; i++) {
		const struct doc_node *n = ips->items[i];
		struct tern_addr *a = &s->external_ips[i];
		const char *why;

		snprintf(path, sizeof(path), "spec.externalIPs[%zu]", i);
		if (n->type != DOC_SCALAR)
			return dec_fail(d, n, "%s: must be a string", path);
		if (tern_addr_parse(n->str, a))
			return dec_fail(d, n, "%s: \"%s\" is not an IP address", path, n->str);
		if ((why = special_ip(a)))
			return dec_fail(d, n, "%s: \"%s\" %s", path, n->str, why);
		s->n_external_ips++;
	}
	return 0;
}

/* status.loadBalancer.ingress[].ip. Hostname-only entries give nothing to
 * program; entries with ipMode Proxy are left out as kube-proxy leaves them
 * out: the load balancer proxies, and its IP must not be captured on the
 * node (traffic to it has to reach the load balancer). */
static int decode_lb_ips(struct dec *d, const struct doc_node *status, struct k8s_service *s)
{
	const struct doc_node *lb, *ingress, *ip, *mode;
	char ip_path[64], mode_path[64];
	int ret;

	if ((ret = dec_child(d, status, "loadBalancer", "status.loadBalancer", DOC_MAP, &lb)) ||
	    (ret = dec_child(d, lb, "ingress", "status.loadBalancer.ingress", DOC_SEQ,
			     &ingress)))
		return ret;
	if (!ingress || !ingress->n)
		return 0;
	s->lb_ips = calloc(ingress->n, sizeof(*s->lb_ips));
	if (!s->lb_ips)
		return dec_oom(d);
	for (size_t i = 0; i < ingress->n; i++) {
		if ((ret = dec_item_map(d, ingress, i, "status.loadBalancer.ingress")))
			return ret;
		snprintf(ip_path, sizeof(ip_path), "status.loadBalancer.ingress[%zu].ip", i);
		snprintf(mode_path, sizeof(mode_path), "status.loadBalancer.ingress[%zu].ipMode", i);
		if ((ret = dec_child(d, ingress->items[i], "ip", ip_path, DOC_SCALAR, &ip)) ||
		    (ret = dec_child(d, ingress->items[i], "ipMode", mode_path, DOC_SCALAR, &mode)))
			return ret;
		if (mode && strcmp(mode->str, "VIP") && strcmp(mode->str, "Proxy"))
			return dec_fail(d, mode, "%s: \"%s\" is not VIP or Proxy", mode_path,
					mode->str);
		if (mode && (!ip || !*ip->str))
			return dec_fail(d, mode, "%s: may only be set with an ip", mode_path);
		if (!ip || !*ip->str)
			continue;
		if (tern_addr_parse(ip->str, &s->lb_ips[s->n_lb_ips]))
			return dec_fail(d, ip, "%s: \"%s\" is not an IP address", ip_path, ip->str);
		if (mode && strcmp(mode->str, "Proxy") == 0)
			continue;
		s->n_lb_ips++;
	}
	return 0;
}

/* ---- Service: ports ---- */

/* targetPort: an integer is a port number (0 or absent: the service port,
 * the API's default); a string is the name of a container port
 * (IANA_SVC_NAME). YAML decides which: "8080" quoted is a string, and so
 * not a valid name (no letter), as the API server finds too. */
static int decode_target_port(struct dec *d, const struct doc_node *n, const char *path,
			      struct k8s_service_port *sp)
{
	const char *s = n ? n->str : "", *digits = s + (*s == '-' || *s == '+');
	const char *why;
	int64_t v;

	sp->target_port = sp->port;
	if (n && !n->quoted && *digits && strspn(digits, "0123456789") == strlen(digits)) {
		if (doc_int(n, 0, 65535, &v))
			return dec_fail(d, n, "%s: \"%s\" is not a port number (1-65535)", path,
					s);
		if (v)
			sp->target_port = v;
		return (sp->target_port_name = strdup("")) ? 0 : dec_oom(d);
	}
	if ((why = check_port_name(s)))
		return dec_fail(d, n, "%s: \"%s\" %s", path, s, why);
	if (*s)
		sp->target_port = 0;
	return (sp->target_port_name = strdup(s)) ? 0 : dec_oom(d);
}

/* ports[i], checked against the ports before it: names unique (and given
 * when there are several), port/protocol and nodePort/protocol pairs
 * unique. */
static int decode_svc_port(struct dec *d, const struct doc_node *ports, size_t i,
			   struct k8s_service *s)
{
	const struct doc_node *pn = ports->items[i], *name, *proto, *port, *target, *node;
	struct k8s_service_port *sp = &s->ports[i];
	char path[48], fpath[128];
	int64_t v = 0;
	int ret;

	snprintf(path, sizeof(path), "spec.ports[%zu]", i);
	if ((ret = dec_item_map(d, ports, i, "spec.ports")) ||
	    (ret = dec_scalar(d, pn, path, "name", &name)) ||
	    (ret = dec_scalar(d, pn, path, "protocol", &proto)) ||
	    (ret = dec_scalar(d, pn, path, "port", &port)) ||
	    (ret = dec_scalar(d, pn, path, "targetPort", &target)) ||
	    (ret = dec_scalar(d, pn, path, "nodePort", &node)))
		return ret;

	snprintf(fpath, sizeof(fpath), "%s.port", path);
	if (!port)
		return dec_fail(d, pn, "%s: missing", fpath);
	if ((ret = decode_port_num(d, port, fpath, &sp->port)))
		return ret;
	snprintf(fpath, sizeof(fpath), "%s.protocol", path);
	if ((ret = decode_proto(d, proto, fpath, &sp->proto)))
		return ret;

	snprintf(fpath, sizeof(fpath), "%s.name", path);
	if (name && *name->str && (ret = check_label_name(d, name, fpath)))
		return ret;
	if (ports->n > 1 && (!name || !*name->str))
		return dec_fail(d, name ? name : pn, "%s: missing (required when there is more "
				"than one port)", fpath);
	if (!(sp->name = str_or_empty(name)))
		return dec_oom(d);
	for (size_t j = 0; j < i; j++) {
		if (*sp->name && strcmp(s->ports[j].name, sp->name) == 0)
			return dec_fail(d, name, "%s: \"%s\" is also spec.ports[%zu]'s name", fpath,
					sp->name, j);
		if (s->ports[j].port == sp->port && s->ports[j].proto == sp->proto)
			return dec_fail(d, port, "%s.port: %u/%s is also spec.ports[%zu]'s", path,
					sp->port, proto_name(sp->proto), j);
	}

	snprintf(fpath, sizeof(fpath), "%s.nodePort", path);
	if (node && doc_int(node, 0, 65535, &v))
		return dec_fail(d, node, "%s: \"%s\" is not a port number (1-65535, or 0 for "
				"none)", fpath, node->str);
	sp->node_port = node ? v : 0;
	if (sp->node_port && s->type == K8S_SVC_CLUSTER_IP)
		return dec_fail(d, node, "%s: may not be set when spec.type is ClusterIP", fpath);
	for (size_t j = 0; sp->node_port && j < i; j++)
		if (s->ports[j].node_port == sp->node_port && s->ports[j].proto == sp->proto)
			return dec_fail(d, node, "%s: %u/%s is also spec.ports[%zu]'s", fpath,
					sp->node_port, proto_name(sp->proto), j);

	snprintf(fpath, sizeof(fpath), "%s.targetPort", path);
	return decode_target_port(d, target, fpath, sp);
}

/* spec.ports. None at all is accepted (the API requires one unless the
 * service is headless or ExternalName): such a service has no frontends. */
static int decode_svc_ports(struct dec *d, const struct doc_node *spec, struct k8s_service *s)
{
	const struct doc_node *ports;
	int ret;

	ret = dec_child(d, spec, "ports", "spec.ports", DOC_SEQ, &ports);
	if (ret || !ports || !ports->n)
		return ret;
	s->ports = calloc(ports->n, sizeof(*s->ports));
	if (!s->ports)
		return dec_oom(d);
	s->n_ports = ports->n; /* zeroed: k8s_service_free copes with a half-done list */
	for (size_t i = 0; i < ports->n; i++)
		if ((ret = decode_svc_port(d, ports, i, s)))
			return ret;
	return 0;
}

/* ---- Service: policies ---- */

static int decode_type(struct dec *d, const struct doc_node *spec, struct k8s_service *s)
{
	const struct doc_node *n;
	int ret;

	ret = dec_child(d, spec, "type", "spec.type", DOC_SCALAR, &n);
	if (ret || !n || !*n->str)
		return ret; /* ClusterIP */
	for (size_t i = 0; i < sizeof(svc_type_names) / sizeof(svc_type_names[0]); i++) {
		if (strcmp(n->str, svc_type_names[i]) == 0) {
			s->type = i;
			return 0;
		}
	}
	return dec_fail(d, n, "spec.type: \"%s\" is not ClusterIP, NodePort, LoadBalancer or "
			"ExternalName", n->str);
}

static int decode_affinity(struct dec *d, const struct doc_node *spec, struct k8s_service *s)
{
	const struct doc_node *aff, *cfg, *cip, *tmo;
	int64_t v = SVC_AFFINITY_DEFAULT;
	int ret;

	if ((ret = dec_child(d, spec, "sessionAffinity", "spec.sessionAffinity", DOC_SCALAR,
			     &aff)) ||
	    (ret = dec_child(d, spec, "sessionAffinityConfig", "spec.sessionAffinityConfig",
			     DOC_MAP, &cfg)) ||
	    (ret = dec_child(d, cfg, "clientIP", "spec.sessionAffinityConfig.clientIP",
			     DOC_MAP, &cip)) ||
	    (ret = dec_child(d, cip, "timeoutSeconds",
			     "spec.sessionAffinityConfig.clientIP.timeoutSeconds", DOC_SCALAR,
			     &tmo)))
		return ret;
	if (aff && strcmp(aff->str, "ClientIP") == 0)
		s->affinity_client_ip = 1;
	else if (aff && *aff->str && strcmp(aff->str, "None"))
		return dec_fail(d, aff, "spec.sessionAffinity: \"%s\" is not None or ClientIP",
				aff->str);
	if (!s->affinity_client_ip) {
		if (cfg)
			return dec_fail(d, cfg, "spec.sessionAffinityConfig: may only be set when "
					"spec.sessionAffinity is ClientIP");
		return 0; /* affinity_timeout stays 0: no affinity */
	}
	if (tmo && doc_int(tmo, 1, SVC_AFFINITY_MAX, &v))
		return dec_fail(d, tmo, "spec.sessionAffinityConfig.clientIP.timeoutSeconds: "
				"\"%s\" is not a number of seconds (1-%d)", tmo->str,
				SVC_AFFINITY_MAX);
	s->affinity_timeout = v;
	return 0;
}

/* Cluster (also "" and the pre-1.14 name Global) or Local. */
static int decode_traffic_policy(struct dec *d, const struct doc_node *spec, const char *key,
				 int global_ok, int *local)
{
	const struct doc_node *n;
	char path[48];
	int ret;

	snprintf(path, sizeof(path), "spec.%s", key);
	ret = dec_child(d, spec, key, path, DOC_SCALAR, &n);
	if (ret || !n || !*n->str || strcmp(n->str, "Cluster") == 0 ||
	    (global_ok && strcmp(n->str, "Global") == 0))
		return ret;
	if (strcmp(n->str, "Local") == 0) {
		*local = 1;
		return 0;
	}
	return dec_fail(d, n, "%s: \"%s\" is not Cluster or Local", path, n->str);
}

int k8s_service_decode(struct dec *d, const struct doc_node *doc, struct k8s_object *o)
{
	const struct doc_node *spec, *status;
	struct k8s_service *s = &o->svc;
	int ret;

	/* type first: what else is allowed depends on it */
	if ((ret = dec_child(d, doc, "spec", "spec", DOC_MAP, &spec)) ||
	    (ret = dec_child(d, doc, "status", "status", DOC_MAP, &status)) ||
	    (ret = decode_type(d, spec, s)) || (ret = decode_cluster_ips(d, spec, s)) ||
	    (ret = decode_external_ips(d, spec, s)) || (ret = decode_lb_ips(d, status, s)) ||
	    (ret = decode_svc_ports(d, spec, s)) || (ret = decode_affinity(d, spec, s)) ||
	    (ret = decode_traffic_policy(d, spec, "externalTrafficPolicy", 1, &s->etp_local)))
		return ret;
	return decode_traffic_policy(d, spec, "internalTrafficPolicy", 0, &s->itp_local);
}

int k8s_service_equal(const struct k8s_service *a, const struct k8s_service *b)
{
	if (a->type != b->type || a->headless != b->headless ||
	    a->n_cluster_ips != b->n_cluster_ips || a->n_external_ips != b->n_external_ips ||
	    a->n_lb_ips != b->n_lb_ips || a->n_ports != b->n_ports ||
	    a->affinity_client_ip != b->affinity_client_ip ||
	    a->affinity_timeout != b->affinity_timeout || a->etp_local != b->etp_local ||
	    a->itp_local != b->itp_local)
		return 0;
	if (memcmp(a->cluster_ips, b->cluster_ips, a->n_cluster_ips * sizeof(a->cluster_ips[0])))
		return 0;
	if (a->n_external_ips && memcmp(a->external_ips, b->external_ips,
					a->n_external_ips * sizeof(a->external_ips[0])))
		return 0;
	if (a->n_lb_ips && memcmp(a->lb_ips, b->lb_ips, a->n_lb_ips * sizeof(a->lb_ips[0])))
		return 0;
	for (size_t i = 0; i < a->n_ports; i++) {
		const struct k8s_service_port *x = &a->ports[i], *y = &b->ports[i];

		if (strcmp(x->name, y->name) || x->proto != y->proto || x->port != y->port ||
		    x->node_port != y->node_port || x->target_port != y->target_port ||
		    strcmp(x->target_port_name, y->target_port_name))
			return 0;
	}
	return 1;
}

void k8s_service_free(struct k8s_service *s)
{
	free(s->external_ips);
	free(s->lb_ips);
	for (size_t i = 0; i < s->n_ports; i++) {
		free(s->ports[i].name);
		free(s->ports[i].target_port_name);
	}
	free(s->ports);
}

/* ---- EndpointSlice ---- */

static int decode_eps_ports(struct dec *d, const struct doc_node *doc,
			    struct k8s_endpointslice *e)
{
	const struct doc_node *ports, *name, *proto, *port;
	char path[48], fpath[128];
	int ret;

	ret = dec_child(d, doc, "ports", "ports", DOC_SEQ, &ports);
	if (ret || !ports || !ports->n)
		return ret;
	if (ports->n > EPS_MAX_PORTS)
		return dec_fail(d, ports, "ports: %zu ports, at most %d", ports->n, EPS_MAX_PORTS);
	e->ports = calloc(ports->n, sizeof(*e->ports));
	if (!e->ports)
		return dec_oom(d);
	e->n_ports = ports->n;
	for (size_t i = 0; i < ports->n; i++) {
		const struct doc_node *pn = ports->items[i];
		struct k8s_eps_port *ep = &e->ports[i];

		snprintf(path, sizeof(path), "ports[%zu]", i);
		if ((ret = dec_item_map(d, ports, i, "ports")) ||
		    (ret = dec_scalar(d, pn, path, "name", &name)) ||
		    (ret = dec_scalar(d, pn, path, "protocol", &proto)) ||
		    (ret = dec_scalar(d, pn, path, "port", &port)))
			return ret;
		snprintf(fpath, sizeof(fpath), "%s.port", path);
		if (port && (ret = decode_port_num(d, port, fpath, &ep->port)))
			return ret;
		snprintf(fpath, sizeof(fpath), "%s.protocol", path);
		if ((ret = decode_proto(d, proto, fpath, &ep->proto)))
			return ret;
		snprintf(fpath, sizeof(fpath), "%s.name", path);
		if (name && *name->str && (ret = check_label_name(d, name, fpath)))
			return ret;
		if (!(ep->name = str_or_empty(name)))
			return dec_oom(d);
		/* unnamed counts as the name "": at most one unnamed port */
		for (size_t j = 0; j < i; j++)
			if (strcmp(e->ports[j].name, ep->name) == 0)
				return dec_fail(d, name ? name : pn, "%s: \"%s\" is also ports[%zu]'s "
						"name", fpath, ep->name, j);
	}
	return 0;
}

/* FQDN: a DNS subdomain of at least two labels, a trailing dot allowed. */
static const char *check_fqdn(const char *s)
{
	char buf[256];
	size_t len = strlen(s);
	const char *why;

	if (len && s[len - 1] == '.')
		len--;
	if (len >= sizeof(buf))
		return "is longer than 253 characters";
	memcpy(buf, s, len);
	buf[len] = '\0';
	if ((why = check_dns_subdomain(buf)))
		return why;
	return strchr(buf, '.') ? NULL : "is not a fully qualified domain name (two labels "
					 "at least)";
}

/* endpoints[i].addresses: 1..100, all of the slice's addressType. FQDN
 * addresses are checked but not kept: the dataplane has no use for names. */
static int decode_eps_addrs(struct dec *d, const struct doc_node *en, const char *path,
			    int family, struct k8s_eps_endpoint *ep)
{
	const struct doc_node *addrs;
	char apath[128];
	int ret;

	snprintf(apath, sizeof(apath), "%s.addresses", path);
	if ((ret = dec_child(d, en, "addresses", apath, DOC_SEQ, &addrs)))
		return ret;
	if (!addrs || !addrs->n)
		return dec_fail(d, addrs ? addrs : en, "%s: missing (1 to %d addresses)", apath,
				EPS_MAX_ADDRESSES);
	if (addrs->n > EPS_MAX_ADDRESSES)
		return dec_fail(d, addrs, "%s: %zu addresses, at most %d", apath, addrs->n,
				EPS_MAX_ADDRESSES);
	if (family && !(ep->addrs = calloc(addrs->n, sizeof(*ep->addrs))))
		return dec_oom(d);
	for (size_t i = 0; i < addrs->n; i++) {
		const struct doc_node *n = addrs->items[i];
		struct tern_addr a;
		const char *why;

		snprintf(apath, sizeof(apath), "%s.addresses[%zu]", path, i);
		if (n->type != DOC_SCALAR)
			return dec_fail(d, n, "%s: must be a string", apath);
		if (!family) {
			if ((why = check_fqdn(n->str)))
				return dec_fail(d, n, "%s: \"%s\" %s", apath, n->str, why);
			continue;
		}
		if (tern_addr_parse(n->str, &a) || tern_addr_is_v4(&a) != (family == 4))
			return dec_fail(d, n, "%s: \"%s\" is not an IPv%d address (addressType "
					"IPv%d)", apath, n->str, family, family);
		ep->addrs[ep->n_addrs++] = a;
	}
	return 0;
}

/* conditions, with the API's meaning of an absent (nil) condition: ready
 * nil is ready; serving nil defers to ready; terminating nil is not. */
static int decode_eps_conditions(struct dec *d, const struct doc_node *en, const char *path,
				 struct k8s_eps_endpoint *ep)
{
	static const char *const keys[] = { "ready", "serving", "terminating" };
	int *vals[] = { &ep->ready, &ep->serving, &ep->terminating };
	const struct doc_node *conds, *n[3];
	char cpath[128];
	int ret;

	snprintf(cpath, sizeof(cpath), "%s.conditions", path);
	if ((ret = dec_child(d, en, "conditions", cpath, DOC_MAP, &conds)))
		return ret;
	for (int i = 0; i < 3; i++) {
		snprintf(cpath, sizeof(cpath), "%s.conditions.%s", path, keys[i]);
		if ((ret = dec_child(d, conds, keys[i], cpath, DOC_SCALAR, &n[i])))
			return ret;
		if (n[i] && doc_bool(n[i], vals[i]))
			return dec_fail(d, n[i], "%s: \"%s\" is not true or false", cpath,
					n[i]->str);
	}
	if (!n[0])
		ep->ready = 1;
	if (!n[1])
		ep->serving = ep->ready;
	if (!n[2])
		ep->terminating = 0;
	return 0;
}

static int decode_eps_endpoints(struct dec *d, const struct doc_node *doc,
				struct k8s_endpointslice *e)
{
	const struct doc_node *eps, *node;
	char path[48], npath[128];
	const char *why;
	int ret;

	/* kubectl writes "endpoints: null" for a slice with none */
	ret = dec_child(d, doc, "endpoints", "endpoints", DOC_SEQ, &eps);
	if (ret || !eps || !eps->n)
		return ret;
	if (eps->n > EPS_MAX_ENDPOINTS)
		return dec_fail(d, eps, "endpoints: %zu endpoints, at most %d", eps->n,
				EPS_MAX_ENDPOINTS);
	e->endpoints = calloc(eps->n, sizeof(*e->endpoints));
	if (!e->endpoints)
		return dec_oom(d);
	e->n_endpoints = eps->n; /* zeroed: k8s_eps_free copes with a half-done list */
	for (size_t i = 0; i < eps->n; i++) {
		const struct doc_node *en = eps->items[i];
		struct k8s_eps_endpoint *ep = &e->endpoints[i];

		snprintf(path, sizeof(path), "endpoints[%zu]", i);
		snprintf(npath, sizeof(npath), "%s.nodeName", path);
		if ((ret = dec_item_map(d, eps, i, "endpoints")) ||
		    (ret = decode_eps_addrs(d, en, path, e->family, ep)) ||
		    (ret = decode_eps_conditions(d, en, path, ep)) ||
		    (ret = dec_child(d, en, "nodeName", npath, DOC_SCALAR, &node)))
			return ret;
		if (node && (why = check_dns_subdomain(node->str)))
			return dec_fail(d, node, "%s: \"%s\" %s", npath, node->str, why);
		if (!(ep->node_name = str_or_empty(node)))
			return dec_oom(d);
	}
	return 0;
}

int k8s_eps_decode(struct dec *d, const struct doc_node *doc, struct k8s_object *o)
{
	const char *svc = k8s_labels_get(&o->meta.labels, "kubernetes.io/service-name");
	struct k8s_endpointslice *e = &o->eps;
	const struct doc_node *type;
	int ret;

	if (!(e->service = strdup(svc ? svc : "")))
		return dec_oom(d);
	if ((ret = dec_child(d, doc, "addressType", "addressType", DOC_SCALAR, &type)))
		return ret;
	if (!type)
		return dec_fail(d, doc, "addressType: missing");
	if (strcmp(type->str, "IPv4") == 0)
		e->family = 4;
	else if (strcmp(type->str, "IPv6") == 0)
		e->family = 6;
	else if (strcmp(type->str, "FQDN") != 0)
		return dec_fail(d, type, "addressType: \"%s\" is not IPv4, IPv6 or FQDN",
				type->str);
	if ((ret = decode_eps_ports(d, doc, e)))
		return ret;
	return decode_eps_endpoints(d, doc, e);
}

int k8s_eps_equal(const struct k8s_endpointslice *a, const struct k8s_endpointslice *b)
{
	if (strcmp(a->service, b->service) || a->family != b->family ||
	    a->n_ports != b->n_ports || a->n_endpoints != b->n_endpoints)
		return 0;
	for (size_t i = 0; i < a->n_ports; i++)
		if (strcmp(a->ports[i].name, b->ports[i].name) ||
		    a->ports[i].proto != b->ports[i].proto || a->ports[i].port != b->ports[i].port)
			return 0;
	for (size_t i = 0; i < a->n_endpoints; i++) {
		const struct k8s_eps_endpoint *x = &a->endpoints[i], *y = &b->endpoints[i];

		if (x->n_addrs != y->n_addrs || x->ready != y->ready || x->serving != y->serving ||
		    x->terminating != y->terminating || strcmp(x->node_name, y->node_name))
			return 0;
		if (x->n_addrs && memcmp(x->addrs, y->addrs, x->n_addrs * sizeof(x->addrs[0])))
			return 0;
	}
	return 1;
}

void k8s_eps_free(struct k8s_endpointslice *e)
{
	free(e->service);
	for (size_t i = 0; i < e->n_ports; i++)
		free(e->ports[i].name);
	free(e->ports);
	for (size_t i = 0; i < e->n_endpoints; i++) {
		free(e->endpoints[i].addrs);
		free(e->endpoints[i].node_name);
	}
	free(e->endpoints);
}
