#!/usr/bin/env bash
# Placement benchmark: bench/run.sh [DEPLOYMENTS] [CLUSTERS] [STEADY_SECONDS]
# Starts its own local control plane (state in target/bench-cluster), runs the operator in-process
# against it with fake Ray dashboards, prints the figures and writes target/bench-<N>.txt.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
deployments=${1:-100}
clusters=${2:-10}
steady=${3:-300}
export NDIF_CLUSTER_DIR=$PWD/target/bench-cluster
hack/build-controlplane.sh >/dev/null
mvn -B -q -DskipTests test-compile dependency:build-classpath -Dmdep.outputFile=target/test-classpath.txt -Dmdep.includeScope=test
hack/local-cluster up >/dev/null
trap 'hack/local-cluster down >/dev/null' EXIT
LOG_LEVEL=${LOG_LEVEL:-WARN} java -Xmx2g -cp "target/classes:target/test-classes:$(cat target/test-classpath.txt)" \
  io.ndif.operator.bench.PlacementBenchmark "$NDIF_CLUSTER_DIR/admin.kubeconfig" "$deployments" "$clusters" "$steady"
