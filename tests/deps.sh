#!/bin/sh
# deps.sh: install what smaudit needs to build and test, only what is missing.
# Uses apt-get (Debian 12); sudo when not root. Does nothing when all is present.
set -e
need=""
for pc in libpcap:libpcap-dev libndpi:libndpi-dev sqlite3:libsqlite3-dev criterion:libcriterion-dev; do
	mod=${pc%%:*}; pkg=${pc#*:}
	pkg-config --exists "$mod" 2>/dev/null || need="$need $pkg"
done
command -v pkg-config >/dev/null 2>&1 || need="$need pkg-config"
command -v sqlite3 >/dev/null 2>&1 || need="$need sqlite3"
command -v cc >/dev/null 2>&1 || need="$need gcc"
command -v make >/dev/null 2>&1 || need="$need make"
[ -z "$need" ] && exit 0
echo "deps: installing$need"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends $need
