# Shared by the test_kube*.sh tests, on top of lib.sh: the fake API server
# (test/kube/fake_apiserver.py) on the underlay, where a real node finds its
# control plane, and ternd with datastore.type kubernetes talking to it.
#
#  [pod netns] eth0 == tern<pod> -- [node netns: ternd] eth0 == n1 -- br0 [underlay netns]
#                                    /healthz /readyz on              fake API server
#                                    127.0.0.1:9099                   https://10.99.0.1:6443
#
# The fake is steered over a Unix socket in $WORK ("fake POST /break").

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

API_HOST=10.99.0.1
API_PORT=6443
API_URL=https://$API_HOST:$API_PORT
PKI=$WORK/pki
FAKE_SOCK=$WORK/fake.sock
FAKE_LOG=$WORK/fake.log
KUBECONFIG_FILE=$WORK/kubeconfig
HEALTH=127.0.0.1:9099
TOKEN=tok-$E2E_ID

# Start the fake with the test PKI; extra arguments go to it.
fake_up() {
	"$ROOT/test/kube/certs.sh" "$PKI" "$NODE_NAME" || return 1
	bg nsenter --net="/run/netns/$UL_NS" -- python3 "$ROOT/test/kube/fake_apiserver.py" \
		--listen "$API_HOST:$API_PORT" --cert "$PKI/server.crt" --key "$PKI/server.key" \
		--client-ca "$PKI/ca.crt" --token "$TOKEN" --control "$FAKE_SOCK" "$@" \
		2>>"$FAKE_LOG"
	wait_until 10 fake GET /rv || { log "the fake API server did not start:"; cat "$FAKE_LOG" >&2; return 1; }
}

# fake METHOD PATH [curl args...]: one control request; its answer on stdout.
fake() {
	local method=$1 path=$2
	shift 2
	curl -sf --unix-socket "$FAKE_SOCK" -X "$method" "http://fake$path" "$@"
}
# Create or replace an object (JSON on stdin or as $1).
kput() { if [ $# -gt 0 ]; then fake POST /objects -d "$1"; else fake POST /objects -d @-; fi >/dev/null; }
kdel() { fake DELETE "/objects/$1/$2/$3" >/dev/null; } # RESOURCE NAMESPACE|- NAME
fake_count() { fake GET "/count?$1"; }

kpod_json() { # NAME N [NAMESPACE] [NODE] [IP4]: a pod as the API server holds it
	local name=$1 n=$2 ns=${3:-default} node=${4:-$NODE_NAME} ip4=${5:-10.244.1.$2}
	printf '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"%s","namespace":"%s","labels":{"app":"%s"}},"spec":{"nodeName":"%s","containers":[{"name":"main","image":"busybox","ports":[{"containerPort":80,"protocol":"TCP"}]}]},"status":{"phase":"Running","podIP":"%s","podIPs":[{"ip":"%s"},{"ip":"fd00:244::%s"}]}}' \
		"$name" "$ns" "$name" "$node" "$ip4" "$ip4" "$n"
}
# A pod's namespace and wiring (as tern-cni would make them) and its object.
kpod_add() { # NAME N [NAMESPACE]
	local ns=${3:-default}
	ip netns add "$P-$1"
	ip -n "$P-$1" link set lo up
	in_ns "$P-$1" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
	pod_wire "$1" "$2" "$ns"
	kput "$(kpod_json "$1" "$2" "$ns")"
}

# The cluster every kube test starts from: a namespace, this node, one of
# each kind ternd reads besides pods.
kube_base() {
	kput '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"default"}}'
	kput "{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{\"name\":\"$NODE_NAME\"},\"status\":{\"addresses\":[{\"type\":\"InternalIP\",\"address\":\"10.99.0.2\"}]}}"
	kput '{"apiVersion":"v1","kind":"Service","metadata":{"name":"web","namespace":"default"},"spec":{"type":"ClusterIP","clusterIP":"10.96.0.10","clusterIPs":["10.96.0.10"],"selector":{"app":"a"},"ports":[{"name":"http","port":80,"protocol":"TCP","targetPort":80}]}}'
	kput '{"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","metadata":{"name":"web-abc","namespace":"default","labels":{"kubernetes.io/service-name":"web"}},"addressType":"IPv4","endpoints":[{"addresses":["10.244.1.2"],"conditions":{"ready":true}}],"ports":[{"name":"http","port":80,"protocol":"TCP"}]}'
	kput '{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"name":"allow-all","namespace":"default"},"spec":{"podSelector":{},"ingress":[{}],"policyTypes":["Ingress"]}}'
}

# kubeconfig_write KIND: "token" (token inline), "cert-data" (client
# certificate inline, CA inline), "files" (relative file names and a
# tokenFile), "other-ca" (a CA that did not sign the server), "anonymous".
kubeconfig_write() {
	local user ca="certificate-authority-data: $(base64 -w0 <"$PKI/ca.crt")"
	case "$1" in
	token) user="token: $TOKEN" ;;
	cert-data) user="client-certificate-data: $(base64 -w0 <"$PKI/client.crt")
    client-key-data: $(base64 -w0 <"$PKI/client.key")" ;;
	files)
		cp "$PKI/ca.crt" "$WORK/kc-ca.crt"
		echo "$TOKEN" >"$WORK/kc-token"
		ca="certificate-authority: kc-ca.crt"
		user="tokenFile: kc-token" ;;
	other-ca)
		ca="certificate-authority-data: $(base64 -w0 <"$PKI/other-ca.crt")"
		user="token: $TOKEN" ;;
	anonymous) user="{}" ;;
	esac
	cat >"$KUBECONFIG_FILE" <<EOF
apiVersion: v1
kind: Config
current-context: test
contexts:
- name: other
  context: {cluster: nowhere, user: nobody}
- name: test
  context:
    cluster: fake
    user: ternd
clusters:
- name: fake
  cluster:
    server: $API_URL
    $ca
users:
- name: ternd
  user:
    $user
EOF
}

# The agent's config for the kubernetes datastore; $1: the kubeconfig ("" =
# in-cluster).
write_kube_config() {
	cat >"$CONF" <<EOF
nodeName: $NODE_NAME
logLevel: ${TERND_LOG_LEVEL:-debug}
datastore:
  type: kubernetes
  kubeconfig: "${1-$KUBECONFIG_FILE}"
bpf:
  pinPath: $PIN
  cgroupPath: $CGROUP
  workloadInterfacePrefix: tern
  dataInterfaces: [eth0]
health:
  address: "$HEALTH"
EOF
}

# Start ternd without waiting for it (ternd_start waits for "ready").
# KTERND_WRAP, if set, runs before ternd inside the node namespace (a
# command prefix, e.g. a mount namespace for the service account).
kternd_spawn() {
	touch "$TERND_LOG"
	TERND_LINES=$(grep -c . "$TERND_LOG")
	# shellcheck disable=SC2086
	nsenter --net="/run/netns/$NODE_NS" -- ${KTERND_WRAP:-} "$B/ternd" --config "$CONF" \
		>>"$TERND_LOG" 2>&1 &
	TERND_PID=$!
}
kternd_start() {
	kternd_spawn
	if ! wait_until 20 ternd_ready_since "$TERND_LINES"; then
		log "ternd did not become ready:"
		tail -n 30 "$TERND_LOG" >&2
		return 1
	fi
}
# The lines ternd logged since it was last started.
tlog() { tail -n +"$((TERND_LINES + 1))" "$TERND_LOG"; }
tlog_has() { tlog | grep -q -- "$1"; }
tlog_count() { tlog | grep -c -- "$1"; }

# HTTP status of a health endpoint.
health_code() { in_node curl -s -o /dev/null -w '%{http_code}' "http://$HEALTH$1"; }
health_body() { in_node curl -s "http://$HEALTH$1"; }

attached() { test -e "$PIN/links/tc-in/$(wl_ifname "${2:-default}" "$1")"; }
detached() { test ! -e "$PIN/links/tc-in/$(wl_ifname "${2:-default}" "$1")"; }
