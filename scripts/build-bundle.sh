#!/usr/bin/env bash
# Lays out the air-gap bundle the real-cluster test serves to its VMs, in the format a node reads
# (docs/airgap.md), from the artifacts built here: the Kubernetes and Debian repositories of
# scripts/build-kube-debs.sh and the image archives of scripts/build-kube-images.sh.
#
#   scripts/build-bundle.sh            (Kubernetes 1.34.2; NODEGEN_K8S_VERSION overrides)
#
#   kubernetes/           -> apt-v<version>/kubernetes (pkgs.k8s.io's layout)
#   os/debian-12/         -> apt-v<version>/debian (Debian bookworm's packages, flat)
#   images/               images.txt and one OCI archive per image
#   cni/kube-flannel.yml  the flannel manifest whose images these are (for spec.networking.cni.manifestFile)
#   Release.key           the key that signs os/debian-12/
#   SHA256SUMS            every key, images.txt and every archive
#
# The bundle links to the artifacts (symlinks), so it costs no space; a web server that follows
# links serves it. Output: the bundle directory (one line on stdout), rebuilt on every run.
set -Eeuo pipefail
here=$(cd "$(dirname "$0")" && pwd)
version=${NODEGEN_K8S_VERSION:-1.34.2}
root=${NODEGEN_K8S_CACHE:-$HOME/.cache/nodegen-k8s}
channel="v${version%.*}"
repos=$("$here/build-kube-debs.sh" | tail -n 1)
images=$("$here/build-kube-images.sh" | tail -n 1)
out="$root/bundle-v$version"
tmp=$(mktemp -d "$root/.bundle.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/os" "$tmp/images" "$tmp/cni"
cp "$images/kube-flannel.yml" "$tmp/cni/kube-flannel.yml"
ln -s "$repos/kubernetes" "$tmp/kubernetes"
ln -s "$repos/debian" "$tmp/os/debian-12"
cp "$repos/debian/Release.key" "$tmp/Release.key"
while read -r ref file; do
  [ -n "$ref" ] || continue
  ln -s "$images/$file" "$tmp/images/$file"
  echo "$ref $file"
done <"$images/images.txt" >"$tmp/images/images.txt"
(
  cd "$tmp"
  sha256sum Release.key "kubernetes/core:/stable:/$channel/deb/Release.key" os/debian-12/Release.key images/images.txt images/*.tar cni/kube-flannel.yml
) >"$tmp/SHA256SUMS"
rm -rf "$out"
mv "$tmp" "$out"
trap - EXIT
echo "$out"
