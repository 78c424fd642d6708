#!/usr/bin/env bash
# The project's test command: builds the local control plane (cached), then runs the unit tests
# and the integration tests; the integration tests start their own local cluster.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
hack/build-controlplane.sh
mvn -B verify "$@"
