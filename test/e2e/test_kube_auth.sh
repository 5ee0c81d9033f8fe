#!/bin/bash
# How ternd finds and authenticates to the API server: the in-cluster
# config (KUBERNETES_SERVICE_HOST/PORT and the service account files, in a
# mount namespace of ternd's own) with the token rotated as kubelet rotates
# it; kubeconfig files with inline client certificates, with relative file
# names and a tokenFile; a CA that did not sign the server, no credentials,
# a broken kubeconfig.
#
#  [a] [b] [c] == tern<x> -- [node: ternd] eth0 == br0 [underlay: fake API server]
#                             (mount ns: /var/run/secrets/kubernetes.io/serviceaccount = $WORK/sa)
. "$(dirname "$0")/kube_lib.sh"

node_up
fake_up || exit 1
kube_base
kpod_add a 2

# --- in-cluster: a service account directory laid out as kubelet writes
# it (files behind a "..data" symlink swapped atomically on rotation)
SA=$WORK/sa
sa_token() { # TOKEN: publish a new token the way kubelet's AtomicWriter does
	local d
	d="..$(date +%s%N)"
	mkdir "$SA/$d"
	cp "$PKI/ca.crt" "$SA/$d/ca.crt"
	echo default >"$SA/$d/namespace"
	printf '%s' "$1" >"$SA/$d/token"
	ln -sfn "$d" "$SA/..data_tmp"
	mv -T "$SA/..data_tmp" "$SA/..data"
}
mkdir -p "$SA"
sa_token "$TOKEN"
for f in ca.crt namespace token; do ln -s "..data/$f" "$SA/$f"; done
cat >"$WORK/in_cluster.sh" <<EOF
#!/bin/sh
# ternd's own mount namespace: the service account where kubelet mounts it
set -e
mount -t tmpfs tmpfs /run
mkdir -p /run/secrets/kubernetes.io/serviceaccount
mount --bind "$SA" /run/secrets/kubernetes.io/serviceaccount
exec env KUBERNETES_SERVICE_HOST=$API_HOST KUBERNETES_SERVICE_PORT=$API_PORT "\$@"
EOF
chmod +x "$WORK/in_cluster.sh"
write_kube_config ""
KTERND_WRAP="unshare --mount --propagation private $WORK/in_cluster.sh"
kternd_start || exit 1
KTERND_WRAP=
check in-cluster-server tlog_has "API server $API_URL (in-cluster)"
check in-cluster-token test "$(fake_count "auth=token:$TOKEN")" -ge 6
check in-cluster-attached wait_until 3 attached a

# rotation: the server takes only the new token from now on; the
# connections that break afterwards reconnect with it
sa_token tok-2
fake POST /tokens?set=tok-2 >/dev/null
fake POST /break >/dev/null
check rotated-token-used wait_until 10 sh -c "[ \$(curl -sf --unix-socket $FAKE_SOCK 'http://fake/count?auth=token:tok-2&verb=watch') -ge 6 ]"
check rotation-logged tlog_has 'token changed (rotated)'
check rotation-no-401 test "$(fake_count code=401)" = 0
kpod_add b 3
check watch-after-rotation wait_until 5 attached b

# a token the server rejects: 401 with a hint, retried; the next token
# written is picked up without a restart
fake POST /tokens?set=tok-3 >/dev/null
fake POST /break >/dev/null
check rejected-logged wait_until 10 tlog_has 'watch: HTTP 401: Unauthorized (the token or client certificate was rejected'
sa_token tok-3
kpod_add c 4
check recovers-with-new-token wait_until 20 attached c
check still-ready test "$(health_code /readyz)" = 200
ternd_stop

# in-cluster outside a pod: a clear error, exit 1
err_out=$WORK/err.out
in_node "$B/ternd" --config "$CONF" >"$err_out" 2>&1
check no-env-exits test $? = 1
check no-env-says-why grep -q 'KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set' "$err_out"

# --- kubeconfig: inline client certificate and CA, no token
fake POST "/tokens?set=$TOKEN" >/dev/null
kubeconfig_write cert-data
write_kube_config
kternd_start || exit 1
check kubeconfig-server tlog_has "API server $API_URL ($KUBECONFIG_FILE)"
check client-cert-auth test "$(fake_count 'auth=cert:system:node:node-1')" -ge 6
check client-cert-attached attached c
ternd_stop

# --- kubeconfig: relative file names, a tokenFile
kubeconfig_write files
kternd_start || exit 1
check token-file-auth wait_until 5 sh -c "[ \$(curl -sf --unix-socket $FAKE_SOCK 'http://fake/count?auth=token:$TOKEN&verb=watch') -ge 12 ]"
ternd_stop

# --- a CA that did not sign the server: TLS refused, never ready
kubeconfig_write other-ca
kternd_spawn
check wrong-ca-refused wait_until 10 tlog_has 'pods: list: SSL certificate problem'
check wrong-ca-not-ready test "$(health_code /readyz)" = 503
ternd_stop

# --- no credentials: 401, never ready
kubeconfig_write anonymous
kternd_spawn
check anonymous-401 wait_until 10 tlog_has 'pods: list: HTTP 401'
check anonymous-not-ready test "$(health_code /readyz)" = 503
check anonymous-alive test "$(health_code /healthz)" = 200
ternd_stop

# --- a broken kubeconfig: file, line, column, field; exit 1
kubeconfig_write token
sed -i 's/^current-context: test/current-context: missing/' "$KUBECONFIG_FILE"
in_node "$B/ternd" --config "$CONF" >"$err_out" 2>&1
check bad-kubeconfig-exits test $? = 1
check bad-kubeconfig-says-where grep -q "$KUBECONFIG_FILE:3:18: context \"missing\" is not defined in contexts" "$err_out"
# --check reads the kubeconfig too
"$B/ternd" --config "$CONF" --check >"$err_out" 2>&1
check check-bad-kubeconfig-exits-2 test $? = 2
check check-names-kubeconfig grep -q "$KUBECONFIG_FILE:3:18: context" "$err_out"
kubeconfig_write cert-data
check check-good-kubeconfig "$B/ternd" --config "$CONF" --check
