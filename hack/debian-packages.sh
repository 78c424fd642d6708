#!/usr/bin/env bash
# Makes sure programs from Debian's packages are on the machine, installing (as root) those that
# are missing: hack/debian-packages.sh COMMAND[:PACKAGE]...
# (redis-server: the job store's tests start their own on loopback; strace: the tests trace the
# local Ray's connections.) Nothing is started here.
set -euo pipefail
missing=()
for wanted in "$@"; do
  command=${wanted%%:*}
  package=${wanted#*:}
  command -v "$command" >/dev/null || missing+=("$package")
done
((${#missing[@]} == 0)) && exit 0
if ((EUID != 0)) || ! command -v apt-get >/dev/null; then
  echo "debian-packages: not installed: ${missing[*]} (apt-get install ${missing[*]})" >&2
  exit 1
fi
echo "debian-packages: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null ||
  { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null; }
for wanted in "$@"; do
  command -v "${wanted%%:*}" >/dev/null
done
