#!/usr/bin/env bash
# The operator's image, built and run without a registry or a Docker engine (root, Debian's
# buildah, skopeo, umoci and runc, installed on first use):
#
#   hack/image.sh base                   the packages and the base only (what comes from Debian's
#                                        archive: hack/test.sh makes it before the tests' watch)
#   hack/image.sh build                  the base (a Debian bookworm root filesystem with
#                                        OpenJDK 17's JRE, made with mmdebstrap, cached), then the
#                                        Dockerfile with JAR_FROM=context (mvn package first);
#                                        prints the image's size
#   hack/image.sh run KUBECONFIG NAMESPACE PORT
#                                        runs the image with runc as Kubernetes would: user 65532,
#                                        read-only root filesystem, /tmp a tmpfs, the kubeconfig
#                                        mounted read-only; host network, /metrics on 127.0.0.1:PORT;
#                                        prints the container's id; logs in the state directory
#   hack/image.sh exec ID COMMAND...     runs COMMAND in that container, as its user
#   hack/image.sh stop ID                stops and deletes that container
#
# Environment: NDIF_IMAGE_DIR (state: buildah's storage, bundles; default under the cache).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
project=$(cd "$here/.." && pwd)
# shellcheck source=hack/versions.sh
source "$here/versions.sh"

IMAGE=localhost/ndif-operator:dev
BASE_PACKAGES=openjdk-17-jre-headless,ca-certificates
BASE_TAG=bookworm-$(echo "$BASE_PACKAGES" | sha256sum | cut -c1-8)
BASE_IMAGE=localhost/ndif-jre17:$BASE_TAG
STATE=${NDIF_IMAGE_DIR:-$NDIF_CACHE_DIR/image}
RUNC_ROOT=/run/ndif-operator-runc
# vfs works wherever buildah runs (overlay needs a kernel and filesystem that allow it).
BUILDAH=(buildah --root "$STATE/storage" --runroot /run/ndif-operator-buildah --storage-driver vfs)

log() { echo "image: $*" >&2; }
die() {
  log "$*"
  exit 1
}

((EUID == 0)) || die "needs root (buildah and runc without a rootless setup)"

packages() {
  local missing=()
  for tool in buildah:buildah skopeo:skopeo umoci:umoci runc:runc mmdebstrap:mmdebstrap; do
    command -v "${tool%%:*}" >/dev/null || missing+=("${tool#*:}")
  done
  if ((${#missing[@]})); then
    log "installing ${missing[*]} from Debian"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"; } >"$STATE/apt.log" 2>&1 ||
      { tail "$STATE/apt.log" >&2; die "apt-get install ${missing[*]} failed"; }
  fi
}

base() {
  if "${BUILDAH[@]}" images --quiet "$BASE_IMAGE" >/dev/null 2>&1; then
    return
  fi
  local start=$SECONDS rootfs=$STATE/jre-rootfs.tar ctr
  log "making the base image $BASE_IMAGE: Debian bookworm with $BASE_PACKAGES (mmdebstrap)"
  mmdebstrap --quiet --variant=minbase --include="$BASE_PACKAGES" \
    --customize-hook='rm -rf "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/*' \
    bookworm "$rootfs" >"$STATE/mmdebstrap.log" 2>&1 ||
    { tail "$STATE/mmdebstrap.log" >&2; die "mmdebstrap failed"; }
  ctr=$("${BUILDAH[@]}" from scratch)
  "${BUILDAH[@]}" add "$ctr" "$rootfs" / >/dev/null
  "${BUILDAH[@]}" config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --cmd /bin/sh "$ctr"
  "${BUILDAH[@]}" commit --quiet "$ctr" "$BASE_IMAGE" >/dev/null
  "${BUILDAH[@]}" rm "$ctr" >/dev/null
  rm -f "$rootfs"
  log "base image made in $((SECONDS - start)) s"
}

build() {
  mkdir -p "$STATE"
  packages
  base
  if [[ ! -f "$project/target/ndif-operator.jar" || ! -d "$project/target/lib" ]]; then
    log "packaging the operator (mvn package)"
    (cd "$project" && mvn -B -q -DskipTests package)
  fi
  local start=$SECONDS
  "${BUILDAH[@]}" bud --quiet --layers=false --build-arg "RUNTIME_IMAGE=$BASE_IMAGE" \
    --build-arg JAR_FROM=context -t "$IMAGE" -f "$project/Dockerfile" "$project" >"$STATE/build.log" 2>&1 ||
    { tail -n 30 "$STATE/build.log" >&2; die "buildah bud failed"; }
  local size
  size=$("${BUILDAH[@]}" images --format '{{.Size}}' "$IMAGE" | head -n 1)
  log "built $IMAGE in $((SECONDS - start)) s; size $size (base $BASE_IMAGE)"
  echo "$size"
}

# The image as an OCI runtime bundle, unpacked by umoci; config.json adjusted as a pod spec with
# runAsNonRoot, readOnlyRootFilesystem and a kubeconfig Secret would make it.
bundle() {
  local kubeconfig=$1 namespace=$2 port=$3 dir=$4
  rm -rf "$dir"
  mkdir -p "$dir"
  "${BUILDAH[@]}" push --quiet "$IMAGE" "oci:$dir/oci:dev" >/dev/null
  umoci unpack --image "$dir/oci:dev" "$dir/bundle" >/dev/null
  rm -rf "$dir/oci"
  mkdir -p "$dir/secrets"
  # Certificates embedded: the container sees only this file.
  "$NDIF_BIN_DIR/kubectl" --kubeconfig "$kubeconfig" config view --flatten --minify >"$dir/secrets/kubeconfig"
  chown -R 65532:65532 "$dir/secrets"
  chmod 0400 "$dir/secrets/kubeconfig"
  python3 - "$dir/bundle/config.json" "$dir/secrets" "$namespace" "$port" <<'PY'
import json, sys
path, secrets, namespace, port = sys.argv[1:]
config = json.load(open(path))
process = config["process"]
assert process["user"]["uid"] == 65532, process["user"]
process["terminal"] = False
process["env"] += [
    "KUBECONFIG=/etc/ndif/kubeconfig",
    "WATCH_NAMESPACES=" + namespace,
    "METRICS_HOST=127.0.0.1",
    "PROMETHEUS_PORT=" + port,
    "DASHBOARD_ACCESS=proxy",
]
config["root"]["readonly"] = True
# The host's network: the API server and the probes are on its loopback.
config["linux"]["namespaces"] = [n for n in config["linux"]["namespaces"] if n["type"] != "network"]
config["mounts"] += [
    {"destination": "/etc/ndif", "type": "bind", "source": secrets, "options": ["rbind", "ro"]},
    {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
     "options": ["nosuid", "nodev", "mode=1777", "size=64m"]},
    {"destination": "/etc/resolv.conf", "type": "bind", "source": "/etc/resolv.conf",
     "options": ["rbind", "ro"]},
]
json.dump(config, open(path, "w"), indent=2)
PY
}

run() {
  [[ $# -eq 3 ]] || die "usage: hack/image.sh run KUBECONFIG NAMESPACE PORT"
  "${BUILDAH[@]}" images --quiet "$IMAGE" >/dev/null 2>&1 || die "no image $IMAGE: hack/image.sh build"
  local id dir
  id=ndif-operator-$$-$RANDOM
  dir=$STATE/containers/$id
  bundle "$1" "$2" "$3" "$dir"
  runc --root "$RUNC_ROOT" run --detach --bundle "$dir/bundle" \
    --pid-file "$dir/pid" "$id" >"$dir/container.log" 2>&1 </dev/null ||
    { cat "$dir/container.log" >&2; die "runc run failed"; }
  log "running $IMAGE as $id (log $dir/container.log)"
  echo "$id"
}

stop() {
  [[ $# -eq 1 ]] || die "usage: hack/image.sh stop ID"
  runc --root "$RUNC_ROOT" kill "$1" TERM 2>/dev/null || true
  for _ in $(seq 50); do
    runc --root "$RUNC_ROOT" state "$1" 2>/dev/null | grep -q '"status": "stopped"' && break
    sleep 0.2
  done
  runc --root "$RUNC_ROOT" delete --force "$1" 2>/dev/null || true
  rm -rf "$STATE/containers/$1"
}

case "${1:-}" in
  base)
    mkdir -p "$STATE"
    packages
    base
    ;;
  build) build ;;
  run) shift; run "$@" ;;
  exec) shift; id=$1; shift; runc --root "$RUNC_ROOT" exec "$id" "$@" ;;
  stop) shift; stop "$@" ;;
  *) die "usage: hack/image.sh base | build | run KUBECONFIG NAMESPACE PORT | exec ID COMMAND... | stop ID" ;;
esac
