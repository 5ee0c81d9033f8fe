#!/bin/bash
# The README demo: a sandboxed node (network namespaces) with three pods, a
# service and a network policy, tern's programs on every interface, traffic
# through all of it, and what tern saw. Everything is removed when it ends.
#
#  [a: client] --\                                   /-- c1 [outside client]
#  [b: web]    ---[node: ternd] eth0 == br0 [underlay]
#  [c: web]    --/     Service web 10.96.0.10:80 -> b, c :8080
E2E_NAME=demo
. "$(dirname "$0")/../test/e2e/lib.sh"

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*"; "$@"; }
ask() { in_pod_cg "$1" timeout 2 socat -T1 - "TCP:$2" </dev/null 2>&1 || echo "(no answer)"; }

say "A node (netns $NODE_NS), three pods and an outside client on the underlay"
node_up
pod_add a 2 default role=client
pod_add b 3 default role=web
pod_add c 4 default role=web
client_add c1 11
for p in b c; do tcp_echo_server "$p" 8080; done
manifest_write svc-web.yaml <<'EOF'
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: default
spec:
  type: NodePort
  clusterIP: 10.96.0.10
  ports:
  - name: http
    port: 80
    targetPort: 8080
    nodePort: 30080
EOF
eps_write web web 4 http 8080 TCP "$(pod_ip4 3)" "$(pod_ip4 4)"
ternd_start || exit 1
echo "ternd is running in the node namespace (pins under $PIN, log $TERND_LOG)"
wait_until 5 test -e "$PIN/links/tc-in/$(wl_ifname default c)"
A4=$(pod_ip4 2) B4=$(pod_ip4 3) B6=$(pod_ip6 3)

say "tc programs on the pods' interfaces and the node's eth0; cgroup programs for services"
show ternctl status

say "pod a -> pod b: ping over IPv4 and IPv6 (straight into b's namespace: redirect_peer)"
in_pod a ping -c 2 -i 0.2 "$B4"
in_pod a ping -6 -c 2 -i 0.2 "$B6"

say "pod a -> Service web (10.96.0.10:80): balanced at connect() time over b and c"
for _ in 1 2 3 4 5 6; do ask a 10.96.0.10:80; done
show ternctl nat dump

say "outside client -> NodePort 10.99.0.2:30080: translated in tc, the client's address kept"
for _ in 1 2; do in_ns "$P-c1" timeout 2 socat -T1 - TCP:10.99.0.2:30080 </dev/null; done

say "a NetworkPolicy: web pods take connections from role=client pods only"
manifest_write np-web.yaml <<'EOF'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: web-from-clients
  namespace: default
spec:
  podSelector:
    matchLabels:
      role: web
  policyTypes: [Ingress]
  ingress:
  - from:
    - podSelector:
        matchLabels:
          role: client
    ports:
    - port: 8080
EOF
wait_until 5 sh -c "nsenter --net=/run/netns/$NODE_NS $B/ternctl --pin-path $PIN policy dump default/b 2>/dev/null | grep -q web-from-clients"
echo "pod a (role=client) -> b:8080:"
ask a "$B4:8080"
echo "pod c (role=web) -> b:8080, denied:"
ask c "$B4:8080"
show ternctl policy dump default/b

say "the flows in conntrack (ternctl), and the same map raw with field names (bpftool)"
show ternctl conntrack dump
in_node bpftool map dump pinned "$PIN/tern_ct_v1" | head -n 30

say "per-interface counters"
show ternctl counters

say "a spoofed source from pod a is dropped"
ip -n "$P-a" addr add 10.244.1.77/32 dev eth0
in_pod a ping -c 1 -W 1 -I 10.244.1.77 "$B4" || echo "(no reply, as it should be)"
ternctl counters | grep -E 'drop_spoof' || true

say "done; removing the sandbox"
