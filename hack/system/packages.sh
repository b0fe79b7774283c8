#!/usr/bin/env bash
# Installs the Debian packages the real node and the image build need, non-interactively, only when missing:
# podman/buildah (the image without Docker), runc, the CNI plugins, mmdebstrap (the image's Debian base),
# iptables/iproute2/conntrack (kube-proxy, the node's bridge) and a C compiler (the static pause binary).
# `make node` and `make image` run it first, so `make test` and `make demo` need nothing installed by hand.
set -euo pipefail

packages=(podman buildah runc mmdebstrap skopeo containernetworking-plugins uidmap iptables iproute2 conntrack
          gcc libc6-dev)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
((${#missing[@]})) || exit 0
sudo_cmd=(); [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
echo "installing ${missing[*]}" >&2
"${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
