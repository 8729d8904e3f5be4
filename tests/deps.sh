#!/bin/sh
# deps.sh: install what smaudit needs to build and test, only what is missing.
# Uses apt-get (Debian 12); sudo when not root. Does nothing when all is present.
#   sh tests/deps.sh         build + test (make deps)
#   sh tests/deps.sh bench   also what make bench drives (valgrind, GNU time)
#   sh tests/deps.sh report  also what make report-check drives (chromium, pdfinfo)
#   sh tests/deps.sh ci      also what CI checks with (clang-format: make format-check)
set -e
need=""
# libcrypto: SHA-1/base64 (Community ID), SHA-256 (rules files and the capture
# files a run reads); jansson: JSON output
for pc in libpcap:libpcap-dev libndpi:libndpi-dev sqlite3:libsqlite3-dev criterion:libcriterion-dev \
	libcrypto:libssl-dev jansson:libjansson-dev; do
	mod=${pc%%:*}; pkg=${pc#*:}
	pkg-config --exists "$mod" 2>/dev/null || need="$need $pkg"
done
command -v pkg-config >/dev/null 2>&1 || need="$need pkg-config"
command -v sqlite3 >/dev/null 2>&1 || need="$need sqlite3"
command -v cc >/dev/null 2>&1 || need="$need gcc"
command -v make >/dev/null 2>&1 || need="$need make"
# the DPI tests compare our answers with Debian's ndpiReader (same library);
# query tests parse CSV/JSON and a read test generates a capture with python3
command -v ndpiReader >/dev/null 2>&1 || need="$need libndpi-bin"
# Debian's python3 (/usr/bin/python3): the checkers that import Debian's
# python3-html5lib and python3-jsonschema run with it, whatever python3 the PATH finds
[ -x /usr/bin/python3 ] || need="$need python3"
# flow packet counts are held to tshark's conversation statistics; its
# wireshark-common brings editcap and mergecap (read tests, tests/gen/derive.sh)
command -v tshark >/dev/null 2>&1 || need="$need tshark"
# the sensor tests make a network namespace with a veth pair and replay captures into it
command -v ip >/dev/null 2>&1 || need="$need iproute2"
command -v tcpreplay >/dev/null 2>&1 || need="$need tcpreplay"
# the syslog tests give smaudit a /dev/log of their own in a mount namespace
command -v unshare >/dev/null 2>&1 || need="$need util-linux"
# the report tests parse the HTML with a real HTML5 parser (Debian's python3)
/usr/bin/python3 -c 'import html5lib' >/dev/null 2>&1 || need="$need python3-html5lib"
if [ "${1:-}" = report ]; then
	command -v chromium >/dev/null 2>&1 || need="$need chromium"
	command -v pdfinfo >/dev/null 2>&1 || need="$need poppler-utils"
fi
# EVE exports are validated against a JSON schema (tests/eve_check.py)
/usr/bin/python3 -c "import jsonschema" 2>/dev/null || need="$need python3-jsonschema"
if [ "${1:-}" = bench ]; then
	command -v valgrind >/dev/null 2>&1 || need="$need valgrind"
	[ -x /usr/bin/time ] || need="$need time"
	# peers.sh measures smaudit beside these flow meters on the same capture
	command -v softflowd >/dev/null 2>&1 || need="$need softflowd"
	command -v argus >/dev/null 2>&1 || need="$need argus-server"
fi
if [ "${1:-}" = ci ]; then
	command -v clang-format >/dev/null 2>&1 || need="$need clang-format"
fi
[ -z "$need" ] && exit 0
echo "deps: installing$need"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends $need
