#!/bin/bash
# ICMP errors through NodePorts, both ways past the stack:
# - path MTU: the backend's reply leaves with the node's address as source;
#   too big for the node's uplink, the backend must still learn the path MTU
#   (ICMP fragmentation needed / packet too big from tc, quoting its own
#   packet), and its next reply, cut to the path MTU, must reach the client;
# - the same for a TCP bulk reply the backend's TSO hands over as GSO
#   packets: their segments are too big, not the packets' length, and
#   must be answered too, or they are lost on the uplink in silence
#   (BPF_PROG_TEST_RUN cannot make a GSO skb, so this is the only test
#   of it);
# - a backend on another node (the client source-NATed to the node's
#   address) refusing the client's datagram: the client's connected socket
#   must hear "connection refused" about its own flow.
#
#  [b: server, MTU 1500] eth0 == tern<b> -- [node: ternd] eth0 (MTU 1280) == n1 -- br0 [ul]
#                                                       c1 [client 10.99.0.11] --/  |
#                                      c2 [a backend "on node-2", 10.99.0.12] -----/
#  NodePort 10.99.0.2 / fd00:99::2 :30081/UDP -> b :8081 (answers with 1400 bytes)
#  NodePort :30082/UDP -> c2 :9999 (nothing listens: port unreachable)
#  NodePort :30083/TCP -> b :8082 (sends 1 MB to whoever connects; client c3)
. "$(dirname "$0")/lib.sh"

node_up
pod_add b 3
client_add c1 11
client_add c2 12
client_add c3 13
B4=$(pod_ip4 3) B6=$(pod_ip6 3)
# only the reply is too big: the client's queries are small
in_node ip link set eth0 mtu 1280
# The uplink as a wire: its far end takes no frame over 1280 either, and
# the node's side cuts GSO packets into frames itself (as a NIC's TSO
# would); over a veth with TSO a GSO packet would cross whole.
ip -n "$UL_NS" link set n1 mtu 1280
in_node ethtool -K eth0 tso off

# a dual-stack NodePort service with one port of the same name
nodeport_svc() { # NAME IP-SUFFIX PROTO PORT TARGET NODEPORT
	manifest_write "svc-$1.yaml" <<EOF
apiVersion: v1
kind: Service
metadata:
  name: $1
  namespace: default
spec:
  type: NodePort
  clusterIP: 10.96.0.$2
  clusterIPs: [10.96.0.$2, fd00:96::$2]
  ipFamilies: [IPv4, IPv6]
  ports:
  - name: $1
    protocol: $3
    port: $4
    targetPort: $5
    nodePort: $6
EOF
}
nodeport_svc big 20 UDP 81 8081 30081
eps_write big-v4 big 4 big 8081 UDP "$B4"
eps_write big-v6 big 6 big 8081 UDP "$B6"
nodeport_svc far 21 UDP 82 9999 30082
eps_write far-v4 far 4 far 9999 UDP "10.99.0.12,node=node-2"
eps_write far-v6 far 6 far 9999 UDP "fd00:99::12,node=node-2"
nodeport_svc bulk 22 TCP 82 8082 30083
eps_write bulk-v4 bulk 4 bulk 8082 TCP "$B4"
eps_write bulk-v6 bulk 6 bulk 8082 TCP "$B6"
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
# sends 1 MB to each client, then closes
bg in_pod b python3 -c '
import socket
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("::", 8082))
s.listen(8)
while True:
    c, _ = s.accept()
    try:
        c.sendall(b"x" * (1 << 20))
    except OSError:
        pass
    c.close()
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

# TCP bulk: the client's MSS (its link is 1500) lets the backend send
# 1500-byte segments, which its TSO hands to tern in GSO packets
gso_on() { in_pod b ethtool -k eth0 | grep '^tcp-segmentation-offload' | tee /dev/stderr | grep -q ': on'; }
# Frames the node's uplink lost so far (too big for the far end). Without
# the error a GSO packet's segments are lost there, all of the first
# window; the backend's TCP recovers only when it probes with a lone
# segment, not GSO, which is answered (a tail loss probe, 10 ms here; a
# timeout for a sender without one), so the transfer completes, late.
uplink_drops() { in_node ip -j -s link show eth0 | jq '.[0].stats64.tx.dropped'; }
bulk() { # NODE_ADDR: 1 MB within 3 s, no frame lost, the error counted
	local big0 drop0
	big0=$(counter too_big "$(wl_ifname default b)") drop0=$(uplink_drops)
	in_pod c3 python3 - "$1" <<'PY' || return 1
import socket, sys, time
fam = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM)
s.settimeout(3)
t = time.monotonic()
s.connect((sys.argv[1], 30083))
print("client's mss", s.getsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG))
n = 0
try:
    while True:
        d = s.recv(1 << 16)
        if not d:
            break
        n += len(d)
except socket.timeout:
    pass
t = time.monotonic() - t
print("%d bytes in %.3f s" % (n, t))
sys.exit(0 if n == 1 << 20 and t < 3 else 1)
PY
	local big drop
	big=$(counter too_big "$(wl_ifname default b)") drop=$(uplink_drops)
	echo "too_big on b: $big0 -> $big; frames lost on the uplink: $drop0 -> $drop"
	[ "$big" -gt "$big0" ] && [ "$drop" = "$drop0" ]
}

check backend-gso-on gso_on
check nodeport-v4-tcp-bulk bulk 10.99.0.2
check nodeport-v6-tcp-bulk bulk fd00:99::2

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
