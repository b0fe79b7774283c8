#!/usr/bin/env bash
# Builds the real node's binaries once per version, like hack/control-plane/build.sh (the same wrapper-module
# builds: hack/lib/go-build.sh), and caches them:
#   $CACHE/node/k8s-<v>/{kubelet,kube-proxy,kube-scheduler}
#   $CACHE/node/containerd-<v>/{containerd,containerd-shim-runc-v2,ctr}
#   $CACHE/node/pause-<k8s v>/pause        (k8s.io/kubernetes' build/pause/linux/pause.c, static)
# runc and the CNI plugins come from Debian (runc, containernetworking-plugins; .ci/run installs them).
# A second run finds the binaries and builds nothing. Prints the three directories on stdout.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../control-plane/versions.env
source "$here/../control-plane/versions.env"
# shellcheck source=versions.env
source "$here/versions.env"

log() { printf '[node] %s\n' "$*" >&2; }
# shellcheck source=../lib/go-build.sh
source "$here/../lib/go-build.sh"   # sets cache_root and the Go environment

kubernetes_dir="$cache_root/node/k8s-${KUBERNETES_VERSION}"
containerd_dir="$cache_root/node/containerd-${CONTAINERD_VERSION}"
pause_dir="$cache_root/node/pause-${KUBERNETES_VERSION}"

build_kubernetes() {
  if have_binaries "$kubernetes_dir" kubelet kube-proxy kube-scheduler; then return; fi
  log "building kubelet, kube-proxy and kube-scheduler ${KUBERNETES_VERSION} (first time only; ~5-15 min on 2 cores)"
  go_build_kubernetes "$kubernetes_dir" "$cache_root/build/node-kubernetes-${KUBERNETES_VERSION}" \
    modelmonitor.local/node-binaries kubelet kube-proxy kube-scheduler
}

build_containerd() {
  if have_binaries "$containerd_dir" containerd containerd-shim-runc-v2 ctr; then return; fi
  log "building containerd ${CONTAINERD_VERSION} (first time only; ~2-4 min)"
  local work="$cache_root/build/containerd-${CONTAINERD_VERSION}" module=github.com/containerd/containerd/v2
  new_wrapper_module "$work" modelmonitor.local/containerd-binaries
  go_build_packages "$containerd_dir" "$work" -tags "no_btrfs no_devmapper no_zfs" \
    -ldflags "-s -w -X ${module}/version.Version=${CONTAINERD_VERSION} -X ${module}/version.Package=${module}" \
    -- "${module}/cmd/containerd@${CONTAINERD_VERSION}" "${module}/cmd/containerd-shim-runc-v2@${CONTAINERD_VERSION}" \
       "${module}/cmd/ctr@${CONTAINERD_VERSION}"
}

build_pause() {
  local out="$pause_dir"
  if have_binaries "$out" pause; then return; fi
  log "building the pause binary from k8s.io/kubernetes ${KUBERNETES_VERSION}"
  local source
  source="$(go mod download -json "k8s.io/kubernetes@${KUBERNETES_VERSION}" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  mkdir -p "$out"
  gcc -Os -static -Wall -o "$out/pause.partial" "$source/build/pause/linux/pause.c"
  strip "$out/pause.partial"
  mv "$out/pause.partial" "$out/pause"
}

what="${1:-all}"
case "$what" in
  kubernetes) build_kubernetes ;;
  containerd) build_containerd ;;
  pause) build_pause ;;
  all) build_pause; build_containerd; build_kubernetes ;;
  *) echo "usage: $0 [all|kubernetes|containerd|pause]" >&2; exit 2 ;;
esac
echo "$kubernetes_dir"
echo "$containerd_dir"
echo "$pause_dir"
