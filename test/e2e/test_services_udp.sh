#!/bin/bash
# UDP services: DNS through a service (dnsmasq backends, dig as the client);
# when a backend goes, flows and connected sockets aimed at it are cleaned
# up, so a client does not stick to a dead backend: a connected socket gets
# "connection refused" at once and a new one lands on a live backend (with
# connect-time LB), or the flow moves to a live backend by itself (tc NAT).
#
#  [cl: dig, python] eth0 == tern<cl> -- [node: ternd] -- tern<b>, tern<c> [dnsmasq :53]
#  ClusterIP 10.96.0.53:53/UDP -> b, c :53
. "$(dirname "$0")/lib.sh"

node_up
pod_add cl 2
pod_add b 3
pod_add c 4
B4=$(pod_ip4 3) C4=$(pod_ip4 4)
manifest_write svc-dns.yaml <<'EOF2'
apiVersion: v1
kind: Service
metadata:
  name: dns
  namespace: default
spec:
  clusterIP: 10.96.0.53
  ports:
  - name: dns
    protocol: UDP
    port: 53
    targetPort: 53
EOF2
eps_write dns dns 4 dns 53 UDP "$B4" "$C4"
# each backend answers with its own address for who.test
for p in b c; do
	bg in_pod "$p" dnsmasq -k --no-resolv --no-hosts --port=53 --bind-interfaces \
		--listen-address="$(pod_ip4 $([ $p = b ] && echo 3 || echo 4))" \
		--address=/who.test/"$(pod_ip4 $([ $p = b ] && echo 3 || echo 4))" \
		--pid-file="$WORK/dnsmasq.$p.pid" --log-facility=/dev/null
done
ternd_start || exit 1
wait_until 5 test -e "$PIN/links/tc-in/$(wl_ifname default c)"

dig_who() { in_pod_cg cl timeout 3 dig +short +tries=1 +time=1 @10.96.0.53 who.test; }
both_answer() {
	local seen
	seen=$(for _ in $(seq 20); do dig_who; done | sort -u | tr '\n' ' ')
	echo "answers: $seen"
	[ "$seen" = "$B4 $C4 " ]
}
check dns-through-service both_answer

# A connected UDP socket sticks to a backend; remove that backend and stop
# it: the socket must learn at once, and a new socket must reach the other.
stuck_socket() { # MODE
	in_pod_cg cl python3 - "$1" <<'PY'
import os, socket, struct, sys, time

def query(s):
    q = struct.pack(">HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0)
    q += b"".join(bytes([len(p)]) + p.encode() for p in ["who", "test"]) + b"\0"
    q += struct.pack(">HH", 1, 1)
    s.send(q)
    r = s.recv(512)
    return socket.inet_ntoa(r[-4:])

mode = sys.argv[1]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
s.connect(("10.96.0.53", 53))
first = query(s)
print("first answer from", first, flush=True)
open(os.environ["GONE_FILE"], "w").write(first)
# the test removes that backend now; wait until it tells us it did
while not os.path.exists(os.environ["GONE_FILE"] + ".done"):
    time.sleep(0.05)
t0 = time.time()
try:
    after = query(s)
    # tc NAT: the flow moved to the other backend by itself
    print("same socket answered by", after, "after %.2fs" % (time.time() - t0))
    ok = mode == "tc" and after != first
except ConnectionRefusedError:
    print("same socket: refused after %.2fs" % (time.time() - t0))
    s2 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s2.settimeout(2)
    s2.connect(("10.96.0.53", 53))
    again = query(s2)
    print("new socket answered by", again)
    ok = mode == "ctlb" and again != first and time.time() - t0 < 1
except socket.timeout:
    print("same socket: timed out (stuck on a dead backend)")
    ok = False
sys.exit(0 if ok else 1)
PY
}
gone_case() { # MODE
	local f=$WORK/gone.$1 first gone_pod keep
	rm -f "$f" "$f.done"
	GONE_FILE=$f stuck_socket "$1" >"$WORK/stuck.$1" 2>&1 &
	local py=$!
	wait_until 5 test -s "$f" || return 1
	first=$(cat "$f")
	if [ "$first" = "$B4" ]; then gone_pod=b keep=$C4; else gone_pod=c keep=$B4; fi
	local rejects0 hostsock
	rejects0=$(counter nat_reject "$(wl_ifname default cl)")
	# a host-network client (the node's namespace) connected to that backend
	in_node python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.connect((sys.argv[1], 53))
s.settimeout(5)
print("connected", flush=True)
try:
    s.recv(1)
    print("host socket: data?")
except OSError as e:
    print("host socket closed:", e.strerror or e)
' "$first" >"$WORK/hostsock.$1" 2>&1 &
	hostsock=$!
	wait_until 5 grep -q connected "$WORK/hostsock.$1"
	eps_write dns dns 4 dns 53 UDP "$keep"
	# the pod is deleted: nothing answers at its address any more
	kill "$(cat "$WORK/dnsmasq.$gone_pod.pid")"
	ip netns del "$P-$gone_pod"
	wait_until 3 sh -c "tail -n +1 '$TERND_LOG' | grep -q 'UDP backends gone'"
	touch "$f.done"
	wait $py
	local rc=$? rejects
	cat "$WORK/stuck.$1"
	rejects=$(($(counter nat_reject "$(wl_ifname default cl)") - rejects0))
	wait $hostsock
	cat "$WORK/hostsock.$1"
	# bpf_sock_destroy ended the host socket's wait at once, not its 5 s timeout
	grep -q "host socket closed: Software caused connection abort" "$WORK/hostsock.$1" || rc=1
	grep "UDP backends gone" "$TERND_LOG" | tail -n 1
	echo "tc refused $rejects packets to the gone backend"
	# connect-time LB: the refusal is tern's (nothing lives at that address)
	[ "$1" = ctlb ] && [ "$rejects" -lt 1 ] && rc=1
	# tc NAT: the flow's entries were removed so it could move
	[ "$1" = tc ] && ! grep -q "UDP backends gone: [1-9][0-9]* flows removed" "$TERND_LOG" && rc=1
	# the pod comes back for the next case
	local n=$([ $gone_pod = b ] && echo 3 || echo 4)
	ip netns add "$P-$gone_pod"
	in_ns "$P-$gone_pod" sysctl -qw net.ipv6.conf.all.accept_dad=0
	pod_wire "$gone_pod" "$n" default
	bg in_pod "$gone_pod" dnsmasq -k --no-resolv --no-hosts --port=53 --bind-interfaces \
		--listen-address="$first" --address=/who.test/"$first" \
		--pid-file="$WORK/dnsmasq.$gone_pod.pid" --log-facility=/dev/null
	eps_write dns dns 4 dns 53 UDP "$B4" "$C4"
	wait_until 5 test -e "$PIN/links/tc-in/$(wl_ifname default "$gone_pod")"
	sleep 0.3
	return $rc
}
check ctlb/backend-gone-socket-refused gone_case ctlb
check ctlb/gone-flows-cleaned grep -q "UDP backends gone: [0-9]* flows removed" "$TERND_LOG"
# it came back: no longer refused, straight away (not after the 60 s)
back_answers() {
	local ip
	ip=$(cat "$WORK/gone.ctlb")
	wait_until 5 sh -c "nsenter --net=/run/netns/$P-cl -- dig +short +tries=1 +time=1 @$ip who.test | grep -qx $ip"
}
check ctlb/backend-back-answers back_answers

ternd_stop
EXTRA_CONFIG='services:
  connectTimeLB:
    udp: false'
write_config
: >"$TERND_LOG"
ternd_start || exit 1
check tc/dns-through-service both_answer
check tc/backend-gone-flow-moves gone_case tc
