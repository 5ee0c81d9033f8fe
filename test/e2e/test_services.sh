#!/bin/bash
# Services as kube-proxy makes them behave: ClusterIP over TCP and UDP with
# connect-time load balancing on and off, getpeername shows the VIP, NodePort
# and an external IP from outside with the client address kept
# (externalTrafficPolicy: Local), ClientIP affinity, unconnected UDP sockets
# each kept on one backend, hairpin, a service without endpoints refused at
# once, IPv6.
#
#  [a: client] eth0 == tern<a> --\                                /-- c1 [client 10.99.0.11]
#  [b: server] eth0 == tern<b> ---[node: ternd] eth0 == n1 -- br0 [ul]
#  [c: server] eth0 == tern<c> --/
#  ClusterIP 10.96.0.10 / fd00:96::10 :80 -> b, c :8080 (UDP :81 -> :8081)
. "$(dirname "$0")/lib.sh"

node_up
pod_add a 2
pod_add b 3
pod_add c 4
client_add c1 11
ip -n "$P-c1" route add 10.200.0.0/24 via 10.99.0.2
B4=$(pod_ip4 3) C4=$(pod_ip4 4) B6=$(pod_ip6 3) C6=$(pod_ip6 4)

manifest_write svc-web.yaml <<'EOF'
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: default
spec:
  type: NodePort
  clusterIP: 10.96.0.10
  clusterIPs: [10.96.0.10, fd00:96::10]
  ipFamilies: [IPv4, IPv6]
  externalIPs: [10.200.0.10]
  externalTrafficPolicy: Local
  ports:
  - name: http
    port: 80
    targetPort: 8080
    nodePort: 30080
  - name: dns
    protocol: UDP
    port: 81
    targetPort: 8081
    nodePort: 30081
EOF
eps_write web-v4 web 4 http 8080 TCP "$B4" "$C4"
eps_write web-v4-udp web 4 dns 8081 UDP "$B4" "$C4"
eps_write web-v6 web 6 http 8080 TCP "$B6" "$C6"
manifest_write svc-sticky.yaml <<'EOF'
apiVersion: v1
kind: Service
metadata:
  name: sticky
  namespace: default
spec:
  clusterIP: 10.96.0.11
  sessionAffinity: ClientIP
  ports:
  - name: http
    port: 80
    targetPort: 8080
EOF
eps_write sticky sticky 4 http 8080 TCP "$B4" "$C4"
manifest_write svc-empty.yaml <<'EOF'
apiVersion: v1
kind: Service
metadata:
  name: empty
  namespace: default
spec:
  clusterIP: 10.96.0.12
  ports:
  - name: http
    port: 80
  - name: dns
    protocol: UDP
    port: 81
EOF
manifest_write svc-self.yaml <<'EOF'
apiVersion: v1
kind: Service
metadata:
  name: self
  namespace: default
spec:
  clusterIP: 10.96.0.13
  ports:
  - name: http
    port: 80
    targetPort: 8080
EOF
eps_write self self 4 http 8080 TCP "$B4"
# an endpoint on another node (a host on the underlay stands for it)
client_add r1 50
manifest_write svc-remote.yaml <<'EOF'
apiVersion: v1
kind: Service
metadata:
  name: remote
  namespace: default
spec:
  type: NodePort
  clusterIP: 10.96.0.14
  externalTrafficPolicy: Cluster
  ports:
  - name: http
    port: 80
    targetPort: 8080
    nodePort: 30090
EOF
eps_write remote remote 4 http 8080 TCP "10.99.0.50,node=node-2"
bg in_ns "$P-r1" "$B/test/e2e/echo" tcp 8080 r1

for p in b c; do
	tcp_echo_server "$p" 8080
	udp_echo_server "$p" 8081
done
ternd_start || exit 1
wait_until 5 test -e "$PIN/links/tc-in/$(wl_ifname default c)"
sleep 0.3

# answers from N connections: which backends and peers were seen
spread() { # ASK-FUNCTION POD ADDR PORT N
	local f=$1 pod=$2 addr=$3 port=$4 n=$5
	for _ in $(seq "$n"); do $f "$pod" "$addr" "$port"; done | sort | uniq -c
}
both_backends() { # answers...: both b and c answered, nothing failed
	local out
	out=$(spread "$@")
	echo "$out"
	echo "$out" | grep -q ' b ' && echo "$out" | grep -q ' c ' &&
		[ "$(echo "$out" | awk '{s += $1} END {print s}')" = "$5" ]
}
peer_is_vip() { # VIP PORT: getpeername() of a connection to the VIP
	in_pod_cg a python3 -c '
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3)
print(s.getpeername()[0])' "$1" "$2" | grep -qx "$1"
}
refused_fast() { # ASK-FUNCTION ADDR PORT
	local t0=$SECONDS out
	out=$($1 a "$2" "$3" 2>&1)
	echo "$out"
	echo "$out" | grep -q "Connection refused" && [ $((SECONDS - t0)) -le 1 ]
}

# Unconnected UDP sockets, 20 datagrams each (sendto / recvfrom): each
# socket's answers come from one backend, and the VIP, as kube-proxy's
# conntrack pins such a flow; over 16 sockets both backends answer (all on
# one: 2^-15).
udp_sticky() { # VIP PORT
	local out
	out=$(in_pod_cg a python3 -c '
import socket, sys
vip, port = sys.argv[1], int(sys.argv[2])
for _ in range(16):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    seen = set()
    for _ in range(20):
        s.sendto(b"q", (vip, port))
        data, peer = s.recvfrom(512)
        if peer != (vip, port):
            seen.add("from-%s:%d" % peer)
        seen.add(data.split()[0].decode())
    print(" ".join(sorted(seen)))
    s.close()' "$1" "$2")
	echo "$out" | sort | uniq -c
	[ "$(echo "$out" | grep -cxE '[bc]')" = 16 ] && echo "$out" | grep -qx b &&
		echo "$out" | grep -qx c
}

phase() { # NAME: the checks, with connect-time LB on or off
	local m=$1
	check "$m/clusterip-tcp-v4" both_backends tcp_ask a 10.96.0.10 80 20
	check "$m/clusterip-udp-v4" both_backends udp_ask a 10.96.0.10 81 20
	check "$m/udp-unconnected-sticky" udp_sticky 10.96.0.10 81
	check "$m/clusterip-tcp-v6" both_backends tcp_ask a fd00:96::10 80 20
	check "$m/getpeername-vip" peer_is_vip 10.96.0.10 80
	check "$m/getpeername-vip-v6" peer_is_vip fd00:96::10 80
	sticky() { # ten connections, one backend
		local n
		n=$(for _ in $(seq 10); do tcp_ask a 10.96.0.11 80; done | cut -d' ' -f1 | sort -u)
		echo "$n"
		[ "$(echo "$n" | grep -c .)" = 1 ]
	}
	check "$m/affinity-clientip" sticky
	check "$m/no-endpoints-tcp-refused" refused_fast tcp_ask 10.96.0.12 80
	check "$m/no-endpoints-udp-refused" refused_fast udp_ask 10.96.0.12 81
	hairpin() { tcp_ask b 10.96.0.13 80 | grep -q '^b '; }
	check "$m/hairpin" hairpin
}

phase ctlb
check ctlb/no-tc-nat test "$(counter nat_new)" = 0

# from outside: NodePort and an external IP; Local policy keeps the client address
from_outside() { # ADDR PORT
	in_ns "$P-c1" timeout 3 socat -T2 - "TCP:$1:$2" </dev/null
}
seen_client() { from_outside "$@" | grep -qE "^[bc] 10\.99\.0\.11:"; }
check nodeport-client-ip-kept seen_client 10.99.0.2 30080
check externalip-client-ip-kept seen_client 10.200.0.10 80
check nodeport-udp sh -c "echo q | nsenter --net=/run/netns/$P-c1 -- timeout 3 socat -T2 - UDP:10.99.0.2:30081 | grep -qE '^[bc] '"
check nodeport-counted test "$(counter nat_new eth0)" -ge 2
# Cluster policy, endpoint on another node: it sees this node as the client
# (source NAT) so its reply comes back here to be translated
remote_snat() { from_outside 10.99.0.2 30090 | grep -qE "^r1 10\.99\.0\.2:"; }
check nodeport-remote-endpoint-snat remote_snat
check nodeport-remote-counted test "$(counter fwd_out eth0)" -ge 2

# the same with connect-time load balancing off: tc translates pod traffic
ternd_stop
EXTRA_CONFIG='services:
  connectTimeLB:
    tcp: false
    udp: false'
write_config
ternd_start || exit 1
before=$(counter nat_new)
phase tc
check tc/nat-counted test "$(counter nat_new)" -gt "$before"
check ternctl-nat-dump sh -c "nsenter --net=/run/netns/$NODE_NS $B/ternctl --pin-path $PIN nat dump | grep -q 10.96.0.10"

# ClientIP affinity outlives renumbering: a backend with a lower address
# moves b and c up a place and their clients keep them (active, as the
# dataplane finds them past their ordinal); once they go, the entries are
# stale.
svc_json() { # VIP PYTHON-EXPR over s, the service port with a frontend at VIP
	ternctl -o json nat dump | python3 -c '
import json, sys
s = next(s for s in json.load(sys.stdin) if any(f["addr"] == sys.argv[1] for f in s["frontends"]))
print(eval(sys.argv[2]))' "$1" "$2"
}
aff_states_are() { # VIP STATES: the states of its affinity entries, each once, sorted
	local id out
	id=$(svc_json "$1" 's["svc_id"]') || return 1
	out=$(ternctl -o json nat affinity | python3 -c '
import json, sys
print(" ".join(sorted({a["state"] for a in json.load(sys.stdin) if a["svc_id"] == int(sys.argv[1])})))' "$id")
	echo "$out"
	[ "$out" = "$2" ]
}
backends_are() { # VIP ADDR...: its backends in use, in order
	[ "$(svc_json "$1" '" ".join(b["addr"] for b in s["backends"] if not b["unused"])')" = "${*:2}" ]
}
check affinity-entries-active aff_states_are 10.96.0.11 active
eps_write sticky sticky 4 http 8080 TCP 10.244.1.1 "$B4" "$C4"
check affinity-renumbered-written wait_until 5 backends_are 10.96.0.11 10.244.1.1 "$B4" "$C4"
check affinity-renumbered-active aff_states_are 10.96.0.11 active
eps_write sticky sticky 4 http 8080 TCP 10.244.1.1
check affinity-gone-written wait_until 5 backends_are 10.96.0.11 10.244.1.1
check affinity-gone-stale aff_states_are 10.96.0.11 stale
