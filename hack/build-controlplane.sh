#!/usr/bin/env bash
# Builds the local control plane from Go modules: etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, kubectl, kwok, the KubeRay operator
# and helm; for the real node also kubelet, kube-proxy, CoreDNS and a pause
# process. Versions are pinned by the wrapper modules under hack/controlplane/.
# Binaries land in a cache keyed by those versions; a second run only checks them.
#
#   hack/build-controlplane.sh          build what is missing, print the bin dir last
#   hack/build-controlplane.sh --print  print the bin dir without building
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=hack/versions.sh
source "$here/versions.sh"

if [[ "${1:-}" == "--print" ]]; then
  echo "$NDIF_BIN_DIR"
  exit 0
fi

if ! command -v go >/dev/null 2>&1; then
  echo "build-controlplane: Go ${GO_MIN_VERSION} or newer is required (install it from your distribution or go.dev) and must be on PATH" >&2
  exit 1
fi

mkdir -p "$NDIF_BIN_DIR"
export CGO_ENABLED=0
export GOFLAGS="-mod=mod -trimpath"

build_date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
kube_pkgs=(client-go/pkg/version component-base/version)
kube_ldflags="-s -w"
for pkg in "${kube_pkgs[@]}"; do
  kube_ldflags+=" -X k8s.io/${pkg}.gitVersion=v${KUBE_VERSION}"
  kube_ldflags+=" -X k8s.io/${pkg}.gitMajor=${KUBE_VERSION%%.*}"
  minor=${KUBE_VERSION#*.}
  kube_ldflags+=" -X k8s.io/${pkg}.gitMinor=${minor%%.*}"
  kube_ldflags+=" -X k8s.io/${pkg}.gitTreeState=clean"
  kube_ldflags+=" -X k8s.io/${pkg}.buildDate=${build_date}"
done

# build NAME MODULE_DIR PACKAGE LDFLAGS
build() {
  local name=$1 dir=$2 pkg=$3 ldflags=$4
  if [[ -x "$NDIF_BIN_DIR/$name" ]]; then
    echo "  $name: cached"
    return
  fi
  local start=$SECONDS
  echo "  $name: building $pkg ..."
  (cd "$here/controlplane/$dir" && go build -ldflags "$ldflags" -o "$NDIF_BIN_DIR/$name.tmp" "$pkg")
  mv "$NDIF_BIN_DIR/$name.tmp" "$NDIF_BIN_DIR/$name"
  echo "  $name: built in $((SECONDS - start)) s"
}

total_start=$SECONDS
echo "build-controlplane: into $NDIF_BIN_DIR"
build etcd etcd go.etcd.io/etcd/server/v3 "-s -w"
build kwok kwok sigs.k8s.io/kwok/cmd/kwok "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=v${KWOK_VERSION}"
build ray-operator kuberay github.com/ray-project/kuberay/ray-operator "-s -w"
build helm helm helm.sh/helm/v3/cmd/helm "-s -w -X helm.sh/helm/v3/internal/version.version=v${HELM_VERSION}"
build coredns coredns github.com/coredns/coredns "-s -w"
build pause pause ndif.io/hack/controlplane/pause "-s -w"

# The Kubernetes binaries share most of their packages: one `go build` of all that are missing
# compiles them once and links them in parallel.
kube_missing=()
for name in kubectl kube-apiserver kube-scheduler kube-controller-manager kubelet kube-proxy; do
  [[ -x "$NDIF_BIN_DIR/$name" ]] && echo "  $name: cached" || kube_missing+=("k8s.io/kubernetes/cmd/$name")
done
if ((${#kube_missing[@]})); then
  start=$SECONDS
  echo "  building ${kube_missing[*]} ..."
  tmp=$(mktemp -d "$NDIF_BIN_DIR/.kube.XXXXXX")
  (cd "$here/controlplane/kube" && go build -ldflags "$kube_ldflags" -o "$tmp/" "${kube_missing[@]}")
  mv "$tmp"/* "$NDIF_BIN_DIR/"
  rmdir "$tmp"
  echo "  kubernetes binaries: built in $((SECONDS - start)) s"
fi

# KubeRay's CRDs come from the same module version the operator is built from.
crd_dir="$NDIF_BIN_DIR/../kuberay-crds"
if [[ ! -f "$crd_dir/ray.io_rayclusters.yaml" ]]; then
  mod_dir=$(cd "$here/controlplane/kuberay" && go mod download -json "github.com/ray-project/kuberay/ray-operator@v${KUBERAY_VERSION}" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  mkdir -p "$crd_dir"
  cp "$mod_dir"/config/crd/bases/ray.io_*.yaml "$crd_dir/"
  chmod u+w "$crd_dir"/*.yaml
  echo "  kuberay CRDs: copied from the module cache"
fi
# kwok's stock stages (node initialise and heartbeat, pod ready, complete and delete)
# come from the kwok module that the binary is built from.
stages="$NDIF_BIN_DIR/../kwok-stages.yaml"
if [[ ! -f "$stages" ]]; then
  kwok_dir=$(cd "$here/controlplane/kwok" && go mod download -json "sigs.k8s.io/kwok@v${KWOK_VERSION}" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
    pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
    echo "---"
    cat "$kwok_dir/kustomize/stage/$f"
  done >"$stages.tmp"
  mv "$stages.tmp" "$stages"
  echo "  kwok stages: copied from the module cache"
fi
# The real node's parts from Debian (containerd, runc, the CNI plugins, iptables, conntrack,
# socat, mmdebstrap) and its images (a pause image and a Debian root filesystem with python3 for
# the Ray pods), cached under $NDIF_CACHE_DIR/real-node-images; root only, as the node is.
if ((EUID == 0)); then
  start=$SECONDS
  "$here/real-node" images
  ((SECONDS - start < 2)) || echo "  real node: packages and images in $((SECONDS - start)) s"
fi
echo "build-controlplane: done in $((SECONDS - total_start)) s"
