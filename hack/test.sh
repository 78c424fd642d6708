#!/usr/bin/env bash
# The project's test command. First what is downloaded: the local control plane, the observability
# backends, the Ray environment, the operator image's Debian base (as root), Debian's redis-server
# (the job store's tests start it on loopback) and strace (a test traces the local Ray's
# connections), and Maven's plugins and
# dependencies (all cached). Then, under hack/netwatch.py, the tests: the watcher fails the run if
# any process the tests started connects outside loopback. The integration tests start their own
# local cluster (in a network namespace of its own), local Ray head and observability backends.
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
if ((EUID == 0)); then hack/image.sh base; fi
hack/debian-packages.sh redis-server strace
# GitOpsHealthIT builds hack/gitops (kstatus, gopher-lua): its modules are fetched here.
mkdir -p target
(cd hack/gitops && go build -o ../../target/gitops-health .)
# Every plugin and dependency, the test providers too (resolved when tests first run): one unit
# test resolves them, so that the watched run below can be offline.
mvn -B -q verify -DskipITs -Dtest=OperatorSettingsTest -Dsurefire.failIfNoSpecifiedTests=false

venv=$(hack/ray-env.sh --print)
exec python3 hack/netwatch.py --report target/netwatch.txt -- bash -c '
  set -euo pipefail
  "$0/bin/python" -m pytest -q -p no:cacheprovider hack/tests
  (cd serve && "$0/bin/python" -m pytest -q -p no:cacheprovider tests)
  mvn -B -o verify "${@}"
' "$venv" "$@"
