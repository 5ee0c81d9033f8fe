#!/bin/bash
# A service scaled 10 -> 0 -> 10 endpoints under a continuous stream of
# short connections: no connection fails while a ready (or serving) backend
# exists; with none, connections are refused at once (never a timeout).
# Scale-down goes as Kubernetes does it: an endpoint turns terminating, then
# is removed. Once with connect-time load balancing, once with tc NAT.
#
#  [cl: probe] eth0 == tern<cl> -- [node: ternd] -- tern<sN> == eth0 [s1..s10: servers]
#  ClusterIP 10.96.0.20:80 -> sN:8080
. "$(dirname "$0")/lib.sh"

node_up
pod_add cl 2
for i in $(seq 10); do
	pod_add "s$i" $((10 + i))
	tcp_echo_server "s$i" 8080
done
manifest_write svc-scale.yaml <<'EOF'
apiVersion: v1
kind: Service
metadata:
  name: scale
  namespace: default
spec:
  clusterIP: 10.96.0.20
  ports:
  - name: http
    port: 80
    targetPort: 8080
EOF
# endpoints N [TERMINATING]: s1..sN ready, and sTERMINATING serving-terminating
endpoints() {
	local eps=() i
	for i in $(seq "$1"); do eps+=("$(pod_ip4 $((10 + i)))"); done
	[ -n "${2:-}" ] && eps+=("$(pod_ip4 $((10 + $2))),ready=false,serving=true,terminating=true")
	eps_write scale scale 4 http 8080 TCP "${eps[@]}"
}
endpoints 10
ms() { date +%s%3N; }

churn() { # MODE: scale down and up under load; check what the client saw
	local mode=$1 log=$WORK/probe.$1 t0 tzero tback
	t0=$(ms)
	in_pod_cg cl "$B/test/e2e/probe" 10.96.0.20 80 9 >"$log" &
	local probe=$!
	sleep 1
	for i in $(seq 10 -1 1); do
		endpoints $((i - 1)) "$i"
		sleep 0.2
		endpoints $((i - 1))
		sleep 0.1
	done
	tzero=$(($(ms) - t0))
	sleep 1
	tback=$(($(ms) - t0))
	for i in $(seq 10); do
		endpoints "$i"
		sleep 0.2
	done
	wait $probe
	local ok refused fail late
	ok=$(grep -c ' ok ' "$log")
	refused=$(grep -c ' refused' "$log")
	fail=$(grep -c ' fail' "$log")
	# refusals only while there was no endpoint (with the agent's reaction time)
	late=$(awk -v a=$((tzero - 500)) -v b=$((tback + 500)) \
		'$2 == "refused" && ($1 < a || $1 > b)' "$log" | wc -l)
	echo "$mode: $ok ok, $refused refused, $fail failed, $late refused outside the empty window"
	grep ' fail' "$log" | head -5
	check "$mode/no-failed-connection" test "$fail" = 0
	check "$mode/refused-only-when-empty" test "$late" = 0
	check "$mode/served-throughout" test "$ok" -gt 200
	check "$mode/refused-when-empty" test "$refused" -gt 0
	check "$mode/all-backends-used" test "$(grep ' ok ' "$log" | cut -d' ' -f3 | sort -u | wc -l)" = 10
}

ternd_start || exit 1
wait_until 5 test -e "$PIN/links/tc-in/$(wl_ifname default s10)"
churn ctlb
endpoints 10
ternd_stop
EXTRA_CONFIG='services:
  connectTimeLB:
    tcp: false'
write_config
ternd_start || exit 1
churn tc
