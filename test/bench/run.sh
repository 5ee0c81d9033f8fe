#!/bin/bash
# make bench: figures as ratios against a baseline measured in the same run.
# Benchmarks print; they never pass or fail a build.
E2E_NAME=bench
. "$(dirname "$0")/../e2e/lib.sh"

echo "== tc program cost"
"$B/test/bench/bench_tc" || echo "(bench_tc failed)"

echo
echo "== pod -> pod TCP throughput, iperf3, same topology with and without tern"
#  [a: iperf3 -c] eth0 == tern<a> -- [node] -- tern<b> == eth0 [b: iperf3 -s]
node_up
pod_add a 2
pod_add b 3
in_pod b iperf3 -s -D -I "$WORK/iperf3.pid" >/dev/null
BG_PIDS+=("$(cat "$WORK/iperf3.pid" 2>/dev/null)")
sleep 0.3
gbps() { # one 3-second run, Gbit/s
	in_pod a iperf3 -c "$(pod_ip4 3)" -t 3 -J 2>/dev/null |
		python3 -c 'import json,sys; print("%.2f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/1e9))' 2>/dev/null || echo 0
}
median() { printf '%s\n' "$@" | sort -n | sed -n "$((($# + 1) / 2))p"; }
in_pod a ping -c 1 -W 2 "$(pod_ip4 3)" >/dev/null # warm the neighbour tables
base=() tern=()
for i in 1 2 3; do
	base+=("$(gbps)")
done
ternd_start >/dev/null || { echo "(ternd did not start)"; exit 0; }
in_pod a ping -c 1 -W 2 "$(pod_ip4 3)" >/dev/null
for i in 1 2 3; do
	tern+=("$(gbps)")
done
b=$(median "${base[@]}") t=$(median "${tern[@]}")
printf '  %-44s %6s Gbit/s   1.00x   (runs: %s)\n' "no programs (kernel routing, baseline)" "$b" "${base[*]}"
printf '  %-44s %6s Gbit/s   %s   (runs: %s)\n' "tern (tc conntrack + redirect_peer)" "$t" \
	"$(python3 -c "print('%.2fx' % ($t / $b if $b else 0))")" "${tern[*]}"

echo
echo "== files datastore: a pod manifest written -> its tc hooks attached (target: 100 ms)"
lat=()
for n in 10 11 12 13 14; do
	ip netns add "$P-l$n"
	pod_wire "l$n" "$n" default
	host=$(wl_ifname default "l$n")
	t0=$(date +%s%N)
	pod_manifest "l$n" "$n" default
	while [ ! -e "$PIN/links/tc-out/$host" ]; do sleep 0.001; done
	lat+=("$((($(date +%s%N) - t0) / 1000000))")
done
printf '  %-44s %6s ms   (runs: %s ms)\n' "manifest -> attached, median" "$(median "${lat[@]}")" "${lat[*]}"

echo
echo "== network policy: first-packet and established cost, compile + load"
"$B/test/bench/bench_policy" || echo "(bench_policy failed)"
echo
echo "== network policy against iptables + ipset: new connections through a namespace"
bash "$ROOT/test/bench/policy_rate.sh" || echo "(policy_rate.sh failed)"

echo
echo "== services: tern vs kube-proxy (iptables, nftables) vs pod IPs, 1 / 1 000 / 10 000 services"
bash "$ROOT/test/bench/services.sh" || echo "(services.sh failed)"
