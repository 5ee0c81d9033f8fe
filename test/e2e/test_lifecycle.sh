#!/bin/bash
# Pods come and go while ternd runs: hooks attach as soon as both the pod
# and its interface exist, detach when the pod goes; a restart adopts the
# existing hooks instead of re-creating them.
#
#  [a] eth0 == tern<a> -- [node: ternd] -- tern<b> == eth0 [b]
. "$(dirname "$0")/lib.sh"

node_up
pod_add a 2
ternd_start || exit 1
HA=$(wl_ifname default a)
HB=$(wl_ifname default b)
# what the kernel runs on an interface's tcx hooks
tcx_progs() { in_node "$B/test/e2e/tcx_query" "$1" | grep -c tern_; }
check attach-at-start wait_until 5 test -e "$PIN/links/tc-in/$HA" -a -e "$PIN/links/tc-out/$HA"

# interface first, pod manifest later
ip netns add "$P-b"
pod_wire b 3 default
sleep 0.3
check no-hook-without-pod test ! -e "$PIN/links/tc-in/$HB"
pod_manifest b 3 default
check attach-after-manifest wait_until 2 test -e "$PIN/links/tc-in/$HB" -a -e "$PIN/links/tc-out/$HB"
check hooks-in-kernel test "$(tcx_progs "$HB")" = 2
check traffic-after-attach in_pod a ping -c 1 -W 2 "$(pod_ip4 3)"

# manifest removed: hooks go, interface stays
rm "$STATE/pod-default-b.yaml"
check detach-on-delete wait_until 2 test ! -e "$PIN/links/tc-in/$HB" -a ! -e "$PIN/links/tc-out/$HB"
check hooks-gone-from-kernel test "$(tcx_progs "$HB")" = 0
# ternctl lists a's interface but no longer b's
if_listed() { ternctl -o json counters --all | grep -q "\"$1\""; }
only_a_listed() { if_listed "$HA" && ! if_listed "$HB"; }
check ifstate-removed only_a_listed

# a restart adopts: same link ids before and after
# this test's own links (other tests may run beside it), by id
ids() { ternctl -o json status | python3 -c '
import json, sys
print(" ".join(sorted(str(l["link_id"]) for l in json.load(sys.stdin)["links"])))'; }
before=$(ids)
ternd_stop
check hooks-survive-stop test -e "$PIN/links/tc-in/$HA"
ternd_start || exit 1
after=$(ids)
check restart-adopts test "$before" = "$after"
check adopted-logged grep -q "$HA (ifindex [0-9]*): adopted tc hooks" "$TERND_LOG"

# the pod's runtime recreates it: same name, new ifindex
pod_manifest b 3 default
ip netns del "$P-a" # its veth goes with it
wait_until 3 sh -c "! ip -n $NODE_NS link show $HA"
ip netns add "$P-a"
in_ns "$P-a" sysctl -qw net.ipv6.conf.all.accept_dad=0
pod_wire a 2 default
check reattach-new-ifindex wait_until 3 sh -c "nsenter --net=/run/netns/$NODE_NS $B/test/e2e/tcx_query $HA | grep -q tern_from_ep"
check traffic-after-recreate wait_until 5 nsenter --net="/run/netns/$P-a" -- ping -c 1 -W 1 "$(pod_ip4 3)"

# a file with a broken document between two good ones: the good pods apply,
# the bad one is logged with file:line and skipped
ip netns add "$P-c"; pod_wire c 4 default
ip netns add "$P-d"; pod_wire d 5 default
pod_manifest c 4 default
pod_manifest d 5 default
{
	cat "$STATE/pod-default-c.yaml"
	echo "---"
	printf 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: broken\nstatus:\n  podIPs:\n  - ip: 10.244.1.300\n'
	echo "---"
	cat "$STATE/pod-default-d.yaml"
} >"$WORK/mixed.yaml"
rm "$STATE/pod-default-c.yaml" "$STATE/pod-default-d.yaml"
mv "$WORK/mixed.yaml" "$STATE/mixed.yaml"
HC=$(wl_ifname default c) HD=$(wl_ifname default d)
check bad-doc-others-apply wait_until 3 test -e "$PIN/links/tc-in/$HC" -a -e "$PIN/links/tc-in/$HD"
check bad-doc-logged wait_until 2 grep -q "mixed.yaml:[0-9]*:[0-9]*: Pod default/broken: status.podIPs\[0\].ip" "$TERND_LOG"
check bad-doc-traffic in_pod c ping -c 1 -W 2 "$(pod_ip4 5)"
