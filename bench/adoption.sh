#!/usr/bin/env bash
# Cold adoption, restart and memory at fleet scale:
#   bench/adoption.sh [DEPLOYMENTS] [CLUSTERS] [WATCHED_PODS] [QUIET_SECONDS]
# Starts its own local control plane (state in target/adoption-cluster), creates the objects while
# no operator runs, then starts the packaged jar (-Xmx256m) as its own process; prints the figures
# beside the bare client's bound and writes target/bench-adoption-<N>.txt.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
deployments=${1:-1000}
clusters=${2:-10}
pods=${3:-2000}
quiet=${4:-30}
export NDIF_CLUSTER_DIR=$PWD/target/adoption-cluster
hack/build-controlplane.sh >/dev/null
mvn -B -q -DskipTests package
mvn -B -q -DskipTests test-compile dependency:build-classpath -Dmdep.outputFile=target/test-classpath.txt -Dmdep.includeScope=test
hack/local-cluster up >/dev/null
trap 'hack/local-cluster down >/dev/null' EXIT
LOG_LEVEL=${LOG_LEVEL:-WARN} java -Xmx1g -cp "target/classes:target/test-classes:$(cat target/test-classpath.txt)" \
  io.ndif.operator.bench.AdoptionBenchmark "$NDIF_CLUSTER_DIR/admin.kubeconfig" "$deployments" "$clusters" "$pods" "$quiet"
