#!/usr/bin/python3
"""deploy/ checked without a cluster, for test/e2e/test_deploy.sh.

  manifests.py check ROOT        prints "ok NAME" / "FAIL NAME: why" per check
  manifests.py get ROOT WHAT     prints one value the shell test needs:
      ternd-config | conflist | caps CONTAINER | probe liveness|readiness |
      env CONTAINER NAME | config-key KEY

The schema check validates every manifest against the Kubernetes API types
as Debian's python3-kubernetes generates them from the OpenAPI spec: unknown
fields (kubectl --validate=strict), value types, required fields. Debian's
python3 is used (/usr/bin/python3): that is where python3-kubernetes lives.
"""
import glob
import json
import os
import re
import subprocess
import sys

import yaml
from kubernetes.client import Configuration, models

ROOT = "."
RESULTS = []


def report(name, problems):
    RESULTS.append((name, problems))


def load_manifests():
    docs = []
    for path in sorted(glob.glob(os.path.join(ROOT, "deploy", "*.yaml"))):
        with open(path) as f:
            for doc in yaml.safe_load_all(f):
                if doc is not None:
                    docs.append((os.path.relpath(path, ROOT), doc))
    return docs


def find(docs, kind, name=None):
    got = [d for _, d in docs if d.get("kind") == kind and
           (name is None or d.get("metadata", {}).get("name") == name)]
    return got


# --- schema ------------------------------------------------------------------

PRIMITIVES = {
    "str": (str,), "int": (int,), "bool": (bool,), "float": (int, float),
    "datetime": (str,), "date": (str,),
}
STRICT = Configuration()
STRICT.client_side_validation = True


def model_class(api_version, kind):
    version = api_version.rpartition("/")[2]
    return getattr(models, version[:1].upper() + version[1:] + kind, None)


def validate(value, typ, path, errs):
    if value is None:
        return  # null keeps the default: required fields are checked below
    if typ in PRIMITIVES:
        ok = isinstance(value, PRIMITIVES[typ]) and not (typ == "int" and isinstance(value, bool))
        if not ok:
            errs.append(f"{path}: expected {typ}, got {type(value).__name__} {value!r}")
        return
    if typ == "object":  # IntOrString, Quantity, RawExtension
        return
    if typ.startswith("list["):
        if not isinstance(value, list):
            errs.append(f"{path}: expected a list")
            return
        for i, item in enumerate(value):
            validate(item, typ[5:-1], f"{path}[{i}]", errs)
        return
    if typ.startswith("dict("):
        if not isinstance(value, dict):
            errs.append(f"{path}: expected a map")
            return
        inner = typ[typ.index(",") + 1:-1].strip()
        for k, v in value.items():
            validate(v, inner, f"{path}.{k}", errs)
        return
    cls = getattr(models, typ, None)
    if cls is None:
        errs.append(f"{path}: no model {typ} in python3-kubernetes")
        return
    if not isinstance(value, dict):
        errs.append(f"{path}: expected an object ({typ})")
        return
    by_json = {j: p for p, j in cls.attribute_map.items()}
    for key in value:
        if key not in by_json:
            errs.append(f"{path}.{key}: unknown field in {typ}")
    # the generated setters reject a missing required field
    try:
        cls(local_vars_configuration=STRICT,
            **{by_json[k]: v for k, v in value.items() if k in by_json})
    except (ValueError, TypeError) as e:
        errs.append(f"{path}: {e}")
    for key, v in value.items():
        if key in by_json:
            validate(v, cls.openapi_types[by_json[key]], f"{path}.{key}", errs)


def check_schema(docs):
    for path, doc in docs:
        name = f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"
        cls = model_class(doc.get("apiVersion", ""), doc.get("kind", ""))
        errs = []
        if cls is None:
            errs.append(f"{path}: no API type for {doc.get('apiVersion')} {doc.get('kind')}")
        else:
            validate(doc, cls.__name__, name, errs)
        report(f"schema-{doc.get('kind', '?').lower()}-{doc.get('metadata', {}).get('name')}", errs)


# --- RBAC ----------------------------------------------------------------------

def datastore_resources():
    """(group, resource) for each kind ternd's kubernetes datastore lists and
    watches: the kinds[] table of agent/kube.c."""
    with open(os.path.join(ROOT, "agent", "kube.c")) as f:
        src = f.read()
    m = re.search(r"kinds\[\]\s*=\s*\{(.*?)\n\};", src, re.S)
    if not m:
        return None
    out = set()
    for res, api_version in re.findall(r'\{\s*K8S_\w+,\s*"(\w+)",\s*"([\w./]+)"', m.group(1)):
        group = api_version.rpartition("/")[0]
        out.add((group, res))
    return out


def check_rbac(docs):
    errs = []
    want = datastore_resources()
    if not want:
        report("rbac-matches-datastore", ["agent/kube.c: no kinds[] table to compare with"])
        return
    roles = find(docs, "ClusterRole")
    if len(roles) != 1 or find(docs, "Role"):
        errs.append(f"expected one ClusterRole and no Role, got {len(roles)} ClusterRoles")
    got = set()
    for role in roles:
        for rule in role.get("rules", []):
            for key in ("resourceNames", "nonResourceURLs"):
                if rule.get(key):
                    errs.append(f"rule {rule}: {key} is not used by ternd")
            for g in rule.get("apiGroups", []):
                for r in rule.get("resources", []):
                    for v in rule.get("verbs", []):
                        got.add((g, r, v))
    want_rules = {(g, r, v) for g, r in want for v in ("list", "watch")}
    for extra in sorted(got - want_rules):
        errs.append(f"grants {extra[2]} on {extra[0] or 'core'}/{extra[1]}, which ternd does not do")
    for missing in sorted(want_rules - got):
        errs.append(f"lacks {missing[2]} on {missing[0] or 'core'}/{missing[1]}, which ternd does")
    report("rbac-matches-datastore", errs)

    # install-cni reads the API too: only with what the role grants
    errs = []
    with open(os.path.join(ROOT, "deploy", "install-cni.sh")) as f:
        script = f.read()
    paths = re.findall(r'api_get\s+"(/api[^"?]*)', script)
    if not paths:
        errs.append("deploy/install-cni.sh: no api_get call found")
    for p in paths:
        m = re.fullmatch(r"/api/v1/(\w+)|/apis/([\w.]+)/v\w+/(\w+)", p)
        g, r = ("", m.group(1)) if m and m.group(1) else (m.group(2), m.group(3)) if m else (None, p)
        if (g, r, "list") not in got:
            errs.append(f"install-cni lists {p}, the ClusterRole does not grant list on it")
    report("rbac-covers-install-cni", errs)

    errs = []
    sas = find(docs, "ServiceAccount")
    bindings = find(docs, "ClusterRoleBinding")
    ds = find(docs, "DaemonSet")
    if len(sas) != 1 or len(bindings) != 1 or len(ds) != 1:
        errs.append("expected one ServiceAccount, ClusterRoleBinding and DaemonSet")
    else:
        sa, b, d = sas[0], bindings[0], ds[0]
        subj = {(s.get("kind"), s.get("name"), s.get("namespace")) for s in b.get("subjects", [])}
        if subj != {("ServiceAccount", sa["metadata"]["name"], sa["metadata"]["namespace"])}:
            errs.append(f"the binding's subjects {subj} are not just the ServiceAccount")
        if roles and b["roleRef"].get("name") != roles[0]["metadata"]["name"]:
            errs.append("the binding does not refer to the ClusterRole")
        spec = d["spec"]["template"]["spec"]
        if spec.get("serviceAccountName") != sa["metadata"]["name"] or \
           d["metadata"].get("namespace") != sa["metadata"].get("namespace"):
            errs.append("the DaemonSet does not run as the ServiceAccount")
        if spec.get("automountServiceAccountToken") is False:
            errs.append("the DaemonSet turns the service account token off")
    report("rbac-bound-to-daemonset", errs)


# --- the DaemonSet against the config ----------------------------------------------

def daemonset(docs):
    return find(docs, "DaemonSet")[0]["spec"]["template"]["spec"]


def container(docs, name):
    spec = daemonset(docs)
    for c in spec.get("initContainers", []) + spec.get("containers", []):
        if c["name"] == name:
            return c
    raise KeyError(f"no container {name} in the DaemonSet")


def configmap(docs):
    return find(docs, "ConfigMap", "tern-config")[0]


def ternd_config(docs):
    return yaml.safe_load(configmap(docs)["data"]["ternd.yaml"]) or {}


def conflist(docs):
    return json.loads(configmap(docs)["data"]["05-tern.conflist"])


def volume_of(docs, c, path):
    """The volume mounted at the mount holding path, and the mount."""
    spec = daemonset(docs)
    best = None
    for m in c.get("volumeMounts", []):
        mp = m["mountPath"].rstrip("/")
        if (path == mp or path.startswith(mp + "/")) and (not best or len(mp) > len(best["mountPath"])):
            best = m
    if not best:
        return None, None
    vol = next(v for v in spec["volumes"] if v["name"] == best["name"])
    return vol, best


def env_of(c, name):
    for e in c.get("env", []):
        if e["name"] == name:
            return e
    return None


def check_daemonset(docs):
    spec = daemonset(docs)
    cfg = ternd_config(docs)
    ternd = container(docs, "ternd")
    init = container(docs, "install-cni")

    errs = []
    if not spec.get("hostNetwork"):
        errs.append("hostNetwork is not true")
    if spec.get("priorityClassName") != "system-node-critical":
        errs.append("priorityClassName is not system-node-critical")
    effects = {t.get("effect") for t in spec.get("tolerations", [])
               if t.get("operator") == "Exists" and not t.get("key")}
    if not {"NoSchedule", "NoExecute"} <= effects:
        errs.append("does not tolerate every NoSchedule and NoExecute taint (a node is tainted "
                    "not-ready until its CNI runs)")
    if ternd.get("image") != init.get("image"):
        errs.append("the init container and ternd run different images")
    report("daemonset-node-network", errs)

    # the config file ternd is pointed at is the ConfigMap's key
    errs = []
    cmd = ternd.get("command", []) + ternd.get("args", [])
    if "--config" not in cmd:
        errs.append("ternd is not given --config")
    else:
        path = cmd[cmd.index("--config") + 1]
        vol, m = volume_of(docs, ternd, path)
        if not vol or vol.get("configMap", {}).get("name") != "tern-config" or \
           os.path.basename(path) not in configmap(docs)["data"]:
            errs.append(f"--config {path} is not a key of ConfigMap tern-config as mounted")
    report("daemonset-config-mounted", errs)

    # what the config names on the host is mounted from the host
    errs = []
    ds_type = (cfg.get("datastore") or {}).get("type")
    if ds_type != "kubernetes":
        errs.append(f"datastore.type is {ds_type}, not kubernetes")
    if "nodeName" in cfg:
        errs.append("nodeName is set in the config: every node would claim the same name")
    for c, who in ((ternd, "ternd"), (init, "install-cni")):
        e = env_of(c, "NODE_NAME")
        if not e or e.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") != "spec.nodeName":
            errs.append(f"{who}: NODE_NAME does not come from spec.nodeName")
    bpf = cfg.get("bpf") or {}
    for key, host in (("pinPath", "/sys/fs/bpf"), ("cgroupPath", "/sys/fs/cgroup")):
        val = bpf.get(key, {"pinPath": "/sys/fs/bpf/tern", "cgroupPath": "/sys/fs/cgroup"}[key])
        vol, m = volume_of(docs, ternd, val)
        if not vol or vol.get("hostPath", {}).get("path") != host:
            errs.append(f"bpf.{key} {val} is not on a mount of the host's {host}")
        elif key == "cgroupPath" and m["mountPath"].rstrip("/") != val.rstrip("/"):
            errs.append(f"bpf.cgroupPath {val} is not the mounted cgroup root itself")
    report("daemonset-mounts-match-config", errs)

    # kubelet probes what ternd serves
    errs = []
    addr = (cfg.get("health") or {}).get("address", "")
    m = re.fullmatch(r"(\[?[^\]]*\]?):(\d+)", addr or "")
    if not m:
        errs.append(f"health.address {addr!r}: ternd serves no health endpoints")
    else:
        host, port = m.group(1).strip("[]"), int(m.group(2))
        for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
            g = (ternd.get(probe) or {}).get("httpGet")
            if not g:
                errs.append(f"no {probe} httpGet")
                continue
            if g.get("path") != path or g.get("port") != port:
                errs.append(f"{probe} probes {g.get('path')} on {g.get('port')}, ternd serves "
                            f"{path} on {port}")
            # a probe without host goes to the pod IP (the node's address)
            if host not in ("", "0.0.0.0", "::") and g.get("host") != host:
                errs.append(f"{probe} goes to {g.get('host') or 'the node IP'}, ternd listens on {host}")
    report("daemonset-probes-match-health-address", errs)

    # the init container writes where the host's CNI dirs are mounted
    errs = []
    for var, host in (("CNI_BIN_DIR", "/opt/cni/bin"), ("CNI_NET_DIR", "/etc/cni/net.d")):
        e = env_of(init, var)
        vol, m = volume_of(docs, init, e["value"]) if e else (None, None)
        if not vol or vol.get("hostPath", {}).get("path") != host or m.get("readOnly"):
            errs.append(f"{var} is not a writable mount of the host's {host}")
    e = env_of(init, "CNI_CONFLIST_TEMPLATE")
    vol, m = volume_of(docs, init, e["value"]) if e else (None, None)
    if not vol or vol.get("configMap", {}).get("name") != "tern-config" or \
       os.path.basename(e["value"]) not in configmap(docs)["data"]:
        errs.append("CNI_CONFLIST_TEMPLATE is not the ConfigMap's conflist as mounted")
    report("daemonset-install-cni-mounts", errs)

    # tern-cni names interfaces as ternd looks for them
    errs = []
    plugins = [p for p in conflist(docs)["plugins"] if p.get("type") == "tern-cni"]
    if len(plugins) != 1:
        errs.append("the conflist has no single tern-cni plugin")
    else:
        cni_prefix = plugins[0].get("workloadInterfacePrefix", "tern")
        ternd_prefix = bpf.get("workloadInterfacePrefix", "tern")
        if cni_prefix != ternd_prefix:
            errs.append(f"tern-cni's prefix {cni_prefix!r} != ternd's {ternd_prefix!r}")
        # tern-cni runs on the host: ternd's pinPath as the host sees it
        cni_pin = plugins[0].get("bpfPinPath", "/sys/fs/bpf/tern").rstrip("/")
        pin = bpf.get("pinPath", "/sys/fs/bpf/tern").rstrip("/")
        vol, m = volume_of(docs, ternd, pin)
        host_pin = None
        if vol and "hostPath" in vol:
            host_pin = (vol["hostPath"]["path"].rstrip("/") + pin[len(m["mountPath"].rstrip("/")):])
        if cni_pin != host_pin:
            errs.append(f"tern-cni's bpfPinPath {cni_pin!r} is not ternd's pinPath {pin!r} on "
                        f"the host ({host_pin!r})")
        if plugins[0].get("ipam", {}).get("type") != "host-local":
            errs.append("the conflist's IPAM is not host-local, which the image ships")
    report("conflist-matches-ternd", errs)

    # capabilities: a closed list, no privilege escalation by other means
    errs = []
    for c in (ternd, init):
        sc = c.get("securityContext") or {}
        if sc.get("privileged"):
            errs.append(f"{c['name']} is privileged")
        if "ALL" not in (sc.get("capabilities") or {}).get("drop", []):
            errs.append(f"{c['name']} does not drop ALL capabilities before adding its own")
    report("daemonset-capabilities-closed", errs)


# --- Dockerfile ------------------------------------------------------------------

def dockerfile():
    """[(stage name, base, [(instruction, args)])] with continuation lines joined."""
    with open(os.path.join(ROOT, "deploy", "Dockerfile")) as f:
        text = f.read()
    text = re.sub(r"\\\n", " ", text)
    stages = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        instr, _, args = line.partition(" ")
        instr = instr.upper()
        if instr == "FROM":
            m = re.fullmatch(r"(\S+)(?:\s+AS\s+(\S+))?", args.strip(), re.I)
            stages.append((m.group(2) if m else None, m.group(1) if m else args, []))
        elif stages:
            stages[-1][2].append((instr, args.strip()))
    return stages


def apt_packages(stage):
    pkgs = set()
    for instr, args in stage[2]:
        if instr == "RUN":
            for m in re.finditer(r"apt-get install ([^&;|]*)", args):
                pkgs |= {w for w in m.group(1).split() if not w.startswith("-")}
    return pkgs


def package_of(path):
    """The Debian package holding a file (usrmerge: look the name up)."""
    name = os.path.basename(os.path.realpath(path))
    out = subprocess.run(["dpkg", "-S", "*/" + name], capture_output=True, text=True)
    owners = {line.split(":")[0] for line in out.stdout.splitlines() if ":" in line}
    return owners


def needed_libs(binary):
    """The libraries binary links itself (DT_NEEDED), as paths: apt brings
    their own dependencies along."""
    dyn = subprocess.run(["readelf", "-d", binary], capture_output=True, text=True).stdout
    needed = set(re.findall(r"\(NEEDED\).*\[(.+)\]", dyn))
    out = subprocess.run(["ldd", binary], capture_output=True, text=True).stdout
    return [path for name, path in re.findall(r"(\S+)\s+=>\s+(/\S+)", out) if name in needed]


def check_dockerfile(docs):
    errs = []
    stages = dockerfile()
    if len(stages) < 2:
        errs.append("not multi-stage")
    for name, base, _ in stages:
        if not re.fullmatch(r"debian:(bookworm|12)(-slim)?", base):
            errs.append(f"stage {name or base}: base {base} is not Debian 12")
    report("dockerfile-stages-debian12", errs)
    if len(stages) < 2:
        return
    build, final = stages[0], stages[-1]

    errs = []
    runs = " ".join(a for i, a in build[2] if i == "RUN")
    if not re.search(r"\bmake\b", runs.replace("apt-get install", "")):
        errs.append("the build stage does not run make")
    workdir = next((a for i, a in build[2] if i == "WORKDIR"), "/")
    copies_all = any(i == "COPY" and a.split()[0] == "." for i, a in build[2])
    if not copies_all:
        errs.append("the build stage does not copy the tree")
    report("dockerfile-build-runs-make", errs)

    # every COPY source exists: in the tree, in build/ after make, or in a
    # package the build stage installs
    errs = []
    final_files = set()
    for instr, args in final[2]:
        if instr != "COPY":
            continue
        words = args.split()
        src_stage = next((w.split("=", 1)[1] for w in words if w.startswith("--from=")), None)
        words = [w for w in words if not w.startswith("--")]
        srcs, dst = words[:-1], words[-1]
        for s in srcs:
            final_files.add(dst + os.path.basename(s) if dst.endswith("/") else dst)
            if src_stage is None:
                if not os.path.exists(os.path.join(ROOT, s)):
                    errs.append(f"COPY {s}: not in the tree")
            elif s.startswith(workdir.rstrip("/") + "/"):
                rel = s[len(workdir.rstrip("/")) + 1:]
                if not os.path.exists(os.path.join(ROOT, rel)):
                    errs.append(f"COPY --from={src_stage} {s}: make did not produce {rel}")
            else:
                owners = package_of(s) if os.path.exists(s) else set()
                if not owners & apt_packages(build):
                    errs.append(f"COPY --from={src_stage} {s}: no package the build stage "
                                f"installs has it (here: {sorted(owners) or 'missing'})")
    report("dockerfile-copies-exist", errs)

    # the runtime stage has the libraries the binaries link, and the tools
    # install-cni.sh calls
    errs = []
    have = apt_packages(final) | {"libc6"}  # in every Debian image
    for b in ("ternd", "ternctl"):
        for lib in needed_libs(os.path.join(ROOT, "build", b)):
            owners = package_of(lib)
            if owners and not owners & have:
                errs.append(f"build/{b} links {os.path.basename(lib)} ({'|'.join(sorted(owners))}),"
                            " not installed in the runtime stage")
    for tool in ("curl", "jq"):
        if tool not in have:
            errs.append(f"install-cni.sh needs {tool}, not installed in the runtime stage")
    report("dockerfile-runtime-has-libraries", errs)

    # what the DaemonSet runs is in the image
    errs = []
    for c in (container(docs, "ternd"), container(docs, "install-cni")):
        prog = (c.get("command") or [None])[0]
        if prog not in final_files:
            errs.append(f"{c['name']} runs {prog}, which the image does not have")
    report("dockerfile-has-what-daemonset-runs", errs)


# --- main ------------------------------------------------------------------------

def get(docs, what):
    if what[0] == "ternd-config":
        return configmap(docs)["data"]["ternd.yaml"]
    if what[0] == "conflist":
        return configmap(docs)["data"]["05-tern.conflist"]
    if what[0] == "caps":  # as setpriv's --bounding-set takes them
        sc = container(docs, what[1]).get("securityContext") or {}
        add = (sc.get("capabilities") or {}).get("add", [])
        return "-all" + "".join(",+" + c.lower() for c in add)
    if what[0] == "probe":
        g = container(docs, "ternd")[what[1] + "Probe"]["httpGet"]
        return f"http://{g.get('host', '127.0.0.1')}:{g['port']}{g['path']}"
    if what[0] == "env":
        return env_of(container(docs, what[1]), what[2])["value"]
    raise SystemExit(f"manifests.py: unknown value {what}")


def main():
    global ROOT
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    ROOT = sys.argv[2]
    docs = load_manifests()
    if sys.argv[1] == "get":
        print(get(docs, sys.argv[3:]))
        return
    for check in (check_schema, check_rbac, check_daemonset, check_dockerfile):
        try:
            check(docs)
        except Exception as e:  # a check that cannot run is a failure, never a skip
            report(check.__name__.replace("_", "-"), [f"{type(e).__name__}: {e}"])
    for name, problems in RESULTS:
        if problems:
            print(f"FAIL {name}: " + "; ".join(problems))
        else:
            print(f"ok {name}")


if __name__ == "__main__":
    main()
