#!/usr/bin/env bash
# Builds the real node's binaries once per version, like hack/control-plane/build.sh (same wrapper-module trick
# for k8s.io/kubernetes, see there), and caches them:
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

cache_root="${XDG_CACHE_HOME:-$HOME/.cache}/modelmonitor"
kubernetes_dir="$cache_root/node/k8s-${KUBERNETES_VERSION}"
containerd_dir="$cache_root/node/containerd-${CONTAINERD_VERSION}"
pause_dir="$cache_root/node/pause-${KUBERNETES_VERSION}"

export CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-mod=mod
export GOPROXY="${GOPROXY:-https://proxy.golang.org}"

log() { printf '[node] %s\n' "$*" >&2; }

new_wrapper_module() {  # new_wrapper_module <dir> <module name>
  rm -rf "$1" && mkdir -p "$1"
  (cd "$1" && go mod init "$2" >/dev/null 2>&1)
}

build_kubernetes() {
  local out="$kubernetes_dir" work="$cache_root/build/node-kubernetes-${KUBERNETES_VERSION}"
  if [[ -x "$out/kubelet" && -x "$out/kube-proxy" && -x "$out/kube-scheduler" ]]; then return; fi
  log "building kubelet, kube-proxy and kube-scheduler ${KUBERNETES_VERSION} (first time only; ~5-15 min on 2 cores)"
  new_wrapper_module "$work" modelmonitor.local/node-binaries
  local staging_version="v0.${KUBERNETES_VERSION#v1.}"
  local gomod modules
  gomod="$(go mod download -json "k8s.io/kubernetes@${KUBERNETES_VERSION}" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')"
  modules="$(sed -n 's|^[[:space:]]*\(k8s.io/[^ ]*\) => ./staging/src/k8s.io/.*|\1|p' "$gomod")"
  [[ -n "$modules" ]] || { log "no staging modules found in $gomod"; exit 1; }
  (
    cd "$work"
    for module in $modules; do
      go mod edit -replace="${module}=${module}@${staging_version}"
    done
    go mod edit -require="k8s.io/kubernetes@${KUBERNETES_VERSION}"
    go get "k8s.io/kubernetes/cmd/kubelet@${KUBERNETES_VERSION}" "k8s.io/kubernetes/cmd/kube-proxy@${KUBERNETES_VERSION}" \
           "k8s.io/kubernetes/cmd/kube-scheduler@${KUBERNETES_VERSION}"
    local major_minor="${KUBERNETES_VERSION#v}"; major_minor="${major_minor%.*}"
    local ldflags="-s -w"
    for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
      ldflags+=" -X ${pkg}.gitVersion=${KUBERNETES_VERSION} -X ${pkg}.gitMajor=${major_minor%%.*}"
      ldflags+=" -X ${pkg}.gitMinor=${major_minor#*.} -X ${pkg}.gitTreeState=clean"
    done
    mkdir -p "$out.partial"
    go build -trimpath -ldflags "$ldflags" -o "$out.partial/" \
      k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-proxy k8s.io/kubernetes/cmd/kube-scheduler
  )
  mkdir -p "$out"
  mv "$out.partial/kubelet" "$out.partial/kube-proxy" "$out.partial/kube-scheduler" "$out/"
  rmdir "$out.partial"
}

build_containerd() {
  local out="$containerd_dir" work="$cache_root/build/containerd-${CONTAINERD_VERSION}"
  if [[ -x "$out/containerd" && -x "$out/containerd-shim-runc-v2" && -x "$out/ctr" ]]; then return; fi
  log "building containerd ${CONTAINERD_VERSION} (first time only; ~2-4 min)"
  new_wrapper_module "$work" modelmonitor.local/containerd-binaries
  local module=github.com/containerd/containerd/v2
  (
    cd "$work"
    go get "${module}/cmd/containerd@${CONTAINERD_VERSION}" "${module}/cmd/containerd-shim-runc-v2@${CONTAINERD_VERSION}" \
           "${module}/cmd/ctr@${CONTAINERD_VERSION}"
    mkdir -p "$out.partial"
    go build -trimpath -tags "no_btrfs no_devmapper no_zfs" \
      -ldflags "-s -w -X ${module}/version.Version=${CONTAINERD_VERSION} -X ${module}/version.Package=${module}" \
      -o "$out.partial/" "${module}/cmd/containerd" "${module}/cmd/containerd-shim-runc-v2" "${module}/cmd/ctr"
  )
  mkdir -p "$out"
  mv "$out.partial/containerd" "$out.partial/containerd-shim-runc-v2" "$out.partial/ctr" "$out/"
  rmdir "$out.partial"
}

build_pause() {
  local out="$pause_dir"
  if [[ -x "$out/pause" ]]; then return; fi
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
