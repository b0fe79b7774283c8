# shellcheck shell=bash
# Building binaries from Go modules through a throwaway wrapper module, shared by hack/control-plane/build.sh
# and hack/node/build.sh (sourced, not run). One copy, so the two builds cannot drift apart.
#
# Why a wrapper module: k8s.io/kubernetes requires its staging modules (k8s.io/api, ...) at v0.0.0 and maps
# them to ./staging with replace directives, which only the main module may use; `go install ...@version`
# therefore cannot build it. We generate a throwaway main module that requires k8s.io/kubernetes at the
# pinned release and replaces every staging module by its published version of the same release
# (the approach of cluster-autoscaler and scheduler-plugins). Other modules with replace directives of their
# own (etcd's server) are built the same way.
#
# The caller defines `log` and sources its versions.env (KUBERNETES_VERSION, ...) first. Sourcing sets
# cache_root (the directories below it are the caches' keys: they change only with a version) and the Go
# environment of every build (static binaries, the local toolchain, a module proxy).
# Every build writes next to its final place and moves the binaries in only once all are built, so an
# interrupted build never leaves a binary that a later run would take as finished.

cache_root="${XDG_CACHE_HOME:-$HOME/.cache}/modelmonitor"

export CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-mod=mod
export GOPROXY="${GOPROXY:-https://proxy.golang.org}"

have_binaries() {  # have_binaries <dir> <binary>...: whether every binary is built already
  local dir="$1" binary
  shift
  for binary in "$@"; do
    [[ -x "$dir/$binary" ]] || return 1
  done
}

new_wrapper_module() {  # new_wrapper_module <dir> <module name>
  rm -rf "$1" && mkdir -p "$1"
  (cd "$1" && go mod init "$2" >/dev/null 2>&1)
}

# go_build_packages <out dir> <work dir> [go build flags...] -- <package>@<version>...
# In the wrapper module <work dir>: requires every package at its version, builds them all into
# <out dir>.partial/ and moves the binaries (named by go build after each package) into <out dir>.
go_build_packages() {
  local out="$1" work="$2"
  shift 2
  local flags=() packages=() binaries=() package path
  while [[ "$1" != "--" ]]; do flags+=("$1"); shift; done
  shift
  for package in "$@"; do
    path="${package%@*}"
    packages+=("$path")
    binaries+=("$out.partial/${path##*/}")
  done
  (
    cd "$work"
    go get "$@"
    mkdir -p "$out.partial"
    go build -trimpath "${flags[@]}" -o "$out.partial/" "${packages[@]}"
  )
  mkdir -p "$out"
  mv "${binaries[@]}" "$out/"
  rmdir "$out.partial"
}

# go_build_binary <out file> <work dir> [go build flags...] -- <package>@<version>
# One binary under a name of its own (go build would name go.etcd.io/etcd/server/v3 "server").
go_build_binary() {
  local out="$1" work="$2"
  shift 2
  local flags=()
  while [[ "$1" != "--" ]]; do flags+=("$1"); shift; done
  shift
  (
    cd "$work"
    go get "$1"
    mkdir -p "$(dirname "$out")"
    go build -trimpath "${flags[@]}" -o "$out.partial" "${1%@*}"
  )
  mv "$out.partial" "$out"
}

# go_build_kubernetes <out dir> <work dir> <wrapper module name> <command>...
# Builds k8s.io/kubernetes/cmd/<command> at KUBERNETES_VERSION, each staging module replaced by its release.
go_build_kubernetes() {
  local out="$1" work="$2" wrapper="$3"
  shift 3
  new_wrapper_module "$work" "$wrapper"
  local staging_version="v0.${KUBERNETES_VERSION#v1.}"   # v1.37.2 -> v0.37.2
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
  )
  local major_minor="${KUBERNETES_VERSION#v}"; major_minor="${major_minor%.*}"
  local ldflags="-s -w" pkg command packages=()
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X ${pkg}.gitVersion=${KUBERNETES_VERSION} -X ${pkg}.gitMajor=${major_minor%%.*}"
    ldflags+=" -X ${pkg}.gitMinor=${major_minor#*.} -X ${pkg}.gitTreeState=clean"
  done
  for command in "$@"; do
    packages+=("k8s.io/kubernetes/cmd/${command}@${KUBERNETES_VERSION}")
  done
  go_build_packages "$out" "$work" -ldflags "$ldflags" -- "${packages[@]}"
}
