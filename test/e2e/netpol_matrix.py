#!/usr/bin/env python3
"""Reachability of the network policy e2e topology (netpol_lib.sh): every
pod of namespaces x, y, z probes every pod (a, b, c of each) on one port and
protocol, over IPv4 and IPv6, all at once (np_probe matrix); the observed
9x9 matrix is compared with the expected one, retried while they differ
(the agent takes a moment to apply a change), and on failure printed with
the differences marked.

The expected matrix is a small language, statements applied in order:
  all | none             everything reachable | nothing
  SRC>DST=1|0            e.g. "*>x/*=0", "x/a>*=0", "y/b>x/a=1"
SRC and DST are NS/POD with "*" for any part. A pod always reaches itself
(loopback never crosses tern)."""
import argparse
import subprocess
import sys
import time

NSS = ["x", "y", "z"]
PODS = ["a", "b", "c"]
ALL = [(ns, p) for ns in NSS for p in PODS]


def index(ns, pod):
    return 10 * (NSS.index(ns) + 1) + PODS.index(pod) + 1


def addr(ns, pod, family):
    n = index(ns, pod)
    return f"10.244.1.{n}" if family == 4 else f"fd00:244::{n}"


def matches(pattern, ns, pod):
    if pattern == "*":
        return True
    pns, ppod = pattern.split("/")
    return pns in ("*", ns) and ppod in ("*", pod)


def expected(spec):
    want = {(s, d): True for s in ALL for d in ALL}
    for stmt in spec.replace(";", " ").split():
        if stmt in ("all", "none"):
            for k in want:
                want[k] = stmt == "all"
            continue
        lhs, value = stmt.split("=")
        src, dst = lhs.split(">")
        for s in ALL:
            for d in ALL:
                if matches(src, *s) and matches(dst, *d):
                    want[(s, d)] = value == "1"
    for s in ALL:
        want[(s, s)] = True
    return want


def probe_round(args):
    lines, keys = [], []
    for fam in (4, 6):
        for s in ALL:
            for d in ALL:
                netns = f"/run/netns/{args.prefix}-{s[0]}-{s[1]}"
                lines.append(f"{netns} {addr(*d, fam)} {args.port} {args.proto}")
                keys.append((fam, s, d))
    out = subprocess.run([args.probe, "matrix", str(args.timeout_ms)], input="\n".join(lines),
                         capture_output=True, text=True, check=True).stdout.split()
    got = {}
    for k, v in zip(keys, out):
        got[k] = v == "1"
    return got


def table(fam, want, got):
    name = lambda p: f"{p[0]}/{p[1]}"
    rows = [f"  IPv{fam} {args.proto.upper()}/{args.port}: rows from, columns to; "
            "1 reached, 0 not, * where observed differs from expected"]
    rows.append("        " + " ".join(f"{name(d):>4}" for d in ALL))
    for s in ALL:
        cells = []
        for d in ALL:
            g = got[(fam, s, d)]
            mark = "*" if g != want[(s, d)] else " "
            cells.append(f"  {int(g)}{mark}")
        rows.append(f"  {name(s):>5} " + " ".join(cells))
    return "\n".join(rows)


def main():
    global args
    ap = argparse.ArgumentParser()
    ap.add_argument("--probe", required=True)
    ap.add_argument("--prefix", required=True)
    ap.add_argument("--port", type=int, default=80)
    ap.add_argument("--proto", default="tcp")
    ap.add_argument("--timeout-ms", type=int, default=800)
    ap.add_argument("--tries", type=int, default=8)
    ap.add_argument("spec")
    args = ap.parse_args()
    want = expected(args.spec)
    for attempt in range(1, args.tries + 1):
        got = probe_round(args)
        bad = [k for k in got if got[k] != want[(k[1], k[2])]]
        if not bad:
            print(f"matrix {args.proto}/{args.port} as expected (round {attempt})")
            return 0
        time.sleep(0.2)
    print(f"matrix {args.proto}/{args.port}: {len(bad)} of {len(got)} probes differ "
          f"after {args.tries} rounds")
    for fam in (4, 6):
        if any(k[0] == fam for k in bad):
            print(table(fam, want, got))
    return 1


if __name__ == "__main__":
    sys.exit(main())
