#!/bin/bash
# ICMP errors through NodePorts, both ways past the stack:
# - path MTU: the backend's reply leaves with the node's address as source;
#   too big for the node's uplink, the backend must still learn the path MTU
#   (ICMP fragmentation needed / packet too big from tc, quoting its own
#   packet), and its next reply, cut to the path MTU, must reach the client;
# - a backend on another node (the client source-NATed to the node's
#   address) refusing the client's datagram: the client's connected socket
#   must hear "connection refused" about its own flow.
#
#  [b: server, MTU 1500] eth0 == tern<b> -- [node: ternd] eth0 (MTU 1280) == n1 -- br0 [ul]
#                                                       c1 [client 10.99.0.11] --/  |
#                                      c2 [a backend "on node-2", 10.99.0.12] -----/
#  NodePort 10.99.0.2 / fd00:99::2 :30081/UDP -> b :8081 (answers with 1400 bytes)
#  NodePort :30082/UDP -> c2 :9999 (nothing listens: port unreachable)
. "$(dirname "$0")/lib.sh"

node_up
pod_add b 3
client_add c1 11
client_add c2 12
B4=$(pod_ip4 3) B6=$(pod_ip6 3)
# only the reply is too big: the client's queries are small
in_node ip link set eth0 mtu 1280

manifest_write svc-big.yaml <<'EOF'
apiVersion: v1
kind: Service
metadata:
  name: big
  namespace: default
spec:
  type: NodePort
  clusterIP: 10.96.0.20
  clusterIPs: [10.96.0.20, fd00:96::20]
  ipFamilies: [IPv4, IPv6]
  ports:
  - name: big
    protocol: UDP
    port: 81
    targetPort: 8081
    nodePort: 30081
EOF
eps_write big-v4 big 4 big 8081 UDP "$B4"
eps_write big-v6 big 6 big 8081 UDP "$B6"
manifest_write svc-far.yaml <<'EOF'
apiVersion: v1
kind: Service
metadata:
  name: far
  namespace: default
spec:
  type: NodePort
  clusterIP: 10.96.0.21
  clusterIPs: [10.96.0.21, fd00:96::21]
  ipFamilies: [IPv4, IPv6]
  ports:
  - name: far
    protocol: UDP
    port: 82
    targetPort: 9999
    nodePort: 30082
EOF
eps_write far-v4 far 4 far 9999 UDP "10.99.0.12,node=node-2"
eps_write far-v6 far 6 far 9999 UDP "fd00:99::12,node=node-2"
# answers every datagram with 1400 bytes (DF: the kernel's default for UDP)
bg in_pod b python3 -c '
import socket
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.bind(("::", 8081))
while True:
    _, peer = s.recvfrom(64)
    try:
        s.sendto(b"x" * 1400, peer)
    except OSError:
        pass
'
ternd_start || exit 1
wait_until 5 test -e "$PIN/links/tc-in/$(wl_ifname default b)"

# the client asks until a whole answer comes (the first is lost to the MTU)
big_answer() { # NODE_ADDR
	in_pod c1 python3 - "$1" <<'PY'
import socket, sys
fam = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
s.settimeout(0.5)
for i in range(8):
    s.sendto(b"q", (sys.argv[1], 30081))
    try:
        d = s.recv(2000)
    except socket.timeout:
        print("try %d: no answer" % (i + 1))
        continue
    print("try %d: %d bytes" % (i + 1, len(d)))
    sys.exit(0 if len(d) == 1400 else 1)
sys.exit(1)
PY
}
pmtu_learned() { # CLIENT_ADDR: the backend's route to the client carries the MTU
	in_pod b ip route get "$1" | tee /dev/stderr | grep -q 'mtu 1280'
}
too_big_counted() {
	local n
	n=$(counter too_big "$(wl_ifname default b)")
	echo "too_big on b: $n"
	[ "$n" -ge 2 ]
}

check nodeport-v4-big-answer big_answer 10.99.0.2
check nodeport-v4-pmtu-learned pmtu_learned 10.99.0.11
check nodeport-v6-big-answer big_answer fd00:99::2
check nodeport-v6-pmtu-learned pmtu_learned fd00:99::11
check too-big-counted too_big_counted

# the remote backend's port unreachable comes back to the node's address
# and port; the client must get it about its own flow, at once
refused() { # NODE_ADDR
	in_pod c1 python3 - "$1" <<'PY'
import socket, sys
fam = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
s.settimeout(1)
s.connect((sys.argv[1], 30082))
for i in range(3):
    s.send(b"q")
    try:
        s.recv(100)
        print("an answer?")
        sys.exit(1)
    except ConnectionRefusedError:
        print("try %d: refused" % (i + 1))
        sys.exit(0)
    except socket.timeout:
        print("try %d: timed out" % (i + 1))
sys.exit(1)
PY
}
check snat-v4-error-reaches-client refused 10.99.0.2
check snat-v6-error-reaches-client refused fd00:99::2
