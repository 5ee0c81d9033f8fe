/* Internal to the manifest decoders (agent/k8s.c and the per-kind files such
 * as agent/k8s_svc.c): the decoding state, typed access with field-path
 * errors, the API server's name rules, and each kind's decode/equal/free. */
#ifndef TERN_K8S_DEC_H
#define TERN_K8S_DEC_H

#include "agent/doc.h"
#include "agent/k8s.h"

/* Decoding state: where errors go, and the object they are about. */
struct dec {
	struct doc_error *err;
	const char *kind; /* NULL until known */
	const char *ns;   /* NULL until metadata is valid */
	const char *name;
};

/* Fill the error, "Kind ns/name: " + fmt, at node at; returns -EINVAL. */
__attribute__((format(printf, 3, 4)))
int dec_fail(struct dec *d, const struct doc_node *at, const char *fmt, ...);
/* "out of memory"; returns -ENOMEM. */
int dec_oom(struct dec *d);
/* map[key] if it is of type want; *out NULL when absent or null (a null
 * map is fine too); -EINVAL naming path when of another type. */
int dec_child(struct dec *d, const struct doc_node *map, const char *key, const char *path,
	      enum doc_type want, const struct doc_node **out);
/* seq->items[i] must be a map; -EINVAL naming path[i] when not. */
int dec_item_map(struct dec *d, const struct doc_node *seq, size_t i, const char *path);

/* The API server's rules: NULL when s is valid, else why not (a phrase to
 * follow s in a message: "is not a valid DNS-1123 label (...)"). */
const char *check_dns_label(const char *s);
const char *check_dns_subdomain(const char *s);
/* IANA_SVC_NAME (container port names, named targetPorts); "" is valid
 * (unnamed). */
const char *check_port_name(const char *s);
/* Label keys (an optional DNS subdomain and '/', then a name) and values. */
const char *check_label_key(const char *s);
const char *check_label_value(const char *s);

/* agent/k8s_svc.c: v1 Service and discovery.k8s.io/v1 EndpointSlice. */
int k8s_service_decode(struct dec *d, const struct doc_node *doc, struct k8s_object *o);
int k8s_service_equal(const struct k8s_service *a, const struct k8s_service *b);
void k8s_service_free(struct k8s_service *s);
int k8s_eps_decode(struct dec *d, const struct doc_node *doc, struct k8s_object *o);
int k8s_eps_equal(const struct k8s_endpointslice *a, const struct k8s_endpointslice *b);
void k8s_eps_free(struct k8s_endpointslice *e);

/* agent/k8s_netpol.c: networking.k8s.io/v1 NetworkPolicy. */
int k8s_netpol_decode(struct dec *d, const struct doc_node *doc, struct k8s_object *o);
int k8s_netpol_equal(const struct k8s_networkpolicy *a, const struct k8s_networkpolicy *b);
void k8s_netpol_free(struct k8s_networkpolicy *np);

#endif
