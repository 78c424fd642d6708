#!/usr/bin/env bash
# The project's test command: builds the local control plane, the observability backends and the
# Ray environment (all cached), runs the Serve application's tests (pytest), then the operator's
# unit and integration tests; the integration tests start their own local cluster, local Ray head
# and local observability backends.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# The Ray environment is mostly a download from PyPI: it is made while Go compiles.
ray_env_log=$(mktemp)
hack/ray-env.sh >"$ray_env_log" 2>&1 &
ray_env_pid=$!
trap 'kill "$ray_env_pid" 2>/dev/null || true' EXIT
hack/build-controlplane.sh
hack/build-observability.sh
wait "$ray_env_pid" || { cat "$ray_env_log" >&2; echo "test: hack/ray-env.sh failed" >&2; exit 1; }
trap - EXIT
rm -f "$ray_env_log"
venv=$(hack/ray-env.sh --print)
(cd serve && "$venv/bin/python" -m pytest -q -p no:cacheprovider tests)
mvn -B verify "$@"
