#!/usr/bin/env python3
"""One set of N ClusterIP services x E endpoints, written three ways for the
services benchmark (test/bench/services.sh, docs/bench.md):

  tern       Service and EndpointSlice manifests for the files datastore:
             the N-1 other services (tern-bench: the measured one alone)
  iptables   an iptables-restore file as kube-proxy's iptables mode writes it
  nft        an `nft -f` file as kube-proxy's nftables mode writes it

and the change of one endpoint of the measured service, as each writes it:

  iptables-change-full     the whole rule set again, one endpoint replaced
  iptables-change-partial  what kube-proxy >= 1.28 restores on an endpoint
                           change: the top-level chains in full, and only the
                           changed service's chains (the old endpoint chain -X)
  nft-change               kube-proxy's nftables transaction: the new endpoint
                           chain, the service chain rewritten, the old one deleted
  tern-change              the measured service's EndpointSlice, replaced

Usage: kp_rules.py MODE N E [OUT]   (OUT: a file, default stdout)

Service 0 is the measured one, ClusterIP 10.96.0.10:80 -> the real backends
10.244.1.11..10+E :8080; it sits in the middle of KUBE-SERVICES (kube-proxy
writes services in Go map order, so a service's expected place is the
middle). The others get ClusterIPs in 10.100.0.0/16 - 10.111.0.0/16 and fake
endpoints in 172.16.0.0/12, never contacted. The endpoint change replaces
the measured service's last backend with 10.244.1.(11+E)."""
import base64
import hashlib
import sys

CLUSTER_CIDR = "10.244.0.0/16"
SERVICE_CIDR = "10.96.0.0/12"
MEASURED_VIP = "10.96.0.10"


def svc(i, e, changed=False):
    """(namespace, name, vip, [endpoint ips]) of service i."""
    if i == 0:
        eps = ["10.244.1.%d" % (11 + j) for j in range(e)]
        if changed:
            eps[-1] = "10.244.1.%d" % (11 + e)
        return "default", "bench", MEASURED_VIP, eps
    vip = "10.%d.%d.%d" % (100 + (i >> 16), (i >> 8) & 255, i & 255)
    eps = []
    for j in range(e):
        k = i * e + j
        eps.append("172.%d.%d.%d" % (16 + (k >> 16), (k >> 8) & 255, k & 255))
    return "default", "svc-%d" % i, vip, eps


def order(n):
    """Service indexes in KUBE-SERVICES order: the measured one in the middle."""
    rest = list(range(1, n))
    return rest[: len(rest) // 2] + [0] + rest[len(rest) // 2:]


def h(s, n):
    return base64.b32encode(hashlib.sha256(s.encode()).digest()).decode()[:n]


# --- iptables (pkg/proxy/iptables/proxier.go) ---------------------------------

def ipt_names(ns, name):
    spn = "%s/%s:http" % (ns, name)
    return spn, "KUBE-SVC-" + h(spn + "tcp", 16)


def sep_name(spn, ep):
    return "KUBE-SEP-" + h(spn + "tcp" + "%s:8080" % ep, 16)


def ipt_service_rules(ns, name, vip, eps):
    """(chain names, rule lines) of one service's KUBE-SVC and KUBE-SEP chains."""
    spn, svc_chain = ipt_names(ns, name)
    chains, rules = [svc_chain], []
    c = '-m comment --comment "%s cluster IP"' % spn
    rules.append("-A %s %s -m tcp -p tcp -d %s/32 --dport 80 ! -s %s -j KUBE-MARK-MASQ"
                 % (svc_chain, c, vip, CLUSTER_CIDR))
    n = len(eps)
    for j, ep in enumerate(eps):
        sep = sep_name(spn, ep)
        chains.append(sep)
        comment = '-m comment --comment "%s -> %s:8080"' % (spn, ep)
        if j < n - 1:
            rules.append("-A %s %s -m statistic --mode random --probability %.10f -j %s"
                         % (svc_chain, comment, 1.0 / (n - j), sep))
        else:
            rules.append("-A %s %s -j %s" % (svc_chain, comment, sep))
    for ep in eps:
        sep = sep_name(spn, ep)
        rules.append('-A %s -m comment --comment %s -s %s/32 -j KUBE-MARK-MASQ' % (sep, spn, ep))
        rules.append('-A %s -m comment --comment %s -m tcp -p tcp -j DNAT --to-destination %s:8080'
                     % (sep, spn, ep))
    return chains, rules


def ipt_services_line(ns, name, vip):
    spn, svc_chain = ipt_names(ns, name)
    return ('-A KUBE-SERVICES -m comment --comment "%s cluster IP" -m tcp -p tcp -d %s/32 '
            '--dport 80 -j %s' % (spn, vip, svc_chain))


FILTER = """*filter
:KUBE-NODEPORTS - [0:0]
:KUBE-SERVICES - [0:0]
:KUBE-EXTERNAL-SERVICES - [0:0]
:KUBE-FIREWALL - [0:0]
:KUBE-FORWARD - [0:0]
:KUBE-PROXY-FIREWALL - [0:0]
-A KUBE-FIREWALL -m comment --comment "block incoming localnet connections" -d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP
-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
COMMIT
"""

NAT_TOP_CHAINS = """:KUBE-NODEPORTS - [0:0]
:KUBE-SERVICES - [0:0]
:KUBE-MARK-MASQ - [0:0]
:KUBE-POSTROUTING - [0:0]
"""
NAT_TOP_RULES = """-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN
-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000
-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully
-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000
"""
NODEPORTS_LAST = ('-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: '
                  'this must be the last rule in this chain" -m addrtype --dst-type LOCAL '
                  '-j KUBE-NODEPORTS')

# The jumps from the built-in chains, which kube-proxy adds with `iptables -I`
# once (not part of its restores).
IPT_JUMPS = """*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:KUBE-NODEPORTS - [0:0]
:KUBE-SERVICES - [0:0]
:KUBE-EXTERNAL-SERVICES - [0:0]
:KUBE-FIREWALL - [0:0]
:KUBE-FORWARD - [0:0]
:KUBE-PROXY-FIREWALL - [0:0]
-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL
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
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:KUBE-SERVICES - [0:0]
:KUBE-POSTROUTING - [0:0]
-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING
COMMIT
"""


def iptables(n, e, changed=False, partial=False):
    out = [FILTER, "*nat\n", NAT_TOP_CHAINS]
    chains, rules, tops = [], [], []
    for i in order(n):
        ns, name, vip, eps = svc(i, e, changed and i == 0)
        tops.append(ipt_services_line(ns, name, vip))
        if partial and i != 0:
            continue  # unchanged: kube-proxy leaves its chains alone
        c, r = ipt_service_rules(ns, name, vip, eps)
        chains += c
        rules += r
    # a stale chain is flushed (declared) and then deleted, as kube-proxy does
    stale = []
    if changed:
        ns, name, vip, eps = svc(0, e)
        stale = [sep_name(ipt_names(ns, name)[0], eps[-1])]
    out += [":%s - [0:0]\n" % c for c in chains + stale]
    out.append(NAT_TOP_RULES)
    out.append("\n".join(tops) + "\n" + NODEPORTS_LAST + "\n")
    out.append("\n".join(rules) + "\n")
    out += ["-X %s\n" % c for c in stale]
    out.append("COMMIT\n")
    return "".join(out)


# --- nftables (pkg/proxy/nftables/proxier.go) -----------------------------------

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


def nft_svc_chain(ns, name):
    base = "%s/%s/tcp/http" % (ns, name)
    return "service-%s-%s" % (h(base, 8), base)


def nft_ep_chain(ns, name, ep):
    base = "%s/%s/tcp/http__%s/8080" % (ns, name, ep)
    return "endpoint-%s-%s" % (h(base, 8), base)


def nft_service(ns, name, vip, eps, out):
    sc = nft_svc_chain(ns, name)
    eps_chains = [nft_ep_chain(ns, name, ep) for ep in eps]
    for ep, c in zip(eps, eps_chains):
        out.append("add chain ip kube-proxy %s\n" % c)
        out.append("flush chain ip kube-proxy %s\n" % c)
        out.append("add rule ip kube-proxy %s ip saddr %s jump mark-for-masquerade\n" % (c, ep))
        out.append("add rule ip kube-proxy %s meta l4proto tcp dnat to %s:8080\n" % (c, ep))
    out.append("add chain ip kube-proxy %s\n" % sc)
    out.append("flush chain ip kube-proxy %s\n" % sc)
    out.append("add rule ip kube-proxy %s ip daddr %s tcp dport 80 ip saddr != %s "
               "jump mark-for-masquerade\n" % (sc, vip, CLUSTER_CIDR))
    vm = " , ".join("%d : goto %s" % (j, c) for j, c in enumerate(eps_chains))
    out.append("add rule ip kube-proxy %s numgen random mod %d vmap { %s }\n"
               % (sc, len(eps), vm))


def nft(n, e):
    out = [NFT_BASE]
    for i in range(n):
        ns, name, vip, eps = svc(i, e)
        nft_service(ns, name, vip, eps, out)
        out.append("add element ip kube-proxy cluster-ips { %s }\n" % vip)
        out.append("add element ip kube-proxy service-ips { %s . tcp . 80 : goto %s }\n"
                   % (vip, nft_svc_chain(ns, name)))
    return "".join(out)


def nft_change(e):
    out = []
    ns, name, vip, eps = svc(0, e, changed=True)
    nft_service(ns, name, vip, eps, out)
    old = svc(0, e)[3][-1]
    out.append("delete chain ip kube-proxy %s\n" % nft_ep_chain(ns, name, old))
    return "".join(out)


# --- tern: manifests for the files datastore -------------------------------------

def tern_service(ns, name, vip):
    return ("apiVersion: v1\nkind: Service\nmetadata:\n  name: %s\n  namespace: %s\n"
            "spec:\n  clusterIP: %s\n  ports:\n  - name: http\n    port: 80\n"
            "    targetPort: 8080\n" % (name, ns, vip))


def tern_slice(ns, name, eps):
    s = ("apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: %s-1\n"
         "  namespace: %s\n  labels:\n    kubernetes.io/service-name: %s\naddressType: IPv4\n"
         "ports:\n- name: http\n  port: 8080\n  protocol: TCP\nendpoints:\n" % (name, ns, name))
    for ep in eps:
        s += ("- addresses: [\"%s\"]\n  nodeName: node-1\n  conditions:\n    ready: true\n"
              % ep)
    return s


def tern(n, e, first=1):
    docs = []
    for i in range(first, n):
        ns, name, vip, eps = svc(i, e)
        docs.append(tern_service(ns, name, vip))
        docs.append(tern_slice(ns, name, eps))
    return "---\n".join(docs)


def main():
    mode, n, e = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    text = {
        "tern": lambda: tern(n, e),
        "tern-bench": lambda: tern(1, e, first=0),
        "tern-change": lambda: tern_slice(*[svc(0, e, True)[k] for k in (0, 1, 3)]),
        "iptables-jumps": lambda: IPT_JUMPS,
        "iptables": lambda: iptables(n, e),
        "iptables-change-full": lambda: iptables(n, e, changed=True),
        "iptables-change-partial": lambda: iptables(n, e, changed=True, partial=True),
        "nft": lambda: nft(n, e),
        "nft-change": lambda: nft_change(e),
    }[mode]()
    if len(sys.argv) > 4:
        with open(sys.argv[4], "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
