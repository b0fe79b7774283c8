#!/usr/bin/env bash
# Builds kube-apiserver, kube-controller-manager, etcd and MinIO from their Go modules, once per version.
#
# Why a wrapper module: k8s.io/kubernetes requires its staging modules (k8s.io/api, ...) at v0.0.0 and maps
# them to ./staging with replace directives, which only the main module may use; `go install ...@version`
# therefore cannot build it. We generate a throwaway main module that requires k8s.io/kubernetes at the
# pinned release and replaces every staging module by its published version of the same release
# (the approach of cluster-autoscaler and scheduler-plugins). etcd's server module has replace directives too,
# so it gets the same treatment (its sibling modules are published at the same tag).
#
# Output: $CACHE/control-plane/k8s-<v>_etcd-<v>/{kube-apiserver,kube-controller-manager,etcd}
#         $CACHE/minio/<v>/minio
# A second run finds the binaries and builds nothing. Prints the two directories on stdout.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"

cache_root="${XDG_CACHE_HOME:-$HOME/.cache}/modelmonitor"
control_plane_dir="$cache_root/control-plane/k8s-${KUBERNETES_VERSION}_etcd-${ETCD_VERSION}"
minio_dir="$cache_root/minio/${MINIO_VERSION}"

export CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-mod=mod
export GOPROXY="${GOPROXY:-https://proxy.golang.org}"

log() { printf '[control-plane] %s\n' "$*" >&2; }

new_wrapper_module() {  # new_wrapper_module <dir> <module name>
  rm -rf "$1" && mkdir -p "$1"
  (cd "$1" && go mod init "$2" >/dev/null 2>&1)
}

build_kubernetes() {
  local out="$control_plane_dir" work="$cache_root/build/kubernetes-${KUBERNETES_VERSION}"
  if [[ -x "$out/kube-apiserver" && -x "$out/kube-controller-manager" ]]; then return; fi
  log "building kube-apiserver and kube-controller-manager ${KUBERNETES_VERSION} (first time only; ~15-30 min on 2 cores)"
  new_wrapper_module "$work" modelmonitor.local/kubernetes-binaries
  local minor="${KUBERNETES_VERSION#v1.}"   # 37.2
  local staging_version="v0.${minor}"
  local gomod
  gomod="$(go mod download -json "k8s.io/kubernetes@${KUBERNETES_VERSION}" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')"
  local modules
  modules="$(sed -n 's|^[[:space:]]*\(k8s.io/[^ ]*\) => ./staging/src/k8s.io/.*|\1|p' "$gomod")"
  [[ -n "$modules" ]] || { log "no staging modules found in $gomod"; exit 1; }
  (
    cd "$work"
    for module in $modules; do
      go mod edit -replace="${module}=${module}@${staging_version}"
    done
    go mod edit -require="k8s.io/kubernetes@${KUBERNETES_VERSION}"
    go get "k8s.io/kubernetes/cmd/kube-apiserver@${KUBERNETES_VERSION}" \
           "k8s.io/kubernetes/cmd/kube-controller-manager@${KUBERNETES_VERSION}"
    local major_minor="${KUBERNETES_VERSION#v}"; major_minor="${major_minor%.*}"
    local ldflags="-s -w"
    for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
      ldflags+=" -X ${pkg}.gitVersion=${KUBERNETES_VERSION} -X ${pkg}.gitMajor=${major_minor%%.*}"
      ldflags+=" -X ${pkg}.gitMinor=${major_minor#*.} -X ${pkg}.gitTreeState=clean"
    done
    mkdir -p "$out.partial"
    go build -trimpath -ldflags "$ldflags" -o "$out.partial/" \
      k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager
  )
  mkdir -p "$out"
  mv "$out.partial/kube-apiserver" "$out.partial/kube-controller-manager" "$out/"
  rmdir "$out.partial"
}

build_etcd() {
  local out="$control_plane_dir" work="$cache_root/build/etcd-${ETCD_VERSION}"
  if [[ -x "$out/etcd" ]]; then return; fi
  log "building etcd ${ETCD_VERSION}"
  new_wrapper_module "$work" modelmonitor.local/etcd-binary
  (
    cd "$work"
    go get "go.etcd.io/etcd/server/v3@${ETCD_VERSION}"
    mkdir -p "$out"
    go build -trimpath -ldflags "-s -w" -o "$out/etcd.partial" go.etcd.io/etcd/server/v3
  )
  mv "$out/etcd.partial" "$out/etcd"
}

build_minio() {
  local out="$minio_dir" work="$cache_root/build/minio-${MINIO_VERSION}"
  if [[ -x "$out/minio" ]]; then return; fi
  log "building minio ${MINIO_VERSION}"
  new_wrapper_module "$work" modelmonitor.local/minio-binary
  (
    cd "$work"
    go get "github.com/minio/minio@${MINIO_VERSION}"
    mkdir -p "$out"
    go build -trimpath -tags kqueue -ldflags "-s -w" -o "$out/minio.partial" github.com/minio/minio
  )
  mv "$out/minio.partial" "$out/minio"
}

what="${1:-all}"
case "$what" in
  kubernetes) build_kubernetes ;;
  etcd) build_etcd ;;
  minio) build_minio ;;
  all) build_etcd; build_kubernetes; build_minio ;;
  *) echo "usage: $0 [all|kubernetes|etcd|minio]" >&2; exit 2 ;;
esac
echo "$control_plane_dir"
echo "$minio_dir"
