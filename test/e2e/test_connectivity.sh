#!/bin/bash
# Pod <-> pod and pod <-> outside through tern's tc programs, v4 and v6:
# ping, TCP, UDP; conntrack shows the flows; bpftool shows field names.
#
#  [a] eth0 == tern<a> --\                                   /-- c1 [client 10.99.0.11]
#                         [node: ternd] eth0 == n1 -- br0 [ul]
#  [b] eth0 == tern<b> --/
. "$(dirname "$0")/lib.sh"

node_up
pod_add a 2
pod_add b 3
client_add c1 11
ternd_start || exit 1
A4=$(pod_ip4 2) B4=$(pod_ip4 3) A6=$(pod_ip6 2) B6=$(pod_ip6 3)
HA=$(wl_ifname default a)

wait_until 5 test -e "$PIN/links/tc-in/$HA" || fail attach "no pinned link for $HA"

check ping-v4 in_pod a ping -c 3 -i 0.2 -W 2 "$B4"
check ping-v6 in_pod a ping -6 -c 3 -i 0.2 -W 2 "$B6"

# TCP: a file's worth of bytes each way, checked by content
head -c 200000 /dev/urandom >"$WORK/blob"
tcp_roundtrip() { # SERVER_ADDR
	in_pod b timeout 10 socat -u TCP6-LISTEN:8080,reuseaddr,ipv6only=0 "OPEN:$WORK/got,creat,trunc" &
	local srv=$!
	sleep 0.3
	in_pod a timeout 10 socat -u "OPEN:$WORK/blob" "TCP:$1:8080" || { kill $srv; return 1; }
	wait $srv || return 1
	cmp "$WORK/blob" "$WORK/got"
}
check tcp-v4 tcp_roundtrip "$B4"
check tcp-v6 tcp_roundtrip "[$B6]"

udp_echo() { # SERVER_ADDR
	in_pod b timeout 5 socat UDP6-RECVFROM:9090,ipv6only=0 EXEC:cat &
	local srv=$!
	sleep 0.3
	local got
	got=$(echo "hello-udp" | in_pod a timeout 3 socat - "UDP:$1:9090")
	wait $srv
	[ "$got" = hello-udp ]
}
check udp-v4 udp_echo "$B4"
check udp-v6 udp_echo "[$B6]"

check pod-to-outside-v4 in_pod a ping -c 2 -i 0.2 -W 2 10.99.0.11
check outside-to-pod-v6 in_ns "$P-c1" ping -6 -c 2 -i 0.2 -W 2 "$A6"
check outside-to-pod-tcp-v4 sh -c "
	nsenter --net=/run/netns/$P-a -- timeout 10 socat -u TCP-LISTEN:8081,reuseaddr OPEN:$WORK/got2,creat,trunc &
	sleep 0.3
	nsenter --net=/run/netns/$P-c1 -- timeout 10 socat -u OPEN:$WORK/blob TCP:$A4:8081 && wait && cmp $WORK/blob $WORK/got2"

# the flows are in conntrack, the same in ternctl and bpftool
ct_has() { ternctl -o json conntrack dump | python3 -c '
import json, sys
want = sys.argv[1:]
flows = json.load(sys.stdin)
ok = any(all(w in json.dumps(f) for w in want) for f in flows)
sys.exit(0 if ok else 1)' "$@"; }
check ct-tcp-v4 ct_has "\"$A4\"" "\"$B4\"" '"tcp"'
check ct-icmp-v6 ct_has "\"$A6\"" "\"$B6\"" '"icmpv6"'
check ct-udp-v4 ct_has "\"$A4\"" "\"$B4\"" '"udp"'
check bpftool-field-names sh -c "bpftool map dump pinned $PIN/tern_ct_v1 | grep -q '\"last_seen_ns\"'"

# local pod to pod takes the fast path once the neighbour is known, GSO
# super-packets of a bulk transfer included
bulk_fast() {
	local rx0 fwd0 rx fwd
	rx0=$(counter rx "$HA") fwd0=$(counter fwd_peer "$HA")
	tcp_roundtrip "$B4" || return 1
	rx=$(($(counter rx "$HA") - rx0)) fwd=$(($(counter fwd_peer "$HA") - fwd0))
	echo "pod a sent $rx packets, $fwd by redirect_peer"
	[ $((fwd * 10)) -ge $((rx * 9)) ]
}
check fast-path-bulk bulk_fast
check no-drops test "$(counter drop_malformed)" -eq 0
