#!/usr/bin/env bash
# `make image`: builds the project's Dockerfile with podman (no Docker daemon, no registry) on the locally made
# Debian base image (hack/image/base.sh), tagged localhost/modelmonitor-operator:<project version>.
#
# - --no-cache: buildah 1.28 (Debian 12) reused stale layers (old code under the same image id after a source
#   change); every build is therefore from scratch, and a host folder mounted as pip's cache keeps it quick.
# - The host's CA bundle is mounted read-only: package downloads may pass a TLS-intercepting proxy.
# - --network=host: the build only downloads wheels (PyPI, or the index pip is configured for).
# Prints the image reference and its id on stdout.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
# shellcheck source=podman.sh
source "$here/podman.sh"

version="$(sed -n 's/^version = "\(.*\)"$/\1/p' "$repo/pyproject.toml" | head -n1)"
image="${IMAGE:-localhost/modelmonitor-operator:${version}}"
base="$("$here/base.sh")"
pip_cache="${XDG_CACHE_HOME:-$HOME/.cache}/modelmonitor/pip-image"
mkdir -p "$pip_cache"
ca_bundle=/etc/ssl/certs/ca-certificates.crt
mounts=(-v "$pip_cache:/root/.cache/pip")
if [[ -s "$ca_bundle" ]]; then mounts+=(-v "$ca_bundle:/etc/ssl/certs/ca-certificates.crt:ro"); fi
pip_env=()
for name in PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_TRUSTED_HOST; do
  if [[ -n "${!name:-}" ]]; then pip_env+=(--env "$name=${!name}"); fi
done

# The build's inputs: the base image and every file of the build context (what .dockerignore admits). An image
# built from the same inputs carries their digest as a label, and is kept as it is (a warm `make image` is a
# no-op); --no-cache applies whenever anything changed.
inputs="$(
  cd "$repo"
  podman image inspect --format '{{.Id}}' "$base"
  find Dockerfile constraints.txt pyproject.toml README.md operator -type f \
    ! -path '*/__pycache__/*' ! -name '*.pyc' ! -path '*.egg-info/*' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
)"
digest="$(printf '%s\n%s\n' "$version" "$inputs" | sha256sum | cut -c1-32)"
if [[ "${FORCE:-0}" != 1 ]] && podman image exists "$image" \
   && [[ "$(podman image inspect --format '{{index .Labels "io.modelmonitor.build-inputs"}}' "$image")" == "$digest" ]]; then
  printf '[image] %s is up to date (inputs %s)\n' "$image" "$digest" >&2
  echo "$image"
  podman image inspect --format '{{.Id}}' "$image"
  exit 0
fi

printf '[image] building %s on %s\n' "$image" "$base" >&2
started=$(date +%s)
podman build --quiet --no-cache --network=host "${mounts[@]}" "${pip_env[@]}" \
  --build-arg "PYTHON_IMAGE=$base" --build-arg "VERSION=$version" \
  --label "org.opencontainers.image.base.name=$base" --label "io.modelmonitor.build-inputs=$digest" \
  -f "$repo/Dockerfile" -t "$image" "$repo" >/dev/null
id="$(podman image inspect --format '{{.Id}}' "$image")"
size="$(podman image inspect --format '{{.Size}}' "$image")"
printf '[image] %s (id %.12s, %d MB) built in %d s\n' "$image" "$id" $((size / 1000000)) $(($(date +%s) - started)) >&2
podman image prune --force >/dev/null 2>&1 || true   # the untagged build stage and replaced images
echo "$image"
echo "$id"
