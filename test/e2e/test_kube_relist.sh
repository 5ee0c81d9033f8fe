#!/bin/bash
# The watch's failure modes against the fake API server: 410 Gone relists
# and applies only the difference (unchanged objects untouched, objects
# deleted during the gap removed); a broken stream resumes from the last
# resourceVersion with capped, jittered backoff and no relist; bookmarks
# move the resume point; a watch the server ends cleanly is renewed.
#
#  [a] [b] [c] [e] == tern<x> -- [node: ternd] eth0 == br0 [underlay: fake API server]
. "$(dirname "$0")/kube_lib.sh"

node_up
fake_up || exit 1
kube_base
kpod_add a 2
kpod_add b 3
kpod_add c 4
# 600 more namespaces: more than one page of ternd's limit (500)
python3 -c 'import json; print(json.dumps({"kind": "List", "items": [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns-%d" % i}} for i in range(600)]}))' | kput
kubeconfig_write token
write_kube_config
kternd_start || exit 1
check list-limit-pages tlog_has 'namespaces: listed 601 at resourceVersion [0-9]* (2 pages): 601 added'
check list-asked-limit-500 sh -c "curl -sf --unix-socket $FAKE_SOCK http://fake/log | grep -q '\"resource\": \"namespaces\", \"verb\": \"list\", \"code\": 200, \"auth\": \"[^\"]*\", \"params\": {\"limit\": \"500\", \"continue\"'"
check attached-at-start wait_until 3 sh -c "test -e $PIN/links/tc-in/$(wl_ifname default a) -a -e $PIN/links/tc-in/$(wl_ifname default c)"
# the ids of this node's pinned tc links (bpftool lists every link of the
# machine, other tests' too)
link_ids() {
	for l in "$PIN"/links/tc-*/*; do bpftool link show pinned "$l" | head -n 1 | cut -d: -f1; done |
		sort | tr '\n' ' '
}
pod_lists() { fake_count 'resource=pods&verb=list&code=200'; }
ids_before=$(link_ids)
lists_before=$(pod_lists)

# --- 410 on an open watch: relist, nothing changed, nothing touched
fake POST '/compact?expire=1' >/dev/null
check expired-logged wait_until 5 tlog_has 'pods: watch from resourceVersion [0-9]* expired'
check relisted wait_until 5 tlog_has 'pods: listed 3 at resourceVersion [0-9]* (1 page): 0 added, 0 updated, 0 deleted, 3 unchanged, 0 bad'
check relisted-every-kind wait_until 5 tlog_has 'networkpolicies: listed 1 .* 1 unchanged'
check relist-was-a-list test "$(pod_lists)" = $((lists_before + 1))
# no model change, so no reconcile did anything: the same tcx links
sleep 0.3
check no-flap test "$(tlog_count 'reconciled:')" = 1
check same-links sh -c "[ -n '$ids_before' ] && [ '$(link_ids)' = '$ids_before' ]"

# --- a gap: the API server is unreachable while b goes and e comes, and
# its history is compacted meanwhile; the resumed watch gets 410
ip netns add "$P-e"
in_ns "$P-e" sysctl -qw net.ipv6.conf.all.accept_dad=0
pod_wire e 6 default
fake POST '/down?code=503' >/dev/null
fake POST /break >/dev/null
check gap-watch-fails wait_until 5 tlog_has 'pods: watch: HTTP 503'
kdel pods default b
kput "$(kpod_json e 6)"
fake POST /compact >/dev/null
lines=$(tlog | grep -c .)
fake POST /up >/dev/null
check gap-410 wait_until 40 sh -c "tail -n +$((TERND_LINES + lines + 1)) $TERND_LOG | grep -q 'pods: watch from resourceVersion [0-9]* expired'"
check gap-relist-difference wait_until 5 tlog_has 'pods: listed 3 at .*: 1 added, 0 updated, 1 deleted, 2 unchanged, 0 bad'
check gap-deleted-removed wait_until 3 detached b
check gap-added-attached wait_until 3 attached e
check gap-unchanged-kept attached a

# --- a broken stream, cut mid-event: resume from the last resourceVersion
# with backoff (the next three tries fail), no relist, the half event dropped
lists_before=$(pod_lists)
rv=$(fake GET /rv)
watches=$(fake_count 'resource=pods&verb=watch&code=200')
fake POST '/fail?resource=pods&code=500&count=3' >/dev/null
fake POST '/break?partial=1' >/dev/null
check broken-logged wait_until 5 tlog_has "pods: watch: .*; resuming the watch from resourceVersion $rv in"
check backoff-grows wait_until 15 tlog_has 'pods: watch: HTTP 500: .*(attempt 5)'
last_watch_rv() {
	fake GET /log | grep '"resource": "pods", "verb": "watch", "code": 200' | tail -n 1 |
		sed 's/.*"resourceVersion": "\([0-9]*\)".*/\1/'
}
check resumed wait_until 15 sh -c "[ \$(curl -sf --unix-socket $FAKE_SOCK 'http://fake/count?resource=pods&verb=watch&code=200') -gt $watches ]"
check resumed-from-rv test "$(last_watch_rv)" = "$rv"
check backoff-no-relist test "$(pod_lists)" = "$lists_before"
check half-event-dropped sh -c "! grep -q ghost $TERND_LOG"
# delays grow: each retry waits longer than half the one before doubled
delays=$(tlog | grep 'pods: watch: HTTP 500' | sed 's/.* in \([0-9.]*\)s.*/\1/' | tr '\n' ' ')
growing() { set -- $delays; [ $# -ge 3 ] && awk -v a="$1" -v b="$2" -v c="$3" 'BEGIN { exit !(b > a / 2 && c > b / 2 && c > a) }'; }
check backoff-delays-grow growing
kput "$(kpod_json b 3)"
check watch-works-after-break wait_until 10 attached b

# --- bookmarks: the resume point moves without events of the kind
fake POST /bookmark >/dev/null
check bookmark-seen wait_until 3 tlog_has 'pods: bookmark at resourceVersion'
kput '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"other"}}'
fake POST /bookmark >/dev/null
rv=$(fake GET /rv)
check bookmark-rv wait_until 3 tlog_has "pods: bookmark at resourceVersion $rv"
lists_before=$(pod_lists)
fake POST /compact >/dev/null
fake POST /break >/dev/null
check bookmark-resumed wait_until 10 tlog_has "pods: watch: .*; resuming the watch from resourceVersion $rv"
kput "$(kpod_json b 3 default node-2)"
check bookmark-watch-works wait_until 10 detached b
check bookmark-avoids-relist test "$(pod_lists)" = "$lists_before"

# --- a watch the server ends cleanly (timeoutSeconds) is renewed, silently
fake POST '/watch-timeout?seconds=1' >/dev/null
fake POST /break >/dev/null
watches=$(fake_count 'resource=pods&verb=watch&code=200')
check renewed wait_until 10 sh -c "[ \$(curl -sf --unix-socket $FAKE_SOCK 'http://fake/count?resource=pods&verb=watch&code=200') -ge $((watches + 2)) ]"
check renewed-logged tlog_has 'pods: watch ended; resuming from resourceVersion'
check renew-no-relist test "$(pod_lists)" = "$lists_before"
kput "$(kpod_json b 3)"
check renewed-watch-works wait_until 10 attached b
