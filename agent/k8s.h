/* Kubernetes objects as tern uses them, decoded from a doc tree (YAML from
 * the files datastore, JSON from the API server): only the fields the
 * dataplane needs, validated, with errors that name the field and where. */
#ifndef TERN_K8S_H
#define TERN_K8S_H

#include <stddef.h>
#include <stdint.h>
#include <tern/addr.h>

#include "agent/doc.h"

enum k8s_kind {
	K8S_UNKNOWN = 0,
	K8S_NAMESPACE,
	K8S_NODE,
	K8S_POD,
	K8S_SERVICE,
	K8S_ENDPOINTSLICE,
	K8S_NETWORKPOLICY,
	K8S_KIND_COUNT,
};

/* "Pod", ... (the manifest's kind) */
const char *k8s_kind_name(enum k8s_kind k);

/* Sorted by key; keys unique. */
struct k8s_labels {
	size_t n;
	char **keys;
	char **vals;
};
const char *k8s_labels_get(const struct k8s_labels *l, const char *key);
/* The same keys and values (both sorted by key): 1, else 0. */
int k8s_labels_equal(const struct k8s_labels *a, const struct k8s_labels *b);

struct k8s_meta {
	char *ns;            /* "" for cluster-scoped kinds */
	char *name;
	char *uid;           /* may be "" */
	char *resource_version; /* may be "" */
	struct k8s_labels labels;
};

struct k8s_namespace {
	int unused;
};

struct k8s_node {
	size_t n_addrs;
	struct tern_addr *addrs;   /* status.addresses InternalIP/ExternalIP */
	size_t n_pod_cidrs;
	char **pod_cidrs;          /* spec.podCIDRs, as written */
};

struct k8s_container_port {
	char *name;                /* "" when unnamed */
	uint16_t port;             /* containerPort */
	uint8_t proto;             /* IPPROTO_TCP (default), _UDP, _SCTP */
};

struct k8s_pod {
	char *node_name;           /* spec.nodeName, "" if unscheduled */
	int host_network;          /* spec.hostNetwork */
	char *phase;               /* status.phase, "" if absent */
	size_t n_ips;
	struct tern_addr ips[2];   /* status.podIPs (or status.podIP): at most one per family */
	size_t n_ports;
	struct k8s_container_port *ports; /* every container's ports[] */
};

/* Filled in by the services and policy issues. */
enum k8s_service_type {
	K8S_SVC_CLUSTER_IP = 0,
	K8S_SVC_NODE_PORT,
	K8S_SVC_LOAD_BALANCER,
	K8S_SVC_EXTERNAL_NAME,   /* DNS only: no frontends */
};

struct k8s_service_port {
	char *name;                /* "" when unnamed (single-port services) */
	uint8_t proto;             /* IPPROTO_TCP (default), _UDP, _SCTP */
	uint16_t port;             /* port */
	uint16_t node_port;        /* nodePort, 0: none */
	uint16_t target_port;      /* numeric targetPort (default: port); 0 when named */
	char *target_port_name;    /* named targetPort, "" when numeric */
};

struct k8s_service {
	enum k8s_service_type type;
	int headless;              /* clusterIP: None: no frontends */
	size_t n_cluster_ips;
	struct tern_addr cluster_ips[2]; /* spec.clusterIPs (or clusterIP): one per family */
	size_t n_external_ips;
	struct tern_addr *external_ips;  /* spec.externalIPs */
	size_t n_lb_ips;
	struct tern_addr *lb_ips;        /* status.loadBalancer.ingress[].ip */
	size_t n_ports;
	struct k8s_service_port *ports;
	int affinity_client_ip;    /* spec.sessionAffinity: ClientIP */
	uint32_t affinity_timeout; /* sessionAffinityConfig.clientIP.timeoutSeconds (10800) */
	int etp_local;             /* spec.externalTrafficPolicy: Local */
	int itp_local;             /* spec.internalTrafficPolicy: Local */
};

struct k8s_eps_port {
	char *name;                /* "" when unnamed; matches the service port's name */
	uint8_t proto;
	uint16_t port;             /* 0 when absent */
};

struct k8s_eps_endpoint {
	size_t n_addrs;
	struct tern_addr *addrs;
	int ready;                 /* conditions.ready (absent: true) */
	int serving;               /* conditions.serving (absent: as ready) */
	int terminating;           /* conditions.terminating (absent: false) */
	char *node_name;           /* nodeName, "" if absent */
};

struct k8s_endpointslice {
	char *service;             /* label kubernetes.io/service-name ("" if absent) */
	int family;                /* addressType: 4 (IPv4), 6 (IPv6); 0: FQDN, ignored */
	size_t n_ports;
	struct k8s_eps_port *ports;
	size_t n_endpoints;
	struct k8s_eps_endpoint *endpoints;
};

/* A label selector (metav1.LabelSelector): every matchLabels pair and every
 * expression must hold; an empty one matches everything. */
enum k8s_sel_op {
	K8S_SEL_IN = 0,
	K8S_SEL_NOT_IN,
	K8S_SEL_EXISTS,
	K8S_SEL_DOES_NOT_EXIST,
};

struct k8s_sel_expr {
	char *key;
	enum k8s_sel_op op;
	size_t n_values;
	char **values;             /* sorted, unique; none for (Does[Not])Exist */
};

struct k8s_selector {
	struct k8s_labels match;   /* matchLabels */
	size_t n_exprs;
	struct k8s_sel_expr *exprs; /* matchExpressions, in document order */
};

/* An ipBlock's cidr or one of its except entries. */
struct k8s_cidr {
	struct tern_addr addr;     /* NBO, host bits cleared; IPv4 v4-mapped */
	uint8_t bits;              /* prefix length over the 16 bytes (IPv4 /n: 96 + n) */
	uint8_t v4;                /* written as an IPv4 CIDR */
};

/* networking.k8s.io/v1 NetworkPolicy. Directions index the arrays. */
#define K8S_NP_INGRESS 0
#define K8S_NP_EGRESS 1

struct k8s_np_peer {
	/* podSelector and/or namespaceSelector ... */
	int has_pod_sel;           /* podSelector given (empty: every pod) */
	int has_ns_sel;            /* namespaceSelector given; else the policy's namespace */
	struct k8s_selector pod_sel;
	struct k8s_selector ns_sel;
	/* ... or an ipBlock */
	int is_block;
	struct k8s_cidr cidr;
	size_t n_except;
	struct k8s_cidr *except;   /* each strictly inside cidr */
};

struct k8s_np_port {
	uint8_t proto;             /* IPPROTO_TCP (default), _UDP, _SCTP */
	uint16_t port;             /* 0: every port of proto */
	uint16_t end_port;         /* endPort, 0: none (port alone) */
	char *name;                /* a named port ("" when numeric or absent) */
};

struct k8s_np_rule {
	size_t n_peers;            /* 0: every peer (from/to absent or empty) */
	struct k8s_np_peer *peers;
	size_t n_ports;            /* 0: every port and protocol */
	struct k8s_np_port *ports;
};

struct k8s_networkpolicy {
	struct k8s_selector pod_sel; /* spec.podSelector: the pods it isolates */
	int types[2];              /* policyTypes, defaults applied */
	size_t n_rules[2];
	struct k8s_np_rule *rules[2];
};

struct k8s_object {
	enum k8s_kind kind;
	struct k8s_meta meta;
	union {
		struct k8s_namespace ns;
		struct k8s_node node;
		struct k8s_pod pod;
		struct k8s_service svc;
		struct k8s_endpointslice eps;
		struct k8s_networkpolicy np;
	};
};

/* Decode one manifest. Returns 0 with *out set; 1 with *out NULL for a kind
 * tern does not use (apiVersion/kind recognised but not needed, e.g. a
 * ConfigMap; also a List, which is not an object: see k8s_decode_list);
 * -EINVAL with err naming the object once known, the field and the problem
 * ("Pod default/web: status.podIPs[1].ip: \"10.0.0.300\" is not an IP
 * address") and the offending node's line/col; -ENOMEM. */
int k8s_decode(const struct doc_node *doc, struct k8s_object **out, struct doc_error *err);

/* One object of a document, or why one of its objects was bad. */
struct k8s_item {
	struct k8s_object *obj;    /* NULL when this item failed */
	struct doc_error err;      /* obj == NULL: as from k8s_decode */
};

/* Decode a document that is either one manifest or a list of them: kind
 * List (apiVersion v1, items[] of whole manifests, as `kubectl get -o yaml`
 * writes several objects), or a typed list such as PodList (what the API
 * server returns; its items may leave out apiVersion and kind, which then
 * default to the list's). Each object and each bad item is one entry, in
 * document order; a bad item does not stop the others, and kinds tern does
 * not use are left out (a typed list of them entirely). Returns 0 with
 * *items (NULL when *n is 0) to free with k8s_items_free, or -ENOMEM. */
int k8s_decode_list(const struct doc_node *doc, struct k8s_item **items, size_t *n);
void k8s_items_free(struct k8s_item *items, size_t n);
void k8s_object_free(struct k8s_object *o);
/* Deep equality of the decoded fields (not resourceVersion): lets the
 * model skip no-op updates. */
int k8s_object_equal(const struct k8s_object *a, const struct k8s_object *b);

/* Parse "10.0.0.1" or "fd00::1" into a tern_addr; 0 or -EINVAL. */
int tern_addr_parse(const char *s, struct tern_addr *out);
/* Format into buf (INET6_ADDRSTRLEN at least); v4-mapped prints as IPv4. */
const char *tern_addr_str(const struct tern_addr *a, char *buf, size_t len);

#endif
