#!/usr/bin/env bash
# Builds two local apt repositories a Debian 12 node can install a kubeadm cluster from, offline:
#
#   kubernetes/core:/stable:/v1.34/deb/   laid out like pkgs.k8s.io (flat: Packages, Release,
#       InRelease, Release.gpg, Release.key, amd64/*.deb): kubeadm, kubelet, kubectl, cri-tools and
#       kubernetes-cni packages made with dpkg-deb from the real binaries (scripts/build-kubernetes.sh,
#       scripts/build-cluster-binaries.sh), with pkgs.k8s.io's names, versions (1.34.2-1.1),
#       sections and dependencies and the kubelet unit and kubeadm drop-in upstream ships
#       (test/fixtures/kubernetes-release). A profile's spec.kubernetes.packageRepository pointing at
#       the directory that holds core:/ makes nodegen's /etc/apt/sources.list.d/kubernetes.list and
#       install-packages.sh use it unchanged.
#   debian/   a flat repository of Debian bookworm's packages nodegen's package phase installs
#       (containerd, runc, haproxy, keepalived, firewalld, conntrack, socat, ebtables, ethtool,
#       iptables, chrony, curl, ca-certificates, openssl) with every package they pull in (recommends
#       included, as apt-get installs them) that a debootstrap --variant=minbase bookworm lacks: the
#       closure is what apt-get install --download-only picks inside that minbase root.
#
#   scripts/build-kube-debs.sh            (Kubernetes 1.34.2; NODEGEN_K8S_VERSION overrides)
#
# Both repositories are signed by one key made for them (Release.key in each; the private key stays
# in the cache's gnupg directory, mode 0700). The minbase root is cached too
# (debian-bookworm/minbase); tests copy it and point its sources at these repositories.
#
# Output: the repository root (one line on stdout). Cache:
# ${NODEGEN_K8S_CACHE:-~/.cache/nodegen-k8s}/apt-v<version>/{kubernetes,debian}; a part already
# built is kept (delete the directory to rebuild it).
set -Eeuo pipefail
here=$(cd "$(dirname "$0")" && pwd)
fixtures="$here/../test/fixtures/kubernetes-release"
version=${NODEGEN_K8S_VERSION:-1.34.2}
root=${NODEGEN_K8S_CACHE:-$HOME/.cache/nodegen-k8s}
out="$root/apt-v$version"
channel="v${version%.*}"
revision=1.1
MIRROR=${NODEGEN_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${NODEGEN_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
DEBIAN_PACKAGES=(containerd runc haproxy keepalived firewalld conntrack socat ebtables ethtool iptables
  chrony curl ca-certificates openssl)
CRICTL_VERSION=1.34.0
CNI_VERSION=1.7.1
log() { echo "build-kube-debs: $*" >&2; }
for t in dpkg-deb apt-ftparchive gpg debootstrap; do
  command -v "$t" >/dev/null 2>&1 || { log "$t is not installed (run: bash scripts/install-test-tools.sh)"; exit 1; }
done
[ "$(id -u)" = 0 ] || { log "must run as root (debootstrap and chroot)"; exit 1; }
scratch_dirs=()
trap 'rm -rf "${scratch_dirs[@]}"' EXIT

# --- the signing key -------------------------------------------------------------------------
export GNUPGHOME="$root/apt-signing/gnupg"
if [ ! -s "$root/apt-signing/Release.key" ]; then
  log "making the repositories' signing key"
  mkdir -p "$GNUPGHOME"
  chmod 0700 "$root/apt-signing" "$GNUPGHOME"
  gpg --batch --quiet --passphrase '' --quick-gen-key 'nodegen local test repository <nodegen@localhost>' ed25519 sign never
  gpg --batch --armor --export >"$root/apt-signing/.Release.key.tmp"
  mv -f "$root/apt-signing/.Release.key.tmp" "$root/apt-signing/Release.key"
fi

# sign_repo DIR [SUBDIR]: Packages(.gz) of the .debs under DIR/SUBDIR and a signed Release of the
# flat repository DIR.
sign_repo() {
  local d=$1 sub=${2:-.}
  (cd "$d" && apt-ftparchive packages "$sub" >Packages && gzip -9nkf Packages)
  (cd "$d" && apt-ftparchive -o APT::FTPArchive::Release::Origin=nodegen -o APT::FTPArchive::Release::Label=nodegen \
    -o APT::FTPArchive::Release::Architectures=amd64 release . >Release.tmp && mv -f Release.tmp Release)
  rm -f "$d/InRelease" "$d/Release.gpg"
  gpg --batch --yes --clearsign -o "$d/InRelease" "$d/Release"
  gpg --batch --yes --armor --detach-sign -o "$d/Release.gpg" "$d/Release"
  cp "$root/apt-signing/Release.key" "$d/Release.key"
}

# --- the Kubernetes repository ---------------------------------------------------------------
krepo="$out/kubernetes/core:/stable:/$channel/deb"
if [ ! -s "$krepo/InRelease" ]; then
  kube=$("$here/build-kubernetes.sh" --version "$version" kubeadm kubelet kubectl)
  declare -A dir
  while read -r name path; do dir[$name]=$path; done < <("$here/build-cluster-binaries.sh" crictl cni-plugins)
  work=$(mktemp -d)
  scratch_dirs+=("$work")
  rm -rf "$krepo"
  mkdir -p "$krepo/amd64"

  # deb NAME VERSION SECTION DEPENDS DESCRIPTION: $work/NAME (the package root, filled by the caller) -> amd64/
  deb() {
    local name=$1 v=$2 section=$3 depends=$4 description=$5 p="$work/$1"
    mkdir -p "$p/DEBIAN" "$p/usr/share/doc/$name"
    cp "$fixtures/LICENSE" "$p/usr/share/doc/$name/copyright"
    {
      echo "Package: $name"
      echo "Version: $v-$revision"
      echo "Architecture: amd64"
      echo "Maintainer: Kubernetes Authors <dev@kubernetes.io>"
      echo "Installed-Size: $(du -sk --exclude=DEBIAN "$p" | cut -f1)"
      [ -z "$depends" ] || echo "Depends: $depends"
      echo "Section: $section"
      echo "Priority: optional"
      echo "Homepage: https://kubernetes.io"
      echo "Description: $description"
    } >"$p/DEBIAN/control"
    [ ! -f "$p/DEBIAN/conffiles" ] || chmod 0644 "$p/DEBIAN/conffiles"
    dpkg-deb --root-owner-group -Zxz --build "$p" "$krepo/amd64/${name}_$v-${revision}_amd64.deb" >/dev/null
    log "$name $v-$revision"
  }
  bin() { install -D -m 0755 "$2" "$work/$1/usr/bin/$(basename "$2")"; }

  bin kubeadm "$kube/bin/kubeadm"
  install -D -m 0644 "$fixtures/10-kubeadm.conf" "$work/kubeadm/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf"
  sed -i 's;/etc/sysconfig/kubelet;/etc/default/kubelet;g' "$work/kubeadm/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf"
  deb kubeadm "$version" admin "" "Command-line utility for administering a Kubernetes cluster"

  bin kubelet "$kube/bin/kubelet"
  install -D -m 0644 "$fixtures/kubelet.service" "$work/kubelet/usr/lib/systemd/system/kubelet.service"
  install -D -m 0644 "$fixtures/kubelet.env" "$work/kubelet/etc/default/kubelet"
  mkdir -p "$work/kubelet/var/lib/kubelet" "$work/kubelet/etc/kubernetes/manifests" "$work/kubelet/DEBIAN"
  touch "$work/kubelet/var/lib/kubelet/.kubelet-keep" "$work/kubelet/etc/kubernetes/manifests/.kubelet-keep"
  echo /etc/default/kubelet >"$work/kubelet/DEBIAN/conffiles"
  deb kubelet "$version" net "iptables (>= 1.4.21), kubernetes-cni (>= 1.2.0), mount, util-linux" "Node agent for Kubernetes clusters"

  bin kubectl "$kube/bin/kubectl"
  deb kubectl "$version" admin "" "Command-line utility for interacting with a Kubernetes cluster"

  bin cri-tools "${dir[crictl]}/bin/crictl"
  deb cri-tools "$CRICTL_VERSION" admin "" "Command-line utility for interacting with a container runtime"

  # pkgs.k8s.io's kubernetes-cni holds every plugin of the containernetworking/plugins release;
  # this one the plugins a kubeadm node with flannel runs (see scripts/build-cluster-binaries.sh).
  for b in "${dir[cni-plugins]}"/bin/*; do install -D -m 0755 "$b" "$work/kubernetes-cni/opt/cni/bin/$(basename "$b")"; done
  mkdir -p "$work/kubernetes-cni/etc/cni/net.d"
  touch "$work/kubernetes-cni/etc/cni/net.d/.kubernetes-cni-keep"
  deb kubernetes-cni "$CNI_VERSION" net "" "Binaries required to provision kubernetes container networking"

  sign_repo "$krepo" amd64
  log "Kubernetes repository ready: $krepo"
fi

# --- the Debian repository -------------------------------------------------------------------
minbase="$root/debian-bookworm/minbase"
if [ ! -x "$minbase/usr/bin/apt-get" ]; then
  log "debootstrap --variant=minbase bookworm (a few minutes)"
  rm -rf "$minbase.tmp"
  mkdir -p "$(dirname "$minbase")"
  debootstrap --variant=minbase bookworm "$minbase.tmp" "$MIRROR" >&2
  rm -rf "$minbase"
  mv "$minbase.tmp" "$minbase"
fi
drepo="$out/debian"
if [ ! -s "$drepo/InRelease" ]; then
  # The closure is computed in a copy of the minbase root whose sources are Debian's (with the
  # point-release and security updates a node would get), so apt picks exactly what that root lacks.
  scratch=$(mktemp -d "$root/debian-bookworm/closure.XXXXXX")
  scratch_dirs+=("$scratch")
  cp -a "$minbase/." "$scratch/"
  cp /etc/resolv.conf "$scratch/etc/resolv.conf"
  printf 'deb %s bookworm main\ndeb %s bookworm-updates main\ndeb %s bookworm-security main\n' \
    "$MIRROR" "$MIRROR" "$SECURITY_MIRROR" >"$scratch/etc/apt/sources.list"
  log "resolving ${DEBIAN_PACKAGES[*]} against a minbase bookworm"
  chroot "$scratch" apt-get update -qq >&2
  chroot "$scratch" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --download-only "${DEBIAN_PACKAGES[@]}" >&2
  rm -rf "$drepo"
  mkdir -p "$drepo"
  cp "$scratch"/var/cache/apt/archives/*.deb "$drepo/"
  rm -rf "$scratch"
  sign_repo "$drepo"
  log "Debian repository ready: $drepo ($(find "$drepo" -name '*.deb' | wc -l) packages)"
fi
echo "$out"
