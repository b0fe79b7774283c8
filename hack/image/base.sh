#!/usr/bin/env bash
# The Debian base image of the project's Dockerfile, made locally with mmdebstrap: no registry is contacted,
# only the machine's Debian mirror (its apt sources). Built once per (suite, package list) and cached:
#   rootfs tarball: $CACHE/base-image/<key>/rootfs.tar
#   podman image:   localhost/modelmonitor-base:<suite>-<key>
# Prints the image reference on stdout. A second run finds the image and does nothing (a removed podman image
# is re-imported from the cached tarball in seconds).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"
# shellcheck source=podman.sh
source "$here/podman.sh"

key="$(printf '%s\n%s\n' "$BASE_SUITE" "$BASE_PACKAGES" | sha256sum | cut -c1-12)"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/modelmonitor/base-image/${BASE_SUITE}-${key}"
image="localhost/modelmonitor-base:${BASE_SUITE}-${key}"
log() { printf '[base-image] %s\n' "$*" >&2; }

if podman image exists "$image"; then echo "$image"; exit 0; fi

if [[ ! -s "$cache/rootfs.tar" ]]; then
  log "building the ${BASE_SUITE} base image with mmdebstrap (first time only; ~3 min)"
  mkdir -p "$cache"
  # minbase + the listed packages; no documentation, man pages, locales or apt lists in the image.
  mmdebstrap --variant=minbase --format=tar --include="$BASE_PACKAGES" \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-exclude=/usr/share/info/*' \
    --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/* "$1"/var/log/*' \
    "$BASE_SUITE" "$cache/rootfs.tar.partial"
  mv "$cache/rootfs.tar.partial" "$cache/rootfs.tar"
fi
log "importing $cache/rootfs.tar as $image"
podman import --quiet --change 'CMD ["python3"]' --change 'ENV LANG=C.UTF-8' "$cache/rootfs.tar" "$image" >/dev/null
echo "$image"
