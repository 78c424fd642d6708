#!/usr/bin/env bash
# Builds the observability backends from Go modules: Prometheus and promtool, Jaeger (its OTLP
# receiver and query API) and VictoriaLogs (which takes Loki's push API). Versions are pinned by
# the wrapper modules under hack/observability/; binaries land in a cache keyed by them.
#
#   hack/build-observability.sh          build what is missing, print the bin dir last
#   hack/build-observability.sh --print  print the bin dir without building
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=hack/versions.sh
source "$here/versions.sh"

if [[ "${1:-}" == "--print" ]]; then
  echo "$NDIF_OBS_BIN_DIR"
  exit 0
fi
command -v go >/dev/null 2>&1 ||
  { echo "build-observability: Go ${GO_MIN_VERSION} or newer is required on PATH" >&2; exit 1; }

mkdir -p "$NDIF_OBS_BIN_DIR"
export CGO_ENABLED=0
export GOFLAGS="-mod=mod -trimpath"

# build NAME... -- MODULE_DIR TAGS LDFLAGS PACKAGE...: one `go build` for the binaries of one module
build() {
  local names=() missing=0
  while [[ $1 != -- ]]; do names+=("$1"); shift; done
  shift
  local dir=$1 tags=$2 ldflags=$3
  shift 3
  for name in "${names[@]}"; do
    [[ -x "$NDIF_OBS_BIN_DIR/$name" ]] && echo "  $name: cached" || missing=1
  done
  ((missing)) || return 0
  local start=$SECONDS tmp
  echo "  ${names[*]}: building ..."
  tmp=$(mktemp -d "$NDIF_OBS_BIN_DIR/.build.XXXXXX")
  (cd "$here/observability/$dir" && go build -tags "$tags" -ldflags "$ldflags" -o "$tmp/" "$@")
  mv "$tmp"/* "$NDIF_OBS_BIN_DIR/"
  rmdir "$tmp"
  echo "  ${names[*]}: built in $((SECONDS - start)) s"
}

total_start=$SECONDS
echo "build-observability: into $NDIF_OBS_BIN_DIR"
# Service discovery is left to static and file targets (remove_all_sd): the local Prometheus
# scrapes processes on loopback. The web UI's assets are not in the module; the API is.
prom_ldflags="-s -w -X github.com/prometheus/common/version.Version=${PROMETHEUS_VERSION}"
build prometheus promtool -- prometheus remove_all_sd "$prom_ldflags" \
  github.com/prometheus/prometheus/cmd/prometheus github.com/prometheus/prometheus/cmd/promtool
build jaeger -- jaeger "" "-s -w" github.com/jaegertracing/jaeger/cmd/jaeger
build victoria-logs -- victorialogs "" "-s -w" \
  github.com/VictoriaMetrics/VictoriaLogs/app/victoria-logs
echo "build-observability: done in $((SECONDS - total_start)) s"
