#!/usr/bin/env python3
"""One set of N ClusterIP services x E endpoints, written the three ways the
services benchmark loads them (test/bench/services.sh, docs/bench.md):

  tern          Service and EndpointSlice manifests for tern's files
                datastore: the N-1 other services (tern-bench-svc and
                tern-bench-eps: the measured Service and its EndpointSlice,
                in files of their own so that the slice can change alone)
  iptables      a complete iptables-restore file (nat and filter tables, with
                the jumps from the built-in chains) as kube-proxy's iptables
                mode leaves them
  iptables-kp   only kube-proxy's own chains, which is what kube-proxy feeds
                `iptables-restore --noflush` (the jumps: iptables-jumps)
  nft           an `nft -f` file as kube-proxy's nftables mode writes it: one
                transaction; with PARTS, OUT.1 .. OUT.PARTS, one transaction
                each (the first with the table and its base chains)

and one endpoint of the measured service replaced, as each writes that:

  tern-change              the measured service's EndpointSlice, changed
                           (back: tern-bench-eps)
  iptables-change-partial  what kube-proxy >= 1.28 restores (--noflush) for an
                           endpoint change: the top-level chains in full, only
                           the changed service's chains, the stale chain
                           flushed and deleted
  iptables-change-full     the complete tables again, with the change
  nft-change               kube-proxy's nftables transaction: the new endpoint
                           chain, the service chains rewritten, the old
                           endpoint chain deleted
  *-revert                 the same, back to the original endpoints
                           (iptables-*-revert, nft-revert)

Usage: kp_rules.py MODE N E OUT [PARTS]

Service 0 is the measured one: ClusterIP 10.96.0.10, port 80 -> 8080
(requests) and 81 -> 8081 (bulk), backends 10.244.1.11 .. 10.244.1.(10+E);
the change replaces the last backend with 10.244.1.(11+E). In KUBE-SERVICES it
sits in the middle: kube-proxy writes services in Go map order, so that is a
service's expected place. The others have one port (80 -> 8080), ClusterIPs
from 10.100.0.0/16 on and fake endpoints in 172.16.0.0/12, never contacted."""
import base64
import hashlib
import sys

CLUSTER_CIDR = "10.244.0.0/16"
SERVICE_CIDR = "10.96.0.0/12"
MEASURED_VIP = "10.96.0.10"
MEASURED_PORTS = [("http", 80, 8080), ("bulk", 81, 8081)]
OTHER_PORTS = [("http", 80, 8080)]


def svc(i, e, changed=False):
    """(namespace, name, vip, ports, endpoint ips) of service i."""
    if i == 0:
        eps = ["10.244.1.%d" % (11 + j) for j in range(e)]
        if changed:
            eps[-1] = "10.244.1.%d" % (11 + e)
        return "default", "bench", MEASURED_VIP, MEASURED_PORTS, eps
    vip = "10.%d.%d.%d" % (100 + (i >> 16), (i >> 8) & 255, i & 255)
    eps = []
    for j in range(e):
        k = i * e + j
        eps.append("172.%d.%d.%d" % (16 + (k >> 16), (k >> 8) & 255, k & 255))
    return "default", "svc-%d" % i, vip, OTHER_PORTS, eps


def order(n):
    """Service indexes in KUBE-SERVICES order: the measured one in the middle."""
    rest = list(range(1, n))
    return rest[: len(rest) // 2] + [0] + rest[len(rest) // 2:]


def h(s, n):
    return base64.b32encode(hashlib.sha256(s.encode()).digest()).decode()[:n]


# --- iptables (kube-proxy pkg/proxy/iptables/proxier.go) -------------------------

def spn_of(ns, name, pname):
    return "%s/%s:%s" % (ns, name, pname)


def svc_chain(spn):
    return "KUBE-SVC-" + h(spn + "tcp", 16)


def sep_chain(spn, ep, tport):
    return "KUBE-SEP-" + h(spn + "tcp" + "%s:%d" % (ep, tport), 16)


def ipt_port_rules(spn, vip, port, tport, eps):
    """(chains, rules) of one service port: KUBE-SVC with the statistic
    rules, a KUBE-SEP per endpoint with the DNAT."""
    sc = svc_chain(spn)
    chains, rules = [sc], []
    rules.append('-A %s -m comment --comment "%s cluster IP" -m tcp -p tcp -d %s/32 '
                 '--dport %d ! -s %s -j KUBE-MARK-MASQ' % (sc, spn, vip, port, CLUSTER_CIDR))
    n = len(eps)
    for j, ep in enumerate(eps):
        sep = sep_chain(spn, ep, tport)
        chains.append(sep)
        c = '-m comment --comment "%s -> %s:%d"' % (spn, ep, tport)
        if j < n - 1:
            rules.append("-A %s %s -m statistic --mode random --probability %.11f -j %s"
                         % (sc, c, 1.0 / (n - j), sep))
        else:
            rules.append("-A %s %s -j %s" % (sc, c, sep))
    for ep in eps:
        sep = sep_chain(spn, ep, tport)
        rules.append("-A %s -m comment --comment %s -s %s/32 -j KUBE-MARK-MASQ" % (sep, spn, ep))
        rules.append("-A %s -m comment --comment %s -m tcp -p tcp -j DNAT --to-destination %s:%d"
                     % (sep, spn, ep, tport))
    return chains, rules


FILTER_KP_CHAINS = """:KUBE-NODEPORTS - [0:0]
:KUBE-SERVICES - [0:0]
:KUBE-EXTERNAL-SERVICES - [0:0]
:KUBE-FIREWALL - [0:0]
:KUBE-FORWARD - [0:0]
:KUBE-PROXY-FIREWALL - [0:0]
"""
FILTER_KP_RULES = """-A KUBE-FIREWALL -m comment --comment "block incoming localnet connections" -d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP
-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
"""
NAT_KP_CHAINS = """:KUBE-NODEPORTS - [0:0]
:KUBE-SERVICES - [0:0]
:KUBE-MARK-MASQ - [0:0]
:KUBE-POSTROUTING - [0:0]
"""
NAT_KP_RULES = """-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN
-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000
-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully
-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000
"""
NODEPORTS_LAST = ('-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: '
                  'this must be the last rule in this chain" -m addrtype --dst-type LOCAL '
                  '-j KUBE-NODEPORTS\n')
# The built-in chains and their jumps into kube-proxy's (kube-proxy adds
# these once with `iptables -I`; they are not part of its restores).
FILTER_BUILTIN = """:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
"""
FILTER_JUMPS = """-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL
-A INPUT -m comment --comment "kubernetes health check service ports" -j KUBE-NODEPORTS
-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES
-A INPUT -j KUBE-FIREWALL
-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL
-A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD
-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES
-A OUTPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL
-A OUTPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A OUTPUT -j KUBE-FIREWALL
"""
NAT_BUILTIN = """:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
"""
NAT_JUMPS = """-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING
"""


def iptables(n, e, jumps=True, kp=True, changed=False, revert=False, partial=False):
    """jumps: the built-in chains' jumps; kp: kube-proxy's chains. changed:
    the measured service with its endpoint replaced; revert: changed back
    (the stale chain is then the replacement's); partial: only the measured
    service's chains."""
    nat_chains, nat_rules, tops, stale = [], [], [], []
    if kp:
        for i in order(n):
            ns, name, vip, ports, eps = svc(i, e, changed and i == 0)
            for pname, port, tport in ports:
                spn = spn_of(ns, name, pname)
                tops.append('-A KUBE-SERVICES -m comment --comment "%s cluster IP" -m tcp -p tcp '
                            '-d %s/32 --dport %d -j %s\n' % (spn, vip, port, svc_chain(spn)))
                if partial and i != 0:
                    continue  # unchanged: kube-proxy leaves its chains alone
                c, r = ipt_port_rules(spn, vip, port, tport, eps)
                nat_chains += c
                nat_rules += r
                if i == 0 and (changed or revert):
                    # flushed (declared) and deleted, as kube-proxy removes a stale chain
                    old = svc(0, e, not changed)[4][-1]
                    stale.append(sep_chain(spn, old, tport))
    # per table: chains declared, then rules
    out = ["*filter\n"]
    if jumps:
        out.append(FILTER_BUILTIN)
    out.append(FILTER_KP_CHAINS)
    if jumps:
        out.append(FILTER_JUMPS)
    if kp:
        out.append(FILTER_KP_RULES)
    out.append("COMMIT\n*nat\n")
    if jumps:
        out.append(NAT_BUILTIN)
    out.append(NAT_KP_CHAINS)
    out += [":%s - [0:0]\n" % c for c in nat_chains + stale]
    if jumps:
        out.append(NAT_JUMPS)
    if kp:
        out.append(NAT_KP_RULES)
        out += tops
        out.append(NODEPORTS_LAST)
        out += [r + "\n" for r in nat_rules]
        out += ["-X %s\n" % c for c in stale]
    out.append("COMMIT\n")
    return "".join(out)


# --- nftables (kube-proxy pkg/proxy/nftables/proxier.go) ---------------------------

NFT_BASE = """add table ip kube-proxy { comment "rules for kube-proxy" ; }
add chain ip kube-proxy filter-prerouting { type filter hook prerouting priority -110 ; }
add chain ip kube-proxy filter-forward { type filter hook forward priority -110 ; }
add chain ip kube-proxy filter-input { type filter hook input priority -110 ; }
add chain ip kube-proxy filter-output { type filter hook output priority -110 ; }
add chain ip kube-proxy filter-output-post-dnat { type filter hook output priority -90 ; }
add chain ip kube-proxy nat-output { type nat hook output priority -100 ; }
add chain ip kube-proxy nat-postrouting { type nat hook postrouting priority 100 ; }
add chain ip kube-proxy nat-prerouting { type nat hook prerouting priority -100 ; }
add chain ip kube-proxy cluster-ips-check
add chain ip kube-proxy firewall-check
add chain ip kube-proxy mark-for-masquerade
add chain ip kube-proxy masquerading
add chain ip kube-proxy nodeport-endpoints-check
add chain ip kube-proxy service-endpoints-check
add chain ip kube-proxy services
add set ip kube-proxy cluster-ips { type ipv4_addr ; comment "Active ClusterIPs" ; }
add set ip kube-proxy nodeport-ips { type ipv4_addr ; comment "IPs that accept NodePort traffic" ; }
add map ip kube-proxy firewall-ips { type ipv4_addr . inet_proto . inet_service : verdict ; comment "destinations that are subject to LoadBalancerSourceRanges" ; }
add map ip kube-proxy no-endpoint-nodeports { type inet_proto . inet_service : verdict ; comment "vmap to drop or reject packets to service nodeports with no endpoints" ; }
add map ip kube-proxy no-endpoint-services { type ipv4_addr . inet_proto . inet_service : verdict ; comment "vmap to drop or reject packets to services with no endpoints" ; }
add map ip kube-proxy service-ips { type ipv4_addr . inet_proto . inet_service : verdict ; comment "ClusterIP, ExternalIP and LoadBalancer IP traffic" ; }
add map ip kube-proxy service-nodeports { type inet_proto . inet_service : verdict ; comment "NodePort traffic" ; }
add rule ip kube-proxy filter-prerouting ct state new jump firewall-check
add rule ip kube-proxy filter-forward ct state new jump service-endpoints-check
add rule ip kube-proxy filter-forward ct state new jump cluster-ips-check
add rule ip kube-proxy filter-input ct state new jump nodeport-endpoints-check
add rule ip kube-proxy filter-input ct state new jump service-endpoints-check
add rule ip kube-proxy filter-output ct state new jump service-endpoints-check
add rule ip kube-proxy filter-output ct state new jump firewall-check
add rule ip kube-proxy filter-output-post-dnat ct state new jump cluster-ips-check
add rule ip kube-proxy nat-output jump services
add rule ip kube-proxy nat-postrouting jump masquerading
add rule ip kube-proxy nat-prerouting jump services
add rule ip kube-proxy cluster-ips-check ip daddr @cluster-ips reject comment "Reject traffic to invalid ports of ClusterIPs"
add rule ip kube-proxy cluster-ips-check ip daddr { %s } drop comment "Drop traffic to unallocated ClusterIPs"
add rule ip kube-proxy firewall-check ip daddr . meta l4proto . th dport vmap @firewall-ips
add rule ip kube-proxy mark-for-masquerade mark set mark or 0x4000
add rule ip kube-proxy masquerading mark and 0x4000 == 0 return
add rule ip kube-proxy masquerading mark set mark xor 0x4000
add rule ip kube-proxy masquerading masquerade fully-random
add rule ip kube-proxy nodeport-endpoints-check ip daddr @nodeport-ips meta l4proto . th dport vmap @no-endpoint-nodeports
add rule ip kube-proxy service-endpoints-check ip daddr . meta l4proto . th dport vmap @no-endpoint-services
add rule ip kube-proxy services ip daddr . meta l4proto . th dport vmap @service-ips
add rule ip kube-proxy services ip daddr @nodeport-ips meta l4proto . th dport vmap @service-nodeports
""" % SERVICE_CIDR


def nft_svc_chain(ns, name, pname):
    base = "%s/%s/tcp/%s" % (ns, name, pname)
    return "service-%s-%s" % (h(base, 8), base)


def nft_ep_chain(ns, name, pname, ep, tport):
    base = "%s/%s/tcp/%s__%s/%d" % (ns, name, pname, ep, tport)
    return "endpoint-%s-%s" % (h(base, 8), base)


def nft_port(ns, name, vip, pname, port, tport, eps, out):
    sc = nft_svc_chain(ns, name, pname)
    ecs = [nft_ep_chain(ns, name, pname, ep, tport) for ep in eps]
    for ep, c in zip(eps, ecs):
        out.append("add chain ip kube-proxy %s\n" % c)
        out.append("flush chain ip kube-proxy %s\n" % c)
        out.append("add rule ip kube-proxy %s ip saddr %s jump mark-for-masquerade\n" % (c, ep))
        out.append("add rule ip kube-proxy %s meta l4proto tcp dnat to %s:%d\n" % (c, ep, tport))
    out.append("add chain ip kube-proxy %s\n" % sc)
    out.append("flush chain ip kube-proxy %s\n" % sc)
    out.append("add rule ip kube-proxy %s ip daddr %s tcp dport %d ip saddr != %s "
               "jump mark-for-masquerade\n" % (sc, vip, port, CLUSTER_CIDR))
    vm = " , ".join("%d : goto %s" % (j, c) for j, c in enumerate(ecs))
    out.append("add rule ip kube-proxy %s numgen random mod %d vmap { %s }\n"
               % (sc, len(eps), vm))


def nft(n, e, first=0, base=True):
    out = [NFT_BASE] if base else []
    for i in range(first, n):
        ns, name, vip, ports, eps = svc(i, e)
        for pname, port, tport in ports:
            nft_port(ns, name, vip, pname, port, tport, eps, out)
            out.append("add element ip kube-proxy service-ips { %s . tcp . %d : goto %s }\n"
                       % (vip, port, nft_svc_chain(ns, name, pname)))
        out.append("add element ip kube-proxy cluster-ips { %s }\n" % vip)
    return "".join(out)


def nft_change(e, changed):
    out = []
    ns, name, vip, ports, eps = svc(0, e, changed)
    old = svc(0, e, not changed)[4][-1]
    for pname, port, tport in ports:
        nft_port(ns, name, vip, pname, port, tport, eps, out)
        out.append("delete chain ip kube-proxy %s\n" % nft_ep_chain(ns, name, pname, old, tport))
    return "".join(out)


# --- tern: manifests for the files datastore ---------------------------------------

def tern_service(ns, name, vip, ports):
    s = ("apiVersion: v1\nkind: Service\nmetadata:\n  name: %s\n  namespace: %s\n"
         "spec:\n  clusterIP: %s\n  ports:\n" % (name, ns, vip))
    for pname, port, tport in ports:
        s += "  - name: %s\n    port: %d\n    targetPort: %d\n" % (pname, port, tport)
    return s


def tern_slice(ns, name, ports, eps):
    s = ("apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: %s-1\n"
         "  namespace: %s\n  labels:\n    kubernetes.io/service-name: %s\naddressType: IPv4\n"
         "ports:\n" % (name, ns, name))
    for pname, port, tport in ports:
        s += "- name: %s\n  port: %d\n  protocol: TCP\n" % (pname, tport)
    s += "endpoints:\n"
    for ep in eps:
        s += "- addresses: [\"%s\"]\n  nodeName: node-1\n  conditions:\n    ready: true\n" % ep
    return s


def tern(n, e, first=1):
    docs = []
    for i in range(first, n):
        ns, name, vip, ports, eps = svc(i, e)
        docs.append(tern_service(ns, name, vip, ports))
        docs.append(tern_slice(ns, name, ports, eps))
    return "---\n".join(docs)


def tern_slice_of(e, changed):
    ns, name, vip, ports, eps = svc(0, e, changed)
    return tern_slice(ns, name, ports, eps)


def main():
    if len(sys.argv) < 5:
        sys.exit("usage: kp_rules.py MODE N E OUT [PARTS]")
    mode, n, e, path = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    parts = int(sys.argv[5]) if len(sys.argv) > 5 else 1
    if mode == "nft" and parts > 1:
        step = (n + parts - 1) // parts
        for p in range(parts):
            with open("%s.%d" % (path, p + 1), "w") as f:
                f.write(nft(min(n, (p + 1) * step), e, first=p * step, base=p == 0))
        return
    text = {
        "tern": lambda: tern(n, e),
        "tern-bench-svc": lambda: tern_service(*svc(0, e)[:4]),
        "tern-bench-eps": lambda: tern_slice_of(e, False),
        "tern-change": lambda: tern_slice_of(e, True),
        "iptables": lambda: iptables(n, e),
        "iptables-kp": lambda: iptables(n, e, jumps=False),
        "iptables-jumps": lambda: iptables(n, e, kp=False),
        "iptables-change-full": lambda: iptables(n, e, changed=True),
        "iptables-revert-full": lambda: iptables(n, e, revert=True),
        "iptables-change-partial": lambda: iptables(n, e, jumps=False, changed=True,
                                                    partial=True),
        "iptables-revert-partial": lambda: iptables(n, e, jumps=False, revert=True,
                                                    partial=True),
        "nft": lambda: nft(n, e),
        "nft-change": lambda: nft_change(e, True),
        "nft-revert": lambda: nft_change(e, False),
    }[mode]()
    with open(path, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
