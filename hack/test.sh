#!/usr/bin/env bash
# The project's test command: builds the local control plane and the Ray environment (both
# cached), runs the Serve application's tests (pytest), then the operator's unit and integration
# tests; the integration tests start their own local cluster and local Ray head.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
hack/build-controlplane.sh
venv=$(hack/ray-env.sh --print)
(cd serve && "$venv/bin/python" -m pytest -q -p no:cacheprovider tests)
mvn -B verify "$@"
