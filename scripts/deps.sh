#!/bin/bash
# deps.sh: install the Debian packages flowdb builds and tests with.
# Idempotent; needs root (apt-get) unless everything is already there.
set -euo pipefail

PKGS="postgresql-15 postgresql-server-dev-15 postgresql-contrib libcurl4-openssl-dev
      libcjson-dev libipc-run-perl valgrind clang libclang-rt-14-dev python3 make gcc
      pkg-config libpocketsphinx-dev pocketsphinx-en-us espeak-ng sox curl nodejs openssl"

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -z "$missing" ]; then
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing packages:$missing (run as root to install them)" >&2
	exit 1
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends $missing >/dev/null
