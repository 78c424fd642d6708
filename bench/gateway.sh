#!/usr/bin/env bash
# The NDIF gateway's latency and throughput with nnsight's own client on a local Ray (loopback
# only): bench/gateway.sh [--requests N] [--throughput-requests N] [--json FILE]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
venv=$(hack/ray-env.sh --print)
exec "$venv/bin/python" bench/gateway_bench.py "$@"
