#!/usr/bin/env bash
# What CI runs after the tests, under hack/netwatch.py: the benchmarks at a small N (they keep
# building and settling) and the README's quickstart on the real Ray path.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# The planner benchmark at a glance (one short iteration): it keeps building and running.
bench/planner.sh --quick

# Cold adoption, restart and memory of the packaged operator at a small N: it keeps building and
# settling (it fails when the operator does not settle or is not ready again after a restart).
bench/adoption.sh 50 5 100 5

# The placement (rollout) benchmark at a small N, bounded in time: it keeps building and settling.
timeout 600 bench/run.sh 20 2 2

# Sustained load through faults at a small N: it fails when a client hangs, or when the store's
# run loses a job.
timeout 900 bench/fault_load.sh --clients 4 --seconds 30

# The README's quickstart, end to end on the real Ray path, in state directories of its own; the
# cluster, the operator and the Ray head are stopped however it ends.
quickstart=$(mktemp -d)
export NDIF_CLUSTER_DIR=$quickstart/local-cluster NDIF_RAY_DIR=$quickstart/local-ray
trap 'hack/local-ray down || true; hack/local-cluster down || true' EXIT
hack/run-local.sh
