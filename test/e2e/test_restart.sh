#!/bin/bash
# kill -9 ternd in the middle of a TCP stream and start it again: the
# stream carries on with no byte lost (pinned maps and links keep the
# dataplane running; conntrack keeps the flow established).
#
#  [a: stream client] eth0 == tern<a> -- [node: ternd, killed & restarted] -- tern<b> == eth0 [b: stream server]
. "$(dirname "$0")/lib.sh"

node_up
pod_add a 2
pod_add b 3
ternd_start || exit 1
wait_until 5 test -e "$PIN/links/tc-in/$(wl_ifname default b)"

stream_across_restart() { # SERVER_ADDR PORT
	in_pod b "$B/test/e2e/stream" server "$2" >"$WORK/server.$2" &
	local srv=$!
	wait_until 3 grep -q listening "$WORK/server.$2" || return 1
	in_pod a "$B/test/e2e/stream" client "$1" "$2" 4 >"$WORK/client.$2" &
	local cli=$!
	sleep 1.2
	ternd_kill9
	sleep 0.5
	ternd_start || return 1
	wait $cli || { cat "$WORK/client.$2"; return 1; }
	wait $srv || { cat "$WORK/server.$2"; return 1; }
	local sent got
	sent=$(awk '/^sent/ {print $2}' "$WORK/client.$2")
	got=$(awk '/^received/ {print $2}' "$WORK/server.$2")
	echo "sent $sent received $got"
	[ -n "$sent" ] && [ "$sent" = "$got" ] && [ "$sent" -gt 1000000 ]
}
check stream-v4-survives-kill9 stream_across_restart "$(pod_ip4 3)" 7001
check stream-v6-survives-kill9 stream_across_restart "$(pod_ip6 3)" 7002
check conntrack-survives sh -c "nsenter --net=/run/netns/$NODE_NS $B/ternctl --pin-path $PIN -o json conntrack dump | grep -q '\"$(pod_ip4 3)\"'"
