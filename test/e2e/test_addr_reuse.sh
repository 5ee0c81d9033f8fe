#!/bin/bash
# A pod's address changes hands: when the pod goes, its flows leave
# conntrack, so a new pod given the same address does not inherit them
# (its policy judges every flow it gets), and a UDP backend refused after
# it went is no longer refused once a new pod holds its address.
#
#  [a] eth0 == tern<a> -- [node: ternd] -- tern<b> == eth0 [b, then b2: 10.244.1.3]
#  ClusterIP 10.96.0.70:7000/UDP -> b :7000
. "$(dirname "$0")/lib.sh"

node_up
pod_add a 2
pod_add b 3
B4=$(pod_ip4 3)
udp_echo_server b 7000
bg in_pod b socat TCP-LISTEN:7001,reuseaddr,fork PIPE # holds connections open
manifest_write svc-u.yaml <<'EOF2'
apiVersion: v1
kind: Service
metadata:
  name: u
  namespace: default
spec:
  clusterIP: 10.96.0.70
  ports:
  - name: u
    protocol: UDP
    port: 7000
    targetPort: 7000
EOF2
eps_write u u 4 u 7000 UDP "$B4"
# the pod that takes b's address is isolated: no ingress at all
manifest_write np-locked.yaml <<'EOF2'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: locked, namespace: default}
spec:
  podSelector: {matchLabels: {role: locked}}
  policyTypes: [Ingress]
EOF2
ternd_start || exit 1
HB=$(wl_ifname default b)
wait_until 5 test -e "$PIN/links/tc-in/$HB"
svc_answers() { udp_ask a 10.96.0.70 7000 | grep -q '^b '; }
check service-answers svc_answers

# a TCP connection from a to b, held open across b's deletion
in_pod a python3 - "$B4" "$WORK/held" <<'PY' >"$WORK/held.log" 2>&1 &
import os, socket, sys, time
addr, f = sys.argv[1], sys.argv[2]
s = socket.create_connection((addr, 7001), timeout=3)
s.send(b"first\n")
print("first:", s.recv(100).decode().strip(), flush=True)
open(f, "w").close()
while not os.path.exists(f + ".go"):
    time.sleep(0.05)
s.settimeout(2)
try:
    s.send(b"again\n")
    d = s.recv(100)
    print("after: answered" if d else "after: closed", flush=True)
except ConnectionResetError:
    print("after: reset", flush=True)  # the new pod's kernel saw the old flow
except socket.timeout:
    print("after: timed out", flush=True)  # dropped before it reached the new pod
PY
HELD=$!
check held-connection-up wait_until 5 test -e "$WORK/held"
check flows-before eval 'ternctl conntrack dump | grep "$B4:7001 .*ESTABLISHED"'

# b is deleted: manifest, interface, then its processes, so no FIN of
# theirs reaches a (as when a node or pod dies abruptly)
log0=$(wc -l <"$TERND_LOG")
rm "$STATE/pod-default-b.yaml"
ip -n "$NODE_NS" link del "$HB"
ip netns pids "$P-b" | xargs -r kill
ip netns del "$P-b"
check flows-flushed-on-delete wait_until 3 sh -c "tail -n +$((log0 + 1)) '$TERND_LOG' | grep -q 'conntrack: [1-9][0-9]* flows of [0-9]* addresses that changed hands'"
# the service lost its only backend: it is refused for now
eps_write u u 4 u 7000 UDP
check gone-logged wait_until 3 grep -q "UDP backends gone" "$TERND_LOG"

# b2 takes b's address, isolated by the policy
pod_add b2 3 default role=locked
tcp_echo_server b2 7001
udp_echo_server b2 7000
HB2=$(wl_ifname default b2)
check new-pod-attached wait_until 5 test -e "$PIN/links/tc-in/$HB2"
sleep 0.3
drops0=$(counter drop_policy)
touch "$WORK/held.go"
wait $HELD
cat "$WORK/held.log"
check old-flow-not-inherited grep -q "after: timed out" "$WORK/held.log"
check old-flow-judged-by-policy test "$(counter drop_policy)" -gt "$drops0"
check new-flow-denied eval '! tcp_ask a "$B4" 7001'
# UDP to the address is not refused as the gone backend's: it reaches b2's
# policy (dropped there), not tern's refusal (counted on a's interface)
rejects0=$(counter nat_reject "$(wl_ifname default a)") drops0=$(counter drop_policy)
echo q | in_pod_cg a timeout 2 socat -T1 - "UDP:$B4:7000" >/dev/null 2>&1
check gone-forgotten-for-new-pod test "$(counter nat_reject "$(wl_ifname default a)")" = "$rejects0"
check udp-judged-by-new-pod test "$(counter drop_policy)" -gt "$drops0"
check gone-forget-logged grep -q "no longer refused, their addresses are a new pod's" "$TERND_LOG"

# a pod on its way out (no interface) still lists b2's address: b2 keeps it,
# its flows are not flushed at every run
hands() { grep -c "changed hands (10.244.1.3" "$TERND_LOG"; }
n0=$(hands)
pod_manifest old 3 default
sleep 0.3
pod_manifest a 2 default relabelled=yes # another run
sleep 0.3
check dup-address-kept-by-holder eval '[ "$(hands)" = "$n0" ]'
ternd_stop
