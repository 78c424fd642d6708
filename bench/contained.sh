#!/usr/bin/env bash
# Contained execution against in-process through the gateway, with nnsight's own client on a local
# Ray (loopback only): bench/contained.sh [--requests N] [--big-requests N]
# [--throughput-requests N] [--json FILE]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
venv=$(hack/ray-env.sh --print)
exec "$venv/bin/python" bench/contained_bench.py "$@"
