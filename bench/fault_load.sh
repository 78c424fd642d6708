#!/usr/bin/env bash
# Sustained load through faults (the broker and a gateway replica killed) with nnsight's own
# client on a local Ray (loopback only), without and with a job store:
# bench/fault_load.sh [--clients N] [--seconds S] [--json FILE]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
venv=$(hack/ray-env.sh --print)
hack/debian-packages.sh redis-server
exec "$venv/bin/python" bench/fault_load.py "$@"
