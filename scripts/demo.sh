#!/bin/bash
# The README demo: a sandboxed node (network namespaces) with two pods and
# an outside client, tern's programs on every interface, traffic between
# them, and what tern saw. Everything is removed when it ends.
E2E_NAME=demo
. "$(dirname "$0")/../test/e2e/lib.sh"

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*"; "$@"; }

say "A node (netns $NODE_NS), two pods and an outside client on the underlay"
node_up
pod_add a 2
pod_add b 3
client_add c1 11
ternd_start || exit 1
echo "ternd is running in the node namespace (pins under $PIN, log $TERND_LOG)"
A4=$(pod_ip4 2) B4=$(pod_ip4 3) B6=$(pod_ip6 3)

say "tc programs on the pods' interfaces and on the node's eth0"
show ternctl status

say "pod a -> pod b: ping over IPv4 and IPv6"
in_pod a ping -c 2 -i 0.2 "$B4"
in_pod a ping -6 -c 2 -i 0.2 "$B6"

say "pod a -> pod b: TCP (socat), and the outside client -> pod a"
in_pod b timeout 10 socat -u TCP-LISTEN:8080,reuseaddr SYSTEM:'wc -c' &
srv=$!
sleep 0.3
head -c 1000000 /dev/zero | in_pod a timeout 10 socat -u - "TCP:$B4:8080"
wait $srv
echo "(1000000 bytes sent; pod b counted the bytes above)"
in_pod a timeout 10 socat -u TCP-LISTEN:8081,reuseaddr STDOUT &
srv=$!
sleep 0.3
echo "hello from outside" | in_ns "$P-c1" timeout 10 socat -u - "TCP:$A4:8081"
wait $srv

say "the flows in conntrack (ternctl)"
show ternctl conntrack dump

say "the same map, raw, with field names (bpftool)"
in_node bpftool map dump pinned "$PIN/tern_ct_v1" | head -n 40

say "per-interface counters"
show ternctl counters

say "a spoofed source from pod a is dropped"
ip -n "$P-a" addr add 10.244.1.77/32 dev eth0
in_pod a ping -c 1 -W 1 -I 10.244.1.77 "$B4" || echo "(no reply, as it should be)"
ternctl counters | grep -E 'drop_spoof|^[^ ]' | head -n 20

say "done; removing the sandbox"
