#!/bin/bash
# ternd with datastore.type kubernetes against the fake API server: the
# first list (paginated, a bad object among good ones) attaches the pods;
# watch events apply; /healthz and /readyz follow the first sync.
#
#  [a] [b] [c] [d] == tern<x> -- [node: ternd] eth0 == br0 [underlay: fake API server]
#                                 :9099 health          https://10.99.0.1:6443
. "$(dirname "$0")/kube_lib.sh"

node_up
# two items a page: every list of more than two objects takes several pages
fake_up --max-page 2 || exit 1
kube_base
kpod_add a 2
kpod_add b 3
kpod_add c 4
# the API server accepted it, tern cannot use it: logged and skipped
kput "$(kpod_json broken 9 default "$NODE_NAME" 10.244.1.300)"
kubeconfig_write token
write_kube_config

# the API server is down at first: alive, not ready
fake POST '/down?code=503' >/dev/null
kternd_spawn
check healthz-before-sync wait_until 10 sh -c "[ \"\$(nsenter --net=/run/netns/$NODE_NS curl -s -o /dev/null -w '%{http_code}' http://$HEALTH/healthz)\" = 200 ]"
check readyz-503-before-sync test "$(health_code /readyz)" = 503
check readyz-says-why sh -c "nsenter --net=/run/netns/$NODE_NS curl -s http://$HEALTH/readyz | grep -q 'not ready: waiting for the first list of namespaces, nodes, pods'"
check no-attach-before-sync detached a
check unavailable-logged wait_until 5 tlog_has 'pods: list: HTTP 503'
fake POST /up >/dev/null

check ready-after-sync wait_until 15 ternd_ready_since "$TERND_LINES"
check readyz-200 test "$(health_code /readyz)" = 200
check readyz-ok sh -c "nsenter --net=/run/netns/$NODE_NS curl -s http://$HEALTH/readyz | grep -qx ok"
check unknown-path-404 test "$(health_code /nope)" = 404
check list-paginated tlog_has 'pods: listed 4 at resourceVersion [0-9]* (2 pages): 3 added, 0 updated, 0 deleted, 0 unchanged, 1 bad'
check list-used-continue test "$(fake_count 'resource=pods&verb=list&code=200')" -ge 2
check first-sync-counts tlog_has 'first sync done: 1 namespaces, 1 nodes, 3 pods, 1 services, 1 endpointslices, 1 networkpolicies'
check bad-object-logged tlog_has 'Pod default/broken: status.podIPs\[0\].ip: "10.244.1.300" is not an IP address; skipped'
check attached-a attached a
check attached-b attached b
check attached-c attached c
check traffic-a-b in_pod a ping -c 1 -W 2 "$(pod_ip4 3)"
# idle: the loop sleeps in epoll_wait (no busy timer, no polling)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$TERND_PID/stat"; }
t0=$(cpu_ticks)
sleep 2
check idle-no-spin test $(($(cpu_ticks) - t0)) -lt 20
check watching wait_until 5 sh -c "[ \$(curl -sf --unix-socket $FAKE_SOCK 'http://fake/count?resource=pods&verb=watch') -ge 1 ]"

# from here every event arrives in pieces of 7 bytes (one TCP segment each,
# as a slow link would deliver it): the stream parser puts them together
fake POST '/split?bytes=7' >/dev/null

# ADDED
kpod_add d 5
check watch-added wait_until 3 attached d
check traffic-to-added in_pod a ping -c 1 -W 2 "$(pod_ip4 5)"
# MODIFIED: d moves to another node (its hooks go), then back
kput "$(kpod_json d 5 default node-2)"
check watch-modified-away wait_until 3 detached d
kput "$(kpod_json d 5 default)"
check watch-modified-back wait_until 3 attached d
# DELETED
kdel pods default b
check watch-deleted wait_until 3 detached b
# a good pod turned bad keeps its last good version
kput "$(kpod_json c 4 default "$NODE_NAME" not-an-ip)"
check bad-update-logged wait_until 3 tlog_has 'MODIFIED: Pod default/c: .*keeping its last good version'
check bad-update-keeps-pod attached c
check traffic-to-kept in_pod a ping -c 1 -W 2 "$(pod_ip4 4)"
# the watch stayed up throughout: no relist
check no-relist test "$(tlog_count 'pods: listed')" = 1
check still-ready test "$(health_code /readyz)" = 200

# SIGTERM: exits, the dataplane stays
ternd_stop
check hooks-stay-after-exit attached a
