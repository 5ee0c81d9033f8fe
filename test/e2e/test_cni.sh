#!/bin/bash
# tern-cni driven through libcni, as containerd and CRI-O drive it. First
# with ternd down after one run (its programs stay pinned): ADD puts them on
# the pod's interface, which is fail-closed until ternd, started with the
# pod's manifest, adopts the links; DEL unpins them. Then with ternd up: ADD
# wires a pod, ternd (files datastore, the pod's manifest carrying the IPs
# ADD returned) adopts its links, traffic flows, CHECK passes and names what
# breaks, DEL removes the veth, the routes and the IPAM allocation, twice
# in a row too. Then what a runtime sees when things go wrong.
#
#  [z] eth0 ==veth== tern<z> --\   (tern_from_ep/tern_to_ep on every tern<x> from ADD on)
#  [a] eth0 ==veth== tern<a> ----[node: ternd; libcni -> tern-cni -> host-local] eth0 == br0 [ul]
#  [b] eth0 ==veth== tern<b> --/
. "$(dirname "$0")/lib.sh"

node_up
if ! cni_driver_build >"$WORK/go.log" 2>&1; then
	fail driver-build "$(tail -n 5 "$WORK/go.log" | tr '\n' ' ')"
	exit 1
fi
cni_conflist "$CNI_CONFLIST"
HA=$(wl_ifname default a) HB=$(wl_ifname default b)
HZ=$(wl_ifname default z) HY=$(wl_ifname default y)
add_to_json() { cni add "$1" "$1" >"$WORK/$1.json"; } # SANDBOX (= POD)
addr_of() { jq -r --arg f "$2" '.ips[].address | select(contains($f))' "$WORK/$1.json" | cut -d/ -f1; }
tcx_progs() { in_node "$B/test/e2e/tcx_query" "$1" | grep -c tern_; }
tcx_list() { in_node "$B/test/e2e/tcx_query" "$1" | tr '\n' ' '; }
link_ids() { ternctl -o json status | jq -r --arg i "$1" '[.links[] | select(.interface == $i) | .link_id] | join(",")'; }
pins_of() { ls "$PIN/links/tc-in/$1" "$PIN/links/tc-out/$1" 2>/dev/null; } # IFNAME
adopted() { grep -q "$1 (ifindex [0-9]*): adopted tc hooks" "$TERND_LOG"; }

# --- ternd down: the pod is fail-closed -------------------------------------------
# ternd ran once, so its programs are pinned, and stopped, as in an upgrade
ternd_start || exit 1
ternd_stop
check down-progs-pinned test -e "$PIN/progs/tern_from_ep" -a -e "$PIN/progs/tern_to_ep"
sandbox_add z
check down-add add_to_json z
Z4=$(addr_of z .) Z6=$(addr_of z :)
check down-hooks-in-kernel test "$(tcx_list "$HZ")" = "ingress tern_from_ep egress tern_to_ep "
check down-links-pinned test "$(pins_of "$HZ" | wc -l)" = 2
Z_LINKS=$(link_ids "$HZ")
drops=$(counter drop_no_state)
check down-pod-out-dropped sh -c "! nsenter --net=/run/netns/$P-z ping -c 2 -i 0.2 -W 1 10.99.0.1"
check down-pod-in-dropped sh -c "! nsenter --net=/run/netns/$UL_NS ping -c 2 -i 0.2 -W 1 $Z4"
check down-drop-no-state test "$(counter drop_no_state)" -gt "$drops"
# DEL takes the links' pins with the veth
sandbox_add y
cni add y y >/dev/null
check down-del-pinned test "$(pins_of "$HY" | wc -l)" = 2
check down-del cni del y y
check down-del-unpinned test -z "$(pins_of "$HY")"
check down-del-twice cni del y y

# ternd back with the pod's manifest: it adopts the links, traffic flows
pod_manifest_ips z default "$Z4" "$Z6"
ternd_start || exit 1
check up-adopted wait_until 5 adopted "$HZ"
check up-same-links test -n "$Z_LINKS" -a "$(link_ids "$HZ")" = "$Z_LINKS"
check up-one-program-each test "$(tcx_progs "$HZ")" = 2
check up-pod-out in_pod z ping -c 2 -i 0.2 -W 2 10.99.0.1
check up-pod-in in_ns "$UL_NS" ping -6 -c 2 -i 0.2 -W 2 "$Z6"

# --- ADD, adopt, traffic ---------------------------------------------------------
sandbox_add a
sandbox_add b
check add-a add_to_json a
check add-b add_to_json b
A4=$(addr_of a .) A6=$(addr_of a :) B4=$(addr_of b .) B6=$(addr_of b :)
log "a: $A4 $A6 on $HA; b: $B4 $B6 on $HB"
check result-names-host-side test "$(jq -r '.interfaces[0].name' "$WORK/a.json")" = "$HA"
check result-sandbox test "$(jq -r '.interfaces[1].sandbox' "$WORK/a.json")" = "/run/netns/$P-a"
check result-ips sh -c "[ -n '$A4' ] && [ -n '$A6' ] && [ '$A4' != '$B4' ]"

# the wiring is what pod_wire makes by hand
check pod-addr4 sh -c "ip -n $P-a -4 addr show eth0 | grep -q 'inet $A4/32'"
check pod-addr6 sh -c "ip -n $P-a -6 addr show eth0 | grep -q 'inet6 $A6/128'"
check pod-default4 sh -c "ip -n $P-a route show default | grep -q 'via 169.254.1.1 dev eth0'"
check pod-default6 sh -c "ip -n $P-a -6 route show default | grep -q 'via fe80::1 dev eth0'"
check node-route4 sh -c "ip -n $NODE_NS route show $A4/32 | grep -q 'dev $HA'"
check node-route6 sh -c "ip -n $NODE_NS -6 route show $A6/128 | grep -q 'dev $HA'"
check node-proxy-ndp sh -c "ip -n $NODE_NS -6 neigh show proxy dev $HA | grep -q fe80::1"
check host-no-address sh -c "! ip -n $NODE_NS addr show dev $HA | grep -q 'inet .*global'"
check host-proxy-arp test "$(in_node sysctl -n "net.ipv4.conf.$HA.proxy_arp")" = 1
# tern's programs are on before ternd knows the pod
check add-hooks-before-ternd test "$(tcx_list "$HA")" = "ingress tern_from_ep egress tern_to_ep "

pod_manifest_ips a default "$A4" "$A6"
pod_manifest_ips b default "$B4" "$B6"
adopted_ab() { adopted "$HA" && adopted "$HB"; }
check ternd-adopts wait_until 5 adopted_ab
check hooks-in-kernel test "$(tcx_progs "$HA")" = 2
check ping-v4 in_pod a ping -c 2 -i 0.2 -W 2 "$B4"
check ping-v6 in_pod a ping -6 -c 2 -i 0.2 -W 2 "$B6"
tcp_once() { # ADDR: one line through TCP from a to b
	in_pod b timeout 5 socat -u TCP6-LISTEN:8080,reuseaddr,ipv6only=0 "OPEN:$WORK/got,creat,trunc" &
	local srv=$!
	sleep 0.3
	echo "hello over $1" | in_pod a timeout 5 socat -u - "TCP:$1:8080" || { kill $srv; return 1; }
	wait $srv && grep -qF "hello over $1" "$WORK/got"
}
check tcp-v4 tcp_once "$B4"
check tcp-v6 tcp_once "[$B6]"
check to-outside in_pod a ping -c 1 -W 2 10.99.0.1

# --- CHECK -----------------------------------------------------------------------
check check-passes cni check a a
in_node sysctl -qw "net.ipv4.conf.$HA.proxy_arp=0"
ip -n "$P-a" -6 route del default
cni check a a >"$WORK/check.json"
check check-fails-code test "$(jq -r .code "$WORK/check.json")" = 103
check check-names-proxy-arp grep -q "conf/$HA/proxy_arp is 0, want 1" "$WORK/check.json"
check check-names-route grep -q "default route via fe80::1 dev eth0 in /run/netns/$P-a is missing" "$WORK/check.json"
in_node sysctl -qw "net.ipv4.conf.$HA.proxy_arp=1"
ip -n "$P-a" -6 route add default via fe80::1 dev eth0
check check-passes-again cni check a a

# --- DEL -------------------------------------------------------------------------
ipam_has() { test -e "$CNI_IPAM_DIR/tern/$1"; }
check ipam-holds-a ipam_has "$A4"
check del-a cni del a a
check del-veth-gone sh -c "! ip -n $NODE_NS link show $HA 2>/dev/null"
check del-pod-if-gone sh -c "! ip -n $P-a link show eth0 2>/dev/null"
check del-routes-gone sh -c "[ -z \"\$(ip -n $NODE_NS route show $A4/32; ip -n $NODE_NS -6 route show $A6/128)\" ]"
check del-ipam-released sh -c "! test -e $CNI_IPAM_DIR/tern/$A4 && ! test -e $CNI_IPAM_DIR/tern/$A6"
check del-unpinned test -z "$(pins_of "$HA")"
check del-twice cni del a a
check del-z cni del z z
check del-z-unpinned test -z "$(pins_of "$HZ")"
# the runtime removed the netns before DEL: the address is still released
ip netns del "$P-b"
check del-netns-gone cni del b b
check del-netns-gone-released sh -c "! test -e $CNI_IPAM_DIR/tern/$B4"
rm "$STATE/pod-default-a.yaml" "$STATE/pod-default-b.yaml" "$STATE/pod-default-z.yaml"

# --- a new sandbox for the same pod replaces the old one's veth --------------------
# (its DEL then removes only its own, already gone, end)
sandbox_add c1
sandbox_add c2
cni add c1 c >/dev/null
check resandbox-add cni add c2 c
check resandbox-new-peer sh -c "ip -n $P-c2 link show eth0 >/dev/null && ! ip -n $P-c1 link show eth0 2>/dev/null"
check resandbox-old-del cni del c1 c
check resandbox-new-intact sh -c "ip -n $NODE_NS link show $(wl_ifname default c) >/dev/null"
check resandbox-new-keeps-programs test "$(tcx_progs "$(wl_ifname default c)")" = 2
check resandbox-new-del cni del c2 c
check resandbox-unpinned test -z "$(pins_of "$(wl_ifname default c)")"

# --- errors a runtime sees ------------------------------------------------------------
# What a failed ADD must not leave: the veth, the pod's end, an address.
leftovers() { # SANDBOX POD
	ip -n "$NODE_NS" link show "$(wl_ifname default "$2")" >/dev/null 2>&1 && echo "host veth"
	ip -n "$P-$1" -d link show eth0 2>/dev/null | grep -q veth && echo "pod eth0"
	ls "$CNI_IPAM_DIR/tern" 2>/dev/null | grep -q '^[0-9a-f.:]*$' && echo "IPAM allocation"
}
# err_case NAME WANT_CODE CONFLIST_FILTER [SANDBOX]: ADD through libcni
# fails with WANT_CODE and leaves nothing behind; DEL after it succeeds.
err_case() {
	local name=$1 want=$2 filter=$3 sb=${4:-e}
	local conf="$CNI_NET_DIR/$name.conflist" got left
	cni_conflist "$conf" "$filter"
	[ -e "/run/netns/$P-$sb" ] || sandbox_add "$sb"
	cni add "$sb" "$sb" default "$conf" >"$WORK/err.json"
	got=$(jq -r .code "$WORK/err.json")
	left=$(leftovers "$sb" "$sb" | tr '\n' ' ')
	if [ "$got" = "$want" ] && [ -z "$left" ]; then
		ok "$name"
	else
		fail "$name" "code $got (want $want), left behind: ${left:-nothing}: $(cat "$WORK/err.json")"
	fi
	# the runtime always follows a failed ADD with DEL
	check "$name-del" cni del "$sb" "$sb" default "$conf"
}
err_case bad-mtu 7 '.plugins[0].mtu = "big"'
err_case unknown-key 2 '.plugins[0].mtuu = 1400'
err_case old-version 1 '.cniVersion = "0.4.0"'
err_case no-ipam-type 7 'del(.plugins[0].ipam.type)'
err_case missing-ipam-plugin 100 '.plugins[0].ipam.type = "tern-no-such-ipam"'
err_case bad-prefix 7 '.plugins[0].workloadInterfacePrefix = "toolong"'
err_case bad-pin-path 7 '.plugins[0].bpfPinPath = "sys/fs/bpf"'
# ternd never ran here: no programs to put on the pod, so no pod yet
err_case no-programs 11 ".plugins[0].bpfPinPath = \"/sys/fs/bpf/tern-$P-none\""
check no-programs-says-why grep -q "ternd has not run on this node yet" "$WORK/err.json"

# a failure after host-local allocated: no IPv6 in the pod, so its address
# cannot be added; the veth goes and the addresses are released
sandbox_add f
in_ns "$P-f" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
err_case fail-midway 101 . f
check fail-midway-names-step grep -q "add fd00:244::[0-9a-f]*/128 to eth0" "$WORK/err.json"
check fail-midway-unpinned test -z "$(pins_of "$(wl_ifname default f)")"

# CNI_IFNAME taken in the pod: nothing allocated, the interface untouched
sandbox_add g
ip -n "$P-g" link add eth0 type bridge
err_case ifname-exists 102 . g
check ifname-exists-untouched ip -n "$P-g" link show eth0

# the host-side name taken by something that is not a veth: left alone
sandbox_add h
ip -n "$NODE_NS" link add "$(wl_ifname default h)" type bridge
cni_conflist "$CNI_NET_DIR/h.conflist"
cni add h h default "$CNI_NET_DIR/h.conflist" >"$WORK/err.json"
check host-name-taken-code test "$(jq -r .code "$WORK/err.json")" = 102
check host-name-taken-untouched sh -c "ip -n $NODE_NS -d link show $(wl_ifname default h) | grep -q bridge"
check host-name-taken-no-ipam sh -c "! ls $CNI_IPAM_DIR/tern 2>/dev/null | grep -q '^[0-9a-f.:]*\$'"

# the raw protocol, without libcni: VERSION, and an error for a broken stdin
check version sh -c "echo '{\"cniVersion\":\"1.0.0\"}' | CNI_COMMAND=VERSION $B/tern-cni | jq -e '.supportedVersions == [\"1.0.0\"]'"
check decode-error sh -c "echo '{nope' | CNI_COMMAND=ADD $B/tern-cni | jq -e '.code == 6'"
check env-error sh -c "jq -c '.plugins[0] + {cniVersion, name}' $CNI_CONFLIST | CNI_COMMAND=ADD $B/tern-cni | jq -e '.code == 4 and (.details | contains(\"CNI_CONTAINERID\"))'"
check libcni-validate in_node env CNI_PATH="$CNI_PLUGIN_PATH" "$CNI_DRIVER" validate "$CNI_CONFLIST"
# raw PLUGIN_CONF ENV... | the error code: the plugin's config from the conflist, as libcni derives it
raw() {
	local conf=$1
	shift
	jq -c ".plugins[0] + {cniVersion, name} | $conf" "$CNI_CONFLIST" |
		env -i CNI_CONTAINERID=raw1 CNI_IFNAME=eth0 CNI_PATH="$CNI_PLUGIN_PATH" \
			CNI_ARGS="K8S_POD_NAMESPACE=default;K8S_POD_NAME=raw" "$@" "$B/tern-cni" | jq -r .code
}
check raw-add-no-netns test "$(raw . CNI_COMMAND=ADD)" = 4
check raw-add-bad-ifname test "$(raw . CNI_COMMAND=ADD CNI_NETNS=/x CNI_IFNAME=a/b)" = 4
check raw-add-prev-result test "$(raw '. + {prevResult: {}}' CNI_COMMAND=ADD CNI_NETNS=/x)" = 7
check raw-check-no-prev-result test "$(raw . CNI_COMMAND=CHECK CNI_NETNS=/proc/self/ns/net)" = 7
check raw-unknown-command test "$(raw . CNI_COMMAND=STATUS)" = 4
