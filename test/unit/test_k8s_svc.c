/* Unit tests for agent/k8s_svc.c: Services and EndpointSlices as `kubectl get
 * -o yaml` and the API server write them, the API's defaults, every
 * validation error with its field path and line:col, and equality. */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>

#include "agent/doc.h"
#include "agent/k8s.h"
#include "test/unit/unit.h"

/* kubectl get svc web -o yaml: a dual-stack LoadBalancer with every field
 * tern reads */
static const char lb_yaml[] =
	"apiVersion: v1\n"
	"kind: Service\n"
	"metadata:\n"
	"  annotations:\n"
	"    kubectl.kubernetes.io/last-applied-configuration: |\n"
	"      {\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"annotations\":{},"
	"\"name\":\"web\",\"namespace\":\"shop\"},\"spec\":{\"type\":\"LoadBalancer\"}}\n"
	"  creationTimestamp: \"2024-05-01T10:00:00Z\"\n"
	"  finalizers:\n"
	"  - service.kubernetes.io/load-balancer-cleanup\n"
	"  labels:\n"
	"    app: web\n"
	"  managedFields:\n"
	"  - apiVersion: v1\n"
	"    fieldsType: FieldsV1\n"
	"    fieldsV1:\n"
	"      f:metadata:\n"
	"        f:annotations:\n"
	"          .: {}\n"
	"          f:kubectl.kubernetes.io/last-applied-configuration: {}\n"
	"      f:spec:\n"
	"        f:externalTrafficPolicy: {}\n"
	"        f:ports:\n"
	"          .: {}\n"
	"          k:{\"port\":80,\"protocol\":\"TCP\"}:\n"
	"            .: {}\n"
	"            f:name: {}\n"
	"            f:port: {}\n"
	"            f:protocol: {}\n"
	"            f:targetPort: {}\n"
	"    manager: kubectl-client-side-apply\n"
	"    operation: Update\n"
	"    time: \"2024-05-01T10:00:00Z\"\n"
	"  - apiVersion: v1\n"
	"    fieldsType: FieldsV1\n"
	"    fieldsV1:\n"
	"      f:status:\n"
	"        f:loadBalancer:\n"
	"          f:ingress: {}\n"
	"    manager: cloud-controller-manager\n"
	"    operation: Update\n"
	"    subresource: status\n"
	"    time: \"2024-05-01T10:00:30Z\"\n"
	"  name: web\n"
	"  namespace: shop\n"
	"  resourceVersion: \"4242\"\n"
	"  uid: 6f1d0c5e-3b2a-4e8f-9c7d-1a2b3c4d5e6f\n"
	"spec:\n"
	"  allocateLoadBalancerNodePorts: true\n"
	"  clusterIP: 10.96.12.34\n"
	"  clusterIPs:\n"
	"  - 10.96.12.34\n"
	"  - fd00:10:96::1234\n"
	"  externalIPs:\n"
	"  - 203.0.113.10\n"
	"  - 2001:db8::10\n"
	"  externalTrafficPolicy: Local\n"
	"  healthCheckNodePort: 31234\n"
	"  internalTrafficPolicy: Local\n"
	"  ipFamilies:\n"
	"  - IPv4\n"
	"  - IPv6\n"
	"  ipFamilyPolicy: RequireDualStack\n"
	"  ports:\n"
	"  - name: http\n"
	"    nodePort: 30080\n"
	"    port: 80\n"
	"    protocol: TCP\n"
	"    targetPort: http-web\n"
	"  - name: https\n"
	"    nodePort: 30443\n"
	"    port: 443\n"
	"    protocol: TCP\n"
	"    targetPort: 8443\n"
	"  - name: dns\n"
	"    nodePort: 30080\n"   /* the same number as http's: another protocol */
	"    port: 80\n"
	"    protocol: UDP\n"
	"    targetPort: 5353\n"
	"  - appProtocol: diameter\n"
	"    name: diameter\n"
	"    nodePort: 30868\n"
	"    port: 3868\n"
	"    protocol: SCTP\n"
	"    targetPort: 0\n"
	"  selector:\n"
	"    app: web\n"
	"  sessionAffinity: ClientIP\n"
	"  sessionAffinityConfig:\n"
	"    clientIP:\n"
	"      timeoutSeconds: 600\n"
	"  type: LoadBalancer\n"
	"status:\n"
	"  loadBalancer:\n"
	"    ingress:\n"
	"    - ip: 198.51.100.7\n"
	"      ipMode: VIP\n"
	"    - hostname: lb.example.com\n"
	"    - ip: 2001:db8:1::7\n"
	"    - ip: 198.51.100.8\n"
	"      ipMode: Proxy\n";

/* kubectl get svc -n kube-system kube-dns -o yaml: ClusterIP, defaults */
static const char dns_yaml[] =
	"apiVersion: v1\n"
	"kind: Service\n"
	"metadata:\n"
	"  annotations:\n"
	"    prometheus.io/port: \"9153\"\n"
	"    prometheus.io/scrape: \"true\"\n"
	"  creationTimestamp: \"2024-04-30T08:00:10Z\"\n"
	"  labels:\n"
	"    k8s-app: kube-dns\n"
	"    kubernetes.io/cluster-service: \"true\"\n"
	"    kubernetes.io/name: CoreDNS\n"
	"  name: kube-dns\n"
	"  namespace: kube-system\n"
	"  resourceVersion: \"234\"\n"
	"  uid: 0b7c2a8e-1d3f-4e5a-8b9c-0d1e2f3a4b5c\n"
	"spec:\n"
	"  clusterIP: 10.96.0.10\n"
	"  clusterIPs:\n"
	"  - 10.96.0.10\n"
	"  internalTrafficPolicy: Cluster\n"
	"  ipFamilies:\n"
	"  - IPv4\n"
	"  ipFamilyPolicy: SingleStack\n"
	"  ports:\n"
	"  - name: dns\n"
	"    port: 53\n"
	"    protocol: UDP\n"
	"    targetPort: 53\n"
	"  - name: dns-tcp\n"
	"    port: 53\n"
	"    protocol: TCP\n"
	"    targetPort: 53\n"
	"  - name: metrics\n"
	"    port: 9153\n"
	"    protocol: TCP\n"
	"    targetPort: 9153\n"
	"  selector:\n"
	"    k8s-app: kube-dns\n"
	"  sessionAffinity: None\n"
	"  type: ClusterIP\n"
	"status:\n"
	"  loadBalancer: {}\n";

/* kubectl get endpointslice web-abc12 -o yaml: ready, serving-terminating,
 * not serving */
static const char eps_yaml[] =
	"addressType: IPv4\n"                                      /* 1 */
	"apiVersion: discovery.k8s.io/v1\n"
	"endpoints:\n"
	"- addresses:\n"
	"  - 10.244.1.23\n"
	"  conditions:\n"
	"    ready: true\n"
	"    serving: true\n"
	"    terminating: false\n"
	"  nodeName: node-1\n"                                     /* 10 */
	"  targetRef:\n"
	"    kind: Pod\n"
	"    name: web-7d4b9c8f6d-x2k9p\n"
	"    namespace: shop\n"
	"    uid: 9f8e7d6c-5b4a-4c3d-9e2f-1a0b9c8d7e6f\n"
	"  zone: zone-a\n"
	"- addresses:\n"
	"  - 10.244.2.7\n"
	"  conditions:\n"
	"    ready: false\n"                                       /* 20 */
	"    serving: true\n"
	"    terminating: true\n"
	"  nodeName: node-2\n"
	"  targetRef:\n"
	"    kind: Pod\n"
	"    name: web-7d4b9c8f6d-8hq2l\n"
	"    namespace: shop\n"
	"    uid: 1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d\n"
	"  zone: zone-b\n"
	"- addresses:\n"                                           /* 30 */
	"  - 10.244.3.9\n"
	"  conditions:\n"
	"    ready: false\n"
	"    serving: false\n"
	"    terminating: false\n"
	"  hints:\n"
	"    forZones:\n"
	"    - name: zone-a\n"
	"  nodeName: node-3\n"
	"kind: EndpointSlice\n"                                    /* 40 */
	"metadata:\n"
	"  annotations:\n"
	"    endpoints.kubernetes.io/last-change-trigger-time: \"2024-05-01T10:00:07Z\"\n"
	"  creationTimestamp: \"2024-05-01T10:00:01Z\"\n"
	"  generateName: web-\n"
	"  generation: 5\n"
	"  labels:\n"
	"    endpointslice.kubernetes.io/managed-by: endpointslice-controller.k8s.io\n"
	"    kubernetes.io/service-name: web\n"
	"  managedFields:\n"
	"  - apiVersion: discovery.k8s.io/v1\n"
	"    fieldsType: FieldsV1\n"
	"    fieldsV1:\n"
	"      f:addressType: {}\n"
	"      f:endpoints: {}\n"
	"      f:ports: {}\n"
	"    manager: kube-controller-manager\n"
	"    operation: Update\n"
	"    time: \"2024-05-01T10:00:07Z\"\n"
	"  name: web-abc12\n"
	"  namespace: shop\n"
	"  ownerReferences:\n"
	"  - apiVersion: v1\n"
	"    blockOwnerDeletion: true\n"
	"    controller: true\n"
	"    kind: Service\n"
	"    name: web\n"
	"    uid: 6f1d0c5e-3b2a-4e8f-9c7d-1a2b3c4d5e6f\n"
	"  resourceVersion: \"5678\"\n"
	"  uid: 3c4d5e6f-7a8b-4c9d-0e1f-2a3b4c5d6e7f\n"
	"ports:\n"
	"- name: http\n"
	"  port: 8080\n"
	"  protocol: TCP\n"
	"- name: dns\n"
	"  port: 5353\n"
	"  protocol: UDP\n";

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

static int decode(const char *yaml, struct k8s_object **out, struct doc_error *err)
{
	struct doc_node *doc = parse(yaml);
	int ret;

	*out = NULL;
	if (!doc)
		return -1000;
	ret = k8s_decode(doc, out, err);
	doc_free(doc);
	if (ret)
		fprintf(stderr, "  (decode: %d:%d: %s)\n", err->line, err->col, err->msg);
	return ret;
}

/* yaml must fail with exactly the message want, at line:col. */
static void expect_err_at(const char *file, int at, const char *yaml, const char *want,
			  int line, int col)
{
	struct doc_node *doc = parse(yaml);
	struct k8s_object *o = NULL;
	struct doc_error err = { 0 };
	int ret = doc ? k8s_decode(doc, &o, &err) : -1000;

	if (ret != -EINVAL || strcmp(err.msg, want) != 0 || err.line != line ||
	    err.col != col) {
		fprintf(stderr, "  %s:%d: got %d %d:%d \"%s\"\n  want -EINVAL %d:%d \"%s\"\n",
			file, at, ret, err.line, err.col, ret == -EINVAL ? err.msg : "", line, col,
			want);
		unit_failed_checks++;
	}
	k8s_object_free(o);
	doc_free(doc);
}
#define EXPECT_ERR(yaml, want, line, col) expect_err_at(__FILE__, __LINE__, yaml, want, line, col)

static const char *addr_str(const struct tern_addr *a)
{
	static char buf[INET6_ADDRSTRLEN];

	return tern_addr_str(a, buf, sizeof(buf));
}

/* 5 lines; spec: is line 6 */
#define SVC_HEAD "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  namespace: shop\n"
#define SVC "Service shop/web: "
#define EPS_HEAD "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n" \
	"  name: web-abc12\n  namespace: shop\n"
#define EPS "EndpointSlice shop/web-abc12: "

static void service_full(void)
{
	const struct k8s_service *s;
	struct k8s_object *o;
	struct doc_error err;

	CHECK_INT(decode(lb_yaml, &o, &err), 0);
	if (!o)
		return;
	s = &o->svc;
	CHECK_INT(o->kind, K8S_SERVICE);
	CHECK_STR(o->meta.ns, "shop");
	CHECK_STR(o->meta.name, "web");
	CHECK_INT(s->type, K8S_SVC_LOAD_BALANCER);
	CHECK_INT(s->headless, 0);
	CHECK_INT(s->n_cluster_ips, 2);
	CHECK_STR(addr_str(&s->cluster_ips[0]), "10.96.12.34");
	CHECK_STR(addr_str(&s->cluster_ips[1]), "fd00:10:96::1234");
	CHECK_INT(s->n_external_ips, 2);
	if (s->n_external_ips == 2) {
		CHECK_STR(addr_str(&s->external_ips[0]), "203.0.113.10");
		CHECK_STR(addr_str(&s->external_ips[1]), "2001:db8::10");
	}
	/* the hostname-only and the ipMode: Proxy entries are left out */
	CHECK_INT(s->n_lb_ips, 2);
	if (s->n_lb_ips == 2) {
		CHECK_STR(addr_str(&s->lb_ips[0]), "198.51.100.7");
		CHECK_STR(addr_str(&s->lb_ips[1]), "2001:db8:1::7");
	}
	CHECK_INT(s->n_ports, 4);
	if (s->n_ports == 4) {
		CHECK_STR(s->ports[0].name, "http");
		CHECK_INT(s->ports[0].proto, IPPROTO_TCP);
		CHECK_INT(s->ports[0].port, 80);
		CHECK_INT(s->ports[0].node_port, 30080);
		CHECK_INT(s->ports[0].target_port, 0);
		CHECK_STR(s->ports[0].target_port_name, "http-web");
		CHECK_STR(s->ports[1].name, "https");
		CHECK_INT(s->ports[1].port, 443);
		CHECK_INT(s->ports[1].node_port, 30443);
		CHECK_INT(s->ports[1].target_port, 8443);
		CHECK_STR(s->ports[1].target_port_name, "");
		CHECK_STR(s->ports[2].name, "dns");
		CHECK_INT(s->ports[2].proto, IPPROTO_UDP);
		CHECK_INT(s->ports[2].port, 80);
		CHECK_INT(s->ports[2].node_port, 30080);
		CHECK_INT(s->ports[2].target_port, 5353);
		CHECK_INT(s->ports[3].proto, IPPROTO_SCTP);
		CHECK_INT(s->ports[3].port, 3868);
		/* targetPort 0: the API's default, the service port */
		CHECK_INT(s->ports[3].target_port, 3868);
		CHECK_STR(s->ports[3].target_port_name, "");
	}
	CHECK_INT(s->affinity_client_ip, 1);
	CHECK_INT(s->affinity_timeout, 600);
	CHECK_INT(s->etp_local, 1);
	CHECK_INT(s->itp_local, 1);
	k8s_object_free(o);
}

static void service_defaults(void)
{
	const struct k8s_service *s;
	struct k8s_object *o;
	struct doc_error err;

	CHECK_INT(decode(dns_yaml, &o, &err), 0);
	if (o) {
		s = &o->svc;
		CHECK_INT(s->type, K8S_SVC_CLUSTER_IP);
		CHECK_INT(s->n_cluster_ips, 1);
		CHECK_STR(addr_str(&s->cluster_ips[0]), "10.96.0.10");
		CHECK_INT(s->n_external_ips, 0);
		CHECK(s->external_ips == NULL);
		CHECK_INT(s->n_lb_ips, 0);
		CHECK_INT(s->n_ports, 3);
		if (s->n_ports == 3) {
			/* the same port number over UDP and TCP is two ports */
			CHECK_INT(s->ports[0].proto, IPPROTO_UDP);
			CHECK_INT(s->ports[0].port, 53);
			CHECK_INT(s->ports[1].proto, IPPROTO_TCP);
			CHECK_INT(s->ports[1].port, 53);
			CHECK_INT(s->ports[1].node_port, 0);
			CHECK_INT(s->ports[2].target_port, 9153);
		}
		CHECK_INT(s->affinity_client_ip, 0);
		CHECK_INT(s->affinity_timeout, 0);
		CHECK_INT(s->etp_local, 0);
		CHECK_INT(s->itp_local, 0);
		k8s_object_free(o);
	}

	/* hand-written: one unnamed port, no protocol, no targetPort, no
	 * clusterIP yet; ClientIP without a config gets 10800 s */
	CHECK_INT(decode(SVC_HEAD "spec:\n  ports:\n  - port: 8080\n"
			 "  sessionAffinity: ClientIP\n", &o, &err), 0);
	if (o) {
		s = &o->svc;
		CHECK_INT(s->n_cluster_ips, 0);
		CHECK_INT(s->headless, 0);
		CHECK_INT(s->n_ports, 1);
		CHECK_STR(s->ports[0].name, "");
		CHECK_INT(s->ports[0].proto, IPPROTO_TCP);
		CHECK_INT(s->ports[0].target_port, 8080);
		CHECK_STR(s->ports[0].target_port_name, "");
		CHECK_INT(s->affinity_client_ip, 1);
		CHECK_INT(s->affinity_timeout, 10800);
		k8s_object_free(o);
	}
	/* no spec at all; timeoutSeconds absent inside a config; 86400 is
	 * the largest timeout */
	CHECK_INT(decode(SVC_HEAD, &o, &err), 0);
	if (o) {
		CHECK_INT(o->svc.type, K8S_SVC_CLUSTER_IP);
		CHECK_INT(o->svc.n_ports, 0);
		k8s_object_free(o);
	}
	CHECK_INT(decode(SVC_HEAD "spec:\n  sessionAffinity: ClientIP\n"
			 "  sessionAffinityConfig:\n    clientIP: {}\n", &o, &err), 0);
	if (o) {
		CHECK_INT(o->svc.affinity_timeout, 10800);
		k8s_object_free(o);
	}
	CHECK_INT(decode(SVC_HEAD "spec:\n  sessionAffinity: ClientIP\n"
			 "  sessionAffinityConfig:\n    clientIP:\n      timeoutSeconds: 86400\n",
			 &o, &err), 0);
	if (o) {
		CHECK_INT(o->svc.affinity_timeout, 86400);
		k8s_object_free(o);
	}
	/* empty strings are the defaults too */
	CHECK_INT(decode(SVC_HEAD "spec:\n  type: \"\"\n  clusterIP: \"\"\n  sessionAffinity: \"\"\n"
			 "  externalTrafficPolicy: \"\"\n  internalTrafficPolicy: \"\"\n",
			 &o, &err), 0);
	if (o) {
		CHECK_INT(o->svc.type, K8S_SVC_CLUSTER_IP);
		CHECK_INT(o->svc.affinity_client_ip, 0);
		CHECK_INT(o->svc.etp_local, 0);
		k8s_object_free(o);
	}
}

static void service_types(void)
{
	struct k8s_object *o;
	struct doc_error err;

	/* headless */
	CHECK_INT(decode(SVC_HEAD "spec:\n  clusterIP: None\n  clusterIPs:\n  - None\n"
			 "  ports:\n  - name: db\n    port: 5432\n    targetPort: 5432\n",
			 &o, &err), 0);
	if (o) {
		CHECK_INT(o->svc.headless, 1);
		CHECK_INT(o->svc.n_cluster_ips, 0);
		CHECK_INT(o->svc.n_ports, 1);
		k8s_object_free(o);
	}
	CHECK_INT(decode(SVC_HEAD "spec:\n  clusterIP: None\n", &o, &err), 0);
	if (o) {
		CHECK_INT(o->svc.headless, 1);
		k8s_object_free(o);
	}
	/* ExternalName: no addresses (the API allocates none) */
	CHECK_INT(decode(SVC_HEAD "spec:\n  externalName: db.example.com\n"
			 "  sessionAffinity: None\n  type: ExternalName\n", &o, &err), 0);
	if (o) {
		CHECK_INT(o->svc.type, K8S_SVC_EXTERNAL_NAME);
		CHECK_INT(o->svc.n_cluster_ips, 0);
		k8s_object_free(o);
	}
	/* NodePort, the old name Global for Cluster; IPv6 only */
	CHECK_INT(decode(SVC_HEAD "spec:\n  clusterIP: fd00:10:96::a\n"
			 "  externalTrafficPolicy: Global\n  ports:\n  - nodePort: 32000\n"
			 "    port: 80\n    protocol: TCP\n    targetPort: 8080\n  type: NodePort\n",
			 &o, &err), 0);
	if (o) {
		CHECK_INT(o->svc.type, K8S_SVC_NODE_PORT);
		CHECK_INT(o->svc.etp_local, 0);
		CHECK_INT(o->svc.n_cluster_ips, 1);
		CHECK(!tern_addr_is_v4(&o->svc.cluster_ips[0]));
		CHECK_INT(o->svc.ports[0].node_port, 32000);
		k8s_object_free(o);
	}
	/* IPv6 first in a dual-stack cluster; nodePort 0 means none */
	CHECK_INT(decode(SVC_HEAD "spec:\n  clusterIP: fd00::a\n  clusterIPs:\n  - fd00::a\n"
			 "  - 10.96.0.10\n  ports:\n  - port: 80\n    nodePort: 0\n", &o, &err), 0);
	if (o) {
		CHECK_INT(o->svc.n_cluster_ips, 2);
		CHECK_STR(addr_str(&o->svc.cluster_ips[0]), "fd00::a");
		CHECK_STR(addr_str(&o->svc.cluster_ips[1]), "10.96.0.10");
		CHECK_INT(o->svc.ports[0].node_port, 0);
		k8s_object_free(o);
	}
}

/* targetPort as YAML and JSON types it: integers are numbers, strings names */
static void service_target_ports(void)
{
	struct k8s_item *items = NULL;
	struct doc_node *doc;
	size_t n = 0;

	/* the API server's ServiceList: items without apiVersion/kind */
	doc = parse("{\"apiVersion\":\"v1\",\"kind\":\"ServiceList\",\"metadata\":"
		    "{\"resourceVersion\":\"99\"},\"items\":[{\"metadata\":{\"name\":\"a\","
		    "\"namespace\":\"shop\"},\"spec\":{\"clusterIP\":\"10.96.0.1\",\"ports\":["
		    "{\"name\":\"p1\",\"port\":80,\"protocol\":\"TCP\",\"targetPort\":8080},"
		    "{\"name\":\"p2\",\"port\":81,\"protocol\":\"TCP\",\"targetPort\":\"web\"}]}},"
		    "{\"metadata\":{\"name\":\"b\",\"namespace\":\"shop\"},\"spec\":{\"ports\":["
		    "{\"port\":80,\"targetPort\":\"8080\"}]}}]}");
	if (!doc)
		return;
	CHECK_INT(k8s_decode_list(doc, &items, &n), 0);
	CHECK_INT(n, 2);
	if (n == 2 && items[0].obj) {
		const struct k8s_service *s = &items[0].obj->svc;

		CHECK_INT(items[0].obj->kind, K8S_SERVICE);
		CHECK_INT(s->ports[0].target_port, 8080);
		CHECK_STR(s->ports[0].target_port_name, "");
		CHECK_INT(s->ports[1].target_port, 0);
		CHECK_STR(s->ports[1].target_port_name, "web");
		/* a JSON string "8080" is a name, and not a valid one */
		CHECK(items[1].obj == NULL);
		CHECK_STR(items[1].err.msg, "Service shop/b: spec.ports[0].targetPort: \"8080\" is "
			  "not a valid port name (IANA_SVC_NAME: lowercase letters, digits and '-', "
			  "at least one letter, no leading, trailing or double '-')");
	} else {
		CHECK(0);
	}
	k8s_items_free(items, n);
	doc_free(doc);

	/* YAML: a quoted empty string is the default; a plain name with
	 * digits in it is a name */
	struct k8s_object *o;
	struct doc_error err;

	CHECK_INT(decode(SVC_HEAD "spec:\n  ports:\n  - port: 80\n    targetPort: \"\"\n", &o,
			 &err), 0);
	if (o) {
		CHECK_INT(o->svc.ports[0].target_port, 80);
		k8s_object_free(o);
	}
	CHECK_INT(decode(SVC_HEAD "spec:\n  ports:\n  - port: 80\n    targetPort: web8080\n", &o,
			 &err), 0);
	if (o) {
		CHECK_STR(o->svc.ports[0].target_port_name, "web8080");
		k8s_object_free(o);
	}
}

static void errors_service_ips(void)
{
	EXPECT_ERR(SVC_HEAD "spec: []\n", SVC "spec: must be a map", 6, 7);
	EXPECT_ERR(SVC_HEAD "spec:\n  type: Foo\n",
		   SVC "spec.type: \"Foo\" is not ClusterIP, NodePort, LoadBalancer or "
		   "ExternalName", 7, 9);
	EXPECT_ERR(SVC_HEAD "spec:\n  type: nodePort\n",
		   SVC "spec.type: \"nodePort\" is not ClusterIP, NodePort, LoadBalancer or "
		   "ExternalName", 7, 9);
	EXPECT_ERR(SVC_HEAD "spec:\n  clusterIP: 10.96.0.300\n",
		   SVC "spec.clusterIP: \"10.96.0.300\" is not an IP address", 7, 14);
	EXPECT_ERR(SVC_HEAD "spec:\n  clusterIP: [10.96.0.1]\n",
		   SVC "spec.clusterIP: must be a scalar", 7, 14);
	EXPECT_ERR(SVC_HEAD "spec:\n  clusterIPs: 10.96.0.1\n",
		   SVC "spec.clusterIPs: must be a list", 7, 15);
	EXPECT_ERR(SVC_HEAD "spec:\n  clusterIPs:\n  - {ip: 10.96.0.1}\n",
		   SVC "spec.clusterIPs[0]: must be a string", 8, 5);
	EXPECT_ERR(SVC_HEAD "spec:\n  clusterIP: 10.96.0.1\n  clusterIPs:\n  - 10.96.0.2\n",
		   SVC "spec.clusterIPs[0]: \"10.96.0.2\" must be spec.clusterIP (\"10.96.0.1\") "
		   "when both are given", 9, 5);
	EXPECT_ERR(SVC_HEAD "spec:\n  clusterIPs:\n  - 10.96.0.1\n  - 10.96.0.2\n",
		   SVC "spec.clusterIPs[1]: \"10.96.0.2\" is a second IPv4 address (a service has "
		   "at most one per family)", 9, 5);
	EXPECT_ERR(SVC_HEAD "spec:\n  clusterIPs:\n  - 10.96.0.1\n  - fd00::1\n  - fd00::2\n",
		   SVC "spec.clusterIPs[2]: a third address (a service has at most one per "
		   "family)", 10, 5);
	EXPECT_ERR(SVC_HEAD "spec:\n  clusterIPs:\n  - None\n  - fd00::1\n",
		   SVC "spec.clusterIPs[0]: \"None\" must be the only entry", 8, 5);
	EXPECT_ERR(SVC_HEAD "spec:\n  clusterIPs:\n  - 10.96.0.1\n  - none\n",
		   SVC "spec.clusterIPs[1]: \"none\" is not an IP address", 9, 5);
	EXPECT_ERR(SVC_HEAD "spec:\n  type: NodePort\n  clusterIP: None\n",
		   SVC "spec.clusterIP: \"None\" may not be used when spec.type is NodePort", 8,
		   14);
	EXPECT_ERR(SVC_HEAD "spec:\n  clusterIP: None\n  clusterIPs:\n  - None\n"
		   "  type: LoadBalancer\n",
		   SVC "spec.clusterIPs[0]: \"None\" may not be used when spec.type is "
		   "LoadBalancer", 9, 5);
	EXPECT_ERR(SVC_HEAD "spec:\n  type: ExternalName\n  externalName: db.example.com\n"
		   "  clusterIP: 10.96.0.5\n",
		   SVC "spec.clusterIP: must be empty when spec.type is ExternalName", 9, 14);
	EXPECT_ERR(SVC_HEAD "spec:\n  externalIPs: 203.0.113.1\n",
		   SVC "spec.externalIPs: must be a list", 7, 16);
	EXPECT_ERR(SVC_HEAD "spec:\n  externalIPs:\n  - 203.0.113.1\n  - [a]\n",
		   SVC "spec.externalIPs[1]: must be a string", 9, 5);
	EXPECT_ERR(SVC_HEAD "spec:\n  externalIPs:\n  - lb.example.com\n",
		   SVC "spec.externalIPs[0]: \"lb.example.com\" is not an IP address", 8, 5);
	EXPECT_ERR(SVC_HEAD "spec:\n  externalIPs:\n  - 0.0.0.0\n",
		   SVC "spec.externalIPs[0]: \"0.0.0.0\" is unspecified", 8, 5);
	EXPECT_ERR(SVC_HEAD "spec:\n  externalIPs:\n  - 203.0.113.1\n  - 127.0.0.2\n",
		   SVC "spec.externalIPs[1]: \"127.0.0.2\" is in the loopback range "
		   "(127.0.0.0/8)", 9, 5);
	EXPECT_ERR(SVC_HEAD "spec:\n  externalIPs:\n  - 169.254.169.254\n",
		   SVC "spec.externalIPs[0]: \"169.254.169.254\" is link-local (169.254.0.0/16)",
		   8, 5);
	EXPECT_ERR(SVC_HEAD "spec:\n  externalIPs:\n  - 224.0.0.251\n",
		   SVC "spec.externalIPs[0]: \"224.0.0.251\" is link-local multicast "
		   "(224.0.0.0/24)", 8, 5);
	EXPECT_ERR(SVC_HEAD "spec:\n  externalIPs:\n  - \"::\"\n",
		   SVC "spec.externalIPs[0]: \"::\" is unspecified", 8, 5);
	EXPECT_ERR(SVC_HEAD "spec:\n  externalIPs:\n  - ::1\n",
		   SVC "spec.externalIPs[0]: \"::1\" is the loopback address", 8, 5);
	EXPECT_ERR(SVC_HEAD "spec:\n  externalIPs:\n  - fe80::1\n",
		   SVC "spec.externalIPs[0]: \"fe80::1\" is link-local (fe80::/10)", 8, 5);
	EXPECT_ERR(SVC_HEAD "spec:\n  externalIPs:\n  - ff02::fb\n",
		   SVC "spec.externalIPs[0]: \"ff02::fb\" is link-local multicast (ff02::/16)",
		   8, 5);
	EXPECT_ERR(SVC_HEAD "status:\n  loadBalancer: []\n",
		   SVC "status.loadBalancer: must be a map", 7, 17);
	EXPECT_ERR(SVC_HEAD "status:\n  loadBalancer:\n    ingress:\n    - 198.51.100.7\n",
		   SVC "status.loadBalancer.ingress[0]: must be a map", 9, 7);
	EXPECT_ERR(SVC_HEAD "status:\n  loadBalancer:\n    ingress:\n    - ip: 198.51.100\n",
		   SVC "status.loadBalancer.ingress[0].ip: \"198.51.100\" is not an IP address", 9,
		   11);
	EXPECT_ERR(SVC_HEAD "status:\n  loadBalancer:\n    ingress:\n    - ip: 198.51.100.7\n"
		   "      ipMode: Direct\n",
		   SVC "status.loadBalancer.ingress[0].ipMode: \"Direct\" is not VIP or Proxy", 10,
		   15);
	EXPECT_ERR(SVC_HEAD "status:\n  loadBalancer:\n    ingress:\n    - hostname: a.example.com\n"
		   "      ipMode: VIP\n",
		   SVC "status.loadBalancer.ingress[0].ipMode: may only be set with an ip", 10,
		   15);
}

#define PORTS SVC_HEAD "spec:\n  ports:\n" /* the first port is line 8 */

static void errors_service_ports(void)
{
	EXPECT_ERR(SVC_HEAD "spec:\n  ports: {port: 80}\n", SVC "spec.ports: must be a list",
		   7, 10);
	EXPECT_ERR(PORTS "  - 80\n", SVC "spec.ports[0]: must be a map", 8, 5);
	EXPECT_ERR(PORTS "  - name: a\n    protocol: TCP\n", SVC "spec.ports[0].port: missing",
		   8, 5);
	EXPECT_ERR(PORTS "  - port: 0\n",
		   SVC "spec.ports[0].port: \"0\" is not a port number (1-65535)", 8, 11);
	EXPECT_ERR(PORTS "  - port: 65536\n",
		   SVC "spec.ports[0].port: \"65536\" is not a port number (1-65535)", 8, 11);
	EXPECT_ERR(PORTS "  - port: \"80\"\n",
		   SVC "spec.ports[0].port: \"80\" is not a port number (1-65535)", 8, 11);
	EXPECT_ERR(PORTS "  - port: {a: 1}\n", SVC "spec.ports[0].port: must be a scalar", 8, 11);
	EXPECT_ERR(PORTS "  - port: 80\n    protocol: tcp\n",
		   SVC "spec.ports[0].protocol: \"tcp\" is not TCP, UDP or SCTP", 9, 15);
	EXPECT_ERR(PORTS "  - port: 80\n    protocol: ICMP\n",
		   SVC "spec.ports[0].protocol: \"ICMP\" is not TCP, UDP or SCTP", 9, 15);
	EXPECT_ERR(PORTS "  - name: a\n    port: 80\n  - port: 81\n",
		   SVC "spec.ports[1].name: missing (required when there is more than one port)",
		   10, 5);
	EXPECT_ERR(PORTS "  - name: a\n    port: 80\n  - name: \"\"\n    port: 81\n",
		   SVC "spec.ports[1].name: missing (required when there is more than one port)",
		   10, 11);
	EXPECT_ERR(PORTS "  - name: Http\n    port: 80\n",
		   SVC "spec.ports[0].name: \"Http\" is not a valid DNS-1123 label (lowercase "
		   "letters, digits and '-', starting and ending with a letter or digit)", 8, 11);
	EXPECT_ERR(PORTS "  - name: http_alt\n    port: 80\n",
		   SVC "spec.ports[0].name: \"http_alt\" is not a valid DNS-1123 label (lowercase "
		   "letters, digits and '-', starting and ending with a letter or digit)", 8, 11);
	EXPECT_ERR(PORTS "  - name: a\n    port: 80\n  - name: a\n    port: 81\n",
		   SVC "spec.ports[1].name: \"a\" is also spec.ports[0]'s name", 10, 11);
	EXPECT_ERR(PORTS "  - name: a\n    port: 80\n  - name: b\n    port: 80\n"
		   "    protocol: TCP\n",
		   SVC "spec.ports[1].port: 80/TCP is also spec.ports[0]'s", 11, 11);
	EXPECT_ERR(PORTS "  - port: 80\n    nodePort: 30080\n",
		   SVC "spec.ports[0].nodePort: may not be set when spec.type is ClusterIP", 9, 15);
	EXPECT_ERR(SVC_HEAD "spec:\n  type: NodePort\n  ports:\n  - port: 80\n"
		   "    nodePort: 70000\n",
		   SVC "spec.ports[0].nodePort: \"70000\" is not a port number (1-65535, or 0 for "
		   "none)", 10, 15);
	EXPECT_ERR(SVC_HEAD "spec:\n  type: NodePort\n  ports:\n  - port: 80\n"
		   "    nodePort: \"30080\"\n",
		   SVC "spec.ports[0].nodePort: \"30080\" is not a port number (1-65535, or 0 for "
		   "none)", 10, 15);
	EXPECT_ERR(SVC_HEAD "spec:\n  type: NodePort\n  ports:\n  - name: a\n    port: 80\n"
		   "    nodePort: 30080\n  - name: b\n    port: 81\n    nodePort: 30080\n",
		   SVC "spec.ports[1].nodePort: 30080/TCP is also spec.ports[0]'s", 14, 15);
	EXPECT_ERR(PORTS "  - port: 80\n    targetPort: \"8080\"\n",
		   SVC "spec.ports[0].targetPort: \"8080\" is not a valid port name (IANA_SVC_NAME: "
		   "lowercase letters, digits and '-', at least one letter, no leading, trailing "
		   "or double '-')", 9, 17);
	EXPECT_ERR(PORTS "  - port: 80\n    targetPort: 70000\n",
		   SVC "spec.ports[0].targetPort: \"70000\" is not a port number (1-65535)", 9, 17);
	EXPECT_ERR(PORTS "  - port: 80\n    targetPort: -1\n",
		   SVC "spec.ports[0].targetPort: \"-1\" is not a port number (1-65535)", 9, 17);
	EXPECT_ERR(PORTS "  - port: 80\n    targetPort: 08080\n",
		   SVC "spec.ports[0].targetPort: \"08080\" is not a port number (1-65535)", 9, 17);
	EXPECT_ERR(PORTS "  - port: 80\n    targetPort: http--web\n",
		   SVC "spec.ports[0].targetPort: \"http--web\" is not a valid port name "
		   "(IANA_SVC_NAME: lowercase letters, digits and '-', at least one letter, no "
		   "leading, trailing or double '-')", 9, 17);
	EXPECT_ERR(PORTS "  - port: 80\n    targetPort: metrics-exporter\n",
		   SVC "spec.ports[0].targetPort: \"metrics-exporter\" is longer than 15 characters",
		   9, 17);
}

static void errors_service_policies(void)
{
	EXPECT_ERR(SVC_HEAD "spec:\n  sessionAffinity: Sticky\n",
		   SVC "spec.sessionAffinity: \"Sticky\" is not None or ClientIP", 7, 20);
	EXPECT_ERR(SVC_HEAD "spec:\n  sessionAffinity: ClientIP\n  sessionAffinityConfig:\n"
		   "    clientIP:\n      timeoutSeconds: 0\n",
		   SVC "spec.sessionAffinityConfig.clientIP.timeoutSeconds: \"0\" is not a number of "
		   "seconds (1-86400)", 10, 23);
	EXPECT_ERR(SVC_HEAD "spec:\n  sessionAffinity: ClientIP\n  sessionAffinityConfig:\n"
		   "    clientIP:\n      timeoutSeconds: 86401\n",
		   SVC "spec.sessionAffinityConfig.clientIP.timeoutSeconds: \"86401\" is not a "
		   "number of seconds (1-86400)", 10, 23);
	EXPECT_ERR(SVC_HEAD "spec:\n  sessionAffinity: ClientIP\n  sessionAffinityConfig:\n"
		   "    clientIP:\n      timeoutSeconds: \"600\"\n",
		   SVC "spec.sessionAffinityConfig.clientIP.timeoutSeconds: \"600\" is not a "
		   "number of seconds (1-86400)", 10, 23);
	EXPECT_ERR(SVC_HEAD "spec:\n  sessionAffinity: ClientIP\n  sessionAffinityConfig:\n"
		   "    clientIP: 600\n",
		   SVC "spec.sessionAffinityConfig.clientIP: must be a map", 9, 15);
	EXPECT_ERR(SVC_HEAD "spec:\n  sessionAffinity: None\n  sessionAffinityConfig:\n"
		   "    clientIP:\n      timeoutSeconds: 600\n",
		   SVC "spec.sessionAffinityConfig: may only be set when spec.sessionAffinity is "
		   "ClientIP", 9, 5);
	EXPECT_ERR(SVC_HEAD "spec:\n  externalTrafficPolicy: local\n",
		   SVC "spec.externalTrafficPolicy: \"local\" is not Cluster or Local", 7, 26);
	EXPECT_ERR(SVC_HEAD "spec:\n  internalTrafficPolicy: Global\n",
		   SVC "spec.internalTrafficPolicy: \"Global\" is not Cluster or Local", 7, 26);
}

static void endpointslice_full(void)
{
	const struct k8s_endpointslice *e;
	struct k8s_object *o;
	struct doc_error err;

	CHECK_INT(decode(eps_yaml, &o, &err), 0);
	if (!o)
		return;
	e = &o->eps;
	CHECK_INT(o->kind, K8S_ENDPOINTSLICE);
	CHECK_STR(o->meta.ns, "shop");
	CHECK_STR(o->meta.name, "web-abc12");
	CHECK_STR(e->service, "web");
	CHECK_INT(e->family, 4);
	CHECK_INT(e->n_ports, 2);
	if (e->n_ports == 2) {
		CHECK_STR(e->ports[0].name, "http");
		CHECK_INT(e->ports[0].proto, IPPROTO_TCP);
		CHECK_INT(e->ports[0].port, 8080);
		CHECK_STR(e->ports[1].name, "dns");
		CHECK_INT(e->ports[1].proto, IPPROTO_UDP);
		CHECK_INT(e->ports[1].port, 5353);
	}
	CHECK_INT(e->n_endpoints, 3);
	if (e->n_endpoints == 3) {
		const struct k8s_eps_endpoint *ep = e->endpoints;

		CHECK_INT(ep[0].n_addrs, 1);
		CHECK_STR(addr_str(&ep[0].addrs[0]), "10.244.1.23");
		CHECK_INT(ep[0].ready, 1);
		CHECK_INT(ep[0].serving, 1);
		CHECK_INT(ep[0].terminating, 0);
		CHECK_STR(ep[0].node_name, "node-1");
		/* serving and terminating: drains, takes new flows only as a
		 * last resort */
		CHECK_STR(addr_str(&ep[1].addrs[0]), "10.244.2.7");
		CHECK_INT(ep[1].ready, 0);
		CHECK_INT(ep[1].serving, 1);
		CHECK_INT(ep[1].terminating, 1);
		CHECK_STR(ep[1].node_name, "node-2");
		CHECK_INT(ep[2].ready, 0);
		CHECK_INT(ep[2].serving, 0);
		CHECK_INT(ep[2].terminating, 0);
		CHECK_STR(ep[2].node_name, "node-3");
	}
	k8s_object_free(o);
}

static void endpointslice_semantics(void)
{
	const struct k8s_endpointslice *e;
	struct k8s_object *o;
	struct doc_error err;

	/* nil conditions: ready nil is true, serving nil follows ready,
	 * terminating nil is false; no nodeName; several addresses */
	CHECK_INT(decode(EPS_HEAD "addressType: IPv6\nendpoints:\n"
			 "- addresses:\n  - fd00:244::5\n  - fd00:244::6\n"
			 "- addresses:\n  - fd00:244::7\n  conditions: {}\n"
			 "- addresses:\n  - fd00:244::8\n  conditions:\n    ready: false\n"
			 "- addresses:\n  - fd00:244::9\n  conditions:\n    ready: null\n"
			 "    serving: false\n    terminating: true\n",
			 &o, &err), 0);
	if (o) {
		e = &o->eps;
		CHECK_STR(e->service, "");
		CHECK_INT(e->family, 6);
		CHECK_INT(e->n_ports, 0);
		CHECK_INT(e->n_endpoints, 4);
		if (e->n_endpoints == 4) {
			CHECK_INT(e->endpoints[0].n_addrs, 2);
			CHECK_STR(addr_str(&e->endpoints[0].addrs[1]), "fd00:244::6");
			CHECK_INT(e->endpoints[0].ready, 1);
			CHECK_INT(e->endpoints[0].serving, 1);
			CHECK_INT(e->endpoints[0].terminating, 0);
			CHECK_STR(e->endpoints[0].node_name, "");
			CHECK_INT(e->endpoints[1].ready, 1);
			CHECK_INT(e->endpoints[1].serving, 1);
			CHECK_INT(e->endpoints[2].ready, 0);
			CHECK_INT(e->endpoints[2].serving, 0);
			CHECK_INT(e->endpoints[2].terminating, 0);
			CHECK_INT(e->endpoints[3].ready, 1);
			CHECK_INT(e->endpoints[3].serving, 0);
			CHECK_INT(e->endpoints[3].terminating, 1);
		}
		k8s_object_free(o);
	}
	/* a service with no endpoints: kubectl writes "endpoints: null"; a
	 * port without a number means all ports; protocol defaults to TCP */
	CHECK_INT(decode(EPS_HEAD "  labels:\n    kubernetes.io/service-name: web\n"
			 "addressType: IPv4\nendpoints: null\nports:\n- name: \"\"\n", &o, &err),
		  0);
	if (o) {
		e = &o->eps;
		CHECK_STR(e->service, "web");
		CHECK_INT(e->n_endpoints, 0);
		CHECK(e->endpoints == NULL);
		CHECK_INT(e->n_ports, 1);
		CHECK_STR(e->ports[0].name, "");
		CHECK_INT(e->ports[0].port, 0);
		CHECK_INT(e->ports[0].proto, IPPROTO_TCP);
		k8s_object_free(o);
	}
	/* FQDN: kept, addresses checked but not held */
	CHECK_INT(decode(EPS_HEAD "addressType: FQDN\nendpoints:\n- addresses:\n"
			 "  - db.example.com.\n  conditions:\n    ready: true\n"
			 "ports:\n- port: 5432\n  protocol: TCP\n", &o, &err), 0);
	if (o) {
		e = &o->eps;
		CHECK_INT(e->family, 0);
		CHECK_INT(e->n_endpoints, 1);
		CHECK_INT(e->endpoints[0].n_addrs, 0);
		CHECK_INT(e->ports[0].port, 5432);
		k8s_object_free(o);
	}
	/* a v4-mapped address is IPv4, as the API server takes it */
	CHECK_INT(decode(EPS_HEAD "addressType: IPv4\nendpoints:\n- addresses:\n"
			 "  - ::ffff:10.0.0.1\n", &o, &err), 0);
	if (o) {
		CHECK_STR(addr_str(&o->eps.endpoints[0].addrs[0]), "10.0.0.1");
		k8s_object_free(o);
	}
}

/* yaml with n repetitions of item appended after head. */
static char *repeat(const char *head, const char *item, int n)
{
	size_t hl = strlen(head), il = strlen(item);
	char *s = malloc(hl + il * n + 1);

	if (!s)
		return NULL;
	memcpy(s, head, hl);
	for (int i = 0; i < n; i++)
		memcpy(s + hl + il * i, item, il);
	s[hl + il * n] = '\0';
	return s;
}

#define EPS4 EPS_HEAD "addressType: IPv4\n" /* line 6 */
#define ENDPOINT EPS4 "endpoints:\n- addresses:\n  - 10.0.0.1\n" /* 7..9 */

static void errors_endpointslice(void)
{
	char *big;

	EXPECT_ERR(EPS_HEAD, EPS "addressType: missing", 1, 1);
	EXPECT_ERR(EPS_HEAD "addressType: ipv4\n",
		   EPS "addressType: \"ipv4\" is not IPv4, IPv6 or FQDN", 6, 14);
	EXPECT_ERR(EPS4 "endpoints: {}\n", EPS "endpoints: must be a list", 7, 12);
	EXPECT_ERR(EPS4 "endpoints:\n- 10.0.0.1\n", EPS "endpoints[0]: must be a map", 8, 3);
	EXPECT_ERR(EPS4 "endpoints:\n- nodeName: node-1\n",
		   EPS "endpoints[0].addresses: missing (1 to 100 addresses)", 8, 3);
	EXPECT_ERR(EPS4 "endpoints:\n- addresses: []\n",
		   EPS "endpoints[0].addresses: missing (1 to 100 addresses)", 8, 14);
	EXPECT_ERR(EPS4 "endpoints:\n- addresses: 10.0.0.1\n",
		   EPS "endpoints[0].addresses: must be a list", 8, 14);
	EXPECT_ERR(ENDPOINT "  - [10.0.0.2]\n",
		   EPS "endpoints[0].addresses[1]: must be a string", 10, 5);
	EXPECT_ERR(ENDPOINT "- addresses:\n  - fd00::1\n",
		   EPS "endpoints[1].addresses[0]: \"fd00::1\" is not an IPv4 address (addressType "
		   "IPv4)", 11, 5);
	EXPECT_ERR(ENDPOINT "  - 10.0.0.256\n",
		   EPS "endpoints[0].addresses[1]: \"10.0.0.256\" is not an IPv4 address "
		   "(addressType IPv4)", 10, 5);
	EXPECT_ERR(EPS_HEAD "addressType: IPv6\nendpoints:\n- addresses:\n  - 10.0.0.1\n",
		   EPS "endpoints[0].addresses[0]: \"10.0.0.1\" is not an IPv6 address (addressType "
		   "IPv6)", 9, 5);
	EXPECT_ERR(EPS_HEAD "addressType: FQDN\nendpoints:\n- addresses:\n  - db\n",
		   EPS "endpoints[0].addresses[0]: \"db\" is not a fully qualified domain name (two "
		   "labels at least)", 9, 5);
	EXPECT_ERR(EPS_HEAD "addressType: FQDN\nendpoints:\n- addresses:\n  - Db.example.com\n",
		   EPS "endpoints[0].addresses[0]: \"Db.example.com\" is not a valid DNS-1123 "
		   "subdomain (lowercase letters, digits, '-' and '.', starting and ending with a "
		   "letter or digit)", 9, 5);
	big = repeat(EPS4 "endpoints:\n- addresses:\n", "  - 10.0.0.1\n", 101);
	if (big)
		EXPECT_ERR(big, EPS "endpoints[0].addresses: 101 addresses, at most 100", 9, 3);
	free(big);
	big = repeat(EPS4 "endpoints:\n", "- addresses: [10.0.0.1]\n", 1001);
	if (big)
		EXPECT_ERR(big, EPS "endpoints: 1001 endpoints, at most 1000", 8, 1);
	free(big);
	EXPECT_ERR(ENDPOINT "  conditions: true\n",
		   EPS "endpoints[0].conditions: must be a map", 10, 15);
	EXPECT_ERR(ENDPOINT "  conditions:\n    ready: maybe\n",
		   EPS "endpoints[0].conditions.ready: \"maybe\" is not true or false", 11, 12);
	EXPECT_ERR(ENDPOINT "  conditions:\n    serving: \"true\"\n",
		   EPS "endpoints[0].conditions.serving: \"true\" is not true or false", 11, 14);
	EXPECT_ERR(ENDPOINT "  conditions:\n    terminating: 1\n",
		   EPS "endpoints[0].conditions.terminating: \"1\" is not true or false", 11, 18);
	EXPECT_ERR(ENDPOINT "  nodeName: Node_1\n",
		   EPS "endpoints[0].nodeName: \"Node_1\" is not a valid DNS-1123 subdomain "
		   "(lowercase letters, digits, '-' and '.', starting and ending with a letter or "
		   "digit)", 10, 13);
	EXPECT_ERR(ENDPOINT "  nodeName: \"\"\n",
		   EPS "endpoints[0].nodeName: \"\" is not a valid DNS-1123 subdomain (lowercase "
		   "letters, digits, '-' and '.', starting and ending with a letter or digit)", 10,
		   13);
	EXPECT_ERR(EPS4 "ports: {}\n", EPS "ports: must be a list", 7, 8);
	EXPECT_ERR(EPS4 "ports:\n- 80\n", EPS "ports[0]: must be a map", 8, 3);
	EXPECT_ERR(EPS4 "ports:\n- port: 0\n",
		   EPS "ports[0].port: \"0\" is not a port number (1-65535)", 8, 9);
	EXPECT_ERR(EPS4 "ports:\n- port: \"8080\"\n",
		   EPS "ports[0].port: \"8080\" is not a port number (1-65535)", 8, 9);
	EXPECT_ERR(EPS4 "ports:\n- port: 80\n  protocol: Tcp\n",
		   EPS "ports[0].protocol: \"Tcp\" is not TCP, UDP or SCTP", 9, 13);
	EXPECT_ERR(EPS4 "ports:\n- port: 80\n  name: Web\n",
		   EPS "ports[0].name: \"Web\" is not a valid DNS-1123 label (lowercase letters, "
		   "digits and '-', starting and ending with a letter or digit)", 9, 9);
	EXPECT_ERR(EPS4 "ports:\n- name: web\n  port: 80\n- name: web\n  port: 81\n",
		   EPS "ports[1].name: \"web\" is also ports[0]'s name", 10, 9);
	EXPECT_ERR(EPS4 "ports:\n- port: 80\n- port: 81\n",
		   EPS "ports[1].name: \"\" is also ports[0]'s name", 9, 3);
}

/* Decode both; they must compare as want. */
static void expect_equal_at(const char *file, int at, const char *ya, const char *yb, int want)
{
	struct k8s_object *a = NULL, *b = NULL;
	struct doc_error err;

	if (decode(ya, &a, &err) || decode(yb, &b, &err) || k8s_object_equal(a, b) != want ||
	    k8s_object_equal(b, a) != want) {
		fprintf(stderr, "  %s:%d: not %s\n", file, at, want ? "equal" : "different");
		unit_failed_checks++;
	}
	k8s_object_free(a);
	k8s_object_free(b);
}
#define EXPECT_EQUAL(a, b) expect_equal_at(__FILE__, __LINE__, a, b, 1)
#define EXPECT_DIFFERENT(a, b) expect_equal_at(__FILE__, __LINE__, a, b, 0)

/* s with the first from replaced by to (a fixture variant); static buffer. */
static const char *edit(const char *s, const char *from, const char *to)
{
	static char buf[2][8192];
	static int which;
	const char *at = strstr(s, from);
	char *out = buf[which ^= 1];

	if (!at || strlen(s) - strlen(from) + strlen(to) >= sizeof(buf[0])) {
		fprintf(stderr, "  edit: \"%s\" not in the fixture\n", from);
		unit_failed_checks++;
		return s;
	}
	snprintf(out, sizeof(buf[0]), "%.*s%s%s", (int)(at - s), s, to, at + strlen(from));
	return out;
}

static void equality(void)
{
	/* the same object; resourceVersion and what tern does not read
	 * are no difference */
	EXPECT_EQUAL(lb_yaml, lb_yaml);
	EXPECT_EQUAL(lb_yaml, edit(lb_yaml, "resourceVersion: \"4242\"", "resourceVersion: \"5\""));
	EXPECT_EQUAL(lb_yaml, edit(lb_yaml, "healthCheckNodePort: 31234", "healthCheckNodePort: 1"));
	EXPECT_EQUAL(lb_yaml, edit(lb_yaml, "- hostname: lb.example.com", "- hostname: x.example"));
	EXPECT_EQUAL(eps_yaml, eps_yaml);
	EXPECT_EQUAL(eps_yaml, edit(eps_yaml, "zone: zone-a", "zone: zone-c"));
	EXPECT_EQUAL(eps_yaml, edit(eps_yaml, "generation: 5", "generation: 6"));

	/* every field tern reads is a difference */
	EXPECT_DIFFERENT(lb_yaml, edit(lb_yaml, "type: LoadBalancer", "type: NodePort"));
	EXPECT_DIFFERENT(lb_yaml, edit(lb_yaml, "  - fd00:10:96::1234\n", ""));
	EXPECT_DIFFERENT(lb_yaml, edit(lb_yaml, "  - 2001:db8::10\n", "  - 2001:db8::11\n"));
	EXPECT_DIFFERENT(lb_yaml, edit(lb_yaml, "- ip: 2001:db8:1::7", "- ip: 2001:db8:1::8"));
	EXPECT_DIFFERENT(lb_yaml, edit(lb_yaml, "- ip: 198.51.100.8\n      ipMode: Proxy",
				       "- ip: 198.51.100.8\n      ipMode: VIP"));
	EXPECT_DIFFERENT(lb_yaml, edit(lb_yaml, "name: https", "name: tls"));
	EXPECT_DIFFERENT(lb_yaml, edit(lb_yaml, "port: 443", "port: 444"));
	EXPECT_DIFFERENT(lb_yaml, edit(lb_yaml, "nodePort: 30443", "nodePort: 30444"));
	EXPECT_DIFFERENT(lb_yaml, edit(lb_yaml, "targetPort: 8443", "targetPort: 8444"));
	EXPECT_DIFFERENT(lb_yaml, edit(lb_yaml, "targetPort: http-web", "targetPort: http-alt"));
	EXPECT_DIFFERENT(lb_yaml, edit(lb_yaml, "protocol: UDP", "protocol: SCTP"));
	EXPECT_DIFFERENT(lb_yaml, edit(lb_yaml, "timeoutSeconds: 600", "timeoutSeconds: 601"));
	EXPECT_DIFFERENT(lb_yaml, edit(lb_yaml, "externalTrafficPolicy: Local",
				       "externalTrafficPolicy: Cluster"));
	EXPECT_DIFFERENT(lb_yaml, edit(lb_yaml, "internalTrafficPolicy: Local",
				       "internalTrafficPolicy: Cluster"));
	EXPECT_DIFFERENT(dns_yaml, edit(dns_yaml, "sessionAffinity: None",
					"sessionAffinity: ClientIP"));
	EXPECT_DIFFERENT(SVC_HEAD "spec:\n  clusterIP: None\n", SVC_HEAD "spec:\n  clusterIP: \"\"\n");

	/* endpoint conditions: the changes that matter most */
	EXPECT_DIFFERENT(eps_yaml, edit(eps_yaml, "    ready: true\n", "    ready: false\n"));
	EXPECT_DIFFERENT(eps_yaml, edit(eps_yaml, "    serving: false\n", "    serving: true\n"));
	EXPECT_DIFFERENT(eps_yaml, edit(eps_yaml, "    terminating: true\n",
					"    terminating: false\n"));
	EXPECT_DIFFERENT(eps_yaml, edit(eps_yaml, "  - 10.244.2.7\n", "  - 10.244.2.8\n"));
	EXPECT_DIFFERENT(eps_yaml, edit(eps_yaml, "  - 10.244.2.7\n",
					"  - 10.244.2.7\n  - 10.244.2.9\n"));
	EXPECT_DIFFERENT(eps_yaml, edit(eps_yaml, "nodeName: node-2", "nodeName: node-9"));
	EXPECT_DIFFERENT(eps_yaml, edit(eps_yaml, "port: 8080", "port: 8081"));
	EXPECT_DIFFERENT(eps_yaml, edit(eps_yaml, "- name: dns", "- name: dns2"));
	EXPECT_DIFFERENT(eps_yaml, edit(eps_yaml, "protocol: UDP", "protocol: SCTP"));
	EXPECT_DIFFERENT(eps_yaml, edit(eps_yaml, "kubernetes.io/service-name: web",
					"kubernetes.io/service-name: api"));
	EXPECT_DIFFERENT(eps_yaml, edit(eps_yaml, "- addresses:\n  - 10.244.3.9\n",
					"- addresses:\n  - 10.244.3.9\n  conditions: {}\n"
					"- addresses:\n  - 10.244.3.10\n"));
	/* a service and its slice are never equal */
	EXPECT_DIFFERENT(SVC_HEAD, EPS_HEAD "addressType: IPv4\n");
}

int main(void)
{
	UNIT_BEGIN("k8s_svc");
	RUN(service_full);
	RUN(service_defaults);
	RUN(service_types);
	RUN(service_target_ports);
	RUN(errors_service_ips);
	RUN(errors_service_ports);
	RUN(errors_service_policies);
	RUN(endpointslice_full);
	RUN(endpointslice_semantics);
	RUN(errors_endpointslice);
	RUN(equality);
	return UNIT_END();
}
