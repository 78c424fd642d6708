#!/usr/bin/env bash
# Brings up the local control plane, runs the operator on it and applies examples/.
# Stop everything with: hack/local-cluster down
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=hack/versions.sh
source hack/versions.sh
STATE=${NDIF_CLUSTER_DIR:-${XDG_STATE_HOME:-$HOME/.local/state}/ndif-operator/local-cluster}

hack/build-controlplane.sh
hack/local-cluster up
export KUBECONFIG=$STATE/admin.kubeconfig
kubectl=("$NDIF_BIN_DIR/kubectl")

echo "run-local: building the operator"
mvn -B -q -DskipTests package
"${kubectl[@]}" apply --server-side -f crds/
DASHBOARD_ACCESS=proxy PROMETHEUS_PORT=${PROMETHEUS_PORT:-0} METRICS_HOST=127.0.0.1 java -jar target/ndif-operator.jar >"$STATE/logs/ndif-operator.log" 2>&1 &
echo $! >"$STATE/ndif-operator.pid"
echo "run-local: operator started (pid $(cat "$STATE/ndif-operator.pid"), log $STATE/logs/ndif-operator.log)"

"${kubectl[@]}" apply -f examples/
"${kubectl[@]}" wait --for=condition=Ready ndifcluster --all --timeout=180s
"${kubectl[@]}" get nodes -L nvidia.com/gpu.product
"${kubectl[@]}" get ndifclusters,ndifdeployments,rayclusters,pods
echo
echo "run-local: the cluster is up. Try:"
echo "  export KUBECONFIG=$KUBECONFIG PATH=$NDIF_BIN_DIR:\$PATH"
echo "  kubectl get ndc -o yaml"
echo "Stop it with: hack/local-cluster down"
