# Versions of the local control plane. Keep in step with hack/controlplane/*/go.mod.
KUBE_VERSION=1.36.3
ETCD_VERSION=3.6.16
KWOK_VERSION=0.8.0
KUBERAY_VERSION=1.6.1
HELM_VERSION=3.22.0
GO_MIN_VERSION=1.26

NDIF_CACHE_DIR=${NDIF_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ndif-operator}
NDIF_BIN_DIR=${NDIF_BIN_DIR:-$NDIF_CACHE_DIR/k8s-${KUBE_VERSION}_etcd-${ETCD_VERSION}_kwok-${KWOK_VERSION}_kuberay-${KUBERAY_VERSION}_helm-${HELM_VERSION}/bin}
# Observability backends (hack/build-observability.sh, hack/local-observability). Keep in step
# with hack/observability/*/go.mod.
PROMETHEUS_VERSION=0.316.0
JAEGER_VERSION=1.75.0
VICTORIALOGS_VERSION=1.52.2
NDIF_OBS_BIN_DIR=${NDIF_OBS_BIN_DIR:-$NDIF_CACHE_DIR/prometheus-${PROMETHEUS_VERSION}_jaeger-${JAEGER_VERSION}_victorialogs-${VICTORIALOGS_VERSION}/bin}
