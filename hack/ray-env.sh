#!/usr/bin/env bash
# A Python virtual environment with Ray Serve, torch, transformers and nnsight from PyPI (versions
# in serve/constraints.txt) and the serve/ package, for the real-Ray tests and hack/local-ray.
#
#   hack/ray-env.sh            create or update it, then print nothing but errors
#   hack/ray-env.sh --print    print its directory (create it first if needed)
#
# The environment is cached under ~/.cache/ndif-operator keyed by the constraints; the serve/
# package is reinstalled on every call so it always matches the checkout.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
# shellcheck source=hack/versions.sh
source "$here/versions.sh"

PYTHON=${NDIF_PYTHON:-python3}
constraints="$root/serve/constraints.txt"
log() { echo "ray-env: $*" >&2; }

if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  log "Python 3.11 or newer is required ($PYTHON: $("$PYTHON" --version 2>&1 || echo missing))"
  exit 1
fi

# Keyed by what is installed (constraints and the package's dependencies), not by the rest of
# pyproject.toml, so that editing test settings does not rebuild several GB.
requirements() {
  "$PYTHON" - "$root/serve/pyproject.toml" <<'PY'
import sys, tomllib
project = tomllib.load(open(sys.argv[1], "rb"))["project"]
print("\n".join(["setuptools>=68"] + project["dependencies"] + project["optional-dependencies"]["test"]))
PY
}
key=$({ cat "$constraints"; requirements; } | sha256sum | cut -c1-12)
VENV=${NDIF_RAY_VENV:-$NDIF_CACHE_DIR/ray-venv-$key}

if [[ ! -f "$VENV/.complete" ]]; then
  log "creating $VENV (ray[serve], torch, transformers, nnsight from PyPI; several GB the first time)"
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
  # The package's dependencies first, pinned by the constraints; the package itself below.
  requirements >"$VENV/requirements.txt"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -c "$constraints" -r "$VENV/requirements.txt"
  touch "$VENV/.complete"
fi

"$VENV/bin/pip" install --quiet --disable-pip-version-check --no-deps --force-reinstall \
  --no-build-isolation "$root/serve"
rm -rf "$root/serve/build"

if [[ "${1:-}" == "--print" ]]; then
  echo "$VENV"
fi
