#!/bin/sh
# Installs the Debian 12 packages tapsift needs, only those that are missing.
# Idempotent: a second run installs nothing and prints nothing.
set -e
PKGS="build-essential pkg-config clang llvm libhyperscan-dev libpcap-dev libbpf-dev bpftool libelf-dev
zlib1g-dev libbrotli-dev libicu-dev libzmq3-dev libprotobuf-c-dev protobuf-c-compiler libsodium-dev
liburcu-dev python3 python3-brotli iproute2 tcpdump"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing$missing" >&2
if [ "$(id -u)" -ne 0 ]; then
	SUDO=sudo
else
	SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q >&2
$SUDO apt-get install -y -q --no-install-recommends $missing >&2
