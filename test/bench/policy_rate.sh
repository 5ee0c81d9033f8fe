#!/bin/bash
# Network policy as a connection rate: new TCP connections per second from
# one pod to another whose ingress allows the client only in the last of N
# rules, each rule a set of addresses and a port. tern (a NetworkPolicy of N
# ipBlock rules, compiled) against the same decision in iptables + ipset
# (N `-m set --match-set` rules in FORWARD, conntrack first, as iptables
# policy implementations write them), and against no policy at all.
# Printed as ratios against plain kernel forwarding; never fails.
#
#  [cl: np_probe rate] eth0 == tern<cl> -- [node] -- tern<srv> == eth0 [srv: np_probe serve 80]
E2E_NAME=bench-policy
. "$(dirname "$0")/../e2e/lib.sh"

SECONDS_PER_RUN=${SECONDS_PER_RUN:-1}
RUNS=${RUNS:-5}
NP_PROBE=$B/test/e2e/np_probe
node_up
pod_add cl 2
pod_add srv 3 default role=server
bg in_pod_cg srv "$NP_PROBE" serve 80
CL=$(pod_ip4 2) SRV=$(pod_ip4 3)
in_pod cl sysctl -qw net.ipv4.ip_local_port_range="10000 65000"
in_pod cl ping -c 1 -W 2 "$SRV" >/dev/null

rate() { # connections/s: the median of RUNS runs (the machine may be busy)
	local r=()
	for i in $(seq "$RUNS"); do
		r+=("$(in_pod_cg cl "$NP_PROBE" rate "/run/netns/$P-cl" "$SRV" 80 \
			"$SECONDS_PER_RUN" | cut -d' ' -f1)")
	done
	printf '%s\n' "${r[@]}" | sort -n | sed -n "$(((RUNS + 1) / 2))p"
}
# the N-1 rules the client is not in: 10.(100 + k/256).(k%256).0/24
cidr() { echo "10.$((100 + $1 / 256)).$(($1 % 256)).0/24"; }
ratio() { python3 -c "print('%.2f' % ($1 / $2 if $2 else 0))"; }
show() { # LABEL RATE [WHAT TO COMPARE WITH] [ITS RATE]
	printf '  %-40s %8s conn/s  %5sx%s\n' "$1" "$2" "$(ratio "$2" "$BASE")" \
		"${3:+   $(ratio "$2" "$4")x $3}"
}
declare -A IPT

echo "new TCP connections/s, client allowed by the last of N rules (median of $RUNS ${SECONDS_PER_RUN}s runs)"
BASE=$(rate)
show "kernel forwarding, no policy (baseline)" "$BASE"

for n in 10 100 1000; do
	{
		for k in $(seq 0 $((n - 2))); do
			echo "create tnp$k hash:net"
			echo "add tnp$k $(cidr "$k")"
		done
		echo "create tnp$((n - 1)) hash:net"
		echo "add tnp$((n - 1)) $CL/32"
	} | in_node ipset restore
	{
		echo "*filter"
		echo ":FORWARD ACCEPT [0:0]"
		echo "-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"
		for k in $(seq 0 $((n - 1))); do
			echo "-A FORWARD -d $SRV/32 -p tcp -m tcp --dport 80 -m set --match-set tnp$k src -j ACCEPT"
		done
		echo "-A FORWARD -d $SRV/32 -j DROP"
		echo "COMMIT"
	} | in_node iptables-restore
	IPT[$n]=$(rate)
	show "iptables + ipset, $n rules" "${IPT[$n]}"
	in_node iptables -F FORWARD
	in_node ipset destroy
done

ternd_start >/dev/null || { echo "(ternd did not start)"; exit 0; }
wait_until 5 test -e "$PIN/links/tc-in/$(wl_ifname default srv)"
in_pod cl ping -c 1 -W 2 "$SRV" >/dev/null
sleep 1 # the agent's start-up work done
show "tern, no policy" "$(rate)"
rules_of_srv() {
	ternctl -o json policy dump default/srv |
		python3 -c 'import json, sys; print(len(json.load(sys.stdin)["ingress"]["rules"]))'
}
srv_has_rules() { test "$(rules_of_srv 2>/dev/null)" = "$1"; }
for n in 10 100 1000; do
	{
		printf 'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n'
		printf 'metadata: {name: bench, namespace: default}\n'
		printf 'spec:\n  podSelector: {matchLabels: {role: server}}\n  ingress:\n'
		for k in $(seq 0 $((n - 2))); do
			printf '  - from: [{ipBlock: {cidr: %s}}]\n    ports: [{port: 80}]\n' "$(cidr "$k")"
		done
		printf '  - from: [{ipBlock: {cidr: %s/32}}]\n    ports: [{port: 80}]\n' "$CL"
	} >"$STATE/.np-bench.tmp"
	mv "$STATE/.np-bench.tmp" "$STATE/np-bench.yaml"
	# the node's own rule comes first: N + 1
	wait_until 20 srv_has_rules $((n + 1)) ||
		{ echo "(policy of $n rules not installed)"; continue; }
	show "tern, $n rules" "$(rate)" "of iptables + ipset's" "${IPT[$n]}"
done
