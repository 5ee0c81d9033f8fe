#!/bin/bash
# deploy/ without a cluster. Statically (test/deploy/manifests.py): every
# manifest against the Kubernetes API types (strict), the ClusterRole against
# the kinds ternd's datastore lists and watches, the DaemonSet against
# ternd's config (mounts, probes, NODE_NAME), the Dockerfile against the
# tree. Then for real, on a node made of namespaces: ternd with exactly the
# DaemonSet's capabilities (and failing without each one); the install-cni
# init container against the fake API server, its bundle in an empty
# chroot; and ternd as the DaemonSet runs it (in-cluster credentials, the
# ConfigMap's config, its probes) with a pod wired by the installed tern-cni.
#
#  [p] eth0 == tern<p> -- [node: ternd (BPF, NET_ADMIN, PERFMON only),   ] eth0 == br0 [underlay:
#                          [install-cni, tern-cni from $WORK/cni-bin     ]         fake API server
#                          [/var/run/secrets/... in a private mount ns   ]         10.99.0.1:6443]
. "$(dirname "$0")/kube_lib.sh"

MANIFESTS=$ROOT/test/deploy/manifests.py
mget() { /usr/bin/python3 "$MANIFESTS" get "$ROOT" "$@"; }

# --- the manifests, the Dockerfile -----------------------------------------------
if /usr/bin/python3 "$MANIFESTS" check "$ROOT" >"$WORK/manifests.out" 2>&1; then :; fi
grep -q '^ok ' "$WORK/manifests.out" || fail manifests "$(tail -n 5 "$WORK/manifests.out" | tr '\n' ' ')"
while read -r st name rest; do
	case $st in
	ok) ok "$name" ;;
	FAIL) fail "${name%:}" "$rest" ;;
	esac
done <"$WORK/manifests.out"
mget ternd-config >"$WORK/ternd.yaml"
mget conflist >"$WORK/05-tern.conflist"
check configmap-config-valid env NODE_NAME=node-x "$B/ternd" --config "$WORK/ternd.yaml" --check
check configmap-conflist-json jq -e '.plugins[0].type == "tern-cni"' "$WORK/05-tern.conflist"
check install-cni-syntax sh -n "$ROOT/deploy/install-cni.sh"

# --- ternd needs exactly the DaemonSet's capabilities ------------------------------
node_up
pod_add a 2
pod_add b 3
write_config
CAPS=$(mget caps ternd)
HA=$(wl_ifname default a)
# caps_up BOUNDING: ternd started with only these capabilities became ready
# and attached to pod a (it is stopped again either way)
caps_up() {
	local lines rc=1
	lines=$(grep -c . "$TERND_LOG" || true) # 0 lines: grep says 0 and fails
	nsenter --net="/run/netns/$NODE_NS" -- setpriv --bounding-set "$1" -- \
		"$B/ternd" --config "$CONF" >>"$TERND_LOG" 2>&1 &
	TERND_PID=$!
	# ready, or exited for want of a capability
	wait_until 10 sh -c "tail -n +$((lines + 1)) '$TERND_LOG' | grep -q ' ready$' || ! kill -0 $TERND_PID"
	if ternd_ready_since "$lines" && wait_until 3 test -e "$PIN/links/tc-in/$HA" &&
		in_pod a ping -c 1 -W 2 "$(pod_ip4 3)" >/dev/null; then
		rc=0
	fi
	ternd_stop
	rm -rf "$PIN"
	return $rc
}
caps_short() { ! caps_up "$1"; }
touch "$TERND_LOG"
log "the DaemonSet's capabilities: $CAPS"
check caps-enough caps_up "$CAPS"
for cap in $(echo "${CAPS#-all}" | tr ',' ' '); do
	check "caps-needs-${cap#+}" caps_short "${CAPS/,$cap/}"
done

# their veths and routes go with them: host-local hands out their addresses again
ip netns del "$P-a"
ip netns del "$P-b"

# --- install-cni against the API server ----------------------------------------------
fake_up || exit 1
kube_base
kput "{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{\"name\":\"$NODE_NAME\"},\"spec\":{\"podCIDR\":\"10.244.1.0/24\",\"podCIDRs\":[\"10.244.1.0/24\",\"fd00:244::/64\"]},\"status\":{\"addresses\":[{\"type\":\"InternalIP\",\"address\":\"10.99.0.2\"}]}}"
# a DaemonSet container's view: its service account where the kubelet
# mounts it, the API server in its environment, NODE_NAME, its capabilities
SA=$WORK/sa
mkdir -p "$SA"
cp "$PKI/ca.crt" "$SA/ca.crt"
echo "$TOKEN" >"$SA/token"
echo kube-system >"$SA/namespace"
cat >"$WORK/in_pod.sh" <<EOF
#!/bin/sh
# CAPS CMD...: run CMD as a container of the DaemonSet would run (in a private mount ns)
caps=\$1
shift
mount -t tmpfs tmpfs /run
mkdir -p /run/secrets/kubernetes.io/serviceaccount
mount --bind "$SA" /run/secrets/kubernetes.io/serviceaccount
exec env KUBERNETES_SERVICE_HOST=$API_HOST KUBERNETES_SERVICE_PORT=$API_PORT NODE_NAME=$NODE_NAME \
	setpriv --bounding-set "\$caps" -- "\$@"
EOF
chmod +x "$WORK/in_pod.sh"
in_pod_ctr() { in_node unshare --mount --propagation private "$WORK/in_pod.sh" "$@"; }

CNI_BIN=$WORK/cni-bin CNI_NET=$WORK/cni-net
mkdir -p "$CNI_BIN" "$CNI_NET"
install_cni() {
	in_pod_ctr "$(mget caps install-cni)" env CNI_BIN_DIR="$CNI_BIN" CNI_NET_DIR="$CNI_NET" \
		CNI_CONFLIST_TEMPLATE="$WORK/05-tern.conflist" \
		TERN_CNI_PLUGINS="$B/tern-cni /usr/lib/cni/host-local" "$ROOT/deploy/install-cni.sh"
}
check install-cni install_cni
INSTALLED=$CNI_NET/05-tern.conflist
check install-cni-ranges-from-node jq -e \
	'.plugins[0].ipam.ranges == [[{"subnet": "10.244.1.0/24"}], [{"subnet": "fd00:244::/64"}]]' "$INSTALLED"
check install-cni-listed-node-with-token test "$(fake_count "auth=token:$TOKEN")" -ge 1
check install-cni-wrappers sh -c "grep -q \"installed by tern's install-cni\" $CNI_BIN/tern-cni && \
	grep -q \"installed by tern's install-cni\" $CNI_BIN/host-local"
bundles() { ls "$CNI_BIN/tern.d" | tr '\n' ' '; }
before=$(bundles)
check install-cni-again install_cni
check install-cni-idempotent sh -c "[ '$(bundles)' = '$before' ] && [ -z \"\$(ls -A $CNI_BIN | grep '^\.')\" ] && \
	[ -z \"\$(ls -A $CNI_NET | grep '^\.')\" ]"
# POD_CIDRS instead of the Node
check install-cni-pod-cidrs-env sh -c "mkdir -p $WORK/net2 && CNI_BIN_DIR=$WORK/bin2 CNI_NET_DIR=$WORK/net2 \
	CNI_CONFLIST_TEMPLATE=$WORK/05-tern.conflist POD_CIDRS=10.1.0.0/24 \
	TERN_CNI_PLUGINS=$B/tern-cni TERN_CNI_PLUGINS_IF_MISSING= \
	sh -c 'mkdir -p \$CNI_BIN_DIR && $ROOT/deploy/install-cni.sh' 2>/dev/null && \
	jq -e '.plugins[0].ipam.ranges == [[{\"subnet\": \"10.1.0.0/24\"}]]' $WORK/net2/05-tern.conflist"

# the bundle needs nothing from the host but /bin/sh: an empty root with a
# static busybox as sh runs both plugins
ROOTFS=$WORK/rootfs
mkdir -p "$ROOTFS/bin" "$ROOTFS/opt/cni"
cp "$(command -v busybox)" "$ROOTFS/bin/sh"
cp -a "$CNI_BIN" "$ROOTFS/opt/cni/bin"
version_in_chroot() { # PLUGIN
	echo '{"cniVersion":"1.0.0"}' | env -i CNI_COMMAND=VERSION chroot "$ROOTFS" "/opt/cni/bin/$1" |
		jq -e '.supportedVersions | index("1.0.0")'
}
check bundle-tern-cni-in-empty-root version_in_chroot tern-cni
check bundle-host-local-in-empty-root version_in_chroot host-local
if ! cni_driver_build >"$WORK/go.log" 2>&1; then
	fail driver-build "$(tail -n 5 "$WORK/go.log" | tr '\n' ' ')"
	exit 1
fi
check libcni-validates-installed in_node env CNI_PATH="$CNI_BIN" "$CNI_DRIVER" validate "$INSTALLED"

# --- ternd as the DaemonSet runs it, a pod through the installed tern-cni ------------
# the ConfigMap's config as it is, but for this test's pin path and cgroup
sed -e "s|pinPath: [^ ]*|pinPath: $PIN|" -e "s|cgroupPath: [^ ]*|cgroupPath: $CGROUP|" \
	"$WORK/ternd.yaml" >"$WORK/ternd-ds.yaml"
CONF=$WORK/ternd-ds.yaml
KTERND_WRAP="unshare --mount --propagation private $WORK/in_pod.sh $CAPS"
check ternd-in-cluster-ready kternd_start
probe_code() { in_node curl -s -o /dev/null -w '%{http_code}' "$(mget probe "$1")"; }
check liveness-probe test "$(probe_code liveness)" = 200
check readiness-probe test "$(probe_code readiness)" = 200
check ternd-node-name-from-env tlog_has "on node $NODE_NAME"

# host-local keeps its allocations under the test's dir, not /var/lib/cni;
# tern-cni finds ternd's programs under the test's pin path
jq --arg d "$CNI_IPAM_DIR" --arg pin "$PIN" '.plugins[0].ipam.dataDir = $d |
	.plugins[0].bpfPinPath = $pin' "$INSTALLED" >"$WORK/ds.conflist"
CNI_PLUGIN_PATH=$CNI_BIN
sandbox_add p
add_web() { cni add p web default "$WORK/ds.conflist" | tee "$WORK/p.json" && jq -e .ips "$WORK/p.json" >/dev/null; }
check installed-add add_web
# the installed tern-cni put tern's programs on the pod before ternd knew it
check installed-add-programs test "$(in_node "$B/test/e2e/tcx_query" "$(wl_ifname default web)" |
	grep -c tern_)" = 2
P4=$(jq -r '.ips[0].address' "$WORK/p.json" | cut -d/ -f1)
P6=$(jq -r '.ips[1].address' "$WORK/p.json" | cut -d/ -f1)
kput "$(kpod_json web 0 default "$NODE_NAME" "$P4" | jq -c --arg v6 "$P6" '.status.podIPs[1].ip = $v6')"
check installed-ternd-attaches wait_until 5 attached web
check installed-pod-to-underlay in_pod p ping -c 1 -W 2 10.99.0.1
check installed-underlay-to-pod-v6 in_ns "$UL_NS" ping -6 -c 1 -W 2 "$P6"
check installed-check cni check p web default "$WORK/ds.conflist"
check installed-del cni del p web default "$WORK/ds.conflist"
check installed-del-released sh -c "! ls $CNI_IPAM_DIR/tern | grep -q '^[0-9a-f.:]*\$'"
