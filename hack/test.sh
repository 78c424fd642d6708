#!/usr/bin/env bash
# The project's test command: builds the local control plane, the observability backends and the
# Ray environment (all cached), runs the Serve application's tests (pytest), then the operator's
# unit and integration tests; the integration tests start their own local cluster, local Ray head
# and local observability backends.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
hack/build-controlplane.sh
hack/build-observability.sh
venv=$(hack/ray-env.sh --print)
(cd serve && "$venv/bin/python" -m pytest -q -p no:cacheprovider tests)
mvn -B verify "$@"
