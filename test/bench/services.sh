#!/bin/bash
# make bench, services (issue 3): four ways from a client pod to the same
# backends, in one topology, one after another:
#   direct   the backend pod IPs, no service machinery (the baseline)
#   tern     ternd with connect-time LB, then with it off (tc NAT)
#   iptables kube-proxy's iptables-mode rules, loaded with iptables-restore
#   nft      kube-proxy's nftables-mode table, loaded with nft -f
# each with 1, 1 000 and 10 000 services of 10 endpoints loaded: short
# requests (connect, write, read, close) per second and their latency, and
# bulk throughput; then the control plane: programming 10 000 services, and
# one endpoint change. docs/bench.md explains every figure.
#
#  [c-*: svc_load] eth0 == tern<c-*> --\               /-- tern<be1>  == eth0 [be1:  svc_echo :8080 :8081]
#                                   [node: ternd | iptables | nft]      ...
#                                                      \-- tern<be11> == eth0 [be11: svc_echo]
#  service default/bench 10.96.0.10 :80 -> :8080, :81 -> :8081; endpoints be1..be10
#  (10.244.1.11-20); the endpoint change swaps be10 for be11. N-1 other services,
#  10 fake endpoints each (never contacted).
#  Each way has a client pod of its own (c-direct, c-tern, ...): the backends keep
#  the server side of every connection in TIME_WAIT for 60 s, and a SYN from the
#  same address and port that reached them another way (through a VIP rather
#  than straight, so with another timestamp offset and ISN) would be refused by
#  PAWS there and wait a second for its retransmission.
#
# BENCH_SVC_COUNTS (default "1 1000 10000"): the service counts; the control
# plane uses the largest. BENCH_SLOW=1: also the loads as kube-proxy really
# issues them at that size (one nft transaction; iptables-restore --noflush),
# which take minutes with Debian 12's nftables 1.0.6 / iptables 1.8.9.
E2E_NAME=bench-services
. "$(dirname "$0")/../e2e/lib.sh"

COUNTS=${BENCH_SVC_COUNTS:-1 1000 10000}
BIG=$(echo "$COUNTS" | tr ' ' '\n' | sort -n | tail -1)
SLOW=${BENCH_SLOW:-0}
EPS=10
VIP=10.96.0.10
LOAD=$B/test/bench/svc_load
WAIT=$B/test/bench/svc_wait
G=$WORK/gen   # generated rule sets and manifests
mkdir -p "$G"

kp() { python3 "$ROOT/test/bench/kp_rules.py" "$@"; }
# the ClusterIP of other service I (kp_rules.py's numbering)
vip_of() { printf '10.%d.%d.%d' $((100 + ($1 >> 16))) $((($1 >> 8) & 255)) $(($1 & 255)); }
ms_since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", (b - a) * 1000 }'; }
# timed CMD...: CMD's wall time in ms (its output goes to the log)
timed() {
	local t0=$EPOCHREALTIME
	"$@" >>"$WORK/cmd.log" 2>&1 || { echo fail; return 1; }
	ms_since "$t0"
}
median() { printf '%s\n' "$@" | sort -g | sed -n "$((($# + 1) / 2))p"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2fx", a / b; else print "-" }'; }
progress() { echo "# $*" >&2; }

# --- the topology -------------------------------------------------------------
node_up
CLIENTS=(direct tern tern-tc iptables nft direct-last)
for i in "${!CLIENTS[@]}"; do pod_add "c-${CLIENTS[$i]}" $((2 + i)); done
for i in $(seq 11); do
	pod_add "be$i" $((10 + i))
	bg in_pod "be$i" "$B/test/bench/svc_echo" 8080 8081 2
done
DIRECT_REQ=() # the ten backends, taken in turn
for i in $(seq "$EPS"); do DIRECT_REQ+=("$(pod_ip4 $((10 + i))):8080"); done
DIRECT_BULK=$(pod_ip4 11):8081
sleep 0.3
for c in "${CLIENTS[@]}"; do in_pod "c-$c" ping -c 1 -W 2 "$(pod_ip4 11)" >/dev/null; done

# --- data plane ----------------------------------------------------------------
declare -A RATE P50 P99 ERR GBPS RUNS
ROWS=()
# measure KEY CLIENT TARGET... (the last one is the bulk target)
measure() {
	local key=$1 cl=c-$2 out bulk
	shift 2
	local req=("${@:1:$#-1}") bt=${*: -1}
	out=$(in_pod_cg "$cl" "$LOAD" -c 4 -t 0.6 -l 0.3 -r 5 "${req[@]}")
	bulk=$(in_pod_cg "$cl" "$LOAD" -b 0.6 -r 5 "$bt")
	# "rate R p50 X p99 Y errors E rounds ..." / "gbps G errors E rounds ..."
	# shellcheck disable=SC2086 # split into fields on purpose
	set -- $out
	RATE[$key]=${2:-0} P50[$key]=${4:-0} P99[$key]=${6:-0} ERR[$key]=${8:-?} RUNS[$key]=${10:-}
	# shellcheck disable=SC2086
	set -- $bulk
	GBPS[$key]=${2:-0}
	ERR[$key]="${ERR[$key]}+${4:-?}"
	ROWS+=("$key")
	progress "$key: ${RATE[$key]} req/s (rounds ${RUNS[$key]}), p50 ${P50[$key]} us, p99 ${P99[$key]} us, ${GBPS[$key]} Gbit/s (rounds ${6:-}), errors ${ERR[$key]}"
}
svc_measure() { measure "$1" "${1%/*}" "$VIP:80" "$VIP:81"; }

progress "direct, first"
measure direct/first direct "${DIRECT_REQ[@]}" "$DIRECT_BULK"

# --- tern ------------------------------------------------------------------------
kp tern-bench-svc 1 "$EPS" "$STATE/svc-bench.yaml"
kp tern-bench-eps 1 "$EPS" "$G/tern-eps.yaml"
kp tern-change 1 "$EPS" "$G/tern-change.yaml"
cp "$G/tern-eps.yaml" "$STATE/eps-bench.yaml"
for n in $COUNTS; do [ "$n" -gt 1 ] && kp tern "$n" "$EPS" "$G/tern-$n.yaml"; done
CUR_N=1
# tern_services N: the datastore holds N services; returns once the maps do
# (prints how long that took, ms)
tern_services() {
	local n=$1 ms
	if [ "$n" = 1 ]; then
		rm -f "$STATE/bulk.yaml"
		ms=$(in_node "$WAIT" -g "$PIN" "$(vip_of $((CUR_N - 1)))" 80)
	else
		cp "$G/tern-$n.yaml" "$STATE/.bulk.tmp"
		ms=$(in_node "$WAIT" "$PIN" "$(vip_of $((n - 1)))" 80 -- mv "$STATE/.bulk.tmp" "$STATE/bulk.yaml")
		[ "$CUR_N" -gt "$n" ] && in_node "$WAIT" -g "$PIN" "$(vip_of $((CUR_N - 1)))" 80 >/dev/null
	fi
	CUR_N=$n
	echo "$ms"
}
# tern_change FILE BACKEND: the measured slice replaced; ms until BACKEND is in the maps
tern_change() {
	cp "$1" "$STATE/.eps.tmp"
	in_node "$WAIT" "$PIN" "$VIP" 80 "$2" -- mv "$STATE/.eps.tmp" "$STATE/eps-bench.yaml"
}

progress "tern, connect-time LB"
ternd_start || exit 1
wait_until 10 test -e "$PIN/links/tc-in/$(wl_ifname default be11)"
in_node "$WAIT" "$PIN" "$VIP" 80 >/dev/null
# the pod IPs straight, with tern forwarding (tc conntrack + redirect_peer) but no
# service: what tern costs or saves before any load balancing (same client:
# connect-time LB leaves the same addresses on its sockets)
measure tern/direct tern "${DIRECT_REQ[@]}" "$DIRECT_BULK"
TERN_E2E_PROGRAM="" TERN_E2E_CHANGE=()
# 1 first, the largest next (timed from 1: every service added through the
# files datastore), the rest after
for n in 1 $BIG $COUNTS; do
	[ -n "${RATE[tern/$n]:-}" ] && continue
	ms=$(tern_services "$n")
	[ "$n" = "$BIG" ] && [ "$BIG" -gt 1 ] && TERN_E2E_PROGRAM=$ms
	svc_measure "tern/$n"
	if [ "$n" = "$BIG" ]; then
		for r in 1 2 3; do
			TERN_E2E_CHANGE+=("$(tern_change "$G/tern-change.yaml" "$(pod_ip4 21)")")
			TERN_E2E_CHANGE+=("$(tern_change "$G/tern-eps.yaml" "$(pod_ip4 20)")")
		done
	fi
done

[ "$(counter nat_new)" = 0 ] || progress "WARNING: connect-time LB left flows to tc NAT"

progress "tern, connect-time LB off (tc NAT)"
ternd_stop
EXTRA_CONFIG='services:
  connectTimeLB:
    tcp: false'
write_config
ternd_start || exit 1
for n in $COUNTS; do
	tern_services "$n" >/dev/null
	svc_measure "tern-tc/$n"
done
[ "$(counter nat_new)" -gt 0 ] || progress "WARNING: tc NAT translated nothing"

# tern gone: the agent stopped, every pin (and so every link) removed
ternd_stop
rm -rf "$PIN"
if wait_until 5 sh -c "! { bpftool cgroup show '$CGROUP' | grep -q . || nsenter --net=/run/netns/$NODE_NS bpftool net show | grep -qE 'tcx|xdp.*id'; }"; then
	progress "tern removed: no cgroup, tc or XDP program attached"
else
	echo "(tern programs still attached; stopping)"
	in_node bpftool net show >&2
	exit 0
fi

# --- kube-proxy, iptables mode ------------------------------------------------------
progress "iptables"
ruleset_empty() { [ -z "$(in_node nft list ruleset)" ]; }
ruleset_empty || { echo "(the node has netfilter rules before iptables; stopping)"; exit 0; }
IPT_LOAD="" IPT_CHANGE=() IPT_FULL_CHANGE="" IPT_KP_LOAD=""
for n in $COUNTS; do
	kp iptables "$n" "$EPS" "$G/ipt-$n"
	ms=$(timed in_node iptables-restore "$G/ipt-$n")
	[ "$n" = "$BIG" ] && IPT_LOAD=$ms
	svc_measure "iptables/$n"
done
kp iptables-change-partial "$BIG" "$EPS" "$G/ipt-change"
kp iptables-revert-partial "$BIG" "$EPS" "$G/ipt-revert"
for _ in 1 2 3; do
	IPT_CHANGE+=("$(timed in_node iptables-restore --noflush "$G/ipt-change")")
	IPT_CHANGE+=("$(timed in_node iptables-restore --noflush "$G/ipt-revert")")
done
if [ "$SLOW" = 1 ]; then
	kp iptables-change-full "$BIG" "$EPS" "$G/ipt-change-full"
	IPT_FULL_CHANGE=$(timed in_node iptables-restore "$G/ipt-change-full")
	# as kube-proxy's first sync: jumps in place, then its chains with --noflush
	in_node iptables -t nat -F && in_node iptables -t nat -X
	in_node iptables -t filter -F && in_node iptables -t filter -X
	kp iptables-jumps 1 "$EPS" "$G/ipt-jumps"
	kp iptables-kp "$BIG" "$EPS" "$G/ipt-kp"
	in_node iptables-restore "$G/ipt-jumps"
	IPT_KP_LOAD=$(timed in_node timeout 900 iptables-restore --noflush "$G/ipt-kp")
fi
NRULES=$(in_node iptables-save | grep -c '^-A')
for t in nat filter; do in_node iptables -t $t -F && in_node iptables -t $t -X; done
in_node nft flush ruleset # the iptables-nft tables themselves
ruleset_empty || { echo "(iptables rules left behind; stopping)"; exit 0; }

# --- kube-proxy, nftables mode -----------------------------------------------------
progress "nftables"
NFT_LOAD="" NFT_LOAD_HOW="" NFT_CHANGE=()
for n in $COUNTS; do
	in_node nft delete table ip kube-proxy 2>/dev/null
	if [ "$n" -le 1000 ] || [ "$SLOW" = 1 ]; then
		kp nft "$n" "$EPS" "$G/nft-$n"
		ms=$(timed in_node nft -f "$G/nft-$n")
		how="one transaction"
	else
		# one transaction costs O(n^2) in the kernel (__nft_set_trans_bind walks
		# the whole transaction for each anonymous vmap): load 1 000 at a time
		parts=$(((n + 999) / 1000))
		kp nft "$n" "$EPS" "$G/nft-$n" "$parts"
		t0=$EPOCHREALTIME
		for p in $(seq "$parts"); do in_node nft -f "$G/nft-$n.$p" || break; done
		ms=$(ms_since "$t0")
		how="$parts transactions of 1000 services"
	fi
	[ "$n" = "$BIG" ] && NFT_LOAD=$ms NFT_LOAD_HOW=$how
	svc_measure "nft/$n"
done
kp nft-change "$BIG" "$EPS" "$G/nft-change"
kp nft-revert "$BIG" "$EPS" "$G/nft-revert"
for _ in 1 2 3; do
	NFT_CHANGE+=("$(timed in_node nft -f "$G/nft-change")")
	NFT_CHANGE+=("$(timed in_node nft -f "$G/nft-revert")")
done
in_node nft delete table ip kube-proxy
ruleset_empty || { echo "(nftables rules left behind; stopping)"; exit 0; }

progress "direct, last"
measure direct/last direct-last "${DIRECT_REQ[@]}" "$DIRECT_BULK"

# --- tern's control plane in process --------------------------------------------------
progress "tern control plane (bench_svc)"
kp tern "$BIG" "$EPS" "$G/tern-bulk.yaml"
BSVC=$("$B/test/bench/bench_svc" "$G/tern-bulk.yaml" "$STATE/svc-bench.yaml" "$G/tern-eps.yaml" \
	"$G/tern-change.yaml" 5)
bsvc() { echo "$BSVC" | awk -v k="$1" -v f="$2" '$1 == k { print $f }'; }

# --- the tables --------------------------------------------------------------------
base_rate=$(awk -v a="${RATE[direct/first]}" -v b="${RATE[direct/last]}" 'BEGIN { print (a + b) / 2 }')
base_p50=$(awk -v a="${P50[direct/first]}" -v b="${P50[direct/last]}" 'BEGIN { print (a + b) / 2 }')
base_gbps=$(awk -v a="${GBPS[direct/first]}" -v b="${GBPS[direct/last]}" 'BEGIN { print (a + b) / 2 }')
label() {
	case $1 in
	direct/first) echo "direct pod IPs (baseline, first)" ;;
	direct/last) echo "direct pod IPs (baseline, last)" ;;
	tern/direct) echo "direct pod IPs, tern forwarding" ;;
	tern/*) echo "tern, connect-time LB" ;;
	tern-tc/*) echo "tern, tc NAT (connect-time LB off)" ;;
	iptables/*) echo "kube-proxy iptables ($(iptables --version | grep -o '(.*)' | tr -d '()'))" ;;
	nft/*) echo "kube-proxy nftables" ;;
	esac
}
echo
echo "== services, data plane: client pod -> service 10.96.0.10 (10 backends), N services loaded"
echo "   req/s: 4 connections, each connect, write, read 64 B, close; 5 x 0.6 s, median;"
echo "   latency: 1 connection, 5 x 0.3 s pooled; bulk: 1 connection, 5 x 0.6 s, median."
echo "   ratios: against the direct baseline (mean of its first and last run)"
printf '  %-36s %8s %9s %6s %8s %6s %8s %8s %6s %s\n' "" services "req/s" "" "p50 us" "" "p99 us" Gbit/s "" "errors"
order=(direct/first tern/direct)
for w in tern tern-tc iptables nft; do for n in $COUNTS; do order+=("$w/$n"); done; done
order+=(direct/last)
prev=
for k in "${order[@]}"; do
	[ -n "${RATE[$k]:-}" ] || continue
	l=$(label "$k") n=${k#*/}
	case $k in */direct | direct/*) n=- ;; esac
	[ "$l" = "$prev" ] && shown="" || shown=$l
	prev=$l
	printf '  %-36s %8s %9s %6s %8s %6s %8s %8s %6s %s\n' "$shown" "$n" "${RATE[$k]}" \
		"$(ratio "${RATE[$k]}" "$base_rate")" "${P50[$k]}" "$(ratio "${P50[$k]}" "$base_p50")" \
		"${P99[$k]}" "${GBPS[$k]}" "$(ratio "${GBPS[$k]}" "$base_gbps")" "${ERR[$k]}"
done

echo
echo "== services, control plane: $BIG services x $EPS endpoints"
echo "   ($((BIG + 1)) service ports: $((BIG + 1)) frontends + $(((BIG + 1) * EPS)) backends in tern's maps,"
echo "    $NRULES iptables rules, one nft table); ratios: against tern's svc_sync_run"
t_init=$(bsvc initial 2) t_change=$(bsvc change 2)
row() { # LABEL MS BASE [RUNS]
	printf '  %-62s %10s ms %9s   %s\n' "$1" "$2" "$(ratio "$2" "$3")" "${4:+(runs: $4)}"
}
echo "  program every service"
row "tern: svc_sync_run into empty maps (in process, median of 5)" "$t_init" "$t_init" "$(bsvc initial 3)"
row "tern: files datastore -> maps, ternd running ($((BIG - 1)) added)" "$TERN_E2E_PROGRAM" "$t_init"
row "iptables-restore, complete nat + filter tables" "$IPT_LOAD" "$t_init"
[ -n "$IPT_KP_LOAD" ] && row "iptables-restore --noflush, kube-proxy's chains (as kube-proxy)" "$IPT_KP_LOAD" "$t_init"
row "nft -f, $NFT_LOAD_HOW" "$NFT_LOAD" "$t_init"
echo "  one endpoint of the measured service replaced (median of 6: 3 changes, 3 back)"
row "tern: svc_sync_run after the EndpointSlice changed (in process)" "$t_change" "$t_change" "$(bsvc change 3)"
row "tern: files datastore -> backend in the map, end to end" "$(median "${TERN_E2E_CHANGE[@]}")" "$t_change" "${TERN_E2E_CHANGE[*]}"
row "iptables-restore --noflush, partial (kube-proxy >= 1.28)" "$(median "${IPT_CHANGE[@]}")" "$t_change" "${IPT_CHANGE[*]}"
[ -n "$IPT_FULL_CHANGE" ] && row "iptables-restore, complete tables again" "$IPT_FULL_CHANGE" "$t_change"
row "nft -f, kube-proxy's transaction for the service" "$(median "${NFT_CHANGE[@]}")" "$t_change" "${NFT_CHANGE[*]}"
echo "  tern, other figures (in process, median of 5)"
row "periodic resync: read both maps back, recompute, diff (no writes)" "$(bsvc resync 2)" "$t_init" "$(bsvc resync 3)"
row "decode the $(bsvc decode 4) manifests into the model (once)" "$(bsvc decode 2)" "$t_init"
