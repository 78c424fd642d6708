#!/usr/bin/env bash
# hack/run-local.sh --real: the managed path on a real node. Brings up hack/real-node, runs the
# operator on it, applies examples/real-node/ (an NdifCluster whose head and worker KubeRay runs on
# the node, and a tiny model), then asks the model to generate and runs a remote trace with
# nnsight's client through the cluster's gateway. Stop it with: hack/real-node down
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=hack/versions.sh
source hack/versions.sh
log() { echo "run-local: $*"; }

hack/build-controlplane.sh
venv=$(hack/ray-env.sh --print)
python_home=$(dirname "$(dirname "$(readlink -f "$venv/bin/python")")")
hack/real-node up >/dev/null
STATE=$(hack/real-node state-dir)
export KUBECONFIG=$STATE/admin.kubeconfig
kubectl=("$NDIF_BIN_DIR/kubectl")

log "building the operator"
mvn -B -q -DskipTests package
"${kubectl[@]}" apply --server-side -f crds/ >/dev/null
# The operator runs outside the node's network: the dashboard through the API server's proxy.
DASHBOARD_ACCESS=proxy PROMETHEUS_PORT=${PROMETHEUS_PORT:-0} METRICS_HOST=127.0.0.1 \
  java -jar target/ndif-operator.jar >"$STATE/logs/ndif-operator.log" 2>&1 &
echo $! >"$STATE/ndif-operator.pid"
log "operator started (pid $(cat "$STATE/ndif-operator.pid"), log $STATE/logs/ndif-operator.log)"

cache_dir=$STATE/hf-cache
log "writing a tiny model with random weights as ndif-local/tiny-gpt2 into the node's cache $cache_dir"
model_dir=$(HF_HUB_OFFLINE=1 "$venv/bin/python" -m ndif_serve.tiny --hub-cache "$cache_dir/hub" 2>/dev/null)
# The Secret holds the key's SHA-256; the key is printed below.
api_key=$(openssl rand -hex 16)
"${kubectl[@]}" create secret generic real-api-keys --from-literal=keys.yaml="keys:
$(echo "$api_key" | "$venv/bin/python" -m ndif_serve.apikey entry --name local-researcher --tag trusted)" >/dev/null
sed -e "s|@RAY_VENV@|$venv|g" -e "s|@PYTHON_HOME@|$python_home|g" \
  -e "s|@CACHE_DIR@|$cache_dir|g" examples/real-node/tiny.yaml | "${kubectl[@]}" apply -f -
log "waiting for KubeRay's head and worker pods to start Ray (about a minute)"
"${kubectl[@]}" wait --for=condition=Ready ndifcluster/real --timeout=600s
"${kubectl[@]}" wait --for=condition=Ready ndifdeployment/tiny --timeout=600s
"${kubectl[@]}" get nodes -L nvidia.com/gpu.product
"${kubectl[@]}" get ndifclusters,ndifdeployments,rayclusters,pods -o wide

head=$("${kubectl[@]}" get pods -l ray.io/node-type=head -o jsonpath='{.items[0].metadata.name}')
"${kubectl[@]}" port-forward --address 127.0.0.1 "pod/$head" :8000 >"$STATE/logs/port-forward.log" 2>&1 &
echo $! >"$STATE/port-forward.pid"
for _ in $(seq 50); do
  port=$(sed -n 's/^Forwarding from 127.0.0.1:\([0-9]*\) -> 8000$/\1/p' "$STATE/logs/port-forward.log")
  [[ -n $port ]] && break
  sleep 0.2
done
[[ -n ${port:-} ]] || { cat "$STATE/logs/port-forward.log"; exit 1; }
ndif_host=http://127.0.0.1:$port
route=$("${kubectl[@]}" get ndifdeployment tiny -o jsonpath='{.status.endpoint}' | sed 's|^http://[^/]*||')
log "POST $ndif_host$route/generate (Ray Serve on the head, forwarded by kubectl)"
curl -fsS -H 'Content-Type: application/json' -d '{"prompt": "Ray Serve", "max_new_tokens": 8}' \
  "$ndif_host$route/generate"
echo
"${kubectl[@]}" wait --for=condition=GatewayReady ndifcluster/real --timeout=300s
model_key=$("${kubectl[@]}" get ndifdeployment tiny -o jsonpath='{.status.modelKey}')
log "a remote trace with nnsight's client, NDIF_HOST=$ndif_host"
"$venv/bin/python" serve/scripts/remote_trace.py --host "$ndif_host" --model-key "$model_key" \
  --model-dir "$model_dir" --api-key "$api_key"
echo
log "the real node is up. Try:"
echo "  export KUBECONFIG=$KUBECONFIG PATH=$NDIF_BIN_DIR:\$PATH"
echo "  kubectl get ndc real -o yaml; kubectl get pods -o wide"
echo "  NDIF_HOST=$ndif_host NDIF_API_KEY=$api_key (kubectl port-forward, pid $(cat "$STATE/port-forward.pid"))"
echo "Stop it with: hack/real-node down"
