#!/bin/sh
# Test PKI for the fake API server, made fresh per test run with the openssl
# CLI: a cluster CA, the API server's certificate (for 10.99.0.1, 127.0.0.1
# and localhost), a node client certificate the CA signs (CN
# system:node:NODE, O system:nodes, as kubelet's), and a second, unrelated
# CA whose trust must not work. Usage: test/kube/certs.sh DIR [NODE]
set -eu
dir=$1
node=${2:-node-1}
mkdir -p "$dir"
cd "$dir"
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 -out "$1" 2>/dev/null; }
ca() { # NAME CN
	key "$1.key"
	openssl req -x509 -new -key "$1.key" -out "$1.crt" -days 2 -subj "/CN=$2" 2>/dev/null
}
signed() { # NAME SUBJECT EXTENSIONS
	key "$1.key"
	openssl req -new -key "$1.key" -out "$1.csr" -subj "$2" 2>/dev/null
	printf '%s\n' "$3" >"$1.ext"
	openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
		-extfile "$1.ext" -out "$1.crt" 2>/dev/null
	rm -f "$1.csr" "$1.ext"
}
ca ca tern-test-cluster-ca
ca other-ca tern-test-unrelated-ca
signed server "/CN=kube-apiserver" "subjectAltName=IP:10.99.0.1,IP:127.0.0.1,DNS:localhost
extendedKeyUsage=serverAuth"
signed client "/O=system:nodes/CN=system:node:$node" "extendedKeyUsage=clientAuth"
