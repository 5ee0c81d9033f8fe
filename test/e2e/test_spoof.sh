#!/bin/bash
# A pod sending from an address that is not its own is dropped and counted;
# its real address still works.
#
#  [a] eth0 (+ a stolen 10.244.1.3) == tern<a> -- [node: ternd] -- tern<b> == eth0 [b 10.244.1.3]
. "$(dirname "$0")/lib.sh"

node_up
pod_add a 2
pod_add b 3
pod_add c 4
ternd_start || exit 1
HA=$(wl_ifname default a)
wait_until 5 test -e "$PIN/links/tc-in/$HA"

# a claims b's address and another pod's v6 address as extra sources
ip -n "$P-a" addr add 10.244.1.3/32 dev eth0
ip -n "$P-a" -6 addr add fd00:244::3/128 dev eth0 nodad
before=$(counter drop_spoof "$HA")
check spoof-v4-dropped sh -c "! nsenter --net=/run/netns/$P-a -- ping -c 2 -i 0.2 -W 1 -I 10.244.1.3 $(pod_ip4 4)"
check spoof-v6-dropped sh -c "! nsenter --net=/run/netns/$P-a -- ping -6 -c 2 -i 0.2 -W 1 -I fd00:244::3 $(pod_ip6 4)"
after=$(counter drop_spoof "$HA")
check spoof-counted test "$after" -ge $((before + 4))
check own-address-works in_pod a ping -c 1 -W 2 -I "$(pod_ip4 2)" "$(pod_ip4 4)"
check own-address-works-v6 in_pod a ping -6 -c 1 -W 2 -I "$(pod_ip6 2)" "$(pod_ip6 4)"
