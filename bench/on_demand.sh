#!/usr/bin/env bash
# Models on demand, end to end on this machine (loopback only): the local control plane, the
# packaged operator, a Ray head from PyPI (hack/local-ray) adopted by an NdifCluster with
# spec.onDemand, and a GPT-2 of random weights (about 1 GB in float32 by default) in the head's
# Hugging Face cache. With nnsight's own client, written as a researcher writes it, it measures:
#   load   the model's own load time (ndif_serve's LoadedModel.load in a fresh process)
#   hot    a trace once the model is served (the client's and the gateway's own cost)
#   cold   the first trace when nothing serves the model: created, placed, deployed, loaded, run
#   again  the first trace after the model idled out and its deployment was deleted
# and the on-demand overhead, cold - load - hot (the target is at most 3 s). Then the cluster's
# warm tier is turned on, and the same cycle is run again: the first trace after an idle-out
# comes back warm (warm), against again (cold) of the same run; with each replica's own load
# time as it reports it (/info load_seconds), cold and warm.
#
#   bench/on_demand.sh [--width 1024] [--layers 20]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
width=1024 layers=20
while [[ $# -gt 0 ]]; do
  case "$1" in
    --width) width=$2; shift 2 ;;
    --layers) layers=$2; shift 2 ;;
    *) echo "usage: bench/on_demand.sh [--width N] [--layers N]" >&2; exit 2 ;;
  esac
done
# shellcheck source=hack/versions.sh
source hack/versions.sh
log() { echo "on-demand: $*" >&2; }

state=$(mktemp -d)
export NDIF_CLUSTER_DIR=$state/local-cluster NDIF_RAY_DIR=$state/local-ray
operator_pid=""
cleanup() {
  [[ -n $operator_pid ]] && kill "$operator_pid" 2>/dev/null || true
  hack/local-ray down || true
  hack/local-cluster down || true
}
trap cleanup EXIT

hack/build-controlplane.sh >/dev/null
hack/local-cluster up >/dev/null
export KUBECONFIG=$NDIF_CLUSTER_DIR/admin.kubeconfig
kubectl=("$NDIF_BIN_DIR/kubectl")
mvn -B -q -DskipTests package
"${kubectl[@]}" apply --server-side -f crds/ >/dev/null
NDIF_RAY_OBJECT_STORE_BYTES=3000000000 hack/local-ray up
# shellcheck disable=SC1090
source <(hack/local-ray env)
model=ndif-local/bench-gpt2-${width}x${layers}
log "writing $model (random weights) into the head's cache"
HF_HUB_OFFLINE=1 "$RAY_PYTHON" -m ndif_serve.tiny --hub-cache "$HF_HOME/hub" --repo-id "$model" \
  --width "$width" --layers "$layers" >/dev/null 2>&1
size=$(du -sbL "$HF_HOME/hub/models--${model//\//--}/snapshots" | cut -f1)

api_key=$(openssl rand -hex 16)
keys_file=$state/api-keys.yaml
{ echo "keys:"; echo "$api_key" | "$RAY_PYTHON" -m ndif_serve.apikey entry --name bench; } >"$keys_file"
DASHBOARD_ACCESS=proxy PROMETHEUS_PORT=0 java -jar target/ndif-operator.jar >"$state/operator.log" 2>&1 &
operator_pid=$!
"${kubectl[@]}" apply -f - >/dev/null <<YAML
apiVersion: ndif.io/v1alpha1
kind: NdifCluster
metadata: {name: bench}
spec:
  external: {dashboardUrl: "$RAY_DASHBOARD_URL", serveUrl: "$RAY_SERVE_URL"}
  gateway: {cpus: 0.25, auth: {keysFile: "$keys_file"}}
  pools:
  - {name: "$RAY_POOL", gpusPerNode: 1, gpuMemory: 16Gi, nodes: 1}
  onDemand:
    models:
    - {repoId: "ndif-local/*", sizeBytes: 4Gi, dtype: float32, resources: {cpus: 1}}
    idleSeconds: 30
    maxWaitSeconds: 600
YAML
"${kubectl[@]}" wait --for=condition=GatewayReady ndifcluster/bench --timeout=300s >/dev/null

log "the model's own load time"
load=$(HF_HUB_OFFLINE=1 "$RAY_PYTHON" - "$model" <<'PY'
import sys, time
from ndif_serve.model import LoadedModel
from ndif_serve.settings import ModelSettings
started = time.monotonic()
LoadedModel.load(ModelSettings.from_args({"repo_id": sys.argv[1], "dtype": "float32"}))
print(round(time.monotonic() - started, 3))
PY
)
trace() {
  local out=$state/trace.out
  if ! env -u HF_HUB_OFFLINE NDIF_HOST="$RAY_SERVE_URL" NDIF_API_KEY="$api_key" HF_HOME="$HF_HOME" \
    HF_ENDPOINT="$HF_ENDPOINT" "$RAY_PYTHON" bench/on_demand_trace.py "$model" >"$out" 2>&1; then
    log "the trace failed:"; tail -n 20 "$out" >&2; exit 1
  fi
  tail -n 1 "$out" | "$RAY_PYTHON" -c 'import json, sys; print(json.load(sys.stdin)["seconds"])'
}
log "cold: the first trace, nothing serves $model"
cold=$(trace)
log "hot: the model is served"
hot=$(trace)
hot2=$(trace)
idle_out() {
  log "waiting for the model to idle out (30 s) and its deployment to be deleted"
  for _ in $(seq 120); do
    [[ -z $("${kubectl[@]}" get ndd -l ndif.io/on-demand=true -o name) ]] && break
    sleep 2
  done
  [[ -z $("${kubectl[@]}" get ndd -l ndif.io/on-demand=true -o name) ]] || { log "it did not idle out"; exit 1; }
  # Its application leaves Ray when the operator writes the next config.
  sleep 5
}
idle_out
# A node's cold start reads the weights from its disk (or downloads them); here they would sit in
# the page cache since the last load, so the model's files are dropped from it first.
drop_cached() {
  "$RAY_PYTHON" - "$HF_HOME/hub/models--${model//\//--}" <<'PY'
import os, sys
for root, _, files in os.walk(sys.argv[1]):
    for name in files:
        fd = os.open(os.path.join(root, name), os.O_RDONLY)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        os.close(fd)
PY
}
log "again: the first trace after the idle-out (its files out of the page cache)"
drop_cached
again=$(trace)
replica_load() {
  local endpoint
  endpoint=$("${kubectl[@]}" get ndd -l ndif.io/on-demand=true -o jsonpath='{.items[0].status.endpoint}')
  curl -s "$endpoint/info" | "$RAY_PYTHON" -c 'import json, sys; i = json.load(sys.stdin); print(i["load_source"], i["load_seconds"])'
}
read -r again_source again_load < <(replica_load)
idle_out
log "turning the warm tier on"
"${kubectl[@]}" patch ndifcluster bench --type merge -p '{"spec": {"warmTier": {"budget": "4Gi"}}}' >/dev/null
sleep 10
log "with the warm tier: a cold first trace, then an idle-out keeps the weights"
trace >/dev/null
idle_out
log "warm: the first trace after the idle-out, from the node's copy (files out of the page cache)"
drop_cached
warm=$(trace)
read -r warm_source warm_load < <(replica_load)
[[ $warm_source == warm ]] || { log "the replica loaded $warm_source, not warm"; exit 1; }

"$RAY_PYTHON" - "$model" "$size" "$load" "$cold" "$hot" "$hot2" "$again" "$warm" \
  "$again_load" "$warm_load" <<'PY'
import json, sys
model, size = sys.argv[1], int(sys.argv[2])
load, cold, hot, hot2, again, warm, again_load, warm_load = map(float, sys.argv[3:])
hot = min(hot, hot2)
result = {
    "model": model, "weights_bytes": size, "load_s": load, "hot_s": hot, "cold_s": cold,
    "again_s": again, "warm_s": warm, "overhead_s": round(cold - load - hot, 3),
    "again_overhead_s": round(again - load - hot, 3),
    "replica_load_cold_s": again_load, "replica_load_warm_s": warm_load,
    "warm_over_cold_readmission": round(warm / again, 3),
    "warm_over_cold_load": round(warm_load / again_load, 3),
}
print(json.dumps(result))
print(f"| {model} ({size / 2**30:.2f} GiB) | {load:.2f} s | {hot:.2f} s | {cold:.2f} s | "
      f"{again:.2f} s | {warm:.2f} s | {again_load:.2f} s | {warm_load:.2f} s |")
PY
