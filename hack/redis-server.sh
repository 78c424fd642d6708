#!/usr/bin/env bash
# Makes sure Debian's redis-server is on the machine: the tests of the gateway's job store start
# their own on loopback (serve/tests/conftest.py), nothing is started here.
set -euo pipefail
if command -v redis-server >/dev/null; then
  exit 0
fi
if ((EUID != 0)) || ! command -v apt-get >/dev/null; then
  echo "redis-server: not installed; install Debian's redis-server (apt-get install redis-server)" >&2
  exit 1
fi
echo "redis-server: installing Debian's redis-server" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q --no-install-recommends redis-server >/dev/null ||
  { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends redis-server >/dev/null; }
command -v redis-server >/dev/null
