/* The rule model: for each local endpoint and direction, whether a policy
 * isolates it and the ordered rules that allow traffic, and the ipsets
 * those rules name. A pure function of the Kubernetes model: the same
 * objects give the same rules, in the same order, with the same text. */
#ifndef TERN_POLICY_RULES_H
#define TERN_POLICY_RULES_H

#include <stddef.h>
#include <stdint.h>

#include "agent/model.h"

/* What a set's members are. */
enum pol_set_kind {
	POL_SET_PODS,  /* the IPs of pods a selector pair picks */
	POL_SET_CIDR,  /* an ipBlock: a prefix, minus its excepts */
	POL_SET_PORT,  /* (IP, port, protocol) of pods' container ports of one name */
	POL_SET_NODE,  /* the addresses of this node */
};

struct pol_set {
	char *def;                 /* canonical definition: the id derives from it */
	uint32_t id;               /* assigned by ipset_ids__assign; 0 until then */
	enum pol_set_kind kind;
	/* POL_SET_PODS: pods of namespace ns, or (ns NULL) of the namespaces
	 * ns_sel selects, that pod_sel selects (NULL: every pod) */
	const char *ns;
	const struct k8s_selector *ns_sel;
	const struct k8s_selector *pod_sel;
	/* POL_SET_CIDR */
	const struct k8s_np_peer *block;
	/* POL_SET_PORT */
	const char *port_name;
	uint8_t proto;
	/* POL_SET_NODE */
	const char *node;
};

/* One allowed port range of a protocol, or a named-port set. */
struct pol_port {
	uint8_t proto;             /* IPPROTO_TCP, _UDP, _SCTP */
	uint16_t lo, hi;           /* host order, inclusive; 0-65535: every port */
	size_t set;                /* egress named port: index into sets + 1; 0: lo..hi */
	uint32_t set_id;           /* that set's id, once assigned */
};

/* A rule allows a flow when its peer is in any of its sets (or it names no
 * peers) and its port matches any of its ports (or it names none). */
struct pol_rule {
	char *desc;                /* "x/web ingress[0]: from ...; ports ..." */
	int never;                 /* can match nothing: compiled to no code */
	size_t n_peers;            /* 0: every peer */
	size_t *peers;             /* indices into sets */
	uint32_t *peer_ids;        /* their ids, once assigned */
	size_t n_ports;            /* 0: every port and protocol */
	struct pol_port *ports;
};

struct pol_dir {
	int isolated;              /* some policy selects the pod for this direction */
	size_t n_rules;
	struct pol_rule *rules;
};

/* A local endpoint, as the reconciler knows it. */
struct pol_ep_in {
	uint32_t ep_id;
	const struct k8s_object *pod;
	int held;                  /* the maps hold entries of it (with this id)
	                            * from an earlier run; 0: new */
};

struct pol_ep {
	uint32_t ep_id;
	const struct k8s_object *pod;
	struct pol_dir dir[2];     /* TERN_POL_INGRESS, TERN_POL_EGRESS */
};

/* Valid while the model it was built from is unchanged. */
struct pol_model {
	size_t n_eps;
	struct pol_ep *eps;        /* in the order given */
	size_t n_sets;
	struct pol_set *sets;      /* in order of first use */
};

/* Build the rules of each endpoint in eps. node: this node's name (its
 * addresses are always allowed in: the kubelet's probes). 0 or -ENOMEM. */
int pol_model_build(const struct model *m, const char *node, const struct pol_ep_in *eps,
		    size_t n, struct pol_model *out);
/* Copy the sets' ids into the rules that name them. */
void pol_model_resolve(struct pol_model *pm);
void pol_model_free(struct pol_model *pm);

/* A namespace's labels as selectors see them: the Namespace object's,
 * plus kubernetes.io/metadata.name, which the API server always sets.
 * Fills l (free with pol_labels_free); 0 or -ENOMEM. */
int pol_ns_labels(const struct model *m, const char *ns, struct k8s_labels *l);
void pol_labels_free(struct k8s_labels *l);

/* A pod that takes part in policy: it has IPs on the pod network and runs. */
int pol_pod_counts(const struct k8s_object *pod);

/* "TCP", "UDP", "SCTP", else the number */
const char *pol_proto_name(uint8_t proto, char buf[8]);

#endif
