#!/bin/bash
# ternd's in-kernel conntrack GC: with short timeouts, an idle ICMP flow is
# removed within a few GC rounds while a TCP connection that stays open
# (established timeout 1h) is kept.
#
#  [a] eth0 == tern<a> -- [node: ternd, gcInterval 1s, icmp 1s] -- tern<b> == eth0 [b]
. "$(dirname "$0")/lib.sh"

EXTRA_CONFIG='conntrack:
  gcInterval: 1s
  timeouts:
    icmp: 1s
    udp: 2s'
node_up
pod_add a 2
pod_add b 3
ternd_start || exit 1
wait_until 5 test -e "$PIN/links/tc-in/$(wl_ifname default a)"

flows() { ternctl -o json conntrack dump; }
has_flow() { flows | python3 -c '
import json, sys
proto = sys.argv[1]
sys.exit(0 if any(f["proto"] == proto for f in json.load(sys.stdin)) else 1)' "$1"; }

# a TCP connection that stays open the whole time
in_pod b timeout 20 socat TCP-LISTEN:7100,reuseaddr EXEC:'sleep 15' &
srv=$!
sleep 0.3
in_pod a timeout 20 socat - TCP:"$(pod_ip4 3)":7100 </dev/null >/dev/null &
cli=$!
in_pod a ping -c 1 -W 2 "$(pod_ip4 3)" >/dev/null
echo x | in_pod a socat -u - UDP:"$(pod_ip4 3)":7200

all_tracked() { has_flow icmp && has_flow udp && has_flow tcp; }
gone() { ! has_flow "$1"; }
check flows-tracked all_tracked
check icmp-expires wait_until 6 gone icmp
check udp-expires wait_until 8 gone udp
check tcp-kept has_flow tcp
kill $cli $srv 2>/dev/null || true
