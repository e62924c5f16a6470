#!/usr/bin/env bash
# Builds OCI image archives of the Kubernetes control plane, kube-proxy, CoreDNS, etcd, pause and
# flannel from the real binaries (scripts/build-kubernetes.sh, scripts/build-cluster-binaries.sh),
# under the exact names kubeadm and nodegen's flannel manifest ask for, so an air-gapped node can
# preload them with `ctr -n k8s.io images import` before kubeadm runs.
#
#   scripts/build-kube-images.sh            (Kubernetes 1.34.2; NODEGEN_K8S_VERSION overrides)
#
# Each archive is an OCI image layout (oci-layout, index.json, blobs/sha256/...) written by hand
# with tar and sha256sum: one gzip layer, an image config and a manifest whose index entry carries
# the full image name in io.containerd.image.name and org.opencontainers.image.ref.name, the
# annotations containerd's importer names images by. Layers are reproducible (sorted, owner 0,
# mtime 0, gzip -n). kube-proxy and flannel program iptables: their images carry Debian bookworm's
# iptables (nft backend) with its libraries, unpacked from the packages `apt-get download` fetches;
# the flannel images carry Debian's busybox-static for the `cp` their init containers run.
#
# It also writes registry.nodegen.test/busybox:1.35, the real-cluster test's workload (see below).
#
# Output: the archive directory (one line on stdout), holding <name>_<tag>.tar per image,
# images.txt ("<full name> <archive file>" per line) and kube-flannel.yml, the flannel manifest
# whose images these are (for a profile's spec.networking.cni.manifestFile). Cache:
# ${NODEGEN_K8S_CACHE:-~/.cache/nodegen-k8s}/images-v<version>; an archive already there is kept.
set -Eeuo pipefail
here=$(cd "$(dirname "$0")" && pwd)
version=${NODEGEN_K8S_VERSION:-1.34.2}
root=${NODEGEN_K8S_CACHE:-$HOME/.cache/nodegen-k8s}
out="$root/images-v$version"
log() { echo "build-kube-images: $*" >&2; }

# The images kubeadm 1.34 lists (`kubeadm config images list --kubernetes-version v1.34.2`) and the
# two of flannel's manifest at the version scripts/build-cluster-binaries.sh builds.
ETCD_TAG=3.6.5-0
COREDNS_TAG=v1.12.1
PAUSE_TAG=3.10.1
FLANNEL_TAG=v0.26.7

kube=$("$here/build-kubernetes.sh" --version "$version" kube-apiserver kube-controller-manager kube-scheduler kube-proxy)
declare -A dir
while read -r name path; do dir[$name]=$path; done < <("$here/build-cluster-binaries.sh" etcd coredns flannel cni-flannel pause)

mkdir -p "$out"
work=$(mktemp -d "$out/.work.XXXXXX")
trap 'rm -rf "$work"' EXIT

# Debian bookworm's iptables and what it loads, unpacked once into a root both iptables images copy.
debs="$root/debian-bookworm/image-debs"
IPTABLES_DEBS=(iptables libip4tc2 libip6tc2 libxtables12 libmnl0 libnetfilter-conntrack3 libnfnetlink0 libnftnl11 libc6 libgcc-s1)
iptables_root() {
  local r="$work/iptables-root" p f
  [ -d "$r" ] && { echo "$r"; return; }
  mkdir -p "$debs" "$r"
  for p in "${IPTABLES_DEBS[@]}"; do
    compgen -G "$debs/${p}_*.deb" >/dev/null || (cd "$debs" && apt-get download -q "$p" >&2)
  done
  for f in "$debs"/*.deb; do dpkg-deb -x "$f" "$r"; done
  # Debian picks iptables' backend with update-alternatives in the maintainer script; the nft
  # backend is the default of Debian 12, the node OS kube-proxy shares the kernel tables with.
  for p in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do
    ln -sf "${p/tables/tables-nft}" "$r/usr/sbin/$p"
  done
  rm -rf "$r/usr/share/doc" "$r/usr/share/man" "$r/usr/share/lintian" "$r/usr/share/locale"
  chroot "$r" /usr/sbin/iptables --version >/dev/null || { log "the unpacked iptables does not run"; return 1; }
  echo "$r"
}
busybox_root() {
  local r="$work/busybox-root" f a
  [ -d "$r" ] && { echo "$r"; return; }
  mkdir -p "$debs" "$r"
  compgen -G "$debs/busybox-static_*.deb" >/dev/null || (cd "$debs" && apt-get download -q busybox-static >&2)
  for f in "$debs"/busybox-static_*.deb; do dpkg-deb -x "$f" "$r"; done
  mkdir -p "$r/usr/bin"
  for a in sh cp ls cat mkdir rm; do ln -sf ../../bin/busybox "$r/usr/bin/$a"; done
  rm -rf "${r:?}/usr/share"
  echo "$r"
}

archive() { echo "$1" | tr '/:' '__' | sed 's/$/.tar/'; }
# wanted NAME:TAG: records the image and says whether its archive still has to be written.
wanted() {
  echo "$1 $(archive "$1")" >>"$work/images.txt"
  if [ -s "$out/$(archive "$1")" ]; then log "$1: cached"; return 1; fi
}
sha() { sha256sum "$1" | cut -d' ' -f1; }
size() { stat -c %s "$1"; }

# oci_image NAME:TAG ROOTFS ENTRYPOINT_JSON USER -> $out/<file>.tar
oci_image() {
  local ref=$1 rootfs=$2 entrypoint=$3 user=$4
  local file
  file=$(archive "$ref")
  log "$ref: writing $file"
  local d="$work/oci-$file" layer diff cfg man
  mkdir -p "$d/blobs/sha256"
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$rootfs" -cf "$d/layer.tar" .
  diff=$(sha "$d/layer.tar")
  gzip -n -6 "$d/layer.tar"
  layer=$(sha "$d/layer.tar.gz")
  mv "$d/layer.tar.gz" "$d/blobs/sha256/$layer"
  printf '{"architecture":"amd64","os":"linux","config":{"User":"%s","Env":["PATH=/usr/local/bin:/usr/local/sbin:/usr/bin:/usr/sbin:/bin:/sbin:/opt/bin"],"Entrypoint":%s,"WorkingDir":"/"},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]},"history":[{"created_by":"nodegen scripts/build-kube-images.sh"}]}' \
    "$user" "$entrypoint" "$diff" >"$d/config.json"
  cfg=$(sha "$d/config.json")
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%s}]}' \
    "$cfg" "$(size "$d/config.json")" "$layer" "$(size "$d/blobs/sha256/$layer")" >"$d/manifest.json"
  man=$(sha "$d/manifest.json")
  mv "$d/config.json" "$d/blobs/sha256/$cfg"
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"platform":{"architecture":"amd64","os":"linux"},"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"}}]}' \
    "$man" "$(size "$d/manifest.json")" "$ref" "$ref" >"$d/index.json"
  mv "$d/manifest.json" "$d/blobs/sha256/$man"
  printf '{"imageLayoutVersion":"1.0.0"}' >"$d/oci-layout"
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$d" -cf "$out/.$file.tmp" oci-layout index.json blobs
  mv -f "$out/.$file.tmp" "$out/$file"
}

# rootfs_with DEST FILE=SOURCE...: a root with /tmp and the minimal /etc a process may read.
rootfs_with() {
  local r=$1 pair
  shift
  mkdir -p "$r/etc" "$r/tmp" "$r/var/run"
  chmod 1777 "$r/tmp"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$r/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\nnonroot:x:65532:\n' >"$r/etc/group"
  printf 'hosts: files dns\n' >"$r/etc/nsswitch.conf"
  for pair in "$@"; do
    mkdir -p "$r/$(dirname "${pair%%=*}")"
    cp "${pair#*=}" "$r/${pair%%=*}"
  done
}

for c in kube-apiserver kube-controller-manager kube-scheduler; do
  ref="registry.k8s.io/$c:v$version"
  wanted "$ref" || continue
  r="$work/root-$c"
  rootfs_with "$r" "usr/local/bin/$c=$kube/bin/$c"
  oci_image "$ref" "$r" "[\"/usr/local/bin/$c\"]" ""
done

ref="registry.k8s.io/kube-proxy:v$version"
if wanted "$ref"; then
  r="$work/root-kube-proxy"
  cp -a "$(iptables_root)" "$r"
  rootfs_with "$r" "usr/local/bin/kube-proxy=$kube/bin/kube-proxy"
  oci_image "$ref" "$r" '["/usr/local/bin/kube-proxy"]' ""
fi

ref="registry.k8s.io/etcd:$ETCD_TAG"
if wanted "$ref"; then
  r="$work/root-etcd"
  rootfs_with "$r" "usr/local/bin/etcd=${dir[etcd]}/bin/etcd" "usr/local/bin/etcdctl=${dir[etcd]}/bin/etcdctl"
  mkdir -p "$r/var/lib/etcd"
  oci_image "$ref" "$r" '["/usr/local/bin/etcd"]' ""
fi

ref="registry.k8s.io/coredns/coredns:$COREDNS_TAG"
if wanted "$ref"; then
  r="$work/root-coredns"
  rootfs_with "$r" "coredns=${dir[coredns]}/bin/coredns"
  oci_image "$ref" "$r" '["/coredns"]' ""
fi

ref="registry.k8s.io/pause:$PAUSE_TAG"
if wanted "$ref"; then
  r="$work/root-pause"
  rootfs_with "$r" "pause=${dir[pause]}/bin/pause"
  oci_image "$ref" "$r" '["/pause"]' "65535:65535"
fi

# The two images of the release's kube-flannel.yml, by the names it gives them.
flannel_image=$(sed -n 's/^[[:space:]]*image: \(ghcr.io\/flannel-io\/flannel:.*\)$/\1/p' "${dir[flannel]}/kube-flannel.yml" | sort -u)
flannel_cni_image=$(sed -n 's/^[[:space:]]*image: \(ghcr.io\/flannel-io\/flannel-cni-plugin:.*\)$/\1/p' "${dir[flannel]}/kube-flannel.yml" | sort -u)
[ "$flannel_image" = "ghcr.io/flannel-io/flannel:$FLANNEL_TAG" ] || { log "kube-flannel.yml names $flannel_image, not flannel $FLANNEL_TAG"; exit 1; }
[ "$(echo "$flannel_cni_image" | wc -l)" = 1 ] || { log "kube-flannel.yml names no single flannel-cni-plugin image"; exit 1; }
ref=$flannel_image
if wanted "$ref"; then
  r="$work/root-flannel"
  cp -a "$(iptables_root)" "$r"
  cp -a "$(busybox_root)/." "$r/"
  rootfs_with "$r" "opt/bin/flanneld=${dir[flannel]}/bin/flanneld"
  oci_image "$ref" "$r" '["/opt/bin/flanneld"]' ""
fi

# The plugin inside is the one scripts/build-cluster-binaries.sh can build (see there), under the
# name the manifest pulls.
ref=$flannel_cni_image
if wanted "$ref"; then
  r="$work/root-flannel-cni"
  cp -a "$(busybox_root)" "$r"
  rootfs_with "$r" "flannel=${dir[cni-flannel]}/bin/flannel"
  oci_image "$ref" "$r" '["/flannel"]' ""
fi

# Not an image a cluster needs: the real-cluster test's workload, Debian's busybox-static, whose
# httpd serves a page and whose wget fetches it, for pod-to-pod traffic across nodes.
ref=registry.nodegen.test/busybox:1.35
if wanted "$ref"; then
  r="$work/root-busybox"
  cp -a "$(busybox_root)" "$r"
  for a in httpd wget echo sleep hostname env; do ln -sf ../../bin/busybox "$r/usr/bin/$a"; done
  rootfs_with "$r"
  oci_image "$ref" "$r" '["/bin/busybox"]' ""
fi
cp "${dir[flannel]}/kube-flannel.yml" "$out/kube-flannel.yml"
mv -f "$work/images.txt" "$out/images.txt"
echo "$out"
