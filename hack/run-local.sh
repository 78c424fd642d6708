#!/usr/bin/env bash
# Brings up the local control plane with its fake GPU fleet, runs the operator on it and applies
# examples/; then starts a real Ray head from PyPI (hack/local-ray), serves a tiny model on it
# through examples/real-ray/ and ends with a researcher's remote trace answered
# (examples/real-ray/trace.py, nnsight's own client, the model named by its repository id).
# With --control-plane, stops after the fake fleet (no Ray, no Python environment needed).
# With --real, brings up instead a cluster with one real node (hack/real-node; needs root) where
# KubeRay runs an NdifCluster's Ray pods for real, and serves a tiny model on its worker through
# examples/real-node/.
# With --observability, also starts Prometheus, Jaeger and VictoriaLogs
# (hack/local-observability), points the operator at them and prints where to look.
# Stop everything with: hack/local-cluster down (and hack/local-ray down, hack/local-observability
# down, or hack/real-node down)
set -euo pipefail
with_ray=true
with_observability=false
for arg in "$@"; do
  case "$arg" in
    --ray) with_ray=true ;; # the default; kept for scripts written before it was
    --control-plane) with_ray=false ;;
    --observability) with_observability=true ;;
    --real) exec "$(dirname "${BASH_SOURCE[0]}")/run-real-node.sh" ;;
    *) echo "usage: hack/run-local.sh [--control-plane] [--observability] | --real" >&2; exit 2 ;;
  esac
done
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
metrics_port=${PROMETHEUS_PORT:-0}
if $with_observability; then
  hack/local-observability up
  # shellcheck disable=SC1090
  source <(hack/local-observability env)
  export OTEL_EXPORTER_OTLP_ENDPOINT LOKI_URL LOG_FORMAT
  [[ $metrics_port != 0 ]] ||
    metrics_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
fi
DASHBOARD_ACCESS=proxy PROMETHEUS_PORT=$metrics_port METRICS_HOST=127.0.0.1 java -jar target/ndif-operator.jar >"$STATE/logs/ndif-operator.log" 2>&1 &
echo $! >"$STATE/ndif-operator.pid"
echo "run-local: operator started (pid $(cat "$STATE/ndif-operator.pid"), log $STATE/logs/ndif-operator.log)"
if $with_observability; then
  hack/local-observability target ndif-operator "127.0.0.1:$metrics_port"
fi

"${kubectl[@]}" apply -f examples/
"${kubectl[@]}" wait --for=condition=Ready ndifcluster --all --timeout=180s
"${kubectl[@]}" get nodes -L nvidia.com/gpu.product
"${kubectl[@]}" get ndifclusters,ndifdeployments,rayclusters,pods

if $with_ray; then
  hack/local-ray up
  # shellcheck disable=SC1090
  source <(hack/local-ray env)
  # The gateway's key file holds the key's SHA-256; the key itself is kept beside it for you.
  keys_file=$STATE/api-keys.yaml key_file=$STATE/api-key
  if [[ ! -f "$keys_file" || ! -f "$key_file" ]]; then
    (umask 077 && openssl rand -hex 16 >"$key_file")
    { echo "keys:"; "$RAY_PYTHON" -m ndif_serve.apikey entry --name local-researcher --tag trusted <"$key_file"; } >"$keys_file"
  fi
  api_key=$(cat "$key_file")
  sed -e "s|@RAY_DASHBOARD_URL@|$RAY_DASHBOARD_URL|" -e "s|@RAY_SERVE_URL@|$RAY_SERVE_URL|" \
    -e "s|@RAY_POOL@|$RAY_POOL|" -e "s|@KEYS_FILE@|$keys_file|" \
    examples/real-ray/tiny.yaml | "${kubectl[@]}" apply -f -
  "${kubectl[@]}" wait --for=condition=Ready ndifdeployment/tiny --timeout=300s
  endpoint=$("${kubectl[@]}" get ndifdeployment tiny -o jsonpath='{.status.endpoint}')
  "${kubectl[@]}" get ndifdeployment tiny -o wide
  echo "run-local: POST $endpoint/generate"
  curl -fsS -H 'Content-Type: application/json' -d '{"prompt": "Ray Serve", "max_new_tokens": 8}' \
    "$endpoint/generate"
  echo
  "${kubectl[@]}" wait --for=condition=GatewayReady ndifcluster/local-ray --timeout=300s
  ndif_host=$("${kubectl[@]}" get ndifcluster local-ray -o jsonpath='{.status.gateway.url}')
  # What a researcher writes (examples/real-ray/trace.py), run as one: NDIF_HOST and NDIF_API_KEY
  # set, the model named by its repository id. HF_HOME is the head's cache (the config and
  # tokenizer a download would have left there) and HF_ENDPOINT the Hub stand-in's model-info.
  researcher_env=(NDIF_HOST="$ndif_host" NDIF_API_KEY="$api_key" HF_HOME="$HF_HOME" HF_ENDPOINT="$HF_ENDPOINT")
  echo "run-local: a researcher's remote trace (examples/real-ray/trace.py), NDIF_HOST=$ndif_host"
  env -u HF_HUB_OFFLINE "${researcher_env[@]}" "$RAY_PYTHON" examples/real-ray/trace.py
fi

echo
echo "run-local: the cluster is up. Try:"
echo "  export KUBECONFIG=$KUBECONFIG PATH=$NDIF_BIN_DIR:\$PATH"
echo "  kubectl get ndc -o yaml"
if $with_ray; then
  echo "  env NDIF_HOST=$ndif_host NDIF_API_KEY=\$(cat $key_file) \\"
  echo "    HF_HOME=$HF_HOME HF_ENDPOINT=$HF_ENDPOINT \\"
  echo "    $RAY_PYTHON examples/real-ray/trace.py"
  echo "  (the gateway's key file $keys_file holds your key's SHA-256)"
fi
if $with_observability; then
  echo
  # Prometheus's and Jaeger's web UIs are built apart from their Go modules: their APIs answer
  # here (or add them to Grafana as data sources); VictoriaLogs carries its UI.
  echo "run-local: where to look"
  echo "  Prometheus   curl -s '$PROMETHEUS_URL/api/v1/query?query=ndif_pool_gpus_allocated'"
  echo "               curl -s $PROMETHEUS_URL/api/v1/alerts"
  echo "  Jaeger       curl -s '$JAEGER_URL/api/traces?service=ndif-operator&limit=5'"
  echo "  VictoriaLogs $VICTORIALOGS_URL/select/vmui (LogsQL: app:=ndif-operator reconcileId:=<a span id>)"
  echo "  the operator's own /metrics: http://127.0.0.1:$metrics_port/metrics"
fi
echo "Stop it with: hack/local-cluster down$($with_ray && echo "; hack/local-ray down")$($with_observability && echo "; hack/local-observability down")"
