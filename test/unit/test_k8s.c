/* Unit tests for agent/k8s.c: decoding manifests as `kubectl get -o yaml`
 * writes them, Lists, validation errors with field paths and positions,
 * labels, equality and addresses. */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>

#include "agent/doc.h"
#include "agent/k8s.h"
#include "test/unit/unit.h"

/* kubectl get pod -o yaml, trimmed only of repetition */
static const char pod_yaml[] =
	"apiVersion: v1\n"
	"kind: Pod\n"
	"metadata:\n"
	"  annotations:\n"
	"    kubectl.kubernetes.io/restartedAt: \"2024-05-01T10:00:00Z\"\n"
	"  creationTimestamp: \"2024-05-01T10:00:05Z\"\n"
	"  generateName: web-7d4b9c8f6d-\n"
	"  labels:\n"
	"    pod-template-hash: 7d4b9c8f6d\n"
	"    app: web\n"
	"    app.kubernetes.io/part-of: shop\n"
	"  managedFields:\n"
	"  - apiVersion: v1\n"
	"    fieldsType: FieldsV1\n"
	"    fieldsV1:\n"
	"      f:metadata:\n"
	"        f:generateName: {}\n"
	"        f:labels:\n"
	"          .: {}\n"
	"          f:app: {}\n"
	"      f:spec:\n"
	"        f:containers:\n"
	"          k:{\"name\":\"nginx\"}:\n"
	"            .: {}\n"
	"            f:ports:\n"
	"              k:{\"containerPort\":80,\"protocol\":\"TCP\"}:\n"
	"                .: {}\n"
	"    manager: kube-controller-manager\n"
	"    operation: Update\n"
	"    time: \"2024-05-01T10:00:05Z\"\n"
	"  - apiVersion: v1\n"
	"    fieldsType: FieldsV1\n"
	"    fieldsV1:\n"
	"      f:status:\n"
	"        f:podIPs:\n"
	"          k:{\"ip\":\"10.244.1.23\"}:\n"
	"            .: {}\n"
	"            f:ip: {}\n"
	"    manager: kubelet\n"
	"    operation: Update\n"
	"    subresource: status\n"
	"    time: \"2024-05-01T10:00:07Z\"\n"
	"  name: web-7d4b9c8f6d-x2k9p\n"
	"  namespace: shop\n"
	"  ownerReferences:\n"
	"  - apiVersion: apps/v1\n"
	"    blockOwnerDeletion: true\n"
	"    controller: true\n"
	"    kind: ReplicaSet\n"
	"    name: web-7d4b9c8f6d\n"
	"    uid: 2b1f7c9e-0d7e-4c7f-a1e5-3f2d8c9b0a11\n"
	"  resourceVersion: \"123456\"\n"
	"  uid: 9f8e7d6c-5b4a-4c3d-9e2f-1a0b9c8d7e6f\n"
	"spec:\n"
	"  containers:\n"
	"  - image: nginx:1.25\n"
	"    imagePullPolicy: IfNotPresent\n"
	"    name: nginx\n"
	"    ports:\n"
	"    - containerPort: 80\n"
	"      name: http\n"
	"      protocol: TCP\n"
	"    - containerPort: 9113\n"
	"      name: metrics\n"
	"      protocol: TCP\n"
	"    resources: {}\n"
	"    terminationMessagePath: /dev/termination-log\n"
	"    terminationMessagePolicy: File\n"
	"    volumeMounts:\n"
	"    - mountPath: /var/run/secrets/kubernetes.io/serviceaccount\n"
	"      name: kube-api-access-7xq2m\n"
	"      readOnly: true\n"
	"  - image: coredns/coredns:1.11.1\n"
	"    name: dns\n"
	"    ports:\n"
	"    - containerPort: 53\n"
	"      protocol: UDP\n"
	"    - containerPort: 3868\n"
	"      name: diameter\n"
	"      protocol: SCTP\n"
	"  dnsPolicy: ClusterFirst\n"
	"  enableServiceLinks: true\n"
	"  nodeName: node-1\n"
	"  preemptionPolicy: PreemptLowerPriority\n"
	"  priority: 0\n"
	"  restartPolicy: Always\n"
	"  schedulerName: default-scheduler\n"
	"  securityContext: {}\n"
	"  serviceAccount: default\n"
	"  serviceAccountName: default\n"
	"  terminationGracePeriodSeconds: 30\n"
	"  tolerations:\n"
	"  - effect: NoExecute\n"
	"    key: node.kubernetes.io/not-ready\n"
	"    operator: Exists\n"
	"    tolerationSeconds: 300\n"
	"  volumes:\n"
	"  - name: kube-api-access-7xq2m\n"
	"    projected:\n"
	"      defaultMode: 420\n"
	"      sources:\n"
	"      - serviceAccountToken:\n"
	"          expirationSeconds: 3607\n"
	"          path: token\n"
	"status:\n"
	"  conditions:\n"
	"  - lastProbeTime: null\n"
	"    lastTransitionTime: \"2024-05-01T10:00:05Z\"\n"
	"    status: \"True\"\n"
	"    type: Initialized\n"
	"  - lastProbeTime: null\n"
	"    lastTransitionTime: \"2024-05-01T10:00:07Z\"\n"
	"    status: \"True\"\n"
	"    type: Ready\n"
	"  containerStatuses:\n"
	"  - containerID: containerd://4f3c2b1a\n"
	"    image: docker.io/library/nginx:1.25\n"
	"    lastState: {}\n"
	"    name: nginx\n"
	"    ready: true\n"
	"    restartCount: 0\n"
	"    started: true\n"
	"    state:\n"
	"      running:\n"
	"        startedAt: \"2024-05-01T10:00:06Z\"\n"
	"  hostIP: 192.168.1.10\n"
	"  hostIPs:\n"
	"  - ip: 192.168.1.10\n"
	"  phase: Running\n"
	"  podIP: 10.244.1.23\n"
	"  podIPs:\n"
	"  - ip: 10.244.1.23\n"
	"  - ip: fd00:10:244:1::17\n"
	"  qosClass: BestEffort\n"
	"  startTime: \"2024-05-01T10:00:05Z\"\n";

static const char node_yaml[] =
	"apiVersion: v1\n"
	"kind: Node\n"
	"metadata:\n"
	"  annotations:\n"
	"    node.alpha.kubernetes.io/ttl: \"0\"\n"
	"    volumes.kubernetes.io/controller-managed-attach-detach: \"true\"\n"
	"  creationTimestamp: \"2024-04-30T08:00:00Z\"\n"
	"  labels:\n"
	"    beta.kubernetes.io/arch: amd64\n"
	"    kubernetes.io/hostname: node-1\n"
	"    kubernetes.io/os: linux\n"
	"    node-role.kubernetes.io/control-plane: \"\"\n"
	"  name: node-1\n"
	"  namespace: ignored-for-nodes\n"
	"  resourceVersion: \"98765\"\n"
	"  uid: 11111111-2222-3333-4444-555555555555\n"
	"spec:\n"
	"  podCIDR: 10.244.1.0/24\n"
	"  podCIDRs:\n"
	"  - 10.244.1.0/24\n"
	"  - fd00:10:244:1::/64\n"
	"  taints:\n"
	"  - effect: NoSchedule\n"
	"    key: node-role.kubernetes.io/control-plane\n"
	"status:\n"
	"  addresses:\n"
	"  - address: 192.168.1.10\n"
	"    type: InternalIP\n"
	"  - address: 2001:db8::10\n"
	"    type: InternalIP\n"
	"  - address: node-1\n"
	"    type: Hostname\n"
	"  - address: 203.0.113.7\n"
	"    type: ExternalIP\n"
	"  allocatable:\n"
	"    cpu: \"4\"\n"
	"    memory: 16Gi\n"
	"  conditions:\n"
	"  - lastHeartbeatTime: \"2024-05-01T10:00:00Z\"\n"
	"    message: kubelet is posting ready status\n"
	"    reason: KubeletReady\n"
	"    status: \"True\"\n"
	"    type: Ready\n"
	"  nodeInfo:\n"
	"    kubeletVersion: v1.30.0\n";

static struct doc_node *parse(const char *yaml)
{
	struct doc_node *doc = NULL;
	struct doc_error err;

	if (doc_parse_yaml(yaml, strlen(yaml), &doc, &err)) {
		fprintf(stderr, "  fixture does not parse: %d:%d: %s\n", err.line, err.col,
			err.msg);
		return NULL;
	}
	return doc;
}

/* Decode yaml; the return code and (on 0) the object. */
static int decode(const char *yaml, struct k8s_object **out, struct doc_error *err)
{
	struct doc_node *doc = parse(yaml);
	int ret;

	*out = NULL;
	if (!doc)
		return -1000;
	ret = k8s_decode(doc, out, err);
	doc_free(doc);
	return ret;
}

/* yaml must fail with a message starting with want, at line:col. */
static void expect_err_at(const char *file, int at, const char *yaml, const char *want,
			  int line, int col)
{
	struct k8s_object *o;
	struct doc_error err;
	int ret = decode(yaml, &o, &err);

	if (ret != -EINVAL || strncmp(err.msg, want, strlen(want)) != 0 ||
	    (line && err.line != line) || (col && err.col != col)) {
		fprintf(stderr, "  %s:%d: got %d %d:%d \"%s\"\n  want -EINVAL %d:%d \"%s...\"\n",
			file, at, ret, err.line, err.col, ret == -EINVAL ? err.msg : "", line, col,
			want);
		unit_failed_checks++;
	}
	k8s_object_free(o);
}
#define EXPECT_ERR(yaml, want, line, col) expect_err_at(__FILE__, __LINE__, yaml, want, line, col)

#define POD_HEAD "apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n  namespace: default\n"

static const char *addr_str(const struct tern_addr *a)
{
	static char buf[INET6_ADDRSTRLEN];

	return tern_addr_str(a, buf, sizeof(buf));
}

static void pod_full(void)
{
	struct k8s_object *o;
	struct doc_error err;
	const struct k8s_pod *p;

	CHECK_INT(decode(pod_yaml, &o, &err), 0);
	if (!o)
		return;
	p = &o->pod;
	CHECK_INT(o->kind, K8S_POD);
	CHECK_STR(k8s_kind_name(o->kind), "Pod");
	CHECK_STR(o->meta.ns, "shop");
	CHECK_STR(o->meta.name, "web-7d4b9c8f6d-x2k9p");
	CHECK_STR(o->meta.uid, "9f8e7d6c-5b4a-4c3d-9e2f-1a0b9c8d7e6f");
	CHECK_STR(o->meta.resource_version, "123456");
	/* labels sorted by key */
	CHECK_INT(o->meta.labels.n, 3);
	CHECK_STR(o->meta.labels.keys[0], "app");
	CHECK_STR(o->meta.labels.keys[1], "app.kubernetes.io/part-of");
	CHECK_STR(o->meta.labels.keys[2], "pod-template-hash");
	CHECK_STR(k8s_labels_get(&o->meta.labels, "app"), "web");
	CHECK_STR(k8s_labels_get(&o->meta.labels, "pod-template-hash"), "7d4b9c8f6d");
	CHECK(k8s_labels_get(&o->meta.labels, "tier") == NULL);
	CHECK_STR(p->node_name, "node-1");
	CHECK_INT(p->host_network, 0);
	CHECK_STR(p->phase, "Running");
	CHECK_INT(p->n_ips, 2);
	CHECK(tern_addr_is_v4(&p->ips[0]));
	CHECK_STR(addr_str(&p->ips[0]), "10.244.1.23");
	CHECK(!tern_addr_is_v4(&p->ips[1]));
	CHECK_STR(addr_str(&p->ips[1]), "fd00:10:244:1::17");
	CHECK_INT(p->n_ports, 4);
	if (p->n_ports == 4) {
		CHECK_STR(p->ports[0].name, "http");
		CHECK_INT(p->ports[0].port, 80);
		CHECK_INT(p->ports[0].proto, IPPROTO_TCP);
		CHECK_STR(p->ports[1].name, "metrics");
		CHECK_INT(p->ports[1].port, 9113);
		CHECK_STR(p->ports[2].name, "");
		CHECK_INT(p->ports[2].port, 53);
		CHECK_INT(p->ports[2].proto, IPPROTO_UDP);
		CHECK_STR(p->ports[3].name, "diameter");
		CHECK_INT(p->ports[3].proto, IPPROTO_SCTP);
	}
	k8s_object_free(o);
}

static void pod_families(void)
{
	struct k8s_object *o;
	struct doc_error err;

	/* IPv4 only, from the podIP fallback; protocol defaults to TCP */
	CHECK_INT(decode(POD_HEAD "spec:\n  hostNetwork: true\n  containers:\n"
			 "  - name: c\n    ports:\n    - containerPort: 8080\n"
			 "status:\n  podIP: 10.0.0.5\n", &o, &err), 0);
	if (o) {
		CHECK_INT(o->pod.n_ips, 1);
		CHECK_STR(addr_str(&o->pod.ips[0]), "10.0.0.5");
		CHECK_INT(o->pod.host_network, 1);
		CHECK_INT(o->pod.n_ports, 1);
		CHECK_INT(o->pod.ports[0].proto, IPPROTO_TCP);
		CHECK_STR(o->pod.node_name, "");
		CHECK_STR(o->pod.phase, "");
		k8s_object_free(o);
	}
	/* IPv6 only */
	CHECK_INT(decode(POD_HEAD "status:\n  podIPs:\n  - ip: fd00::5\n", &o, &err), 0);
	if (o) {
		CHECK_INT(o->pod.n_ips, 1);
		CHECK(!tern_addr_is_v4(&o->pod.ips[0]));
		CHECK_STR(addr_str(&o->pod.ips[0]), "fd00::5");
		k8s_object_free(o);
	}
	/* IPv6 first in a dual-stack cluster */
	CHECK_INT(decode(POD_HEAD "status:\n  podIPs:\n  - ip: fd00::5\n  - ip: 10.0.0.5\n", &o,
			 &err), 0);
	if (o) {
		CHECK_INT(o->pod.n_ips, 2);
		CHECK_STR(addr_str(&o->pod.ips[0]), "fd00::5");
		CHECK_STR(addr_str(&o->pod.ips[1]), "10.0.0.5");
		k8s_object_free(o);
	}
	/* pending: no IPs, no namespace given */
	CHECK_INT(decode("apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n"
			 "status:\n  phase: Pending\n", &o, &err), 0);
	if (o) {
		CHECK_STR(o->meta.ns, "default");
		CHECK_INT(o->pod.n_ips, 0);
		CHECK_STR(o->pod.phase, "Pending");
		CHECK_INT(o->meta.labels.n, 0);
		CHECK_STR(o->meta.uid, "");
		k8s_object_free(o);
	}
}

static void node_full(void)
{
	struct k8s_object *o;
	struct doc_error err;

	CHECK_INT(decode(node_yaml, &o, &err), 0);
	if (!o)
		return;
	CHECK_INT(o->kind, K8S_NODE);
	CHECK_STR(o->meta.ns, "");
	CHECK_STR(o->meta.name, "node-1");
	CHECK_STR(k8s_labels_get(&o->meta.labels, "node-role.kubernetes.io/control-plane"), "");
	CHECK_INT(o->node.n_addrs, 3);
	if (o->node.n_addrs == 3) {
		CHECK_STR(addr_str(&o->node.addrs[0]), "192.168.1.10");
		CHECK_STR(addr_str(&o->node.addrs[1]), "2001:db8::10");
		CHECK_STR(addr_str(&o->node.addrs[2]), "203.0.113.7");
	}
	CHECK_INT(o->node.n_pod_cidrs, 2);
	if (o->node.n_pod_cidrs == 2) {
		CHECK_STR(o->node.pod_cidrs[0], "10.244.1.0/24");
		CHECK_STR(o->node.pod_cidrs[1], "fd00:10:244:1::/64");
	}
	k8s_object_free(o);

	/* only the old single podCIDR */
	CHECK_INT(decode("apiVersion: v1\nkind: Node\nmetadata:\n  name: n2\n"
			 "spec:\n  podCIDR: 10.244.2.0/24\n", &o, &err), 0);
	if (o) {
		CHECK_INT(o->node.n_pod_cidrs, 1);
		CHECK_STR(o->node.pod_cidrs[0], "10.244.2.0/24");
		CHECK_INT(o->node.n_addrs, 0);
		k8s_object_free(o);
	}
}

static void other_kinds(void)
{
	struct k8s_object *o;
	struct doc_error err;

	CHECK_INT(decode("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n"
			 "  labels:\n    kubernetes.io/metadata.name: shop\n"
			 "spec:\n  finalizers:\n  - kubernetes\nstatus:\n  phase: Active\n",
			 &o, &err), 0);
	if (o) {
		CHECK_INT(o->kind, K8S_NAMESPACE);
		CHECK_STR(o->meta.ns, "");
		CHECK_STR(k8s_labels_get(&o->meta.labels, "kubernetes.io/metadata.name"), "shop");
		k8s_object_free(o);
	}
	CHECK_INT(decode("apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n"
			 "  namespace: shop\nspec:\n  clusterIP: 10.96.0.10\n", &o, &err), 0);
	if (o) {
		CHECK_INT(o->kind, K8S_SERVICE);
		CHECK_STR(o->meta.ns, "shop");
		k8s_object_free(o);
	}
	CHECK_INT(decode("apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n"
			 "metadata:\n  name: web-abc12\n  labels:\n"
			 "    kubernetes.io/service-name: web\naddressType: IPv4\n"
			 "endpoints: []\n", &o, &err), 0);
	if (o) {
		CHECK_INT(o->kind, K8S_ENDPOINTSLICE);
		CHECK_STR(k8s_kind_name(o->kind), "EndpointSlice");
		k8s_object_free(o);
	}
	CHECK_INT(decode("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
			 "metadata:\n  name: deny-all\n  namespace: shop\n"
			 "spec:\n  podSelector: {}\n", &o, &err), 0);
	if (o) {
		CHECK_INT(o->kind, K8S_NETWORKPOLICY);
		k8s_object_free(o);
	}
	/* kinds tern does not use */
	CHECK_INT(decode("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n"
			 "data:\n  a: b\n", &o, &err), 1);
	CHECK(o == NULL);
	CHECK_INT(decode("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\n", &o,
			 &err), 1);
	CHECK_INT(decode("apiVersion: v1\nkind: List\nitems: []\n", &o, &err), 1);
	CHECK_STR(k8s_kind_name(K8S_UNKNOWN), "Unknown");
}

static void errors_object(void)
{
	EXPECT_ERR("just a string\n", "a manifest must be a map", 1, 1);
	EXPECT_ERR("apiVersion: v1\nmetadata:\n  name: x\n", "kind: missing", 1, 1);
	EXPECT_ERR("kind: Pod\nmetadata:\n  name: x\n", "apiVersion: missing", 1, 1);
	EXPECT_ERR("apiVersion: apps/v1\nkind: Pod\nmetadata:\n  name: x\n",
		   "Pod: apiVersion: \"apps/v1\" does not serve kind Pod (want \"v1\")", 1, 13);
	EXPECT_ERR("apiVersion: v1\nkind: EndpointSlice\nmetadata:\n  name: x\n",
		   "EndpointSlice: apiVersion: \"v1\" does not serve kind EndpointSlice "
		   "(want \"discovery.k8s.io/v1\")", 1, 13);
	EXPECT_ERR("apiVersion: [v1]\nkind: Pod\n", "apiVersion: must be a scalar", 1, 13);
	EXPECT_ERR("apiVersion: v1\nkind: Pod\n", "Pod: metadata: missing", 1, 1);
	EXPECT_ERR("apiVersion: v1\nkind: Pod\nmetadata: [a]\n", "Pod: metadata: must be a map",
		   3, 11);
	EXPECT_ERR("apiVersion: v1\nkind: Pod\nmetadata:\n  namespace: default\n",
		   "Pod: metadata.name: missing", 4, 3);
	EXPECT_ERR("apiVersion: v1\nkind: Pod\nmetadata:\n  name: Web_1\n",
		   "Pod: metadata.name: \"Web_1\" is not a valid DNS-1123 subdomain", 4, 9);
	EXPECT_ERR("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a.b\n",
		   "Namespace: metadata.name: \"a.b\" is not a valid DNS-1123 label", 4, 9);
	EXPECT_ERR("apiVersion: v1\nkind: Service\nmetadata:\n  name: 1web\n",
		   "Service: metadata.name: \"1web\" is not a valid DNS-1035 label", 4, 9);
	EXPECT_ERR("apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n  namespace: Shop\n",
		   "Pod: metadata.namespace: \"Shop\" is not a valid DNS-1123 label", 5, 14);
	EXPECT_ERR("apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n  namespace: "
		   "a1234567890123456789012345678901234567890123456789012345678901234\n",
		   "Pod: metadata.namespace: \"a1234567890123456789012345678901234567890123456789"
		   "012345678901234\" is longer than 63 characters", 5, 14);
}

static void errors_labels(void)
{
	EXPECT_ERR(POD_HEAD "  labels: [app]\n", "Pod default/x: metadata.labels: must be a map",
		   6, 11);
	EXPECT_ERR(POD_HEAD "  labels:\n    -app: web\n",
		   "Pod default/x: metadata.labels: key \"-app\" is not a valid label key", 7, 5);
	EXPECT_ERR(POD_HEAD "  labels:\n    Example.com/app: web\n",
		   "Pod default/x: metadata.labels: key \"Example.com/app\" has a prefix that is "
		   "not a valid DNS-1123 subdomain", 7, 5);
	EXPECT_ERR(POD_HEAD "  labels:\n    example.com/: web\n",
		   "Pod default/x: metadata.labels: key \"example.com/\" has an empty name", 7, 5);
	EXPECT_ERR(POD_HEAD "  labels:\n    a/b/c: web\n",
		   "Pod default/x: metadata.labels: key \"a/b/c\" is not a valid label key", 7, 5);
	EXPECT_ERR(POD_HEAD "  labels:\n    "
		   "k234567890123456789012345678901234567890123456789012345678901234: v\n",
		   "Pod default/x: metadata.labels: key \"k2345678901234567890123456789012345678901"
		   "23456789012345678901234\" has a name longer than 63 characters", 7, 5);
	EXPECT_ERR(POD_HEAD "  labels:\n    app: \"web server\"\n",
		   "Pod default/x: metadata.labels.app: \"web server\" is not a valid label value",
		   7, 10);
	EXPECT_ERR(POD_HEAD "  labels:\n    app: web-\n",
		   "Pod default/x: metadata.labels.app: \"web-\" is not a valid label value", 7,
		   10);
	EXPECT_ERR(POD_HEAD "  labels:\n    app: "
		   "v234567890123456789012345678901234567890123456789012345678901234\n",
		   "Pod default/x: metadata.labels.app: \"v2345678901234567890123456789012345678901"
		   "23456789012345678901234\" is longer than 63 characters", 7, 10);
	EXPECT_ERR(POD_HEAD "  labels:\n    app: {a: b}\n",
		   "Pod default/x: metadata.labels.app: must be a string", 7, 10);
}

static void labels_valid(void)
{
	struct k8s_object *o;
	struct doc_error err;

	/* 63-character names and values, a 253-character-class prefix, '_'
	 * and '.' inside, empty values, upper case in names and values */
	CHECK_INT(decode(POD_HEAD "  labels:\n"
			 "    my.company-1.example.com/Tier_Name.v2: Front_end.1\n"
			 "    k23456789012345678901234567890123456789012345678901234567890123: "
			 "v23456789012345678901234567890123456789012345678901234567890123\n"
			 "    empty: \"\"\n"
			 "    nothing:\n"
			 "    \"8\": \"9\"\n", &o, &err), 0);
	if (!o) {
		fprintf(stderr, "  %s\n", err.msg);
		return;
	}
	CHECK_INT(o->meta.labels.n, 5);
	CHECK_STR(o->meta.labels.keys[0], "8");
	CHECK_STR(k8s_labels_get(&o->meta.labels, "empty"), "");
	CHECK_STR(k8s_labels_get(&o->meta.labels, "nothing"), "");
	CHECK_STR(k8s_labels_get(&o->meta.labels, "my.company-1.example.com/Tier_Name.v2"),
		  "Front_end.1");
	for (size_t i = 1; i < o->meta.labels.n; i++)
		CHECK(strcmp(o->meta.labels.keys[i - 1], o->meta.labels.keys[i]) < 0);
	for (size_t i = 0; i < o->meta.labels.n; i++)
		CHECK(k8s_labels_get(&o->meta.labels, o->meta.labels.keys[i]) ==
		      o->meta.labels.vals[i]);
	CHECK(k8s_labels_get(&o->meta.labels, "a") == NULL);
	CHECK(k8s_labels_get(&o->meta.labels, "zzz") == NULL);
	k8s_object_free(o);
}

static void errors_pod(void)
{
	EXPECT_ERR(POD_HEAD "spec: []\n", "Pod default/x: spec: must be a map", 6, 7);
	EXPECT_ERR(POD_HEAD "spec:\n  nodeName: Node_1\n",
		   "Pod default/x: spec.nodeName: \"Node_1\" is not a valid DNS-1123 subdomain",
		   7, 13);
	EXPECT_ERR(POD_HEAD "spec:\n  hostNetwork: maybe\n",
		   "Pod default/x: spec.hostNetwork: \"maybe\" is not true or false", 7, 16);
	EXPECT_ERR(POD_HEAD "status:\n  podIPs: 10.0.0.1\n",
		   "Pod default/x: status.podIPs: must be a list", 7, 11);
	EXPECT_ERR(POD_HEAD "status:\n  podIPs:\n  - 10.0.0.1\n",
		   "Pod default/x: status.podIPs[0]: must be a map", 8, 5);
	EXPECT_ERR(POD_HEAD "status:\n  podIPs:\n  - ip: 10.0.0.1\n  - {}\n",
		   "Pod default/x: status.podIPs[1].ip: missing", 9, 5);
	EXPECT_ERR(POD_HEAD "status:\n  podIPs:\n  - ip: 10.0.0.1\n  - ip: 10.0.0.300\n",
		   "Pod default/x: status.podIPs[1].ip: \"10.0.0.300\" is not an IP address", 9,
		   9);
	EXPECT_ERR(POD_HEAD "status:\n  podIPs:\n  - ip: 10.0.0.1/32\n",
		   "Pod default/x: status.podIPs[0].ip: \"10.0.0.1/32\" is not an IP address", 8,
		   9);
	EXPECT_ERR(POD_HEAD "status:\n  podIPs:\n  - ip: 10.0.0.1\n  - ip: 10.0.0.2\n",
		   "Pod default/x: status.podIPs[1].ip: \"10.0.0.2\" is a second IPv4 address", 9,
		   9);
	EXPECT_ERR(POD_HEAD "status:\n  podIPs:\n  - ip: fd00::1\n  - ip: 10.0.0.1\n"
		   "  - ip: fd00::2\n",
		   "Pod default/x: status.podIPs[2].ip: \"fd00::2\" is a second IPv6 address", 10,
		   9);
	EXPECT_ERR(POD_HEAD "status:\n  podIP: fd00::zz\n",
		   "Pod default/x: status.podIP: \"fd00::zz\" is not an IP address", 7, 10);
}

#define PORTS_HEAD POD_HEAD "spec:\n  containers:\n  - name: a\n  - name: b\n    ports:\n"

static void errors_ports(void)
{
	EXPECT_ERR(POD_HEAD "spec:\n  containers: {}\n",
		   "Pod default/x: spec.containers: must be a list", 7, 15);
	EXPECT_ERR(POD_HEAD "spec:\n  containers:\n  - nginx\n",
		   "Pod default/x: spec.containers[0]: must be a map", 8, 5);
	EXPECT_ERR(POD_HEAD "spec:\n  containers:\n  - name: a\n    ports: 80\n",
		   "Pod default/x: spec.containers[0].ports: must be a list", 9, 12);
	EXPECT_ERR(PORTS_HEAD "    - containerPort: 80\n    - protocol: TCP\n",
		   "Pod default/x: spec.containers[1].ports[1].containerPort: missing", 12, 7);
	EXPECT_ERR(PORTS_HEAD "    - containerPort: 0\n",
		   "Pod default/x: spec.containers[1].ports[0].containerPort: \"0\" is not a port "
		   "number (1-65535)", 11, 22);
	EXPECT_ERR(PORTS_HEAD "    - containerPort: 65536\n",
		   "Pod default/x: spec.containers[1].ports[0].containerPort: \"65536\" is not a "
		   "port number", 11, 22);
	EXPECT_ERR(PORTS_HEAD "    - containerPort: \"80\"\n",
		   "Pod default/x: spec.containers[1].ports[0].containerPort: \"80\" is not a port "
		   "number", 11, 22);
	EXPECT_ERR(PORTS_HEAD "    - containerPort: 80\n      protocol: tcp\n",
		   "Pod default/x: spec.containers[1].ports[0].protocol: \"tcp\" is not TCP, UDP "
		   "or SCTP", 12, 17);
	EXPECT_ERR(PORTS_HEAD "    - containerPort: 80\n      name: http-metrics-port\n",
		   "Pod default/x: spec.containers[1].ports[0].name: \"http-metrics-port\" is "
		   "longer than 15 characters", 12, 13);
	EXPECT_ERR(PORTS_HEAD "    - containerPort: 80\n      name: \"8080\"\n",
		   "Pod default/x: spec.containers[1].ports[0].name: \"8080\" is not a valid port "
		   "name", 12, 13);
	EXPECT_ERR(PORTS_HEAD "    - containerPort: 80\n      name: my--port\n",
		   "Pod default/x: spec.containers[1].ports[0].name: \"my--port\" is not a valid "
		   "port name", 12, 13);
	EXPECT_ERR(PORTS_HEAD "    - containerPort: 80\n      name: Http\n",
		   "Pod default/x: spec.containers[1].ports[0].name: \"Http\" is not a valid port "
		   "name", 12, 13);
}

#define NODE_HEAD "apiVersion: v1\nkind: Node\nmetadata:\n  name: n1\n"

static void errors_node(void)
{
	EXPECT_ERR(NODE_HEAD "status:\n  addresses:\n  - type: InternalIP\n"
		   "    address: 10.0.0.256\n",
		   "Node n1: status.addresses[0].address: \"10.0.0.256\" is not an IP address", 8,
		   14);
	EXPECT_ERR(NODE_HEAD "status:\n  addresses:\n  - type: Hostname\n    address: n1\n"
		   "  - address: 10.0.0.1\n",
		   "Node n1: status.addresses[1].type: missing", 9, 5);
	EXPECT_ERR(NODE_HEAD "status:\n  addresses:\n  - type: ExternalIP\n",
		   "Node n1: status.addresses[0].address: missing", 7, 5);
	EXPECT_ERR(NODE_HEAD "spec:\n  podCIDRs:\n  - 10.244.0.0/24\n  - fd00::/129\n",
		   "Node n1: spec.podCIDRs[1]: \"fd00::/129\" is not a CIDR", 8, 5);
	EXPECT_ERR(NODE_HEAD "spec:\n  podCIDR: 10.244.0.0\n",
		   "Node n1: spec.podCIDR: \"10.244.0.0\" is not a CIDR", 6, 12);
	EXPECT_ERR(NODE_HEAD "spec:\n  podCIDRs:\n  - [a]\n",
		   "Node n1: spec.podCIDRs[0]: must be a string", 7, 5);
}

/* Decode a document with k8s_decode_list. */
static int decode_list(const char *yaml, struct k8s_item **items, size_t *n)
{
	struct doc_node *doc = parse(yaml);
	int ret;

	*items = NULL;
	*n = 0;
	if (!doc)
		return -1000;
	ret = k8s_decode_list(doc, items, n);
	doc_free(doc);
	return ret;
}

static void list_expansion(void)
{
	struct k8s_item *items;
	size_t n;

	/* kubectl get pods,cm,ns -o yaml */
	CHECK_INT(decode_list(
		"apiVersion: v1\n"                                   /* 1 */
		"items:\n"                                           /* 2 */
		"- apiVersion: v1\n"                                 /* 3 */
		"  kind: Pod\n"
		"  metadata:\n"
		"    name: a\n"
		"    namespace: shop\n"
		"  status:\n"
		"    podIPs:\n"
		"    - ip: 10.0.0.1\n"                               /* 10 */
		"- apiVersion: v1\n"
		"  kind: ConfigMap\n"
		"  metadata:\n"
		"    name: settings\n"
		"  data:\n"
		"    k: v\n"
		"- apiVersion: v1\n"                                 /* 17 */
		"  kind: Pod\n"
		"  metadata:\n"
		"    name: b\n"
		"  status:\n"
		"    podIPs:\n"
		"    - ip: 10.0.0.999\n"                             /* 23 */
		"- apiVersion: v1\n"
		"  kind: Namespace\n"
		"  metadata:\n"
		"    name: shop\n"
		"kind: List\n"
		"metadata:\n"
		"  resourceVersion: \"\"\n", &items, &n), 0);
	CHECK_INT(n, 3);
	if (n == 3) {
		CHECK(items[0].obj && items[0].obj->kind == K8S_POD);
		CHECK_STR(items[0].obj ? items[0].obj->meta.name : NULL, "a");
		CHECK(items[1].obj == NULL);
		CHECK_STR(items[1].err.msg,
			  "Pod default/b: status.podIPs[0].ip: \"10.0.0.999\" is not an IP address");
		CHECK_INT(items[1].err.line, 23);
		CHECK(items[2].obj && items[2].obj->kind == K8S_NAMESPACE);
	}
	k8s_items_free(items, n);

	/* the API server's typed list: items without apiVersion/kind */
	CHECK_INT(decode_list("{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"metadata\":"
			      "{\"resourceVersion\":\"42\"},\"items\":["
			      "{\"metadata\":{\"name\":\"p1\",\"namespace\":\"ns1\"},"
			      "\"status\":{\"podIPs\":[{\"ip\":\"fd00::1\"}]}},"
			      "{\"metadata\":{\"name\":\"p2\",\"namespace\":\"ns1\"}}]}",
			      &items, &n), 0);
	CHECK_INT(n, 2);
	if (n == 2 && items[0].obj && items[1].obj) {
		CHECK_INT(items[0].obj->kind, K8S_POD);
		CHECK_INT(items[0].obj->pod.n_ips, 1);
		CHECK_STR(items[1].obj->meta.name, "p2");
	}
	k8s_items_free(items, n);

	/* a list of kinds tern does not use: nothing, no error */
	CHECK_INT(decode_list("apiVersion: v1\nkind: ConfigMapList\nitems:\n- metadata:\n"
			      "    name: c\n", &items, &n), 0);
	CHECK_INT(n, 0);
	CHECK(items == NULL);
	/* an empty List */
	CHECK_INT(decode_list("apiVersion: v1\nkind: List\nitems: []\n", &items, &n), 0);
	CHECK_INT(n, 0);
	/* a malformed List: one error entry */
	CHECK_INT(decode_list("apiVersion: v1\nkind: List\nitems: {a: b}\n", &items, &n), 0);
	CHECK_INT(n, 1);
	if (n == 1) {
		CHECK(items[0].obj == NULL);
		CHECK_STR(items[0].err.msg, "List: items: must be a list");
		CHECK_INT(items[0].err.line, 3);
	}
	k8s_items_free(items, n);
	CHECK_INT(decode_list("apiVersion: v2\nkind: List\nitems: []\n", &items, &n), 0);
	CHECK_INT(n, 1);
	if (n == 1)
		CHECK_STR(items[0].err.msg, "List: apiVersion: must be \"v1\"");
	k8s_items_free(items, n);

	/* a single manifest is a list of one; an unused kind of none */
	CHECK_INT(decode_list(node_yaml, &items, &n), 0);
	CHECK_INT(n, 1);
	if (n == 1)
		CHECK(items[0].obj && items[0].obj->kind == K8S_NODE);
	k8s_items_free(items, n);
	CHECK_INT(decode_list("apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n", &items, &n),
		  0);
	CHECK_INT(n, 0);
	CHECK_INT(decode_list(POD_HEAD "spec:\n  hostNetwork: 2\n", &items, &n), 0);
	CHECK_INT(n, 1);
	if (n == 1)
		CHECK(items[0].obj == NULL && items[0].err.line == 7);
	k8s_items_free(items, n);
}

static void equality(void)
{
	struct k8s_object *a, *b;
	struct doc_error err;

	CHECK_INT(decode(pod_yaml, &a, &err), 0);
	CHECK_INT(decode(pod_yaml, &b, &err), 0);
	if (!a || !b)
		goto out;
	CHECK(k8s_object_equal(a, b));
	/* resourceVersion is not a difference */
	free(b->meta.resource_version);
	b->meta.resource_version = strdup("123999");
	CHECK(k8s_object_equal(a, b));
	b->pod.ports[1].port = 9114;
	CHECK(!k8s_object_equal(a, b));
	b->pod.ports[1].port = 9113;
	b->pod.ips[1].b[15] ^= 1;
	CHECK(!k8s_object_equal(a, b));
	b->pod.ips[1].b[15] ^= 1;
	b->pod.host_network = 1;
	CHECK(!k8s_object_equal(a, b));
	b->pod.host_network = 0;
	b->meta.labels.vals[0][0] = 'W';
	CHECK(!k8s_object_equal(a, b));
	b->meta.labels.vals[0][0] = 'w';
	CHECK(k8s_object_equal(a, b));
	k8s_object_free(b);
	CHECK_INT(decode(node_yaml, &b, &err), 0);
	if (b)
		CHECK(!k8s_object_equal(a, b));
out:
	k8s_object_free(a);
	k8s_object_free(b);

	/* nodes: an address more is a difference */
	CHECK_INT(decode(node_yaml, &a, &err), 0);
	CHECK_INT(decode(NODE_HEAD "status:\n  addresses:\n  - type: InternalIP\n"
			 "    address: 192.168.1.10\n", &b, &err), 0);
	if (a && b)
		CHECK(!k8s_object_equal(a, b));
	k8s_object_free(a);
	k8s_object_free(b);
}

static void addresses(void)
{
	struct tern_addr a;
	char buf[INET6_ADDRSTRLEN];

	CHECK_INT(tern_addr_parse("10.1.2.3", &a), 0);
	CHECK(tern_addr_is_v4(&a));
	CHECK_INT(a.b[10], 0xff);
	CHECK_INT(a.b[11], 0xff);
	CHECK_INT(a.b[12], 10);
	CHECK_INT(a.b[15], 3);
	CHECK_STR(tern_addr_str(&a, buf, sizeof(buf)), "10.1.2.3");
	CHECK_INT(tern_addr_parse("2001:db8::1", &a), 0);
	CHECK(!tern_addr_is_v4(&a));
	CHECK_INT(a.b[0], 0x20);
	CHECK_INT(a.b[15], 1);
	CHECK_STR(tern_addr_str(&a, buf, sizeof(buf)), "2001:db8::1");
	/* written v4-mapped, it is IPv4 */
	CHECK_INT(tern_addr_parse("::ffff:192.0.2.1", &a), 0);
	CHECK(tern_addr_is_v4(&a));
	CHECK_STR(tern_addr_str(&a, buf, sizeof(buf)), "192.0.2.1");
	CHECK_INT(tern_addr_parse("::", &a), 0);
	CHECK_STR(tern_addr_str(&a, buf, sizeof(buf)), "::");
	CHECK_INT(tern_addr_parse("10.0.0.256", &a), -EINVAL);
	CHECK_INT(tern_addr_parse("10.0.0", &a), -EINVAL);
	CHECK_INT(tern_addr_parse("010.0.0.1", &a), -EINVAL);
	CHECK_INT(tern_addr_parse("fd00::1%eth0", &a), -EINVAL);
	CHECK_INT(tern_addr_parse("", &a), -EINVAL);
	CHECK_INT(tern_addr_parse(" 10.0.0.1", &a), -EINVAL);
	CHECK_INT(tern_addr_parse(NULL, &a), -EINVAL);
}

int main(void)
{
	UNIT_BEGIN("k8s");
	RUN(pod_full);
	RUN(pod_families);
	RUN(node_full);
	RUN(other_kinds);
	RUN(errors_object);
	RUN(errors_labels);
	RUN(labels_valid);
	RUN(errors_pod);
	RUN(errors_ports);
	RUN(errors_node);
	RUN(list_expansion);
	RUN(equality);
	RUN(addresses);
	return UNIT_END();
}
