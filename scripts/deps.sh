#!/bin/sh
# Install the Debian packages tern builds and tests with, when missing.
# Usage: scripts/deps.sh [build|test|all]   (default: all)
set -eu

build_pkgs="make gcc pkg-config clang-14 llvm-14 libbpf-dev bpftool libelf-dev
zlib1g-dev libmnl-dev libyaml-dev libjson-c-dev libcurl4-openssl-dev libssl-dev
libmicrohttpd-dev linux-libc-dev"
test_pkgs="iproute2 iperf3 socat procps psmisc kmod util-linux iptables nftables ipset
iputils-ping curl ncat python3 openssl ethtool
jq golang-go golang-github-appc-cni-dev containernetworking-plugins python3-kubernetes
busybox-static binutils dnsmasq-base bind9-dnsutils"

case "${1:-all}" in
build) want="$build_pkgs" ;;
test) want="$test_pkgs" ;;
*) want="$build_pkgs $test_pkgs" ;;
esac

missing=""
for p in $want; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "deps: missing packages:$missing (run as root to install them)" >&2
	exit 1
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
