#!/usr/bin/env bash
# Builds kube-apiserver, kube-controller-manager, etcd and MinIO from their Go modules, once per version.
#
# How (a throwaway wrapper module per build, because k8s.io/kubernetes and etcd's server module carry replace
# directives that `go install ...@version` refuses): hack/lib/go-build.sh, shared with hack/node/build.sh.
#
# Output: $CACHE/control-plane/k8s-<v>_etcd-<v>/{kube-apiserver,kube-controller-manager,etcd}
#         $CACHE/minio/<v>/minio
# A second run finds the binaries and builds nothing. Prints the two directories on stdout.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"

log() { printf '[control-plane] %s\n' "$*" >&2; }
# shellcheck source=../lib/go-build.sh
source "$here/../lib/go-build.sh"   # sets cache_root and the Go environment

control_plane_dir="$cache_root/control-plane/k8s-${KUBERNETES_VERSION}_etcd-${ETCD_VERSION}"
minio_dir="$cache_root/minio/${MINIO_VERSION}"

build_kubernetes() {
  if have_binaries "$control_plane_dir" kube-apiserver kube-controller-manager; then return; fi
  log "building kube-apiserver and kube-controller-manager ${KUBERNETES_VERSION} (first time only; ~15-30 min on 2 cores)"
  go_build_kubernetes "$control_plane_dir" "$cache_root/build/kubernetes-${KUBERNETES_VERSION}" \
    modelmonitor.local/kubernetes-binaries kube-apiserver kube-controller-manager
}

build_etcd() {
  if have_binaries "$control_plane_dir" etcd; then return; fi
  log "building etcd ${ETCD_VERSION}"
  local work="$cache_root/build/etcd-${ETCD_VERSION}"
  new_wrapper_module "$work" modelmonitor.local/etcd-binary
  go_build_binary "$control_plane_dir/etcd" "$work" -ldflags "-s -w" -- "go.etcd.io/etcd/server/v3@${ETCD_VERSION}"
}

build_minio() {
  if have_binaries "$minio_dir" minio; then return; fi
  log "building minio ${MINIO_VERSION}"
  local work="$cache_root/build/minio-${MINIO_VERSION}"
  new_wrapper_module "$work" modelmonitor.local/minio-binary
  go_build_binary "$minio_dir/minio" "$work" -tags kqueue -ldflags "-s -w" -- "github.com/minio/minio@${MINIO_VERSION}"
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
