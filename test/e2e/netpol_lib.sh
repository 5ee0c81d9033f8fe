# The network policy conformance topology, after the upstream Kubernetes
# network-policy e2e tests: namespaces x, y, z (labels ns=NAME), pods a, b,
# c in each (label pod=NAME; containers serving TCP and UDP on 80 and 81,
# ports named serve-80-tcp, serve-80-udp, serve-81-tcp, serve-81-udp), all
# on this node; policies are manifests in the datastore; np_expect probes
# the full 9x9 matrix (IPv4 and IPv6) against an expected one. Sourced
# after lib.sh.
#
#  [x-a] eth0 == tern.. --\                          pod NS/P: netns $P-NS-P,
#  [x-b] eth0 == tern.. ---+-- [node: ternd] -- ...  10.244.1.N, fd00:244::N,
#   ...                    |                         N = 10*(x=1,y=2,z=3) +
#  [z-c] eth0 == tern.. --/                          (a=1,b=2,c=3)
NP_NSS="x y z"
NP_PODS="a b c"
NP_PROBE=$B/test/e2e/np_probe

np_n() { # NS POD
	echo $((10 * ($(expr index xyz "$1")) + $(expr index abc "$2")))
}

# np_ns_manifest NS [key=value...]: the namespace, labelled ns=NS and more
np_ns_manifest() {
	local ns=$1
	shift
	{
		printf 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n  labels:\n' "$ns"
		printf '    ns: "%s"\n' "$ns"
		for l in "$@"; do printf '    %s: "%s"\n' "${l%%=*}" "${l#*=}"; done
	} >"$STATE/.ns-$ns.tmp"
	mv "$STATE/.ns-$ns.tmp" "$STATE/ns-$ns.yaml"
}

# np_pod_manifest NS POD [key=value...]: labelled pod=POD and more
np_pod_manifest() {
	local ns=$1 pod=$2 n
	shift 2
	n=$(np_n "$ns" "$pod")
	{
		printf 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: %s\n  namespace: %s\n' "$pod" "$ns"
		printf '  labels:\n    pod: "%s"\n' "$pod"
		for l in "$@"; do printf '    %s: "%s"\n' "${l%%=*}" "${l#*=}"; done
		printf 'spec:\n  nodeName: %s\n  containers:\n' "$NODE_NAME"
		for port in 80 81; do
			for proto in tcp udp; do
				printf '  - name: cont-%s-%s\n    image: agnhost\n    ports:\n' "$port" "$proto"
				printf '    - containerPort: %s\n      name: serve-%s-%s\n      protocol: %s\n' \
					"$port" "$port" "$proto" "${proto^^}"
			done
		done
		printf 'status:\n  phase: Running\n  podIP: 10.244.1.%s\n  podIPs:\n' "$n"
		printf '  - ip: 10.244.1.%s\n  - ip: fd00:244::%s\n' "$n" "$n"
	} >"$STATE/.pod-$ns-$pod.tmp"
	mv "$STATE/.pod-$ns-$pod.tmp" "$STATE/pod-$ns-$pod.yaml"
}

# Namespaces, pods wired and serving, manifests written (ternd not started).
np_setup() {
	local ns pod pns
	for ns in $NP_NSS; do
		np_ns_manifest "$ns"
		for pod in $NP_PODS; do
			pns=$P-$ns-$pod
			ip netns add "$pns"
			ip -n "$pns" link set lo up
			in_ns "$pns" sysctl -qw net.ipv6.conf.all.accept_dad=0 \
				net.ipv6.conf.default.accept_dad=0
			pod_wire "$pod" "$(np_n "$ns" "$pod")" "$ns" "$pns"
			np_pod_manifest "$ns" "$pod"
			bg nsenter --net="/run/netns/$pns" -- sh -c \
				'echo $$ > "$0/pods/cgroup.procs" && exec "$1" serve 80 81' \
				"$CGROUP" "$NP_PROBE"
		done
	done
}

# Every pod's host interface has tern's hooks.
np_attached() {
	local ns pod
	for ns in $NP_NSS; do
		for pod in $NP_PODS; do
			test -e "$PIN/links/tc-in/$(wl_ifname "$ns" "$pod")" || return 1
		done
	done
}

# np_policy NAME < manifest: into the datastore (replacing one of that name)
np_policy() {
	cat >"$STATE/.np-$1.tmp"
	mv "$STATE/.np-$1.tmp" "$STATE/np-$1.yaml"
}
np_policy_rm() { rm -f "$STATE/np-$1.yaml"; }
np_clear() { rm -f "$STATE"/np-*.yaml; }

# np_check NAME SPEC [PORT [PROTO]]: the matrix is SPEC (netpol_matrix.py);
# on failure both matrices are printed with the differences marked
np_check() {
	local name=$1 spec=$2 port=${3:-80} proto=${4:-tcp}
	if python3 "$ROOT/test/e2e/netpol_matrix.py" --probe "$NP_PROBE" --prefix "$P" \
		--port "$port" --proto "$proto" "$spec" >"$WORK/np.out" 2>&1; then
		ok "$name"
	else
		sed 's/^/#   /' "$WORK/np.out" >&2
		fail "$name" "$(head -n 1 "$WORK/np.out")"
	fi
}
