#!/bin/sh
# install-cni: the tern DaemonSet's init container. Puts tern-cni and
# host-local into the host's CNI bin dir, and tern's conflist, with this
# node's pod CIDRs, into its conf dir. Run again, it replaces them.
#
# The binaries are Debian 12 builds, linked against its glibc: as they are,
# they would not start on a host with an older one. So they are installed
# as a bundle: the binaries, the libraries they link and Debian's dynamic
# loader in tern.d/<hash>/, and per plugin a small sh wrapper under its name
# that runs it through that loader. The host provides only /bin/sh.
#
# Environment:
#   CNI_BIN_DIR, CNI_NET_DIR    where the host's /opt/cni/bin, /etc/cni/net.d are
#   CNI_CONFLIST_TEMPLATE       the conflist to install (ConfigMap tern-config)
#   CNI_CONF_NAME               its name in CNI_NET_DIR (05-tern.conflist)
#   POD_CIDRS                   "10.244.3.0/24,fd00:244:3::/64": host-local's ranges,
#                               instead of the Node's spec.podCIDRs
#   NODE_NAME                   the Node whose spec.podCIDRs to read
#   KUBERNETES_SERVICE_HOST, KUBERNETES_SERVICE_PORT, SERVICEACCOUNT_DIR
#                               the API server and the credentials to read it with
#   POD_CIDR_WAIT               seconds to wait for the Node's podCIDRs (300)
#   TERN_CNI_PLUGINS            binaries installed, replacing the host's
#   TERN_CNI_PLUGINS_IF_MISSING binaries installed only where the host has none
set -eu

CNI_BIN_DIR=${CNI_BIN_DIR:-/host/opt/cni/bin}
CNI_NET_DIR=${CNI_NET_DIR:-/host/etc/cni/net.d}
CNI_CONFLIST_TEMPLATE=${CNI_CONFLIST_TEMPLATE:-/etc/tern/05-tern.conflist}
CNI_CONF_NAME=${CNI_CONF_NAME:-05-tern.conflist}
SERVICEACCOUNT_DIR=${SERVICEACCOUNT_DIR:-/var/run/secrets/kubernetes.io/serviceaccount}
POD_CIDR_WAIT=${POD_CIDR_WAIT:-300}
TERN_CNI_PLUGINS=${TERN_CNI_PLUGINS:-/usr/local/bin/tern-cni /usr/lib/cni/host-local}
# containerd sets up each pod's lo with the loopback plugin
TERN_CNI_PLUGINS_IF_MISSING=${TERN_CNI_PLUGINS_IF_MISSING:-/usr/lib/cni/loopback}
MARK="installed by tern's install-cni"

log() { echo "install-cni: $*" >&2; }
die() {
	log "$*"
	exit 1
}

# --- binaries ------------------------------------------------------------------

# The loader and the libraries a binary links, one path a line; nothing
# for a static binary.
libs_of() {
	ldd "$1" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'
}
loader_of() {
	ldd "$1" 2>/dev/null | awk '$1 ~ /^\// && $2 != "=>" { n = split($1, p, "/"); print p[n] }'
}

# Our own wrapper (from an earlier run) may be replaced; the host's own
# binary of that name only when the plugin is not "if missing".
ours() { [ -f "$1" ] && grep -q "$MARK" "$1" 2>/dev/null; }

plugins=""
for p in $TERN_CNI_PLUGINS; do
	[ -x "$p" ] || die "$p: not found in the image"
	plugins="$plugins $p"
done
for p in $TERN_CNI_PLUGINS_IF_MISSING; do
	name=${p##*/}
	if [ -e "$CNI_BIN_DIR/$name" ] && ! ours "$CNI_BIN_DIR/$name"; then
		log "$name: the host's own is kept"
		continue
	fi
	[ -x "$p" ] || die "$p: not found in the image"
	plugins="$plugins $p"
done

[ -d "$CNI_BIN_DIR" ] || die "$CNI_BIN_DIR: no such directory (the host's /opt/cni/bin)"
stage=$(mktemp -d "$CNI_BIN_DIR/.tern.d.XXXXXX")
trap 'rm -rf "$stage"' EXIT
for p in $plugins; do
	cp "$p" "$stage/"
	for f in $(libs_of "$p"); do
		cp -L "$f" "$stage/"
	done
done
chmod 0755 "$stage"
# named by content: a rerun with the same image changes nothing, and an
# upgrade never rewrites files a running plugin has open
hash=$(cd "$stage" && sha256sum -- * | sha256sum | cut -c1-16)
mkdir -p "$CNI_BIN_DIR/tern.d"
bundle=$CNI_BIN_DIR/tern.d/$hash
if [ -d "$bundle" ]; then
	rm -rf "$stage"
else
	mv "$stage" "$bundle"
fi

for p in $plugins; do
	name=${p##*/}
	loader=$(loader_of "$p")
	tmp=$(mktemp "$CNI_BIN_DIR/.$name.XXXXXX")
	if [ -z "$loader" ]; then
		cp "$p" "$tmp" # static: runs as it is
	else
		cat >"$tmp" <<EOF
#!/bin/sh
# $name, $MARK: runs on its own loader and
# libraries in tern.d/$hash, whatever the host's libc is.
d="\${0%/*}/tern.d/$hash"
exec "\$d/$loader" --library-path "\$d" "\$d/$name" "\$@"
EOF
	fi
	chmod 0755 "$tmp"
	mv -f "$tmp" "$CNI_BIN_DIR/$name"
	log "$name -> $CNI_BIN_DIR/$name (bundle $hash)"
done
# earlier bundles: every wrapper now names this one
for old in "$CNI_BIN_DIR"/tern.d/*; do
	[ "$old" = "$bundle" ] || rm -rf "$old"
done

# --- conflist --------------------------------------------------------------------

[ -r "$CNI_CONFLIST_TEMPLATE" ] || die "$CNI_CONFLIST_TEMPLATE: cannot read the conflist"
jq -e '[.plugins[] | select(.type == "tern-cni")] | length == 1' "$CNI_CONFLIST_TEMPLATE" \
	>/dev/null || die "$CNI_CONFLIST_TEMPLATE: expected JSON with one plugin of type tern-cni"

# GET an API path with the pod's service account; the token goes on stdin,
# never on a command line.
api_get() {
	host=${KUBERNETES_SERVICE_HOST:?not set: no API server to read the Node from}
	case $host in *:*) host="[$host]" ;; esac
	printf 'Authorization: Bearer %s\n' "$(cat "$SERVICEACCOUNT_DIR/token")" |
		curl -sS --fail --max-time 10 --cacert "$SERVICEACCOUNT_DIR/ca.crt" -H @- \
			"https://$host:${KUBERNETES_SERVICE_PORT:-443}$1"
}

# spec.podCIDRs of this Node, comma-separated; list (what the ClusterRole
# grants) with a fieldSelector, not get
node_pod_cidrs() {
	api_get "/api/v1/nodes?fieldSelector=metadata.name%3D${NODE_NAME:?not set}" |
		jq -r '.items[0].spec // {} | (.podCIDRs // [.podCIDR // empty]) | join(",")'
}

conf=$(jq . "$CNI_CONFLIST_TEMPLATE")
if [ "$(jq '[.plugins[] | select(.type == "tern-cni") | .ipam |
	    has("ranges") or has("subnet")] | any' "$CNI_CONFLIST_TEMPLATE")" = false ]; then
	cidrs=${POD_CIDRS:-}
	deadline=$(($(date +%s) + POD_CIDR_WAIT))
	while [ -z "$cidrs" ]; do
		cidrs=$(node_pod_cidrs) || cidrs=""
		[ -n "$cidrs" ] && break
		[ "$(date +%s)" -lt "$deadline" ] ||
			die "node $NODE_NAME has no spec.podCIDRs after ${POD_CIDR_WAIT}s: let the" \
				"controller manager allocate them (--allocate-node-cidrs) or set POD_CIDRS"
		log "node $NODE_NAME: no spec.podCIDRs yet, or the API server is not reachable; retrying"
		sleep 2
	done
	log "pod CIDRs of node ${NODE_NAME:-(POD_CIDRS)}: $cidrs"
	conf=$(printf '%s' "$conf" | jq --arg cidrs "$cidrs" \
		'(.plugins[] | select(.type == "tern-cni") | .ipam.ranges) =
		 ($cidrs | split(",") | map([{subnet: .}]))')
fi

[ -d "$CNI_NET_DIR" ] || die "$CNI_NET_DIR: no such directory (the host's /etc/cni/net.d)"
# not ending in .conflist until complete: runtimes never read half a file
tmp=$(mktemp "$CNI_NET_DIR/.$CNI_CONF_NAME.XXXXXX")
printf '%s\n' "$conf" >"$tmp"
chmod 0644 "$tmp"
mv -f "$tmp" "$CNI_NET_DIR/$CNI_CONF_NAME"
log "$CNI_NET_DIR/$CNI_CONF_NAME written"

# runtimes use the first config by name: say so when it is not ours
first=$(cd "$CNI_NET_DIR" && ls -- *.conf *.conflist *.json 2>/dev/null | sort | head -n 1)
[ "$first" = "$CNI_CONF_NAME" ] ||
	log "warning: $first sorts before $CNI_CONF_NAME: the runtime uses it, not tern; remove it"
exit 0
