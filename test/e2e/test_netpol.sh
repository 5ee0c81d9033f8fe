#!/bin/bash
# Network policy conformance, after the upstream Kubernetes network-policy
# e2e tests (test/e2e/network/netpol): each case applies policies to the
# x/y/z topology and checks the full 9x9 reachability matrix, over IPv4 and
# IPv6, on TCP 80 unless it names another port or protocol. Policies
# change, are deleted, and pods and namespaces are relabelled while the
# servers keep running.
#
#  namespaces x, y, z (ns=NAME); pods a, b, c in each (pod=NAME), all on
#  this node, each serving TCP and UDP on 80 and 81 (np_probe serve):
#  [x-a] eth0 == tern.. --\
#   ...                    +-- [node: ternd] eth0 == n1 -- br0 [underlay]
#  [z-c] eth0 == tern.. --/
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/netpol_lib.sh"

node_up
np_setup
ternd_start || exit 1
wait_until 10 np_attached || { fail setup "pods not attached"; exit 1; }

ip4() { echo "10.244.1.$(np_n "$1" "$2")"; }
ip6() { echo "fd00:244::$(np_n "$1" "$2")"; }

np_check no-policy all

# The policies of a case replace those of the one before.
policy() { np_clear; np_policy "$1"; }
NP='apiVersion: networking.k8s.io/v1
kind: NetworkPolicy'

# --- isolation ---------------------------------------------------------------
policy deny <<EOF
$NP
metadata: {name: default-deny-ingress, namespace: x}
spec: {podSelector: {}, policyTypes: [Ingress]}
EOF
np_check default-deny-ingress 'all *>x/*=0'

policy deny <<EOF
$NP
metadata: {name: default-deny-all, namespace: x}
spec: {podSelector: {}, policyTypes: [Ingress, Egress]}
EOF
np_check default-deny-all 'all *>x/*=0 x/*>*=0'

policy deny <<EOF
$NP
metadata: {name: deny-egress-a, namespace: x}
spec: {podSelector: {matchLabels: {pod: a}}, policyTypes: [Egress]}
EOF
np_check deny-egress-pod 'all x/a>*=0'

policy deny <<EOF
$NP
metadata: {name: deny-egress-all, namespace: x}
spec: {podSelector: {}, policyTypes: [Egress]}
EOF
np_check deny-egress-namespace 'all x/*>*=0'

# --- ingress peers ------------------------------------------------------------
policy p <<EOF
$NP
metadata: {name: allow-other-ns, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - from: [{namespaceSelector: {matchExpressions: [{key: ns, operator: NotIn, values: [x]}]}}]
EOF
np_check allow-only-from-other-namespaces 'all x/*>x/a=0'

policy p <<EOF
$NP
metadata: {name: allow-y-b, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - from: [{namespaceSelector: {matchLabels: {ns: y}}, podSelector: {matchLabels: {pod: b}}}]
EOF
np_check pod-and-namespace-selector 'all *>x/a=0 y/b>x/a=1'

policy p <<EOF
$NP
metadata: {name: allow-b-or-y, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - from: [{podSelector: {matchLabels: {pod: b}}}, {namespaceSelector: {matchLabels: {ns: y}}}]
EOF
np_check pod-or-namespace-selector 'all *>x/a=0 x/b>x/a=1 y/*>x/a=1'

policy p <<EOF
$NP
metadata: {name: allow-expr-pod, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - from: [{podSelector: {matchExpressions: [{key: pod, operator: In, values: [b]}]}}]
EOF
np_check pod-selector-match-expressions 'all *>x/a=0 x/b>x/a=1'

policy p <<EOF
$NP
metadata: {name: allow-expr-ns, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - from: [{namespaceSelector: {matchExpressions: [{key: ns, operator: In, values: [y]}]}}]
EOF
np_check namespace-selector-match-expressions 'all *>x/a=0 y/*>x/a=1'

policy p <<EOF
$NP
metadata: {name: allow-multi, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - from:
    - namespaceSelector: {matchExpressions: [{key: ns, operator: NotIn, values: [x]}]}
      podSelector: {matchExpressions: [{key: pod, operator: In, values: [a, b]}]}
EOF
np_check multiple-pod-and-namespace-selectors \
	'all *>x/a=0 y/a>x/a=1 y/b>x/a=1 z/a>x/a=1 z/b>x/a=1'

policy p <<EOF
$NP
metadata: {name: allow-any-pod, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - from: [{podSelector: {}}]
EOF
np_check any-pod-selector 'all *>x/a=0 x/*>x/a=1'

policy p <<EOF
$NP
metadata: {name: same-namespace-only, namespace: x}
spec:
  podSelector: {}
  ingress:
  - from: [{podSelector: {}}]
EOF
np_check deny-from-other-namespaces 'all y/*>x/*=0 z/*>x/*=0'

policy p <<EOF
$NP
metadata: {name: allow-by-name-label, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: y}}}]
EOF
np_check namespace-default-name-label 'all *>x/a=0 y/*>x/a=1'

policy p <<EOF
$NP
metadata: {name: allow-all, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress: [{}]
EOF
np_check allow-all-ingress all

# --- ports ---------------------------------------------------------------------
policy p <<EOF
$NP
metadata: {name: y-on-81, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - from: [{namespaceSelector: {matchLabels: {ns: y}}}]
    ports: [{port: 81, protocol: TCP}]
EOF
np_check ports/80 'all *>x/a=0'
np_check ports/81 'all *>x/a=0 y/*>x/a=1' 81

policy p <<EOF
$NP
metadata: {name: y-on-80, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - from: [{namespaceSelector: {matchLabels: {ns: y}}}]
    ports: [{port: 80}]
---
$NP
metadata: {name: z-on-81, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - from: [{namespaceSelector: {matchLabels: {ns: z}}}]
    ports: [{port: 81}]
EOF
np_check stacked-policies/80 'all *>x/a=0 y/*>x/a=1'
np_check stacked-policies/81 'all *>x/a=0 z/*>x/a=1' 81

policy p <<EOF
$NP
metadata: {name: named-81, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - ports: [{port: serve-81-tcp}]
EOF
np_check named-port/80 'all *>x/a=0'
np_check named-port/81 all 81

policy p <<EOF
$NP
metadata: {name: named-80-from-y, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - from: [{namespaceSelector: {matchLabels: {ns: y}}}]
    ports: [{port: serve-80-tcp}]
EOF
np_check named-port-from-namespace/80 'all *>x/a=0 y/*>x/a=1'
np_check named-port-from-namespace/81 'all *>x/a=0' 81

policy p <<EOF
$NP
metadata: {name: egress-named, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Egress]
  egress:
  - ports: [{port: serve-80-udp, protocol: UDP}]
EOF
np_check egress-named-port/udp-80 all 80 udp
np_check egress-named-port/udp-81 'all x/a>*=0' 81 udp
np_check egress-named-port/tcp-80 'all x/a>*=0' 80 tcp

policy p <<EOF
$NP
metadata: {name: udp-81, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - ports: [{port: 81, protocol: UDP}]
EOF
np_check udp-only/tcp-81 'all *>x/a=0' 81 tcp
np_check udp-only/udp-81 all 81 udp

policy p <<EOF
$NP
metadata: {name: sctp-80, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - ports: [{port: 80, protocol: SCTP}]
EOF
np_check sctp-is-not-tcp 'all *>x/a=0'

policy p <<EOF
$NP
metadata: {name: range-80-81, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - ports: [{port: 80, endPort: 81}]
EOF
np_check end-port/80-81-on-80 all
np_check end-port/80-81-on-81 all 81
policy p <<EOF
$NP
metadata: {name: range-81-82, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - ports: [{port: 81, endPort: 82}]
EOF
np_check end-port/81-82-on-80 'all *>x/a=0'
np_check end-port/81-82-on-81 all 81

# --- egress --------------------------------------------------------------------
policy p <<EOF
$NP
metadata: {name: both-ways-b, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Ingress, Egress]
  ingress:
  - from: [{podSelector: {matchLabels: {pod: b}}}]
  egress:
  - to: [{podSelector: {matchLabels: {pod: b}}}]
EOF
np_check ingress-and-egress-together 'all *>x/a=0 x/b>x/a=1 x/a>*=0 x/a>x/b=1'

policy p <<EOF
$NP
metadata: {name: a-no-egress, namespace: x}
spec: {podSelector: {matchLabels: {pod: a}}, policyTypes: [Egress]}
---
$NP
metadata: {name: b-from-x-a, namespace: y}
spec:
  podSelector: {matchLabels: {pod: b}}
  ingress:
  - from: [{namespaceSelector: {matchLabels: {ns: x}}, podSelector: {matchLabels: {pod: a}}}]
EOF
np_check egress-denied-on-the-client-side 'all x/a>*=0 *>y/b=0'

policy p <<EOF
$NP
metadata: {name: to-y-a, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Egress]
  egress:
  - to: [{namespaceSelector: {matchLabels: {ns: y}}, podSelector: {matchLabels: {pod: a}}}]
EOF
np_check egress-to-pod-in-namespace 'all x/a>*=0 x/a>y/a=1'

policy p <<EOF
$NP
metadata: {name: a-to-b-only, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Egress]
  egress:
  - to: [{podSelector: {matchLabels: {pod: b}}}]
---
$NP
metadata: {name: b-no-ingress, namespace: x}
spec: {podSelector: {matchLabels: {pod: b}}, policyTypes: [Ingress]}
EOF
np_check ingress-and-egress-independent 'all x/a>*=0 *>x/b=0'

YB4=$(ip4 y b) YB6=$(ip6 y b)
policy p <<EOF
$NP
metadata: {name: to-cidr, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Egress]
  egress:
  - to: [{ipBlock: {cidr: $YB4/32}}, {ipBlock: {cidr: '$YB6/128'}}]
EOF
np_check egress-to-cidr 'all x/a>*=0 x/a>y/b=1'

policy p <<EOF
$NP
metadata: {name: cidr-except, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Egress]
  egress:
  - to:
    - ipBlock: {cidr: 10.244.1.0/24, except: [$YB4/32]}
    - ipBlock: {cidr: 'fd00:244::/64', except: ['$YB6/128']}
EOF
np_check egress-cidr-except 'all x/a>y/b=0'
np_policy p2 <<EOF
$NP
metadata: {name: y-b-again, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Egress]
  egress:
  - to: [{ipBlock: {cidr: $YB4/32}}, {ipBlock: {cidr: '$YB6/128'}}]
EOF
np_check except-overlap-allowed-by-second-policy all

# --- several policies, updates, deletion -------------------------------------
policy p <<EOF
$NP
metadata: {name: only-81, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress: [{ports: [{port: 81}]}]
EOF
np_check allow-all-takes-precedence/before 'all *>x/a=0'
np_policy all <<EOF
$NP
metadata: {name: allow-all, namespace: x}
spec: {podSelector: {matchLabels: {pod: a}}, ingress: [{}]}
EOF
np_check allow-all-takes-precedence/ingress all

policy p <<EOF
$NP
metadata: {name: only-81-out, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Egress]
  egress: [{ports: [{port: 81}]}]
EOF
np_check allow-all-egress-takes-precedence/before 'all x/a>*=0'
np_policy all <<EOF
$NP
metadata: {name: allow-all-out, namespace: x}
spec: {podSelector: {matchLabels: {pod: a}}, policyTypes: [Egress], egress: [{}]}
EOF
np_check allow-all-egress-takes-precedence/egress all

policy p <<EOF
$NP
metadata: {name: update-me, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress: [{ports: [{port: 81}]}]
EOF
np_check updated-policy/before-80 'all *>x/a=0'
np_check updated-policy/before-81 all 81
np_policy p <<EOF
$NP
metadata: {name: update-me, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress: [{ports: [{port: 80}]}]
EOF
np_check updated-policy/after-80 all
np_check updated-policy/after-81 'all *>x/a=0' 81

policy deny <<EOF
$NP
metadata: {name: deny-all, namespace: x}
spec: {podSelector: {}, policyTypes: [Ingress, Egress]}
EOF
np_check deleted-policy/before 'all *>x/*=0 x/*>*=0'
np_clear
np_check deleted-policy/after all

# --- relabelling: namespaces and pods change live ------------------------------
policy p <<EOF
$NP
metadata: {name: from-updated-ns, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress: [{from: [{namespaceSelector: {matchLabels: {ns2: updated}}}]}]
EOF
np_check updated-namespace/before 'all *>x/a=0'
np_ns_manifest y ns2=updated
np_check updated-namespace/after 'all *>x/a=0 y/*>x/a=1'
np_ns_manifest y

policy p <<EOF
$NP
metadata: {name: from-updated-pod, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress: [{from: [{podSelector: {matchLabels: {pod2: updated}}}]}]
EOF
np_check updated-pod/before 'all *>x/a=0'
np_pod_manifest x b pod2=updated
np_check updated-pod/after 'all *>x/a=0 x/b>x/a=1'
np_pod_manifest x b

# A pod relabelled into isolation while a connection to it is open: new
# connections are judged by the policy, the open one lives on (replies and
# established flows never meet policy).
policy p <<EOF
$NP
metadata: {name: isolate-target, namespace: x}
spec: {podSelector: {matchLabels: {target: isolated}}, policyTypes: [Ingress]}
EOF
np_check updated-pod-isolated/before all
held() { grep -c '^ok' "$WORK/hold.out"; }
holding() { test "$(held)" -gt 2; }
bg "$NP_PROBE" hold "/run/netns/$P-x-b" "$(ip4 x a)" 80 >"$WORK/hold.out"
HOLD=$!
wait_until 5 holding
np_pod_manifest x a target=isolated
np_check updated-pod-isolated/after 'all *>x/a=0'
n0=$(held)
sleep 1
check established-flow-survives-isolation test "$(held)" -gt "$((n0 + 3))"

# Deny all while the connection flows, then delete the policy.
policy deny <<EOF
$NP
metadata: {name: deny-all-live, namespace: x}
spec: {podSelector: {}, policyTypes: [Ingress, Egress]}
EOF
np_check policy-added-while-flowing 'all *>x/*=0 x/*>*=0'
n0=$(held)
sleep 1
check established-flow-survives-deny-all test "$(held)" -gt "$((n0 + 3))"
np_clear
np_pod_manifest x a
np_check policy-deleted-while-flowing all
kill "$HOLD" 2>/dev/null

# --- inspection, and an agent restart ------------------------------------------
policy p <<EOF
$NP
metadata: {name: inspect-me, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress: [{from: [{podSelector: {matchLabels: {pod: b}}}], ports: [{port: 80}]}]
EOF
np_check inspect/matrix 'all *>x/a=0 x/b>x/a=1'
dump_ok() {
	ternctl -o json policy dump x/a | python3 -c '
import json, sys
d = json.load(sys.stdin)
i = d["ingress"]
assert i["isolated"] and i["installed"] and len(i["digest"]) == 16, i
rule = [r for r in i["rules"] if "inspect-me" in r["description"]][0]
assert rule["rule"] == 1 and rule["hits"] > 0, rule
assert i["dropped"] > 0, i
assert not d["egress"]["isolated"], d["egress"]'
}
check inspect/policy-dump dump_ok
asm_ok() { ternctl policy dump x/a --asm | grep -q 'call trie_lookup_elem'; }
check inspect/policy-dump-asm asm_ok
ipsets_ok() { ternctl -o json ipsets dump | grep -q "\"$(ip4 x b)\""; }
check inspect/ipsets-dump ipsets_ok
prog_id() {
	ternctl -o json policy dump x/a |
		python3 -c 'import json, sys; print(json.load(sys.stdin)["ingress"]["pieces"][0]["prog_id"])'
}
id0=$(prog_id)
ternd_kill9
ternd_start || exit 1
check restart/program-adopted test "$id0" = "$(prog_id)"
np_check restart/matrix 'all *>x/a=0 x/b>x/a=1'
np_clear

# drops by policy were counted per endpoint
check drops-counted test "$(counter drop_policy)" -gt 0
check no-malformed test "$(counter drop_malformed)" -eq 0
