# Shared by the e2e tests, the benchmarks and the demo: a sandboxed node in
# network namespaces, pods wired as DESIGN.md's "pod wiring", ternd running
# in the node namespace with its own pin path and cgroup. Everything is
# created under one unique prefix and removed by `e2e_cleanup` (a trap).
#
#  [pod netns] eth0 ==veth== ternXXXXXXXXXXX [node netns: ternd] eth0 ==veth== n1 -- br0 [underlay]
#                            (no address, proxy_arp/ndp;          10.99.0.2      10.99.0.1, clients
#                             /32 /128 routes to the pod)         fd00:99::2     fd00:99::1
#
# Pods get 10.244.1.N/32 and fd00:244::N/128, default routes via 169.254.1.1
# and fe80::1. The underlay routes the pod ranges back via the node.

set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
B=$ROOT/build
E2E_ID=${E2E_ID:-$$}
P=tn$E2E_ID
NODE_NS=$P-node
UL_NS=$P-ul
NODE_NAME=node-1
PIN=/sys/fs/bpf/tern-$P
WORK=$(mktemp -d "/tmp/tern-$P.XXXX")
STATE=$WORK/state
CONF=$WORK/config.yaml
TERND_LOG=$WORK/ternd.log
TERND_PID=
BG_PIDS=()
E2E_PASSED=0
E2E_FAILED=0
E2E_NAME=${E2E_NAME:-$(basename "${0%.sh}")}
mkdir -p "$STATE"

# The cgroup v2 mount (hybrid machines have it at /sys/fs/cgroup/unified).
cgroup2_root() {
	if [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ]; then
		echo /sys/fs/cgroup
	else
		awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts
	fi
}
CGROUP=$(cgroup2_root)/tern-$P

log() { echo "# $*" >&2; }
ok() { echo "ok e2e/$E2E_NAME/$1"; E2E_PASSED=$((E2E_PASSED + 1)); }
fail() {
	echo "FAIL e2e/$E2E_NAME/$1: ${2:-}"
	E2E_FAILED=$((E2E_FAILED + 1))
}
# check NAME CMD...: ok if CMD succeeds
check() {
	local name=$1
	shift
	if "$@" >"$WORK/check.out" 2>&1; then ok "$name"; else
		fail "$name" "$(tail -n 5 "$WORK/check.out" | tr '\n' ' ')"
	fi
	# E2E_VERBOSE=1: what each check printed
	[ -z "${E2E_VERBOSE:-}" ] || sed 's/^/#   /' "$WORK/check.out" >&2
}
# wait_until SECONDS CMD...: poll every 20 ms
wait_until() {
	local deadline=$((SECONDS + $1))
	shift
	while ! "$@" >/dev/null 2>&1; do
		[ $SECONDS -ge "$deadline" ] && return 1
		sleep 0.02
	done
}

in_ns() { # NAME CMD...
	local ns=$1
	shift
	nsenter --net="/run/netns/$ns" -- "$@"
}
in_node() { in_ns "$NODE_NS" "$@"; }
in_pod() { local p=$1; shift; in_ns "$P-$p" "$@"; }
# Run CMD in a pod netns inside the pods' cgroup.
in_pod_cg() {
	local p=$1
	shift
	nsenter --net="/run/netns/$P-$p" -- sh -c 'echo $$ > "$0/pods/cgroup.procs" && exec "$@"' "$CGROUP" "$@"
}

# --- naming, as tern-cni and ternd compute it --------------------------------
wl_ifname() { # NAMESPACE POD
	printf 'tern%s' "$(printf '%s.%s' "$1" "$2" | sha1sum | cut -c1-11)"
}

# --- the node ----------------------------------------------------------------
node_up() {
	mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
	ip netns add "$NODE_NS"
	ip netns add "$UL_NS"
	ip -n "$NODE_NS" link set lo up
	ip -n "$UL_NS" link set lo up
	in_node sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
		net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.all.accept_dad=0
	ip -n "$UL_NS" link add br0 type bridge
	ip -n "$UL_NS" link set br0 up
	ip -n "$UL_NS" addr add 10.99.0.1/24 dev br0
	ip -n "$UL_NS" -6 addr add fd00:99::1/64 dev br0 nodad
	ip -n "$NODE_NS" link add eth0 type veth peer name n1 netns "$UL_NS"
	ip -n "$UL_NS" link set n1 master br0 up
	ip -n "$NODE_NS" link set eth0 up
	ip -n "$NODE_NS" addr add 10.99.0.2/24 dev eth0
	ip -n "$NODE_NS" -6 addr add fd00:99::2/64 dev eth0 nodad
	ip -n "$NODE_NS" route add default via 10.99.0.1
	ip -n "$NODE_NS" -6 route add default via fd00:99::1
	ip -n "$UL_NS" route add 10.244.1.0/24 via 10.99.0.2
	ip -n "$UL_NS" -6 route add fd00:244::/64 via fd00:99::2
	mkdir -p "$CGROUP/pods"
	cat >"$STATE/node.yaml" <<EOF
apiVersion: v1
kind: Node
metadata:
  name: $NODE_NAME
status:
  addresses:
  - type: InternalIP
    address: 10.99.0.2
  - type: InternalIP
    address: fd00:99::2
EOF
}

# An external client on the underlay bridge: CLIENT N -> 10.99.0.N.
client_add() { # NAME N
	local ns=$P-$1
	ip netns add "$ns"
	ip -n "$ns" link set lo up
	in_ns "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
	ip -n "$UL_NS" link add "c$2" type veth peer name eth0 netns "$ns"
	ip -n "$UL_NS" link set "c$2" master br0 up
	ip -n "$ns" link set eth0 up
	ip -n "$ns" addr add "10.99.0.$2/24" dev eth0
	ip -n "$ns" -6 addr add "fd00:99::$2/64" dev eth0 nodad
	ip -n "$ns" route add 10.244.0.0/16 via 10.99.0.2
	ip -n "$ns" -6 route add fd00:244::/64 via fd00:99::2
}

# --- pods ----------------------------------------------------------------------
# pod_add NAME N [NAMESPACE] [LABELS...]: netns $P-NAME, IPs 10.244.1.N and
# fd00:244::N, wired to the node, and its manifest in the datastore.
pod_add() {
	local name=$1 n=$2 ns=${3:-default}
	shift 3 2>/dev/null || shift $#
	local pns=$P-$name host
	host=$(wl_ifname "$ns" "$name")
	ip netns add "$pns"
	ip -n "$pns" link set lo up
	in_ns "$pns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
	pod_wire "$name" "$n" "$ns"
	pod_manifest "$name" "$n" "$ns" "$@"
}

# The veth and routes alone (what tern-cni does); the netns must exist.
pod_wire() { # NAME N NAMESPACE [NETNS: default $P-NAME]
	local name=$1 n=$2 ns=$3 pns=${4:-$P-$1} host
	host=$(wl_ifname "$ns" "$name")
	ip -n "$NODE_NS" link add "$host" type veth peer name eth0 netns "$pns"
	ip -n "$pns" link set eth0 up
	ip -n "$pns" addr add "10.244.1.$n/32" dev eth0
	ip -n "$pns" -6 addr add "fd00:244::$n/128" dev eth0 nodad
	ip -n "$pns" route add 169.254.1.1 dev eth0 scope link
	ip -n "$pns" route add default via 169.254.1.1 dev eth0
	ip -n "$pns" -6 route add default via fe80::1 dev eth0
	in_node sysctl -qw "net.ipv4.conf.$host.proxy_arp=1" "net.ipv6.conf.$host.proxy_ndp=1" \
		"net.ipv4.neigh.$host.proxy_delay=0" "net.ipv6.neigh.$host.proxy_delay=0"
	ip -n "$NODE_NS" link set "$host" up
	ip -n "$NODE_NS" -6 neigh add proxy fe80::1 dev "$host"
	ip -n "$NODE_NS" route add "10.244.1.$n/32" dev "$host"
	ip -n "$NODE_NS" -6 route add "fd00:244::$n/128" dev "$host"
}

pod_manifest() { # NAME N NAMESPACE [key=value labels...]
	local name=$1 n=$2 ns=$3
	shift 3
	{
		echo "apiVersion: v1"
		echo "kind: Pod"
		echo "metadata:"
		echo "  name: $name"
		echo "  namespace: $ns"
		echo "  labels:"
		echo "    app: $name"
		for l in "$@"; do echo "    ${l%%=*}: \"${l#*=}\""; done
		echo "spec:"
		echo "  nodeName: $NODE_NAME"
		echo "  containers:"
		echo "  - name: main"
		echo "    image: busybox"
		echo "status:"
		echo "  phase: Running"
		echo "  podIP: 10.244.1.$n"
		echo "  podIPs:"
		echo "  - ip: 10.244.1.$n"
		echo "  - ip: fd00:244::$n"
	} >"$STATE/.pod-$ns-$name.tmp"
	mv "$STATE/.pod-$ns-$name.tmp" "$STATE/pod-$ns-$name.yaml"
}

pod_ip4() { echo "10.244.1.$1"; }
pod_ip6() { echo "fd00:244::$1"; }

# --- ternd ---------------------------------------------------------------------
write_config() {
	cat >"$CONF" <<EOF
nodeName: $NODE_NAME
logLevel: ${TERND_LOG_LEVEL:-info}
datastore:
  type: files
  path: $STATE
bpf:
  pinPath: $PIN
  cgroupPath: $CGROUP
  workloadInterfacePrefix: tern
  dataInterfaces: [eth0]
${EXTRA_CONFIG:-}
EOF
}

ternd_start() {
	[ -f "$CONF" ] || write_config
	touch "$TERND_LOG"
	nsenter --net="/run/netns/$NODE_NS" -- "$B/ternd" --config "$CONF" >>"$TERND_LOG" 2>&1 &
	TERND_PID=$!
	local lines
	lines=$(grep -c . "$TERND_LOG")
	if ! wait_until 20 ternd_ready_since "$lines"; then
		log "ternd did not become ready:"
		tail -n 20 "$TERND_LOG" >&2
		return 1
	fi
}
ternd_ready_since() { tail -n +"$(($1 + 1))" "$TERND_LOG" | grep -q ' ready$'; }
ternd_kill9() {
	[ -n "$TERND_PID" ] || return 0
	kill -9 "$TERND_PID" 2>/dev/null
	wait "$TERND_PID" 2>/dev/null
	TERND_PID=
}
ternd_stop() {
	[ -n "$TERND_PID" ] || return 0
	kill -TERM "$TERND_PID" 2>/dev/null
	wait "$TERND_PID" 2>/dev/null
	TERND_PID=
}
ternctl() { in_node "$B/ternctl" --pin-path "$PIN" "$@"; }
# counter NAME [IFNAME]: summed over interfaces (or for one)
counter() {
	ternctl -o json counters --all | python3 -c '
import json, sys
name, ifname = sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None
d = json.load(sys.stdin)
print(sum(i["counters"].get(name, 0) for i in d["interfaces"] if ifname in (None, i["name"])))
' "$@"
}

# Start CMD in the background (in whatever namespace the caller chose);
# killed at cleanup.
bg() {
	"$@" &
	BG_PIDS+=($!)
}

# --- tern-cni, driven through libcni -------------------------------------------
# test/cni/driver.go is the container runtime's side: Debian's libcni source
# (golang-github-appc-cni-dev) built in GOPATH mode, so nothing is fetched.
# The conf dir, libcni's result cache and host-local's data dir are in $WORK;
# plugins come from build/ (tern-cni) and /usr/lib/cni (Debian's host-local).
CNI_DRIVER=$B/test/cni/driver
CNI_NET_DIR=$WORK/net.d
CNI_CONFLIST=$CNI_NET_DIR/10-tern.conflist
CNI_IPAM_DIR=$WORK/ipam
CNI_PLUGIN_PATH=$B:/usr/lib/cni

cni_driver_build() {
	mkdir -p "$B/test/cni"
	GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$B/test/cni/gocache" GOPROXY=off \
		GOFLAGS= go build -o "$CNI_DRIVER" "$ROOT/test/cni/driver.go"
}

# cni_conflist FILE [JQ_FILTER]: tern-cni (with this test's pin path) with
# host-local over the test's pod ranges (from .100 up, clear of pod_add's
# addresses), edited by the filter.
cni_conflist() {
	mkdir -p "$(dirname "$1")"
	jq -n --arg dir "$CNI_IPAM_DIR" --arg pin "$PIN" '{
		cniVersion: "1.0.0", name: "tern",
		plugins: [{ type: "tern-cni", mtu: 1500, bpfPinPath: $pin,
			ipam: { type: "host-local", dataDir: $dir,
				ranges: [[{ subnet: "10.244.1.0/24", rangeStart: "10.244.1.100" }],
					 [{ subnet: "fd00:244::/64", rangeStart: "fd00:244::100" }]] } }]
	}' | jq "${2:-.}" >"$1"
}

# A pod sandbox as the runtime makes it before calling CNI: a netns, lo up.
sandbox_add() { # NAME: netns $P-NAME
	ip netns add "$P-$1"
	ip -n "$P-$1" link set lo up
}

# cni add|check|del SANDBOX POD [NAMESPACE] [CONFLIST]: libcni in the node
# netns for the pod POD in sandbox $P-SANDBOX (also the container ID);
# prints add's result, or a failure's {"code", "msg", "details"}.
cni() {
	local cmd=$1 sb=$2 pod=$3 ns=${4:-default} conf=${5:-$CNI_CONFLIST}
	in_node env CNI_PATH="$CNI_PLUGIN_PATH" CNI_CACHE_DIR="$WORK/cni-cache" \
		"$CNI_DRIVER" "$cmd" "$conf" "$P-$sb" "/run/netns/$P-$sb" eth0 "$ns" "$pod"
}

# pod_manifest_ips NAME NAMESPACE IP...: a Running pod on this node with
# the given IPs (as kubelet reports what CNI ADD returned).
pod_manifest_ips() {
	local name=$1 ns=$2
	shift 2
	{
		printf 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: %s\n  namespace: %s\n' "$name" "$ns"
		printf '  labels:\n    app: %s\n' "$name"
		printf 'spec:\n  nodeName: %s\n  containers:\n  - name: main\n    image: busybox\n' "$NODE_NAME"
		printf 'status:\n  phase: Running\n  podIP: %s\n  podIPs:\n' "$1"
		for ip in "$@"; do printf '  - ip: %s\n' "$ip"; done
	} >"$STATE/.pod-$ns-$name.tmp"
	mv "$STATE/.pod-$ns-$name.tmp" "$STATE/pod-$ns-$name.yaml"
}

e2e_cleanup() {
	local rc=$?
	for pid in "${BG_PIDS[@]}"; do kill "$pid" 2>/dev/null; done
	ternd_stop
	for ns in $(ip netns list | awk '{print $1}' | grep "^$P-"); do
		# whatever still runs inside our namespaces was started by this test
		ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
		ip netns del "$ns" 2>/dev/null
	done
	rm -rf "$PIN"
	if [ -d "$CGROUP" ]; then
		rmdir "$CGROUP/pods" "$CGROUP" 2>/dev/null
	fi
	if [ "$E2E_FAILED" != 0 ] && [ -f "$TERND_LOG" ]; then
		log "ternd log (last 30 lines):"
		tail -n 30 "$TERND_LOG" | sed 's/^/#   /' >&2
	fi
	rm -rf "$WORK"
	[ "$rc" = 0 ] && [ "$E2E_FAILED" != 0 ] && rc=1
	exit "$rc"
}
trap e2e_cleanup EXIT
trap 'exit 130' INT TERM

# --- services ------------------------------------------------------------------
# Write a manifest from stdin into the datastore atomically: manifest_write FILE
manifest_write() {
	cat >"$STATE/.$1.tmp"
	mv "$STATE/.$1.tmp" "$STATE/$1"
}

# eps_write NAME SERVICE FAMILY PORTNAME PORT PROTO ENDPOINT...
# An EndpointSlice; ENDPOINT is IP[,node=NAME][,ready=false][,serving=..][,terminating=..]
# (node defaults to this node, conditions to ready).
eps_write() {
	local name=$1 svc=$2 fam=$3 pname=$4 port=$5 proto=$6
	shift 6
	{
		echo "apiVersion: discovery.k8s.io/v1"
		echo "kind: EndpointSlice"
		echo "metadata:"
		echo "  name: $name"
		echo "  namespace: default"
		echo "  labels:"
		echo "    kubernetes.io/service-name: $svc"
		echo "addressType: IPv$fam"
		echo "ports:"
		echo "- name: \"$pname\""
		echo "  port: $port"
		echo "  protocol: $proto"
		if [ $# -eq 0 ]; then echo "endpoints: []"; else echo "endpoints:"; fi
		for e in "$@"; do
			local ip=${e%%,*} node=$NODE_NAME ready=true serving= term=false kv
			for kv in $(echo "$e" | tr ',' ' ' | cut -d' ' -f2-); do
				case $kv in
				node=*) node=${kv#node=} ;;
				ready=*) ready=${kv#ready=} ;;
				serving=*) serving=${kv#serving=} ;;
				terminating=*) term=${kv#terminating=} ;;
				esac
			done
			echo "- addresses: [\"$ip\"]"
			echo "  nodeName: $node"
			echo "  conditions:"
			echo "    ready: $ready"
			echo "    serving: ${serving:-$ready}"
			echo "    terminating: $term"
		done
	} | manifest_write "eps-$name.yaml"
}

# Servers answering with the pod's name and the peer they saw:
# tcp_echo_server POD PORT / udp_echo_server POD PORT (both families).
tcp_echo_server() { bg in_pod "$1" "$B/test/e2e/echo" tcp "$2" "$1"; }
udp_echo_server() { bg in_pod "$1" "$B/test/e2e/echo" udp "$2" "$1"; }
# tcp_ask POD ADDR PORT: what a server says, from POD in the pods' cgroup
# (so connect-time load balancing applies). socat wants [v6] in brackets.
tcp_ask() { in_pod_cg "$1" timeout 3 socat -T2 - "TCP:$(bracket "$2"):$3" </dev/null; }
udp_ask() { echo q | in_pod_cg "$1" timeout 3 socat -T2 - "UDP:$(bracket "$2"):$3"; }
bracket() { case $1 in *:*) echo "[$1]" ;; *) echo "$1" ;; esac; }
