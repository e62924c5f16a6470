#!/usr/bin/env bash
# Builds, from the Go module proxy, the binaries a kubeadm cluster needs beside Kubernetes's own
# commands (scripts/build-kubernetes.sh), at the versions kubeadm of the release expects, cached by
# version. Pause is compiled from the Kubernetes module's build/pause/linux/pause.c with gcc -static.
#
#   scripts/build-cluster-binaries.sh [COMPONENT...]   (default: all)
#
# Components and versions (kubeadm 1.34's cmd/kubeadm/app/constants/constants.go names etcd 3.6.5-0,
# CoreDNS v1.12.1 and pause 3.10.1; pkgs.k8s.io's v1.34 repository ships cri-tools 1.34.0 and
# kubernetes-cni 1.7.1):
#   etcd          go.etcd.io/etcd/server/v3 and go.etcd.io/etcd/etcdctl/v3   -> etcd, etcdctl
#   coredns       github.com/coredns/coredns                                  -> coredns
#   crictl        sigs.k8s.io/cri-tools/cmd/crictl                            -> crictl
#   flannel       github.com/flannel-io/flannel                               -> flanneld, kube-flannel.yml
#   cni-plugins   github.com/containernetworking/plugins                      -> bridge host-local loopback portmap
#   cni-flannel   the flannel CNI plugin                                      -> flannel
#   pause         k8s.io/kubernetes build/pause/linux/pause.c                 -> pause
#
# The flannel CNI plugin's own module (github.com/flannel-io/cni-plugin) and flannel v0.26.4 are not
# served by the Go module proxy this project can reach; the plugin is built from
# containernetworking/plugins v0.9.1's plugins/meta/flannel, the same plugin before it moved to
# flannel-io/cni-plugin, and flannel is v0.26.7, the newest patch of the pinned minor it serves.
#
# Modules whose go.mod replaces its siblings with local paths (etcd) cannot be built with
# `go install pkg@version`; each component is built from a small wrapper module that requires it,
# where those replace directives do not apply and the published sibling versions are used.
#
# Output: one line per component on stdout, "<component> <cache dir>", each holding bin/<binary>.
# Cache: ${NODEGEN_K8S_CACHE:-~/.cache/nodegen-k8s}/<component>-<version>/bin. Progress on stderr.
set -Eeuo pipefail

ETCD_VERSION=3.6.5
COREDNS_VERSION=1.12.1
CRICTL_VERSION=1.34.0
FLANNEL_VERSION=0.26.7
CNI_PLUGINS_VERSION=1.7.1
CNI_FLANNEL_VERSION=0.9.1
PAUSE_VERSION=3.10.1
KUBERNETES_VERSION=${NODEGEN_K8S_VERSION:-1.34.2}

all=(etcd coredns crictl flannel cni-plugins cni-flannel pause)
components=("$@")
[ "${#components[@]}" -gt 0 ] || components=("${all[@]}")
log() { echo "build-cluster-binaries: $*" >&2; }
GO=${GO:-go}
command -v "$GO" >/dev/null 2>&1 || { [ -x /usr/local/go/bin/go ] && GO=/usr/local/go/bin/go; } || true
command -v "$GO" >/dev/null 2>&1 || { log "Go is not installed (need Go 1.24 or newer on PATH or /usr/local/go)"; exit 1; }
export GOFLAGS=-mod=mod GOTOOLCHAIN=local CGO_ENABLED=0 GOWORK=off
root=${NODEGEN_K8S_CACHE:-$HOME/.cache/nodegen-k8s}

# go_component NAME VERSION MODULE LDFLAGS BINARY=PACKAGE...
# Builds each PACKAGE of MODULE@vVERSION into <cache>/bin/BINARY unless every binary is there.
go_component() {
  local name=$1 version=$2 module=$3 ldflags=$4
  shift 4
  local cache="$root/$name-v$version" pair missing=0
  for pair in "$@"; do [ -x "$cache/bin/${pair%%=*}" ] || missing=1; done
  if [ "$missing" = 0 ]; then echo "$name $cache"; return 0; fi
  mkdir -p "$cache/bin" "$cache/module"
  # Another run building the same component (the image and package scripts both call this one)
  # holds the lock; once it has it, this one finds the binaries there.
  local lock
  exec {lock}>"$cache/.lock"
  flock "$lock"
  missing=0
  for pair in "$@"; do [ -x "$cache/bin/${pair%%=*}" ] || missing=1; done
  if [ "$missing" = 0 ]; then exec {lock}>&-; echo "$name $cache"; return 0; fi
  local mod="$cache/module" pkgs=() t0
  t0=$(date +%s)
  for pair in "$@"; do pkgs+=("${pair#*=}@v$version"); done
  log "$name v$version: resolving $module"
  printf 'module nodegen.dev/%s-build\n\ngo 1.24\n' "$name" >"$mod/go.mod"
  if ! (cd "$mod" && "$GO" get "${pkgs[@]}" >"$mod/get.log" 2>&1); then
    tail -n 20 "$mod/get.log" >&2
    log "go get of ${pkgs[*]} failed"
    return 1
  fi
  grep -Eq "^[[:space:]]*(require )?$module v$version( // indirect)?\$" "$mod/go.mod" || { log "the wrapper module did not settle on $module v$version"; return 1; }
  for pair in "$@"; do
    local bin=${pair%%=*} pkg=${pair#*=}
    log "$name v$version: building $bin"
    (cd "$mod" && "$GO" build -trimpath -ldflags "-s -w $ldflags" -o "$cache/bin/.$bin.tmp" "$pkg" >&2)
    mv -f "$cache/bin/.$bin.tmp" "$cache/bin/$bin"
  done
  exec {lock}>&-
  log "$name v$version: built in $(($(date +%s) - t0)) s"
  echo "$name $cache"
}

pause_component() {
  local cache="$root/pause-$PAUSE_VERSION"
  if [ -x "$cache/bin/pause" ]; then echo "pause $cache"; return 0; fi
  command -v gcc >/dev/null 2>&1 || { log "gcc is not installed (Debian: gcc libc6-dev)"; return 1; }
  mkdir -p "$cache/bin"
  local dir
  dir=$(cd "$cache" && "$GO" mod download -json "k8s.io/kubernetes@v$KUBERNETES_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
  [ -f "$dir/build/pause/linux/pause.c" ] || { log "k8s.io/kubernetes v$KUBERNETES_VERSION has no build/pause/linux/pause.c"; return 1; }
  grep -q "^TAG ?= $PAUSE_VERSION\$" "$dir/build/pause/Makefile" || { log "k8s.io/kubernetes v$KUBERNETES_VERSION's pause is not $PAUSE_VERSION"; return 1; }
  log "pause $PAUSE_VERSION: compiling pause.c from k8s.io/kubernetes v$KUBERNETES_VERSION"
  # The flags of build/pause/Makefile (its revision suffix comes from git, absent in a module zip).
  gcc -Os -Wall -Werror -static -DVERSION="v$PAUSE_VERSION" -o "$cache/bin/.pause.tmp" "$dir/build/pause/linux/pause.c"
  strip "$cache/bin/.pause.tmp"
  mv -f "$cache/bin/.pause.tmp" "$cache/bin/pause"
  echo "pause $cache"
}

# The release's kube-flannel.yml (Documentation/ of the module), beside flanneld: the manifest a
# profile's spec.networking.cni.manifestFile can name, whose images scripts/build-kube-images.sh builds.
flannel_manifest() {
  local cache="$root/flannel-v$FLANNEL_VERSION" src
  [ -s "$cache/kube-flannel.yml" ] && return 0
  src=$(cd "$cache/module" && "$GO" list -m -f '{{.Dir}}' github.com/flannel-io/flannel)
  grep -q "image: ghcr.io/flannel-io/flannel:v$FLANNEL_VERSION\$" "$src/Documentation/kube-flannel.yml" ||
    { log "$src/Documentation/kube-flannel.yml does not name flannel v$FLANNEL_VERSION"; return 1; }
  install -m 0644 "$src/Documentation/kube-flannel.yml" "$cache/.kube-flannel.yml.tmp"
  mv -f "$cache/.kube-flannel.yml.tmp" "$cache/kube-flannel.yml"
}

for c in "${components[@]}"; do
  case "$c" in
    etcd)
      go_component etcd "$ETCD_VERSION" go.etcd.io/etcd/server/v3 "" \
        etcd=go.etcd.io/etcd/server/v3 etcdctl=go.etcd.io/etcd/etcdctl/v3 ;;
    coredns)
      go_component coredns "$COREDNS_VERSION" github.com/coredns/coredns "" coredns=github.com/coredns/coredns ;;
    crictl)
      go_component crictl "$CRICTL_VERSION" sigs.k8s.io/cri-tools \
        "-X sigs.k8s.io/cri-tools/pkg/version.Version=v$CRICTL_VERSION" crictl=sigs.k8s.io/cri-tools/cmd/crictl ;;
    flannel)
      # As flannel's Makefile builds it on amd64: with cgo (its UDP backend needs it), linked statically.
      CGO_ENABLED=1 go_component flannel "$FLANNEL_VERSION" github.com/flannel-io/flannel \
        "-X github.com/flannel-io/flannel/pkg/version.Version=v$FLANNEL_VERSION -extldflags \"-static\"" \
        flanneld=github.com/flannel-io/flannel >/dev/null
      flannel_manifest
      echo "flannel $root/flannel-v$FLANNEL_VERSION" ;;
    cni-plugins)
      p=github.com/containernetworking/plugins
      go_component cni-plugins "$CNI_PLUGINS_VERSION" "$p" \
        "-X $p/pkg/utils/buildversion.BuildVersion=v$CNI_PLUGINS_VERSION" \
        bridge=$p/plugins/main/bridge host-local=$p/plugins/ipam/host-local \
        loopback=$p/plugins/main/loopback portmap=$p/plugins/meta/portmap ;;
    cni-flannel)
      p=github.com/containernetworking/plugins
      go_component cni-flannel "$CNI_FLANNEL_VERSION" "$p" \
        "-X $p/pkg/utils/buildversion.BuildVersion=v$CNI_FLANNEL_VERSION" flannel=$p/plugins/meta/flannel ;;
    pause) pause_component ;;
    *) log "unknown component: $c (known: ${all[*]})"; exit 2 ;;
  esac
done
